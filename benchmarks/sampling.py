"""Sampling throughput: samples per minute for a predefined system, by executor.

Runs ``livn systems sample`` (default EI2, 5-second samples, Raw decoding: spikes, voltage and
membrane current) as a fresh job per executor — local with 1 and 2 worker processes, and under
``mpiexec -n 3`` (one controller, two workers) — and prints, per executor, the wall time of the
whole command, samples per minute overall, and samples per minute in steady state (from the
times the shards were written, which leaves out start-up: imports and compilation).

    python benchmarks/sampling.py [--system EI2] [--duration 5000] [--samples 6]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from livn.workflows.executors import find_mpiexec


def run(label: str, prefix: list[str], args: list[str], out: Path, samples: int, workers: int):
    cmd = [*prefix, sys.executable, "-m", "livn", "systems", "sample", *args,
           f"output_directory={out}", "--launch"]  # fmt: skip
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"{label} failed")
    stamps = sorted(p.stat().st_mtime for p in (out / "samples").glob("sample_*.npz"))
    assert len(stamps) == samples, (label, len(stamps))
    steady = None
    if samples > workers:  # samples finished after each worker's first one, over that time
        span = stamps[-1] - stamps[workers - 1]
        steady = (samples - workers) / span * 60 if span > 0 else None
    first = stamps[0] - t0
    s = f"{steady:7.2f}" if steady else "    n/a"
    print(f"{label:<22} wall {wall:7.1f} s  first sample after {first:6.1f} s  "
          f"{samples / wall * 60:7.2f} samples/min overall  {s} samples/min steady", flush=True)  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--system", default="EI2")
    p.add_argument("--duration", type=float, default=5000.0, help="ms per sample")
    p.add_argument("--samples", type=int, default=6)
    p.add_argument("--no-mpi", action="store_true")
    a = p.parse_args()
    args = [f"system={a.system}", f"duration={a.duration}", f"samples={a.samples}"]
    print(f"{a.system}, {a.duration:g} ms per sample, {a.samples} samples per job, Raw decoding")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run(
            "local, 1 process",
            [],
            [*args, "executor=local", "processes=1"],
            root / "l1",
            a.samples,
            1,
        )
        run(
            "local, 2 processes",
            [],
            [*args, "executor=local", "processes=2"],
            root / "l2",
            a.samples,
            2,
        )
        mpiexec = find_mpiexec()
        if not a.no_mpi and mpiexec:
            run("mpiexec -n 3", [mpiexec, "-n", "3"], args, root / "m3", a.samples, 2)


if __name__ == "__main__":
    main()

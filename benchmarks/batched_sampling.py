"""The batched executor against the serial one: wall time of the same sampling job, and whether
their shards are identical.

Runs ``livn systems sample`` once per executor (``serial``, then ``batched`` with each
``--batch-sizes``) as a fresh job in a temporary directory, and prints per run: the wall time
of the command, samples per minute, the time per sample after the first batch was written
(steady state: leaves out start-up and compilation), and whether every shard equals the
serial run's (bit for bit; else the largest difference per array). On a GPU, give larger
sizes (e.g. ``--batch-sizes 16 64 256``); on a CPU the batches run no faster per trial.

    python benchmarks/batched_sampling.py [--system EI2] [--duration 5000] [--samples 8]
        [--batch-sizes 2 4] [--encoding NoInput]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from livn.workflows.shards import read_shard, shard_indices


def run(label: str, args: list[str], out: Path, samples: int, first_batch: int) -> float:
    cmd = [sys.executable, "-m", "livn", "systems", "sample", *args, f"output_directory={out}",
           "--launch"]  # fmt: skip
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"{label} failed")
    stamps = sorted(p.stat().st_mtime for p in (out / "samples").glob("sample_*.npz"))
    assert len(stamps) == samples, (label, len(stamps))
    steady = "n/a"
    if samples > first_batch:  # samples written after the first batch, over that time
        span = stamps[-1] - stamps[first_batch - 1]
        steady = f"{span / (samples - first_batch):6.2f} s" if span > 0 else "n/a"
    print(f"{label:<18} wall {wall:7.1f} s  {samples / wall * 60:7.2f} samples/min  "
          f"steady {steady} per sample", flush=True)  # fmt: skip
    return wall


def compare(a: Path, b: Path) -> str:
    worst: dict[str, float] = {}
    for i in shard_indices(a / "samples"):
        name = f"sample_{i:06d}.npz"
        ma, xa = read_shard(a / "samples" / name)
        mb, xb = read_shard(b / "samples" / name)
        if ma != mb or sorted(xa) != sorted(xb):
            return f"{name}: different meta or arrays"
        for k in xa:
            if not np.array_equal(xa[k], xb[k]):
                if xa[k].shape != xb[k].shape:
                    return f"{name} {k}: shapes {xa[k].shape} vs {xb[k].shape}"
                diff = float(np.max(np.abs(xa[k].astype(np.float64) - xb[k])))
                worst[k] = max(worst.get(k, 0.0), diff)
    if not worst:
        return "identical to serial"
    return "differs from serial: " + ", ".join(f"{k} max |d| {v:.3g}" for k, v in worst.items())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--system", default="EI2")
    p.add_argument("--duration", type=float, default=5000.0, help="ms per sample")
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[2, 4])
    p.add_argument("--encoding", default="NoInput", help="NoInput or ElectrodePulses")
    p.add_argument("--no-serial", action="store_true", help="skip the serial run")
    a = p.parse_args()
    args = [f"system={a.system}", f"duration={a.duration}", f"samples={a.samples}",
            f"encoding={a.encoding}"]  # fmt: skip
    print(f"{a.system}, {a.duration:g} ms per sample, {a.samples} samples, {a.encoding}, Raw")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if not a.no_serial:
            run("serial", [*args, "executor=serial"], root / "serial", a.samples, 1)
        for b in a.batch_sizes:
            out = root / f"b{b}"
            run(f"batched, {b}", [*args, "executor=batched", f"batch_size={b}"], out, a.samples,
                min(b, a.samples))  # fmt: skip
            if not a.no_serial:
                print(f"{'':<18} {compare(root / 'serial', out)}", flush=True)


if __name__ == "__main__":
    main()

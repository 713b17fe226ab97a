"""Benchmark: merging sample shards into a Hugging Face dataset (livn.workflows.dataset.merge).

Writes synthetic shards (``--spikes`` spikes per sample on average, spread over the cells of
``--system``), then merges the first N of them for each N in ``--samples``, each merge in a
fresh child process, and prints the wall time and the child's peak RSS (``ru_maxrss``) before
and after the merge. Memory that does not grow with N shows that the merge streams::

    python benchmarks/merge.py --samples 1000 10000 --spikes 2000

Shards for smaller N are hard links to the first N shards of the largest run, so the disk
holds one copy (~32 KB per sample at 2,000 spikes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _config(system: str, n: int, duration: float) -> dict:
    return {
        "workflow": "sample",
        "format": 1,
        "system": system,
        "system_name": system,
        "model": None,
        "duration": duration,
        "samples": n,
        "noise": True,
        "seed": 0,
        "encoding": "livn.encoding.NoInput",
        "encoding_kwargs": {},
        "decoding": "livn.decoding.Raw",
        "decoding_kwargs": {},
        "nprocs_per_worker": 1,
    }


def generate(directory: Path, n: int, spikes: int, system: str, duration: float) -> float:
    """Write ``n`` synthetic shards into ``directory/samples``; returns the seconds it took."""
    from livn.system import make
    from livn.workflows.shards import shard_path, write_shard

    num_neurons = make(system).num_neurons
    samples = directory / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(_config(system, n, duration)))
    start = time.perf_counter()
    for i in range(n):
        path = shard_path(samples, i)
        if path.exists():
            continue
        rng = np.random.default_rng(i)
        s = int(rng.poisson(spikes))
        arrays = {
            "features": np.zeros(0, np.float32),
            "it": rng.integers(0, num_neurons, s, dtype=np.int64),
            "t": np.sort(rng.uniform(0.0, duration, s)),
        }
        meta = {"kind": "sample", "index": i, "seed": i, "t_end": duration, "system": system}
        write_shard(path, arrays, meta)
    return time.perf_counter() - start


def link_subset(source: Path, target: Path, n: int, system: str, duration: float) -> None:
    """``target`` with the first ``n`` shards of ``source`` (hard links)."""
    from livn.workflows.shards import shard_path

    (target / "samples").mkdir(parents=True, exist_ok=True)
    (target / "config.json").write_text(json.dumps(_config(system, n, duration)))
    for i in range(n):
        dst = shard_path(target / "samples", i)
        if not dst.exists():
            os.link(shard_path(source / "samples", i), dst)


def child(directory: str, channels: bool, batch_size: int) -> None:
    """Run one merge and print ``{"wall_s", "rss_before_mib", "peak_rss_mib"}`` as JSON."""
    import pyarrow.parquet  # noqa: F401  (import cost is not merge cost)

    from livn.system import make
    from livn.workflows.dataset import merge

    config = json.loads((Path(directory) / "config.json").read_text())
    make(config["system"])  # build/cache the system outside the timing
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    merge(directory, channels=channels, batch_size=batch_size)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "rss_before_mib": before, "peak_rss_mib": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--spikes", type=int, default=2000, help="mean spikes per sample")
    parser.add_argument("--system", default="EI2", help="predefined system (its cells and MEA)")
    parser.add_argument("--duration", type=float, default=5000.0, help="ms per sample")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--no-channels", action="store_true", help="skip the channel view")
    parser.add_argument("--dir", default=None, help="work directory (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, not args.no_channels, args.batch_size)
        return

    root = Path(args.dir or tempfile.mkdtemp(prefix="livn-merge-bench-"))
    counts = sorted(set(args.samples))
    largest = root / f"n{counts[-1]}"
    try:
        seconds = generate(largest, counts[-1], args.spikes, args.system, args.duration)
        print(f"generated {counts[-1]} shards of ~{args.spikes} spikes in {seconds:.1f} s ({root})")
        print(f"system {args.system}, channel view {'off' if args.no_channels else 'on'}, "
              f"batch_size {args.batch_size}")  # fmt: skip
        print(f"{'samples':>8} {'merge s':>9} {'samples/s':>10} {'RSS before MiB':>15} "
              f"{'peak RSS MiB':>13} {'growth MiB':>11} {'parquet MiB':>12}")  # fmt: skip
        for n in counts:
            directory = largest if n == counts[-1] else root / f"n{n}"
            if directory != largest:
                link_subset(largest, directory, n, args.system, args.duration)
            cmd = [sys.executable, __file__, "--child", str(directory)]
            cmd += ["--batch-size", str(args.batch_size)]
            cmd += ["--no-channels"] if args.no_channels else []
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            size = sum(p.stat().st_size for p in (directory / "data").rglob("*.parquet")) / 2**20
            print(f"{n:>8} {r['wall_s']:>9.2f} {n / r['wall_s']:>10.0f} {r['rss_before_mib']:>15.0f} "
                  f"{r['peak_rss_mib']:>13.0f} {r['peak_rss_mib'] - r['rss_before_mib']:>11.0f} "
                  f"{size:>12.1f}")  # fmt: skip
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

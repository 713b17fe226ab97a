"""Time the export of an EI3 5-s sample to NWB (issue 13: under 2 s).

    python benchmarks/export_nwb.py                      # samples EI3 5 s once into ./ei3_5s
    python benchmarks/export_nwb.py --job ./ei3_5s --repeat 5

The sample is simulated once with ``livn systems sample`` (decoding Raw: spikes, voltage and
membrane currents of all 1,000 cells every 0.1 ms; a few minutes on 2 cores) and reused on later
runs. The figure is the wall time of ``livn.integrations.nwb.write_nwb`` in this process after
pynwb is imported: reading the shard (spikes and membrane currents: what ``livn export --to
nwb`` reads), the potentials at the 16 electrodes, the units table and
writing the file (the median of ``--repeat`` runs); pynwb's import and the reading of the
shard are printed on their own too.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", default="./ei3_5s", help="sampling job directory (made if missing)")
    parser.add_argument("--system", default="EI3")
    parser.add_argument("--duration", type=float, default=5000.0, help="ms")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    job = Path(args.job)
    shard = job / "samples" / "sample_000000.npz"
    if not shard.exists():
        print(f"Sampling {args.system} for {args.duration:g} ms into {job} (once) ...", flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "livn", "systems", "sample", f"system={args.system}",
                        f"duration={args.duration:g}", "samples=1", f"output_directory={job}",
                        "executor=serial", "--launch"], check=True)  # fmt: skip
        print(f"  sampled in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    import pynwb  # noqa: F401

    t_import = time.perf_counter() - t0

    from livn.integrations.nwb import write_nwb
    from livn.trial import Trial

    Trial.from_shard(shard)  # builds/loads the system once (cached), as a user's second call
    t0 = time.perf_counter()
    trial = Trial.from_shard(shard, voltage=False)
    t_read = time.perf_counter() - t0
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            t0 = time.perf_counter()
            path = write_nwb(Trial.from_shard(shard, voltage=False), Path(tmp) / f"{i}.nwb")
            times.append(time.perf_counter() - t0)
        size = path.stat().st_size
    n_ch, n_t = trial.mea.num_channels, trial.num_samples
    print(f"{trial.describe()}")
    print(f"pynwb import: {t_import:.2f} s; reading the shard: {t_read:.2f} s")
    print(f"{args.system} {args.duration / 1000:g}-s sample -> NWB ({n_ch} channels x {n_t:,} "
          f"samples, {trial.system.num_neurons:,} units, {size / 1e6:.1f} MB): "
          f"median {statistics.median(times):.2f} s over {args.repeat} "
          f"(min {min(times):.2f}, max {max(times):.2f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time and memory of validating a job before it runs (dry runs), as users feel them.

Each figure is a fresh process (``python -m livn ... --dry-run``: imports, reading and checking
the system directory, counting and estimating), so start-up is included. Sweeps of 10³ … 10⁹
stimuli: the count and the checks are arithmetic, so the time should not grow with the size
(before issue 9 a dry run enumerated every stimulus: 10⁵ took 78 s, 10⁹ never returned).

    python benchmarks/dry_run.py [--sizes 3 5 9] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SWEEP = """
metadata: {{batch_name: bench}}
base_config: {{system: EI2, duration: 1000}}
batch:
  output_dir: ./bench_out
  save_format: hdf5
  allow_large: true
  stimuli:
    - type: gaussian_sweep
      parameters:
        amplitude: {amplitude}
        sigma: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
        center_x: [-1, -0.5, 0, 0.5, 1, -0.75, -0.25, 0.25, 0.75, 0.9]
      repetitions: {reps}
"""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MiB) of one child process, and its stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{err.read()}")
        return wall, usage.ru_maxrss / 1024.0, out.read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[3, 5, 9],
                    help="log10 of the number of stimuli")  # fmt: skip
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    livn = [sys.executable, "-m", "livn"]
    print(f"CPU: {cpu_model()}; {os.cpu_count()} cores; Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        env_warm = timed([*livn, "systems", "inspect", "EI2"], d)  # build EI2 into the cache
        print(f"(EI2 built or found in the cache: {env_warm[0]:.2f} s)")
        for k in args.sizes:
            n = 10**k  # 10 amplitudes… × 10 sigma × 10 centres × repetitions
            amplitude = "[" + ", ".join(str(1 + i % 50) for i in range(10)) + "]"
            reps = max(1, n // 1000)
            amp = amplitude if n >= 1000 else "[1]"
            if n < 1000:
                reps = max(1, n // 100)
            path = d / f"sweep_{k}.yml"
            path.write_text(SWEEP.format(amplitude=amp, reps=reps), "utf-8")
            walls, peaks = [], []
            for _ in range(args.repeats):
                wall, peak, out = timed([*livn, "batch", str(path), "--dry-run"], d)
                walls.append(wall)
                peaks.append(peak)
            count = next(line for line in out.splitlines() if line.startswith("Total stimuli"))
            print(f"batch --dry-run, {count.split(': ')[1]:>13} stimuli: median "
                  f"{statistics.median(walls):.2f} s wall (min {min(walls):.2f}, max "
                  f"{max(walls):.2f}), peak RSS {max(peaks):.0f} MiB")  # fmt: skip
        walls, peaks = [], []
        for _ in range(args.repeats):
            wall, peak, _ = timed([*livn, "systems", "sample", "system=EI2", "duration=5000",
                                   "samples=1000", "output_directory=./job", "--dry-run"], d)  # fmt: skip
            walls.append(wall)
            peaks.append(peak)
        print(f"sample --dry-run (EI2, 1,000 × 5 s): median {statistics.median(walls):.2f} s "
              f"wall, peak RSS {max(peaks):.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()

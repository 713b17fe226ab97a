"""Tuning throughput: trials evaluated per minute on EI2 with 1 and 2 worker processes.

Each configuration runs ``livn systems tune system=EI2 weights=1 trials=N ... --launch`` as a
fresh process in a fresh study directory (so the figure includes interpreter start-up, the JAX
compile of every worker and the Optuna journal), with the study's default trial: 300 ms warm-up,
then 2 x 2000 ms in one batched run (``stimulate=1`` adds the same runs under the standard
stimulus). Prints, per configuration: wall seconds, trials per minute over the whole launch, and
the median seconds one trial took inside a worker (from the journal, compile excluded after
each worker's first trial).

    python benchmarks/tune.py [--trials 8] [--processes 1 2] [--stimulate]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def trial_seconds(study: str) -> list[float]:
    """Seconds per complete trial (inside the worker), each worker's first trial excluded."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(os.path.join(study, "journal.log"))
    )
    trials = optuna.load_study(study_name="livn-tune", storage=storage).get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)
    )
    seen: set[int] = set()
    out = []
    for t in sorted(trials, key=lambda t: t.number):
        pid = t.user_attrs["worker"]["pid"]
        if pid in seen:
            out.append(float(t.user_attrs["wall_s"]))
        seen.add(pid)
    return out


def run(processes: int, trials: int, stimulate: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        study = os.path.join(tmp, "study")
        cmd = [sys.executable, "-m", "livn", "systems", "tune", "system=EI2", "weights=1",
               f"stimulate={int(stimulate)}", f"trials={trials}", f"output_directory={study}",
               "executor=local", f"processes={processes}", "--launch"]  # fmt: skip
        env = {**os.environ, "LIVN_CACHE_DIR": os.path.join(tmp, "cache")}
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        steady = trial_seconds(study)
    return {
        "processes": processes,
        "trials": trials,
        "wall_s": round(wall, 1),
        "trials_per_min": round(trials / wall * 60, 2),
        "trial_s_median": round(statistics.median(steady), 2) if steady else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--stimulate", action="store_true")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores); EI2, {args.trials} trials, "
          f"stimulate={int(args.stimulate)}")  # fmt: skip
    for p in args.processes:
        print(json.dumps(run(p, args.trials, args.stimulate)), flush=True)


if __name__ == "__main__":
    main()

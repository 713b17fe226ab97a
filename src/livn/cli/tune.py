"""``livn systems [mpi|slurm] tune key=value ... [--launch] [--dry-run] [--inspect [--plot]]
[--promote]`` (seed 001 "Tuning")."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from livn.cli.sample import MPI_MODULES, SLURM_MODULES, Progress
from livn.errors import ConfigError


def _job(args: argparse.Namespace):
    from pathlib import Path

    from livn.cli.kv import parse_kv
    from livn.workflows.tune import CONFIG_FILE, Tune

    config = parse_kv(args.config)
    resources = config.pop("resources", None)
    if resources is not None and not isinstance(resources, dict):
        raise ConfigError(
            f"resources must be a JSON object, e.g. resources='{{\"-n\": 4}}'; got {resources!r}."
        )
    if args.executor:
        config["executor"] = args.executor
    if args.processes is not None:
        config["processes"] = args.processes
    out = config.get("output_directory")
    reopen = isinstance(out, str) and out.strip() and "\x00" not in out
    if reopen and (Path(out).expanduser() / CONFIG_FILE).is_file() and (
        args.inspect or args.promote or args.plot is not None or "system" not in config
    ):  # an existing study: its config.json fills in what the command leaves out
        overrides = {k: v for k, v in config.items() if k != "output_directory"}
        return Tune.open(out, **overrides), resources or {}
    return Tune(config), resources or {}


def cmd_tune(args: argparse.Namespace) -> int:
    """Handler of ``livn systems [module] tune``."""
    job, resources = _job(args)
    module = getattr(args, "module", None)
    if args.trial is not None and not (args.inspect or args.promote or args.plot is not None):
        raise ConfigError("--trial chooses the trial for --inspect, --plot or --promote.")
    if args.dry_run:
        job.dry_run(processes=args.processes)
        return 0
    status = 0
    acted = False
    if args.launch:
        acted = True
        args.interrupted_hint = "finished trials are kept — re-run the same command to resume."
        if module in MPI_MODULES:
            from livn.workflows.sample import run_mpi

            status = run_mpi(job, resources)
        elif module in SLURM_MODULES:
            path, out = job.submit_slurm(resources, submit=not args.no_submit)
            print(f"Wrote {path}")
            if out:
                print(out)
        else:
            status = _launch(job)
            if status is None:  # an MPI worker rank
                return 0
    if args.inspect and status == 0:
        acted = True
        print(job.inspect(trial=args.trial))
    if args.plot is not None and status == 0:
        acted = True
        path = job.plot(args.plot or None, trial=args.trial)
        print(f"Wrote {path}")
    if args.promote and status == 0:
        acted = True
        result = job.promote(trial=args.trial, overwrite=args.overwrite)
        if result["path"] is None:
            print(
                f"Trial {result['trial']} of {job.output_directory}: this is a predefined system, "
                "whose directory is rebuilt from its shipped config, so nothing was written. "
                "Paste this block into livn/system/configs/<NAME>.yml (replacing its defaults:) "
                "and rebuild:"
            )
            print(result["block"], end="")
        else:
            print(f"Wrote {result['path']} (trial {result['trial']}); Env(...)."
                  "apply_model_defaults() applies it from now on.")  # fmt: skip
    if not acted:
        print("Resolved configuration (nothing done; add --launch to tune, --dry-run, --inspect, "
              "--plot, --promote):")  # fmt: skip
        resolved = job.resolved()
        resolved.pop("base", None)
        print(json.dumps(resolved, indent=2))
    return status


def _launch(job) -> int | None:
    """Launch ``job``; the exit status on the controller, ``None`` on an MPI worker rank."""
    from livn.workflows.executors import mpi_world_size, resolve_executor

    kind = resolve_executor(job.config.executor)
    out = job.output_directory
    progress: Progress | None = None

    def ready(context: dict[str, Any]) -> None:
        nonlocal progress
        where = f"{mpi_world_size()} MPI ranks" if kind == "mpi" else kind
        stale = context.get("stale") or []
        if stale:
            print(f"Marked {len(stale)} abandoned trial(s) of an earlier launch as failed: "
                  f"{', '.join(map(str, stale))}", flush=True)  # fmt: skip
        print(f"Tuning {context['system_name']}: {context['trials']} trials ({context['complete']} "
              f"complete, {context['todo']} to run) with {where} -> {out}", flush=True)  # fmt: skip
        progress = Progress(context["todo"], unit="trial")

    def start(uid: str) -> None:
        if progress is not None:
            progress.start(uid)

    def done(i: int, n: int, uid: str, status: str) -> None:
        if progress is not None:
            progress.done(i, n, uid, status)

    try:
        report = job.launch(progress=done, start=start, ready=ready)
    finally:
        if progress is not None:
            progress.close()
    if not report.controller:
        return None
    from livn.workflows.tune import _journal_counts

    counts = _journal_counts(job.journal)
    trials = json.loads((out / "config.json").read_text())["trials"]
    print(f"Done: {counts['complete']}/{trials} trials complete ({counts['failed']} failed) in "
          f"{out}. Inspect: livn systems tune output_directory={out} --inspect")  # fmt: skip
    if report.failed:
        print("Failed trials:", file=sys.stderr)
        for uid, msg in report.failed.items():
            print(f"  {uid}: {msg}", file=sys.stderr)
        print("Re-run the same command to run the missing trials.", file=sys.stderr)
        return 1
    return 0


def add_parsers(ssub: argparse._SubParsersAction) -> None:
    """Register ``tune`` under ``livn systems`` and under its ``mpi``/``slurm`` modules."""

    def options(p: argparse.ArgumentParser) -> None:
        p.add_argument("config", nargs="*", metavar="key=value",
                       help="configuration (system=EI2 weights=1 noise=0 stimulate=1 trials=100 "
                       "output_directory=./ei2_tune ...)")  # fmt: skip
        p.add_argument("--launch", action="store_true", help="run the trials the study misses")
        p.add_argument("--dry-run", action="store_true",
                       help="validate the study, print the trial count and time estimate; "
                       "write nothing")  # fmt: skip
        p.add_argument("--inspect", action="store_true",
                       help="print the Pareto front and the command for the noise stage")
        p.add_argument("--plot", nargs="?", const="", default=None, metavar="FILE",
                       help="save the Pareto front as a PNG (default "
                       "<output_directory>/pareto.png)")  # fmt: skip
        p.add_argument("--promote", action="store_true",
                       help="write the chosen trial as the system's params/RCSD.json (print "
                       "the defaults: block for a predefined system)")  # fmt: skip
        p.add_argument("--trial", type=int, help="the trial to show or promote (default: the "
                       "Pareto trial of lowest total distance)")  # fmt: skip
        p.add_argument("--overwrite", action="store_true",
                       help="--promote: replace an existing, different params/RCSD.json")
        p.add_argument("--executor", choices=("auto", "local", "serial", "mpi"),
                       help="where trials run (default auto: MPI under mpiexec, else local)")
        p.add_argument("--processes", type=int, help="local worker processes (default all cores)")
        p.add_argument("--no-submit", action="store_true",
                       help="slurm: write the sbatch script without submitting it")  # fmt: skip
        p.set_defaults(func=cmd_tune)

    description = (
        "Tune a system's synaptic weights and/or noise against target culture statistics "
        "(NSGA-II, one shared Optuna journal per study directory). Keys: system, weights, "
        "noise, stimulate, trials, population_size, weight_range, noise_range, weight_scales, "
        "noise_scales, targets, duration, warmup, seeds, seed, output_directory, "
        "nprocs_per_worker, executor, processes, allow_large. See docs/tuning.md."
    )
    p = ssub.add_parser("tune", help="tune weights/noise against target statistics",
                        description=description)  # fmt: skip
    options(p)
    for module in (*MPI_MODULES, *SLURM_MODULES):
        m = ssub.choices.get(module)
        if m is None:  # pragma: no cover - sample registers them first
            continue
        msub = next(a for a in m._actions if isinstance(a, argparse._SubParsersAction))
        kind = "MPI (mpiexec)" if module in MPI_MODULES else "Slurm (sbatch)"
        q = msub.add_parser("tune", help=f"tune with {kind}", description=description)
        options(q)
        q.set_defaults(module=module)

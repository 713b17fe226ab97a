"""``livn systems [mpi|slurm] sample key=value ... [--launch] [--merge] [--publish REPO]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from livn.errors import ConfigError
from livn.workflows.executors import BATCHED_EXECUTORS

#: Execution modules of the seed (``livn systems <module> sample ...``).
MPI_MODULES = ("mpi", "interface.remotes.mpi")
SLURM_MODULES = ("slurm", "tacc")


class Progress:
    """A tqdm bar on a terminal; ``[i/N] Executing <id>...`` lines otherwise."""

    def __init__(self, total: int, stream: Any = None, unit: str = "sample") -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.started = 0
        self.bar = None
        if total and self.stream.isatty():
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit=unit, file=self.stream)
            except ImportError:  # pragma: no cover - tqdm ships with the workflows extra
                self.bar = None

    def start(self, uid: str) -> None:
        self.started += 1
        if self.bar is None:
            print(f"[{self.started}/{self.total}] Executing {uid}...", file=self.stream, flush=True)

    def done(self, i: int, n: int, uid: str, status: str) -> None:
        if self.bar is not None:
            self.bar.update(1)
        if status != "ok":
            print(f"ERROR executing {uid}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _job(args: argparse.Namespace):
    from livn.cli.kv import parse_kv
    from livn.workflows.sample import Sample

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
    if args.batch_size is not None:
        config["batch_size"] = _batch_size_arg(args.batch_size)
    return Sample(config), resources or {}


def _batch_size_arg(text: str) -> int | str:
    """``--batch-size 8`` or ``--batch-size auto`` (validated by the job's configuration)."""
    try:
        return int(text)
    except ValueError:
        return text


def cmd_sample(args: argparse.Namespace) -> int:
    """Handler of ``livn systems [module] sample``."""
    job, resources = _job(args)
    module = getattr(args, "module", None)
    status = 0
    acted = False
    if args.dry_run:
        job.dry_run(processes=args.processes)
        return 0
    if args.launch:
        acted = True
        # what livn.cli.main prints on Ctrl+C or SIGTERM
        args.interrupted_hint = "finished samples are kept — re-run the same command to resume."
        if module in MPI_MODULES:
            from livn.workflows.sample import run_mpi

            status = run_mpi(job, resources)
            if status != 0:
                return status
        elif module in SLURM_MODULES:
            path, out = job.submit_slurm(resources, submit=not args.no_submit)
            print(f"Wrote {path}")
            if out:
                print(out)
        else:
            status = _launch(job)
            if status is None:  # an MPI worker rank: the controller merges and publishes
                return 0
    if args.merge and status == 0:
        acted = True
        path = job.merge(include_voltage=args.include_voltage)
        print(f"Merged {len(job.completed())} samples into {path}")
    if args.publish and status == 0:
        acted = True
        url = job.publish(repo_id=args.publish)
        print(f"Published {job.output_directory} to {url}")
    if not acted:
        import json

        print("Resolved configuration (nothing done; add --launch to sample, --merge, --publish):")
        print(json.dumps(job.resolved(), indent=2))
    return status


def _launch(job) -> int | None:
    """Launch ``job``; the exit status on the controller, ``None`` on an MPI worker rank."""
    from livn.workflows.executors import mpi_world_size, resolve_executor

    kind = resolve_executor(job.config.executor, BATCHED_EXECUTORS)
    out = job.output_directory
    progress: Progress | None = None
    asked: dict[str, int] = {}  # the job's count, known once it is validated

    def ready(context: dict) -> None:
        # called on the controller once the job is validated and config.json written
        nonlocal progress
        asked["samples"] = int(context["samples"])
        total = len(context["todo"])
        where = f"{mpi_world_size()} MPI ranks" if kind == "mpi" else kind
        print(f"Sampling {context['samples']} samples ({total} to run) with {where} -> {out}",
              flush=True)  # fmt: skip
        progress = Progress(total)

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
    total = asked.get("samples", job.config.samples)
    print(f"Done: {len(report.completed)} written, {len(report.failed)} failed; "
          f"{len(job.completed())}/{total} samples in {out / 'samples'}")  # fmt: skip
    if report.failed:
        print("Failed samples:", file=sys.stderr)
        for uid, msg in report.failed.items():
            print(f"  {uid}: {msg}", file=sys.stderr)
        print("Re-run the same command to retry them (finished samples are kept).", file=sys.stderr)
        return 1
    return 0


def add_parsers(ssub: argparse._SubParsersAction) -> None:
    """Register ``sample`` and the execution modules under ``livn systems``."""

    def options(p: argparse.ArgumentParser) -> None:
        p.add_argument("config", nargs="*", metavar="key=value",
                       help="configuration (system=EI2 duration=5000 samples=1000 "
                       "output_directory=./my_dataset ...)")  # fmt: skip
        p.add_argument("--launch", action="store_true", help="run the samples not yet written")
        p.add_argument("--dry-run", action="store_true",
                       help="validate the job, print the count, time and disk estimate; write "
                       "nothing")  # fmt: skip
        p.add_argument("--merge", action="store_true", help="merge the samples into a dataset")
        p.add_argument("--include-voltage", action="store_true", help="keep voltage traces")
        p.add_argument("--publish", metavar="REPO_ID", help="upload the merged dataset")
        p.add_argument("--executor", choices=BATCHED_EXECUTORS,
                       help="where samples run (default auto: MPI under mpiexec, else local; "
                       "batched: this process, batch_size samples per vectorised run)")  # fmt: skip
        p.add_argument("--processes", type=int, help="local worker processes (default all cores)")
        p.add_argument("--batch-size", metavar="N|auto",
                       help="samples per run of the batched executor (default auto: by memory "
                       "and device)")  # fmt: skip
        p.add_argument("--no-submit", action="store_true",
                       help="slurm: write the sbatch script without submitting it")  # fmt: skip
        p.set_defaults(func=cmd_sample)

    p = ssub.add_parser(
        "sample",
        help="simulate many samples of a system (then --merge into a dataset)",
        description="Sample a system. Keys: system, model, duration (ms), samples, noise, seed, "
        "encoding, encoding_kwargs, decoding, decoding_kwargs, record, output_directory, "
        "nprocs_per_worker, executor, processes, batch_size, task_index, task_count, "
        "allow_large. "
        "See docs/limits.md for the bounds.",
    )
    options(p)
    for module in (*MPI_MODULES, *SLURM_MODULES):
        kind = "MPI (mpiexec)" if module in MPI_MODULES else "Slurm (sbatch)"
        m = ssub.add_parser(module, help=f"run a job with {kind}; resources='{{...}}'")
        msub = m.add_subparsers(dest="action", metavar="JOB")
        q = msub.add_parser("sample", help=f"sample with {kind}")
        options(q)
        q.set_defaults(module=module)

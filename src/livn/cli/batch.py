"""``livn batch config.yml [--dry-run] [--resume CHECKPOINT] [--device] [--output DIR]``."""

from __future__ import annotations

import argparse
import sys


def cmd_batch(args: argparse.Namespace) -> int:
    """Handler of ``livn batch``."""
    from livn.cli.sample import Progress
    from livn.workflows.executors import BATCHED_EXECUTORS, resolve_executor
    from livn.workflows.sweeps import Batch

    batch = Batch.from_yaml(args.config, device=args.device, output=args.output,
                            allow_large=True if args.allow_large else None)  # fmt: skip
    kind = resolve_executor(args.executor, BATCHED_EXECUTORS)
    size = _batch_size_arg(args.batch_size)
    if args.dry_run:
        batch.dry_run(processes=args.processes, resume=args.resume, executor=kind,
                      batch_size=size)  # fmt: skip
        return 0
    controller = True
    if kind == "mpi":
        from livn import mpi

        controller = mpi.rank() == 0
    progress = None
    labels: dict[str, str] = {}

    def label(uid: str) -> str:
        # seed 003: "Executing <stimulus_id>"; built on first use, after the batch's bounds
        # were checked (a batch is not enumerated before that)
        if not labels:
            labels.update({s.key: s.stimulus_id for s in batch.stimuli})
        return labels[uid]

    if controller:
        from livn.workflows.shards import shard_indices
        from livn.workflows.sweeps.run import RESPONSES_DIR

        done = 0
        if args.resume:
            done = len(shard_indices(batch.output_dir / RESPONSES_DIR, "stim"))
        progress = Progress(batch.num_stimuli - done, unit="stimulus")

    def started(uid: str) -> None:
        progress.start(label(uid))

    def finished(i: int, n: int, uid: str, status: str) -> None:
        progress.done(i, n, f"{uid} ({label(uid)})", status)

    # what livn.cli.main prints on Ctrl+C or SIGTERM
    args.interrupted_hint = ("finished stimuli are kept — resume with: livn batch "
                             f"{args.config} --resume {batch.output_dir / 'checkpoint.json'}")  # fmt: skip
    try:
        report = batch.run(resume=args.resume, executor=kind, processes=args.processes,
                           progress=finished if progress else None,
                           start=started if progress else None, batch_size=size)  # fmt: skip
    finally:
        if progress:
            progress.close()
    if not report.controller:
        return 0
    fmt = batch.config.batch.save_format
    target = {"pytorch": "results.pt", "hdf5": "results.h5", "dataset": "dataset/"}[fmt]
    print(f"Done: {len(report.completed)} executed, {len(report.failed)} failed; results in "
          f"{batch.output_dir / target}")  # fmt: skip
    if report.failed:
        print("Failed stimuli:", file=sys.stderr)
        for uid, msg in report.failed.items():
            print(f"  {uid} ({label(uid)}): {msg}", file=sys.stderr)
        print(f"Retry them with: livn batch {args.config} --resume "
              f"{batch.output_dir / 'checkpoint.json'}", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _batch_size_arg(text: str) -> int | str:
    """``--batch-size 8`` or ``auto`` (checked by :func:`livn.limits.batch_size`)."""
    from livn import limits

    try:
        value: int | str = int(text)
    except ValueError:
        value = text
    return limits.batch_size(value, "--batch-size")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``livn batch``."""
    p = sub.add_parser(
        "batch",
        help="run a YAML batch of stimulus sweeps",
        description="Run a YAML batch of stimulus sweeps (metadata, base_config, batch). See "
        "docs/sweeps.md.",
    )
    p.add_argument("config", help="batch YAML file")
    p.add_argument("--dry-run", action="store_true",
                   help="print count, examples, location and estimates; write nothing")  # fmt: skip
    p.add_argument("--resume", metavar="CHECKPOINT", help="<output_dir>/checkpoint.json to resume")
    p.add_argument("--device", choices=("cpu", "cuda"), help="override base_config.device")
    p.add_argument("--output", metavar="DIR", help="override batch.output_dir")
    p.add_argument("--allow-large", action="store_true",
                   help="skip the size bounds (stimuli, memory, disk; docs/limits.md)")  # fmt: skip
    p.add_argument("--executor", default="auto",
                   choices=("auto", "local", "serial", "mpi", "batched"),
                   help="where stimuli run (default auto: MPI under mpiexec, else local; "
                   "batched: this process, --batch-size stimuli per vectorised run)")  # fmt: skip
    p.add_argument("--processes", type=int, help="local worker processes (default all cores)")
    p.add_argument("--batch-size", default="auto", metavar="N|auto",
                   help="stimuli per run of the batched executor (default auto: by memory and "
                   "device)")  # fmt: skip
    p.set_defaults(func=cmd_batch)

"""``livn systems [mpi|slurm] generate``: 3D layered systems from a YAML config (seed 002).

livn systems [mpi|slurm] generate config=PATH.yml [output_directory=DIR] [seed=N]
    [--launch] [--mea [--pitch P --z Z --radius R]] [--export [NAME or DIR/]]
    [--inspect] [--plot [FILE]] [--overwrite]
    (mpi and slurm: [resources='{"-t": "1:00:00", ...}']; slurm: [--no-submit])

Everything is checked (the config and its includes, the MEA options, the export destination)
before anything is written. Without an action the resolved job is printed.

The generator runs in one process (10,000 cells in seconds), so the seed's execution modules
run it once:

* ``mpi``: in this process; under ``mpiexec`` with several ranks, rank 0 does the whole job
  while the others wait and exit 0 (an error is reported once and ends every rank with its
  status). ``MPI_RANKS`` and ``resources`` are not used.
* ``slurm`` (also ``tacc``): with ``--launch``, writes ``<output_directory>.sbatch`` (one task
  unless ``resources`` set the task or node count) that runs ``livn systems generate`` with
  absolute paths and the same flags, and submits it with sbatch (``--no-submit``: write only).
  A different existing script is refused unless ``--overwrite``, which the job gets too.
  Without ``--launch`` it acts like the plain command.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from livn.cli.sample import MPI_MODULES, SLURM_MODULES
from livn.errors import ConfigError

_EXAMPLE = """resources='{"-t": "1:00:00", "-p": "normal"}'"""
#: Printed once by ``livn systems mpi generate`` (followed by where it runs).
SERIAL_NOTE = ("livn: the 3D generator runs in one process (no MPI needed; it builds 10,000 cells "
               "in seconds)")  # fmt: skip


def _acts(args: argparse.Namespace) -> bool:
    return bool(args.launch or args.mea or args.export is not None or args.plot is not None
                or args.inspect)  # fmt: skip


def _run(args: argparse.Namespace, config: dict[str, Any]) -> int:
    """``livn systems generate``, in this process."""
    from livn.workflows.generate import Generate

    job = Generate(config)
    mea_options = {"pitch": args.pitch, "z": args.z, "radius": args.radius}
    if args.mea:  # bad options and destinations are refused before the system is generated
        job.check_mea(**mea_options)
    if args.export is not None:
        job.check_export(args.export or None)
    acted = False
    if args.launch:
        system = job.launch(overwrite=args.overwrite)
        print(f"Generated {system.name}: {system.num_neurons} cells, {system.num_edges} synapses "
              f"-> {system.uri}")  # fmt: skip
        acted = True
    if args.mea:
        mea = job.mea(**mea_options, overwrite=args.overwrite)
        print(f"Wrote {job.output_directory}/mea.json: {mea.describe()}")
        acted = True
    if args.export is not None:
        print(f"Exported {job.system.name} -> {job.export(args.export or None)}")
        acted = True
    if args.plot is not None:
        path = args.plot or f"{job.output_directory}/plot.png"
        job.plot(show_connections=not args.no_connections, max_edges=args.max_edges, path=path)
        print(f"Wrote {path}")
        acted = True
    if args.inspect:
        print(job.inspect())
        acted = True
    if not acted:
        print("Resolved job (nothing done; add --launch to generate, --mea, --export, --plot, "
              "--inspect):")  # fmt: skip
        print(json.dumps(job.describe(), indent=2))
    return 0


def _mpi(args: argparse.Namespace, config: dict[str, Any], resources: bool) -> int:
    """``livn systems mpi generate``: the job in one process; other MPI ranks wait for it."""
    from livn import mpi

    ranks = mpi.world_size()
    if _acts(args) and mpi.world_rank() == 0:
        if ranks > 1:
            where = f"MPI rank 0 does the job, the other {ranks - 1} rank(s) idle"
        else:
            unused = [f"MPI_RANKS={os.environ['MPI_RANKS']}"] if os.environ.get("MPI_RANKS") else []
            unused += ["resources"] if resources else []
            where = "running it here" + (f" ({' and '.join(unused)} not used)" if unused else "")
        print(f"{SERIAL_NOTE}: {where}.", flush=True)
    if ranks <= 1:
        return _run(args, config)
    # rank 0 works, the others sleep; an error is raised on every rank (reported once)
    return mpi.root_then_bcast(lambda: _run(args, config))


def _slurm(args: argparse.Namespace, config: dict[str, Any], resources: dict[str, Any]) -> int:
    """``livn systems slurm generate --launch``: write and submit a one-process sbatch job."""
    from livn.workflows.generate import _TASK_KEYS, Generate

    job = Generate(config)
    mea_options = {"pitch": args.pitch, "z": args.z, "radius": args.radius}
    flags = ["--launch"]
    if args.mea:
        job.check_mea(**mea_options)
        flags += ["--mea", *(f"--{k}={v}" for k, v in mea_options.items() if v is not None)]
    if args.export is not None:
        job.check_export(args.export or None)
        flags.append(f"--export={args.export}" if args.export else "--export")
    if args.plot is not None:
        flags.append(f"--plot={args.plot}" if args.plot else "--plot")
        flags.append(f"--max-edges={args.max_edges}")
        if args.no_connections:
            flags.append("--no-connections")
    if args.inspect:
        flags.append("--inspect")
    path, out = job.submit_slurm(resources, flags, submit=not args.no_submit,
                                 overwrite=args.overwrite)  # fmt: skip
    if any(str(k).lstrip("-") in _TASK_KEYS for k in resources):
        print(f"{SERIAL_NOTE}: the job runs it once; the rest of this allocation idles (one "
              "task is enough).")  # fmt: skip
    print(f"Wrote {path}")
    if out:
        print(out)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """Handler of ``livn systems [module] generate``."""
    from livn.cli.kv import parse_kv

    config = parse_kv(args.config)
    module = getattr(args, "module", None)
    if module is None:
        return _run(args, config)
    resources = config.pop("resources", None)
    if resources is not None and not isinstance(resources, dict):
        raise ConfigError(
            f"resources must be a JSON object of sbatch options, e.g. {_EXAMPLE}; got "
            f"{resources!r}."
        )
    if module in MPI_MODULES:
        return _mpi(args, config, resources is not None)
    if args.launch:
        return _slurm(args, config, resources or {})
    if resources is not None:  # nothing is submitted: check them all the same
        from livn.workflows.generate import Generate

        Generate(config).sbatch_script(resources)
    return _run(args, config)


_DESCRIPTION = (
    "Generate a 3D layered system (seed 002) from a YAML config: config=PATH.yml (or a shipped "
    "config: S1 ... S4, CA1; systems/config/S1.yml falls back to the shipped S1 when no such "
    "file exists), output_directory=DIR (default ./systems/graphs/NAME), seed=N (overrides the "
    "config's)."
)
_MODULE_DESCRIPTION = {
    "mpi": " The generator runs in one process (10,000 cells in seconds): here, or under "
    "mpiexec on rank 0 while the other ranks idle; MPI_RANKS and resources are not used.",
    "slurm": " With --launch: writes <output_directory>.sbatch, one task running `livn systems "
    f"generate` with the same flags (sbatch options: {_EXAMPLE}), and submits it with sbatch "
    "(--no-submit: write it only).",
}


def add_parser(ssub: argparse._SubParsersAction) -> None:
    """Register ``generate`` under ``livn systems`` (see :func:`add_module_parsers`)."""
    p = ssub.add_parser("generate", help="generate a 3D layered system from a YAML config",
                        description=_DESCRIPTION)  # fmt: skip
    _options(p)


def add_module_parsers(ssub: argparse._SubParsersAction) -> None:
    """Register ``generate`` under the ``mpi``/``slurm`` modules (after ``sample`` made them)."""
    for module in (*MPI_MODULES, *SLURM_MODULES):
        m = ssub.choices.get(module)
        if m is None:  # pragma: no cover - sample registers them first
            continue
        msub = next(a for a in m._actions if isinstance(a, argparse._SubParsersAction))
        slurm = module in SLURM_MODULES
        how = (
            "as a one-task Slurm job (sbatch)" if slurm else "in one process (other MPI ranks idle)"
        )
        description = _DESCRIPTION + _MODULE_DESCRIPTION["slurm" if slurm else "mpi"]
        q = msub.add_parser("generate", help=f"generate a 3D layered system {how}",
                            description=description)  # fmt: skip
        _options(q, slurm=slurm)
        q.set_defaults(module=module)


def _options(p: argparse.ArgumentParser, slurm: bool = False) -> None:
    p.add_argument("config", nargs="*", metavar="key=value", help="config=PATH.yml and options")
    p.add_argument("--launch", action="store_true", help="generate the system")
    p.add_argument("--mea", action="store_true",
                   help="write mea.json (the config's mea block, or a grid fitted to the area)")  # fmt: skip
    p.add_argument("--pitch", type=float, default=None, help="fitted MEA pitch in µm (1000)")
    p.add_argument("--z", type=float, default=None, help="fitted MEA electrode depth in µm (175)")
    p.add_argument("--radius", type=float, default=None,
                   help="fitted MEA input/output radius in µm (pitch/4)")  # fmt: skip
    p.add_argument(
        "--export",
        nargs="?",
        const="",
        default=None,
        metavar="NAME or DIR/",
        help="copy the system to ./systems/data/NAME (default: its name) or into DIR/; never "
        "overwrites",
    )
    p.add_argument("--plot", nargs="?", const="", default=None, metavar="FILE",
                   help="save a plot (default <output_directory>/plot.png)")  # fmt: skip
    p.add_argument("--max-edges", type=int, default=5000, help="synapses drawn in the plot")
    p.add_argument("--no-connections", action="store_true", help="plot cells only")
    p.add_argument("--inspect", action="store_true", help="print the system summary")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing, different system or mea.json"
                   + (" (and <output_directory>.sbatch)" if slurm else ""))  # fmt: skip
    if slurm:
        p.add_argument("--no-submit", action="store_true",
                       help="write the sbatch script without submitting it")  # fmt: skip
    p.set_defaults(func=cmd_generate)

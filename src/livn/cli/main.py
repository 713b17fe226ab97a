"""The ``livn`` command: a thin shell over the library.

livn --version
livn systems list
livn systems inspect SYSTEM [--json]
livn systems convert SRC DST [--format livn|2.0.0] [--overwrite]
livn systems generate_2d [key=value ...] [--launch] [--mea] [--plot [FILE]] [--inspect]
livn systems [mpi|slurm] generate config=PATH.yml [key=value ...] [--launch] [--mea] [--export [NAME]] ...
livn systems [mpi|slurm] sample [key=value ...] [--launch] [--merge] [--publish REPO_ID]
livn systems [mpi|slurm] tune [key=value ...] [--launch] [--dry-run] [--inspect] [--plot] [--promote]
livn batch config.yml [--dry-run] [--resume CHECKPOINT] [--device cpu|cuda] [--output DIR]
livn export SOURCE --to nwb|spikeinterface [--output DIR] [--limit N] [--units all|observed] ...
livn plot SOURCE [--kind summary,raster,electrodes,rates,voltage] [--output DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence

from livn._version import __version__
from livn.errors import LivnError


def _cmd_list(args: argparse.Namespace) -> int:
    from livn.system.predefined import LAYERED, PREDEFINED, cache_dir, population_sizes

    print(f"Predefined systems (built offline on first use, cached in {cache_dir() / 'systems'}):")
    for name in PREDEFINED:
        pops = population_sizes(name)
        kind = "3D layered" if name in LAYERED else "2D culture"
        sizes = "/".join(str(n) for n in pops.values())
        print(f"  {name:<4} {sum(pops.values()):>6} cells  {kind}  {'/'.join(pops)} {sizes}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from livn.models.rcsd.defaults import defaults_source
    from livn.system import make

    system = make(args.system)
    kind, text = defaults_source(system)
    if args.json:
        print(json.dumps({**system.to_dict(), "model_defaults": kind}, indent=2))
    else:
        print(f"{system.summary()}\nModel defaults (RCSD): {text}")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from livn.system.convert import convert, describe

    path = convert(args.source, args.destination, format=args.format, overwrite=args.overwrite)
    print(f"Wrote {describe(path)} ({args.format} format)")
    return 0


def _cmd_generate_2d(args: argparse.Namespace) -> int:
    from livn.cli.kv import parse_kv
    from livn.workflows.generate_2d import Generate2D

    job = Generate2D(parse_kv(args.config))
    acted = False
    if args.mea:  # bad MEA options are refused before the system is generated
        job.check_mea(pitch=args.pitch, z=args.z, radius=args.radius)
    if args.launch:
        system = job.launch(overwrite=args.overwrite)
        print(
            f"Generated {system.name}: {system.num_neurons} cells, {system.num_edges} synapses "
            f"-> {system.uri}"
        )
        acted = True
    if args.mea:
        mea = job.mea(pitch=args.pitch, z=args.z, radius=args.radius, overwrite=args.overwrite)
        print(f"Wrote {job.output_directory}/mea.json: {mea.describe()}")
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
        print(
            "Resolved configuration (nothing done; add --launch to generate, --mea, --plot, "
            "--inspect):"
        )
        print(
            json.dumps(
                job.config.generator_record() | {"output_directory": job.config.output_directory},
                indent=2,
            )
        )
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors reported like every other bad input: the usage, then
    one ``livn: error:`` line, exit status 2 (sub-commands inherit this class)."""

    def error(self, message: str):  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"livn: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="livn",
        description="livn: a testbed for learning to interact with simulated in vitro neural "
        "networks.",
    )
    parser.add_argument("--version", action="version", version=f"livn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    systems = sub.add_parser("systems", help="generate, list and inspect systems")
    systems.set_defaults(help_parser=systems)
    ssub = systems.add_subparsers(dest="systems_command", metavar="SUBCOMMAND")

    p = ssub.add_parser("list", help="list the predefined systems")
    p.set_defaults(func=_cmd_list)

    p = ssub.add_parser("inspect", help="summarise a system (predefined name, path or URL)")
    p.add_argument("system", help="predefined name (e.g. EI2), directory path or fsspec URL")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=_cmd_inspect)

    p = ssub.add_parser(
        "convert",
        help="rewrite a system directory (this livn's, a livn 2.0.0 one, or an older one)",
        description="Rewrite a system directory in the layout that this livn and livn 2.0.0 "
        "both read (docs/system-format.md). SRC: a directory in any layout livn reads, or a "
        "predefined name. --format 2.0.0 leaves out this livn's extras (the livn element of "
        "graph.json, max_input_current in mea.json).",
    )
    p.add_argument("source", metavar="SRC", help="system directory or predefined name")
    p.add_argument("destination", metavar="DST", help="new or empty output directory")
    p.add_argument(
        "--format",
        choices=("livn", "2.0.0"),
        default="livn",
        help="livn (default: readable by this livn and by 2.0.0) or 2.0.0 (2.0.0's files only)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace a system at DST")
    p.set_defaults(func=_cmd_convert)

    p = ssub.add_parser(
        "generate_2d",
        help="generate a 2D culture",
        description="Generate a 2D culture. Configuration as key=value (nested keys with dots, "
        "JSON values), e.g. total_cells=50 output_directory=./my_system "
        "connectivity.sigma=300 area=disk area_kwargs.radius=800.",
    )
    p.add_argument("config", nargs="*", metavar="key=value", help="configuration values")
    p.add_argument("--launch", action="store_true", help="generate the system")
    p.add_argument("--mea", action="store_true", help="write mea.json fitted to the area")
    p.add_argument("--pitch", type=float, default=1000.0, help="MEA pitch in µm (default 1000)")
    p.add_argument("--z", type=float, default=0.0, help="MEA electrode height in µm (default 0)")
    p.add_argument(
        "--radius", type=float, default=None, help="MEA input/output radius in µm (default pitch/4)"
    )
    p.add_argument(
        "--plot",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="save a plot (default <output_directory>/plot.png)",
    )
    p.add_argument("--max-edges", type=int, default=5000, help="synapses drawn in the plot")
    p.add_argument("--no-connections", action="store_true", help="plot cells only")
    p.add_argument("--inspect", action="store_true", help="print the system summary")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing, different system or mea.json"
    )
    p.set_defaults(func=_cmd_generate_2d)

    from livn.cli.generate import add_parser as _add_generate

    _add_generate(ssub)

    from livn.cli.sample import add_parsers as _add_sample

    _add_sample(ssub)

    from livn.cli.generate import add_module_parsers as _add_generate_modules

    _add_generate_modules(ssub)  # under the mpi/slurm modules, which sample registers

    from livn.cli.tune import add_parsers as _add_tune

    _add_tune(ssub)

    from livn.cli.batch import add_parser as _add_batch

    _add_batch(sub)

    from livn.cli.export import add_parsers as _add_export

    _add_export(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status.

    0 ok, 1 failed work (or an unexpected error), 2 bad input (a :class:`LivnError`, printed
    as one line), 128 + the signal number when interrupted (130 for Ctrl+C, 143 for SIGTERM,
    also one line). Under ``mpiexec`` every message is printed once per job, and an error that
    other ranks may be waiting on ends the whole job (see :func:`livn.mpi.fail`).
    """
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        getattr(args, "help_parser", parser).print_help()
        return 0 if args.command is None else 2
    from livn import mpi
    from livn.workflows.executors import sigterm_raises

    with warnings.catch_warnings(), sigterm_raises():
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt as e:  # Ctrl+C, or SIGTERM (executors.Terminated)
            return _interrupted(args, e)
        except LivnError as e:
            return mpi.fail(e, f"livn: error: {e}", 2)
        except Exception as e:
            if mpi.world_size() <= 1:
                raise  # the traceback, as Python prints it
            return mpi.fail(e, traceback.format_exc().rstrip("\n"), 1)


def _interrupted(args: argparse.Namespace, exc: KeyboardInterrupt) -> int:
    """One line for Ctrl+C or SIGTERM (on rank 0 only under MPI, where every rank got it)."""
    import signal

    from livn import mpi

    signum = int(getattr(exc, "signum", signal.SIGINT))
    what = "interrupted" if signum == signal.SIGINT else "terminated"
    hint = getattr(args, "interrupted_hint", None) or (
        "finished work is kept — re-run the same command to resume."
    )
    if mpi.world_rank() == 0:
        print(f"livn: {what}; {hint}", file=sys.stderr, flush=True)
    return 128 + signum


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"livn: warning: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

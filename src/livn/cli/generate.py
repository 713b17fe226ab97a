"""``livn systems generate``: 3D layered systems from a YAML config (seed 002).

livn systems generate config=PATH.yml [output_directory=DIR] [seed=N]
    [--launch] [--mea [--pitch P --z Z --radius R]] [--export [NAME or DIR/]]
    [--inspect] [--plot [FILE]] [--overwrite]

Everything is checked (the config and its includes, the MEA options, the export destination)
before anything is written. Without an action the resolved job is printed.
"""

from __future__ import annotations

import argparse
import json


def _cmd_generate(args: argparse.Namespace) -> int:
    from livn.cli.kv import parse_kv
    from livn.workflows.generate import Generate

    job = Generate(parse_kv(args.config))
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


def add_parser(ssub) -> None:
    """Register ``generate`` under ``livn systems``."""
    p = ssub.add_parser(
        "generate",
        help="generate a 3D layered system from a YAML config",
        description="Generate a 3D layered system (seed 002) from a YAML config: "
        "config=PATH.yml (or a shipped config: S1 ... S4, CA1; systems/config/S1.yml falls back "
        "to the shipped S1 when no such file exists), output_directory=DIR (default "
        "./systems/graphs/NAME), seed=N (overrides the config's).",
    )
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
                   help="replace an existing, different system or mea.json")  # fmt: skip
    p.set_defaults(func=_cmd_generate)

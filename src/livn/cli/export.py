"""``livn export SOURCE --to nwb|spikeinterface`` and ``livn plot SOURCE``: a thin shell over
:func:`livn.integrations.nwb.export`, :func:`livn.integrations.spikeinterface.export` and
:func:`livn.plot.save_plots`."""

from __future__ import annotations

import argparse

#: Formats of ``livn export --to``.
FORMATS: tuple[str, ...] = ("nwb", "spikeinterface")

_SOURCE = ("a sample shard (samples/sample_*.npz), a sampling job directory, a sweep shard "
           "(responses/*.npz) or a sweep output directory")  # fmt: skip


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def cmd_export(args: argparse.Namespace) -> int:
    """Handler of ``livn export``."""
    if args.to == "nwb":
        from livn.integrations.nwb import export

        kwargs = {"include_voltage": args.include_voltage}
    else:
        from livn.integrations.spikeinterface import export

        kwargs = {}
        if args.include_voltage:
            from livn.errors import ConfigError

            raise ConfigError("--include-voltage applies to --to nwb only; SpikeInterface "
                              "holds the extracellular recording and the spikes.")  # fmt: skip
    written = export(args.source, args.output, limit=args.limit, overwrite=args.overwrite,
                     potentials=not args.no_potentials, units=args.units,
                     progress=lambda p: print(f"Wrote {p}", flush=True), **kwargs)  # fmt: skip
    print(f"Exported {len(written)} trial(s) to {args.to}.")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Handler of ``livn plot``."""
    from livn.plot import save_plots

    written = save_plots(args.source, args.output, kinds=args.kind, limit=args.limit,
                         bin_ms=args.bin_ms, dpi=args.dpi, overwrite=args.overwrite,
                         progress=lambda p: print(f"Wrote {p}", flush=True))  # fmt: skip
    print(f"Wrote {len(written)} PNG(s).")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``livn export`` and ``livn plot``."""
    from livn.trial import UNITS

    p = sub.add_parser(
        "export",
        help="write runs to NWB files or SpikeInterface folders",
        description=f"Export the trials of SOURCE ({_SOURCE}) to NWB files (<output>/<trial>.nwb) "
        "or SpikeInterface folders (<output>/<trial>/{recording,sorting}); docs/export.md.",
    )
    p.add_argument("source", metavar="SOURCE", help="shard, sampling job or sweep directory")
    p.add_argument("--to", required=True, choices=FORMATS, help="nwb or spikeinterface")
    p.add_argument("--output", default=None, metavar="DIR",
                   help="output directory (default <job>/export-<format>)")
    p.add_argument("--limit", type=_limit, default=None, metavar="N",
                   help="export only the first N trials")
    p.add_argument("--units", choices=UNITS, default="all",
                   help="cells written as units: all (default) or observed (near an electrode)")
    p.add_argument("--no-potentials", action="store_true",
                   help="leave out the extracellular potentials (trials without membrane currents)")
    p.add_argument("--include-voltage", action="store_true",
                   help="nwb: also write the somatic voltage traces")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.set_defaults(func=cmd_export)

    from livn.plot import KINDS

    p = sub.add_parser(
        "plot",
        help="draw runs as PNGs: raster, electrode rates, population rates, voltage",
        description=f"Write PNGs of the trials of SOURCE ({_SOURCE}): <output>/<trial>.png "
        "(summary) and <trial>_<kind>.png.",
    )
    p.add_argument("source", metavar="SOURCE", help="shard, sampling job or sweep directory")
    p.add_argument("--kind", default="summary", metavar="KINDS",
                   help=f"comma-separated, of {', '.join(KINDS)} (default summary)")
    p.add_argument("--output", default=None, metavar="DIR",
                   help="output directory (default <job>/plots)")
    p.add_argument("--limit", type=_limit, default=None, metavar="N",
                   help="plot only the first N trials")
    p.add_argument("--bin-ms", type=float, default=10.0, help="population rate bin (ms)")
    p.add_argument("--dpi", type=int, default=100, help="PNG resolution (default 100)")
    p.add_argument("--overwrite", action="store_true", help="replace existing PNGs")
    p.set_defaults(func=cmd_plot)

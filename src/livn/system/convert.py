"""``livn systems convert``: rewrite a system directory in the shared layout (docs/system-format.md).

Any directory :class:`~livn.system.System` reads — the layout this livn writes, one written by
livn 2.0.0 (separate files or one ``graph.h5``), or the layout of earlier livn versions — is
rewritten as ``graph.json`` + ``cells.h5`` + ``connections.h5`` in the 2.0.0 NeuroH5 layout,
with ``mea.json``, ``params/``, ``selection/`` and ``model.json`` carried over:

* ``format="livn"`` (default): the layout this livn writes, readable by this livn and by livn
  2.0.0 (``graph.json`` holds the ``livn`` element as well as 2.0.0's elements; ``params/``
  holds both ``RCSD.json`` and 2.0.0's ``default.json``).
* ``format="2.0.0"``: what livn 2.0.0 itself writes: no ``livn`` element in ``graph.json``
  and ``mea.json`` without ``max_input_current``. ``params/RCSD.json`` is kept (2.0.0 reads
  only ``params/default.json`` unless asked for another name): it holds the
  population-prefixed noise that 2.0.0's parameter files cannot express.

The cells, edges, distances, synapse ids and synapse definitions are copied exactly, so the
converted system simulates identically. The 2.0.0 elements of a 2.0.0 source are kept as they
are (their ids too, which ``selection/*.json`` refer to).
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from livn import _fs
from livn.errors import ConfigError
from livn.system import neuroh5, upstream
from livn.system.graph import (
    CELLS_FILE,
    CONNECTIONS_FILE,
    FORMAT_VERSION,
    GRAPH_FILE,
)

#: Choices of :func:`convert`'s ``format``.
FORMATS = ("livn", "2.0.0")

_SWC_FROM_LEGACY_SECTION = {0: upstream.SWC_TYPES["soma"], 1: upstream.SWC_TYPES["dendrite"]}


def _synapse_attributes(system, population: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A population's synapse attributes under 2.0.0's names (legacy ``syn_id`` and
    ``syn_section`` renamed; derived from the edges when the file has none)."""
    attrs = dict(system.synapse_attributes(population))
    if "syn_id" in attrs and "syn_ids" not in attrs:
        attrs["syn_ids"] = attrs.pop("syn_id")
    if "syn_section" in attrs and "swc_types" not in attrs:
        ptr, sec = attrs.pop("syn_section")
        swc = np.vectorize(lambda v: _SWC_FROM_LEGACY_SECTION.get(int(v), 1), otypes=[np.uint8])
        attrs["swc_types"] = (ptr, swc(sec) if len(sec) else sec.astype(np.uint8))
    if "syn_ids" not in attrs:  # derive: each post cell's synapses from its incoming edges
        start, count = system.population_ranges[population]
        n = np.zeros(count, dtype=np.int64)
        for p in system.projections.values():
            if p.post == population and p.num_edges:
                np.maximum.at(n, p.post_gids - start, p.syn_ids + 1)
        pointer = np.concatenate([[0], np.cumsum(n)])
        total = int(pointer[-1])
        swc = np.ones(total, dtype=np.uint8)
        for p in system.projections.values():
            if p.post == population and p.num_edges:
                code = upstream.SWC_TYPES.get(p.info.section, 1)
                swc[pointer[p.post_gids - start] + p.syn_ids] = code
        ids = np.arange(total, dtype=np.int64) - np.repeat(pointer[:-1], n)
        attrs["syn_ids"] = (pointer, ids.astype(np.uint32))
        attrs["swc_types"] = (pointer, swc)
    if "syn_locs" not in attrs:
        ptr = attrs["syn_ids"][0]
        attrs["syn_locs"] = (ptr, np.full(int(ptr[-1]), 0.5, dtype=np.float32))
    return attrs


def _graph_json(system, livn: bool) -> dict[str, Any]:
    graph = system.graph.model_copy(update={"format_version": FORMAT_VERSION})
    data = upstream.graph_json(graph, livn=livn)
    source = system.layout.upstream
    if source:  # keep a 2.0.0 source's elements (and their ids) as they are
        kept = {k: copy.deepcopy(v) for k, v in source.items() if k != upstream.LIVN_ELEMENT}
        conn = kept.get("connections")
        first = next(iter(conn.values()), None) if isinstance(conn, dict) else None
        if isinstance(first, dict) and isinstance(first.get("config"), dict):
            first["config"]["connections_filepath"] = CONNECTIONS_FILE
        if livn:
            kept[upstream.LIVN_ELEMENT] = data[upstream.LIVN_ELEMENT]
        data = kept
    return data


def _write(system, directory: Path, fmt: str) -> None:
    graph = system.graph
    pops = graph.populations
    attrs = {p.name: _synapse_attributes(system, p.name) for p in pops}
    neuroh5.write_cells(str(directory / CELLS_FILE), pops, system.coordinates, attrs)
    blocks = {
        (p.post, p.pre): neuroh5.EdgeBlock(
            indptr=p.indptr,
            sources=p.pre_gids,
            attributes={
                "Synapses": {"syn_id": p.syn_ids.astype(np.uint32)},
                "Connections": {"distance": p.distances.astype(np.float32)},
            },
        )
        for p in system.projections.values()
    }
    neuroh5.write_connections(str(directory / CONNECTIONS_FILE), pops, blocks)
    _fs.write_json(str(directory / GRAPH_FILE), _graph_json(system, livn=fmt == "livn"))

    if system.has_mea:
        from livn.io.mea import MEA

        mea = MEA.from_directory(system.uri)
        if fmt == "2.0.0" and mea.max_input_current != 1.0:
            warnings.warn(
                f"mea.json: max_input_current {mea.max_input_current:g} µA is left out of the "
                "2.0.0 directory (2.0.0 reads MEA keyword arguments only).",
                stacklevel=3,
            )
        mea.save(directory, upstream=fmt == "2.0.0")

    params = system.model_params("RCSD")
    src = system.uri
    for name in system._list_json("params"):
        if name in ("RCSD", upstream.DEFAULT_PARAMS):
            continue
        _copy(src, f"params/{name}.json", directory)
    if params is not None:
        (directory / "params").mkdir(exist_ok=True)
        _fs.write_json(str(directory / "params" / "RCSD.json"), params)
        ours_default = upstream.params_to_upstream(params)
        theirs = system._optional_json(f"params/{upstream.DEFAULT_PARAMS}.json")
        if theirs is not None:  # keep 2.0.0's file (other models, groups), our values for RCSD
            theirs = dict(theirs)
            theirs.setdefault(upstream.MODEL_CLASS, {})
            theirs[upstream.MODEL_CLASS] = {
                **theirs[upstream.MODEL_CLASS],
                **ours_default[upstream.MODEL_CLASS],
            }
            ours_default = theirs
        _fs.write_json(str(directory / "params" / f"{upstream.DEFAULT_PARAMS}.json"), ours_default)
    for name in system._list_json("selection"):
        _copy(src, f"selection/{name}.json", directory)
    if system.model_config is not None:
        _copy(src, "model.json", directory)


def _copy(src: str, name: str, directory: Path) -> None:
    target = directory / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_fs.read_text(_fs.join(src, name)), encoding="utf-8")


def convert(
    source: str | os.PathLike,
    destination: str | os.PathLike,
    format: str = "livn",
    overwrite: bool = False,
) -> str:
    """Rewrite the system at ``source`` into ``destination`` in the shared layout.

    Args:
        source: A system directory in any layout :class:`~livn.system.System` reads, or a
            predefined name (``"EI2"``).
        destination: A new or empty directory (written atomically).
        format: ``"livn"`` (default; readable by this livn and by 2.0.0) or ``"2.0.0"`` (only
            what 2.0.0 writes), see the module docstring.
        overwrite: Replace an existing system directory at ``destination``.

    Returns:
        The absolute path of ``destination``.

    Raises:
        ConfigError: For an unknown ``format`` or a destination that may not be written.
        SystemFormatError: If ``source`` is not a readable system directory.
    """
    from livn.errors import did_you_mean
    from livn.system import System
    from livn.system.predefined import predefined

    if format not in FORMATS:
        raise ConfigError(
            f"format {format!r} is not a system format; valid: {', '.join(FORMATS)}."
            f"{did_you_mean(str(format), FORMATS)}"
        )
    system = System(predefined(os.fspath(source)))
    system.check()
    target = Path(destination).expanduser().resolve()
    if Path(system.uri) == target:
        raise ConfigError(f"destination {target} is the source; choose another directory.")
    if target.exists():
        holds_system = (target / GRAPH_FILE).exists()
        if not target.is_dir() or (any(target.iterdir()) and not (holds_system and overwrite)):
            raise ConfigError(
                f"destination {target} exists and is not empty"
                + (
                    " (it holds a system; pass overwrite=True / --overwrite to replace it)."
                    if holds_system
                    else "; choose a new or empty directory."
                )
            )
    from livn.system.writing import replace_directory

    return replace_directory(target, lambda tmp: _write(system, tmp, format))


def describe(path: str | os.PathLike) -> str:
    """One line: the layout of the system at ``path`` (for the CLI)."""
    from livn.system import System

    s = System(path)
    source = {"livn": "livn (2.0.0-compatible)", "2.0.0": "livn 2.0.0", "livn-1": "livn format 1"}
    return (
        f"{s.uri}: {s.num_neurons} cells, {s.num_edges} synapses, layout "
        f"{source.get(s.layout.source, s.layout.source)}" + (", with mea.json" if s.has_mea else "")
    )


__all__ = ["FORMATS", "convert", "describe"]

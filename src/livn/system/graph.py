"""``graph.json``: the metadata file of a system directory (SPEC §1, docs/system-format.md).

It records the populations in gid order, the area the cells were placed in, the generator
configuration, and the synapse definition of every projection. Three layouts are read:

* **format 2** (written by this livn): the livn 2.0.0 schema (``version`` 1 and the elements
  ``architecture``, ``distances``, ``synapse_forest``, ``synapses``, ``connections``, see
  :mod:`livn.system.upstream`) plus one more element, ``livn``, whose ``config`` is the
  :class:`GraphInfo` below; the HDF5 files are in the 2.0.0 NeuroH5 layout. livn 2.0.0 and
  this livn both read it.
* **2.0.0** directories written by the published livn 2.0.0 (no ``livn`` element): the
  :class:`GraphInfo` is derived from the 2.0.0 elements and the population table of the cells
  file.
* **format 1** (written by earlier versions of this livn): ``format_version`` 1 at the top
  level, global cell indices, ``Coordinates`` and ``Attributes/<namespace>`` groups.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from livn import _fs
from livn.errors import SystemFormatError

#: Version of the system directory layout written by this livn (the 2.0.0-compatible layout);
#: readers accept it, :data:`LEGACY_FORMAT_VERSION` and 2.0.0 directories.
FORMAT_VERSION = 2
#: The layout of earlier versions of this livn (top-level ``format_version`` 1, global indices).
LEGACY_FORMAT_VERSION = 1

GRAPH_FILE = "graph.json"
CELLS_FILE = "cells.h5"
CONNECTIONS_FILE = "connections.h5"
#: 2.0.0 may hold cells and connections in this one file instead.
GRAPH_H5_FILE = "graph.h5"
MEA_FILE = "mea.json"


class PopulationInfo(BaseModel):
    """One population: its name, index, gid range, synapse type and transmitter (the
    template of its outgoing synapses; absent in systems written before it was recorded)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    index: int = Field(ge=0)
    start: int = Field(ge=0)
    count: int = Field(ge=0)
    synapse_type: Literal["excitatory", "inhibitory"]
    transmitter: str | None = None


class MechanismInfo(BaseModel):
    """Parameters of one dual-exponential synaptic mechanism."""

    model_config = ConfigDict(extra="allow")

    e: float
    g_unit: float
    tau_rise: float
    tau_decay: float
    weight: float


class ProjectionInfo(BaseModel):
    """A projection ``pre -> post`` with its synapse definition and edge count."""

    model_config = ConfigDict(extra="forbid")

    pre: str
    post: str
    type: Literal["excitatory", "inhibitory"]
    transmitter: str
    section: str
    mechanisms: dict[str, MechanismInfo]
    num_edges: int = Field(ge=0)


class GraphInfo(BaseModel):
    """The parsed content of ``graph.json``."""

    model_config = ConfigDict(extra="forbid")

    format_version: int
    name: str
    kind: str = "culture-2d"
    populations: list[PopulationInfo]
    projections: list[ProjectionInfo] = []
    area: dict[str, Any] = {}
    generator: dict[str, Any] = {}

    @model_validator(mode="after")
    def _check(self) -> GraphInfo:
        expected = 0
        for i, p in enumerate(self.populations):
            if p.index != i:
                raise ValueError(f"population '{p.name}' has index {p.index}, expected {i}")
            if p.start != expected:
                raise ValueError(
                    f"population '{p.name}' starts at gid {p.start}, expected {expected}"
                )
            expected += p.count
        names = {p.name for p in self.populations}
        for pr in self.projections:
            for end in (pr.pre, pr.post):
                if end not in names:
                    raise ValueError(
                        f"projection {pr.pre}->{pr.post} names unknown population '{end}'"
                    )
        return self


@dataclass(frozen=True)
class Layout:
    """Where and how a system directory stores its cells and connections.

    Attributes:
        format_version: :data:`FORMAT_VERSION` (the 2.0.0 NeuroH5 layout: cell and edge
            indices relative to their population) or :data:`LEGACY_FORMAT_VERSION` (global).
        cells_file: Name of the file holding ``/Populations`` (``cells.h5`` or ``graph.h5``).
        connections_file: Name of the file holding ``/Projections``.
        coordinate_namespace: Group of the cell coordinates under ``/Populations/<pop>``.
        source: ``"livn"`` (written by this livn), ``"2.0.0"`` (no livn metadata) or
            ``"livn-1"`` (the legacy layout).
        upstream: The 2.0.0 elements of ``graph.json`` (``{}`` for the legacy layout).
    """

    format_version: int
    cells_file: str
    connections_file: str
    coordinate_namespace: str
    source: str
    upstream: dict[str, Any] = field(repr=False, default_factory=dict)


def validation_details(e: ValidationError) -> str:
    """One line per pydantic error: ``location: message``."""
    return "; ".join(
        f"{'.'.join(str(x) for x in err['loc']) or '<root>'}: {err['msg']}" for err in e.errors()
    )


def read_json(location: str, what: str = "a JSON object") -> dict[str, Any]:
    """A JSON object from a file; SystemFormatError naming the file if it is not one."""
    try:
        data = json.loads(_fs.read_text(location))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SystemFormatError(f"{location}: not valid JSON ({e}). The file is corrupt.") from e
    if not isinstance(data, dict):
        raise SystemFormatError(f"{location}: expected {what}, got {type(data).__name__}.")
    return data


def h5_files(directory: str) -> tuple[str, str]:
    """``(cells file, connections file)`` names: ``cells.h5`` and ``connections.h5``, or the
    single ``graph.h5`` of a 2.0.0 directory that has no separate files."""
    if not _fs.exists(_fs.join(directory, CELLS_FILE)) and _fs.exists(
        _fs.join(directory, GRAPH_H5_FILE)
    ):
        return GRAPH_H5_FILE, GRAPH_H5_FILE
    return CELLS_FILE, CONNECTIONS_FILE


def read_system(directory: str) -> tuple[GraphInfo, Layout]:
    """Read ``graph.json`` of a system directory in any of the layouts this livn reads.

    Returns:
        ``(graph, layout)``.

    Raises:
        SystemFormatError: A missing or invalid ``graph.json``, naming the file, what was
            found and what was expected.
    """
    location = _fs.join(directory, GRAPH_FILE)
    if not _fs.exists(location):
        raise SystemFormatError(
            f"{location}: missing. A system directory needs graph.json, cells.h5 and "
            "connections.h5 (or graph.h5); generate one with `livn systems generate_2d ... "
            "--launch`."
        )
    data = read_json(location)
    if "format_version" in data:
        version = data.get("format_version")
        if version != LEGACY_FORMAT_VERSION:
            raise SystemFormatError(
                f"{location}: format_version is {version!r}, but this livn reads the "
                f"top-level format_version {LEGACY_FORMAT_VERSION} (earlier livn versions) and "
                f"the 2.0.0 layout (a top-level 'version'). Regenerate the system with this "
                "livn version."
            )
        try:
            graph = GraphInfo.model_validate(data)
        except ValidationError as e:
            raise SystemFormatError(
                f"{location}: invalid content ({validation_details(e)})."
            ) from e
        cells, connections = CELLS_FILE, CONNECTIONS_FILE
        return graph, Layout(LEGACY_FORMAT_VERSION, cells, connections, "Coordinates",
                             "livn-1", {})  # fmt: skip
    if "version" in data:
        from livn.system import upstream

        return upstream.read_graph_json(directory, location, data)
    raise SystemFormatError(
        f"{location}: neither a livn nor a livn 2.0.0 system description (top-level keys "
        f"{sorted(data)[:8]}). Expected the 2.0.0 layout (a top-level 'version' and the elements "
        "'architecture' and 'connections') or the format of earlier livn versions (a top-level "
        "'format_version'). Point System() at a system directory, or generate one with "
        "`livn systems generate_2d ... --launch`."
    )


def read_graph(directory: str) -> GraphInfo:
    """Read and validate ``graph.json`` of a system directory (any layout, see
    :func:`read_system`)."""
    return read_system(directory)[0]


def write_graph(directory: str | os.PathLike, graph: GraphInfo, livn: bool = True) -> None:
    """Write ``graph.json`` atomically in the shared layout (:data:`FORMAT_VERSION`).

    Args:
        directory: The system directory.
        graph: Its description (its ``format_version`` is written as :data:`FORMAT_VERSION`).
        livn: Include the ``livn`` element (name, kind, generator record); ``False`` writes
            only what livn 2.0.0 itself writes.
    """
    from livn.system import upstream

    data = upstream.graph_json(graph, livn=livn)
    _fs.write_json(_fs.join(os.fspath(directory), GRAPH_FILE), data)

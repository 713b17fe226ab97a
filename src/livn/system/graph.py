"""``graph.json``: the metadata file of a system directory (SPEC §1).

It records the format version, the populations in gid order, the area the cells were placed
in, the generator configuration, and the synapse definition of every projection.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from livn import _fs
from livn.errors import SystemFormatError

#: Version of the system directory layout written by this livn. Readers accept exactly this.
FORMAT_VERSION = 1

GRAPH_FILE = "graph.json"
CELLS_FILE = "cells.h5"
CONNECTIONS_FILE = "connections.h5"
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


def read_graph(directory: str) -> GraphInfo:
    """Read and validate ``graph.json`` of a system directory."""
    location = _fs.join(directory, GRAPH_FILE)
    if not _fs.exists(location):
        raise SystemFormatError(
            f"{location}: missing. A system directory needs graph.json, cells.h5 and "
            "connections.h5; generate one with `livn systems generate_2d ... --launch`."
        )
    try:
        data = json.loads(_fs.read_text(location))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SystemFormatError(f"{location}: not valid JSON ({e}). The file is corrupt.") from e
    if not isinstance(data, dict):
        raise SystemFormatError(f"{location}: expected a JSON object, got {type(data).__name__}.")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise SystemFormatError(
            f"{location}: format_version is {version!r}, but this livn reads version "
            f"{FORMAT_VERSION}. Regenerate the system with this livn version."
        )
    try:
        return GraphInfo.model_validate(data)
    except ValidationError as e:
        details = "; ".join(
            f"{'.'.join(str(x) for x in err['loc']) or '<root>'}: {err['msg']}"
            for err in e.errors()
        )
        raise SystemFormatError(f"{location}: invalid content ({details}).") from e


def write_graph(directory: str, graph: GraphInfo) -> None:
    """Write ``graph.json`` atomically."""
    _fs.write_json(_fs.join(directory, GRAPH_FILE), graph.model_dump(mode="json"))

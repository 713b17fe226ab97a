"""``ParallelSystem``: unconnected cells in memory, the usual way to test single cells.

``Env(10)`` and ``Env({"EXC": 2, "INH": 1})`` build one (livn 2.0.0's spelling, kept for its
users' scripts; docs/migrating.md). It has no directory, no synapses and no MEA: each cell is
driven only by its own background noise and by stimuli given per cell.

    from livn.env import Env

    env = Env({"EXC": 2, "INH": 1}).init()   # gids 0, 1 are EXC, gid 2 is INH
    env.record_voltage()
    it, t, iv, v = env.run(10)

Cells are placed along the x axis, ``spacing`` µm apart, unless coordinates are given.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from livn import limits
from livn.errors import ConfigError, did_you_mean
from livn.system.graph import GraphInfo, PopulationInfo
from livn.system.system import CoordinateMap, Projection, System

#: The populations a ParallelSystem can hold, and their synapse type (the cell type the model
#: builds). livn 2.0.0's RCSD model also builds only these two.
POPULATION_TYPES: dict[str, str] = {"EXC": "excitatory", "INH": "inhibitory"}
#: Most cells of one ParallelSystem.
MAX_CELLS = limits.MAX_UNITS


def _counts(num_neurons: Any) -> dict[str, int]:
    """``{population: count}`` from an int (all EXC) or a mapping of EXC/INH counts."""
    if isinstance(num_neurons, Mapping):
        if not num_neurons:
            raise ConfigError(
                "a ParallelSystem needs at least one population; got {}. Pass e.g. "
                "{'EXC': 1} or an integer number of EXC cells."
            )
        counts = {}
        for pop, n in num_neurons.items():
            if pop not in POPULATION_TYPES:
                raise ConfigError(
                    f"unknown ParallelSystem population {pop!r}. Valid: "
                    f"{', '.join(POPULATION_TYPES)} (the cell types the models build)."
                    f"{did_you_mean(str(pop), POPULATION_TYPES)}"
                )
            counts[pop] = limits.integer(n, f"number of {pop} cells", 1, MAX_CELLS)
    else:
        counts = {"EXC": limits.integer(num_neurons, "number of cells", 1, MAX_CELLS)}
    total = sum(counts.values())
    if total > MAX_CELLS:
        raise ConfigError(f"a ParallelSystem holds at most {MAX_CELLS:,} cells; got {total:,}.")
    return counts


def _coordinates(coordinates: Any, n: int) -> np.ndarray:
    """``[n, 3]`` float64 positions (µm) from a spacing, an array or a callable."""
    if callable(coordinates):
        coordinates = coordinates(n)
    if np.ndim(coordinates) == 0:
        spacing = limits.number(coordinates, "ParallelSystem coordinates (x spacing)", unit="µm")
        xyz = np.zeros((n, 3))
        xyz[:, 0] = spacing * np.arange(n)
        return xyz
    try:
        arr = np.asarray(coordinates, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(
            f"ParallelSystem coordinates must be a spacing (µm), an [n, 3] / [n, 4] array or a "
            f"callable(n) returning one; got {coordinates!r}."
        ) from None
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] not in (3, 4):
        raise ConfigError(
            f"ParallelSystem coordinates must have shape [{n}, 3] (x, y, z) or [{n}, 4] "
            f"(gid, x, y, z) for {n} cells; got shape {arr.shape}."
        )
    limits.finite_array(arr, "ParallelSystem coordinates")
    return arr[:, -3:].copy()


class ParallelSystem(System):
    """Unconnected cells held in memory (no directory, no synapses, no MEA).

    Args:
        num_neurons: Number of cells (all ``EXC``), or ``{"EXC": n, "INH": m}``; gids follow
            the mapping's order.
        coordinates: x spacing of the cells in µm (default 0: all at the origin), an
            ``[n, 3]`` (x, y, z) or ``[n, 4]`` (gid, x, y, z) array, or a callable ``f(n)``
            returning one.
        name: The system's name.
        comm: Accepted for livn 2.0.0 scripts; nothing is read from disk, so it is unused.

    Raises:
        ConfigError: A count that is not a positive integer, a population other than
            ``EXC``/``INH``, or coordinates of the wrong shape.
    """

    def __init__(self, num_neurons: int | Mapping[str, int] = 1, coordinates: Any = 0.0,
                 name: str = "ParallelSystem", comm: Any = None) -> None:  # fmt: skip
        counts = _counts(num_neurons)
        pops, start = [], 0
        for i, (pop, n) in enumerate(counts.items()):
            pops.append(PopulationInfo(name=pop, index=i, start=start, count=n,
                                       synapse_type=POPULATION_TYPES[pop]))  # fmt: skip
            start += n
        self.graph = GraphInfo(format_version=2, name=str(name), kind="parallel",
                               populations=pops)  # fmt: skip
        self.layout = None
        self.uri = None
        self.comm = comm
        self._xyz = _coordinates(coordinates, start)

    def __repr__(self) -> str:
        counts = {p.name: p.count for p in self.graph.populations}
        return f"ParallelSystem({counts!r}, name={self.name!r})"

    @property
    def has_mea(self) -> bool:
        """Always False: a ParallelSystem has no electrodes."""
        return False

    @functools.cached_property
    def coordinates(self) -> CoordinateMap:
        """Per population, ``[count, 3]`` float32 cell coordinates (µm); callable as
        :attr:`System.coordinates`."""
        return CoordinateMap(self, {p.name: self._xyz[p.start : p.start + p.count].astype(
            np.float32) for p in self.graph.populations})  # fmt: skip

    @functools.cached_property
    def projections(self) -> dict[str, Projection]:
        """Empty: the cells are unconnected."""
        return {}

    def synapse_attributes(self, population: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Empty: no synapses."""
        return {}

    def check(self) -> ParallelSystem:
        """Nothing to read; returns ``self``."""
        return self

    @property
    def model_config(self) -> None:
        return None

    @property
    def selections(self) -> dict[str, np.ndarray]:
        return {}

    def model_params(self, model: str = "RCSD") -> None:
        """None: no tuned parameters (the model's defaults apply)."""
        return None

    def _summary_text(self) -> str:
        """:meth:`System.summary` of the cells; no directory, no electrodes."""
        lines = super()._summary_text().splitlines()
        lines[0] = f"ParallelSystem {self.name!r} (in memory: unconnected cells)"
        lines[-1] = "  mea: none (a ParallelSystem has no electrodes; pass io=MEA(...) to Env)"
        return "\n".join(lines)

    def default_io(self) -> None:
        """None: a ParallelSystem has no IO device (no MEA channels)."""
        return None

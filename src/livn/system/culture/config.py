"""The validated configuration of a 2D culture (SPEC §1.1, seed 002)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from livn._config import Count, Flag, Real
from livn.system.culture.placement import MAX_COORDINATE, check_area_kwargs, resolve_area
from livn.system.synapses import check_transmitter

#: Most cells a generated culture may have (memory: coordinates, candidate search and edges;
#: EI4's 10,000 cells take ~0.3 GB to build).
MAX_CELLS = 1_000_000
#: Most synapses a generated culture may have (~40 bytes each while building and writing).
MAX_EDGES = 200_000_000
#: Bytes the build keeps per candidate (pre, post) pair within cutoff · sigma (indices,
#: distance, kernel weight, draws; measured ~20 for a 10,000-cell culture).
BYTES_PER_PAIR = 24
#: Smallest kernel width σ, µm (the kernel is evaluated in float32, where a smaller σ² is 0).
MIN_SIGMA = 1e-3


def _default_populations() -> dict[str, PopulationConfig]:
    return {
        "EXC": PopulationConfig(ratio=0.8, synapse_type="excitatory"),
        "INH": PopulationConfig(ratio=0.2, synapse_type="inhibitory"),
    }


class PopulationConfig(BaseModel):
    """A population, sized by ``ratio`` of ``total_cells`` or by absolute ``count``."""

    model_config = ConfigDict(extra="forbid")

    ratio: Real | None = Field(default=None, gt=0, le=1, description="fraction of total_cells")
    count: Count | None = Field(
        default=None, ge=0, le=MAX_CELLS, description="absolute number of cells"
    )
    synapse_type: Literal["excitatory", "inhibitory"] = "excitatory"
    transmitter: str | None = Field(
        default=None,
        description="glutamatergic (default) or cholinergic for excitatory populations, "
        "gabaergic (default) or glycinergic for inhibitory ones (SPEC §2.4)",
    )

    @field_validator("transmitter")
    @classmethod
    def _transmitter(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "synapse_type" not in info.data:
            return value
        return check_transmitter(value, info.data["synapse_type"])

    @model_validator(mode="after")
    def _one_size(self) -> PopulationConfig:
        if (self.ratio is None) == (self.count is None):
            raise ValueError("give exactly one of 'ratio' or 'count'")
        return self


class ConnectivityConfig(BaseModel):
    """Distance-dependent connectivity.

    For each ordered population pair ``pre -> post`` with target mean in-degree ``k``: kernel
    ``w = exp(-d²/(2σ²))`` (gaussian) or ``exp(-d/σ)`` (exponential) on the xy distance ``d``,
    zero beyond ``cutoff · σ``; an edge exists with probability ``min(1, A·w)`` where ``A`` is
    chosen so that the expected in-degree is exactly ``k``.
    """

    model_config = ConfigDict(extra="forbid")

    kernel: Literal["gaussian", "exponential"] = "gaussian"
    sigma: Real = Field(
        default=500.0, ge=MIN_SIGMA, description="kernel width σ (or length λ), µm"
    )
    mean_degree: Real | dict[str, Real] = Field(
        default=10.0, description="mean in-degree, or a map 'PRE->POST': degree"
    )
    cutoff: Real = Field(default=3.0, gt=0, description="no connections beyond cutoff·sigma")
    allow_self_connections: Flag = False

    @field_validator("mean_degree")
    @classmethod
    def _nonnegative(cls, v: float | dict[str, float]) -> float | dict[str, float]:
        values = v.values() if isinstance(v, dict) else [v]
        for x in values:
            if x < 0:
                raise ValueError(f"mean_degree must be >= 0, got {x}")
        if isinstance(v, dict):
            for key in v:
                if key.count("->") != 1:
                    raise ValueError(f"mean_degree key {key!r} must look like 'PRE->POST'")
        return v


class CultureConfig(BaseModel):
    """Everything that defines a 2D culture; the same model backs the Python API and the CLI."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str | None = Field(default=None, description="system name (default: directory name)")
    total_cells: Count | None = Field(
        default=100, ge=1, le=MAX_CELLS, description="cells in all populations"
    )
    populations: dict[str, PopulationConfig] = Field(default_factory=_default_populations)
    area: str | Callable[..., Any] = Field(
        default="rectangle", description="'rectangle', 'disk', dotted path, or callable"
    )
    area_kwargs: dict[str, Any] = Field(default_factory=dict)
    z_range: tuple[Real, Real] = (0.0, 10.0)
    connectivity: ConnectivityConfig = Field(default_factory=ConnectivityConfig)
    seed: Count = Field(default=0, ge=0, le=2**32 - 1)
    output_directory: str | None = None

    @field_validator("output_directory")
    @classmethod
    def _output(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "\x00" in value):
            raise ValueError(
                "must be a directory path, e.g. ./my_system (an empty value would write into "
                "the current directory)"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> CultureConfig:
        if not self.populations:
            raise ValueError("populations must name at least one population")
        for name in self.populations:
            if not name or any(c in name for c in "/_-> "):
                raise ValueError(
                    f"population name {name!r} must be non-empty without '/', '_', '-', '>' or spaces"
                )
        kinds = {p.ratio is None for p in self.populations.values()}
        if len(kinds) > 1:
            raise ValueError("populations must all use 'ratio' or all use 'count', not a mix")
        if self.populations and next(iter(self.populations.values())).ratio is not None:
            total = sum(p.ratio for p in self.populations.values())
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"population ratios must sum to 1, got {total:g}")
            if self.total_cells is None:
                raise ValueError("total_cells is required when populations are given by ratio")
        else:
            counted = sum(p.count for p in self.populations.values())
            if (
                self.total_cells is not None
                and self.total_cells != counted
                and ("total_cells" in self.model_fields_set)
            ):
                raise ValueError(
                    f"total_cells={self.total_cells} but population counts sum to {counted}; "
                    "drop total_cells or make them agree"
                )
            self.total_cells = counted
        total = sum(self.population_counts().values())
        if total < 1:
            raise ValueError(
                "the culture would have 0 cells (every population count is 0); give at least one "
                "population a count >= 1"
            )
        if total > MAX_CELLS:
            raise ValueError(
                f"{total:,} cells is above the limit of {MAX_CELLS:,} per generated culture "
                "(memory of the build); generate a smaller culture"
            )
        edges = sum(
            self.degree(pre, post) * n_post
            for pre in self.populations
            for post, n_post in self.population_counts().items()
        )
        if edges > MAX_EDGES:
            raise ValueError(
                f"the requested degrees give ~{edges:,.0f} synapses, above the limit of "
                f"{MAX_EDGES:,} (~40 bytes each while building); lower mean_degree or cells"
            )
        if not self.z_range[0] <= self.z_range[1]:
            raise ValueError(f"z_range must be [min, max] with min <= max, got {self.z_range}")
        if max(abs(z) for z in self.z_range) > MAX_COORDINATE:
            raise ValueError(
                f"z_range {list(self.z_range)} must lie within ±{MAX_COORDINATE:g} µm (positions "
                "are float32; a culture larger than a kilometre is a typo)"
            )
        md = self.connectivity.mean_degree
        if isinstance(md, dict):
            for key in md:
                pre, post = key.split("->")
                for end in (pre, post):
                    if end not in self.populations:
                        raise ValueError(
                            f"mean_degree key {key!r} names unknown population {end!r}; "
                            f"populations are {sorted(self.populations)}"
                        )
        name, fn = resolve_area(self.area)
        check_area_kwargs(name, fn, self.area_kwargs)
        return self

    def check_memory(self) -> None:
        """Refuse a build whose candidate pairs would not fit :func:`livn.limits.memory_budget`
        (a :class:`~livn.errors.SizeLimitError`; ``LIVN_MAX_MEMORY`` raises the limit).

        Kept out of validation so that a config's validity does not depend on the machine;
        :meth:`livn.workflows.generate_2d.Generate2D.launch` calls it before writing anything.
        Custom areas are checked when built (:func:`~livn.system.culture.connectivity.connect`).
        """
        pairs = self.candidate_pairs()
        if pairs is None:
            return
        from livn import limits

        radius = self.connectivity.cutoff * self.connectivity.sigma
        limits.check_memory(
            pairs * BYTES_PER_PAIR,
            f"generating this culture (~{pairs:,.0f} candidate pairs within cutoff·sigma = "
            f"{radius:g} µm)",
            "Generate fewer cells, or lower connectivity.sigma or connectivity.cutoff",
        )

    def candidate_pairs(self) -> float | None:
        """Expected (pre, post) pairs within ``cutoff · sigma`` of each other, over every
        projection, for the built-in areas (cells spread uniformly; edges of the area ignored,
        so an overestimate); ``None`` for a custom area. The build keeps ~``BYTES_PER_PAIR``
        bytes per candidate pair."""
        from livn.system.culture.placement import area_size

        area = area_size(resolve_area(self.area)[0], self.area_kwargs)
        if area is None:
            return None
        r = self.connectivity.cutoff * self.connectivity.sigma
        fraction = min(1.0, math.pi * r * r / area) if area > 0 else 1.0
        counts = self.population_counts()
        return sum(counts[post] * counts[pre] * fraction for pre in self.populations
                   for post in self.populations if self.degree(pre, post) > 0)  # fmt: skip

    def population_counts(self) -> dict[str, int]:
        """Cells per population; ratios use largest-remainder rounding to ``total_cells``."""
        pops = self.populations
        if next(iter(pops.values())).ratio is None:
            return {k: int(p.count) for k, p in pops.items()}
        total = int(self.total_cells)
        exact = {k: p.ratio * total for k, p in pops.items()}
        counts = {k: int(v // 1) for k, v in exact.items()}
        remainder = total - sum(counts.values())
        order = sorted(pops, key=lambda k: (-(exact[k] - counts[k]), list(pops).index(k)))
        for k in order[:remainder]:
            counts[k] += 1
        return counts

    def degree(self, pre: str, post: str) -> float:
        """Target mean in-degree of ``pre -> post`` (0 = no projection)."""
        md = self.connectivity.mean_degree
        if isinstance(md, dict):
            return float(md.get(f"{pre}->{post}", 0.0))
        return float(md)

    def generator_record(self) -> dict[str, Any]:
        """The configuration as stored in ``graph.json`` (no output directory)."""
        data = self.model_dump(mode="python", exclude={"output_directory"})
        for pop in data["populations"].values():
            if pop.get("transmitter") is None:  # records of systems generated before the key
                pop.pop("transmitter", None)  # existed stay equal (re-launch is a no-op)
        data["area"] = resolve_area(self.area)[0]
        data["z_range"] = list(self.z_range)
        import json

        return json.loads(json.dumps(data, default=str))

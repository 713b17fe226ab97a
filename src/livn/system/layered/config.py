"""The validated configuration of a 3D layered system (seed 002's YAML format).

```yaml
name: S1                         # optional (default: the file name without .yml)
seed: 1                          # optional (default 0): the same seed gives the same system
Definitions: !include _definitions.yml     # Layers: {SO: [0, 100], SP: [100, 150], ...}
Cell Types: !include _cell_types.yml       # EXC: {synapse_type: excitatory}, INH: ...
Synapses: !include _synapses.yml           # POST: {PRE: {degree: 10, section: dendrite}}
Geometry:
  Area: {x: [0, 4000], y: [0, 4000]}       # µm (default 4 x 4 mm)
  Minimum Spacing: 10.0                    # µm between any two somata (default 10)
  Cell Distribution:
    EXC: {Layer: SP, Count: 8}
    INH: {Layer: "SO, SP, SR", Count: 2}   # split over the layers by volume
  Axon Extent: {EXC: 1000.0, INH: 500.0}   # µm, square reach in the plane
mea: {grid: {nx: 4, ny: 4, pitch: 1000, offset: [500, 500], z: 175}}   # optional
defaults: {RCSD: {weights: ..., noise: ...}}                            # optional
```

Keys of the seed's format are written as in the seed (``Cell Types``, ``Axon Extent``,
``Layer``, ``Count``); livn's additions at the top level (``name``, ``seed``, ``mea``,
``defaults``) and inside entries (``synapse_type``, ``transmitter``, ``degree``, ``contacts``,
``section``) are lower case, as in the 2D configs. :func:`load` reads a file (with
``!include``), validates it, and reports every problem as a :class:`ConfigError` naming the
file that holds the value, the key path and the fix, before anything is built.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from livn._config import Count, Real, format_errors
from livn.errors import ConfigError, did_you_mean
from livn.system.culture.config import MAX_CELLS, MAX_EDGES
from livn.system.culture.placement import MAX_COORDINATE
from livn.system.layered.loader import KeyPath, key_text, load_config, source_of
from livn.system.synapses import check_transmitter

#: Default depth slabs (z, µm): stratum oriens, pyramidale, radiatum, lacunosum-moleculare.
DEFAULT_LAYERS: dict[str, tuple[float, float]] = {
    "SO": (0.0, 100.0),
    "SP": (100.0, 150.0),
    "SR": (150.0, 350.0),
    "SLM": (350.0, 450.0),
}
#: Largest volume fraction that cells of one layer, as spheres of diameter Minimum Spacing,
#: may fill (random placement with rejection converges quickly well below jamming, ~0.38).
MAX_PACKING = 0.1
#: Gaussian width of the connection kernel as a fraction of the axon extent (σ = extent / 3).
SIGMA_FRACTION = 1.0 / 3.0
#: Bytes per candidate pair held while one block of post cells is searched (KD-tree output,
#: planar distance, kernel weight, uniform draws).
BYTES_PER_BLOCK_PAIR = 64
#: Bytes per synapse while building and writing (indices, distances, sorting, syn ids).
BYTES_PER_EDGE = 48
#: Candidate pairs searched per block of post cells (sets the block size from the density).
PAIRS_PER_BLOCK = 1 << 21


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LayersDefinition(_Model):
    """``Definitions``: the layer names and their depth slabs."""

    layers: dict[str, tuple[Real, Real]] = Field(
        default_factory=lambda: dict(DEFAULT_LAYERS), alias="Layers",
        description="depth slab [z_min, z_max] per layer, µm",
    )  # fmt: skip


class CellType(_Model):
    """An entry of ``Cell Types``: the population's sign and transmitter."""

    synapse_type: Literal["excitatory", "inhibitory"]
    transmitter: str | None = Field(
        default=None, description="default glutamatergic (excitatory) / gabaergic (inhibitory)"
    )


class SynapseRule(_Model):
    """An entry ``Synapses: POST: PRE:`` — one projection ``PRE -> POST``."""

    degree: Real | None = Field(default=None, ge=0, description="mean in-degree (distinct sources)")
    contacts: Real | None = Field(
        default=None, ge=0, description="mean synapses per target cell (multiple per pair)"
    )
    section: Literal["soma", "dendrite"] | None = Field(
        default=None, description="target section (default: SPEC §2.4 by sign)"
    )

    @model_validator(mode="after")
    def _one(self) -> SynapseRule:
        if (self.degree is None) == (self.contacts is None):
            raise ValueError("give exactly one of 'degree' (mean in-degree) or 'contacts'")
        return self

    @property
    def target(self) -> float:
        return float(self.degree if self.degree is not None else self.contacts)


class Area(_Model):
    """``Geometry: Area``: the extent of the slice in the plane, µm."""

    x: tuple[Real, Real] = (0.0, 4000.0)
    y: tuple[Real, Real] = (0.0, 4000.0)


class Distribution(_Model):
    """``Geometry: Cell Distribution: POP``: the layers and the number of cells."""

    layer: str | list[str] | None = Field(default=None, alias="Layer")
    count: Count | dict[str, Count] = Field(alias="Count")


class Geometry(_Model):
    """``Geometry``: area, spacing, cell distribution and axon extents."""

    area: Area = Field(default_factory=Area, alias="Area")
    minimum_spacing: Real = Field(default=10.0, ge=0, alias="Minimum Spacing")
    cell_distribution: dict[str, Distribution] = Field(alias="Cell Distribution")
    axon_extent: dict[str, Real] = Field(default_factory=dict, alias="Axon Extent")


class LayeredConfig(_Model):
    """Everything that defines a 3D layered system. Build with :func:`load` (a file) or
    :func:`from_dict`, which also run the checks that need the whole config."""

    name: str | None = None
    seed: Count = Field(default=0, ge=0, le=2**32 - 1)
    definitions: LayersDefinition = Field(default_factory=LayersDefinition, alias="Definitions")
    cell_types: dict[str, CellType] = Field(alias="Cell Types")
    synapses: dict[str, dict[str, SynapseRule]] = Field(default_factory=dict, alias="Synapses")
    geometry: Geometry = Field(alias="Geometry")
    mea: dict[str, Any] | None = None
    defaults: dict[str, Any] | None = None

    _source: str = PrivateAttr(default="<config>")
    _sources: dict[KeyPath, str] = PrivateAttr(default_factory=dict)
    _layer_counts: dict[str, dict[str, int]] = PrivateAttr(default_factory=dict)

    # ------------------------------------------------------------------ derived values
    @property
    def source(self) -> str:
        """The top-level file (or ``<config>`` for a dict)."""
        return self._source

    @property
    def layers(self) -> dict[str, tuple[float, float]]:
        return {k: (float(a), float(b)) for k, (a, b) in self.definitions.layers.items()}

    @property
    def populations(self) -> list[str]:
        """Population names in gid order (the order of ``Cell Types``)."""
        return list(self.cell_types)

    def layer_counts(self) -> dict[str, dict[str, int]]:
        """Cells per population and layer (``{pop: {layer: n}}``, layers in config order)."""
        return {p: dict(c) for p, c in self._layer_counts.items()}

    def population_counts(self) -> dict[str, int]:
        return {p: sum(c.values()) for p, c in self._layer_counts.items()}

    def projections(self) -> list[tuple[str, str, SynapseRule]]:
        """``(pre, post, rule)`` in gid order of pre, then post."""
        out = []
        for pre in self.populations:
            for post in self.populations:
                rule = self.synapses.get(post, {}).get(pre)
                if rule is not None:
                    out.append((pre, post, rule))
        return out

    def extent(self, pop: str) -> float:
        return float(self.geometry.axon_extent[pop])

    @property
    def bounds(self) -> tuple[list[float], list[float]]:
        a = self.geometry.area
        return [float(a.x[0]), float(a.y[0])], [float(a.x[1]), float(a.y[1])]

    def generator_record(self) -> dict[str, Any]:
        """The configuration as stored in ``graph.json`` (keys as written in the YAML)."""
        data = self.model_dump(mode="json", by_alias=True)
        data["name"] = self.name
        return json.loads(json.dumps(data))

    # ------------------------------------------------------------------ checks
    def _fail(self, key: KeyPath, message: str) -> ConfigError:
        where = source_of(self._sources, key) if self._sources else self._source
        also = "" if where == self._source else f" (in {where})"
        return ConfigError(f"{self._source}: {key_text(key)}{also}: {message}")

    def check(self) -> LayeredConfig:
        """The checks that need the whole config; raises ConfigError naming file and key."""
        G = ("Geometry",)
        pops = self.populations
        if not pops:
            raise self._fail(("Cell Types",), "name at least one population, e.g. EXC: "
                             "{synapse_type: excitatory}.")  # fmt: skip
        for pop, ct in self.cell_types.items():
            if not pop or any(c in pop for c in "/_-> ,"):
                raise self._fail(("Cell Types", pop), "a population name must be non-empty "
                                 "without '/', '_', '-', '>', ',' or spaces.")  # fmt: skip
            try:
                ct.transmitter = check_transmitter(ct.transmitter, ct.synapse_type)
            except ValueError as e:
                raise self._fail(("Cell Types", pop, "transmitter"), str(e)) from None

        # layers: ordered, disjoint slabs
        layers = self.layers
        if not layers:
            raise self._fail(("Definitions", "Layers"), "define at least one layer, e.g. "
                             "SP: [100, 150].")  # fmt: skip
        previous = None
        for name, (z0, z1) in layers.items():
            key = ("Definitions", "Layers", name)
            if not name or any(c in name for c in ", "):
                raise self._fail(key, "a layer name must be non-empty without ',' or spaces.")
            if not z0 < z1:
                raise self._fail(key, f"[{z0:g}, {z1:g}] must be [z_min, z_max] with z_min < "
                                 "z_max (µm of depth).")  # fmt: skip
            if max(abs(z0), abs(z1)) > MAX_COORDINATE:
                raise self._fail(key, f"must lie within ±{MAX_COORDINATE:g} µm.")
            if previous is not None and z0 < previous[1]:
                raise self._fail(key, f"[{z0:g}, {z1:g}] overlaps layer {previous[0]} "
                                 f"(ends at {previous[1]:g} µm); list layers from the top "
                                 "down, without overlap.")  # fmt: skip
            previous = (name, z1)

        a = self.geometry.area
        for axis, (lo, hi) in (("x", a.x), ("y", a.y)):
            if not lo < hi or max(abs(lo), abs(hi)) > MAX_COORDINATE:
                raise self._fail((*G, "Area", axis), f"[{lo:g}, {hi:g}] must be [min, max] with "
                                 f"min < max within ±{MAX_COORDINATE:g} µm.")  # fmt: skip

        # cell distribution
        dist = self.geometry.cell_distribution
        for pop in dist:
            if pop not in self.cell_types:
                raise self._fail((*G, "Cell Distribution", pop), f"unknown population {pop!r}; "
                                 f"Cell Types defines {', '.join(pops)}."
                                 f"{did_you_mean(pop, pops)}")  # fmt: skip
        counts: dict[str, dict[str, int]] = {}
        for pop in pops:
            if pop not in dist:
                raise self._fail((*G, "Cell Distribution"), f"population {pop!r} of Cell Types "
                                 "has no entry; give it {Layer: ..., Count: ...}.")  # fmt: skip
            counts[pop] = self._split(pop, dist[pop])
        total = sum(sum(c.values()) for c in counts.values())
        if total > MAX_CELLS:
            raise self._fail((*G, "Cell Distribution"), f"{total:,} cells is above the limit of "
                             f"{MAX_CELLS:,} per generated system; generate fewer cells.")  # fmt: skip
        self._layer_counts = counts

        # synapses and axon extents
        for post, rules in self.synapses.items():
            if post not in self.cell_types:
                raise self._fail(("Synapses", post), f"unknown post population {post!r}; "
                                 f"valid: {', '.join(pops)}.{did_you_mean(post, pops)}")  # fmt: skip
            for pre, rule in rules.items():
                key = ("Synapses", post, pre)
                if pre not in self.cell_types:
                    raise self._fail(key, f"unknown pre population {pre!r}; valid: "
                                     f"{', '.join(pops)}.{did_you_mean(pre, pops)}")  # fmt: skip
                inhibitory = self.cell_types[post].synapse_type != "excitatory"
                if rule.section == "dendrite" and inhibitory:
                    raise self._fail((*key, "section"), f"{post} cells are inhibitory (RCSD "
                                     "Renshaw cells: a soma and an axon, no dendrite); valid: "
                                     "soma.")  # fmt: skip
        for pop, extent in self.geometry.axon_extent.items():
            key = (*G, "Axon Extent", pop)
            if pop not in self.cell_types:
                raise self._fail(key, f"unknown population {pop!r}; valid: {', '.join(pops)}."
                                 f"{did_you_mean(pop, pops)}")  # fmt: skip
            if not 0 < extent <= MAX_COORDINATE:
                raise self._fail(key, f"{extent!r} must be a positive length in µm (the side of "
                                 "the square an axon reaches in the plane), e.g. 500.")  # fmt: skip
        for pre, post, _ in self.projections():
            if pre not in self.geometry.axon_extent:
                raise self._fail((*G, "Axon Extent"), f"population {pre!r} projects to {post} "
                                 f"(Synapses.{post}.{pre}) but has no axon extent; add "
                                 f"{pre}: <µm>.")  # fmt: skip
        edges = sum(rule.target * sum(counts[post].values()) for _, post, rule in self.projections())
        if edges > MAX_EDGES:
            raise self._fail(("Synapses",), f"the requested degrees give ~{edges:,.0f} synapses, "
                             f"above the limit of {MAX_EDGES:,}; lower them or the cell counts.")  # fmt: skip
        self._check_packing()
        self._check_mea()
        self.check_memory()
        return self

    def _split(self, pop: str, d: Distribution) -> dict[str, int]:
        """Cells of ``pop`` per layer: given per layer, or split by layer volume."""
        key = ("Geometry", "Cell Distribution", pop)
        layers = self.layers
        if isinstance(d.layer, str):
            names = [s.strip() for s in d.layer.split(",")]
        elif d.layer is None:
            names = list(d.count) if isinstance(d.count, dict) else []
        else:
            names = [str(s).strip() for s in d.layer]
        if not names:
            raise self._fail((*key, "Layer"), f"name the layer(s), e.g. Layer: SP or Layer: SO, "
                             f"SP, SR; defined layers: {', '.join(layers)}.")  # fmt: skip
        for name in names:
            if name not in layers:
                raise self._fail((*key, "Layer"), f"unknown layer {name!r}; defined layers "
                                 f"(Definitions.Layers): {', '.join(layers)}."
                                 f"{did_you_mean(name, layers)}")  # fmt: skip
        if len(set(names)) != len(names):
            raise self._fail((*key, "Layer"), f"names a layer twice: {names}.")
        if isinstance(d.count, dict):
            extra = [k for k in d.count if k not in names]
            if extra:
                raise self._fail((*key, "Count", extra[0]), f"layer {extra[0]!r} is not in this "
                                 f"population's Layer ({', '.join(names)}).")  # fmt: skip
            for k, v in d.count.items():
                if v < 0:
                    raise self._fail((*key, "Count", k), f"{v} must be >= 0.")
            out = {n: int(d.count.get(n, 0)) for n in names}
            if sum(out.values()) < 1:
                raise self._fail((*key, "Count"), "the counts sum to 0; give at least one cell.")
            return out
        if d.count < 1:
            raise self._fail((*key, "Count"), f"{d.count} must be an integer >= 1 (a population "
                             "needs cells; remove it from Cell Types to leave it out).")  # fmt: skip
        thick = {n: layers[n][1] - layers[n][0] for n in names}
        total = sum(thick.values())
        exact = {n: d.count * t / total for n, t in thick.items()}
        out = {n: math.floor(v) for n, v in exact.items()}
        order = sorted(names, key=lambda n: (-(exact[n] - out[n]), names.index(n)))
        for n in order[: d.count - sum(out.values())]:
            out[n] += 1
        return out

    def _check_packing(self) -> None:
        s = float(self.geometry.minimum_spacing)
        if s <= 0:
            return
        (x0, y0), (x1, y1) = self.bounds
        area = (x1 - x0) * (y1 - y0)
        per_layer: dict[str, int] = {}
        for c in self._layer_counts.values():
            for layer, n in c.items():
                per_layer[layer] = per_layer.get(layer, 0) + n
        for layer, n in per_layer.items():
            z0, z1 = self.layers[layer]
            fraction = n * (math.pi / 6.0) * s**3 / (area * (z1 - z0 + s))
            if fraction > MAX_PACKING:
                capacity = int(MAX_PACKING * area * (z1 - z0 + s) / ((math.pi / 6.0) * s**3))
                raise self._fail(("Geometry", "Cell Distribution"), f"layer {layer} "
                                 f"({z0:g}–{z1:g} µm deep over {x1 - x0:g} × {y1 - y0:g} µm) "
                                 f"cannot hold {n:,} cells at least {s:g} µm apart (about "
                                 f"{capacity:,} fit); lower the Count, Geometry.Minimum Spacing, "
                                 "or widen the layer or the area.")  # fmt: skip

    def _check_mea(self) -> None:
        if self.mea is None:
            return
        try:
            mea_from_spec(self.mea, self.bounds)
        except ConfigError as e:
            raise self._fail(("mea",), str(e)) from None

    def candidate_pairs(self) -> dict[tuple[str, str], float]:
        """Expected candidate pairs per projection: pre cells whose axon square reaches the
        post cell (uniform density, edges of the area ignored: an overestimate)."""
        (x0, y0), (x1, y1) = self.bounds
        counts = self.population_counts()
        out = {}
        for pre, post, _ in self.projections():
            e = self.extent(pre)
            frac = min(1.0, e / (x1 - x0)) * min(1.0, e / (y1 - y0))
            out[(pre, post)] = counts[pre] * counts[post] * frac
        return out

    def block_size(self, pre: str, post: str) -> int:
        """Post cells per candidate-search block: about :data:`PAIRS_PER_BLOCK` pairs (a power
        of two from 16 to 4,096; from the config only, so the result never depends on it)."""
        counts = self.population_counts()
        per_post = self.candidate_pairs()[(pre, post)] / max(counts[post], 1)
        b = PAIRS_PER_BLOCK / max(per_post, 1.0)
        return int(min(4096, max(16, 2 ** math.floor(math.log2(max(b, 1.0))))))

    def memory_estimate(self) -> float:
        """Peak bytes of the build: the synapses of every projection, the largest search
        block, the kernel weights kept when a projection saturates, and the cells."""
        counts = self.population_counts()
        pairs = self.candidate_pairs()
        edges = blocks = kept = 0.0
        for pre, post, rule in self.projections():
            e = rule.target * counts[post]
            edges += e
            per_post = pairs[(pre, post)] / max(counts[post], 1)
            blocks = max(blocks, self.block_size(pre, post) * per_post)
            kept = max(kept, min(pairs[(pre, post)], 10.0 * e + 1.0))
        cells = sum(counts.values())
        return edges * BYTES_PER_EDGE + blocks * BYTES_PER_BLOCK_PAIR + kept * 4 + cells * 96

    def check_memory(self) -> None:
        from livn import limits

        estimate = self.memory_estimate()
        try:
            limits.check_memory(
                estimate,
                f"generating this system ({sum(self.population_counts().values()):,} cells, "
                f"~{sum(r.target * self.population_counts()[p] for _, p, r in self.projections()):,.0f}"
                " synapses)",
                "Generate fewer cells, or lower the degrees or axon extents",
            )
        except ConfigError as e:
            raise type(e)(f"{self._source}: {e}") from None


def mea_from_spec(spec: dict[str, Any], bounds: tuple[list[float], list[float]]):
    """The :class:`~livn.io.MEA` of a ``mea:`` block: ``{grid: {nx, ny, pitch, offset, z}}`` or
    ``{fitted: {pitch, z}}`` (fitted to ``bounds``), with optional ``input_radius`` and
    ``output_radius`` (µm)."""
    from livn.io.mea import MEA

    if not isinstance(spec, dict):
        raise ConfigError(f"must be a mapping with 'grid' or 'fitted'; got {spec!r}.")
    spec = dict(spec)
    radii = {k: spec.pop(k) for k in ("input_radius", "output_radius") if k in spec}
    if set(spec) not in ({"grid"}, {"fitted"}):
        raise ConfigError(
            f"give exactly one of 'grid' or 'fitted' (and optionally input_radius, "
            f"output_radius); got {sorted(spec)}."
        )
    try:
        if "grid" in spec:
            grid = dict(spec["grid"])
            if "offset" in grid:
                grid["offset"] = tuple(grid["offset"])
            return MEA.grid(**grid, **radii)
        return MEA.fitted(bounds[0], bounds[1], **dict(spec["fitted"]), **radii)
    except TypeError as e:
        raise ConfigError(f"invalid MEA arguments ({e}).") from None


def _format(error: ValidationError, source: str, sources: dict[KeyPath, str]) -> str:
    lines = format_errors(LayeredConfig, error, "").split("\n  ")[1:]
    out = []
    for err, line in zip(error.errors(), lines, strict=False):
        key = tuple(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        where = source_of(sources, key) if sources else source
        flow = err["type"] == "extra_forbidden" and err.get("input") is None
        if flow and "Cell Distribution" in key:  # {Layer: SO, SP, Count: 3} read SP as a key
            line += (' A layer list inside {...} must be quoted: {Layer: "SO, SP, SR", '
                     "Count: 10}.")  # fmt: skip
        out.append(line + ("" if where == source else f" (in {where})"))
    return f"Invalid 3D system config {source}:\n  " + "\n  ".join(out)


def from_dict(
    data: Any,
    source: str = "<config>",
    sources: dict[KeyPath, str] | None = None,
    name: str | None = None,
) -> LayeredConfig:
    """Validate a config mapping (already read); ``name`` is the default system name."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping with Definitions, Cell Types, Synapses and Geometry; "
            f"got {type(data).__name__}."
        )
    sources = dict(sources or {(): source})
    try:
        config = LayeredConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format(e, source, sources)) from None
    config._source, config._sources = source, sources
    if config.name is None:
        config.name = name
    if not config.name or any(c in config.name for c in "/\\\x00"):
        raise config._fail(("name",), f"{config.name!r} must be a non-empty system name "
                           "without '/'.")  # fmt: skip
    return config.check()


def load(path: str | os.PathLike) -> LayeredConfig:
    """Read, validate and check a 3D system config file (with its ``!include`` files)."""
    data, sources = load_config(path)
    root = sources[()]
    return from_dict(data, root, sources, name=Path(root).stem)

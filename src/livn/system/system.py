"""``System``: a neural architecture read from a system directory (SPEC §1).

A system directory holds ``graph.json``, ``cells.h5``, ``connections.h5`` (or one ``graph.h5``)
and optionally ``mea.json``, ``model.json``, ``params/*.json`` and ``selection/*.json``.
:class:`System` reads it lazily: metadata at construction, coordinates and connectivity on
first access. It reads the layout this livn writes, directories written by livn 2.0.0, and the
layout of earlier livn versions (docs/system-format.md).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livn import _fs
from livn.errors import SystemFormatError
from livn.system import neuroh5
from livn.system.graph import (
    MEA_FILE,
    GraphInfo,
    Layout,
    PopulationInfo,
    ProjectionInfo,
    read_json,
    read_system,
)
from livn.system.synapses import weight_name


@dataclass(frozen=True)
class Projection:
    """The synapses from population ``pre`` onto population ``post``.

    Edges are sorted by destination (post gid), then as stored. All gid arrays are global.

    Attributes:
        pre: Presynaptic population name.
        post: Postsynaptic population name.
        pre_gids: ``[E]`` int64 presynaptic gid of each edge.
        post_gids: ``[E]`` int64 postsynaptic gid of each edge.
        distances: ``[E]`` float32 distance between the two cells, µm (sets conduction delay).
        syn_ids: ``[E]`` int64 synapse id on the post cell (see ``cells.h5`` synapse attributes).
        indptr: ``[n_post + 1]`` CSR pointer over the post population (local index).
        info: The synapse definition from ``graph.json`` (type, section, mechanisms).
    """

    pre: str
    post: str
    pre_gids: np.ndarray
    post_gids: np.ndarray
    distances: np.ndarray
    syn_ids: np.ndarray
    indptr: np.ndarray
    info: ProjectionInfo = field(repr=False)

    @property
    def name(self) -> str:
        """``"PRE->POST"``, the key used in configs and :attr:`System.projections`."""
        return f"{self.pre}->{self.post}"

    @property
    def num_edges(self) -> int:
        """Number of synapses."""
        return len(self.pre_gids)

    @property
    def weight_names(self) -> list[str]:
        """The weight keys of this projection, one per synaptic mechanism."""
        return [
            weight_name(self.post, self.pre, self.info.section, m) for m in self.info.mechanisms
        ]

    def in_degree(self) -> np.ndarray:
        """``[n_post]`` number of incoming synapses per post cell."""
        return np.diff(self.indptr)


class System:
    """A system directory: populations, cell positions, connectivity and optional MEA.

    Args:
        uri: Local path or fsspec URL of a system directory.

    Raises:
        SystemFormatError: If a file is missing, corrupt, or of another format version.
    """

    def __init__(self, uri: str | os.PathLike) -> None:
        self.uri: str = _fs.normalize(uri)
        if not _fs.isdir(self.uri):
            raise SystemFormatError(
                f"{self.uri}: not a directory. Pass the path of a system directory (with "
                "graph.json, cells.h5, connections.h5) or a predefined name to livn.system.make()."
            )
        graph, layout = read_system(self.uri)
        self.graph: GraphInfo = graph
        #: How the directory stores its cells and connections (format, files, namespaces).
        self.layout: Layout = layout
        for name in dict.fromkeys((layout.cells_file, layout.connections_file)):
            if not _fs.exists(_fs.join(self.uri, name)):
                raise SystemFormatError(
                    f"{_fs.join(self.uri, name)}: missing from the system directory. "
                    "The directory is incomplete; regenerate the system."
                )

    def __repr__(self) -> str:
        return f"System(name={self.name!r}, num_neurons={self.num_neurons}, uri={self.uri!r})"

    # ------------------------------------------------------------------ metadata
    @property
    def name(self) -> str:
        """The system's name (from ``graph.json``)."""
        return self.graph.name

    @property
    def populations(self) -> list[str]:
        """Population names in gid order (population index order)."""
        return [p.name for p in self.graph.populations]

    @property
    def population_info(self) -> dict[str, PopulationInfo]:
        """Population records by name."""
        return {p.name: p for p in self.graph.populations}

    @property
    def population_ranges(self) -> dict[str, tuple[int, int]]:
        """``{population: (start gid, count)}``."""
        return {p.name: (p.start, p.count) for p in self.graph.populations}

    @property
    def num_neurons(self) -> int:
        """Total number of cells."""
        return sum(p.count for p in self.graph.populations)

    @property
    def has_mea(self) -> bool:
        """True if the directory holds an ``mea.json``."""
        return _fs.exists(_fs.join(self.uri, MEA_FILE))

    @property
    def weight_names(self) -> list[str]:
        """All weight keys, e.g. ``EXC_INH-soma-GABA_A-weight`` (SPEC §2.4)."""
        return [
            weight_name(p.post, p.pre, p.section, m)
            for p in self.graph.projections
            for m in p.mechanisms
        ]

    def gid_population(self, gids: np.ndarray) -> np.ndarray:
        """Population index of each gid (``[n]`` int)."""
        starts = np.array([p.start for p in self.graph.populations])
        return np.searchsorted(starts, np.asarray(gids), side="right") - 1

    # ------------------------------------------------------------------ cells
    @functools.cached_property
    def coordinates(self) -> CoordinateMap:
        """Per population, ``[count, 3]`` float32 cell coordinates (x, y, z) in µm.

        A dict; calling it, ``coordinates(pop)``, is livn 2.0.0's generator of the rows of
        :meth:`coordinate_array` (see :class:`CoordinateMap`).
        """
        location = _fs.join(self.uri, self.layout.cells_file)
        with neuroh5.open_h5(location) as f:
            self._check_table(f, location)
            return CoordinateMap(self, {
                p.name: neuroh5.read_coordinates(
                    f, location, p, self.layout.format_version, self.layout.coordinate_namespace
                )
                for p in self.graph.populations
            })  # fmt: skip

    def _check_table(self, f, location: str) -> None:
        table = neuroh5.read_population_table(f, location, self._population_definitions())
        expected = [(p.name, p.start, p.count) for p in self.graph.populations if p.count]
        table = [row for row in table if row[2]]
        if table != expected:
            raise SystemFormatError(
                f"{location}: populations {table} do not match graph.json {expected}. "
                "The files do not belong together; regenerate the system."
            )

    def _population_definitions(self) -> dict[int, str]:
        from livn.system.upstream import population_ids

        return population_ids(self.layout.upstream, _fs.join(self.uri, "graph.json"))

    def synapse_attributes(self, population: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{name: (pointer [count + 1], values)}`` of a population's synapse attributes
        (``syn_ids``, ``swc_types``, ``syn_locs``, ``syn_type``; legacy ``syn_id``,
        ``syn_section``), ordered by cell; empty if the file has none."""
        info = self.population_info[population]
        location = _fs.join(self.uri, self.layout.cells_file)
        first = info.start if self.layout.format_version == 1 else 0
        out = {}
        with neuroh5.open_h5(location) as f:
            for name, (cells, ptr, values) in neuroh5.read_synapse_attributes(
                f, location, info
            ).items():
                lengths = np.zeros(info.count, dtype=np.int64)
                rel = cells - first
                if np.any((rel < 0) | (rel >= info.count)):
                    raise SystemFormatError(
                        f"{location}: {population}/Synapse Attributes/{name} has cell indices "
                        f"outside the population."
                    )
                lengths[rel] = np.diff(ptr)
                pointer = np.concatenate([[0], np.cumsum(lengths)])
                order = np.argsort(rel, kind="stable")
                parts = [values[ptr[i] : ptr[i + 1]] for i in order]
                merged = np.concatenate(parts) if parts else values[:0]
                out[name] = (pointer, merged)
        return out

    @functools.cached_property
    def neuron_coordinates(self) -> np.ndarray:
        """``[num_neurons, 4]`` float64 rows ``[gid, x, y, z]`` sorted by gid (µm); read-only."""
        rows = []
        for p in self.graph.populations:
            gids = np.arange(p.start, p.start + p.count, dtype=np.float64)
            rows.append(np.column_stack([gids, self.coordinates[p.name].astype(np.float64)]))
        out = np.concatenate(rows, axis=0) if rows else np.zeros((0, 4))
        out.flags.writeable = False
        return out

    @property
    def bounding_box(self) -> np.ndarray:
        """``[[xmin, ymin, zmin], [xmax, ymax, zmax]]`` of the cell positions (µm)."""
        xyz = self.neuron_coordinates[:, 1:]
        if len(xyz) == 0:
            return np.zeros((2, 3))
        return np.stack([xyz.min(axis=0), xyz.max(axis=0)])

    # ------------------------------------------------------------------ connectivity
    @functools.cached_property
    def projections(self) -> dict[str, Projection]:
        """Projections keyed ``"PRE->POST"``, in ``graph.json`` order."""
        location = _fs.join(self.uri, self.layout.connections_file)
        pops = self.population_info
        out: dict[str, Projection] = {}
        with neuroh5.open_h5(location) as f:
            for info in self.graph.projections:
                post, pre = pops[info.post], pops[info.pre]
                post_gids, pre_gids, attrs = neuroh5.read_edges(
                    f, location, post, pre, self.layout.format_version
                )
                if len(pre_gids) != info.num_edges:
                    raise SystemFormatError(
                        f"{location}: projection {pre.name}->{post.name} has {len(pre_gids)} "
                        f"edges, graph.json says {info.num_edges}; regenerate the system."
                    )
                counts = np.bincount(post_gids - post.start, minlength=post.count)
                indptr = np.concatenate([[0], np.cumsum(counts)])
                if np.any(np.diff(post_gids) < 0):
                    raise SystemFormatError(
                        f"{location}: projection {pre.name}->{post.name} is not sorted by destination."
                    )
                distances = attrs.get("Connections", {}).get("distance")
                syn_ids = attrs.get("Synapses", {}).get("syn_id")
                out[f"{pre.name}->{post.name}"] = Projection(
                    pre=pre.name,
                    post=post.name,
                    pre_gids=pre_gids,
                    post_gids=post_gids,
                    distances=(
                        np.asarray(distances, dtype=np.float32)
                        if distances is not None
                        else self._edge_distances(pre_gids, post_gids)
                    ),
                    syn_ids=(
                        np.asarray(syn_ids, dtype=np.int64)
                        if syn_ids is not None
                        else np.zeros(len(pre_gids), dtype=np.int64)
                    ),
                    indptr=indptr,
                    info=info,
                )
        return out

    def _edge_distances(self, pre_gids: np.ndarray, post_gids: np.ndarray) -> np.ndarray:
        xyz = self.neuron_coordinates[:, 1:]
        return np.linalg.norm(xyz[pre_gids] - xyz[post_gids], axis=1).astype(np.float32)

    @property
    def num_edges(self) -> int:
        """Total number of synapses."""
        return sum(p.num_edges for p in self.graph.projections)

    def edges(self) -> dict[str, np.ndarray]:
        """All synapses as flat arrays ready for a simulator (COO, global gids).

        Returns:
            ``{"pre": [E] int64, "post": [E] int64, "distance": [E] float32 µm,
            "projection": [E] int32 index into list(self.projections)}``.
        """
        projs = list(self.projections.values())

        def cat(xs, dtype):
            return np.concatenate(xs).astype(dtype) if xs else np.zeros(0, dtype=dtype)

        return {
            "pre": cat([p.pre_gids for p in projs], np.int64),
            "post": cat([p.post_gids for p in projs], np.int64),
            "distance": cat([p.distances for p in projs], np.float32),
            "projection": cat([np.full(p.num_edges, i) for i, p in enumerate(projs)], np.int32),
        }

    def adjacency(self):
        """``[num_neurons, num_neurons]`` scipy CSR array, ``A[post, pre]`` = number of synapses."""
        import scipy.sparse as sp

        e = self.edges()
        n = self.num_neurons
        a = sp.coo_array(
            (np.ones(len(e["pre"]), dtype=np.int32), (e["post"], e["pre"])), shape=(n, n)
        )
        return a.tocsr()

    # ------------------------------------------------------------------ checking
    def check(self) -> System:
        """Read every file of the directory and check it, so that a job fails before it starts.

        Opens ``cells.h5`` and ``connections.h5`` and reads every dataset in them (a truncated
        or corrupt HDF5 file fails here, not in the middle of a job), checks the populations
        against ``graph.json``, that coordinates and synapse distances are finite, every
        projection's edge count and ordering, and parses ``mea.json`` when present.

        Returns:
            ``self``.

        Raises:
            SystemFormatError: Naming the file and the problem.
        """
        for name in dict.fromkeys((self.layout.cells_file, self.layout.connections_file)):
            location = _fs.join(self.uri, name)
            with neuroh5.open_h5(location) as f:
                neuroh5.read_all(f, location)
        coords = self.neuron_coordinates
        if not np.all(np.isfinite(coords)):
            raise SystemFormatError(
                f"{_fs.join(self.uri, self.layout.cells_file)}: cell coordinates contain NaN or infinite "
                "values; regenerate the system."
            )
        for key, p in self.projections.items():
            if len(p.pre_gids) and not np.all(np.isfinite(p.distances)):
                raise SystemFormatError(
                    f"{_fs.join(self.uri, self.layout.connections_file)}: projection {key} has non-finite "
                    "synapse distances; regenerate the system."
                )
        if self.has_mea:
            from livn.io.mea import MEA

            MEA.from_directory(self.uri)
        _ = self.model_config, self.selections, self.model_params()
        return self

    # ------------------------------------------------------------------ optional files
    def _optional_json(self, name: str) -> dict[str, Any] | None:
        location = _fs.join(self.uri, name)
        return read_json(location) if _fs.exists(location) else None

    @functools.cached_property
    def model_config(self) -> dict[str, Any] | None:
        """``model.json`` of a 2.0.0 directory (``{"cls": ..., "kwargs": {...}}``), or None.

        Recorded for reference; an :class:`~livn.env.Env` chooses its model by argument.
        """
        data = self._optional_json("model.json")
        if data is not None and not isinstance(data.get("cls"), str):
            raise SystemFormatError(
                f"{_fs.join(self.uri, 'model.json')}: expected {{'cls': 'module.Class', "
                f"'kwargs': {{...}}}}, got keys {sorted(data)}."
            )
        return data

    def _list_json(self, folder: str) -> list[str]:
        location = _fs.join(self.uri, folder)
        if not _fs.isdir(location):
            return []
        if _fs.is_url(location):
            fs, path = _fs.url_fs(location)
            names = [str(p).rsplit("/", 1)[-1] for p in fs.ls(path, detail=False)]
        else:
            names = os.listdir(location)
        return sorted(
            n[: -len(".json")] for n in names if n.endswith(".json") and not n.startswith(".")
        )

    @functools.cached_property
    def selections(self) -> dict[str, np.ndarray]:
        """``{name: sorted global gids}`` of ``selection/<name>.json`` (2.0.0's cell subsets,
        ``{"gids": {pop: [gid, ...]}, "meta": {"graph": <architecture uuid>}}``)."""
        out = {}
        for name in self._list_json("selection"):
            location = _fs.join(self.uri, f"selection/{name}.json")
            data = read_json(location)
            gids = data.get("gids")
            ranges = self.population_ranges
            if not isinstance(gids, dict) or not set(gids) <= set(ranges):
                raise SystemFormatError(
                    f"{location}: expected {{'gids': {{population: [gid, ...]}}}} with populations "
                    f"among {', '.join(ranges)}; got "
                    f"{sorted(gids) if isinstance(gids, dict) else gids!r}."
                )
            parts = []
            for pop, values in gids.items():
                try:
                    arr = np.asarray(values, dtype=np.int64).reshape(-1)
                except (TypeError, ValueError):
                    raise SystemFormatError(
                        f"{location}: gids of population {pop} must be a list of integers; "
                        f"got {values!r}."
                    ) from None
                start, count = ranges[pop]
                bad = arr[(arr < start) | (arr >= start + count)]
                if len(bad):
                    raise SystemFormatError(
                        f"{location}: gids {bad[:5].tolist()} are not in population {pop} "
                        f"[{start}, {start + count})."
                    )
                parts.append(arr)
            out[name] = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        return out

    def model_params(self, model: str = "RCSD") -> dict[str, dict[str, float]] | None:
        """Tuned default ``{"weights": {...}, "noise": {...}}`` stored with the system.

        From ``params/<model>.json`` (this livn), else from 2.0.0's ``params/default.json``
        (its ``ReducedCalciumSomaDendrite`` entry, keys translated: ``dend`` → ``dendrite``,
        ``noise-`` prefix dropped); None if the system has neither.
        """
        ours = self._optional_json(f"params/{model}.json")
        if ours is not None:
            return ours
        if model != "RCSD":
            return None
        from livn.system import upstream

        theirs = self._optional_json(f"params/{upstream.DEFAULT_PARAMS}.json")
        if theirs is None or upstream.MODEL_CLASS not in theirs:
            return None
        location = _fs.join(self.uri, f"params/{upstream.DEFAULT_PARAMS}.json")
        return upstream.params_from_upstream(theirs, location)

    # ------------------------------------------------------------------ summary
    def summary(self) -> SystemSummary:
        """A human-readable description: populations, projections, extent and MEA.

        The text is a ``str``; as in livn 2.0.0 it also answers ``summary()["num_neurons"]``
        and ``dict(summary())`` with :meth:`summary_dict` (see :class:`SystemSummary`).
        """
        return SystemSummary(self._summary_text(), self.summary_dict())

    def _summary_text(self) -> str:
        lines = [f"System {self.name!r} at {self.uri}", f"  neurons: {self.num_neurons}"]
        for p in self.graph.populations:
            lines.append(
                f"    {p.name:<8} gids [{p.start}, {p.start + p.count})  {p.count:>7} cells  "
                f"{p.synapse_type}"
            )
        lines.append(f"  synapses: {self.num_edges}")
        pops = self.population_info
        for pr in self.graph.projections:
            k = pr.num_edges / max(pops[pr.post].count, 1)
            mechs = "+".join(pr.mechanisms)
            lines.append(
                f"    {pr.pre + '->' + pr.post:<12} {pr.num_edges:>9} edges  mean in-degree "
                f"{k:7.2f}  {mechs} on {pr.section}"
            )
        lo, hi = self.bounding_box
        lines.append(
            "  bounding box (µm): "
            f"x [{lo[0]:.1f}, {hi[0]:.1f}]  y [{lo[1]:.1f}, {hi[1]:.1f}]  z [{lo[2]:.1f}, {hi[2]:.1f}]"
        )
        if self.graph.area:
            lines.append(f"  area: {self.graph.area}")
        if self.has_mea:
            from livn.io.mea import MEA

            mea = MEA.from_directory(self.uri)
            lines.append(f"  mea: {mea.describe()}")
        else:
            generator = "generate" if self.graph.kind == "layered-3d" else "generate_2d"
            lines.append(f"  mea: none (create one with livn systems {generator} ... --mea)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Key facts as plain data (for JSON output)."""
        return {
            "name": self.name,
            "uri": self.uri,
            "num_neurons": self.num_neurons,
            "populations": self.population_ranges,
            "projections": {f"{p.pre}->{p.post}": p.num_edges for p in self.graph.projections},
            "bounding_box": self.bounding_box.tolist(),
            "has_mea": self.has_mea,
        }

    # ------------------------------------------------------------------ livn 2.0.0 names
    # Compatibility with livn 2.0.0 scripts (UPSTREAM-API.md §4, docs/migrating.md): thin
    # views of the accessors above; nothing here is read or computed another way.
    def summary_dict(self) -> dict[str, Any]:
        """livn 2.0.0's ``summary()`` as a dict: ``num_neurons``, ``num_projections`` (number of
        ``pre -> post`` projections), ``population_counts`` (``{pop: count}``), and ours:
        ``num_synapses`` (edges), ``name``."""
        return {
            "name": self.name,
            "num_neurons": self.num_neurons,
            "num_projections": len(self.graph.projections),
            "num_synapses": self.num_edges,
            "population_counts": {p.name: p.count for p in self.graph.populations},
        }

    def _population(self, population: Any) -> PopulationInfo:
        info = self.population_info
        if not isinstance(population, str) or population not in info:
            from livn.errors import ConfigError, did_you_mean

            raise ConfigError(
                f"unknown population {population!r}. Valid: {', '.join(info) or 'none'}."
                f"{did_you_mean(str(population), info)}"
            )
        return info[population]

    def coordinate_array(self, population: str) -> np.ndarray:
        """``[count, 4]`` float64 rows ``[gid, x, y, z]`` (µm) of one population, by gid
        (livn 2.0.0's name; the population's rows of :attr:`neuron_coordinates`)."""
        p = self._population(population)
        return np.array(self.neuron_coordinates[p.start : p.start + p.count])

    @property
    def gids(self) -> np.ndarray:
        """``[num_neurons]`` int64 all gids, ascending (livn 2.0.0's name)."""
        return np.arange(self.num_neurons, dtype=np.int64)

    @property
    def population_count(self) -> int:
        """Total number of cells (livn 2.0.0's name for :attr:`num_neurons`)."""
        return self.num_neurons

    @property
    def cells_meta_data(self) -> dict[str, Any]:
        """livn 2.0.0's cell metadata: ``population_names`` (gid order), ``population_ranges``
        (``{pop: (start, count)}``), ``cell_count`` and ``synapse_types`` (``{pop: type}``)."""
        return {
            "population_names": self.populations,
            "population_ranges": self.population_ranges,
            "cell_count": self.num_neurons,
            "synapse_types": {p.name: p.synapse_type for p in self.graph.populations},
        }

    @property
    def center_point(self) -> np.ndarray:
        """``[3]`` livn 2.0.0's ``center_point``: ``(max − min) / 2`` of :attr:`bounding_box`
        (µm). As in 2.0.0 this is half the extent, the centre only for a box that starts at
        the origin; ours is the box of the cell positions (2.0.0: ``graph.json`` layer
        extents)."""
        lo, hi = self.bounding_box
        return (hi - lo) / 2.0

    @property
    def connections_config(self) -> dict[str, Any]:
        """livn 2.0.0's ``{"synapses": {post: {pre: {"type", "transmitter", "sections",
        "mechanisms": {"default": {MECH: {e, g_unit, tau_rise, tau_decay, ...}}}}}}}`` from
        ``graph.json``'s projections (one target section each here)."""
        out: dict[str, dict[str, Any]] = {}
        for pr in self.graph.projections:
            out.setdefault(pr.post, {})[pr.pre] = {
                "type": pr.type,
                "transmitter": pr.transmitter,
                "sections": [pr.section],
                "mechanisms": {"default": {m: v.model_dump() for m, v in pr.mechanisms.items()}},
            }
        return {"synapses": out}

    def synapse_projections(self) -> list[tuple[str, str, str, str, str]]:
        """Sorted ``(post, pre, section, mechanism, type)`` of every synaptic mechanism of
        every projection (livn 2.0.0's name; one entry per weight of :attr:`weight_names`)."""
        return sorted((pr.post, pr.pre, pr.section, m, pr.type)
                      for pr in self.graph.projections for m in pr.mechanisms)  # fmt: skip

    def _projection(self, pre: Any, post: Any) -> Projection:
        key = f"{pre}->{post}"
        if key not in self.projections:
            from livn.errors import ConfigError, did_you_mean

            valid = list(self.projections)
            raise ConfigError(
                f"no projection {key}: choose pre and post among the projections "
                f"{', '.join(valid) or '(none: this system has no synapses)'}."
                f"{did_you_mean(key, valid)}"
            )
        return self.projections[key]

    def projection_array(self, pre: str, post: str) -> list[list[Any]]:
        """livn 2.0.0's ``[[post_gid, (pre_gids uint32, {"Synapses": {"syn_id": [k]},
        "Connections": {"distance": [k]}})], ...]``: per post cell with incoming synapses from
        ``pre``, in gid order, the edges of :attr:`projections` ``[f"{pre}->{post}"]``."""
        p = self._projection(pre, post)
        out = []
        for i in np.flatnonzero(np.diff(p.indptr)):
            a, b = int(p.indptr[i]), int(p.indptr[i + 1])
            attrs = {"Synapses": {"syn_id": p.syn_ids[a:b].astype(np.uint32)},
                     "Connections": {"distance": p.distances[a:b].astype(np.float32)}}  # fmt: skip
            out.append([int(p.post_gids[a]), (p.pre_gids[a:b].astype(np.uint32), attrs)])
        return out

    def connectivity_matrix(self, weights: dict[str, float] | None = None, seed: int = 123,
                            gids: Any = None) -> np.ndarray:  # fmt: skip
        """livn 2.0.0's random signed connectivity matrix, float32 ``[n, n]`` indexed
        ``[pre, post]``.

        ``w[pre, post] = ±U(0, 1) · weights.get("{post}_{pre}", 1)`` for every connected pair
        (one uniform draw per pair, several synapses count once), negative when ``pre`` is
        inhibitory, 0 for unconnected pairs.

        Args:
            weights: Scale per population pair, keys ``"{post}_{pre}"`` (default 1; other
                keys are refused, where 2.0.0 ignored them).
            seed: Seed of the uniform draws (``numpy.random.default_rng``; pairs drawn in
                ``(pre, post)`` order).
            gids: Restrict rows and columns to these distinct gids, in the given order (the
                draws stay those of the whole matrix); default all.

        Raises:
            ConfigError: Bad weights, seed or gids (naming the value).
        """
        from livn import limits
        from livn.errors import ConfigError, did_you_mean

        seed = limits.seed(seed, "connectivity_matrix seed")
        if not isinstance(weights, dict | None):
            raise ConfigError(
                f"connectivity_matrix weights must be a dict {{'POST_PRE': scale}}; got "
                f"{type(weights).__name__}."
            )
        pops = self.graph.populations
        valid = [f"{post.name}_{pre.name}" for post in pops for pre in pops]
        scale = {}
        for key, value in (weights or {}).items():
            if key not in valid:
                raise ConfigError(
                    f"connectivity_matrix weight {key!r}: keys are 'POST_PRE' population pairs. "
                    f"Valid: {', '.join(valid)}.{did_you_mean(str(key), valid)}"
                )
            value = limits.number(value, f"connectivity_matrix weight {key!r}")
            scale[key] = limits.float32(value, f"connectivity_matrix weight {key!r}")
        n = self.num_neurons
        chosen = np.arange(n) if gids is None else self._matrix_gids(gids)
        limits.check_memory(4.0 * len(chosen) ** 2, f"a {len(chosen):,}² connectivity matrix",
                            "Pass gids= to take a part of it")  # fmt: skip
        e = self.edges()
        pairs = np.unique(np.stack([e["pre"], e["post"]], axis=1).reshape(-1, 2), axis=0)
        draws = np.random.default_rng(seed).uniform(0.0, 1.0, len(pairs))
        pre_pop, post_pop = self.gid_population(pairs[:, 0]), self.gid_population(pairs[:, 1])
        sign = np.array([-1.0 if p.synapse_type == "inhibitory" else 1.0 for p in pops])
        factor = np.array([[scale.get(f"{post.name}_{pre.name}", 1.0) for post in pops]
                           for pre in pops]).reshape(len(pops), len(pops))  # fmt: skip
        values = (sign[pre_pop] * draws * factor[pre_pop, post_pop]).astype(np.float32)
        index = np.full(n, -1, np.int64)
        index[chosen] = np.arange(len(chosen))
        keep = (index[pairs[:, 0]] >= 0) & (index[pairs[:, 1]] >= 0)
        out = np.zeros((len(chosen), len(chosen)), np.float32)
        out[index[pairs[keep, 0]], index[pairs[keep, 1]]] = values[keep]
        return out

    def _matrix_gids(self, gids: Any) -> np.ndarray:
        """``gids`` of :meth:`connectivity_matrix` as distinct int64 gids of this system."""
        from livn.errors import ConfigError

        n = self.num_neurons
        try:
            if isinstance(gids, str | bytes | dict):
                raise TypeError
            arr = np.asarray(gids)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.ndim != 1 or arr.dtype == bool or (
                arr.size and not np.issubdtype(arr.dtype, np.integer)):  # fmt: skip
            raise ConfigError(
                f"connectivity_matrix gids must be a 1-D list of integer gids; got {gids!r}."
            )
        arr = arr.astype(np.int64)
        outside = arr[(arr < 0) | (arr >= n)]
        if len(outside):
            raise ConfigError(
                f"connectivity_matrix gids {outside[:5].tolist()} are not cells of this system "
                f"(0 … {n - 1})."
            )
        if len(np.unique(arr)) != len(arr):
            raise ConfigError("connectivity_matrix gids must be distinct; drop the repeated gids.")
        return arr

    def default_io(self) -> Any:
        """The IO device of this system: its ``mea.json``, else the default
        :class:`~livn.io.MEA` (what :class:`~livn.env.Env` uses when given no ``io``)."""
        from livn.io.mea import MEA

        return MEA.from_directory(self.uri) if self.has_mea else MEA()

    def default_model(self) -> Any:
        """The default cell model, :class:`~livn.models.rcsd.ReducedCalciumSomaDendrite`
        (what :class:`~livn.env.Env` uses when given no ``model``; a 2.0.0 ``model.json`` is
        recorded in :attr:`model_config`, not instantiated)."""
        from livn.models.rcsd import ReducedCalciumSomaDendrite

        return ReducedCalciumSomaDendrite()


class CoordinateMap(dict):
    """``{population: [count, 3] float32 xyz}`` (µm) that is also livn 2.0.0's
    ``system.coordinates(population)``: calling it yields the population's rows ``[gid, x,
    y, z]`` (float64) of :meth:`System.coordinate_array`, one at a time, in gid order."""

    def __init__(self, system: System, data: dict[str, np.ndarray]) -> None:
        super().__init__(data)
        self._system = system

    def __call__(self, population: str):
        yield from self._system.coordinate_array(population)


class SystemSummary(str):
    """:meth:`System.summary`'s text, which also reads as livn 2.0.0's summary dict.

    It is a ``str`` (print it, search it: ``"EXC->INH" in s``); ``s["num_neurons"]``,
    ``s.get``, ``s.keys()``, ``s.items()``, ``s.values()`` and ``dict(s)`` read
    :meth:`System.summary_dict`. Integer indices and slices index the text as usual.
    """

    def __new__(cls, text: str, facts: dict[str, Any]) -> SystemSummary:
        obj = super().__new__(cls, text)
        obj._facts = dict(facts)
        return obj

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return self._facts[key]
            except KeyError:
                raise KeyError(f"{key!r}: the summary has {', '.join(self._facts)}") from None
        return str.__getitem__(self, key)

    def __reduce__(self):
        return (SystemSummary, (str(self), self._facts))

    def get(self, key: str, default: Any = None) -> Any:
        return self._facts.get(key, default)

    def keys(self):
        return self._facts.keys()

    def values(self):
        return self._facts.values()

    def items(self):
        return self._facts.items()

    def as_dict(self) -> dict[str, Any]:
        """A copy of the facts (:meth:`System.summary_dict`)."""
        return dict(self._facts)

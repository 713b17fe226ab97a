"""Build a 2D culture system directory from a :class:`CultureConfig`."""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from livn.errors import ConfigError
from livn.system import neuroh5
from livn.system.culture.config import CultureConfig
from livn.system.culture.connectivity import connect
from livn.system.culture.placement import area_bounds, place, resolve_area
from livn.system.graph import (
    CELLS_FILE,
    CONNECTIONS_FILE,
    FORMAT_VERSION,
    GraphInfo,
    PopulationInfo,
    ProjectionInfo,
    write_graph,
)
from livn.system.synapses import check_transmitter, projection_synapse
from livn.system.writing import publish_system

#: SWC type of a synapse's section (``swc_types``: 1 soma, 2 axon, 4 dendrite).
SWC_CODES = {"soma": 1, "axon": 2, "dendrite": 4}
TYPE_CODES = {"excitatory": 0, "inhibitory": 1}


def rng_stream(seed: int, *stream: int | str) -> np.random.Generator:
    """An independent, reproducible stream for one part of the build (placement, projection)."""
    words = [int(seed)] + [s if isinstance(s, int) else zlib.crc32(s.encode()) for s in stream]
    return np.random.default_rng(np.random.SeedSequence(words))


_rng = rng_stream


def build_culture(config: CultureConfig, directory: str | os.PathLike, name: str) -> None:
    """Generate the culture and write graph.json, cells.h5, connections.h5 into ``directory``.

    The result depends only on ``config`` (and its ``seed``): every population and every
    projection draws from its own random stream.
    """
    directory = os.fspath(directory)
    area_name, area_fn = resolve_area(config.area)
    counts = config.population_counts()

    populations: list[PopulationInfo] = []
    start = 0
    for index, (pop, pc) in enumerate(config.populations.items()):
        populations.append(
            PopulationInfo(
                name=pop,
                index=index,
                start=start,
                count=counts[pop],
                synapse_type=pc.synapse_type,
                transmitter=check_transmitter(pc.transmitter, pc.synapse_type),
            )
        )
        start += counts[pop]

    coords: dict[str, np.ndarray] = {}
    z0, z1 = config.z_range
    for p in populations:
        rng = _rng(config.seed, "placement", p.name)
        xy = place(area_fn, p.count, rng, config.area_kwargs, f"population {p.name}")
        z = rng.uniform(z0, z1, size=p.count) if z1 > z0 else np.full(p.count, z0)
        coords[p.name] = np.column_stack([xy, z]).astype(np.float32)

    conn = config.connectivity
    blocks: dict[tuple[str, str], neuroh5.EdgeBlock] = {}
    infos: list[ProjectionInfo] = []
    incoming: dict[str, list[tuple[np.ndarray, dict[str, Any]]]] = {p.name: [] for p in populations}
    for pre in populations:
        for post in populations:
            k = config.degree(pre.name, post.name)
            if k <= 0 or pre.count == 0 or post.count == 0:
                continue
            label = f"{pre.name}->{post.name}"
            post_idx, pre_idx = connect(
                coords[post.name][:, :2].astype(np.float64),
                coords[pre.name][:, :2].astype(np.float64),
                mean_degree=k,
                sigma=conn.sigma,
                cutoff=conn.cutoff,
                kind=conn.kernel,
                same_population=pre.name == post.name,
                allow_self_connections=conn.allow_self_connections,
                rng=_rng(config.seed, "projection", label),
                label=label,
            )
            syn = projection_synapse(pre.synapse_type, post.synapse_type, pre.transmitter)
            dist = np.linalg.norm(
                coords[post.name][post_idx].astype(np.float64)
                - coords[pre.name][pre_idx].astype(np.float64),
                axis=1,
            ).astype(np.float32)
            incoming[post.name].append((post_idx, syn))
            indptr = np.concatenate([[0], np.cumsum(np.bincount(post_idx, minlength=post.count))])
            blocks[(post.name, pre.name)] = neuroh5.EdgeBlock(
                indptr=indptr,
                sources=pre_idx + pre.start,
                attributes={"Synapses": {"syn_id": None}, "Connections": {"distance": dist}},
            )
            infos.append(
                ProjectionInfo(pre=pre.name, post=post.name, num_edges=len(pre_idx), **syn)
            )

    synapse_attributes = assign_synapse_ids(populations, incoming, blocks)

    area_record: dict[str, Any] = {"type": area_name, **config.area_kwargs}
    bounds = area_bounds(area_name, config.area_kwargs)
    if bounds is None:
        xy = np.concatenate([c[:, :2] for c in coords.values()]) if coords else np.zeros((0, 2))
        bounds = (xy.min(axis=0).tolist(), xy.max(axis=0).tolist()) if len(xy) else ([0, 0], [0, 0])
    area_record["bounds"] = [list(map(float, bounds[0])), list(map(float, bounds[1]))]

    neuroh5.write_cells(
        os.path.join(directory, CELLS_FILE), populations, coords, synapse_attributes
    )
    neuroh5.write_connections(os.path.join(directory, CONNECTIONS_FILE), populations, blocks)
    graph = GraphInfo(
        format_version=FORMAT_VERSION,
        name=name,
        kind="culture-2d",
        populations=populations,
        projections=infos,
        area=area_record,
        generator=config.generator_record(),
    )
    write_graph(directory, graph)


def assign_synapse_ids(populations, incoming, blocks):
    """Number each post cell's synapses 0..n-1 across its projections; fill per-edge syn_id.

    Returns the per-population synapse attributes for ``cells.h5``: ``syn_ids``, ``swc_types``
    (the section), ``syn_locs`` (0.5, the middle of the section) and ``syn_type`` (0
    excitatory, 1 inhibitory).
    """
    out = {}
    pre_of = {}
    for post, pre in blocks:
        pre_of.setdefault(post, []).append(pre)
    for p in populations:
        base = np.zeros(p.count, dtype=np.int64)
        placed = []
        for (post_idx, syn), pre in zip(incoming[p.name], pre_of.get(p.name, []), strict=True):
            counts = np.bincount(post_idx, minlength=p.count)
            first = np.cumsum(counts) - counts
            syn_id = base[post_idx] + (np.arange(len(post_idx)) - first[post_idx])
            base += counts
            blocks[(p.name, pre)].attributes["Synapses"]["syn_id"] = syn_id.astype(np.uint32)
            placed.append((post_idx, syn_id, syn))
        pointer = np.concatenate([[0], np.cumsum(base)])
        total = int(pointer[-1])
        syn_type = np.zeros(total, dtype=np.uint8)
        swc_types = np.ones(total, dtype=np.uint8)
        for post_idx, syn_id, syn in placed:
            pos = pointer[post_idx] + syn_id
            syn_type[pos] = TYPE_CODES[syn["type"]]
            swc_types[pos] = SWC_CODES.get(syn["section"], 1)
        syn_ids = np.arange(total, dtype=np.int64) - np.repeat(pointer[:-1], base)
        out[p.name] = {
            "syn_ids": (pointer, syn_ids.astype(np.uint32)),
            "swc_types": (pointer, swc_types),
            "syn_locs": (pointer, np.full(total, 0.5, dtype=np.float32)),
            "syn_type": (pointer, syn_type),
        }
    return out


def write_culture(
    config: CultureConfig,
    output_directory: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> str:
    """Build the culture into ``output_directory`` atomically and return its absolute path.

    The system is built in a temporary sibling directory and renamed into place, so the
    target never holds a partial system. If the target already holds a system generated from
    the same configuration, nothing is done. A different system there is an error unless
    ``overwrite=True``; a non-empty directory that is not a livn system is never touched.
    """
    target_arg = output_directory if output_directory is not None else config.output_directory
    if target_arg is None:
        raise ConfigError("output_directory is required: where to write the system directory.")
    target = Path(target_arg).expanduser().resolve()
    name = config.name or target.name
    return publish_system(
        target, config.generator_record(), lambda tmp: build_culture(config, tmp, name), overwrite
    )

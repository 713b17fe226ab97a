"""Build a 3D layered system directory from a :class:`LayeredConfig`.

The output is the system directory of SPEC §1 (``graph.json`` of kind ``layered-3d``,
``cells.h5``, ``connections.h5``; ``mea.json`` and ``params/RCSD.json`` when the config has
``mea`` and ``defaults`` blocks), written atomically like a 2D culture.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from livn.system import neuroh5
from livn.system.culture.build import assign_synapse_ids, rng_stream
from livn.system.graph import (
    CELLS_FILE,
    CONNECTIONS_FILE,
    FORMAT_VERSION,
    GraphInfo,
    PopulationInfo,
    ProjectionInfo,
    write_graph,
)
from livn.system.layered.config import LayeredConfig, mea_from_spec
from livn.system.layered.connectivity import connect
from livn.system.layered.placement import place
from livn.system.synapses import projection_synapse
from livn.system.writing import publish_system

KIND = "layered-3d"


def build_layered(config: LayeredConfig, directory: str | os.PathLike) -> None:
    """Generate the system and write its files into ``directory`` (which must exist).

    Placement, and every projection, draw from their own streams derived from ``seed``.
    """
    directory = os.fspath(directory)
    counts = config.population_counts()
    populations: list[PopulationInfo] = []
    start = 0
    for index, pop in enumerate(config.populations):
        ct = config.cell_types[pop]
        populations.append(
            PopulationInfo(
                name=pop,
                index=index,
                start=start,
                count=counts[pop],
                synapse_type=ct.synapse_type,
                transmitter=ct.transmitter,
            )
        )
        start += counts[pop]
    info = {p.name: p for p in populations}

    coords, _ = place(config)

    blocks: dict[tuple[str, str], neuroh5.EdgeBlock] = {}
    infos: list[ProjectionInfo] = []
    incoming: dict[str, list[tuple[np.ndarray, dict[str, Any]]]] = {p.name: [] for p in populations}
    for pre_name, post_name, rule in config.projections():
        pre, post = info[pre_name], info[post_name]
        label = f"{pre_name}->{post_name}"
        post_idx, pre_idx = connect(
            coords[post_name][:, :2].astype(np.float64),
            coords[pre_name][:, :2].astype(np.float64),
            extent=config.extent(pre_name),
            target=rule.target,
            contacts=rule.contacts is not None,
            same_population=pre_name == post_name,
            block_size=config.block_size(pre_name, post_name),
            rng=rng_stream(config.seed, "projection", label),
            label=label,
        )
        syn = projection_synapse(pre.synapse_type, post.synapse_type, pre.transmitter, rule.section)
        dist = np.linalg.norm(
            coords[post_name][post_idx].astype(np.float64)
            - coords[pre_name][pre_idx].astype(np.float64),
            axis=1,
        ).astype(np.float32)
        incoming[post_name].append((post_idx, syn))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(post_idx, minlength=post.count))])
        blocks[(post_name, pre_name)] = neuroh5.EdgeBlock(
            indptr=indptr,
            sources=pre_idx + pre.start,
            attributes={"Synapses": {"syn_id": None}, "Connections": {"distance": dist}},
        )
        infos.append(ProjectionInfo(pre=pre_name, post=post_name, num_edges=len(pre_idx), **syn))
        del post_idx, pre_idx, dist

    synapse_attributes = assign_synapse_ids(populations, incoming, blocks)
    lower, upper = config.bounds
    area = {
        "type": "layered",
        "x_range": [lower[0], upper[0]],
        "y_range": [lower[1], upper[1]],
        "layers": {k: list(v) for k, v in config.layers.items()},
        "cells_per_layer": config.layer_counts(),
        "bounds": [lower, upper],
    }
    neuroh5.write_cells(os.path.join(directory, CELLS_FILE), populations, coords, synapse_attributes)
    neuroh5.write_connections(os.path.join(directory, CONNECTIONS_FILE), populations, blocks)
    graph = GraphInfo(
        format_version=FORMAT_VERSION,
        name=str(config.name),
        kind=KIND,
        populations=populations,
        projections=infos,
        area=area,
        generator=config.generator_record(),
    )
    write_graph(directory, graph)
    if config.mea is not None:
        mea_from_spec(config.mea, config.bounds).save(directory)
    if config.defaults:
        from livn.system.predefined import write_model_defaults

        write_model_defaults(config.defaults, Path(directory))


def write_layered(
    config: LayeredConfig, output_directory: str | os.PathLike, overwrite: bool = False
) -> str:
    """Build the system into ``output_directory`` atomically; returns its absolute path.

    Re-running with the same config is a no-op; a different system there is an error unless
    ``overwrite=True``; a non-empty directory that is not a system is never touched.
    """
    target = Path(output_directory).expanduser().resolve()
    return publish_system(
        target, config.generator_record(), lambda tmp: build_layered(config, tmp), overwrite
    )

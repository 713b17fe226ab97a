"""An independent writer of the livn 2.0.0 system layout, for the tests.

Written from the format facts alone (UPSTREAM-API.md, "On-disk format read by 2.0.0"), with
plain h5py and json, sharing no code with ``livn.system``: it is the reference our reader is
checked against. It writes a small 2D culture:

- ``graph.json``: ``version`` 1 and the elements ``architecture``, ``distances``,
  ``synapse_forest`` (empty), ``synapses`` and ``connections`` (a name -> element map), each
  with a ``uuid`` and a ``config``;
- ``cells.h5``: ``/H5Types/Populations`` rows ``(Start, Count, Population)`` ordered like the
  alphabetical ``/Populations`` groups; per population ``Generated Coordinates`` and
  ``Synapse Attributes`` in the ``Cell Index`` (relative) / ``Attribute Pointer`` /
  ``Attribute Value`` layout;
- ``connections.h5``: per projection ``Edges`` with destination blocks (relative indices, the
  last block pointer one past the destinations for the sentinel) and per-edge
  ``Connections/distance`` and ``Synapses/syn_id`` in the projection's group;
- optionally everything in one ``graph.h5``, and ``mea.json`` with MEA keyword arguments only.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

SWC = {"soma": 1, "axon": 2, "dend": 4}

AMPA = {"e": 0.0, "g_unit": 5e-4, "tau_rise": 0.5, "tau_decay": 3.0, "weight": 1.0}
NMDA = {"e": 0.0, "g_unit": 5e-4, "tau_rise": 0.5, "tau_decay": 80.0, "weight": 1.0}
GABA_A = {"e": -60.0, "g_unit": 1e-3, "tau_rise": 0.3, "tau_decay": 6.0, "weight": 1.0}


def tiny_culture(seed: int = 0, n_exc: int = 8, n_inh: int = 4, p: float = 0.4) -> dict:
    """A random culture: populations (gid order), coordinates, and edges per projection
    (global gids), with the synapse definitions 2.0.0 expects."""
    rng = np.random.default_rng(seed)
    pops = [("EXC", n_exc, "excitatory"), ("INH", n_inh, "inhibitory")]
    coords = {
        name: np.column_stack(
            [rng.uniform(0, 2000, n), rng.uniform(0, 2000, n), rng.uniform(0, 10, n)]
        ).astype(np.float32)
        for name, n, _ in pops
    }
    start = {"EXC": 0, "INH": n_exc}
    count = {"EXC": n_exc, "INH": n_inh}
    projections = []
    for pre, _, pre_type in pops:
        for post, _, _ in pops:
            pairs = [
                (i, j)
                for i in range(count[post])
                for j in range(count[pre])
                if (pre != post or i != j) and rng.random() < p
            ]
            post_gid = np.array([start[post] + i for i, _ in pairs], dtype=np.int64)
            pre_gid = np.array([start[pre] + j for _, j in pairs], dtype=np.int64)
            if pre_type == "excitatory":
                section = "dend" if post == "EXC" else "soma"
                mechanisms = {"AMPA": dict(AMPA), "NMDA": dict(NMDA)}
            else:
                section, mechanisms = "soma", {"GABA_A": dict(GABA_A)}
            projections.append(
                {
                    "pre": pre,
                    "post": post,
                    "post_gids": post_gid,
                    "pre_gids": pre_gid,
                    "type": pre_type,
                    "section": section,
                    "mechanisms": mechanisms,
                }
            )
    return {"populations": pops, "coordinates": coords, "projections": projections}


def _attribute(group, cells: np.ndarray, pointer: np.ndarray, values: np.ndarray) -> None:
    group.create_dataset("Cell Index", data=np.asarray(cells, dtype=np.uint32))
    group.create_dataset("Attribute Pointer", data=np.asarray(pointer, dtype=np.uint64))
    group.create_dataset("Attribute Value", data=values)


def _population_table(f, pops, starts) -> None:
    dtype = np.dtype([("Start", "<u8"), ("Count", "<u4"), ("Population", "<u2")])
    index = {name: i for i, (name, _, _) in enumerate(pops)}
    rows = [(starts[name], n, index[name]) for name, n, _ in sorted(pops)]
    f.create_group("H5Types").create_dataset("Populations", data=np.array(rows, dtype=dtype))


def write_upstream(
    directory,
    culture: dict,
    single_file: bool = False,
    blocks: int = 1,
    mea: dict | None = None,
    params: dict | None = None,
) -> Path:
    """Write ``culture`` (from :func:`tiny_culture`) in the 2.0.0 layout into ``directory``.

    Args:
        single_file: one ``graph.h5`` instead of ``cells.h5`` + ``connections.h5``.
        blocks: destination blocks per projection (the post cells split evenly).
        mea: ``mea.json`` content (MEA keyword arguments).
        params: ``params/default.json`` content.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    pops = culture["populations"]
    starts, s = {}, 0
    for name, n, _ in pops:
        starts[name] = s
        s += n
    counts = {name: n for name, n, _ in pops}

    # synapses of each post cell, numbered over its incoming projections in order
    per_cell: dict[str, list[list[int]]] = {name: [[] for _ in range(n)] for name, n, _ in pops}
    syn_ids = []
    for proj in culture["projections"]:
        ids = np.zeros(len(proj["post_gids"]), dtype=np.uint32)
        for k, g in enumerate(proj["post_gids"]):
            cell = per_cell[proj["post"]][int(g) - starts[proj["post"]]]
            ids[k] = len(cell)
            cell.append(SWC[proj["section"]])
        syn_ids.append(ids)

    cells_path = d / ("graph.h5" if single_file else "cells.h5")
    with h5py.File(cells_path, "w") as f:
        _population_table(f, pops, starts)
        for name, n, _ in pops:
            xyz = culture["coordinates"][name]
            local = np.arange(n)
            g = f.create_group(f"Populations/{name}/Generated Coordinates")
            for k, axis in enumerate("XYZ"):
                _attribute(g.create_group(f"{axis} Coordinate"), local, np.arange(n + 1), xyz[:, k])
            sa = f.create_group(f"Populations/{name}/Synapse Attributes")
            lengths = np.array([len(c) for c in per_cell[name]], dtype=np.int64)
            pointer = np.concatenate([[0], np.cumsum(lengths)])
            swc = np.array([t for c in per_cell[name] for t in c], dtype=np.uint8)
            ids = np.concatenate([np.arange(k) for k in lengths]) if n else np.zeros(0)
            _attribute(sa.create_group("syn_ids"), local, pointer, ids.astype(np.uint32))
            _attribute(sa.create_group("swc_types"), local, pointer, swc)
            _attribute(sa.create_group("syn_locs"), local, pointer, np.full(len(swc), 0.5, "f4"))

    conn_path = d / ("graph.h5" if single_file else "connections.h5")
    with h5py.File(conn_path, "a" if single_file else "w") as f:
        if not single_file:
            _population_table(f, pops, starts)
        for proj, ids in zip(culture["projections"], syn_ids, strict=True):
            post, pre = proj["post"], proj["pre"]
            n_post = counts[post]
            order = np.argsort(proj["post_gids"], kind="stable")
            post_rel = proj["post_gids"][order] - starts[post]
            pre_rel = proj["pre_gids"][order] - starts[pre]
            xyz_post = culture["coordinates"][post][post_rel]
            xyz_pre = culture["coordinates"][pre][pre_rel]
            dist = np.sqrt(((xyz_post.astype("f8") - xyz_pre) ** 2).sum(axis=1)).astype("f4")
            dst_ptr = np.concatenate([[0], np.cumsum(np.bincount(post_rel, minlength=n_post))])
            cuts = np.linspace(0, n_post, blocks + 1).astype(np.int64)
            block_index = cuts[:-1]
            block_ptr = cuts.copy()
            block_ptr[-1] += 1  # the last block also covers the sentinel of the pointer
            e = f.create_group(f"Projections/{post}/{pre}/Edges")
            e.create_dataset("Destination Block Index", data=block_index.astype(np.uint32))
            e.create_dataset("Destination Block Pointer", data=block_ptr.astype(np.uint64))
            e.create_dataset("Destination Pointer", data=dst_ptr.astype(np.uint64))
            e.create_dataset("Source Index", data=pre_rel.astype(np.uint32))
            g = f[f"Projections/{post}/{pre}"]
            g.create_dataset("Connections/distance", data=dist)
            g.create_dataset("Synapses/syn_id", data=ids[order])

    def element(uuid: str, config: dict) -> dict:
        return {"uuid": uuid, "config": config}

    synapses: dict = {}
    for proj in culture["projections"]:
        synapses.setdefault(proj["post"], {})[proj["pre"]] = {
            "type": proj["type"],
            "contacts": 1,
            "layers": ["default"],
            "sections": [proj["section"]],
            "proportions": [1.0],
            "mechanisms": {"default": proj["mechanisms"]},
            "kernel": "gaussian",
        }
    xyz = np.concatenate([culture["coordinates"][name] for name, _, _ in pops])
    graph = {
        "version": 1,
        "architecture": element(
            "a1b2c3d4e5f6",
            {
                "coordinate_namespace": "Generated Coordinates",
                "area": [[0.0, 0.0], [2000.0, 2000.0]],
                "z_range": [0.0, 10.0],
                "cell_distributions": {name: {"default": n} for name, n, _ in pops},
                "layer_extents": {"default": [xyz.min(axis=0).tolist(), xyz.max(axis=0).tolist()]},
                "cell_counts": {name: n for name, n, _ in pops},
            },
        ),
        "distances": element("d1d2d3d4d5d6", {}),
        "synapse_forest": {},
        "synapses": element("s1s2s3s4s5s6", {}),
        "connections": {
            "culture": element(
                "c1c2c3c4c5c6",
                {
                    "population_definitions": {name: i for i, (name, _, _) in enumerate(pops)},
                    "connections_filepath": conn_path.name,
                    "synapses": synapses,
                },
            )
        },
    }
    (d / "graph.json").write_text(json.dumps(graph, indent=1))
    if mea is not None:
        (d / "mea.json").write_text(json.dumps(mea))
    if params is not None:
        (d / "params").mkdir(exist_ok=True)
        (d / "params" / "default.json").write_text(json.dumps(params))
    return d

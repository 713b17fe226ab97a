"""Extracellular stimulation: electrode currents to per-compartment currents (SPEC §3).

Each electrode is a point current source; the potential it makes at a point is
``MEA.field`` (mV per µA). A cell's compartments sit along a straight axis through the soma
(offsets from ``cell.field_points()``: EXC dendrite +60 µm, axon segments −15…−135 µm),
oriented in the dish plane at a random angle drawn once per culture (a fixed seed in gid
order, so orientation is a property of the system, not of the noise seed). The field acts
through the *activating function*: the current into compartment ``j`` is
``Σ_k g_jk (V_e,k − V_e,j)`` over its axial neighbours ``k`` (``g`` in µS, so nA), hence a
uniform potential drives nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ORIENTATION_SEED = 20251122


def orientations(num_neurons: int, seed: int = ORIENTATION_SEED) -> np.ndarray:
    """``[N]`` cell axis angles in the dish plane (radians), in gid order."""
    return np.random.default_rng(seed).uniform(0.0, 2.0 * np.pi, size=num_neurons)


def activating_currents(potential: np.ndarray, g_axial: np.ndarray, n_comp: int) -> np.ndarray:
    """Currents (nA) into the first ``n_comp`` points of an axial chain.

    Args:
        potential: ``[..., P]`` extracellular potential at the chain's points (mV), P ≥ n_comp.
        g_axial: ``[P - 1]`` conductance between point ``j`` and ``j + 1`` (µS).
        n_comp: How many leading points are compartments (the rest are virtual).

    Returns:
        ``[..., n_comp]`` current into each compartment, nA (inward positive).
    """
    v = np.asarray(potential, dtype=np.float64)
    flow = np.asarray(g_axial) * (v[..., 1:] - v[..., :-1])  # from j+1 into j
    out = np.zeros(v.shape, dtype=np.float64)
    out[..., :-1] += flow
    out[..., 1:] -= flow
    return out[..., :n_comp]


def section_points(coordinates: np.ndarray, angles: np.ndarray, offsets: np.ndarray):
    """``[n, P, 3]`` positions (µm) of each cell's field points along its axis."""
    axis = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=1)
    return coordinates[:, None, :] + np.asarray(offsets)[None, :, None] * axis[:, None, :]


def channel_maps(io: Any, coordinates: np.ndarray, groups: list[tuple[np.ndarray, Any]],
                 angles: np.ndarray) -> list[np.ndarray]:  # fmt: skip
    """Per group ``[n_channels, n, n_comp]``: nA into each compartment per µA on a channel.

    Args:
        io: The MEA (``field(points) -> [P, n_channels]`` mV/µA).
        coordinates: ``[N, 3]`` soma positions (µm), gid order.
        groups: ``(gids, cell)`` per engine group; ``cell.field_points()`` gives the axis
            offsets and axial conductances, ``cell.n_comp`` the compartments.
        angles: ``[N]`` axis angles (radians), gid order.
    """
    maps = []
    for gids, cell in groups:
        offsets, g_axial = cell.field_points()
        pts = section_points(coordinates[gids], angles[gids], offsets)  # [n, P, 3]
        n, p = pts.shape[:2]
        fld = np.asarray(io.field(pts.reshape(-1, 3))).reshape(n, p, -1)  # [n, P, C]
        cur = activating_currents(np.moveaxis(fld, 2, 0), g_axial, cell.n_comp)  # [C, n, n_comp]
        maps.append(cur.astype(np.float32))
    return maps

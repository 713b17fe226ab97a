"""Extracellular stimulation (SPEC §3): the activating function and electrode-driven runs."""

from __future__ import annotations

import numpy as np
import pytest

from livn.io import MEA
from livn.io.stimulation import activating_currents, channel_maps, section_points
from livn.models.rcsd.model import ReducedCalciumSomaDendrite


def test_uniform_potential_drives_nothing():
    g = np.array([0.5, 2.0, 1.0, 1.0])
    cur = activating_currents(np.full((3, 5), 7.3), g, n_comp=5)
    np.testing.assert_allclose(cur, 0.0, atol=1e-12)


def test_activating_function_against_hand_values():
    # chain a - b - c with g_ab = 2 µS, g_bc = 0.5 µS and Ve = (1, 4, 0) mV
    cur = activating_currents(np.array([1.0, 4.0, 0.0]), np.array([2.0, 0.5]), n_comp=3)
    np.testing.assert_allclose(cur, [2 * (4 - 1), 2 * (1 - 4) + 0.5 * (0 - 4), 0.5 * (4 - 0)])
    assert cur.sum() == pytest.approx(0.0)  # current is conserved along the chain
    # a virtual last point contributes to, but is not, a compartment
    np.testing.assert_allclose(activating_currents([1.0, 4.0], [2.0], n_comp=1), [6.0])


def test_channel_maps_follow_the_point_source_field():
    mea = MEA.grid(1, 1, pitch=1000.0, offset=(0.0, 0.0), z=0.0)
    cell = ReducedCalciumSomaDendrite().cell_type("excitatory")
    offsets, g_axial = cell.field_points()
    coords = np.array([[150.0, 20.0, 5.0]])
    angles = np.array([0.3])
    (m,) = channel_maps(mea, coords, [(np.array([0]), cell)], angles)
    assert m.shape == (1, 1, cell.n_comp)
    # independent reference: potential at each section point, then neighbour differences
    pts = section_points(coords, angles, offsets)[0]
    d = np.linalg.norm(pts - np.array([0.0, 0.0, 0.0]), axis=1)
    ve = 1000.0 * 3.5 / (4 * np.pi * np.sqrt(d**2 + 52.2**2))
    ref = np.zeros(cell.n_comp)
    for j in range(cell.n_comp - 1):
        ref[j] += g_axial[j] * (ve[j + 1] - ve[j])
        ref[j + 1] += g_axial[j] * (ve[j] - ve[j + 1])
    np.testing.assert_allclose(m[0, 0], ref, rtol=1e-5)
    # the dendrite lies 60 µm from the soma, the first axon point 15 µm on the other side
    np.testing.assert_allclose(np.linalg.norm(pts[0] - coords[0]), 60.0)
    np.testing.assert_allclose(np.dot(pts[2] - coords[0], pts[0] - coords[0]), -15.0 * 60.0)

"""Synapse physics (SPEC §2.4) lives in the model (``SynapsePhysics``), and the engine reads it
from there: NMDA Mg block, AMPA depression and conduction velocity are no longer constants of
the JAX backend."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from livn.models import LIF, Izhikevich
from livn.models.base import SynapsePhysics, synapse_physics
from livn.models.rcsd import ReducedCalciumSomaDendrite


def test_defaults_are_spec_values_for_every_model():
    spec = SynapsePhysics(nmda_mg=1.0, std_u=0.25, std_tau_rec=400.0, conduction_velocity=250.0)
    for model in (ReducedCalciumSomaDendrite(), LIF(), Izhikevich()):
        assert synapse_physics(model) == spec


def test_mg_block_matches_the_spec_formula_in_every_namespace():
    physics = SynapsePhysics(nmda_mg=1.2)
    for v in (-80.0, -65.0, -20.0, 0.0, 20.0):
        expected = 1.0 / (1.0 + math.exp(-0.062 * v) * 1.2 / 3.57)
        assert physics.mg_block(math, v) == pytest.approx(expected, rel=1e-12)
        assert float(physics.mg_block(np, np.float64(v))) == pytest.approx(expected, rel=1e-12)
    assert SynapsePhysics(nmda_mg=0.0).mg_block(math, -80.0) == 1.0  # no Mg: no block


def test_conduction_velocity_sets_the_delays():
    from livn.backends.network import build_network
    from livn.system import System, predefined

    system = System(predefined("EI1"))
    slow = build_network(system, ReducedCalciumSomaDendrite())
    fast_model = ReducedCalciumSomaDendrite(
        synapse_physics=SynapsePhysics(conduction_velocity=1000.0)
    )
    fast = build_network(system, fast_model)
    assert slow.entry_delay.shape == fast.entry_delay.shape
    # delay = max(2, round(d / v / dt)) steps: 4x the velocity, 1/4 the delay (rounded)
    d = np.maximum(np.round(slow.entry_delay / 4.0), 2)
    assert np.all(np.abs(fast.entry_delay - d) <= 1)
    assert fast.entry_delay.sum() < slow.entry_delay.sum()


def test_the_engine_reads_the_models_depression_and_mg():
    """Stronger depression (U 0.9) or no Mg block changes a driven culture's spikes."""
    from livn.env import Env

    def spikes(model):
        env = Env("EI1", model=model, seed=3).init().record_spikes().apply_model_defaults()
        env.set_weights({k: v * 4 for k, v in env.model_defaults()["weights"].items()})
        it, t, *_ = env.run(300.0)
        return np.asarray(it), np.asarray(t)

    base = ReducedCalciumSomaDendrite()
    ref = spikes(base)
    assert len(ref[1]) > 0
    again = spikes(ReducedCalciumSomaDendrite())
    assert np.array_equal(ref[0], again[0]) and np.array_equal(ref[1], again[1])
    for physics in (dataclasses.replace(base.synapse_physics, std_u=0.9),
                    dataclasses.replace(base.synapse_physics, nmda_mg=0.0)):  # fmt: skip
        other = spikes(ReducedCalciumSomaDendrite(synapse_physics=physics))
        assert not (np.array_equal(ref[0], other[0]) and np.array_equal(ref[1], other[1]))

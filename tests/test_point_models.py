"""LIF and Izhikevich on the engine against independent references (isolated cells)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

from livn.env import Env
from livn.models.izhikevich import PRESETS, Izhikevich
from livn.models.lif import LIF, lif_rate
from livn.stimulus import Stimulus
from livn.system import predefined

DURATION = 500.0


def isolated_rates(model, amp: float) -> np.ndarray:
    env = Env(predefined("EI1"), model=model, seed=1).init()
    env.apply_model_defaults()
    env.set_weights({k: 0.0 for k in env.weight_names})
    env.record_spikes()
    n = env.system.num_neurons
    r = env.run(DURATION, Stimulus(np.full((int(DURATION), n), amp, np.float32), dt=1.0))
    return np.bincount(r.it, minlength=n) / (DURATION / 1000.0), env


@pytest.mark.parametrize("amp", [0.15, 0.3])
def test_lif_rate_matches_the_analytic_f_i_curve(amp):
    """Exact-exponential steps: the ISI is the analytic one up to one step (0.1 ms)."""
    rates, _env = isolated_rates(LIF(), amp)
    expected = lif_rate(amp)
    isi = 1000.0 / expected
    tol = expected * (1 - isi / (isi + 0.1)) + 1000.0 / DURATION  # one step + one spike
    np.testing.assert_allclose(rates, expected, atol=tol)


def test_lif_below_rheobase_is_silent():
    rates, _ = isolated_rates(LIF(), 0.09)  # v_inf = -51 mV < v_th
    assert lif_rate(0.09) == 0.0 and np.all(rates == 0)


def izh_reference(preset: str, amp_nA: float, gain: float = 20.0, dt: float = 0.001):
    """Forward Euler at dt 0.001 ms in float64 (the engine uses 0.1 ms, float32)."""
    a, b, c, d = PRESETS[preset]
    v, u = c, b * c
    n = 0
    for _ in range(int(DURATION / dt)):
        v, u = v + dt * (0.04 * v * v + 5 * v + 140 - u + gain * amp_nA), u + dt * a * (b * v - u)
        if v >= 30.0:
            v, u, n = c, u + d, n + 1
    return n / (DURATION / 1000.0)


def test_izhikevich_presets_match_a_fine_step_reference():
    """RS (EXC) and FS (INH) tonic rates at I = 10 within 10 % of a 100x finer reference."""
    rates, env = isolated_rates(Izhikevich(), 0.5)
    ranges = env.system.population_ranges
    for pop, preset in (("EXC", "RS"), ("INH", "FS")):
        start, count = ranges[pop]
        ref = izh_reference(preset, 0.5)
        assert ref > 5
        np.testing.assert_allclose(rates[start : start + count], ref, rtol=0.1)
    assert izh_reference("FS", 0.5) > izh_reference("RS", 0.5)  # fast spiking is faster

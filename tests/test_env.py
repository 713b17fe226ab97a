"""The Env contract (seed 004) on the JAX backend, with the RCSD model."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

from livn.env import Env, RunResult
from livn.errors import ConfigError
from livn.stimulus import Stimulus
from livn.system import predefined

DURATION = 40.0  # ms: one compiled signature per Env, reused by every run below


@pytest.fixture(scope="module")
def env():
    e = Env(predefined("EI1"), seed=42).init()
    e.apply_model_defaults()
    e.record_spikes()
    e.record_voltage()
    e.record_membrane_current()
    return e


def test_seed_004_run_returns_six_named_values(env):
    env.clear()
    result = env.run(duration=DURATION)
    assert isinstance(result, RunResult) and len(result) == 6
    it, t, iv, v, _im, mp = result
    assert result.v is v and result.it is it
    np.testing.assert_array_equal(iv, np.arange(10))
    assert v.shape == (10, int(DURATION / 0.1)) and mp.shape == v.shape
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(mp))
    # cells start at -75 mV and relax towards rest
    assert np.all(v[:, 0] < -70) and np.all(v[:, -1] > v[:, 0])
    assert it.dtype.kind == "i" and len(it) == len(t)
    assert np.all((t >= 0) & (t <= DURATION))


def test_clear_reproduces_first_run_exactly(env):
    env.clear()
    a = env.run(DURATION)
    b = env.run(DURATION)
    env.clear()
    c = env.run(DURATION)
    np.testing.assert_array_equal(a.v, c.v)
    np.testing.assert_array_equal(a.it, c.it)
    assert not np.array_equal(a.v, b.v)  # state persisted into the second run


def test_same_seed_same_result_different_seed_different():
    def voltages(seed):
        e = Env(predefined("EI1"), seed=seed).init()
        e.apply_model_defaults()
        e.record_voltage()
        return e.run(DURATION).v

    a, b, c = voltages(7), voltages(7), voltages(8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_weights_change_without_recompiling():
    env = Env(predefined("EI1"), seed=42, backend="jax").init()  # the JAX engine's programs
    env.apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    env.set_noise({"enabled": False})
    stim = Stimulus(array=np.full((int(DURATION), 10), 0.5, dtype=np.float32), dt=1.0)
    base = env.run(DURATION, stimulus=stim)
    compiled = len(env.engine._compiled)
    env.clear()
    env.set_weights({k: 50.0 for k in env.weight_names})
    strong = env.run(DURATION, stimulus=stim)
    assert len(env.engine._compiled) == compiled
    assert len(base.it) > 0 and not np.array_equal(base.v, strong.v)


def test_current_injection_makes_cells_fire(env):
    env.clear()
    env.set_noise({"enabled": False})
    quiet = env.run(DURATION)
    env.clear()
    arr = np.zeros((int(DURATION), 10), dtype=np.float32)
    arr[10:, 3] = 1.0  # 1 nA into cell 3 from 10 ms on
    driven = env.run(DURATION, stimulus=Stimulus(array=arr, dt=1.0))
    assert len(quiet.it) == 0
    assert np.sum(driven.it == 3) >= 3 and np.all(driven.t[driven.it == 3] > 10)
    env.set_noise({"enabled": True})


def test_errors_are_clear(env):
    with pytest.raises(ConfigError, match=r"unknown weight 'EXC_EXC-soma-AMPA-weight'"):
        env.set_weights({"EXC_EXC-soma-AMPA-weight": 1.0})
    with pytest.raises(ConfigError, match=r"unknown noise parameter 'g_e'.*Did you mean"):
        env.set_noise({"g_e": 1.0})
    with pytest.raises(ConfigError, match=r"must start with 'weight-' or 'noise-'"):
        env.set_params({"g_e0": 1.0})
    with pytest.raises(ConfigError, match=r"unknown population 'EX'"):
        env.record_spikes("EX")
    with pytest.raises(ConfigError, match=r"has 11 columns but the system has 10 cells"):
        env.run(DURATION, stimulus=Stimulus(array=np.zeros((5, 11)), dt=1.0))
    with pytest.raises(ConfigError, match=r"positive number of ms"):
        env.run(-1)
    with pytest.raises(ConfigError, match=r"call env.init\(\) first"):
        Env(predefined("EI1")).run(10)


def test_set_params_prefixes(env):
    key = env.weight_names[0]
    env.set_params({f"weight-{key}": 3.0, "noise-EXC-g_e0": 0.02})
    gi = next(i for i, g in enumerate(env.engine.net.groups) for c in g.channels if c.key == key)
    ci = [c.key for c in env.engine.net.groups[gi].channels].index(key)
    assert float(env.params["weights"][gi][ci]) == 3.0
    g_e0 = np.asarray(env.params["noise"]["g_e0"])
    exc = env.engine.net.gids < 8
    assert np.allclose(g_e0[exc], 0.02) and np.allclose(g_e0[~exc], 0.0121)
    env.apply_model_defaults()


def test_synaptic_transmission_respects_weights_and_delay(env):
    """A driven EXC cell depolarises its EXC targets after the conduction delay, via weights."""
    p = env.system.projections["EXC->EXC"]
    pre = int(p.pre_gids[0])
    post = int(p.post_gids[p.pre_gids == pre][0])
    delay = max(float(p.distances[(p.pre_gids == pre) & (p.post_gids == post)][0]) / 250.0, 0.05)
    arr = np.zeros((int(DURATION), 10), dtype=np.float32)
    arr[5:, pre] = 1.0
    stim = Stimulus(array=arr, dt=1.0)
    traces = {}
    for w in (0.0, 5.0):
        env.clear()
        env.set_noise({"enabled": False})
        env.set_weights({k: w for k in env.weight_names})
        r = env.run(DURATION, stimulus=stim)
        traces[w] = (r.v[post], r.t[r.it == pre])
    env.apply_model_defaults()
    env.set_noise({"enabled": True})
    v_off, spikes = traces[0.0]
    v_on, _ = traces[5.0]
    assert len(spikes) > 0
    diff = v_on - v_off  # recorded every 0.1 ms
    assert diff.max() > 1.0  # an EPSP of more than 1 mV
    onset = np.argmax(np.abs(diff) > 1e-3) * 0.1
    assert onset >= spikes[0] + delay - 0.2, (onset, spikes[0], delay)

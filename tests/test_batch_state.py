"""``Env.run_batch(states=)``: cultures that keep going from step to step (livn.batch)."""

from __future__ import annotations

import numpy as np
import pytest

from livn.batch import BatchState
from livn.env import Env
from livn.errors import ConfigError
from livn.stimulus import Stimulus

BACKENDS = ["native", "jax"]


def _env(backend: str, seed: int) -> Env:
    env = Env("EI1", seed=seed, backend=backend).init()
    env.apply_model_defaults()
    env.record_spikes()
    return env


def _pulses(env: Env, amp: float) -> Stimulus:
    arr = np.zeros((20, env.io.num_channels), np.float32)
    arr[2:4, :4] = amp
    return env.cell_stimulus(arr, dt=1.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_culture_continues_like_its_own_env(backend):
    """Culture i of a BatchState runs exactly like an Env of seed s_i stepped alike, also
    with one stimulus per culture and after a reset."""
    env = _env(backend, 3)
    seeds = [5, 9]
    refs = [_env(backend, s) for s in seeds]
    states = env.batch_state(seeds, initial=True)
    assert len(states) == 2 and states.seeds == seeds
    fired = 0
    for k in range(3):
        stims = [_pulses(env, 30.0 * (i + 1) * (k % 2)) for i in range(2)]
        out = env.run_batch(20.0, stims, states=states)
        for i, ref in enumerate(refs):
            want = ref.run(20.0, stims[i])
            assert out[i].t0 == pytest.approx(20.0 * k) == want.t0
            np.testing.assert_array_equal(out[i].it, want.it)
            np.testing.assert_allclose(out[i].t, want.t, atol=1e-3)
            fired += len(want.it)
    assert fired > 0  # the comparison saw spikes
    np.testing.assert_allclose(states.t, [60.0, 60.0])
    assert env.t == 0.0  # the Env's own clock did not move
    # culture 1 back to t = 0 with a new seed: like a fresh Env of that seed
    states.reset(1, seed=11)
    fresh = _env(backend, 11)
    out = env.run_batch(20.0, [_pulses(env, 40.0)] * 2, states=states)
    want = fresh.run(20.0, _pulses(env, 40.0))
    assert out[1].t0 == 0.0 and out[0].t0 == pytest.approx(60.0)
    np.testing.assert_array_equal(out[1].it, want.it)
    np.testing.assert_allclose(out[1].t, want.t, atol=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_state_from_the_current_state(backend):
    """Without initial=True the cultures start where the Env is; the Env does not move."""
    env = _env(backend, 2)
    env.run(30.0, _pulses(env, 30.0))
    twin = _env(backend, 2)
    twin.run(30.0, _pulses(twin, 30.0))
    states = env.batch_state(1)  # one culture, the Env's seed
    assert states.seeds == [2]
    out = env.run_batch(20.0, _pulses(env, 30.0), states=states)[0]
    want = twin.run(20.0, _pulses(twin, 30.0))
    assert out.t0 == pytest.approx(30.0) and env.t == pytest.approx(30.0)
    np.testing.assert_array_equal(out.it, want.it)


def test_batch_state_refusals():
    env = _env("native", 1)
    states = env.batch_state([1, 2])
    with pytest.raises(ConfigError, match="drop seeds="):
        env.run_batch(10.0, seeds=[1, 2], states=states)
    with pytest.raises(ConfigError, match="BatchState"):
        env.run_batch(10.0, states=[1, 2])
    with pytest.raises(ConfigError, match=r"3 trials .* has 2"):
        env.run_batch(10.0, [_pulses(env, 1.0)] * 3, states=states)
    with pytest.raises(ConfigError, match="share space, dt, shape"):
        env.run_batch(10.0, [_pulses(env, 1.0), Stimulus(np.zeros((5, 10)), dt=2.0)],
                      states=states)  # fmt: skip
    with pytest.raises(ConfigError, match="index"):
        states.reset(2)
    with pytest.raises(ConfigError, match="seed"):
        env.batch_state([1, -1])
    with pytest.raises(ConfigError, match="at least one"):
        env.batch_state([])
    env.init()  # a new engine build: old states are refused
    with pytest.raises(ConfigError, match="another engine build"):
        env.run_batch(10.0, states=states)
    assert isinstance(env.batch_state(2), BatchState)


def test_an_interrupted_batch_run_spoils_its_states(monkeypatch):
    """An interruption inside the batched run (the native engine advances the cultures in
    place) leaves the states undefined; they are refused from then on."""
    env = _env("native", 1)
    states = env.batch_state(2, initial=True)
    env.run_batch(10.0, states=states)
    calls = []

    def interrupted_second_trial(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return type(env.engine).run(env.engine, *args, **kwargs)

    monkeypatch.setattr(env.engine, "run", interrupted_second_trial)
    with pytest.raises(KeyboardInterrupt):
        env.run_batch(10.0, states=states)
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="interrupted"):
        env.run_batch(10.0, states=states)
    env.run(10.0)  # the Env's own state is back and runs on
    assert env.t == pytest.approx(10.0)


def test_brian2_refuses_batch_states():
    pytest.importorskip("brian2")
    env = Env("EI1", backend="brian2").init()
    with pytest.raises(ConfigError, match="native or jax"):
        env.batch_state(2)


def test_neuron_cultures_continue_like_the_env_cleared_to_their_seed():
    """NEURON holds one simulator per process, so each culture is compared with the same Env
    cleared to the culture's seed and stepped alike. A culture's snapshot carries its noise
    streams' positions (NEURON's streams are sequential): exact, spike for spike."""
    pytest.importorskip("neuron")
    env = _env("neuron", 3)
    env.record_voltage()
    seeds = [5, 9]
    states = env.batch_state(seeds, initial=True)
    steps: list[list] = [[], []]
    for k in range(3):
        stims = [_pulses(env, 30.0 * (i + 1) * (k % 2)) for i in range(2)]
        out = env.run_batch(20.0, stims, states=states)
        for i in range(2):
            steps[i].append((out[i], stims[i]))
    assert env.t == 0.0
    np.testing.assert_allclose(states.t, [60.0, 60.0])
    states.reset(1, seed=11)  # culture 1 back to t = 0 with a new seed
    last = env.run_batch(20.0, [_pulses(env, 40.0)] * 2, states=states)
    steps[0].append((last[0], _pulses(env, 40.0)))
    fired = 0
    for i, seed in enumerate(seeds):
        env.clear(seed=seed)
        for got, stim in steps[i]:
            want = env.run(20.0, stim)
            assert got.t0 == pytest.approx(want.t0)
            np.testing.assert_array_equal(got.it, want.it)
            np.testing.assert_allclose(got.t, want.t, rtol=0.0, atol=1e-9)
            np.testing.assert_array_equal(got.v, want.v)
            fired += len(want.it)
    assert fired > 0  # the comparison saw spikes
    env.clear(seed=11)
    want = env.run(20.0, _pulses(env, 40.0))
    assert last[1].t0 == 0.0
    np.testing.assert_array_equal(last[1].it, want.it)
    np.testing.assert_array_equal(last[1].v, want.v)


def test_neuron_batch_state_from_the_current_state():
    """Cultures from the Env's state at 30 ms: the Env's seed continues its streams, another
    seed restarts them there (as ``env.run(key=seed)`` does on NEURON)."""
    pytest.importorskip("neuron")
    env = _env("neuron", 2)
    env.record_voltage()
    env.run(30.0, _pulses(env, 30.0))
    states = env.batch_state([2, 4])
    out = env.run_batch(20.0, _pulses(env, 30.0), states=states)
    assert env.t == pytest.approx(30.0)
    for got, key in zip(out, (None, 4), strict=True):
        env.clear(seed=2)
        env.run(30.0, _pulses(env, 30.0))
        want = env.run(20.0, _pulses(env, 30.0), key=key)
        assert got.t0 == pytest.approx(30.0)
        np.testing.assert_array_equal(got.it, want.it)
        np.testing.assert_array_equal(got.v, want.v)
    assert not np.array_equal(out[0].v, out[1].v)

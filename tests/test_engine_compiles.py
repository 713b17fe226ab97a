"""One compiled program per system: runs of any duration, stimulus length, weights and noise
levels compile nothing new (counted with JAX's own lowering events, not timed)."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from livn.env import Env  # noqa: E402
from livn.stimulus import Stimulus  # noqa: E402

LOWERING = "/jax/core/compile/jaxpr_to_mlir_module_duration"


@pytest.fixture
def lowerings():
    """A list that receives the name of every program JAX lowers (compiles or loads)."""
    seen: list[str] = []

    def listener(event: str, duration: float, **kwargs) -> None:
        if event == LOWERING:
            seen.append(str(kwargs.get("fun_name", "?")))

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield seen
    jax.monitoring.unregister_event_duration_listener(listener)


def test_durations_stimuli_weights_and_noise_levels_reuse_the_programs(lowerings):
    env = Env("EI1", seed=1, backend="jax").init()
    env.apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    env.record_membrane_current()
    n = env.system.num_neurons
    # warm up: the free run, the run ending inside a recording block, a stimulated run
    env.run(20.0)
    env.run(20.05)
    env.run(20.0, Stimulus(np.full((20, n), 0.2), dt=1.0))
    warm = len(lowerings)
    assert warm > 0
    lowerings.clear()

    for duration in (5.0, 100.0, 333.3, 1.0, 450.0):
        r = env.run(duration)
        assert r.v.shape == (n, int(duration / env.model.record_dt + 1e-6))
    for rows in (7, 50, 300):
        env.run(float(rows), Stimulus(np.full((rows, n), 0.3), dt=1.0))
    env.set_weights({k: 0.5 for k in env.weight_names})
    env.set_noise({"g_e0": 0.02, "std_e": 0.004})
    env.clear(seed=9)
    env.run(250.0)
    assert lowerings == [], f"recompiled: {lowerings}"


def test_a_chunked_run_equals_one_long_block_of_runs():
    """A run longer than a chunk continues exactly like consecutive shorter runs (the noise
    of a block depends on its absolute step, not on how the run is cut)."""
    env = Env("EI1", seed=4, backend="jax").init()
    env.apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    chunk_ms = env.engine.chunk_blocks() * env.model.record_dt
    whole = env.run(2.5 * chunk_ms)
    env.clear()
    parts = [env.run(chunk_ms * f) for f in (0.7, 1.3, 0.5)]
    np.testing.assert_array_equal(np.concatenate([p.v for p in parts], axis=1), whole.v)
    offsets = np.cumsum([0.0] + [chunk_ms * f for f in (0.7, 1.3)])
    t = np.concatenate([p.t + o for p, o in zip(parts, offsets, strict=True)])
    np.testing.assert_allclose(np.sort(t), np.sort(whole.t), atol=1e-3)


def test_batches_of_any_duration_reuse_their_program(lowerings):
    env = Env("EI1", seed=2, backend="jax").init()
    env.apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    env.run_batch(20.0, seeds=[1, 2])
    env.run_batch(20.05, seeds=[1, 2])
    lowerings.clear()
    trials = {}
    for duration in (5.0, 120.0, 333.3):
        trials[duration] = env.run_batch(duration, seeds=[3, 4])
    assert lowerings == [], f"recompiled: {lowerings}"
    # each trial is the run of its seed from the current state
    single = env.clear(seed=4).run(120.0)
    np.testing.assert_array_equal(trials[120.0][1].v, single.v)
    np.testing.assert_array_equal(trials[120.0][1].it, single.it)

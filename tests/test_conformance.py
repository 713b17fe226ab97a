"""The Env contract, held by every backend × model (seed 004).

Each case builds EI1 (10 cells) with background noise on and checks the run contract: what
``run`` returns, persistence and ``clear``, seeding, parameter changes without recompiling,
current and electrode stimulation, batched trials and the differentiable mode (which only the
JAX engine has; the others must refuse it clearly). Backends whose simulator is not installed
are skipped; a model a backend cannot run must be refused with the backends that can.
"""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

pytest.importorskip("jax")

from livn.env import Env
from livn.models.izhikevich import Izhikevich
from livn.models.lif import LIF
from livn.models.rcsd import ReducedCalciumSomaDendrite
from livn.stimulus import Stimulus
from livn.system import predefined

BACKENDS = ["jax", "diffrax", "native", "neuron", "brian2"]
#: (backend, model) pairs a backend refuses (it says which backends can run the model).
UNSUPPORTED = {("neuron", "LIF"), ("neuron", "Izhikevich")}
MODELS = {"RCSD": ReducedCalciumSomaDendrite, "LIF": LIF, "Izhikevich": Izhikevich}
DURATION = 20.0
POINT_NOISE = {"g_e0": 0.004, "g_i0": 0.004, "std_e": 0.003, "std_i": 0.003}


def make_env(backend: str, model: str, seed: int = 5) -> Env:
    env = Env(predefined("EI1"), model=MODELS[model](), seed=seed, backend=backend).init()
    env.apply_model_defaults()
    if model != "RCSD":
        env.set_noise(POINT_NOISE)
    env.record_spikes()
    env.record_voltage()
    env.record_membrane_current()
    return env


#: The module each backend's simulator needs (native: a C compiler, checked below).
REQUIRES = {"jax": "jax", "diffrax": "jax", "native": "numpy", "neuron": "neuron",
            "brian2": "brian2"}  # fmt: skip


def _marks(backend: str) -> list:
    marks = [pytest.mark.slow] if backend == "diffrax" else []  # the same engine as "jax"
    if importlib.util.find_spec(REQUIRES[backend]) is None:
        marks.append(pytest.mark.skip(reason=f"the {backend} simulator is not installed"))
    if backend == "native" and not (shutil.which("cc") or shutil.which("gcc")):
        marks.append(pytest.mark.skip(reason="the native backend needs a C compiler"))
    return marks


# "diffrax" names the same JAX engine: its cases run with the slow set only
CASES = [pytest.param((b, m), id=f"{b}-{m}", marks=_marks(b))
         for b in BACKENDS for m in MODELS if (b, m) not in UNSUPPORTED]  # fmt: skip


@pytest.mark.parametrize("case", sorted(UNSUPPORTED), ids=lambda c: f"{c[0]}-{c[1]}")
def test_a_model_a_backend_cannot_run_is_refused(case):
    from livn.errors import ConfigError

    backend, model = case
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"the {backend} simulator is not installed")
    with pytest.raises(ConfigError, match=r"runs on the jax and brian2 backends"):
        make_env(backend, model)


@pytest.fixture(scope="module", params=CASES)
def env(request):
    e = make_env(*request.param)
    yield e
    e.close()


def test_run_returns_the_six_recordings(env):
    env.clear()
    r = env.run(DURATION)
    it, t, iv, v, im, mp = r
    n = env.system.num_neurons
    steps = round(DURATION / env.model.record_dt)
    assert v.shape == (n, steps) and mp.shape == (n, steps)
    np.testing.assert_array_equal(iv, np.arange(n))
    np.testing.assert_array_equal(im, np.arange(n))
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(mp))
    assert len(it) == len(t) and np.all((t >= 0) & (t <= DURATION))
    assert np.all(np.diff(t) >= 0) and (len(it) == 0 or (it.min() >= 0 and it.max() < n))


def test_clear_reproduces_and_state_persists(env):
    env.clear()
    a = env.run(DURATION)
    b = env.run(DURATION)
    env.clear()
    c = env.run(DURATION)
    np.testing.assert_array_equal(a.v, c.v)
    np.testing.assert_array_equal(a.it, c.it)
    assert not np.array_equal(a.v, b.v)
    assert env.t == pytest.approx(DURATION)


def test_seed_controls_the_noise(env):
    backend, model = env.backend, env.model.name
    name = {"RCSD": "RCSD", "LIF": "LIF", "Izhikevich": "Izhikevich"}[model]
    a = make_env(backend, name, seed=11).run(DURATION).v
    b = make_env(backend, name, seed=11).run(DURATION).v
    c = make_env(backend, name, seed=12).run(DURATION).v
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_current_and_weights_change_activity_without_recompiling(env):
    env.clear()
    n = env.system.num_neurons
    base = env.run(DURATION)
    env.clear()
    stim = Stimulus(np.full((int(DURATION), n), 1.0, dtype=np.float32), dt=1.0)
    driven = env.run(DURATION, stimulus=stim)
    assert len(driven.it) > len(base.it)
    compiled = len(getattr(env.engine, "_compiled", ()))  # the JAX engine's programs
    env.clear()
    env.set_weights({k: 0.0 for k in env.weight_names})
    silent_syn = env.run(DURATION, stimulus=stim)
    assert len(getattr(env.engine, "_compiled", ())) == compiled
    assert not np.array_equal(silent_syn.v, driven.v)
    env.apply_model_defaults()
    if env.model.name != "RCSD":
        env.set_noise(POINT_NOISE)


def test_electrode_stimulation_drives_cells(env):
    env.clear()
    quiet = env.run(DURATION)
    env.clear()
    inputs = np.zeros((int(DURATION), env.io.num_channels), dtype=np.float32)
    inputs[2:6, :] = -40.0  # µA on every electrode
    stimulated = env.run(DURATION, stimulus=env.cell_stimulus(inputs, dt=1.0))
    assert np.max(np.abs(stimulated.v - quiet.v)) > 1.0  # mV


def test_batched_trials_match_single_runs(env):
    env.clear()
    single = env.run(DURATION)
    env.clear()
    batch = env.run_batch(DURATION, seeds=[env.seed, env.seed + 1])
    assert len(batch) == 2
    np.testing.assert_allclose(batch[0].v, single.v, atol=1e-3)
    assert not np.allclose(batch[0].v, batch[1].v)
    assert env.t == 0.0  # the Env's own state did not advance


def test_mask_mode_is_differentiable(env):
    import jax
    import jax.numpy as jnp

    from livn.errors import ConfigError

    env.clear()
    if env.backend != "jax":  # only the JAX engine is differentiable: a clear refusal
        x = np.zeros((int(DURATION), env.io.num_channels), np.float32)
        with pytest.raises(ConfigError, match=r"needs a differentiable backend.*backend='jax'"):
            env.run(DURATION, env.cell_stimulus(x, dt=1.0), unroll="mask")
        return
    steps = round(DURATION / env.model.record_dt)

    def loss(x):
        mask, _t, _iv, v = env.run(DURATION, env.cell_stimulus(x, dt=1.0), unroll="mask")
        assert mask.shape == (env.system.num_neurons, steps) and v.shape == mask.shape
        return jnp.mean(v)

    x = jnp.zeros((int(DURATION), env.io.num_channels), jnp.float32)
    g = jax.grad(loss)(x)
    assert g.shape == x.shape and bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).max()) > 0
    assert env.t == 0.0

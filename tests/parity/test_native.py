"""The native backend (the fused C kernel): the Env contract, and parity with the JAX engine.

Single cells (no noise, no synapses) under 500 ms somatic current steps, and small networks
without noise, run on both engines from the same system, parameters and stimulus. The kernel
integrates the same discretisation (rendered from the model's own functions) in float32, as
the JAX engine does, compiled with fast math, so spike trains agree to a few µs until
rounding reorders near-simultaneous events.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("jax", reason="parity against the JAX engine needs jax")
if shutil.which("cc") is None and shutil.which("gcc") is None:
    pytest.skip("the native backend needs a C compiler", allow_module_level=True)

from livn.env import Env
from livn.errors import ConfigError
from livn.models.izhikevich import Izhikevich
from livn.models.lif import LIF
from livn.models.rcsd import ReducedCalciumSomaDendrite
from livn.stimulus import Stimulus
from livn.system import predefined

AMPS = (0.05, 0.2, 0.5, 1.0, 2.0)  # nA
DURATION = 500.0  # ms
#: EI1 has 8 EXC cells (gids 0-7) and 2 INH cells (8, 9): three runs give every amplitude to
#: both cell types. Each plan: {gid: amplitude}.
PLANS = (
    {0: 0.05, 1: 0.2, 2: 0.5, 3: 1.0, 4: 2.0, 8: 0.05, 9: 0.2},
    {8: 0.5, 9: 1.0},
    {8: 2.0},
)


def _env(backend: str, model=None, seed: int = 1, system: str = "EI1") -> Env:
    env = Env(predefined(system), model=model, backend=backend, seed=seed).init()
    env.apply_model_defaults()
    return env


def _isolated(backend: str, model) -> dict[tuple[str, float], np.ndarray]:
    """Spike times of isolated, noiseless cells per (cell type, amplitude)."""
    env = _env(backend, model)
    env.set_weights({k: 0.0 for k in env.weight_names})
    env.set_noise({"enabled": False})
    env.record_spikes()
    n = env.system.num_neurons
    out = {}
    for plan in PLANS:
        env.clear()
        amps = np.zeros(n, np.float32)
        for gid, a in plan.items():
            amps[gid] = a
        r = env.run(DURATION, Stimulus(np.tile(amps, (int(DURATION), 1)), dt=1.0))
        for gid, a in plan.items():
            out[("EXC" if gid < 8 else "INH", a)] = np.sort(r.t[r.it == gid])
    return out


@pytest.fixture(scope="module", params=["RCSD", "LIF", "Izhikevich"])
def isolated(request):
    model = {"RCSD": ReducedCalciumSomaDendrite, "LIF": LIF, "Izhikevich": Izhikevich}
    make = model[request.param]
    return request.param, _isolated("jax", make()), _isolated("native", make())


# ---------------------------------------------------------------------- the Env contract
def test_seed_004_style_run():
    env = _env("native")
    env.record_spikes()
    env.record_voltage()
    it, t, iv, v = env.run(100)
    n = env.system.num_neurons
    assert v.shape == (n, 1000) and np.all(np.isfinite(v))
    assert list(iv) == list(range(n))
    assert np.all((t >= 0) & (t < 100)) and np.all(np.diff(t) >= 0)
    assert np.all((it >= 0) & (it < n))
    assert -80 < float(v[:, 0].mean()) < -50  # relaxing from -75 mV towards rest


def test_clear_reproduces_a_run_exactly():
    """State *and time* return to t = 0: a second run after clear() is identical (noise on)."""
    env = _env("native")
    env.record_spikes()
    env.record_voltage()
    env.record_membrane_current()
    first = env.run(60)
    env.run(20)
    env.clear()
    second = env.run(60)
    assert len(first.it) > 0
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_runs_continue_across_calls():
    """run(60) + run(40) is run(100): state, noise streams and delivery queues carry over."""
    env = _env("native")
    env.record_spikes()
    env.record_voltage()
    whole = env.run(100)
    env.clear()
    a = env.run(60)
    b = env.run(40)
    it = np.concatenate([a.it, b.it])
    t = np.concatenate([a.t, b.t + 60.0])
    assert len(whole.it) > 0 and len(b.it) > 0
    np.testing.assert_array_equal(it, whole.it)
    np.testing.assert_allclose(t, whole.t, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([a.v, b.v], axis=1), whole.v, atol=1e-9)


def test_noise_streams_follow_the_seed():
    """Two Envs in one process with the same seed agree; another seed differs."""
    runs = []
    for seed in (3, 3, 4):
        env = _env("native", seed=seed)
        env.record_voltage()
        runs.append(env.run(30).v)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])


def test_run_batch_trials_are_runs_from_the_current_state():
    env = _env("native")
    env.record_spikes()
    env.record_voltage()
    trials = env.run_batch(40, seeds=[5, 7])
    assert env.t == 0.0
    env.clear(seed=5)
    single = env.run(40)
    for a, b in zip(trials[0], single, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(trials[0].v, trials[1].v)


def test_new_inputs_do_not_recompile(tmp_path, monkeypatch):
    """A new stimulus, new weights, new noise and clear() change data, never the kernel: one
    library is built per system and model, and a second Env (a second process alike) loads it."""
    from livn.backends.native import kernel

    monkeypatch.setenv("LIVN_CACHE_DIR", str(tmp_path))
    builds = []
    real_run = kernel.subprocess.run
    monkeypatch.setattr(kernel.subprocess, "run",
                        lambda cmd, **k: builds.append(cmd) or real_run(cmd, **k))  # fmt: skip
    env = _env("native")
    env.record_spikes()
    env.run(5)
    n = env.system.num_neurons
    env.run(5, Stimulus(np.full((5, n), 0.3, np.float32), dt=1.0))
    env.set_weights({k: 0.5 for k in env.weight_names})
    env.set_noise(std_e=0.01)
    env.clear()
    env.run(7, Stimulus(np.full((28, n), 0.1, np.float32), dt=0.25))
    _env("native").run(3)
    assert sum("-c" in cmd for cmd in builds) == 1  # one compile (and its link)
    assert len(list((tmp_path / "native").glob("*.so"))) == 1


def test_import_livn_does_not_compile_or_load_the_kernel():
    code = ("import sys, livn, livn.backends.native.kernel; "
            "assert not any(m.startswith('livn.backends.native.engine') for m in sys.modules)")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_failed_compile_says_why_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "false")
    with pytest.raises(ConfigError, match=r"compiling the native kernel with false failed"):
        _env("native")
    assert not list((tmp_path / "native").glob("*.so"))


def test_the_kernel_leaves_the_process_floating_point_mode_alone():
    """Fast math is for the kernel's own code: after loading and running it, subnormal
    numbers still exist in this process (no flush-to-zero left behind)."""
    env = _env("native")
    env.record_spikes()
    env.run(20)
    tiny = np.array([1e-310, 1e-40], np.float64) * np.array([1.0, 1.0])
    assert tiny[0] > 0.0 and np.float32(1e-40) * np.float32(1.0) > 0.0
    assert np.nextafter(np.float64(0.0), 1.0) > 0.0


def test_unroll_mask_is_refused_with_the_backend_that_has_it():
    env = _env("native")
    env.record_spikes()
    with pytest.raises(ConfigError, match=r"needs a differentiable backend.*backend='jax'"):
        env.run(10, unroll="mask")


# ---------------------------------------------------------------------- parity with JAX
@pytest.mark.parametrize("kind", ["EXC", "INH"])
@pytest.mark.parametrize("amp", AMPS)
def test_isolated_cells_match_the_jax_engine(isolated, kind, amp):
    """Spike counts within 5 % (they are equal) and spike times within 0.1 ms over the
    first 100 ms (measured: ≤ 0.02 ms)."""
    name, jax_t, b2_t = isolated
    tj, tb = jax_t[(kind, amp)], b2_t[(kind, amp)]
    assert abs(len(tb) - len(tj)) <= 0.05 * len(tj), (name, kind, amp, len(tj), len(tb))
    early = tj[tj < 100.0]
    if len(early):
        assert len(tb) >= len(early)
        np.testing.assert_allclose(tb[: len(early)], early, atol=0.1)


def test_network_without_noise_matches_the_jax_engine():
    """Synapses, delays, AMPA depression and the NMDA block: EI1 under a somatic stimulus
    gives the same spikes (order and times within 0.05 ms) and the same recordings."""
    res = {}
    for backend in ("jax", "native"):
        env = _env(backend)
        env.set_noise({"enabled": False})
        env.record_spikes()
        env.record_voltage()
        env.record_membrane_current()
        n = env.system.num_neurons
        amps = np.random.default_rng(0).uniform(0.0, 0.6, n).astype(np.float32)
        res[backend] = env.run(300, Stimulus(np.tile(amps, (300, 1)), dt=1.0))
    a, b = res["jax"], res["native"]
    assert len(a.it) > 50
    np.testing.assert_array_equal(a.it, b.it)
    np.testing.assert_allclose(a.t, b.t, atol=0.05)
    assert np.median(np.abs(a.v - b.v)) < 1e-2  # mV (float32 vs float64): the same instants
    assert np.median(np.abs(a.mp - b.mp)) < 1e-3  # nA


@pytest.mark.slow
def test_culture_without_noise_matches_the_jax_engine():
    """EI2 (100 cells), 1 s under a fixed somatic stimulus.

    The culture is chaotic: a 1e-6 relative change of the stimulus makes spike trains part
    after ~280 ms, and the two engines' float32 rounding (XLA's and the C compiler's fast
    math) does the same. So per-cell counts are identical over the first 200 ms;
    over 1 s the population rate agrees within 10 % (measured 2.5 %) and the per-cell
    counts within 10 % in L1 (Σ|Δcount| / Σcount).
    """
    res = {}
    for backend in ("jax", "native"):
        env = _env(backend, system="EI2")
        env.set_noise({"enabled": False})
        env.record_spikes()
        n = env.system.num_neurons
        amps = np.random.default_rng(1).uniform(0.0, 0.6, n).astype(np.float32)
        res[backend] = env.run(1000, Stimulus(np.tile(amps, (1000, 1)), dt=1.0))
    a, b = res["jax"], res["native"]
    early = [np.bincount(r.it[r.t < 200.0], minlength=n) for r in (a, b)]
    np.testing.assert_array_equal(early[1], early[0])
    ca, cb = np.bincount(a.it, minlength=n), np.bincount(b.it, minlength=n)
    assert ca.sum() > 1000
    assert abs(cb.sum() - ca.sum()) <= 0.1 * ca.sum()
    assert np.abs(cb - ca).sum() <= 0.1 * ca.sum()


@pytest.mark.slow
def test_culture_with_noise_matches_the_jax_engine_statistically():
    """EI2 with background noise (independent streams): rate within 20 %."""
    rates = {}
    for backend in ("jax", "native"):
        env = _env(backend, system="EI2")
        env.record_spikes()
        it, *_ = env.run(1000)
        rates[backend] = len(it) / env.system.num_neurons
    assert rates["jax"] > 0.5
    assert abs(rates["native"] - rates["jax"]) <= 0.2 * rates["jax"]

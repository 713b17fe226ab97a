"""livn 2.0.0's remaining ``Env`` names (UPSTREAM-API.md §1): recordings, noise streams,
recording dt, initial voltage, gids, admissible parameters, electrode coordinates and gains;
and the refused ones (selection, plasticity). Each checked for what it does."""

from __future__ import annotations

import numpy as np
import pytest

from livn.env import Env
from livn.errors import ConfigError
from livn.io import MEA
from livn.io.stimulation import orientations
from livn.models.izhikevich import Izhikevich
from livn.models.lif import LIF
from livn.system import ParallelSystem

DURATION = 5.0  # ms


def _env(seed: int = 3, **kwargs) -> Env:
    env = Env("EI1", seed=seed, **kwargs).init().apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    return env


# ---------------------------------------------------------------------------- recordings
def test_clear_recordings_drops_the_requests_and_keeps_the_state():
    a, b = _env(), _env()
    a.run(DURATION), b.run(DURATION)
    assert a.clear_recordings() is a
    assert a.active_populations() == []
    empty = a.run(DURATION)
    assert empty.it is None and empty.iv is None and empty.v is None
    b.run(DURATION)
    assert a.t == b.t == 2 * DURATION
    a.record_voltage()
    np.testing.assert_array_equal(a.run(DURATION).v, b.run(DURATION).v)  # same culture


def test_active_populations_and_gids_follow_the_recording_requests():
    env = Env("EI1").init()
    assert env.active_populations() == [] and len(env.active_gids()) == 0
    env.record_spikes("INH")
    env.record_voltage("EXC", gids=[1, 2])
    assert env.active_populations() == ["EXC", "INH"]
    np.testing.assert_array_equal(env.active_gids(), [1, 2, 8, 9])
    res = env.run(DURATION)
    assert set(res.iv.tolist()) | set(res.it.tolist()) <= set(env.active_gids().tolist())
    env.record_membrane_current("EXC")
    np.testing.assert_array_equal(env.active_gids(), np.arange(10))
    np.testing.assert_array_equal(env.simulated_gids(), np.arange(10))


# ---------------------------------------------------------------------------- noise
def test_reseed_noise_continues_the_culture_under_new_noise():
    a, b, c = _env(), _env(), _env()
    for e in (a, b, c):
        e.run(DURATION)
    before = a.seed
    assert a.reseed_noise() is a and c.reseed_noise() is c
    assert a.seed != before and a.t == DURATION  # the clock is not reset
    cleared = _env()
    cleared.clear(reseed=True)
    assert a.seed == cleared.seed  # the same next seed as clear(reseed=True)
    va, vb, vc = (e.run(DURATION).v for e in (a, b, c))
    assert not np.array_equal(va, vb)  # other noise from now on
    np.testing.assert_array_equal(va, vc)  # reproducible
    assert np.all(np.abs(va[:, 0] - vb[:, 0]) < 5.0)  # the same state, continued


def test_reseed_noise_stream_is_the_seed_and_the_same_seed_changes_nothing():
    a, b = _env(), _env()
    a.run(DURATION), b.run(DURATION)
    a.reseed_noise(stream=a.seed)
    np.testing.assert_array_equal(a.run(DURATION).v, b.run(DURATION).v)
    a.reseed_noise(stream=77)
    assert a.seed == 77
    with pytest.raises(ConfigError, match="reseed_noise stream"):
        a.reseed_noise(stream=-1)


# ---------------------------------------------------------------------------- model facts
def test_voltage_recording_dt_is_the_spacing_of_the_voltage_samples():
    env = Env(1, model=LIF(dt=0.05, record_dt=0.2)).init()
    env.record_voltage()
    assert env.voltage_recording_dt == 0.2
    assert env.run(4.0).v.shape == (1, round(4.0 / env.voltage_recording_dt))


def test_v_init_is_the_models_initial_somatic_voltage():
    assert Env(1).v_init == -75.0  # RCSD
    assert Env({"EXC": 1, "INH": 1}, model=LIF(v_init=-63.0)).v_init == -63.0
    env = Env(1, model=LIF(v_init=-63.0, v_th=100.0), seed=1).init()
    env.set_noise({"enabled": False})
    env.record_voltage()
    assert abs(env.run(0.1).v[0, 0] - (-60 + (-63 + 60) * np.exp(-0.1 * 0.01 / 0.2))) < 1e-4
    with pytest.raises(ConfigError, match="different somatic voltages"):
        _ = Env(3, model=LIF(v_init="uniform")).v_init
    with pytest.raises(ConfigError, match=r"-65, -55"):
        _ = Env({"EXC": 1, "INH": 1}, model=Izhikevich(excitatory="IB")).v_init


def test_admissible_params_are_exactly_what_set_params_accepts():
    env = Env("EI1").init()
    keys = env.admissible_params()
    assert [k for k in keys if k.startswith("weight-")] == [f"weight-{k}" for k in env.weight_names]
    assert "noise-g_e0" in keys and "noise-INH-tau_i" in keys and "io-output_radius" in keys
    values = {"noise-enabled": True}
    for k in keys:
        values.setdefault(k, 0.5 if not k.startswith("io-") else 100.0)
    env.set_params(values)
    assert env.io.output_radius == 100.0
    assert "noise-E_e" not in keys
    with pytest.raises(ConfigError):
        env.set_params({"noise-E_e": 5.0})


# ---------------------------------------------------------------------------- electrodes
def test_electrode_coordinates_come_from_the_io_device():
    env = Env("EI1")
    np.testing.assert_array_equal(env.stimulus_coordinates(), env.io.electrode_coordinates)
    np.testing.assert_array_equal(env.recording_coordinates(), env.io.electrode_coordinates)
    from livn.io import ComposedIO

    rec = MEA.grid(2, 2, pitch=500.0)
    env = Env("EI1", io=ComposedIO(MEA(), rec))
    assert env.stimulus_coordinates().shape == (16, 4)
    np.testing.assert_array_equal(env.recording_coordinates(), rec.electrode_coordinates)
    with pytest.raises(ConfigError, match="stimulus_coordinates needs an IO device"):
        Env(2).stimulus_coordinates()


def _distances(env) -> np.ndarray:
    xyz = np.asarray(env.system.neuron_coordinates)[:, 1:]
    el = env.io.electrode_coordinates[:, 1:]
    return np.sqrt(((el[:, None, :] - xyz[None, :, :]) ** 2).sum(-1))  # [C, N]


def test_channel_reach_is_the_point_source_rule():
    env = Env("EI1")
    d = _distances(env)
    expected = 1000 * 3.5 / (4 * np.pi * np.sqrt(d**2 + 52.2**2))  # mV/µA (SPEC §3)
    np.testing.assert_allclose(env.channel_reach(), expected, rtol=1e-12)
    at_origin = Env(1, io=MEA([[0, 0.0, 0.0, 0.0]])).channel_reach()
    np.testing.assert_allclose(at_origin, [[5.336]], atol=1e-3)


def test_source_gain_is_what_potential_recording_applies():
    env = Env("EI1", io=MEA(output_radius=1500.0))
    d = _distances(env)
    expected = np.where(d <= 1500.0, 1 / (4 * np.pi * 0.3 * (d + 5) / 1000), 0.0)  # µV/nA
    gain = env.source_gain()
    np.testing.assert_allclose(gain, expected, rtol=1e-12)
    assert np.count_nonzero(gain) > 0
    currents = np.random.default_rng(0).normal(size=(10, 7))
    np.testing.assert_allclose(env.potential_recording(currents), gain @ currents, rtol=1e-10)


def test_neuron_gain_is_the_activating_current_into_the_soma():
    model = LIF()
    env = Env("EI1", model=model).init()
    xyz = np.asarray(env.system.neuron_coordinates)[:, 1:]
    theta = orientations(10)
    axon = xyz - model.axon_length * np.stack([np.cos(theta), np.sin(theta), 0 * theta], 1)
    field = env.io.field  # mV per µA at points (the rule itself is checked above)
    expected = model.axon_g * (field(axon) - field(xyz)).T  # nA per µA, [C, N]
    np.testing.assert_allclose(env.neuron_gain(), expected, rtol=1e-5, atol=1e-9)
    assert np.abs(expected).max() > 0


# ---------------------------------------------------------------------------- refused
def test_selection_is_refused_naming_the_alternatives():
    with pytest.raises(ConfigError, match=r"record_voltage\(gids=...\)"):
        Env("EI1").selection({"EXC": 2}, method="random")


def test_plasticity_is_refused_and_disable_is_a_no_op():
    env = Env(ParallelSystem(1)).init()
    assert env.disable_plasticity() is env
    for call in (
        env.enable_plasticity,
        env.get_weights,
        env.normalize_weights,
        lambda: env.record_weights(1.0),
    ):
        with pytest.raises(ConfigError, match=r"no synaptic plasticity.*set_weights"):
            call()

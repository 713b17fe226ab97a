"""livn 2.0.0 stimulus forms (UPSTREAM-API §3, §6): ``Stimulus(input_mode=, units=,
sections=)``, the ``from_*`` constructors, ``to_array``/``resample``/``align_gids``/``len``, and
the ``livn.policy`` electrode pulse policies played through ``Stimulus.from_arg``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from livn.errors import ConfigError
from livn.policy import (
    BiphasicPulsePolicy,
    ElectrodePolicy,
    MonophasicPulsePolicy,
    PulseSweepPolicy,
)
from livn.stimulus import CANONICAL_UNITS, INPUT_MODES, Stimulus, soma_area_cm2


# ---------------------------------------------------------------------------- modes, units
def test_bare_array_is_somatic_current_injection():
    """Seed 004: a bare array is current in nA into cells (not 2.0.0's extracellular mV)."""
    s = Stimulus(np.zeros((100, 10)))
    assert (s.space, s.input_mode, s.units, s.sections) == ("cells", "current", "nA", None)
    assert Stimulus.from_arg(np.zeros((4, 2))).input_mode == "current"


def test_from_current_and_density_constructors():
    x = np.ones((5, 3))
    s = Stimulus.from_current(x)
    assert (s.input_mode, s.units, s.dt, s.space) == ("current", "nA", 0.1, "cells")
    d = Stimulus.from_current_density(x, dt=0.5, gids=[4, 1, 2], units="mA/cm2")
    assert (d.input_mode, d.units, d.dt) == ("current_density", "mA/cm2", 0.5)
    np.testing.assert_array_equal(d.gids, [4, 1, 2])
    assert Stimulus(x, input_mode="current", units="nA", sections="soma").sections == "soma"
    with pytest.raises(ConfigError, match=r"unsupported Stimulus\.from_current arguments: foo"):
        Stimulus.from_current(x, foo=1)


@pytest.mark.parametrize("mode,bad", [("current", "mA"), ("current", "uA"),
                                      ("current_density", "nA"), ("current_density", 3)])  # fmt: skip
def test_units_other_than_the_modes_are_refused(mode, bad):
    with pytest.raises(ValueError, match=r"units .* do not fit input_mode") as info:
        Stimulus(np.zeros((2, 2)), input_mode=mode, units=bad)
    assert repr(CANONICAL_UNITS[mode]) in str(info.value)
    assert isinstance(info.value, ConfigError)


def test_channels_units_and_misplaced_arguments():
    s = Stimulus(np.zeros((2, 16)), space="channels", units="µA")
    assert (s.input_mode, s.units) == ("electrode", "uA")
    with pytest.raises(ConfigError, match="units 'nA' do not fit electrode currents"):
        Stimulus(np.zeros((2, 16)), space="channels", units="nA")
    with pytest.raises(ConfigError, match="input_mode='current' applies to space='cells'"):
        Stimulus(np.zeros((2, 16)), space="channels", input_mode="current")
    with pytest.raises(ConfigError, match="gids apply to space='cells'"):
        Stimulus(np.zeros((2, 2)), space="channels", gids=[0, 1])
    with pytest.raises(ConfigError, match="pass input_mode='current'"):
        Stimulus(np.zeros((2, 2)), 1.0, None, "current")  # 2.0.0's 4th positional


@pytest.mark.parametrize("mode", ["extracellular", "conductance", "irradiance"])
def test_modes_without_an_engine_counterpart_are_refused(mode):
    with pytest.raises(ConfigError, match=f"input_mode='{mode}' is not supported") as info:
        getattr(Stimulus, f"from_{mode}")(np.zeros((3, 2)))
    msg = str(info.value)
    assert "'current', 'current_density'" in msg and "space='channels'" in msg
    with pytest.raises(ConfigError, match="not supported"):
        Stimulus(np.zeros((3, 2)), input_mode=mode)


def test_unknown_mode_and_deferred_array():
    with pytest.raises(ConfigError, match="Did you mean 'current'") as info:
        Stimulus(np.zeros((3, 2)), input_mode="curent")
    assert all(m in str(info.value) for m in INPUT_MODES)
    with pytest.raises(ConfigError, match="deferred stimuli"):
        Stimulus(dt=1.0)


def test_sections_soma_only():
    assert Stimulus(np.zeros((2, 3)), sections=["soma"] * 3).sections == "soma"
    for bad, why in [("dend", "got section 'dend'"), (["soma", "axon", "soma"], "'axon'"),
                     (["soma"] * 2, "2 sections for 3 columns"), ([], "empty")]:  # fmt: skip
        with pytest.raises(ConfigError, match=why):
            Stimulus(np.zeros((2, 3)), sections=bad)
    with pytest.raises(ConfigError, match="sections apply to space='cells'"):
        Stimulus(np.zeros((2, 3)), space="channels", sections="soma")


# ---------------------------------------------------------------------------- arrays
def test_len_is_columns():
    assert len(Stimulus(np.zeros((7, 3)))) == 3
    assert len(Stimulus(np.zeros((1, 16)), space="channels")) == 16


def test_to_array_interpolates_linearly_and_holds_the_last_value():
    s = Stimulus(np.array([[0.0, 1.0], [10.0, 1.0], [20.0, -1.0]]), dt=1.0)
    out = s.to_array(3.0, 0.5)  # int(3 / 0.5) + 1 = 7 rows at t = 0, 0.5, …, 3
    assert out.dtype == np.float32 and out.shape == (7, 2)
    np.testing.assert_allclose(out[:, 0], [0, 5, 10, 15, 20, 20, 20], atol=1e-6)
    np.testing.assert_allclose(out[:, 1], [1, 1, 1, 0, -1, -1, -1], atol=1e-6)
    assert s.to_array(1.0, 0.3).shape == (4, 2)  # int(3.33) + 1
    assert s.to_array(0.0, 0.5).shape == (1, 2)


def test_resample_row_count_and_values():
    s = Stimulus(np.array([[0.0], [10.0], [20.0], [30.0]]), dt=1.0, gids=[7])
    r = Stimulus.resample(s, 0.5, 2.0)  # round(2 / 0.5) = 4 rows
    assert isinstance(r, Stimulus) and r.dt == 0.5 and r.num_steps == 4
    np.testing.assert_allclose(r.array[:, 0], [0, 5, 10, 15], atol=1e-6)
    np.testing.assert_array_equal(r.gids, [7])
    coarse = Stimulus.resample(s, 2.0, 5.0)  # round(2.5) = 2 rows (banker's rounding)
    np.testing.assert_allclose(coarse.array[:, 0], [0, 20], atol=1e-6)
    with pytest.raises(ConfigError, match="target_dt"):
        Stimulus.resample(s, 0.0, 2.0)


def test_align_gids_pads_and_orders():
    s = Stimulus(np.array([[1.0, 2.0], [3.0, 4.0]]), dt=1.0, gids=[5, 2])
    a = Stimulus.align_gids(s, [1, 2, 3, 5])
    np.testing.assert_array_equal(a.gids, [1, 2, 3, 5])
    np.testing.assert_array_equal(a.array, [[0, 2, 0, 1], [0, 4, 0, 3]])
    plain = Stimulus.align_gids(Stimulus(np.ones((1, 2))), [3, 1, 0])  # no gids: cells 0, 1
    np.testing.assert_array_equal(plain.array, [[0, 1, 1]])
    with pytest.raises(ValueError, match="stimulus gid 5 is not in all_gids"):
        Stimulus.align_gids(s, [1, 2, 3])
    with pytest.raises(ConfigError, match="space='cells'"):
        Stimulus.align_gids(Stimulus(np.ones((1, 16)), space="channels"), range(16))


def test_fewer_columns_than_cells_are_the_first_cells():
    s = Stimulus(np.zeros((5, 3)))
    s.check_cells(10)
    np.testing.assert_array_equal(s.gids, [0, 1, 2])
    with pytest.raises(ConfigError, match="11 columns but the system has 10 cells"):
        Stimulus(np.zeros((5, 11))).check_cells(10)


# ---------------------------------------------------------------------------- current density
@pytest.fixture(scope="module")
def ei1():
    from livn.env import Env

    env = Env("EI1", seed=3).init()
    env.apply_model_defaults()
    yield env
    env.close()


def test_current_density_uses_the_somatic_area(ei1):
    # SPEC §2.1/§2.2 geometry: EXC soma 12 µm long, 8.131 µm wide; INH 24.80 × 24.80 µm
    exc = math.pi * 8.131 * 12.0 * 1e-8  # cm²
    inh = math.pi * 24.80 * 24.80 * 1e-8
    area = soma_area_cm2(ei1)
    np.testing.assert_allclose(area, [exc] * 8 + [inh] * 2, rtol=1e-6)
    j = np.array([[1.0, 2.0, 0.5]])  # mA/cm²
    s = Stimulus.from_current_density(j, dt=1.0, gids=[0, 8, 9])
    with pytest.raises(ConfigError, match=r"to_current\(env\)"):
        s.check_cells(10)
    c = Stimulus.from_arg(s, env=ei1)
    assert (c.input_mode, c.units, c.dt) == ("current", "nA", 1.0)
    np.testing.assert_allclose(c.array, [[exc * 1e6, 2 * inh * 1e6, 0.5 * inh * 1e6]], rtol=1e-6)
    np.testing.assert_array_equal(c.gids, [0, 8, 9])
    with pytest.raises(ConfigError, match="gid 12 is out of range for 10"):
        Stimulus.from_current_density(j, gids=[0, 1, 12]).to_current(ei1)


def test_current_density_needs_a_compartmental_model():
    from livn.env import Env
    from livn.models.lif import LIF

    env = Env("EI1", model=LIF()).init()
    with pytest.raises(ConfigError, match=r"LIF .* has none; give somatic current in nA"):
        Stimulus.from_current_density(np.ones((2, 10))).to_current(env)
    env.close()


# ---------------------------------------------------------------------------- policies
def test_biphasic_timing_and_charge_balance():
    p = BiphasicPulsePolicy(4, [1, 3], amplitude=2.5, phase_duration=0.2, interphase_gap=0.05,
                            pulse_times=[1.0, 0.0], dt=0.05)  # fmt: skip
    a = p()
    # 0.2 ms = 4 rows, gap 1 row; pulses at rows 0 and 20; extent 1.45 ms -> 29 rows
    assert a.dtype == np.float32 and a.shape == (29, 4)
    assert p.extent_ms == pytest.approx(1.45, rel=1e-12)
    want = np.zeros(29)
    for start in (0, 20):
        want[start : start + 4] = -2.5
        want[start + 5 : start + 9] = 2.5
    np.testing.assert_array_equal(a[:, 1], want)
    np.testing.assert_array_equal(a[:, 3], want)
    assert not a[:, [0, 2]].any()
    assert a.sum(axis=0).tolist() == [0, 0, 0, 0]  # exact charge balance, per channel
    anodic = BiphasicPulsePolicy(4, [1], amplitude=2.5, pulse_times=[0], cathodic_first=False)
    assert anodic()[0, 1] == 2.5 and anodic()[5, 1] == -2.5
    assert p(3.0).shape == (60, 4) and not p(3.0)[29:].any()


def test_monophasic_and_for_array():
    m = MonophasicPulsePolicy.for_array(3, [0], amplitude=1.5, pulse_width=2, pulse_times=[1, 5])
    assert isinstance(m, MonophasicPulsePolicy) and m.extent_ms == 7.0
    np.testing.assert_array_equal(m()[:, 0], [0, -1.5, -1.5, 0, 0, -1.5, -1.5])
    pos = MonophasicPulsePolicy(3, 2, amplitude=1.0, pulse_width=1, pulse_times=[0], cathodic=False)
    assert pos()[0].tolist() == [0, 0, 1.0]
    base = ElectrodePolicy.for_array(16, [3])
    assert base.extent_ms == 0 and not base(5.0).any() and base(5.0).shape == (5, 16)


def test_pulse_sweep_schedule_and_waveform():
    p = PulseSweepPolicy([1.0, 2.0, 3.0], repeats=2, trial_ms=10, onset_ms=5, pulse_ms=0.2,
                         dt=0.1, n_channels=2)  # fmt: skip
    sched = p.schedule()
    assert sched == [(5.0, 1.0), (15.0, 2.0), (25.0, 3.0), (35.0, 1.0), (45.0, 2.0), (55.0, 3.0)]
    assert p.extent_ms == 60.0
    a = p()
    assert a.shape == (600, 2)
    for onset, amp in sched:
        k = round(onset / 0.1)  # -amp for 2 rows, then +amp for 2 rows
        np.testing.assert_allclose(a[k : k + 4, 0], [-amp, -amp, amp, amp])
    assert np.count_nonzero(a[:, 0]) == 6 * 4 and a.sum() == 0


@pytest.mark.parametrize("make,match", [
    (lambda: BiphasicPulsePolicy(4, [0], pulse_times=[0, 0.3]), "overlap"),
    (lambda: BiphasicPulsePolicy(4, [0], phase_duration=0.13), "phase_duration=0.13 ms is not a whole"),
    (lambda: BiphasicPulsePolicy(4, [0], pulse_times=[0.02]), "pulse_times entry=0.02"),
    (lambda: BiphasicPulsePolicy(4, [4]), "channel index 4 is out of range"),
    (lambda: BiphasicPulsePolicy(4, [0], amplitude=-1), "amplitude"),
    (lambda: BiphasicPulsePolicy(4, [0], pulse_times=[]), "pulse_times is empty"),
    (lambda: PulseSweepPolicy([1.0], trial_ms=10, onset_ms=9.9), "does not fit in trial_ms"),
    (lambda: PulseSweepPolicy([], trial_ms=10, onset_ms=1), "amplitudes is empty"),
    (lambda: PulseSweepPolicy([1.0], repeats=0), "repeats"),
])  # fmt: skip
def test_bad_policies_are_refused(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_from_arg_plays_a_policy_for_the_run():
    p = BiphasicPulsePolicy(16, [0], amplitude=1.0, pulse_times=[2.0])
    s = Stimulus.from_arg(p, duration=10.0)
    assert s.space == "channels" and s.dt == 0.05 and s.array.shape == (200, 16)
    np.testing.assert_array_equal(s.array, p(10.0))
    assert Stimulus.from_policy(p).duration == pytest.approx(p.extent_ms)
    with pytest.raises(ConfigError, match=r"lasts 2\.45 ms \(extent_ms\) but the run is 2 ms"):
        Stimulus.from_arg(p, duration=2.0)
    assert Stimulus.from_arg(None, duration=5.0) is None


def test_from_arg_with_env_checks_the_channel_count(ei1):
    small = BiphasicPulsePolicy(4, [0], pulse_times=[0.0])
    with pytest.raises(ConfigError, match=r"4 columns but the MEA has 16 channels.*n_channels=16"):
        Stimulus.from_arg(small, duration=5.0, env=ei1)
    ok = Stimulus.from_arg(BiphasicPulsePolicy.for_array(ei1.io, [0]), duration=5.0, env=ei1)
    assert ok.array.shape == (100, 16)


# ---------------------------------------------------------------------------- in a run
def test_policy_drives_the_culture(ei1):
    """EI1 without noise: silent alone, spikes within a few ms of strong electrode pulses."""
    times = [10.0, 40.0]
    pol = BiphasicPulsePolicy(ei1.io.num_channels, None, amplitude=AMPLITUDE, pulse_times=times)
    ei1.record_spikes()
    res = {}
    for name, stim in (("quiet", None), ("pulsed", Stimulus.from_arg(pol, duration=70.0))):
        ei1.clear()
        ei1.set_noise({"enabled": False})
        r = ei1.run(70.0, stim)
        res[name] = np.asarray(r.t)
    assert len(res["quiet"]) == 0
    t = res["pulsed"]
    assert len(t) > 0
    for onset in times:
        assert np.any((t >= onset) & (t < onset + 5.0)), (onset, t)
    assert np.all(t >= times[0])


def test_seed_004_bare_array_on_a_larger_system():
    """Seed 004: ``Stimulus(np.random.randn(100, 10) * 0.1)`` on EI2 (100 cells) drives gids
    0–9; a strong step into those columns makes only those cells fire first."""
    from livn.env import Env

    env = Env("EI2", seed=1).init()
    env.apply_model_defaults()
    env.set_noise({"enabled": False})
    env.set_weights({k: 0.0 for k in env.weight_names})
    env.record_spikes()
    rng = np.random.default_rng(0)
    env.run(100, stimulus=Stimulus(array=rng.standard_normal((100, 10)) * 0.1, dt=1.0))
    env.clear()
    env.set_noise({"enabled": False})
    step = np.zeros((40, 10), np.float32)
    step[5:, [2, 7]] = 2.0
    r = env.run(40.0, Stimulus(step))
    assert set(np.unique(r.it).tolist()) == {2, 7}
    env.close()


AMPLITUDE = 50.0  # µA per electrode (20 µA already evokes one spike per pulse)

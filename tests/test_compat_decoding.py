"""Tests of livn 2.0.0's decoding forms: ``decoding(run, env)`` next to ours on every decoding,
and the dict decodings of :mod:`livn.legacy_decoding` (``from livn.decoding import LFP`` …).

Every expectation is worked out by hand from a hand-built spike train or current, computed here
by a different method (loops, ``np.histogram``, the point-source formula in SI units), or a
known statistical value with a stated tolerance under a fixed seed.
"""

from __future__ import annotations

import math
import subprocess
import sys
import types

import numpy as np
import pytest

from livn.decoding import (
    CultureStatistics,
    Decoding,
    MeanFiringRate,
    Raw,
    Recording,
    firing_rates,
)
from livn.errors import ConfigError
from livn.io.mea import MEA
from livn.result import RunResult

# --------------------------------------------------------------------------- helpers


def fake_env(n: int = 4, coords=None, io=None, record_dt: float = 0.1, ranges=None):
    """What a decoding reads from an Env: the system's cells, the MEA and the model's dt."""
    if coords is None:
        coords = np.column_stack([np.arange(n), np.arange(n) * 100.0, np.zeros(n), np.zeros(n)])
    system = types.SimpleNamespace(num_neurons=n, neuron_coordinates=np.asarray(coords, float),
                                   population_ranges=ranges or {"EXC": (0, n)})  # fmt: skip
    return types.SimpleNamespace(system=system, io=io or MEA(),
                                 model=types.SimpleNamespace(record_dt=record_dt))  # fmt: skip


def spikes_run(it, t, duration=1000.0):
    return RunResult(np.asarray(it), np.asarray(t, float), None, None, duration=duration)


def loop_isi_cv(it, t, min_spikes=3):
    cvs = []
    for cell in np.unique(it):
        isi = np.diff(np.sort(t[it == cell]))
        if len(isi) + 1 >= min_spikes:
            cvs.append(np.std(isi) / np.mean(isi))
    return float(np.mean(cvs)), len(cvs)


# --------------------------------------------------------------------------- both call forms


def test_mean_firing_rate_has_our_array_and_the_upstream_dict():
    env = fake_env(4)
    it, t = np.array([0, 0, 1, 3, 3, 3]), np.array([1.0, 2.0, 3.0, 4.0, 5.0, 900.0])
    d = MeanFiringRate(duration=1000.0)
    ours = d(env, it, t, None, None)
    np.testing.assert_array_equal(ours, [2.0, 1.0, 0.0, 3.0])  # spikes / 1 s
    theirs = d(spikes_run(it, t), env)
    assert theirs == {"rate_hz": 6 / (3 * 1.0), "total_spikes": 6, "n_units": 3,
                      "duration_s": 1.0}  # fmt: skip
    # the run's own duration is the window: 500 ms keeps 5 spikes from 3 cells
    short = d(spikes_run(it, t, duration=500.0), env)
    assert short == {"rate_hz": 5 / (3 * 0.5), "total_spikes": 5, "n_units": 3, "duration_s": 0.5}
    assert d(spikes_run([], []), env) == {"rate_hz": 0.0, "total_spikes": 0, "n_units": 0,
                                          "duration_s": 1.0}  # fmt: skip


def test_keyword_and_tuple_run_forms():
    env = fake_env(4)
    it, t = np.array([0, 1]), np.array([1.0, 2.0])
    d = MeanFiringRate(duration=100.0)
    expected = {"rate_hz": 10.0, "total_spikes": 2, "n_units": 2, "duration_s": 0.1}
    assert d(run=spikes_run(it, t, None), env=env) == expected
    assert d((it, t, None, None), env) == expected  # a plain tuple: duration from the decoding
    np.testing.assert_array_equal(d(env=env, it=it, t=t, iv=None, v=None), [10, 10, 0, 0])


def test_other_decodings_give_the_same_result_in_both_forms():
    env = fake_env(4)
    rng = np.random.default_rng(0)
    it = rng.integers(0, 4, 200)
    t = np.sort(rng.uniform(0, 1000, 200))
    run = spikes_run(it, t)
    assert CultureStatistics(1000.0)(run, env) == CultureStatistics(1000.0)(env, it, t, None, None)
    out = Raw(1000.0)(run, env)
    assert isinstance(out, Recording) and out.it is run.it and out.t is run.t and out.v is None


def test_a_bad_run_in_the_upstream_form_is_refused():
    with pytest.raises(ConfigError, match="decoding\\(run, env\\)"):
        MeanFiringRate(duration=10.0)({"spikes": 1}, fake_env())


def test_user_subclasses_in_either_form_take_both_forms():
    seen = {}

    class Upstream(Decoding):  # livn 2.0.0 style
        def __call__(self, run, env):
            seen["run"] = run
            return len(run.spike_ids)

    class Ours(Decoding):
        def __call__(self, env, it, t, iv, v, im=None, mp=None):
            seen["args"] = (it, t, iv, v, im, mp)
            return "ours"

    env = fake_env(2, record_dt=0.5)
    it, t, v = np.array([1, 0, 1]), np.array([1.0, 2.0, 3.0]), np.zeros((2, 4))
    assert Upstream(duration=20.0)(env, it, t, np.array([0, 1]), v) == 3
    run = seen["run"]
    assert isinstance(run, RunResult) and run.spike_ids is it and run.voltage is v
    assert run.duration == 20.0 and run.voltage_dt == 0.5 and run.t0 == 0.0
    assert run.current is None and len(run) == 4
    assert (
        Ours(duration=20.0)(RunResult(it, t, None, v, np.array([0]), v[:1], full=True), env)
        == "ours"
    )
    got = seen["args"]
    assert got[0] is it and got[3] is v and got[4].tolist() == [0] and got[5].shape == (1, 4)


def test_setup_is_a_no_op_hook():
    env = fake_env()
    assert MeanFiringRate(duration=10.0).setup(env) is None  # a SimpleNamespace: no record_*


def test_base_is_abstract_in_both_forms():
    with pytest.raises(NotImplementedError):
        Decoding(duration=10.0)(None, None, None, None, None)


def test_env_call_keeps_our_form_and_run_form_matches():
    from livn.env import Env

    env = Env("EI1", backend="native", seed=3).init().apply_model_defaults()
    env.record_spikes()
    rates = env(MeanFiringRate(duration=60.0))
    assert isinstance(rates, np.ndarray) and rates.shape == (10,)
    run = env.run(60.0)
    summary = MeanFiringRate(duration=60.0)(run, env)
    it = np.asarray(run.spike_ids)
    assert summary["total_spikes"] == len(it)
    assert summary["n_units"] == len(np.unique(it))
    np.testing.assert_allclose(MeanFiringRate(duration=60.0)(env, *run),
                               firing_rates(it, run.spike_times, 10, 60.0))  # fmt: skip


def test_legacy_names_load_lazily_from_livn_decoding():
    code = ("import sys, livn.decoding as d; assert 'livn.legacy_decoding.lfp' not in sys.modules;"
            " from livn.decoding import LFP; from livn.legacy_decoding.lfp import LFP as L;"
            " assert LFP is L; print('ok')")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
    import livn.decoding as dec

    for name in dec._LEGACY:
        assert name in dec.__all__ and getattr(dec, name) is not None
    with pytest.raises(AttributeError):
        dec.NotADecoding  # noqa: B018


# --------------------------------------------------------------------------- spike statistics


def test_isicv_poisson_is_near_one_and_periodic_is_zero():
    from livn.decoding import ISICV

    rng = np.random.default_rng(7)
    its, ts = [], []
    for cell in range(20):
        times = np.cumsum(rng.exponential(10.0, 400))  # 100 Hz Poisson, ~4 s
        its.append(np.full(len(times), cell))
        ts.append(times)
    it, t = np.concatenate(its), np.concatenate(ts)
    env = fake_env(20)
    out = ISICV(duration=1e6)(spikes_run(it, t, None), env)
    ref, n = loop_isi_cv(it, t)
    assert out["n_units"] == n == 20
    assert out["isi_cv"] == pytest.approx(ref, rel=1e-12)
    assert abs(out["isi_cv"] - 1.0) < 0.05  # CV of 400 exponential intervals: sd ≈ 0.035
    periodic = ISICV(duration=1000.0)(env, np.zeros(50, int), np.arange(50) * 20.0, None, None)
    assert periodic["isi_cv"] == pytest.approx(0.0, abs=1e-12) and periodic["n_units"] == 1


def test_isicv_without_enough_spikes_is_nan():
    from livn.decoding import ISICV

    out = ISICV(duration=100.0, min_spikes=3)(spikes_run([0, 0, 1], [1.0, 2.0, 3.0], 100.0),
                                              fake_env())  # fmt: skip
    assert math.isnan(out["isi_cv"]) and out["n_units"] == 0 and out["cv"].size == 0


def test_active_fraction_counts_cells_with_enough_spikes():
    from livn.decoding import ActiveFraction

    run = spikes_run([0, 0, 2, 3, 3, 3], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 100.0)
    env = fake_env(5)
    assert ActiveFraction(duration=100.0)(run, env) == {"active_fraction": 3 / 5, "n_active": 3,
                                                        "n_units": 5}  # fmt: skip
    assert ActiveFraction(duration=100.0, min_spikes=2)(run, env)["n_active"] == 2
    pop = fake_env(5, ranges={"A": (0, 2), "B": (2, 3)})
    assert ActiveFraction(duration=100.0, population="B")(run, pop)["active_fraction"] == 2 / 3


def test_burst_rate_counts_hand_built_bursts():
    from livn.decoding import BurstRate

    # 10 cells; all fire within 5 ms at 100 and 600 ms; one background spike per cell
    it = np.concatenate([np.arange(10), np.arange(10), np.arange(10)])
    t = np.concatenate([100 + np.arange(10) * 0.5, 600 + np.arange(10) * 0.5,
                        np.linspace(300, 450, 10)])  # fmt: skip
    out = BurstRate(duration=1000.0)(spikes_run(it, t), fake_env(10))
    assert out["n_bursts"] == 2 and out["burst_rate_hz"] == 2.0
    np.testing.assert_array_equal(out["bursts"], [[100.0, 110.0], [600.0, 610.0]])


# --------------------------------------------------------------------------- PSTH, response


def test_psth_matches_histogram_reference():
    from livn.decoding import PeriStimulusHistogram

    rng = np.random.default_rng(3)
    it = rng.integers(0, 5, 300)
    t = rng.uniform(0, 1000, 300)
    onsets = [200.0, 500.0, 800.0]
    d = PeriStimulusHistogram(duration=1000.0, onset_ms=onsets, pre_ms=50.0, post_ms=100.0,
                              bin_ms=10.0)  # fmt: skip
    out = d(spikes_run(it, t), fake_env(5))
    edges = np.arange(-50.0, 100.0 + 1e-9, 10.0)
    ref = sum(np.histogram(t - o, bins=edges)[0] for o in onsets)  # closed last bin: no tie here
    np.testing.assert_array_equal(out["counts"], ref)
    np.testing.assert_allclose(out["bin_edges_ms"], edges)
    np.testing.assert_allclose(out["psth_hz"], ref / (3 * 5 * 0.010))
    assert out["n_trials"] == 3 and out["n_units"] == 5


def test_psth_windows_are_half_open():
    from livn.decoding import PeriStimulusHistogram

    d = PeriStimulusHistogram(duration=100.0, onset_ms=10.0, pre_ms=10.0, post_ms=20.0,
                              bin_ms=10.0)  # fmt: skip
    out = d(spikes_run([0, 0, 0, 0], [0.0, 10.0, 29.999, 30.0], 100.0), fake_env(1))
    np.testing.assert_array_equal(out["counts"], [1, 1, 1])  # 30.0 = onset + post is outside


def test_stimulus_response_hand_computed():
    from livn.decoding import StimulusResponse, stimulus_response

    # baseline: one spike per 100 ms over [0, 1000) → 10 of 100 bins at 1/(2·0.01 s) = 50 Hz
    base_t = np.arange(10) * 100.0 + 5.0
    resp_t = np.array([1023.0, 1024.0, 1031.0, 1032.0, 1045.0])
    it = np.concatenate([np.zeros(10, int), [0, 1, 0, 1, 0]])
    t = np.concatenate([base_t, resp_t])
    out = stimulus_response(it, t, 2, 1000.0, window_ms=50.0, pre_ms=1000.0, post_ms=500.0,
                            bin_size=10.0, tail_ms=4000.0, threshold_k=3.0)  # fmt: skip
    mu, sigma = 5.0, 50.0 * math.sqrt(0.1 * 0.9)  # θ = 5 + 3·15 = 50 Hz: single-spike bins fail
    assert out["evoked_rate_hz"] == pytest.approx(5 / (2 * 0.05))
    assert out["response_gain"] == pytest.approx(50.0 / mu)
    assert out["response_peak_hz"] == pytest.approx(2 / (2 * 0.01))
    assert out["response_latency_ms"] == 20.0 and out["response_duration_ms"] == 20.0
    assert out["response_probability"] == 1.0
    assert mu + 3 * sigma == pytest.approx(50.0)
    dec = StimulusResponse(duration=2000.0, onset_ms=1000.0, window_ms=50.0)
    assert dec(spikes_run(it, t, 2000.0), fake_env(2)) == pytest.approx(out, nan_ok=True)


def test_stimulus_response_without_baseline_or_response():
    from livn.decoding import stimulus_response

    out = stimulus_response([0], [500.0], 1, 100.0, window_ms=10.0, pre_ms=100.0, post_ms=300.0,
                            tail_ms=300.0)  # fmt: skip
    assert math.isnan(out["response_gain"]) and math.isnan(out["response_latency_ms"])
    assert out["response_duration_ms"] == 0.0 and out["evoked_rate_hz"] == 0.0
    # with a zero baseline any spike is a response: the one at 400 ms after the onset
    late = stimulus_response([0], [500.0], 1, 100.0, window_ms=10.0, pre_ms=100.0)
    assert late["response_latency_ms"] == 400.0 and late["response_duration_ms"] == 10.0
    with pytest.raises(ConfigError, match="window_ms"):
        stimulus_response([0], [1.0], 1, 0.0, window_ms=0.0)
    with pytest.raises(TypeError):
        stimulus_response([0], [1.0], 1, 0.0)  # window_ms is required, by keyword


# --------------------------------------------------------------------------- Pipe, Slice


def test_pipe_of_slice_and_rate():
    from livn.decoding import Pipe, Slice

    env = fake_env(4)
    run = spikes_run([0, 1, 2, 3], [5.0, 15.0, 25.0, 35.0], 100.0)
    pipe = Pipe([Slice(10.0, 30.0), MeanFiringRate(duration=100.0)])
    assert pipe.duration == 100.0 and pipe.needs == ("spikes",)
    expected = {"rate_hz": 2 / (2 * 0.02), "total_spikes": 2, "n_units": 2, "duration_s": 0.02}
    assert pipe(run, env) == expected
    assert pipe(env, *run) == expected  # our form: the recordings become a run of 100 ms


def test_pipe_none_result_keeps_data_and_setup_runs_stages():
    from livn.decoding import Pipe, Slice

    calls = []
    pipe = Pipe([lambda data, env: calls.append(data.duration), Slice(0.0, 50.0)], duration=80.0)
    out = pipe(spikes_run([0, 0], [10.0, 60.0], 80.0), fake_env(1))
    assert calls == [80.0] and out.duration == 50.0 and out.spike_times.tolist() == [10.0]
    assert Slice(5.0, 40.0).duration == 40.0 and Slice(5.0).duration is None
    assert Pipe([Slice(0.0, 20.0), Slice(0.0, 60.0)]).duration == 60.0


@pytest.mark.parametrize("make", [lambda: Pipe([]), lambda: Pipe([3]), lambda: Pipe("ab"),
                                  lambda: Slice(-1.0), lambda: Slice(5.0, 5.0),
                                  lambda: Slice(0.0, 10.0, duration=0)])  # fmt: skip
def test_pipe_and_slice_refuse_bad_arguments(make):
    with pytest.raises(ConfigError):
        make()


from livn.decoding import Pipe, Slice  # noqa: E402  (used by the parametrized lambdas above)

# --------------------------------------------------------------------------- LFP


def test_lfp_of_one_known_current_is_the_point_source_formula():
    from livn.decoding import LFP

    # one cell 100 µm (3D) from electrode 0; electrode 1 far away (out of reach)
    io = MEA(np.array([[0, 0.0, 0.0, 0.0], [1, 5000.0, 0.0, 0.0]]), output_radius=250.0)
    env = fake_env(1, coords=[[0, 60.0, 80.0, 0.0]], io=io, record_dt=0.1)
    current = np.linspace(-2.0, 3.0, 40)[None, :]  # nA
    run = RunResult(None, None, None, None, np.array([0]), current, full=True, duration=4.0,
                    record_dt=0.1)  # fmt: skip
    out = LFP(duration=4.0, downsample_hz=None)(run, env)
    r_m = (100.0 + 5.0) * 1e-6
    expected = current[0] * 1e-9 / (4 * math.pi * 0.3 * r_m) * 1e6  # µV
    np.testing.assert_allclose(out["lfp"][0], expected, rtol=1e-12)
    np.testing.assert_array_equal(out["lfp"][1], 0.0)
    assert out["sample_rate_hz"] == 10_000.0 and out["n_channels"] == 2 and out["n_samples"] == 40
    only = LFP(duration=4.0, downsample_hz=None, channels=[1, 0])(run, env)
    np.testing.assert_array_equal(only["lfp"], out["lfp"][::-1])
    np.testing.assert_array_equal(only["channel_ids"], [1, 0])


def lfp_of(signal, **kw):
    from livn.decoding import LFP

    io = MEA(np.array([[0, 0.0, 0.0, 0.0]]))
    env = fake_env(1, coords=[[0, 0.0, 0.0, 0.0]], io=io, record_dt=0.1)
    scale = 1e-9 / (4 * math.pi * 0.3 * 5e-6) * 1e6  # µV per nA at r = 5 µm
    run = RunResult(None, None, None, None, np.array([0]), np.asarray(signal)[None, :] / scale,
                    full=True, duration=len(signal) * 0.1, record_dt=0.1)  # fmt: skip
    return LFP(duration=len(signal) * 0.1, **kw)(run, env)


def test_lfp_lowpass_keeps_slow_and_removes_fast_components():
    t = np.arange(10_000) * 1e-4  # 1 s at 10 kHz
    slow, fast = np.sin(2 * np.pi * 10 * t), 0.5 * np.sin(2 * np.pi * 2000 * t)
    out = lfp_of(slow + fast, downsample_hz=None, lowpass_hz=100.0)
    middle = slice(1000, 9000)
    np.testing.assert_allclose(out["lfp"][0][middle], slow[middle], atol=1e-3)


def test_lfp_downsampling_rate_and_constant_signal():
    out = lfp_of(np.full(500, 7.0), downsample_hz=1000.0)
    assert out["sample_rate_hz"] == 1000.0 and out["n_samples"] == 50
    np.testing.assert_allclose(out["lfp"][0], 7.0, rtol=1e-9)


def test_lfp_band_power_of_a_sine():
    t = np.arange(20_000) * 1e-4  # 2 s
    out = lfp_of(3.0 * np.sin(2 * np.pi * 10 * t), downsample_hz=1000.0,
                 compute_band_power=True)  # fmt: skip
    power = out["band_power"]
    assert power["alpha"][0] == pytest.approx(3.0**2 / 2, rel=0.1)  # sine power A²/2
    assert power["gamma"][0] < 1e-3 * power["alpha"][0]


def test_lfp_needs_membrane_currents_and_valid_arguments():
    from livn.decoding import LFP

    with pytest.raises(ConfigError, match="record_membrane_current"):
        LFP(duration=10.0)(spikes_run([0], [1.0], 10.0), fake_env(1))
    with pytest.raises(ConfigError, match="lowpass_hz"):
        lfp_of(np.zeros(100), lowpass_hz=6000.0)
    with pytest.raises(ConfigError, match="channels"):
        lfp_of(np.zeros(100), channels=[7])
    for bad in ({"downsample_hz": 0}, {"lowpass_hz": -1.0}, {"filter_order": 0},
                {"bands": {"x": (5.0, 1.0)}}, {"compute_band_power": "yes"}):  # fmt: skip
        with pytest.raises(ConfigError):
            LFP(duration=10.0, **bad)


def test_lfp_on_an_env_equals_potential_recording():
    from livn.decoding import LFP
    from livn.env import Env

    env = Env("EI1", backend="native", seed=5).init().apply_model_defaults()
    d = LFP(duration=30.0, downsample_hz=None)
    d.setup(env)  # records membrane currents
    run = env.run(30.0)
    out = d(run, env)
    np.testing.assert_allclose(out["lfp"], env.potential_recording(run.current, run.current_ids))
    assert env(d)["lfp"].shape == (env.io.num_channels, 300)


# --------------------------------------------------------------------------- recruitment


def test_recruitment_curve_hand_built():
    from livn.decoding import ExtracellularRecruitment, RecruitmentCurve

    schedule = [(100.0, 1.0), (200.0, 2.0), (300.0, 2.0), (400.0, 4.0)]
    it = [0, 0, 1, 2, 0, 1, 3, 0]
    t = [105.0, 205.0, 206.0, 207.0, 305.0, 306.0, 380.0, 405.0]
    env = fake_env(4)
    out = RecruitmentCurve(duration=500.0, schedule=schedule)(spikes_run(it, t, 500.0), env)
    np.testing.assert_array_equal(out["amplitude_ua"], [1.0, 2.0, 4.0])
    np.testing.assert_allclose(out["fraction"], [0.25, (0.75 + 0.5) / 2, 0.25])
    # baselines are the 50 ms before each onset: only unit 3 at 380 ms (before 400) falls in one
    np.testing.assert_allclose(out["baseline_fraction"], [0.0, 0.0, 0.25])
    np.testing.assert_array_equal(out["n_pulses"], [1, 2, 1])
    assert out["threshold_ua"] == 2.0 and out["block_ua"] == 4.0

    d = np.hypot(np.arange(4) * 100.0 - 500.0, 500.0)  # cells on y = 0, electrode 0 at (500, 500)
    r_m = np.sqrt(d**2 + 175.0**2 + 52.2**2) * 1e-6
    field_mv = (3.5 * 1e-6 / (4 * math.pi * r_m) * 1e3).max()  # per µA, nearest cell
    ext = ExtracellularRecruitment(duration=500.0, schedule=schedule, channels=[0],
                                   ceiling_mv=2.5 * field_mv)(spikes_run(it, t, 500.0), env)  # fmt: skip
    np.testing.assert_allclose(ext["peak_mv"], np.array([1.0, 2.0, 4.0]) * field_mv, rtol=1e-12)
    assert ext["ceiling_ua"] == 2.0  # 4 µA would exceed 2.5 µA's potential
    assert ext["threshold_ua"] == 2.0 and ext["block_ua"] == 4.0
    assert ext["band"] == (2.0, 2.0)
    np.testing.assert_allclose(ext["curve"]["fraction"], out["fraction"])
    low = ExtracellularRecruitment(duration=500.0, schedule=schedule, channels=[0],
                                   ceiling_mv=1.5 * field_mv)(spikes_run(it, t, 500.0), env)  # fmt: skip
    assert low["ceiling_ua"] == 1.0 and all(math.isnan(x) for x in low["band"])


def test_recruitment_takes_a_policy_schedule():
    from livn.decoding import RecruitmentCurve
    from livn.policy import PulseSweepPolicy

    policy = PulseSweepPolicy([1.0, 3.0], repeats=2, trial_ms=100.0, onset_ms=50.0)
    d = RecruitmentCurve(schedule=policy)
    assert d.duration == policy.extent_ms == 400.0
    np.testing.assert_allclose(d.schedule, policy.schedule())
    for bad in ([], [(1.0,)], [(-1.0, 2.0)], "abc", [(1.0, math.nan)]):
        with pytest.raises(ConfigError, match="schedule"):
            RecruitmentCurve(duration=10.0, schedule=bad)


def test_env_call_runs_the_setup_hook():
    """``env(decoding)`` calls 2.0.0's ``setup(env)`` first: LFP gets its membrane currents
    on a fresh Env that records nothing."""
    from livn.decoding import LFP
    from livn.env import Env

    env = Env("EI1", backend="native", seed=5).init().apply_model_defaults()
    out = env(LFP(duration=10.0, downsample_hz=None))
    assert out["lfp"].shape == (env.io.num_channels, 100) and np.abs(out["lfp"]).max() > 0
    from livn.types import Capability

    assert Capability.SIMULATION in env.capabilities
    assert Capability.DIFFERENTIABLE not in env.capabilities  # native is not

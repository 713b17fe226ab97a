"""Tests of livn.decoding: decodings and culture statistics.

Every expectation is either worked out by hand from a hand-built spike train, computed here by a
different (loop / dense-matrix) method, or a known statistical value with a stated tolerance
under a fixed seed.
"""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

from livn.decoding import (
    ChannelRecording,
    ChannelSpikes,
    CultureStatistics,
    CultureStats,
    Decoding,
    MeanFiringRate,
    Raw,
    Recording,
    burst_rate,
    detect_bursts,
    firing_rates,
    isi_cv,
    population_rate,
    rate_histogram,
    synchrony,
)
from livn.errors import ConfigError
from livn.io.mea import MEA

# --------------------------------------------------------------------------- helpers


def poisson_trains(rng, n_cells: int, rate_hz: float, duration_ms: float):
    """Independent homogeneous Poisson trains as (it, t), sorted by time."""
    its, ts = [], []
    for cell in range(n_cells):
        n = rng.poisson(rate_hz * duration_ms / 1000.0)
        times = np.sort(rng.uniform(0.0, duration_ms, n))
        its.append(np.full(n, cell))
        ts.append(times)
    it, t = np.concatenate(its), np.concatenate(ts)
    order = np.argsort(t, kind="stable")
    return it[order], t[order]


def loop_isi_cv(it, t, min_spikes):
    """Reference ISI CV: one cell at a time with np.std."""
    cvs = []
    for cell in np.unique(it):
        times = np.sort(t[it == cell])
        if len(times) < min_spikes:
            continue
        isi = np.diff(times)
        cvs.append(np.std(isi) / np.mean(isi))
    return float(np.mean(cvs)) if cvs else math.nan


def dense_chi(it, t, duration, bin_ms):
    """Reference Golomb-Rinzel chi from a dense [cells, bins] count matrix via np.histogram."""
    n_bins = math.ceil(duration / bin_ms)
    edges = np.arange(n_bins + 1) * bin_ms
    edges[-1] = duration
    rows = [np.histogram(t[it == c], bins=edges)[0] for c in np.unique(it)]
    counts = np.array(rows, dtype=float)
    return math.sqrt(np.var(counts.mean(axis=0)) / np.mean(np.var(counts, axis=1)))


@pytest.fixture(scope="module")
def ei1():
    """A tiny env stand-in: the predefined 10-cell EI1 system and its MEA."""
    from livn.system import make

    system = make("EI1")
    return types.SimpleNamespace(system=system, io=MEA.from_directory(system.uri))


# --------------------------------------------------------------------------- firing rates


def test_firing_rates_from_hand_built_spikes():
    # 500 ms: cell 0 fires 3 times, cell 2 once, cell 3 five times; spikes outside the window
    # (t < 0 or t > duration) do not count.
    it = np.array([0, 3, 0, 3, 2, 3, 0, 3, 3, 1, 1])
    t = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 500.0, -1.0, 500.5])
    rates = firing_rates(it, t, num_neurons=4, duration=500.0)
    np.testing.assert_allclose(rates, [6.0, 0.0, 2.0, 10.0], rtol=1e-12)
    assert rates.shape == (4,)
    assert population_rate(it, t, 4, 500.0) == pytest.approx(9 / (4 * 0.5), rel=1e-12)


def test_firing_rates_accept_integral_float_gids_and_empty_input():
    np.testing.assert_allclose(firing_rates([1.0, 1.0], [1.0, 2.0], 2, 1000.0), [0.0, 2.0])
    np.testing.assert_array_equal(firing_rates([], [], 3, 100.0), np.zeros(3))
    assert population_rate(np.array([], int), np.array([]), 3, 100.0) == 0.0


def test_rate_histogram_bins_and_partial_last_bin():
    # duration 25 ms, 10 ms bins: [0, 10), [10, 20), [20, 25] (5 ms wide); 2 cells
    it = np.array([0, 1, 0, 1, 0])
    t = np.array([1.0, 9.99, 10.0, 24.0, 25.0])
    rates = rate_histogram(it, t, num_neurons=2, duration=25.0, bin_ms=10.0)
    # spikes / (cells * width in s)
    np.testing.assert_allclose(rates, [2 / (2 * 0.010), 1 / (2 * 0.010), 2 / (2 * 0.005)])


# --------------------------------------------------------------------------- ISI CV


def test_isi_cv_of_regular_train_is_zero():
    t = np.arange(0.0, 1000.0, 25.0)
    it = np.zeros(len(t), dtype=int)
    assert isi_cv(it, t) == pytest.approx(0.0, abs=1e-12)


def test_isi_cv_hand_value_and_min_spikes():
    # cell 4: ISIs 1 and 3 -> mean 2, std 1 -> CV 0.5; cell 7 has two spikes only (excluded)
    it = np.array([4, 7, 4, 7, 4])
    t = np.array([0.0, 2.0, 1.0, 50.0, 4.0])
    assert isi_cv(it, t) == pytest.approx(0.5, rel=1e-12)
    # with min_spikes = 2 cell 7 (one ISI, CV 0) enters the mean
    assert isi_cv(it, t, min_spikes=2) == pytest.approx(0.25, rel=1e-12)
    assert math.isnan(isi_cv(it, t, min_spikes=4))
    assert math.isnan(isi_cv([], []))


def test_isi_cv_of_poisson_trains_is_one():
    rng = np.random.default_rng(1234)
    it, t = poisson_trains(rng, n_cells=20, rate_hz=20.0, duration_ms=100_000.0)
    cv = isi_cv(it, t)
    # ~2,000 ISIs per cell: the CV of each cell is within a few % of 1, their mean closer
    assert cv == pytest.approx(1.0, abs=0.05)
    assert cv == pytest.approx(loop_isi_cv(it, t, 3), rel=1e-10)


def test_isi_cv_does_not_depend_on_spike_order():
    rng = np.random.default_rng(5)
    it, t = poisson_trains(rng, n_cells=6, rate_hz=10.0, duration_ms=3000.0)
    perm = rng.permutation(len(it))
    assert isi_cv(it[perm], t[perm]) == pytest.approx(isi_cv(it, t), rel=1e-12)
    assert isi_cv(it, t) == pytest.approx(loop_isi_cv(it, t, 3), rel=1e-10)


# --------------------------------------------------------------------------- bursts


def burst_spikes(rng, n_cells, starts_ms, width_ms=30.0, spikes_per_cell=3):
    """Every cell fires ``spikes_per_cell`` times within ``width_ms`` after each start."""
    its, ts = [], []
    for start in starts_ms:
        for cell in range(n_cells):
            its.append(np.full(spikes_per_cell, cell))
            ts.append(start + rng.uniform(0.0, width_ms, spikes_per_cell))
    return np.concatenate(its), np.concatenate(ts)


def test_detect_bursts_finds_synthetic_bursts_over_background():
    rng = np.random.default_rng(7)
    duration = 5000.0
    starts = [500.0, 1500.0, 2500.0, 4000.0]
    bit, bt = burst_spikes(rng, 20, starts)
    nit, nt = poisson_trains(rng, 20, rate_hz=0.5, duration_ms=duration)
    it, t = np.concatenate([bit, nit]), np.concatenate([bt, nt])
    bursts = detect_bursts(it, t, num_neurons=20, duration=duration)
    assert bursts.shape == (4, 2)
    # on 10 ms bin edges covering the 30 ms windows
    np.testing.assert_allclose(bursts[:, 0], starts, atol=10.0)
    np.testing.assert_allclose(bursts[:, 1], np.array(starts) + 30.0, atol=10.0)
    assert np.all(bursts[:, 1] > bursts[:, 0])
    assert burst_rate(it, t, 20, duration) == pytest.approx(4 / 5.0, rel=1e-12)


def test_detect_bursts_merges_bursts_closer_than_gap():
    # all 10 cells fire once in [1000, 1010) and once in [1040, 1050): active bins 100 and 104,
    # the gap between them is 1040 - 1010 = 30 ms
    it = np.concatenate([np.arange(10), np.arange(10)])
    t = np.concatenate([np.linspace(1000.0, 1009.0, 10), np.linspace(1040.0, 1049.0, 10)])
    merged = detect_bursts(it, t, 10, 2000.0, bin_ms=10.0, gap_ms=50.0)
    np.testing.assert_allclose(merged, [[1000.0, 1050.0]])
    split = detect_bursts(it, t, 10, 2000.0, bin_ms=10.0, gap_ms=30.0)  # gap not < 30
    np.testing.assert_allclose(split, [[1000.0, 1010.0], [1040.0, 1050.0]])
    assert burst_rate(it, t, 10, 2000.0, gap_ms=0.0) == pytest.approx(1.0)  # 2 bursts / 2 s


def test_detect_bursts_ignores_steady_firing_and_too_few_cells():
    rng = np.random.default_rng(11)
    # 100 cells firing regularly every 100 ms with random phases: steady population rate
    phases = rng.uniform(0.0, 100.0, 100)
    t = (phases[:, None] + 100.0 * np.arange(50)[None, :]).ravel()
    it = np.repeat(np.arange(100), 50)
    assert len(detect_bursts(it, t, 100, 5000.0)) == 0
    # a volley of 3 of 20 cells (15 % < 25 %) is not a network burst
    assert len(detect_bursts([0, 1, 2], [100.0, 101.0, 102.0], 20, 1000.0)) == 0
    # ... but 5 of 20 (25 %) is
    five = detect_bursts(np.arange(5), np.full(5, 100.0), 20, 1000.0)
    np.testing.assert_allclose(five, [[100.0, 110.0]])
    assert detect_bursts([], [], 20, 1000.0).shape == (0, 2)
    assert burst_rate([], [], 20, 1000.0) == 0.0


# --------------------------------------------------------------------------- synchrony


def test_synchrony_of_identical_trains_is_one():
    rng = np.random.default_rng(3)
    _, times = poisson_trains(rng, 1, rate_hz=15.0, duration_ms=4000.0)
    it = np.repeat(np.arange(20), len(times))
    t = np.tile(times, 20)
    assert synchrony(it, t, 4000.0) == pytest.approx(1.0, abs=1e-9)


def test_synchrony_of_independent_poisson_trains_is_low():
    rng = np.random.default_rng(21)
    it, t = poisson_trains(rng, n_cells=100, rate_hz=20.0, duration_ms=10_000.0)
    chi = synchrony(it, t, 10_000.0, bin_ms=5.0)
    assert chi == pytest.approx(dense_chi(it, t, 10_000.0, 5.0), rel=1e-9)
    # chi^2 = 1/M for M independent trains; 2,000 bins put chi within ~2 % of 0.1
    assert chi == pytest.approx(1 / math.sqrt(100), abs=0.02)


def test_synchrony_matches_dense_reference_with_partial_bin_and_excludes_silent_cells():
    rng = np.random.default_rng(8)
    it, t = poisson_trains(rng, n_cells=12, rate_hz=30.0, duration_ms=1003.0)
    it = it * 3  # gids 0, 3, 6, ...: cells in between are silent and do not enter
    assert synchrony(it, t, 1003.0, bin_ms=10.0) == pytest.approx(
        dense_chi(it, t, 1003.0, 10.0), rel=1e-9
    )


def test_synchrony_undefined_for_fewer_than_two_cells():
    assert math.isnan(synchrony([2, 2, 2], [1.0, 50.0, 90.0], 100.0))
    assert math.isnan(synchrony([], [], 100.0))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_neurons": 0}, "num_neurons"),
        ({"num_neurons": 2.5}, "num_neurons"),
        ({"duration": 0.0}, "duration"),
        ({"duration": float("nan")}, "duration"),
        ({"bin_ms": -1.0}, "bin_ms"),
        ({"min_fraction": 0.0}, "min_fraction"),
        ({"min_fraction": 1.5}, "min_fraction"),
        ({"rate_factor": -1.0}, "rate_factor"),
        ({"gap_ms": -5.0}, "gap_ms"),
    ],
)
def test_detect_bursts_bad_parameters(kwargs, match):
    args = {"num_neurons": 4, "duration": 100.0, **kwargs}
    with pytest.raises(ConfigError, match=match):
        detect_bursts([0], [1.0], **args)


def test_bad_spike_arrays_raise_config_error():
    with pytest.raises(ConfigError, match="equal length"):
        firing_rates([0, 1], [1.0], 2, 100.0)
    with pytest.raises(ConfigError, match=r"out of range for 2 cells \(valid: 0..1\)"):
        firing_rates([0, 2], [1.0, 2.0], 2, 100.0)
    with pytest.raises(ConfigError, match="out of range"):
        population_rate([-1], [1.0], 2, 100.0)
    with pytest.raises(ConfigError, match="integers"):
        firing_rates([0.5], [1.0], 2, 100.0)
    with pytest.raises(ConfigError, match="NaN"):
        isi_cv([0, 0, 0], [1.0, float("nan"), 3.0])
    with pytest.raises(ConfigError, match="record_spikes"):
        firing_rates(None, None, 2, 100.0)


@pytest.mark.parametrize("value", [1, 2.5, True, "3"])
def test_isi_cv_bad_min_spikes(value):
    with pytest.raises(ConfigError, match="min_spikes"):
        isi_cv([0, 0, 0], [1.0, 2.0, 3.0], min_spikes=value)


# --------------------------------------------------------------------------- decodings


@pytest.mark.parametrize("cls", [Raw, MeanFiringRate, ChannelRecording, CultureStatistics])
@pytest.mark.parametrize("value", [0, -5.0, float("nan"), float("inf"), "abc", None])
def test_decoding_duration_must_be_positive_ms(cls, value):
    with pytest.raises(ConfigError) as info:
        cls(duration=value)
    message = str(info.value)
    assert "duration" in message and repr(value) in message
    assert f"{cls.__name__}(duration=1000)" in message


def test_decoding_duration_is_a_float_and_base_is_abstract():
    assert MeanFiringRate(duration=250).duration == 250.0
    assert isinstance(MeanFiringRate(250).duration, float)
    with pytest.raises(NotImplementedError):
        Decoding(duration=10.0)(None, None, None, None, None)


def test_raw_returns_recordings_unchanged():
    it, t, iv, v = np.array([1, 2]), np.array([0.5, 0.7]), np.array([0]), np.zeros((1, 5))
    out = Raw(duration=10.0)(None, it, t, iv, v)
    assert isinstance(out, Recording)
    assert out.it is it and out.t is t and out.iv is iv and out.v is v
    assert out.im is None and out.mp is None
    im, mp = np.array([3]), np.ones((1, 5))
    full = Raw(duration=10.0)(None, it, t, iv, v, im, mp)
    assert tuple(full) == (it, t, iv, v, im, mp)


def test_mean_firing_rate_on_ei1(ei1):
    n = ei1.system.num_neurons
    assert n == 10
    # gid g fires g times in a 200 ms run -> g / 0.2 Hz
    it = np.repeat(np.arange(n), np.arange(n))
    t = np.linspace(1.0, 199.0, len(it))
    rates = MeanFiringRate(duration=200.0)(ei1, it, t, None, None)
    np.testing.assert_allclose(rates, np.arange(n) / 0.2, rtol=1e-12)
    start, count = ei1.system.population_ranges["INH"]
    inh = MeanFiringRate(duration=200.0, population="INH")(ei1, it, t, None, None)
    assert inh.shape == (count,)
    np.testing.assert_allclose(inh, np.arange(start, start + count) / 0.2, rtol=1e-12)


def test_mean_firing_rate_errors(ei1):
    with pytest.raises(ConfigError, match=r"Valid: EXC, INH\. Did you mean 'INH'\?"):
        MeanFiringRate(duration=100.0, population="IN")(ei1, [0], [1.0], None, None)
    with pytest.raises(ConfigError, match="population"):
        MeanFiringRate(duration=100.0, population=3)
    with pytest.raises(ConfigError, match="record_spikes"):
        MeanFiringRate(duration=100.0)(ei1, None, None, None, None)
    with pytest.raises(ConfigError, match="out of range for 10 cells"):
        MeanFiringRate(duration=100.0)(ei1, [10], [1.0], None, None)


@pytest.mark.parametrize("radius", [None, 1200.0])
def test_channel_recording_matches_distance_loop(ei1, radius):
    rng = np.random.default_rng(2)
    it = rng.integers(0, 10, 200)
    t = np.sort(rng.uniform(0.0, 500.0, 200))
    out = ChannelRecording(duration=500.0, output_radius=radius)(ei1, it, t, None, None)
    assert isinstance(out, ChannelSpikes)
    mea = ei1.io
    r = mea.output_radius if radius is None else radius
    cells = np.asarray(ei1.system.neuron_coordinates)
    expected = []
    for row in mea.electrode_coordinates:
        seen = set()
        for cell in cells:
            if math.dist(cell[1:], row[1:]) <= r:
                seen.add(int(cell[0]))
        expected.append(sum(1 for g in it if int(g) in seen))
    np.testing.assert_array_equal(out.channel_ids, mea.channel_ids)
    np.testing.assert_array_equal(out.counts, expected)
    np.testing.assert_allclose(out.rates, np.array(expected) / 0.5, rtol=1e-12)
    for c, n_spikes in zip(out.channel_ids, expected, strict=True):
        assert len(out.ids[int(c)]) == n_spikes == len(out.times[int(c)])
    if radius is not None:
        assert out.counts.sum() > 0  # a radius that reaches cells: the check is not vacuous


def test_channel_recording_bad_radius():
    with pytest.raises(ConfigError, match="output_radius"):
        ChannelRecording(duration=100.0, output_radius=-1.0)


def test_culture_statistics_on_synchronous_bursts(ei1):
    # all 10 cells fire together at 100, 300, 500, 700 and 900 ms of a 1000 ms run
    times = np.array([100.0, 300.0, 500.0, 700.0, 900.0])
    it = np.tile(np.arange(10), len(times))
    t = np.repeat(times, 10)
    stats = CultureStatistics(duration=1000.0)(ei1, it, t, None, None)
    assert isinstance(stats, CultureStats)
    assert stats.rate == pytest.approx(5.0, rel=1e-12)  # 5 spikes per cell per second
    assert stats.isi_cv == pytest.approx(0.0, abs=1e-12)  # regular 200 ms ISIs
    assert stats.burst_rate == pytest.approx(5.0, rel=1e-12)
    assert stats.synchrony == pytest.approx(1.0, abs=1e-9)


def test_culture_statistics_equals_the_pure_functions(ei1):
    rng = np.random.default_rng(17)
    it, t = poisson_trains(rng, n_cells=10, rate_hz=12.0, duration_ms=2000.0)
    dec = CultureStatistics(duration=2000.0, bin_ms=20.0, gap_ms=10.0, synchrony_bin_ms=8.0)
    stats = dec(ei1, it, t, None, None)
    assert stats.rate == population_rate(it, t, 10, 2000.0)
    assert stats.isi_cv == isi_cv(it, t)
    assert stats.burst_rate == burst_rate(it, t, 10, 2000.0, bin_ms=20.0, gap_ms=10.0)
    assert stats.synchrony == synchrony(it, t, 2000.0, bin_ms=8.0)
    # restricted to the EXC population (gids start..start+count, renumbered from 0)
    start, count = ei1.system.population_ranges["EXC"]
    keep = (it >= start) & (it < start + count)
    exc = CultureStatistics(duration=2000.0, population="EXC")(ei1, it, t, None, None)
    assert exc.rate == pytest.approx(keep.sum() / (count * 2.0), rel=1e-12)
    assert exc.isi_cv == pytest.approx(loop_isi_cv(it[keep], t[keep], 3), rel=1e-10)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bin_ms": 0.0},
        {"synchrony_bin_ms": -1.0},
        {"min_fraction": 2.0},
        {"rate_factor": float("nan")},
        {"gap_ms": -1.0},
        {"min_spikes": 1},
        {"population": ["EXC"]},
    ],
)
def test_culture_statistics_bad_parameters(kwargs):
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        CultureStatistics(duration=100.0, **kwargs)


# --------------------------------------------------------------------------- with a real Env


@pytest.mark.slow
def test_env_call_with_decodings():
    pytest.importorskip("jax")
    from livn.encoding import NoInput
    from livn.env import Env
    from livn.system import predefined

    env = Env(predefined("EI1"), seed=1).init()
    env.apply_model_defaults()
    env.record_spikes()
    rates = env(decoding=MeanFiringRate(duration=200.0), encoding=NoInput())
    assert rates.shape == (10,) and np.all(rates >= 0)
    env.clear()
    stats = env(decoding=CultureStatistics(duration=200.0), encoding=NoInput())
    assert stats.rate == pytest.approx(float(np.mean(rates)), rel=1e-6)

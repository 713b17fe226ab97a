"""livn 2.0.0's ``livn.run``: ``Run(channels, t0, duration)``, channels, ``concat``, ``merge``,
``Events.raster`` and ``Series`` — on :class:`livn.result.RunResult`, what ``Env.run``
returns."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from livn.env import Env
from livn.errors import ConfigError
from livn.result import RunResult
from livn.run import Events, Run, Series


@pytest.fixture(scope="module")
def env():
    e = Env({"EXC": 2, "INH": 1}, seed=7, backend="native").init()
    e.record_spikes()
    e.record_voltage()
    e.set_noise({"g_e0": 0.03})  # the cells fire
    return e


def same(a: RunResult, b: RunResult, atol: float = 0.0) -> None:
    assert (a.t0, a.duration, a.record_dt, len(a)) == (b.t0, b.duration, b.record_dt, len(b))
    for x, y in zip(a._named.values(), b._named.values(), strict=True):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_allclose(x, y, rtol=0, atol=atol)


def test_run_is_our_result_and_builds_from_channels():
    v = np.arange(8, dtype=np.float32).reshape(2, 4)
    run = Run({"spikes": ([2, 0, 1], [1.5, 0.5, 0.5]), "voltage": Series([3, 4], v, 0.5)},
              t0=10.0, duration=2.0)  # fmt: skip
    assert type(run) is RunResult and len(run) == 4
    it, t, iv, vv = run
    assert it.tolist() == [0, 1, 2] and t.tolist() == [0.5, 0.5, 1.5]  # by time, then gid
    assert iv.tolist() == [3, 4] and vv is v and vv.dtype == np.float32
    assert (run.t0, run.t1, run.voltage_dt, run.current_dt, run.current) == (10.0, 12.0, 0.5,
                                                                             None, None)  # fmt: skip
    assert run.voltage_sections.tolist() == ["soma", "soma"]
    assert run[0] is it and set(run.channels) == {"spikes", "voltage"}


def test_positional_t0_and_duration_and_the_duration_of_the_series():
    v = np.zeros((1, 10))
    assert Run({"voltage": ([0], v, 0.1)}, 5.0, 2.0).t1 == 7.0
    assert Run({"voltage": ([0], v, 0.1)}).duration == pytest.approx(1.0)  # 10 samples of 0.1
    assert Run({"spikes": ([0], [3.0])}).duration is None
    assert Run({}).channels == {} and len(Run({})) == 4
    with pytest.raises(ConfigError, match=r"got t0 twice"):
        Run({}, 1.0, t0=2.0)
    with pytest.raises(ConfigError, match=r"got duration twice"):
        Run({}, 1.0, 2.0, duration=2.0)


def test_currents_make_six_values():
    mp = np.ones((1, 3))
    run = Run({"spikes": ([0], [0.1]), "current": ([0], mp, 0.1)})
    assert len(run) == 6 and run[5] is mp and run.current_dt == 0.1 and run.voltage is None
    assert run["current"].values is mp


def test_channel_access_by_name(env):
    run = env.run(5.0)
    spikes = run["spikes"]
    assert isinstance(spikes, Events) and spikes.ids is run.it and spikes.times is run.t
    assert spikes.duration == 5.0
    ids, values = run["voltage"]
    assert ids is run.iv and values is run.v and run["voltage"].dt == run.record_dt
    with pytest.raises(KeyError, match=r"'current': not a channel of this result \(recorded: "
                                       r"spikes, voltage"):  # fmt: skip
        run["current"]


def test_a_result_rebuilt_from_its_channels_is_the_same(env):
    env.clear()
    run = env.run(20.0)
    assert len(run.it) > 0  # something to compare
    same(Run(run.channels, run.t0, run.duration), run)
    same(pickle.loads(pickle.dumps(Run(run.channels, 3.0, 20.0))), Run(run.channels, 3.0, 20.0))


def test_concat_of_consecutive_runs_is_one_run(env):
    env.clear()
    whole = env.run(20.0)
    env.clear()
    a, b = env.run(8.0), env.run(12.0)
    assert b.t0 == 8.0
    joined = a.concat(b)
    # the same simulation split in two runs: spike times agree to float32 round-off of t0
    same(joined, whole, atol=1e-4)
    same(RunResult.concat(a, b), joined)
    same(whole.slice(0, 5).concat(whole.slice(5, 20)), whole, atol=1e-9)


def test_concat_refuses_runs_that_do_not_follow(env):
    env.clear()
    a = env.run(5.0)
    with pytest.raises(ConfigError, match=r"run 1 starts at t0=0 ms, not where run 0 ends "
                                          r"\(t1=5 ms\)"):  # fmt: skip
        a.concat(a)
    other = Run({"spikes": a.channels["spikes"]}, 5.0, 5.0)
    with pytest.raises(ConfigError, match=r"run 1 records spikes every None ms"):
        a.concat(other)
    with pytest.raises(ConfigError, match=r"other cells"):
        a.concat(a.select(gids=[0])._replace(t0=5.0))
    with pytest.raises(ConfigError, match=r"run 1 is a tuple"):
        a.concat((1, 2))


def test_merge_of_the_cells_of_a_run_is_the_run(env):
    env.clear()
    run = env.run(20.0)
    parts = [run.select(gids=[2]), run.select(gids=[0]), run.select(gids=[1])]
    same(parts[0].merge(*parts[1:]), run)
    with pytest.raises(ConfigError, match=r"gid 2 has voltage in more than one run"):
        parts[0].merge(parts[0])
    with pytest.raises(ConfigError, match=r"only runs of the same window merge"):
        run.merge(run.slice(0, 10).select(gids=[5]))


def test_gather_without_mpi_is_the_run(env):
    env.clear()
    run = env.run(5.0)
    same(run.gather(), run)


def test_raster_counts_spikes_per_cell_and_bin():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 5, 200)
    times = rng.uniform(0, 50, 200)
    ev = Events(ids, times, duration=50.0)
    counts = ev.raster(10.0)
    # reference: a count per (cell, bin) by a loop
    ref = np.zeros((5, 5), np.int64)
    for i, t in zip(ids, times, strict=True):
        ref[i, min(int(t // 10), 4)] += 1
    np.testing.assert_array_equal(counts, ref)
    assert ev.raster(10.0, ids=[4, 9]).tolist() == [ref[4].tolist(), [0] * 5]
    assert ev.raster(20.0).shape == (5, 3)  # ceil(50 / 20) bins, the last ends at 50
    assert Events([1], [2.5]).raster(1.0).tolist() == [[0, 0, 1, 0]]  # up to the last spike + dt
    assert Events([], []).raster(1.0, duration=3.0).shape == (0, 3)


@pytest.mark.parametrize(("channels", "message"), [
    ({"spike": ([0], [1.0])}, r"unknown Run channel 'spike'.*Did you mean 'spikes'"),
    ({"spikes": 5}, r"'spikes' must be an Events or a tuple \(ids, times\); got int"),
    ({"spikes": [0, 1.0]}, r"spike ids must be a 1-D array .*0-D"),
    ({"voltage": ([0], [[1.0]])}, r"'voltage' must be a Series or a tuple \(ids, values, dt\)"),
    ({"spikes": ([0, 1], [1.0])}, r"same length; got 2 ids and 1 times"),
    ({"spikes": ([-1], [1.0])}, r"spike ids must be .*negative gid -1"),
    ({"spikes": ([0.5], [1.0])}, r"spike ids must be .*dtype float64"),
    ({"spikes": ([0], [np.nan])}, r"spike times contains 1 NaN"),
    ({"spikes": ([0], [-1.0])}, r"spike time -1 ms lies outside the run"),
    ({"voltage": ([0, 1], np.zeros((1, 3)), 0.1)}, r"one row per id \(\[2, T\]\)"),
    ({"voltage": ([0, 0], np.zeros((2, 3)), 0.1)}, r"series ids must be distinct"),
    ({"voltage": ([0], np.zeros(3), 0.1)}, r"series values must be a 2-D array"),
    ({"voltage": ([0], np.zeros((1, 3)), 0)}, r"series dt must be a positive number"),
    ({"voltage": ([0], np.zeros((1, 3)), 0.1), "current": ([0], np.zeros((1, 3)), 0.2)},
     r"voltage dt=0.1 ms and current dt=0.2 ms differ"),
    ("spikes", r"Run\(channels, t0, duration\) a mapping"),
])  # fmt: skip
def test_bad_channels_are_refused_by_name(channels, message):
    with pytest.raises(ConfigError, match=message):
        Run(channels)


def test_bad_window_is_refused():
    with pytest.raises(ConfigError, match=r"spike time 6 ms lies outside the run \[0, 5\] ms"):
        Run({"spikes": ([0], [6.0])}, 0, 5)
    with pytest.raises(ConfigError, match=r"11 samples of 0.1 ms, longer than the Run "
                                          r"duration=1 ms"):  # fmt: skip
        Run({"voltage": ([0], np.zeros((1, 11)), 0.1)}, 0, 1.0)
    with pytest.raises(ConfigError, match=r"Run duration must be a positive number"):
        Run({}, 0, 0)
    with pytest.raises(ConfigError, match=r"Run t0 must be a non-negative number"):
        Run({}, -1.0)
    with pytest.raises(ConfigError, match=r"takes the channels and at most t0 and duration"):
        Run({}, 0, 1, None, record_dt=0.1)

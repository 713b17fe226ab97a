"""``Run(channels, t0, duration)`` (livn 2.0.0's constructor, :mod:`livn.result`) and
``Events.raster`` against the input contract: any channels build a result or are refused by
name."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from fuzz_contract import ANY, BAD, OK, budget, outcome, worst
from fuzz_strategies import is_int, is_real, reals, wrong_types
from hypothesis import example, given, settings
from hypothesis import strategies as st

from livn.run import Events, Run, Series

SUSPECTS = ["spike", "series", "channel", "t0", "duration", "dt", "voltage", "current",
            "raster"]  # fmt: skip

ODD_SPIKES = ["neg_id", "frac_id", "nan_time", "inf_time", "neg_time", "lengths", "2d",
              "strings", "bool_ids", "huge_id", "object", "not_pair", "events", "late"]  # fmt: skip
SPIKES = st.one_of(  # valid channels or none half of the time
    st.integers(0, 6).map(lambda n: ("ok", n)),
    st.integers(0, 6).map(lambda n: ("ok", n)),
    st.none(),
    st.sampled_from(ODD_SPIKES),
    wrong_types(),
)
SERIES = st.one_of(
    st.tuples(st.integers(0, 3), st.integers(0, 12), st.sampled_from([0.1, 0.5, 1.0])),
    st.tuples(st.integers(0, 3), st.integers(0, 12), st.just(0.1)),
    st.none(),
    st.none(),
    st.sampled_from(["dup_ids", "rows", "1d", "nan", "complex", "strings", "series", "ragged"]),
    st.tuples(st.just(1), st.just(4), reals(0.0, 2.0)),  # any dt
    wrong_types(),
)


def _spikes(kind: Any) -> tuple[Any, str, float]:
    """``(channel, verdict, latest spike time)``."""
    if isinstance(kind, tuple):
        n = kind[1]
        rng = np.random.default_rng(n)
        times = np.round(rng.uniform(0, 10, n), 3)
        return (rng.integers(0, 10, n), times), OK, float(times.max(initial=0.0))
    table = {
        "neg_id": (([-1], [1.0]), BAD),
        "frac_id": (([0.5], [1.0]), BAD),
        "nan_time": (([0], [math.nan]), BAD),
        "inf_time": (([0], [math.inf]), BAD),
        "neg_time": (([0], [-0.5]), BAD),
        "lengths": (([0, 1], [1.0]), BAD),
        "2d": (([[0]], [[1.0]]), BAD),
        "strings": ((["a"], ["b"]), BAD),
        "bool_ids": (([True], [1.0]), BAD),
        "huge_id": ((np.array([2**64 - 1], np.uint64), [1.0]), BAD),
        "object": (([2**1024], [1.0]), BAD),
        "not_pair": (([0], [1.0], 3), BAD),
        "events": (Events([3, 1], [2.0, 1.0]), OK),
        "late": (([0], [1e300]), OK),  # refused unless the run is that long
    }
    if isinstance(kind, str) and kind in table:
        channel, verdict = table[kind]
        late = 1e300 if kind == "late" else 2.0
        return channel, verdict, late
    return kind, (OK if kind is None else BAD), 0.0  # a wrong type (None: not recorded)


def _series(kind: Any) -> tuple[Any, str, int, float]:
    """``(channel, verdict, samples, dt)``."""
    if isinstance(kind, tuple):
        n, t, dt = kind
        verdict = OK if is_real(dt) and dt > 0 else BAD
        return (np.arange(n), np.zeros((n, t), np.float32), dt), verdict, t, dt
    table = {
        "dup_ids": (([0, 0], np.zeros((2, 3)), 0.1), BAD),
        "rows": (([0], np.zeros((2, 3)), 0.1), BAD),
        "1d": (([0], np.zeros(3), 0.1), BAD),
        "nan": (([0], np.full((1, 3), math.nan), 0.1), BAD),
        "complex": (([0], np.zeros((1, 3), complex), 0.1), BAD),
        "strings": (([0], [["a", "b"]], 0.1), BAD),
        "series": (Series([5], np.ones((1, 3)), 0.1), OK),
        "ragged": (([0, 1], [[1.0], [1.0, 2.0]], 0.1), BAD),
    }
    if isinstance(kind, str) and kind in table:
        channel, verdict = table[kind]
        return channel, verdict, 3, 0.1
    return kind, (OK if kind is None else BAD), 0, 0.0


def _t0(x: Any) -> str:
    return OK if is_real(x) and x >= 0 else BAD


def _duration(x: Any) -> str:
    return OK if x is None or (is_real(x) and x > 0) else BAD


VALID_SPIKES = st.one_of(st.none(), st.integers(0, 6).map(lambda n: ("ok", n)))
VALID_SERIES = st.one_of(st.none(), st.tuples(st.integers(0, 3), st.integers(0, 12),
                                              st.sampled_from([0.1, 0.5, 1.0])))  # fmt: skip
FIELDS = ["spikes", "voltage", "current", "t0", "duration"]


@settings(max_examples=budget(250))
@given(wild=st.sampled_from([None, *FIELDS]), wild_spikes=SPIKES, wild_voltage=SERIES,
       wild_current=SERIES, wild_t0=reals(0, 100),
       wild_duration=st.one_of(st.none(), reals(0.0, 20.0)), spikes=VALID_SPIKES,
       voltage=VALID_SERIES, current=VALID_SERIES, t0=st.floats(0, 100),
       duration=st.one_of(st.none(), st.floats(0.5, 20.0)))  # fmt: skip
@example(wild=None, wild_spikes=None, wild_voltage=None, wild_current=None, wild_t0=0.0,
         wild_duration=None, spikes=("ok", 3), voltage=(2, 10, 0.1), current=(2, 10, 0.5),
         t0=0.0, duration=None)  # fmt: skip
@example(wild="spikes", wild_spikes="late", wild_voltage=None, wild_current=None, wild_t0=0.0,
         wild_duration=None, spikes=None, voltage=None, current=None, t0=0.0,
         duration=1e308)  # fmt: skip
@example(wild="voltage", wild_spikes=None, wild_voltage=(1, 4, 5e-324), wild_current=None,
         wild_t0=0.0, wild_duration=None, spikes=None, voltage=None, current=None, t0=0.0,
         duration=20.0)  # fmt: skip
@example(wild=None, wild_spikes=None, wild_voltage=None, wild_current=None, wild_t0=0.0,
         wild_duration=None, spikes=None, voltage=(1, 0, 0.1), current=None, t0=0.0,
         duration=None)  # fmt: skip
def test_run_from_channels(wild, wild_spikes, wild_voltage, wild_current, wild_t0,
                           wild_duration, spikes, voltage, current, t0, duration):  # fmt: skip
    """All fields valid but (at most) one, the ``wild`` one, drawn from any values."""
    given_ = {"spikes": spikes, "voltage": voltage, "current": current, "t0": t0,
              "duration": duration}  # fmt: skip
    if wild is not None:
        given_[wild] = {"spikes": wild_spikes, "voltage": wild_voltage, "current": wild_current,
                        "t0": wild_t0, "duration": wild_duration}[wild]  # fmt: skip
    spikes, voltage, current, t0, duration = (given_[k] for k in FIELDS)
    sp, v_sp, latest = _spikes(spikes)
    vo, v_vo, t_vo, dt_vo = _series(voltage)
    cu, v_cu, t_cu, dt_cu = _series(current)
    verdict = worst(v_sp, v_vo, v_cu, _t0(t0), _duration(duration))
    channels = {"spikes": sp, "voltage": vo, "current": cu}
    if verdict == OK:  # then the channels must fit one another and the window
        present = [(t, dt) for c, t, dt in ((vo, t_vo, dt_vo), (cu, t_cu, dt_cu)) if c is not None]
        if len({dt for _, dt in present}) > 1:
            verdict = BAD
        else:
            window = duration
            if window is None and present:
                window = max(t for t, _ in present) * present[0][1] or None
                if window is not None and not math.isfinite(window):
                    verdict, window = BAD, None  # samples longer than any run
            if window is not None:
                if sp is not None and latest > window + 1e-6:
                    verdict = BAD
                for t, dt in present:
                    ratio = window / dt
                    if math.isfinite(ratio) and t > math.floor(ratio + 1e-6):
                        verdict = BAD
    run, error = outcome(lambda: Run(channels, t0, duration), surface="Run(channels)",
                         verdict=verdict, suspects=SUSPECTS)  # fmt: skip
    if error is None:
        assert len(run) == (6 if cu is not None else 4)
        assert run.t0 == float(t0)
        assert set(run.channels) == {k for k, c in channels.items() if c is not None}
        if run.spike_times is not None:
            order = np.lexsort((run.spike_ids, run.spike_times))
            assert np.array_equal(order, np.arange(len(order)))  # sorted by time, then gid
        again = Run(run.channels, run.t0, run.duration)  # a result's channels build it again
        assert len(again) == len(run) and again.duration == run.duration


@settings(max_examples=budget(120))
@given(wild=st.sampled_from([None, "dt", "duration", "ids"]), wild_dt=reals(0.0, 5.0),
       wild_duration=st.one_of(st.none(), reals(0.0, 50.0)),
       wild_ids=st.one_of(st.lists(st.integers(-2, 12), max_size=5), wrong_types()),
       dt=st.floats(0.1, 5.0), duration=st.one_of(st.none(), st.floats(1.0, 50.0)),
       ids=st.one_of(st.none(), st.lists(st.integers(0, 12), max_size=5, unique=True)))  # fmt: skip
@example(wild="dt", wild_dt=1e-300, wild_duration=None, wild_ids=[], dt=1.0, duration=1e300,
         ids=None)  # too many bins: refused, not allocated  # fmt: skip
def test_raster(wild, wild_dt, wild_duration, wild_ids, dt, duration, ids):
    """All arguments valid but (at most) one, the ``wild`` one, drawn from any values."""
    if wild is not None:
        dt, duration, ids = {"dt": (wild_dt, duration, ids), "duration": (dt, wild_duration, ids),
                             "ids": (dt, duration, wild_ids)}[wild]  # fmt: skip
    ev = Events([0, 3, 3, 7], [0.0, 1.5, 9.9, 20.0])
    ok_ids = ids is None or (isinstance(ids, list) and all(is_int(i) and i >= 0 for i in ids)
                             and len(set(ids)) == len(ids))  # fmt: skip
    verdict = worst(OK if is_real(dt) and dt > 0 else BAD, _duration(duration),
                    OK if ok_ids else BAD)  # fmt: skip
    if verdict == OK:
        span = duration if duration is not None else 20.0 + dt
        if span / dt > 1e8 or len(ids or [0, 3, 7]) * span / dt > 1e8:
            verdict = ANY  # a size bound (bins, memory) may refuse it
    counts, error = outcome(lambda: ev.raster(dt, duration, ids), surface="Events.raster",
                            verdict=verdict, suspects=[*SUSPECTS, "bins", "memory"])  # fmt: skip
    if error is None:
        rows = [0, 3, 7] if ids is None else ids
        assert counts.shape[0] == len(rows)
        span = duration if duration is not None else 20.0 + dt
        inside = [i for i, t in zip([0, 3, 3, 7], [0.0, 1.5, 9.9, 20.0], strict=True)
                  if i in rows and t <= span]  # fmt: skip
        assert counts.sum() == len(inside)

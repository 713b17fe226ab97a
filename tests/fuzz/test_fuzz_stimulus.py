"""Stimulus 2.0.0 forms and electrode policies against the input contract:
``Stimulus(array, dt, space=, input_mode=, units=, sections=)``, ``to_array``/``resample``,
and ``livn.policy`` (``BiphasicPulsePolicy``, ``MonophasicPulsePolicy``, ``PulseSweepPolicy``)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from fuzz_contract import ANY, BAD, OK, budget, outcome, worst
from fuzz_strategies import HUGE_INTS, is_int, is_real, reals, wrong_types
from hypothesis import example, given, settings
from hypothesis import strategies as st

MAX_ROWS = 2**31 - 1


def mostly(valid: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` three times in four, so valid combinations of several fields stay common."""
    return st.integers(0, 3).flatmap(lambda i: bad if i == 3 else valid)


# ---------------------------------------------------------------------------- Stimulus
MODES = mostly(
    st.sampled_from([None, "current", "current_density"]),
    st.sampled_from(["extracellular", "conductance", "irradiance", "curent", "", 3]),
)
UNITS = mostly(
    st.sampled_from([None, "nA", "mA/cm2", "uA", "µA"]),
    st.sampled_from(["mV", "uS", "mW/mm2", "", 1.0]),
)
SPACES = mostly(
    st.sampled_from([None, "cells", "channels"]), st.sampled_from(["current", "cell", 0])
)
SECTIONS = mostly(
    st.sampled_from([None, "soma", ["soma", "soma"]]),
    st.sampled_from(["dend", ["soma"], [], ["soma", 1]]),
)
ARRAYS = st.sampled_from(["ok", "1d", "nan", "strings", "3d"])


def stimulus_verdict(arr: str, dt: Any, space: Any, mode: Any, units: Any, sections: Any) -> str:
    if arr != "ok" or not (is_real(dt) and dt > 0):
        return BAD
    if space not in (None, "cells", "channels"):
        return BAD
    if space == "channels":
        ok = mode is None and units in (None, "uA", "µA") and sections is None
        return OK if ok else BAD
    if mode not in (None, "current", "current_density"):
        return BAD
    unit = "mA/cm2" if mode == "current_density" else "nA"
    if units not in (None, unit):
        return BAD
    if sections not in (None, "soma", ["soma", "soma"]):
        return BAD
    return OK


STIMULUS_KWARGS: dict[str, st.SearchStrategy[Any]] = {
    "dt": mostly(st.sampled_from([1.0, 0.1]), reals(0.0, 5.0)),
    "space": SPACES,
    "input_mode": MODES,
    "units": UNITS,
    "sections": SECTIONS,
}


@settings(max_examples=budget(100))
@given(arr=st.one_of(st.just("ok"), ARRAYS), kw=st.fixed_dictionaries({}, optional=STIMULUS_KWARGS))
@example(arr="ok", kw={"input_mode": "extracellular", "units": "mV"})
@example(arr="ok", kw={"space": "channels", "units": "µA"})
def test_stimulus(arr, kw):
    from livn.stimulus import Stimulus

    array = {"ok": np.ones((3, 2)), "1d": np.ones(3), "nan": np.full((3, 2), np.nan),
             "strings": [["a", "b"]], "3d": np.ones((2, 2, 2))}[arr]  # fmt: skip
    space, mode = kw.get("space"), kw.get("input_mode")
    verdict = stimulus_verdict(arr, kw.get("dt", 1.0), space, mode, kw.get("units"),
                               kw.get("sections"))  # fmt: skip
    s, error = outcome(lambda: Stimulus(array, **kw), surface="Stimulus(input_mode=...)",
                       verdict=verdict, suspects=["array", "dt", "space", "input_mode", "units",
                                                  "sections", "section"])  # fmt: skip
    if error is None:
        assert len(s) == 2 and s.dt == float(kw.get("dt", 1.0))
        assert s.input_mode == ("electrode" if space == "channels" else mode or "current")


@settings(max_examples=budget(60))
@given(
    duration=mostly(st.sampled_from([0.0, 2.0, 7.5]), reals(0.0, 50.0)),
    dt=mostly(st.sampled_from([0.1, 0.5, 3.0]), reals(0.0, 5.0)),
    method=st.sampled_from(["to_array", "resample"]),
)
@example(duration=1e9, dt=1e-9, method="to_array")
@example(duration=0.01, dt=1.0, method="resample")
def test_to_array_and_resample(duration, dt, method):
    from livn.stimulus import Stimulus

    s = Stimulus(np.arange(6.0).reshape(3, 2), dt=1.0)
    ok_d = is_real(duration) and (duration > 0 if method == "resample" else duration >= 0)
    verdict = OK if ok_d and is_real(dt) and dt > 0 else BAD
    if verdict == OK:
        ratio = duration / dt
        rows = (
            0
            if not math.isfinite(ratio)
            else (int(ratio) + 1 if method == "to_array" else round(ratio))
        )
        if not math.isfinite(ratio) or rows > 10**6:
            verdict = BAD if not ratio <= MAX_ROWS else ANY
            if verdict == ANY:
                return  # valid, but millions of rows: not allocated here
        elif rows < 1:
            verdict = BAD
    if method == "to_array":
        call = lambda: s.to_array(duration, dt)  # noqa: E731
    else:
        call = lambda: Stimulus.resample(s, dt, duration)  # noqa: E731
    out, error = outcome(call, surface=f"Stimulus.{method}", verdict=verdict,
                         suspects=["duration", "dt", "rows", "target_dt"])  # fmt: skip
    if error is None:
        arr = out if method == "to_array" else out.array
        assert arr.shape[1] == 2 and np.all(np.isfinite(arr))
        assert arr.min() >= 0 and arr.max() <= 5


# ---------------------------------------------------------------------------- policies
def _multiple(ms: float, dt: float) -> bool:
    k = ms / dt
    return math.isfinite(k) and k <= MAX_ROWS and abs(k - round(k)) <= 1e-6 * max(1.0, k)


CHANNELS = st.one_of(st.none(), st.lists(st.integers(-1, 20), max_size=4),
                     st.sampled_from([1.5, 3, True, "0,1", {0: 1}, [0, 0], [], [2**64]]))  # fmt: skip
TIMES = mostly(
    st.lists(st.sampled_from([0.0, 1.0, 5.0, 10.0]), max_size=3),
    st.one_of(
        st.lists(st.sampled_from([0.3, 0.02, -1.0, math.nan]), min_size=1, max_size=2),
        st.sampled_from([5.0, "0", None, [True], [1e300]]),
    ),
)
POLICY_KWARGS: dict[str, st.SearchStrategy[Any]] = {
    "channels": CHANNELS,
    "amplitude": mostly(st.sampled_from([0.0, 1.5, 20.0]), reals(0.0, 50.0)),
    "phase_duration": mostly(st.sampled_from([0.2, 0.1, 0.05, 0.13]), reals(0.0, 1.0)),
    "interphase_gap": mostly(st.sampled_from([0.0, 0.05]), reals(0.0, 1.0)),
    "pulse_times": TIMES,
    "cathodic_first": mostly(st.booleans(), st.sampled_from([1, "yes", None])),
    "dt": mostly(st.sampled_from([0.05, 0.1, 0.025]), reals(0.0, 1.0)),
}


def _channels_ok(ch: Any, n: int) -> bool:
    if ch is None:
        return True
    items = [ch] if is_int(ch) else ch
    return (isinstance(items, list) and bool(items) and all(is_int(c) and 0 <= c < n
            for c in items) and len(set(items)) == len(items))  # fmt: skip


def biphasic_verdict(kw: dict[str, Any], n: int) -> str:
    dt = kw.get("dt", 0.05)
    if not (is_real(dt) and dt > 0) or not _channels_ok(kw.get("channels"), n):
        return BAD
    a = kw.get("amplitude", 1.5)
    if not (is_real(a) and 0 <= a <= 3.4e38):
        return BAD
    if not isinstance(kw.get("cathodic_first", True), bool):
        return BAD
    phase, gap = kw.get("phase_duration", 0.2), kw.get("interphase_gap", 0.05)
    if not (is_real(phase) and phase > 0 and is_real(gap) and gap >= 0):
        return BAD
    times = kw.get("pulse_times", [0.0])
    times = [times] if is_real(times) else times
    if not isinstance(times, list) or not times or not all(is_real(t) and t >= 0 for t in times):
        return BAD
    if not all(_multiple(x, dt) for x in [phase, gap, *times]):
        return BAD
    width = 2 * round(phase / dt) + round(gap / dt)
    starts = sorted(round(t / dt) for t in times)
    if any(b - a < width for a, b in itertools.pairwise(starts)):
        return BAD
    return OK


@settings(max_examples=budget(100))
@given(
    kw=st.fixed_dictionaries({}, optional=POLICY_KWARGS),
    n=mostly(st.sampled_from([16, 4, 1]), st.sampled_from([0, -1, 2.0, True, None, 2**64])),
)
@example(kw={"pulse_times": [0.0, 0.3]}, n=16)
@example(kw={"phase_duration": 1e300, "dt": 1e-300}, n=16)
@example(kw={"amplitude": 2**1024}, n=16)
def test_biphasic_policy(kw, n):
    from livn.policy import BiphasicPulsePolicy

    n_ok = is_int(n) and 1 <= n <= MAX_ROWS
    verdict = worst(OK if n_ok else BAD, biphasic_verdict(kw, n if n_ok else 16))
    p, error = outcome(lambda: BiphasicPulsePolicy(n, **kw), surface="BiphasicPulsePolicy",
                       verdict=verdict, suspects=[*kw, "n_channels", "channel", "pulse", "dt"])  # fmt: skip
    if error is None:
        if p.extent_ms / p.dt > 10**6:
            return  # valid, but millions of rows: not allocated here
        a = p()
        assert a.dtype == np.float32 and a.shape[1] == n
        assert np.abs(a.sum(axis=0)).max() <= 1e-3 * max(1.0, float(np.abs(a).max()))


SWEEP_KWARGS: dict[str, st.SearchStrategy[Any]] = {
    "repeats": mostly(st.integers(1, 3), st.sampled_from([0, 2.0, True, None, *HUGE_INTS])),
    "trial_ms": mostly(st.sampled_from([10.0, 2.0]), reals(0.0, 100.0)),
    "onset_ms": mostly(st.sampled_from([0.0, 5.0, 9.9]), reals(0.0, 100.0)),
    "pulse_ms": mostly(st.sampled_from([0.2, 0.1, 0.15]), reals(0.0, 1.0)),
    "dt": mostly(st.sampled_from([0.1, 0.05]), reals(0.0, 1.0)),
}


@settings(max_examples=budget(60))
@given(
    amplitudes=mostly(
        st.lists(st.sampled_from([0.0, 1.0, 5.0]), min_size=1, max_size=3),
        st.one_of(st.sampled_from([[], [-1.0], [math.inf], [1.0, "2"]]), wrong_types()),
    ),
    kw=st.fixed_dictionaries({}, optional=SWEEP_KWARGS),
)
@example(amplitudes=[1.0], kw={"repeats": 2**31, "trial_ms": 10.0})
def test_pulse_sweep_policy(amplitudes, kw):
    from livn.policy import PulseSweepPolicy

    kw = {"trial_ms": 20.0, "onset_ms": 5.0, **kw}  # keep valid sweeps small
    repeats, dt = kw.get("repeats", 8), kw.get("dt", 0.1)
    trial_ms, onset_ms, pulse_ms = kw["trial_ms"], kw["onset_ms"], kw.get("pulse_ms", 0.2)
    ok = (isinstance(amplitudes, list) and bool(amplitudes)
          and all(is_real(a) and a >= 0 for a in amplitudes) and is_int(repeats) and repeats >= 1
          and is_real(dt) and dt > 0 and is_real(trial_ms) and trial_ms > 0 and is_real(onset_ms)
          and onset_ms >= 0 and is_real(pulse_ms) and pulse_ms > 0)  # fmt: skip
    verdict = OK if ok else BAD
    if ok:
        if not all(_multiple(x, dt) for x in (trial_ms, onset_ms, pulse_ms)):
            verdict = BAD
        elif round(onset_ms / dt) + 2 * round(pulse_ms / dt) > round(trial_ms / dt):
            verdict = BAD
        elif len(amplitudes) * repeats * round(trial_ms / dt) > MAX_ROWS:
            verdict = BAD
    p, error = outcome(
        lambda: PulseSweepPolicy(amplitudes, **kw),
        surface="PulseSweepPolicy",
        verdict=verdict,
        suspects=["amplitudes", "repeats", "trial_ms", "onset_ms", "pulse_ms", "dt", "trials"],
    )
    if error is None:
        sched = p.schedule()
        assert len(sched) == len(amplitudes) * repeats
        assert p.extent_ms >= sched[-1][0]
        if p.extent_ms / p.dt <= 10**5:
            a = p()
            assert a.shape == (round(p.extent_ms / p.dt), 16) and a.sum() == 0

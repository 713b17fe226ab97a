"""IO devices, encodings and decodings: ``MEA(...)``, ``MEA.fitted(...)``,
``livn.encoding.ElectrodePulses(**kwargs)`` (and its currents) and the decodings
(``MeanFiringRate(duration=...)``, …) against the input contract."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from fuzz_contract import ANY, BAD, OK, budget, outcome, worst
from fuzz_strategies import (
    BAD_SPIKES,
    HUGE_INTS,
    NON_FINITE,
    SPIKE_CASES,
    SPIKES,
    counts,
    is_int,
    is_real,
    reals,
    wrong_types,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from livn.io.mea import MAX_CHANNELS

# ---------------------------------------------------------------------------- MEA
ROWS = st.one_of(
    st.integers(1, 20).map(lambda n: np.column_stack([np.arange(n), np.arange(n) * 100.0,
                                                      np.zeros(n), np.full(n, 10.0)])),
    st.sampled_from(["grid", "nan", "inf", "dup_ids", "frac_ids", "3cols", "empty", "1d",
                     "strings", "too_many", "huge", "nested", None]),
)


def _rows(kind: Any) -> tuple[Any, str]:
    if not isinstance(kind, str) and kind is not None:
        return kind, OK
    base = np.array([[0, 0.0, 0.0, 0.0], [1, 100.0, 0.0, 0.0]])
    table = {
        None: (None, OK),
        "grid": (base, OK),
        "nan": (np.array([[0, np.nan, 0, 0]]), BAD),
        "inf": (np.array([[0, 0, np.inf, 0]]), BAD),
        "dup_ids": (np.array([[0, 0, 0, 0], [0, 1, 1, 1]]), BAD),
        "frac_ids": (np.array([[0.5, 0, 0, 0]]), BAD),
        "3cols": (np.zeros((2, 3)), BAD),
        "empty": (np.zeros((0, 4)), BAD),
        "1d": (np.zeros(4), BAD),
        "strings": ([["a", "b", "c", "d"]], BAD),
        "too_many": (np.column_stack([np.arange(MAX_CHANNELS + 1), np.zeros((MAX_CHANNELS + 1, 3))]),
                     BAD),
        "huge": (np.array([[0, 1e308, 0, 0]]), ANY),
        "nested": ([[0, [1], 2, 3]], BAD),
    }
    return table[kind]


def positive(x: Any) -> str:
    return OK if is_real(x) and x > 0 else BAD


@settings(max_examples=budget(60))
@given(rows=ROWS, input_radius=reals(1.0, 500.0), output_radius=reals(1.0, 500.0),
       max_input_current=reals(0.1, 10.0))
def test_mea(rows, input_radius, output_radius, max_input_current):
    from livn.io import MEA

    coords, verdict = _rows(rows)
    verdict = worst(verdict, positive(input_radius), positive(output_radius),
                    positive(max_input_current))
    mea, error = outcome(
        lambda: MEA(coords, input_radius=input_radius, output_radius=output_radius,
                    max_input_current=max_input_current),
        surface="MEA(...)", verdict=verdict,
        suspects=["electrode", "input_radius", "output_radius", "max_input_current"])
    if error is None:
        n = 16 if coords is None else len(coords)
        assert mea.num_channels == n and mea.electrode_coordinates.shape == (n, 4)
        assert mea.input_radius == float(input_radius)


@settings(max_examples=budget(60))
@given(lower=st.one_of(st.just([0.0, 0.0]), st.just([-100.0, 50.0]),
                       st.sampled_from([[0, float("nan")], [-1e308, 0], [0], "ab", None,
                                        [True, 0]])),
       upper=st.one_of(st.just([4000.0, 4000.0]), st.just([2000.0, 3000.0]),
                       st.sampled_from([[1e300, 1e300], [0, 0], [-5, -5], [float("inf"), 1],
                                        [1, 2, 3]])),
       pitch=st.one_of(st.sampled_from([1000.0, 500.0, 250.0]), st.floats(100, 2000),
                       reals(1.0, 2000.0)),
       z=st.one_of(st.just(0.0), st.floats(-100, 100), reals(-100.0, 100.0)),
       radius=st.one_of(st.none(), reals(1.0, 500.0)))
@example(lower=[0.0, 0.0], upper=[1e300, 1e300], pitch=1e-300, z=0.0, radius=None)
def test_mea_fitted(lower, upper, pitch, z, radius):
    from livn.io import MEA

    def pair(p):
        return isinstance(p, list) and len(p) == 2 and all(is_real(x) for x in p)

    verdict = worst(OK if pair(lower) and pair(upper) else BAD, positive(pitch),
                    OK if is_real(z) else BAD, OK if radius is None else positive(radius))
    if verdict == OK and (max(abs(x) for x in lower + upper) > 1e6 or pitch < 50):
        verdict = ANY  # many electrodes, or more than MAX_CHANNELS
    names = ["pitch", "z", "radius", "lower", "upper", "electrode", "MEA", "bounds", "grid"]
    mea, error = outcome(lambda: MEA.fitted(lower, upper, pitch=pitch, z=z, radius=radius),
                         surface="MEA.fitted", verdict=verdict, suspects=names)
    if error is None:
        assert 1 <= mea.num_channels <= MAX_CHANNELS
        assert mea.input_radius == (float(pitch) / 4 if radius is None else float(radius))


# ---------------------------------------------------------------------------- encodings
PULSE_KWARGS: dict[str, st.SearchStrategy[Any]] = {
    "channels": st.one_of(st.none(), st.lists(st.integers(-1, 20), max_size=4), st.sampled_from(
        [1.5, 3, True, "0,1", {0: 1}, [0, 0], [], [True], [2**64]])),
    "amplitude_uA": st.one_of(st.none(), reals(0.1, 50.0)),
    "pulse_ms": st.one_of(st.sampled_from([0.2, 0.1, 0.05]), reals(0.0, 1.0)),
    "phase": st.sampled_from(["biphasic", "mono", "monophasic", "bi", "", None, 3]),
    "polarity": st.sampled_from(["cathodic", "anodic", "cat", "", None]),
    "onset_ms": st.one_of(st.sampled_from([0.0, 5.0, 10.0]), reals(0.0, 50.0)),
    "period_ms": st.one_of(st.none(), st.sampled_from([10.0, 50.0]), reals(0.0, 100.0)),
    "count": st.one_of(st.none(), counts(1, None, (1, 5))),
    "interphase_ms": st.one_of(st.just(0.0), reals(0.0, 1.0)),
    "dt": st.one_of(st.sampled_from([0.025, 0.05, 0.1]), reals(0.0, 1.0),
                    st.sampled_from([1e-300, 5e-324])),
}


def _multiple(ms: float, dt: float) -> bool:
    k = ms / dt
    return math.isfinite(k) and k <= 2**31 - 1 and abs(k - round(k)) <= 1e-6 * max(1.0, k)


def pulses_verdict(kw: dict[str, Any]) -> str:
    dt = kw.get("dt", 0.025)
    if not is_real(dt) or dt <= 0:
        return BAD
    ch = kw.get("channels")
    if ch is not None:
        items = [ch] if is_int(ch) else ch
        if not isinstance(items, list) or not items or not all(
                is_int(c) and c >= 0 for c in items) or len(set(items)) != len(items):
            return BAD
    a = kw.get("amplitude_uA")
    if a is not None and not (is_real(a) and a > 0):
        return BAD
    if kw.get("phase", "biphasic") not in ("biphasic", "mono", "monophasic"):
        return BAD
    if kw.get("polarity", "cathodic") not in ("cathodic", "anodic"):
        return BAD
    pulse, onset, gap = kw.get("pulse_ms", 0.2), kw.get("onset_ms", 0.0), kw.get("interphase_ms", 0.0)
    if not (is_real(pulse) and pulse > 0 and is_real(onset) and onset >= 0 and is_real(gap)
            and gap >= 0):
        return BAD
    mono = kw.get("phase") in ("mono", "monophasic")
    if mono and gap > 0:
        return BAD
    c = kw.get("count")
    if c is not None and not (is_int(c) and c >= 1):
        return BAD
    if not _multiple(pulse, dt) or not _multiple(gap, dt) or not _multiple(onset, dt):
        return BAD
    period = kw.get("period_ms")
    if period is None:
        if c is not None and c > 1:
            return BAD
    else:
        if not (is_real(period) and period > 0) or not _multiple(period, dt):
            return BAD
        width = round(pulse / dt) * (1 if mono else 2) + (0 if mono else round(gap / dt))
        if round(period / dt) < width:
            return BAD
    return OK


@settings(max_examples=budget(100))
@given(kw=st.fixed_dictionaries({}, optional=PULSE_KWARGS))
@example(kw={"channels": 1.5})
@example(kw={"amplitude_uA": 2**1024})
@example(kw={"onset_ms": 2**1024})
@example(kw={"pulse_ms": 1e300, "dt": 1e-300})
def test_electrode_pulses(kw):
    from livn.encoding import ElectrodePulses

    verdict = pulses_verdict(kw)
    enc, error = outcome(lambda: ElectrodePulses(**kw), surface="ElectrodePulses(**kwargs)",
                         verdict=verdict, suspects=[*kw, "pulse", "dt", "period", "phase"])
    if error is None:
        assert enc.dt == float(kw.get("dt", 0.025))


@settings(max_examples=budget(60))
@given(kw=st.fixed_dictionaries({}, optional={k: v for k, v in PULSE_KWARGS.items()
                                              if k != "bogus"}),
       duration=st.one_of(st.sampled_from([20.0, 100.0]), reals(0.0, 200.0),
                          st.sampled_from(HUGE_INTS)),
       inputs=st.one_of(st.none(), st.sampled_from(["ones", "half", "nan", "neg", "big",
                                                    "short", "strings"])))
@example(kw={"dt": 1e-9}, duration=1e9, inputs=None)
def test_electrode_pulses_currents(kw, duration, inputs):
    """``channel_inputs(mea, duration, inputs)``: the currents of a valid encoding, or a
    refusal naming the run, the time grid or the inputs."""
    from livn.encoding import ElectrodePulses
    from livn.errors import LivnError
    from livn.io import MEA

    try:
        enc = ElectrodePulses(**kw)
    except LivnError:
        return  # covered by test_electrode_pulses
    mea = MEA()
    arr = {None: None, "ones": np.ones(16), "half": np.full(16, 0.5),
           "nan": np.full(16, np.nan), "neg": -np.ones(16), "big": np.full(16, 2.0),
           "short": np.ones(3), "strings": np.array(["a"] * 16)}[inputs]
    verdict = ANY if is_real(duration) and duration > 0 else BAD
    if inputs in ("nan", "neg", "big", "short", "strings"):
        verdict = BAD
    if verdict != BAD and is_real(duration) and duration / enc.dt > 1e6:
        verdict = BAD if duration / enc.dt > 2**31 - 1 else ANY
        if verdict == ANY:
            return  # valid, but millions of rows: not allocated here
    if enc.channels is not None and any(c >= 16 for c in enc.channels):
        verdict = BAD
    currents, error = outcome(lambda: enc.channel_inputs(mea, duration, arr),
                              surface="ElectrodePulses.channel_inputs", verdict=verdict,
                              suspects=["duration", "inputs", "onset", "pulse", "channel",
                                        "rows", "dt", "fit"])
    if error is None:
        assert currents.shape == (enc.num_rows(duration), 16)
        assert np.all(np.isfinite(currents))


def test_unknown_keyword_is_python_signature_error():
    """An unknown keyword in a direct Python call stays Python's TypeError (a signature
    error, not a value); configuration surfaces (``encoding_kwargs``) turn it into a
    ConfigError naming the class (test_fuzz_sample)."""
    import pytest

    from livn.encoding import ElectrodePulses

    with pytest.raises(TypeError, match="bogus"):
        ElectrodePulses(bogus=1)


# ---------------------------------------------------------------------------- decodings
DECODINGS = ["Raw", "MeanFiringRate", "ChannelRecording", "CultureStatistics"]
DECODING_KWARGS: dict[str, st.SearchStrategy[Any]] = {
    "population": st.sampled_from([None, "EXC", "INH", "NOPE", 3, ""]),
    "output_radius": st.one_of(st.none(), reals(1.0, 500.0)),
    "bin_ms": reals(0.1, 50.0),
    "min_fraction": reals(0.0, 1.0),
    "rate_factor": reals(0.0, 5.0),
    "gap_ms": reals(0.0, 100.0),
    "synchrony_bin_ms": reals(0.1, 20.0),
    "min_spikes": counts(2, None, (2, 5)),
}
ACCEPTS = {"Raw": set(), "MeanFiringRate": {"population"},
           "ChannelRecording": {"output_radius"},
           "CultureStatistics": {"population", "bin_ms", "min_fraction", "rate_factor", "gap_ms",
                                 "synchrony_bin_ms", "min_spikes"}}


def decoding_verdict(name: str, duration: Any, kw: dict[str, Any]) -> str:
    if not (is_real(duration) and duration > 0):
        return BAD
    if set(kw) - ACCEPTS[name]:
        return BAD
    for k, x in kw.items():
        if k == "population":
            ok = x is None or isinstance(x, str)  # the name is checked when decoding
        elif k == "output_radius":
            ok = x is None or (is_real(x) and x > 0)
        elif k in ("bin_ms", "synchrony_bin_ms"):
            ok = is_real(x) and x > 0
        elif k == "min_fraction":
            ok = is_real(x) and 0 < x <= 1
        elif k in ("rate_factor", "gap_ms"):
            ok = is_real(x) and x >= 0
        else:
            ok = is_int(x) and x >= 2
        if not ok:
            return BAD
    return OK


@settings(max_examples=budget(100))
@given(name=st.sampled_from(DECODINGS),
       duration=st.one_of(st.sampled_from([100.0, 1000.0]), reals(0.0, 2000.0),
                          st.sampled_from(HUGE_INTS + NON_FINITE), wrong_types()),
       kw=st.fixed_dictionaries({}, optional=DECODING_KWARGS))
@example(name="CultureStatistics", duration=100.0, kw={"min_fraction": 2**1024})
@example(name="ChannelRecording", duration=100.0, kw={"output_radius": 2**1024})
def test_decodings(name, duration, kw):
    import livn.decoding as dec

    kw = {k: v for k, v in kw.items() if k in ACCEPTS[name]}  # see the test above
    verdict = decoding_verdict(name, duration, kw)
    obj, error = outcome(lambda: getattr(dec, name)(duration=duration, **kw),
                         surface="decodings(duration=, ...)", verdict=verdict,
                         suspects=["duration", *kw, name])
    if error is None:
        assert obj.duration == float(duration)



@settings(max_examples=budget(60))
@given(name=st.sampled_from(DECODINGS[1:]), spikes=SPIKES,
       duration=st.sampled_from([50.0, 100.0, 1e-3]),
       kw=st.fixed_dictionaries({}, optional={"bin_ms": st.sampled_from([1e-9, 1.0, 10.0]),
                                              "synchrony_bin_ms": st.sampled_from([1e-9, 5.0]),
                                              "population": st.sampled_from(["EXC", "NOPE"])}))
@example(name="CultureStatistics", spikes="ok", duration=1e308, kw={"bin_ms": 1e-300})
def test_decoding_calls(name, spikes, duration, kw):
    """A decoding called on recordings (with a fake Env holding EI1's geometry)."""
    import livn.decoding as dec
    from livn.errors import LivnError

    kw = {k: v for k, v in kw.items() if k in ACCEPTS[name]}
    try:
        decoding = getattr(dec, name)(duration=duration, **kw)
    except LivnError:
        return
    it, t = SPIKE_CASES[spikes]
    verdict = BAD if spikes in BAD_SPIKES else OK
    if kw.get("population") == "NOPE":
        verdict = BAD
    if verdict == OK and (duration / min(kw.get("bin_ms", 10.0), kw.get("synchrony_bin_ms", 5.0))
                          > 1e7):
        verdict = ANY  # too many bins (refused above MAX_BINS)
    env = _fake_env()
    result, error = outcome(lambda: decoding(env, it, t, None, None), surface="decoding(env, ...)",
                            verdict=verdict, timeout=30,
                            suspects=["spike", "gid", "population", "it", "bins", "bin_ms",
                                      "duration", "record_spikes"])
    if error is None and name == "MeanFiringRate":
        n = {"EXC": 8, None: 10}.get(kw.get("population"), 2)
        assert result.shape == (n,) and np.all(np.isfinite(result))


def _fake_env():
    """What a decoding reads from an Env: the system's cells and the MEA."""
    from types import SimpleNamespace

    from livn.io import MEA

    coords = np.column_stack([np.arange(10), np.linspace(500, 3500, 10), np.full(10, 500.0),
                              np.zeros(10)])
    system = SimpleNamespace(num_neurons=10, population_ranges={"EXC": (0, 8), "INH": (8, 2)},
                             neuron_coordinates=coords)
    return SimpleNamespace(system=system, io=MEA())

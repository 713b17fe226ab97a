"""livn 2.0.0's decodings and IO helpers against the input contract: the dict decodings of
:mod:`livn.legacy_decoding` (``ISICV(duration=..., ...)``, ``LFP(...)``, ``Slice``, …) and
their calls in both forms, ``stimulus_response(...)``, ``MEA.set_params({...})`` and
``electrode_array_coordinates(_for_area)(...)``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from fuzz_contract import ANY, BAD, OK, budget, outcome
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

from livn.decoding import MAX_BINS
from livn.io.mea import MAX_CHANNELS

# ---------------------------------------------------------------------------- constructors
ONSETS = st.one_of(reals(0.0, 500.0), st.lists(st.floats(0.0, 500.0), max_size=4),
                   st.sampled_from([[1.0, math.nan], [[1.0]], "1", None]))  # fmt: skip
KWARGS: dict[str, st.SearchStrategy[Any]] = {
    "min_spikes": counts(1, None, (1, 5)),
    "population": st.sampled_from([None, "EXC", 3, ""]),
    "bin_ms": reals(0.1, 50.0),
    "min_fraction": reals(0.0, 1.0),
    "rate_factor": reals(0.0, 5.0),
    "gap_ms": reals(0.0, 100.0),
    "onset_ms": ONSETS,
    "pre_ms": reals(0.0, 1000.0),
    "post_ms": reals(0.0, 1000.0),
    "window_ms": reals(0.0, 200.0),
    "bin_size": reals(0.1, 50.0),
    "tail_ms": reals(0.0, 4000.0),
    "threshold_k": reals(0.0, 5.0),
    "downsample_hz": st.one_of(st.none(), reals(1.0, 5000.0)),
    "lowpass_hz": st.one_of(st.none(), reals(1.0, 5000.0)),
    "filter_order": counts(1, 20, (1, 8)),
    "compute_band_power": st.sampled_from([True, False, 1, "yes", None]),
    "channels": st.sampled_from([None, [0, 1], 3, [], [1.5], "abc", [[1]], [True]]),
}
ACCEPTS = {
    "ActiveFraction": {"min_spikes", "population"},
    "ISICV": {"min_spikes", "population"},
    "BurstRate": {"bin_ms", "min_fraction", "rate_factor", "gap_ms", "population"},
    "PeriStimulusHistogram": {"onset_ms", "pre_ms", "post_ms", "bin_ms", "population"},
    "StimulusResponse": {"onset_ms", "window_ms", "pre_ms", "post_ms", "bin_size", "tail_ms",
                         "threshold_k", "population"},
    "LFP": {"downsample_hz", "lowpass_hz", "filter_order", "compute_band_power", "channels"},
}  # fmt: skip


def positive(x: Any) -> bool:
    return is_real(x) and x > 0


def non_negative(x: Any) -> bool:
    return is_real(x) and x >= 0


def onsets_ok(x: Any) -> bool:
    if is_real(x):
        return True
    return isinstance(x, list) and 0 < len(x) and all(is_real(v) for v in x)


def bins_verdict(span: float, width: float) -> str:
    ratio = span / width
    if ratio > 2 * MAX_BINS:
        return BAD
    return ANY if ratio > MAX_BINS / 2 else OK


def verdict_for(name: str, duration: Any, kw: dict[str, Any]) -> str:
    if not positive(duration):
        return BAD
    minimum = {"ActiveFraction": 1, "ISICV": 2}.get(name, 1)
    checks = {
        "min_spikes": lambda x: is_int(x) and x >= minimum,
        "population": lambda x: x is None or isinstance(x, str),
        "bin_ms": positive, "bin_size": positive, "post_ms": positive, "window_ms": positive,
        "min_fraction": lambda x: is_real(x) and 0 < x <= 1,
        "rate_factor": non_negative, "gap_ms": non_negative, "pre_ms": non_negative,
        "tail_ms": non_negative, "threshold_k": non_negative,
        "onset_ms": onsets_ok,
        "downsample_hz": lambda x: x is None or positive(x),
        "lowpass_hz": lambda x: x is None or positive(x),
        "filter_order": lambda x: is_int(x) and 1 <= x <= 20,
        "compute_band_power": lambda x: isinstance(x, bool),
        "channels": lambda x: x is None or x == [0, 1] or x == 3,
    }  # fmt: skip
    if not all(checks[k](v) for k, v in kw.items()):
        return BAD
    if name == "PeriStimulusHistogram":
        return bins_verdict(
            kw.get("pre_ms", 0.0) + kw.get("post_ms", 100.0), kw.get("bin_ms", 10.0)
        )
    if name == "StimulusResponse":
        span = kw.get("pre_ms", 1000.0) + max(kw.get("post_ms", 500.0), kw.get("tail_ms", 4000.0))
        return bins_verdict(span, kw.get("bin_size", 10.0))
    return OK


@settings(max_examples=budget(120))
@given(name=st.sampled_from(sorted(ACCEPTS)),
       duration=st.one_of(st.sampled_from([100.0, 1000.0]), reals(0.0, 2000.0),
                          st.sampled_from(HUGE_INTS + NON_FINITE), wrong_types()),
       kw=st.fixed_dictionaries({}, optional=KWARGS))  # fmt: skip
@example(name="StimulusResponse", duration=10.0, kw={"bin_size": 1e-300})
@example(name="PeriStimulusHistogram", duration=10.0, kw={"pre_ms": 1e308, "post_ms": 1e308})
@example(name="LFP", duration=10.0, kw={"channels": []})
def test_legacy_decodings(name, duration, kw):
    import livn.decoding as dec

    kw = {k: v for k, v in kw.items() if k in ACCEPTS[name]}
    verdict = verdict_for(name, duration, kw)
    obj, error = outcome(lambda: getattr(dec, name)(duration=duration, **kw),
                         surface="legacy decodings(duration=, ...)", verdict=verdict,
                         suspects=["duration", *kw, name])  # fmt: skip
    if error is None:
        assert obj.duration == float(duration)


@settings(max_examples=budget(40))
@given(start=st.one_of(st.floats(0.0, 100.0), reals(0.0, 100.0)),
       stop=st.one_of(st.none(), st.floats(0.0, 200.0), reals(0.0, 200.0)),
       stages=st.sampled_from(["ok", "empty", "not_callable", "string", "int"]))  # fmt: skip
def test_pipe_and_slice(start, stop, stages):
    from livn.decoding import MeanFiringRate, Pipe, Slice

    ok = non_negative(start) and (stop is None or (is_real(stop) and stop > start))
    piece, _ = outcome(lambda: Slice(start, stop), surface="Slice(start, stop)",
                       verdict=OK if ok else BAD, suspects=["start", "stop"])  # fmt: skip
    if piece is not None:
        assert piece.start == float(start) and piece.duration == (None if stop is None else stop)
    given_stages = {"ok": [MeanFiringRate(duration=10.0)], "empty": [], "not_callable": [1],
                    "string": "ab", "int": 3}[stages]  # fmt: skip
    outcome(lambda: Pipe(given_stages), surface="Pipe(stages)",
            verdict=OK if stages == "ok" else BAD, suspects=["stage", "Pipe"])  # fmt: skip


# ---------------------------------------------------------------------------- calls

def _fake_env():
    from types import SimpleNamespace

    from livn.io import MEA

    coords = np.column_stack([np.arange(10), np.linspace(500, 3500, 10), np.full(10, 500.0),
                              np.zeros(10)])  # fmt: skip
    system = SimpleNamespace(num_neurons=10, population_ranges={"EXC": (0, 8), "INH": (8, 2)},
                             neuron_coordinates=coords)  # fmt: skip
    return SimpleNamespace(system=system, io=MEA(), model=SimpleNamespace(record_dt=0.1))


@settings(max_examples=budget(60))
@given(name=st.sampled_from(["ActiveFraction", "ISICV", "BurstRate", "PeriStimulusHistogram",
                             "StimulusResponse", "MeanFiringRate"]),
       spikes=SPIKES, form=st.sampled_from(["run", "ours"]))  # fmt: skip
def test_legacy_decoding_calls(name, spikes, form):
    import livn.decoding as dec
    from livn.result import RunResult

    decoding = getattr(dec, name)(duration=100.0)
    it, t = SPIKE_CASES[spikes]
    verdict = BAD if spikes in BAD_SPIKES else OK
    env = _fake_env()
    run = RunResult(it, t, None, None, duration=100.0)
    call = (lambda: decoding(run, env)) if form == "run" else (
        lambda: decoding(env, it, t, None, None))  # fmt: skip
    result, error = outcome(call, surface="legacy decoding(run, env)", verdict=verdict,
                            suspects=["spike", "gid", "it", "record_spikes"])  # fmt: skip
    if error is None and form == "run":
        assert isinstance(result, dict)


RESPONSE_WILD = {"n_units": counts(1, None, (1, 5)), "onset_ms": ONSETS,
                 "window_ms": reals(0.0, 200.0), "threshold_k": reals(0.0, 5.0)}  # fmt: skip
RESPONSE_OK = {"n_units": 3, "onset_ms": 5.0, "window_ms": 20.0, "threshold_k": 3.0}


@settings(max_examples=budget(60))
@given(wild=st.sampled_from([None, *RESPONSE_WILD]), data=st.data())
def test_stimulus_response_function(wild, data):
    """One argument at a time is fuzzed; the others are valid."""
    from livn.decoding import stimulus_response

    args = dict(RESPONSE_OK)
    if wild is not None:
        args[wild] = data.draw(RESPONSE_WILD[wild], label=wild)
    checks = {"n_units": lambda x: is_int(x) and 1 <= x <= 10**9, "onset_ms": onsets_ok,
              "window_ms": positive, "threshold_k": non_negative}  # fmt: skip
    verdict = OK if all(checks[k](v) for k, v in args.items()) else BAD
    out, _ = outcome(lambda: stimulus_response([0, 1], [10.0, 20.0], args["n_units"],
                                               args["onset_ms"], window_ms=args["window_ms"],
                                               threshold_k=args["threshold_k"]),
                     surface="stimulus_response(...)", verdict=verdict,
                     suspects=["n_units", "onset_ms", "window_ms", "threshold_k"])  # fmt: skip
    if out is not None:
        assert set(out) == {"evoked_rate_hz", "response_gain", "response_peak_hz",
                            "response_latency_ms", "response_duration_ms",
                            "response_probability"}  # fmt: skip
        assert all(isinstance(v, float) for v in out.values())


# ---------------------------------------------------------------------------- IO
@settings(max_examples=budget(60))
@given(params=st.one_of(
    st.dictionaries(st.sampled_from(["input_radius", "output_radius", "max_input_current"]),
                    st.floats(1.0, 500.0), max_size=3),
    st.dictionaries(st.sampled_from(["input_radius", "output_radius", "max_input_current",
                                     "volume_conductor-sigma", "pitch", ""]),
                    reals(1.0, 500.0), max_size=3)))  # fmt: skip
def test_mea_set_params(params):
    from livn.io import MEA

    known = {"input_radius", "output_radius", "max_input_current"}
    verdict = OK if all(k in known and positive(v) for k, v in params.items()) else BAD
    mea = MEA()
    before = (mea.input_radius, mea.output_radius, mea.max_input_current)
    _, error = outcome(lambda: mea.set_params(params), surface="MEA.set_params({...})",
                       verdict=verdict, suspects=[*params, *params.values()])  # fmt: skip
    if error is not None:
        assert (mea.input_radius, mea.output_radius, mea.max_input_current) == before


AREAS = st.one_of(
    st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(0, 1e5), st.floats(0, 1e5))
    .map(lambda v: [[v[0], v[1]], [v[0] + v[2], v[1] + v[3]]]),
    st.sampled_from([None, "area", [[0, 0]], [[0, 0], [math.inf, 1]], [[5, 5], [0, 0]],
                     [[0, 0], [1e308, 1e308]], [[-1e308, 0], [1e308, 1]]]),
)  # fmt: skip
#: Typical values (tame) and everything (wild); one argument at a time is wild.
AREA_ARGS = {"pitch": (st.floats(100.0, 2000.0), reals(1.0, 2000.0)),
             "area": (st.tuples(st.floats(0, 1e4), st.floats(0, 1e4)).map(
                          lambda v: [[0.0, 0.0], [v[0], v[1]]]), AREAS),
             "z": (st.floats(0.0, 500.0), reals(0.0, 500.0))}  # fmt: skip
GRID_ARGS = {"pitch": (st.floats(1.0, 2000.0), reals(1.0, 2000.0)),
             "xs": (st.integers(1, 300), counts(1, None, (1, 8))),
             "ys": (st.integers(1, 300), counts(1, None, (1, 8)))}  # fmt: skip


def _draw(data: Any, table: dict[str, tuple[Any, Any]], wild: str | None) -> dict[str, Any]:
    return {k: data.draw(wild_s if k == wild else tame, label=k)
            for k, (tame, wild_s) in table.items()}  # fmt: skip


def _axis(extent: float, pitch: float) -> int:
    ratio = extent / pitch
    m = MAX_CHANNELS if ratio >= MAX_CHANNELS else math.floor(ratio + 1e-9) + 1
    return 1 << (m.bit_length() - 1)


@settings(max_examples=budget(80))
@given(wild=st.sampled_from([None, *AREA_ARGS]), data=st.data())
def test_electrode_array_coordinates_for_area(wild, data):
    from livn.io import electrode_array_coordinates_for_area

    args = _draw(data, AREA_ARGS, wild)
    pitch, area, z = args["pitch"], args["area"], args["z"]
    verdict = OK if positive(pitch) and is_real(z) else BAD
    shape = None
    if verdict == OK:
        arr = np.asarray(area, dtype=float) if isinstance(area, list) and len(area) == 2 else None
        if arr is None or arr.shape != (2, 2) or not np.all(np.isfinite(arr)):
            verdict = BAD
        else:
            extent = arr[1] - arr[0]
            if np.any(extent < 0) or not np.all(np.isfinite(extent)):
                verdict = BAD
            else:
                shape = [_axis(float(e), float(pitch)) for e in extent]
                verdict = OK if shape[0] * shape[1] <= MAX_CHANNELS else BAD
    rows, error = outcome(lambda: electrode_array_coordinates_for_area(pitch, area, z=z),
                          surface="electrode_array_coordinates_for_area(...)", verdict=verdict,
                          suspects=["pitch", "area", "z", "MEA grid", "electrodes"])  # fmt: skip
    if error is None:
        assert rows.shape == (shape[0] * shape[1], 4) and np.all(np.isfinite(rows))


@settings(max_examples=budget(40))
@given(wild=st.sampled_from([None, *GRID_ARGS]), data=st.data())
def test_electrode_array_coordinates(wild, data):
    from livn.io import electrode_array_coordinates

    args = _draw(data, GRID_ARGS, wild)
    pitch, xs, ys = args["pitch"], args["xs"], args["ys"]
    ok = positive(pitch) and is_int(xs) and is_int(ys) and xs >= 1 and ys >= 1
    verdict = (OK if xs * ys <= MAX_CHANNELS else BAD) if ok else BAD
    rows, _ = outcome(lambda: electrode_array_coordinates(pitch, xs, ys),
                      surface="electrode_array_coordinates(...)", verdict=verdict,
                      suspects=["pitch", "nx", "ny", "MEA grid"])  # fmt: skip
    if rows is not None:
        assert rows.shape == (xs * ys, 4)

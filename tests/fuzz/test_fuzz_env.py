"""Env-level calls on one shared ``Env("EI1").init()``: ``Stimulus``, ``set_weights``,
``set_noise``, ``set_params``, ``run`` (bad durations, stimuli of every array library),
``run_batch(seeds=)``, ``clear(seed=)`` and ``Env(seed=)``.

Simulating compiles once per duration and stimulus length, so valid runs use one fixed
duration (5 ms) and stimulus length (5 rows); the refusal side is fuzzed freely.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from fuzz_contract import ANY, BAD, OK, budget, outcome, worst
from fuzz_strategies import HUGE_INTS, MAX_SEED, NON_FINITE, counts, is_int, is_real, reals
from hypothesis import example, given, settings
from hypothesis import strategies as st

from livn.limits import FLOAT32_MAX, MAX_UNITS
from livn.stimulus import Stimulus

DURATION = 5.0  # ms: the one duration that is simulated
ROWS = 5  # rows of the simulated stimuli (dt = 1 ms)


@pytest.fixture(scope="module")
def env():
    from livn.env import Env

    e = Env("EI1", seed=1).init()
    e.record_spikes()
    e.record_voltage()
    return e


def _copy_params(env) -> Any:
    import jax

    return jax.tree_util.tree_map(lambda x: np.array(x, copy=True), env.params)


def _same_params(a, b) -> bool:
    import jax

    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(np.array_equal(x, y, equal_nan=True) for x, y in zip(
        la, lb, strict=True))


# ---------------------------------------------------------------------------- arrays
LIBRARIES = ["numpy", "list", "jax", "torch", "torch_grad"]
DTYPES = ["float32", "float64", "int32", "uint8", "bool", "complex64", "object", "str"]
ARRAY_VALUES = ["zeros", "normal", "nan", "inf", "-inf", "huge", "tiny"]


@st.composite
def arrays(draw, cells: int = 10) -> tuple[Any, dict[str, Any]]:
    """An array of a library, dtype, shape and content, and what it is."""
    lib = draw(st.sampled_from(LIBRARIES))
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.one_of(st.just((ROWS, cells)), st.just((ROWS, 3)),
                           st.sampled_from([(), (ROWS,), (0, cells), (ROWS, 0), (2, ROWS, cells),
                                            (ROWS, cells, 1), (1, 1), (ROWS, cells + 1)])))
    values = draw(st.sampled_from(ARRAY_VALUES))
    base = {"zeros": 0.0, "normal": 0.5, "nan": math.nan, "inf": math.inf, "-inf": -math.inf,
            "huge": 1e300, "tiny": 5e-324}[values]
    a = np.full(shape, 0.25)
    if a.size:
        a.flat[draw(st.integers(0, a.size - 1))] = base
    info = {"lib": lib, "dtype": dtype, "shape": shape, "values": values}
    with np.errstate(all="ignore"):  # finite in the engine's float32
        cast = a if dtype in ("str", "object") else a.astype(dtype)
        info["finite"] = cast.dtype.kind not in "fc" or bool(
            np.all(np.isfinite(cast)) and np.all(np.abs(cast) <= FLOAT32_MAX))
        info["modest"] = dtype != "str" and bool(np.all(np.abs(cast.astype(np.complex128)) <= 1e3))
    if dtype == "str":
        a = a.astype(str)
    elif dtype == "object":
        a = a.astype(object)
    else:
        with np.errstate(all="ignore"):
            a = a.astype(dtype)
    if lib == "list":
        items = a.tolist()
        as_read = np.asarray(items)  # what the list is: [] has shape (0,), [[]] float64, …
        kind = {"b": "bool", "c": "complex64", "U": "str"}.get(as_read.dtype.kind, "float64")
        return items, {**info, "dtype": kind, "shape": as_read.shape}
    if lib == "jax":
        if dtype in ("str", "object"):
            return a, {**info, "lib": "numpy"}
        import jax.numpy as jnp

        return jnp.asarray(a), info
    if lib.startswith("torch"):
        if dtype in ("str", "object", "uint8") or (lib == "torch_grad" and a.dtype.kind not in "fc"):
            return a, {**info, "lib": "numpy"}
        import torch

        t = torch.from_numpy(np.ascontiguousarray(a))
        if lib == "torch_grad":
            t.requires_grad_(True)
        return t, info
    return a, info


def stimulus_verdict(info: dict[str, Any], dt: Any, gids: Any, cells: int = 10) -> str:
    dtype, shape = info["dtype"], info["shape"]
    if dtype in ("str", "object"):
        return BAD
    if len(shape) != 2:
        return BAD
    if not info["finite"]:
        return BAD
    if not is_real(dt) or dt <= 0:
        return BAD
    if gids is not None:
        g = np.asarray(gids) if not isinstance(gids, str | dict) else None
        if g is None or g.dtype == bool or not np.issubdtype(g.dtype, np.integer):
            return BAD
        g = g.reshape(-1)
        if len(g) != shape[1] or len(np.unique(g)) != len(g) or np.any(g < 0):
            return BAD
    if dtype in ("bool", "complex64"):
        return BAD  # a current is a real number
    return OK


GIDS = st.one_of(st.none(), st.sampled_from([[0, 1, 2], [0, 0, 1], [-1, 0, 1], [0.5, 1.5, 2.5],
                                             [True, False, True], [7, 8, 9], [0, 1, 20],
                                             "abc", {"a": 1}, list(range(10)), [2**64, 0, 1]]))


@settings(max_examples=budget(80))
@given(case=arrays(), dt=st.one_of(st.just(1.0), reals(0.0, 2.0)), gids=GIDS)
@example(case=(np.zeros((ROWS, 10), np.float32), {"lib": "numpy", "dtype": "float32",
                                                  "shape": (ROWS, 10), "values": "zeros",
                                                  "finite": True}), dt=2**1024, gids=None)
def test_stimulus(case, dt, gids):
    array, info = case
    verdict = stimulus_verdict(info, dt, gids)
    stim, error = outcome(lambda: Stimulus(array, dt=dt, gids=gids), surface="Stimulus",
                          verdict=verdict, suspects=["Stimulus", "array", "dt", "gids"])
    if error is None:
        assert stim.num_steps == info["shape"][0] and stim.num_inputs == info["shape"][1]
        assert stim.dt == float(dt)


@settings(max_examples=budget(40))
@given(case=arrays(), gids=GIDS)
@example(case=(np.zeros((ROWS, 10), np.float32), {"lib": "torch_grad", "dtype": "float32",
                                                  "shape": (ROWS, 10), "values": "zeros",
                                                  "finite": True}), gids=None)
def test_run_with_stimulus(env, case, gids):
    """``env.run(5, array)`` / ``env.run(5, Stimulus(array, gids=...))``: refused with a
    LivnError, or run (only the canonical 5-row shape is simulated: one compilation)."""
    array, info = case
    if info["lib"] == "torch_grad" and isinstance(array, np.ndarray):  # the @example
        import torch

        array = torch.from_numpy(array).requires_grad_(True)
    verdict = stimulus_verdict(info, 1.0, gids)
    shape = info["shape"]
    if verdict != BAD:
        g = None if gids is None else np.asarray(gids).reshape(-1)
        if (g is None and len(shape) == 2 and shape[1] > 10) or (
                g is not None and np.any(g >= 10)):
            verdict = BAD  # more columns than the 10 cells (fewer: the first gids, seed 004)
        elif shape[0] != ROWS or shape[1] == 0:
            return  # valid but another length: would compile again
    env.clear()  # every case from the same state (an absurd current may leave NaN behind)
    before = _copy_params(env)

    def call():
        stim = array if gids is None else Stimulus(array, dt=1.0, gids=gids)
        return env.run(DURATION, stim)

    result, error = outcome(call, surface="Env.run(stimulus)", verdict=verdict, timeout=120,
                            suspects=["Stimulus", "array", "dt", "gids", "cells", "columns"])
    assert _same_params(before, env.params)
    if error is None:
        it, t, _, v = result
        assert v.shape == (10, int(DURATION / 0.1)) and len(it) == len(t)
        if info.get("modest", True):  # currents of 10⁹ nA are valid input, but blow the model up
            assert np.all(np.isfinite(v))


@settings(max_examples=budget(30))
@given(case=arrays(cells=16))
def test_cell_stimulus_channels(env, case):
    """Electrode currents ``[T, 16]``: refusals only (a valid one is built, not run)."""
    array, info = case
    verdict = stimulus_verdict(info, 1.0, None, cells=16)
    if verdict != BAD and info["shape"][1:] != (16,):
        verdict = BAD
    stim, error = outcome(lambda: env.cell_stimulus(array, dt=1.0), surface="Env.cell_stimulus",
                          verdict=verdict, suspects=["channel", "Stimulus", "array"])
    if error is None:
        assert stim.space == "channels" and stim.num_inputs == 16


# ---------------------------------------------------------------------------- parameters
#: livn 2.0.0 and seed 004 spellings, and the full keys of EI1 each one names.
PARTIAL_KEYS = {
    "EXC_EXC-dend-AMPA-weight": ["EXC_EXC-dendrite-AMPA-weight"],
    "EXC_EXC-hillock-AMPA-weight": ["EXC_EXC-dendrite-AMPA-weight"],
    "EXC_EXC": ["EXC_EXC-dendrite-AMPA-weight", "EXC_EXC-dendrite-NMDA-weight"],
    "INH-GABA_A": ["INH_INH-soma-GABA_A-weight"],
    "EXC": ["EXC_EXC-dendrite-AMPA-weight", "EXC_EXC-dendrite-NMDA-weight",
            "EXC_INH-soma-GABA_A-weight"],
    "INH_EXC-soma-weight": ["INH_EXC-soma-AMPA-weight", "INH_EXC-soma-NMDA-weight"],
}
BAD_KEYS = ["EXC_EXC-soma-AMPA-weight", "nope", "", "EXC-dend-AMPA-tau_decay", "EXC_EXC-AMPA-x",
            "INH-dend", "EXC_EXC-dendrite-AMPA-weight-weight-x"]
WEIGHT_KEYS = st.one_of(st.sampled_from(["EXC_EXC-dendrite-AMPA-weight",
                                         "INH_INH-soma-GABA_A-weight",
                                         "EXC_INH-soma-GABA_A-weight"]),
                        st.sampled_from(sorted(PARTIAL_KEYS)), st.sampled_from(BAD_KEYS),
                        st.text(max_size=5))
NOISE_KEYS = st.sampled_from(["g_e0", "g_i0", "std_e", "std_i", "tau_e", "tau_i", "EXC-g_e0",
                              "INH-tau_i", "NOPE-g_e0", "g_e", "", "enabled", "E_e", "E_i",
                              "EXC-E_i", "NOPE-E_e", "e_e"])
VALUES = st.one_of(st.floats(0.0, 5.0), reals(0.0, 5.0),
                   st.sampled_from([0, 0.0, -0.0, -1e-300, -75.0, *NON_FINITE]))


def weight_targets(key: Any, env) -> list[str] | None:
    """The full keys ``key`` names, or None where that is not known here (random text)."""
    if not isinstance(key, str) or key in BAD_KEYS:
        return []
    if key in env.weight_names:
        return [key]
    return PARTIAL_KEYS.get(key)


def weight_ok(key: Any, value: Any, env) -> str:
    targets = weight_targets(key, env)
    if targets == []:
        return BAD
    if not (is_real(value) and 0 <= value <= FLOAT32_MAX):
        return BAD
    return OK if targets else ANY


#: livn 2.0.0's noise reversal potentials: accepted at RCSD's fixed values only (mV).
REVERSALS = {"E_e": 0.0, "E_i": -75.0}


def noise_ok(key: Any, value: Any) -> str:
    if key == "enabled":
        return OK if isinstance(value, bool) else BAD
    pop, _, name = key.rpartition("-")
    if name in REVERSALS and pop in ("", "EXC", "INH"):
        return OK if is_real(value) and value == REVERSALS[name] else BAD
    if name not in ("g_e0", "g_i0", "std_e", "std_i", "tau_e", "tau_i") or pop not in (
            "", "EXC", "INH"):
        return BAD
    if not is_real(value):
        return BAD
    if value > FLOAT32_MAX:
        return BAD  # infinite in the engine's float32
    return OK if (value > 0 if name.startswith("tau") else value >= 0) else BAD


@settings(max_examples=budget(60))
@given(weights=st.one_of(st.dictionaries(WEIGHT_KEYS, VALUES, max_size=3),
                         st.sampled_from([[("EXC_EXC-dendrite-AMPA-weight", 1.0)], None, 3,
                                          "EXC_EXC-dendrite-AMPA-weight"])))
def test_set_weights(env, weights):
    before = _copy_params(env)
    if isinstance(weights, dict):
        verdict = worst(OK, *(weight_ok(k, x, env) for k, x in weights.items()))
    else:
        verdict = BAD
    names = ["weight", "set_weights", *(weights if isinstance(weights, dict) else [])]
    _, error = outcome(lambda: env.set_weights(weights), surface="Env.set_weights",
                       verdict=verdict, suspects=names)
    if error is not None:
        assert _same_params(before, env.params), "a refused set_weights changed the weights"
    elif all(weight_targets(k, env) for k in weights):
        expected = {}
        for k, x in weights.items():  # later entries win
            expected.update(dict.fromkeys(weight_targets(k, env), np.float32(x)))
        for gi, g in enumerate(env.engine.net.groups):
            for ci, c in enumerate(g.channels):
                if c.key in expected:
                    assert float(np.asarray(env.params["weights"][gi])[ci]) == expected[c.key]


@settings(max_examples=budget(60))
@given(noise=st.dictionaries(NOISE_KEYS, st.one_of(VALUES, st.booleans(), st.just("no")),
                             max_size=3),
       kwargs=st.dictionaries(st.sampled_from(["g_e0", "tau_e", "bogus"]), VALUES, max_size=1))
def test_set_noise(env, noise, kwargs):
    before = _copy_params(env)
    items = {**noise, **kwargs}
    verdict = BAD if any(noise_ok(k, x) == BAD for k, x in items.items()) else OK
    _, error = outcome(lambda: env.set_noise(noise, **kwargs), surface="Env.set_noise",
                       verdict=verdict, suspects=["noise", *items])
    if error is not None:
        assert _same_params(before, env.params), "a refused set_noise changed the noise"
    env.set_noise({"enabled": True})


@settings(max_examples=budget(40))
@given(params=st.one_of(
    st.dictionaries(st.one_of(WEIGHT_KEYS.map(lambda k: f"weight-{k}"),
                              NOISE_KEYS.map(lambda k: f"noise-{k}"),
                              st.sampled_from(["bogus", "weight", 3, None, "io-output_radius",
                                               "io-nope", "cells-EXC:soma.cm", "EXC_EXC"])),
                    VALUES, max_size=3),
    st.sampled_from([None, [("noise-g_e0", 1.0)], "noise-g_e0"])))
@example(params={3: 1.0})
@example(params={"weight-EXC_EXC-dendrite-AMPA-weight": 1.0, "noise-g_e0": -1.0})
def test_set_params(env, params):
    before, radius = _copy_params(env), env.io.output_radius
    verdict = OK
    if not isinstance(params, dict):
        verdict = BAD
    else:
        for k, x in params.items():
            kind, _, rest = k.partition("-") if isinstance(k, str) else ("", "", "")
            ok = (noise_ok(rest, x) if kind == "noise" else
                  (OK if rest == "output_radius" and is_real(x) and x > 0 else BAD)
                  if kind == "io" else
                  BAD if kind == "cells" or not isinstance(k, str) else
                  weight_ok(rest if kind == "weight" else k, x, env))  # bare key = weight
            verdict = worst(verdict, ok)
    names = ["parameter", "weight", "noise", "set_params",
             *(str(k) for k in (params if isinstance(params, dict) else []))]
    _, error = outcome(lambda: env.set_params(params), surface="Env.set_params", verdict=verdict,
                       suspects=names)
    if error is not None:
        assert _same_params(before, env.params), "a refused set_params changed the parameters"
        assert env.io.output_radius == radius, "a refused set_params changed the IO"


# ---------------------------------------------------------------------------- running
@settings(max_examples=budget(40))
@given(duration=st.one_of(st.just(DURATION), reals(0.0, 5.0), st.sampled_from(HUGE_INTS)))
@example(duration=1e308)
@example(duration=1e-9)
def test_run_duration(env, duration):
    if is_real(duration) and duration > 0 and duration / 0.025 <= 2**31 - 1 and round(
            duration / 0.025) >= 1:
        if duration != DURATION:
            return  # valid, but another length: would compile again
        verdict = OK
    else:
        verdict = ANY if is_real(duration) and duration > 0 else BAD
    t0 = env.t
    result, error = outcome(lambda: env.run(duration), surface="Env.run(duration)",
                            verdict=verdict, suspects=["duration", "steps"], timeout=120)
    if error is None:
        assert result.v.shape == (10, int(DURATION / 0.1))
        assert env.t == pytest.approx(t0 + DURATION)
    else:
        assert env.t == t0


SEEDS = st.one_of(st.none(), st.lists(counts(0, MAX_SEED, (0, 100)), max_size=3),
                  st.sampled_from([5, "ab", {1: 2}, [], (1, 2), range(2), np.array([1, 2]),
                                   [1, 2**32], [-1, 0], [True, False], [1.0, 2.0]]))


@settings(max_examples=budget(30))
@given(seeds=SEEDS, batch_size=st.one_of(st.none(), counts(1, None, (1, 3))))
@example(seeds=5, batch_size=None)
def test_run_batch(env, seeds, batch_size):
    if seeds is None:
        n = 1 if batch_size is None else batch_size
        verdict = OK if is_int(n) and n >= 1 else BAD
        if verdict == OK:
            ok = all(0 <= env.seed + i <= MAX_SEED for i in range(min(n, 4)))
            verdict = OK if ok else BAD
    else:
        try:
            values = list(seeds) if not isinstance(seeds, str | int | dict) else None
        except TypeError:
            values = None
        if values is None or not values:
            verdict, n = BAD, 0
        else:
            good = all((is_int(s) or isinstance(s, np.integer)) and not isinstance(s, bool)
                       and 0 <= s <= MAX_SEED for s in values)
            verdict, n = (OK if good else BAD), len(values)
    if verdict == OK and n != 2:
        return  # valid, but another batch size: would compile again
    result, error = outcome(lambda: env.run_batch(DURATION, seeds=seeds, batch_size=batch_size),
                            surface="Env.run_batch", verdict=verdict, timeout=120,
                            suspects=["seed", "batch_size", "run_batch"])
    if error is None:
        assert len(result) == 2 and all(r.v.shape == (10, int(DURATION / 0.1)) for r in result)


@settings(max_examples=budget(40))
@given(seed=st.one_of(st.none(), counts(0, MAX_SEED, (0, 100))))
def test_clear_seed(env, seed):
    old = env.seed
    verdict = OK if seed is None or (is_int(seed) and 0 <= seed <= MAX_SEED) else BAD
    _, error = outcome(lambda: env.clear(seed=seed), surface="Env.clear", verdict=verdict,
                       suspects=["seed"])
    if error is None:
        assert env.seed == (old if seed is None else seed) and env.t == 0.0
    else:
        assert env.seed == old


@settings(max_examples=budget(40))
@given(seed=st.one_of(st.none(), counts(0, MAX_SEED, (0, 100))),
       reseed=st.sampled_from([False, True, np.True_, None, 1, 0, "yes"]))
def test_clear_reseed(env, seed, reseed):
    """``clear(seed=, reseed=)``: reseed is a bool; seed and reseed=True together are refused;
    a reseed derives the next seed from the current one."""
    old = env.seed
    if not isinstance(reseed, bool | np.bool_):
        verdict = BAD
    elif seed is not None and reseed:
        verdict = BAD
    else:
        verdict = OK if seed is None or (is_int(seed) and 0 <= seed <= MAX_SEED) else BAD
    _, error = outcome(lambda: env.clear(seed=seed, reseed=reseed), surface="Env.clear(reseed=)",
                       verdict=verdict, suspects=["seed", "reseed"])
    if error is not None:
        assert env.seed == old
    elif seed is not None:
        assert env.seed == seed
    elif reseed:
        expected = int(np.random.SeedSequence(old).generate_state(1)[0])
        assert env.seed == expected and 0 <= env.seed <= MAX_SEED
    else:
        assert env.seed == old


@settings(max_examples=budget(40))
@given(what=st.sampled_from(["spikes", "voltage", "membrane_current", "voltages", "", 3, None]),
       population=st.sampled_from([None, "EXC", ["INH"], "EX", 5]),
       kwargs=st.dictionaries(st.sampled_from(["dt", "gids", "sections", "bogus"]),
                              st.sampled_from([None, 0.1, 0.5, -1.0, math.nan, "0.1", [0, 1], [10],
                                               [-1], [True], [0.5], "soma", ["soma", "axon"]]),
                              max_size=2))
def test_record(env, what, population, kwargs):
    """``record(what, population, **kw)`` as livn 2.0.0 calls it; refused at the call."""
    saved = dict(env._record)
    pop_ok = population is None or population in ("EXC", ["INH"])
    verdict = OK if what in ("spikes", "voltage", "membrane_current") and pop_ok else BAD
    for k, x in kwargs.items():
        if what != "voltage" or k == "bogus":
            verdict = BAD
        elif k == "dt" and x is not None and not (is_real(x) and x == 0.1):
            verdict = BAD
        elif k == "gids" and x is not None and x != [0, 1]:
            verdict = BAD
        elif k == "sections" and x not in (None, "soma"):
            verdict = BAD
    try:
        _, error = outcome(lambda: env.record(what, population, **kwargs), surface="Env.record",
                           verdict=verdict, suspects=["record", "population", "gids", "dt",
                                                      "sections", str(what), str(population),
                                                      *kwargs])
        if error is None and what == "voltage":
            assert env._record["voltage_gids"] is None or list(env._record["voltage_gids"]) == [0, 1]
        elif error is not None:
            assert env._record == saved, "a refused record() changed what is recorded"
    finally:
        env._record = saved


@settings(max_examples=budget(30))
@given(seed=counts(0, MAX_SEED, (0, 100)),
       system=st.sampled_from(["EI1", "EI9", "", "/", "memory://x", 3]))
def test_env_constructor(seed, system):
    from livn.env import Env

    good_system = system == "EI1" or system == 3  # an int: that many unconnected cells
    verdict = OK if is_int(seed) and 0 <= seed <= MAX_SEED and good_system else BAD
    env, error = outcome(lambda: Env(system, seed=seed), surface="Env(seed=, system)",
                         verdict=verdict, suspects=["seed", "system", str(system)])
    if error is None:
        assert env.seed == seed


CELL_COUNTS = counts(1, MAX_UNITS, (1, 5))
POPULATION_NAMES = st.one_of(st.sampled_from(["EXC", "INH"]),
                             st.sampled_from(["exc", "PYR", "", "EXC ", 1, None]), st.text(max_size=4))


@settings(max_examples=budget(60))
@given(system=st.one_of(CELL_COUNTS, st.dictionaries(POPULATION_NAMES, CELL_COUNTS, max_size=3)))
@example(system={})
@example(system={"EXC": MAX_UNITS, "INH": 1})
def test_env_unconnected_cells(system):
    """``Env(n)`` / ``Env({"EXC": n, "INH": m})`` (a ParallelSystem): counts 1 … MAX_UNITS,
    populations EXC and INH only; checked at construction, before anything is built."""
    from livn.env import Env

    def count_ok(n: Any) -> bool:
        return is_int(n) and 1 <= n <= MAX_UNITS

    if isinstance(system, dict):
        ok = (bool(system) and all(k in ("EXC", "INH") and count_ok(n) for k, n in system.items())
              and sum(system.values()) <= MAX_UNITS)
        suspects = ["population", "cells", *(str(k) for k in system), *map(str, system.values())]
    else:
        ok, suspects = count_ok(system), ["system", "number of cells", str(system)]
    env, error = outcome(lambda: Env(system), surface="Env(int | dict)",
                         verdict=OK if ok else BAD, suspects=suspects)
    if error is None:
        expected = system if isinstance(system, dict) else {"EXC": system}
        assert {p: c for p, (_, c) in env.system.population_ranges.items()} == expected
        assert env.system.num_neurons == sum(expected.values()) and env.io is None


_BACKENDS = ["jax", " JAX ", "diffrax", "neuron", "brian2", "nest", "", "jax2", 3, None]
_WORLD = "<MPI.COMM_WORLD>"  # stands for the real communicator (drawn values are plain data)


@settings(max_examples=budget(40), deadline=None)
@given(backend=st.sampled_from(_BACKENDS), comm=st.sampled_from([None, _WORLD, "world", 2]),
       subworld=st.sampled_from([None, 1, 2, 0, -1, 1.5, "1", True]))  # fmt: skip
@example(backend="neuron", comm=None, subworld=None)
@example(backend="neuron", comm=_WORLD, subworld=1)
@example(backend="neuron", comm=_WORLD, subworld=None)
@example(backend="neuron", comm=None, subworld=1)
def test_env_backend_and_mpi_arguments(backend, comm, subworld):
    """``Env(backend=, comm=, subworld_size=)``: names are checked at construction, MPI
    arguments against the backend there and against the communicator at ``init()``."""
    import importlib.util

    from livn.backends import BACKENDS
    from livn.env import Env

    name = None if backend is None else BACKENDS.get(str(backend).strip().lower())
    mpi_given = comm is not None or subworld is not None
    if backend is not None and name is None:
        verdict = BAD
    elif mpi_given and (name or "jax") != "neuron":
        verdict = BAD
    else:
        verdict = OK
    world = None
    if comm == _WORLD:
        from mpi4py import MPI

        world = MPI.COMM_WORLD
    value = world if comm == _WORLD else comm
    env, error = outcome(lambda: Env("EI1", backend=backend, comm=value, subworld_size=subworld),
                         surface="Env(backend=, comm=, subworld_size=)", verdict=verdict,
                         suspects=["backend", str(backend), "comm", "subworld_size"])  # fmt: skip
    if error is not None or name != "neuron" or importlib.util.find_spec("neuron") is None:
        return
    # one process: only the real world communicator with subworlds of 1 (or none) can run
    ok = (comm is None and subworld is None) or (
        comm == _WORLD and (subworld is None or (is_int(subworld) and subworld == 1)))
    # the first NEURON Env of a session compiles livn's mechanisms (nrnivmodl, ~20 s on a
    # loaded 2-core machine): a longer bound than the 20 s of a case, still far from a hang
    _, error = outcome(env.init, surface="Env(backend='neuron').init (MPI)",
                       verdict=OK if ok else BAD, timeout=180,
                       suspects=["comm", "subworld_size", str(comm), str(subworld)])  # fmt: skip
    env.close()

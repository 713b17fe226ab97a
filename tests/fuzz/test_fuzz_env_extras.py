"""livn 2.0.0's extra Env and System argument surfaces: ``System.connectivity_matrix(weights,
seed, gids)``, ``Env.reseed_noise(stream)`` and ``Env.selection(select, method, bounds)``
(always refused: this livn simulates whole systems)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fuzz_contract import BAD, OK, budget, outcome
from fuzz_strategies import MAX_SEED, counts, is_int, is_real, reals, texts, wrong_types
from hypothesis import given, settings
from hypothesis import strategies as st

from livn.limits import FLOAT32_MAX

PAIRS = ["EXC_EXC", "EXC_INH", "INH_EXC", "INH_INH"]
N = 10  # cells of EI1


@pytest.fixture(scope="module")
def system():
    from livn.system import make

    return make("EI1")


@pytest.fixture(scope="module")
def env():
    from livn.env import Env

    return Env("EI1", seed=1).init()


VALID_WEIGHTS = st.dictionaries(st.sampled_from(PAIRS), st.floats(-10, 10), max_size=4)
ODD_KEYS = ["EXC->INH", "exc_inh", "EXC_INH-soma-GABA_A-weight", "EXC"]
ANY_WEIGHTS = st.dictionaries(
    st.one_of(st.sampled_from(PAIRS), texts(), st.sampled_from(ODD_KEYS)),
    reals(-10, 10),
    max_size=3,
)
WEIGHTS = st.one_of(st.none(), VALID_WEIGHTS, VALID_WEIGHTS, ANY_WEIGHTS, wrong_types())
GIDS = st.one_of(
    st.none(),
    st.none(),
    st.lists(st.integers(0, N - 1), unique=True, max_size=6),
    st.lists(st.integers(-2, N + 1), max_size=6),
    st.lists(st.integers(0, N - 1), unique=True, max_size=6),
    st.lists(st.floats(0, 9), min_size=1, max_size=3),
    st.sampled_from([[], [[0, 1]], "0", np.array([0, 1], np.int8), np.array([True, False])]),
)


def weights_ok(weights: Any) -> bool:
    if weights is None:
        return True
    if not isinstance(weights, dict):
        return False
    return all(k in PAIRS and is_real(v) and abs(float(v)) <= FLOAT32_MAX
               for k, v in weights.items())  # fmt: skip


def gids_ok(gids: Any) -> bool:
    if gids is None:
        return True
    if isinstance(gids, str):
        return False
    arr = np.asarray(gids)
    if arr.ndim != 1 or arr.dtype == bool or (arr.size and arr.dtype.kind not in "iu"):
        return False
    return bool(np.all((arr >= 0) & (arr < N))) and len(np.unique(arr)) == len(arr)


@settings(max_examples=budget(60))
@given(weights=WEIGHTS, seed=st.one_of(st.integers(0, MAX_SEED), counts(0, MAX_SEED)), gids=GIDS)
def test_connectivity_matrix(system, weights, seed, gids):
    seed_ok = is_int(seed) and 0 <= seed <= MAX_SEED
    verdict = OK if weights_ok(weights) and seed_ok and gids_ok(gids) else BAD
    names = ["connectivity_matrix", "weights", "seed", "gids",
             *(weights if isinstance(weights, dict) else [])]  # fmt: skip
    w, error = outcome(
        lambda: system.connectivity_matrix(weights, seed=seed, gids=gids),
        surface="System.connectivity_matrix",
        verdict=verdict,
        suspects=names,
    )
    if error is None:
        n = N if gids is None else len(gids)
        assert w.shape == (n, n) and w.dtype == np.float32
        assert np.all(np.isfinite(w))


@settings(max_examples=budget(30))
@given(stream=st.one_of(st.none(), counts(0, MAX_SEED)))
def test_reseed_noise(env, stream):
    verdict = OK if stream is None or (is_int(stream) and 0 <= stream <= MAX_SEED) else BAD
    t, seed = env.t, env.seed
    _, error = outcome(
        lambda: env.reseed_noise(stream),
        surface="Env.reseed_noise",
        verdict=verdict,
        suspects=["reseed_noise", "stream"],
    )
    assert env.t == t
    if error is not None:
        assert env.seed == seed, "a refused reseed_noise changed the seed"
    elif stream is not None:
        assert env.seed == stream


@settings(max_examples=budget(20))
@given(select=st.one_of(counts(0, N), wrong_types(), st.dictionaries(
           st.sampled_from(["EXC", "INH", "PYR"]), st.integers(-1, 12), max_size=2)),
       method=st.one_of(st.sampled_from(["first", "random", "patch", "all"]), wrong_types()),
       bounds=st.one_of(st.none(), wrong_types(), st.lists(st.floats(), max_size=4)))  # fmt: skip
def test_selection_is_always_refused(env, select, method, bounds):
    outcome(
        lambda: env.selection(select, method=method, bounds=bounds),
        surface="Env.selection",
        verdict=BAD,
        suspects=["selection"],
    )

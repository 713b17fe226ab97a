"""The Gymnasium integration: ``SpaceEncoding`` and ``RateDecoding`` parameters, ``LivnGym``'s
``role`` and ``benchmark``, ``LivnGym.step`` actions, and ``LivnVectorEnv``'s ``num_envs`` and
``batch_size`` on one shared ``Env("EI1")``.

Valid steps run 20 ms of EI1 (one compiled program); constructions are not run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from fuzz_contract import ANY, BAD, OK, budget, outcome
from fuzz_strategies import counts, is_int, is_real, reals, texts, wrong_types
from hypothesis import example, given, settings
from hypothesis import strategies as st

gym = pytest.importorskip("gymnasium")


@pytest.fixture(scope="module")
def env():
    from livn.env import Env

    e = Env("EI1", seed=1, backend="jax").init()
    e.apply_model_defaults()
    return e


@pytest.fixture(scope="module")
def pendulum(env):
    from livn.integrations.gym import LivnGym

    g = LivnGym(gym.make("Pendulum-v1"), env)
    g.reset(seed=0)
    return g


def _positive(x: Any) -> bool:
    return is_real(x) and x > 0 and float(x) <= 1e30


@settings(max_examples=budget(60))
@given(amplitude=st.one_of(st.sampled_from([20.0, 1, 5.5, 300.0]), reals(0.0, 100.0)),
       period=st.one_of(st.sampled_from([5.0, 2.5, 10]), reals(0.0, 20.0)),
       pulse=st.one_of(st.sampled_from([0.2, 0.1, 0.5]), reals(0.0, 1.0)),
       scale=st.one_of(st.sampled_from([1.0, 0.5, 3]), reals(0.0, 10.0)))  # fmt: skip
@example(amplitude=20.0, period=5.0, pulse=0.2, scale=1.0)
@example(amplitude=1, period=2.5, pulse=0.5, scale=3)
@example(amplitude=5.5, period=10, pulse=0.1, scale=0.5)
def test_space_encoding_parameters(env, amplitude, period, pulse, scale):
    from livn.integrations.gym import SpaceEncoding

    verdict = ANY  # pulse widths and periods must also be whole rows of dt and not overlap
    if not all(_positive(x) or (is_real(x) and x > 0) for x in (amplitude, period, pulse, scale)):
        verdict = BAD
    enc, error = outcome(
        lambda: SpaceEncoding(amplitude_uA=amplitude, period_ms=period, pulse_ms=pulse,
                              scale=scale),
        surface="SpaceEncoding", verdict=verdict,
        suspects=["amplitude_uA", "period_ms", "pulse_ms", "scale", "dt"])  # fmt: skip
    if error is None:
        amps = enc.amplitudes(env, np.full(16, 0.5))
        np.testing.assert_array_equal(amps, np.full(16, 0.5))


SPACES = st.sampled_from(["box1", "box20", "discrete", "multidiscrete", "none", "text"])


def _space(name: str) -> Any:
    return {"box1": gym.spaces.Box(-2.0, 2.0, (1,), np.float32),
            "box20": gym.spaces.Box(0.0, 1.0, (20,), np.float32),
            "discrete": gym.spaces.Discrete(3), "multidiscrete": gym.spaces.MultiDiscrete([2, 2]),
            "none": None, "text": "Box(1)"}[name]  # fmt: skip


MATRICES = st.one_of(st.none(), st.sampled_from(["ones1x16", "ones2x16", "nan1x16", "ones16",
                                                 "text"]), wrong_types())  # fmt: skip


def _matrix(name: Any) -> Any:
    table = {"ones1x16": np.ones((1, 16)), "ones2x16": np.ones((2, 16)),
             "nan1x16": np.full((1, 16), np.nan), "ones16": np.ones(16), "text": "abc"}
    return table.get(name, name) if isinstance(name, str) else name


def decoding_verdict(duration: Any, space: str, rate: Any, w: Any) -> str:
    if not _positive(duration) or not _positive(rate) or duration < 0.0125:
        return BAD  # a step shorter than half an integration step (dt = 0.025 ms) is no step
    if space in ("multidiscrete", "text", "box20"):
        return BAD  # not Box/Discrete; 20 outputs from 16 electrodes
    d = {"box1": 1, "discrete": 3, "none": 1}[space]
    if w is not None and not (isinstance(w, np.ndarray) and w.shape == (d, 16)
                              and bool(np.all(np.isfinite(w)))):  # fmt: skip
        return BAD
    return OK if 0.025 <= duration <= 1e6 else ANY  # rounding to whole steps, the step limit


@settings(max_examples=budget(60))
@given(duration=st.one_of(st.just(20.0), reals(0.0, 100.0)), space=SPACES,
       rate=st.one_of(st.just(100.0), reals(0.0, 1000.0)), weights=MATRICES)  # fmt: skip
@example(duration=20.0, space="none", rate=100.0, weights=None)
@example(duration=10, space="box1", rate=50, weights="ones1x16")
@example(duration=40.0, space="discrete", rate=100.0, weights=None)
def test_rate_decoding_in_livn_gym(env, duration, space, rate, weights):
    """``LivnGym(Pendulum, env, decoding=RateDecoding(...))``: the decoding's parameters and
    its fit to the electrodes are checked when the wrapper is built ("none": the task's own
    action space)."""
    from livn.integrations.gym import LivnGym, RateDecoding

    w = _matrix(weights)
    verdict = decoding_verdict(duration, space, rate, w)
    task = gym.make("Pendulum-v1")
    target = task.action_space if space == "none" else _space(space)

    def call():
        dec = RateDecoding(duration=duration, space=target, weights=w, rate_scale_hz=rate)
        return LivnGym(task, env, decoding=dec)

    g, error = outcome(call, surface="LivnGym(decoding=RateDecoding)", verdict=verdict,
                       suspects=["duration", "rate_scale_hz", "weights", "space", "Box",
                                 "Discrete", "electrodes", "features"])  # fmt: skip
    if error is None:
        assert g.duration == float(duration)
        assert g.pairing.decoding.affine(env)[0].shape[1] == 16


@settings(max_examples=budget(40))
@given(role=st.one_of(st.sampled_from(["actuator", "sensor", "Actuator", "sensr", ""]), texts(),
                      wrong_types()),
       benchmark=st.one_of(st.sampled_from(["Pendulum-v1", "CartPole-v1", "Pendulum-v9",
                                            "nope", "livn/nope-v0", ""]), wrong_types()))  # fmt: skip
def test_role_and_benchmark(env, role, benchmark):
    from livn.integrations.gym import LivnGym

    ok_role = isinstance(role, str) and role in ("actuator", "sensor")
    ok_task = benchmark in ("Pendulum-v1", "CartPole-v1")
    verdict = OK if ok_role and ok_task else BAD
    g, error = outcome(lambda: LivnGym(benchmark, env, role=role), surface="LivnGym(role, benchmark)",
                       verdict=verdict, suspects=["role", "benchmark", str(benchmark)[:20]])  # fmt: skip
    if error is None:
        assert g.role == role


ACTION_SHAPES = [(16,), (3,), (), (1, 16), (16, 1), (0,), (17,)]
ACTION_VALUES = ["mid", "high", "low", "nan", "inf", "huge"]
ACTION_DTYPES = ["float32", "float64", "int64", "bool", "complex64", "str", "object"]


@settings(max_examples=budget(60))
@given(shape=st.sampled_from(ACTION_SHAPES), values=st.sampled_from(ACTION_VALUES),
       dtype=st.sampled_from(ACTION_DTYPES), as_list=st.booleans())  # fmt: skip
@example(shape=(16,), values="mid", dtype="float32", as_list=False)
@example(shape=(16,), values="high", dtype="int64", as_list=True)
@example(shape=(16,), values="low", dtype="bool", as_list=False)
def test_step_actions(pendulum, shape, values, dtype, as_list):
    """Actuator actions: a Box of 16 amplitudes. Outside [0, 1] is clipped; a wrong shape,
    NaN/inf or a non-real dtype is refused."""
    base = {"mid": 0.5, "high": 7.0, "low": -3.0, "nan": math.nan, "inf": math.inf,
            "huge": 1e300}[values]  # fmt: skip
    a = np.full(shape, base)
    with np.errstate(all="ignore"):
        a = a.astype(dtype)
    action = a.tolist() if as_list else a
    probe = np.asarray(action)  # what a list is: [0.5, ...] of an object array is floats
    with np.errstate(all="ignore"):
        finite_f32 = bool(np.all(np.isfinite(probe.astype(np.float64).astype(np.float32)))) \
            if probe.dtype.kind in "biuf" else False  # fmt: skip
    size_ok = probe.size == 16 and (probe.ndim <= 1 or probe.shape == (16,))
    verdict = OK if probe.dtype.kind in "biuf" and size_ok and finite_f32 else BAD
    result, error = outcome(lambda: pendulum.step(action), surface="LivnGym.step(action)",
                            verdict=verdict, timeout=120,
                            suspects=["action", "shape", "NaN", "numbers"])  # fmt: skip
    if error is None:
        obs = result[0]
        assert pendulum.observation_space.contains(obs)
        assert pendulum.task.action_space.contains(result[4]["task_action"])


@settings(max_examples=budget(40))
@given(num_envs=counts(1, 65536, (1, 4)),
       batch_size=st.one_of(st.none(), counts(1, 65536, (1, 4))))  # fmt: skip
def test_vector_env_sizes(env, num_envs, batch_size):
    from livn.integrations.gym import LivnVectorEnv

    ok_n = is_int(num_envs) and 1 <= num_envs <= 65536
    ok_b = batch_size is None or (is_int(batch_size) and 1 <= batch_size <= 65536)
    if ok_n and num_envs > 8:
        return  # valid, but builds that many tasks: not a fuzz case
    verdict = OK if ok_n and ok_b else BAD
    vec, error = outcome(lambda: LivnVectorEnv("Pendulum-v1", env, num_envs, batch_size=batch_size),
                         surface="LivnVectorEnv(num_envs, batch_size)", verdict=verdict,
                         suspects=["num_envs", "batch_size"])  # fmt: skip
    if error is None:
        assert vec.num_envs == num_envs and vec.action_space.shape == (num_envs, 16)
        assert 1 <= vec.batch.batch_size <= num_envs
        vec.close()


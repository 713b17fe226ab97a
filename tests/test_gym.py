"""livn.integrations.gym: LivnGym (both roles), its default codecs, seeding, bad input, render,
the ``livn/…`` ids and the batched LivnVectorEnv (autoreset, equality with single envs)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from typing import ClassVar

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from livn.decoding import ChannelRecording  # noqa: E402
from livn.env import Env  # noqa: E402
from livn.errors import ConfigError  # noqa: E402
from livn.integrations.gym import (  # noqa: E402
    IDS,
    ROLES,
    LivnGym,
    LivnVectorEnv,
    RateDecoding,
    SpaceEncoding,
    make_env,
    make_vector_env,
)
from livn.integrations.gym.codecs import channel_groups, channel_rates, to_unit  # noqa: E402


@pytest.fixture(scope="module")
def ei1():
    env = Env("EI1", seed=1, backend="jax").init()
    env.apply_model_defaults()
    return env


@pytest.fixture(scope="module")
def ei2():
    env = Env("EI2", seed=1, backend="jax").init()
    env.apply_model_defaults()
    return env


def _quiet_check(env) -> None:
    with warnings.catch_warnings():  # Gymnasium's advice on unbounded/asymmetric spaces
        warnings.simplefilter("ignore", UserWarning)
        check_env(env, skip_render_check=True)


# ---------------------------------------------------------------------------- import
def test_import_livn_integrations_is_light():
    code = ("import sys, livn, livn.integrations; "
            "print([m for m in ('gymnasium', 'jax', 'matplotlib') if m in sys.modules])")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names():
    import livn.integrations.gym as g

    for name in g.__all__:
        assert getattr(g, name) is not None
    assert ROLES == ("actuator", "sensor")


# ---------------------------------------------------------------------------- check_env
@pytest.mark.parametrize("task", ["Pendulum-v1", "CartPole-v1"])
@pytest.mark.parametrize("role", ROLES)
def test_check_env_ei1(ei1, task, role):
    _quiet_check(LivnGym(gym.make(task), ei1, role=role))


@pytest.mark.parametrize("task", ["Pendulum-v1", "CartPole-v1"])
def test_check_env_ei2_default_pairing(ei2, task):
    _quiet_check(LivnGym(gym.make(task), ei2))


def test_spaces_per_role(ei1):
    act = LivnGym(gym.make("Pendulum-v1"), ei1)
    assert act.action_space == gym.spaces.Box(0.0, 1.0, (16,), np.float32)
    assert act.observation_space == gym.make("Pendulum-v1").observation_space
    sen = LivnGym(gym.make("CartPole-v1"), ei1, role="sensor")
    assert sen.action_space == gym.spaces.Discrete(2)
    assert sen.observation_space == gym.spaces.Box(0.0, 1.0, (16,), np.float32)
    obs, _ = sen.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (16,) and sen.observation_space.contains(obs)
    # the step length is the decoding's duration
    g = LivnGym(gym.make("Pendulum-v1"), ei1, decoding=RateDecoding(duration=10.0,
                space=gym.make("Pendulum-v1").action_space))  # fmt: skip
    g.reset(seed=0)
    g.step(np.zeros(16, np.float32))
    assert ei1.t == pytest.approx(10.0)


# ---------------------------------------------------------------------------- seeding
def _episode(g, seed, actions):
    obs, info = g.reset(seed=seed)
    out = [obs]
    spikes = []
    for a in actions:
        obs, _, _, _, info = g.step(a)
        out.append(obs)
        spikes.append(info["culture"]["spikes"])
    return np.stack(out), spikes, info


def test_reset_is_exact_and_seeded(ei2):
    g = LivnGym(gym.make("Pendulum-v1"), ei2)
    rng = np.random.default_rng(0)
    actions = rng.uniform(0, 1, (4, 16)).astype(np.float32)
    a, spikes_a, info_a = _episode(g, 7, actions)
    assert ei2.t == pytest.approx(4 * 20.0)
    b, spikes_b, _ = _episode(g, 7, actions)  # reset clears the culture: same episode
    np.testing.assert_array_equal(a, b)
    assert spikes_a == spikes_b and sum(spikes_a) > 0
    fresh = LivnGym(gym.make("Pendulum-v1"), ei2)
    c, _, _ = _episode(fresh, 7, actions)
    np.testing.assert_array_equal(a, c)
    # the seed reaches the task (first observation) and the culture (its noise seed, spikes)
    d, _, info_d = _episode(g, 8, actions)
    assert not np.array_equal(a[0], d[0])
    assert info_d["culture"]["seed"] != info_a["culture"]["seed"]


def test_culture_seed_changes_spikes_with_the_same_task(ei2):
    g = LivnGym(gym.make("Pendulum-v1"), ei2)
    actions = np.full((4, 16), 0.5, np.float32)
    g.reset(seed=3)
    first = [g.step(a)[4]["culture"]["spikes"] for a in actions]
    g.reset()  # no seed: the same task generator continues, a new culture seed is drawn
    seed_then = g.culture_seed
    second = [g.step(a)[4]["culture"]["spikes"] for a in actions]
    assert seed_then is not None and first != second


def test_stimulation_drives_the_task_action(ei2):
    """Actuator role: stimulating every electrode raises the electrode rates and so the
    decoded torque, from the bottom of Pendulum's range toward the top."""
    g = LivnGym(gym.make("Pendulum-v1"), ei2)
    torques = {}
    for level in (0.0, 1.0):
        g.reset(seed=1)
        torques[level] = np.mean([g.step(np.full(16, level, np.float32))[4]["task_action"][0]
                                  for _ in range(4)])  # fmt: skip
    assert torques[0.0] < -1.0 < 0.0 < torques[1.0]


def test_sensor_observation_follows_the_task(ei2):
    """Sensor role: the culture's rates respond to the encoded task observation."""
    space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)

    class Constant(gym.Env):
        observation_space = space
        action_space = gym.spaces.Discrete(2)

        def __init__(self, value):
            self.value = np.full(2, value, np.float32)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return self.value, {}

        def step(self, action):
            return self.value, 0.0, False, False, {}

    means = {}
    for v in (0.0, 1.0):
        g = LivnGym(Constant(v), ei2, role="sensor")
        obs, _ = g.reset(seed=2)
        means[v] = np.mean([obs, *[g.step(0)[0] for _ in range(3)]])
    assert means[1.0] > means[0.0] + 0.2


# ---------------------------------------------------------------------------- bad input
def test_box_actions_are_clipped_and_bad_ones_refused(ei1):
    g = LivnGym(gym.make("Pendulum-v1"), ei1)
    g.reset(seed=4)
    a = g.step(np.full(16, 1.0, np.float32))[0]
    g.reset(seed=4)
    b = g.step(np.full(16, 7.5))[0]  # outside [0, 1]: clipped, as Pendulum clips its torque
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match=r"shape \(3,\).*\(16,\)"):
        g.step(np.zeros(3))
    with pytest.raises(ConfigError, match="NaN"):
        g.step(np.full(16, np.nan))
    with pytest.raises(ConfigError, match="numbers"):
        g.step("left")


def test_discrete_actions_outside_the_space_are_refused(ei1):
    enc = SpaceEncoding(space=gym.spaces.Discrete(3))
    g = LivnGym(gym.make("Pendulum-v1"), ei1, encoding=enc)
    assert g.action_space == gym.spaces.Discrete(3)
    g.reset(seed=0)
    g.step(2)
    with pytest.raises(ConfigError, match=r"action 5 is not in the action space Discrete\(3\)"):
        g.step(5)


def test_encoding_with_the_wrong_electrode_count_names_both_shapes(ei1):
    def eight_columns(env, duration, inputs):
        return np.zeros((int(duration / 0.025), 8), np.float32)

    g = LivnGym(gym.make("Pendulum-v1"), ei1, encoding=eight_columns)
    g.reset(seed=0)
    with pytest.raises(ConfigError, match=r"\(800, 8\).*16 electrodes"):
        g.step(np.zeros(16, np.float32))


def test_bad_construction_is_refused(ei1):
    with pytest.raises(ConfigError, match="Did you mean 'sensor'"):
        LivnGym(gym.make("Pendulum-v1"), ei1, role="sensr")
    with pytest.raises(ConfigError, match="not initialised"):
        LivnGym(gym.make("Pendulum-v1"), Env("EI1"))
    with pytest.raises(ConfigError, match="Pendulum-v9"):
        LivnGym("Pendulum-v9", ei1)
    with pytest.raises(ConfigError, match="output_space"):
        LivnGym(gym.make("Pendulum-v1"), ei1, decoding=ChannelRecording(duration=20),
                role="sensor")  # fmt: skip
    with pytest.raises(ConfigError, match="render_mode"):
        LivnGym(gym.make("Pendulum-v1"), ei1, render_mode="human")
    with pytest.raises(ConfigError, match="20 features do not fit 16 electrodes"):
        LivnGym(gym.make("Pendulum-v1"), ei1,
                encoding=SpaceEncoding(space=gym.spaces.Box(0, 1, (20,))))  # fmt: skip
    with pytest.raises(ConfigError, match=r"weights must have shape \(1, 16\)"):
        LivnGym(gym.make("Pendulum-v1"), ei1,
                decoding=RateDecoding(space=gym.spaces.Box(-2, 2, (1,)), weights=np.ones((2, 16))))


# ---------------------------------------------------------------------------- codecs
def test_to_unit_rules():
    box = gym.spaces.Box(np.array([-2.0, 0.0, -np.inf]), np.array([2.0, 10.0, np.inf]), dtype=np.float64)
    np.testing.assert_allclose(to_unit(box, [0.0, 10.0, 0.0]), [0.5, 1.0, 0.5])
    np.testing.assert_allclose(to_unit(box, [-5.0, 2.5, 1.0]), [0.0, 0.25, (1 + np.tanh(1)) / 2])
    np.testing.assert_array_equal(to_unit(gym.spaces.Discrete(3, start=1), 2), [0, 1, 0])
    assert [list(g) for g in channel_groups(3, 16)] == [list(range(6)), list(range(6, 11)),
                                                        list(range(11, 16))]  # fmt: skip


def test_space_encoding_amplitudes(ei1):
    enc = SpaceEncoding(space=gym.spaces.Box(-1.0, 1.0, (2,)), amplitude_uA=10.0, period_ms=5.0)
    amps = enc.amplitudes(ei1, [1.0, -1.0])
    np.testing.assert_array_equal(amps, [1.0] * 8 + [0.0] * 8)
    stim = enc(ei1, 20.0, [1.0, 0.0])
    currents = np.asarray(stim.array)
    assert stim.space == "channels" and currents.shape == (800, 16)
    assert np.abs(currents[:, :8]).max() == pytest.approx(10.0)
    assert np.abs(currents[:, 8:]).max() == pytest.approx(5.0)
    onsets = np.flatnonzero(currents[:, 0] < 0)
    assert list(onsets[::8]) == [0, 200, 400, 600]  # a 0.2 ms phase every 5 ms


def test_channel_rates_match_channel_recording(ei2):
    ei2.record_spikes()
    ei2.clear(seed=5)
    it, t, *_ = ei2.run(50.0, SpaceEncoding()(ei2, 50.0, np.full(16, 0.8)))
    assert len(it) > 0
    expected = ChannelRecording(duration=50.0)(ei2, it, t, None, None).rates
    np.testing.assert_allclose(channel_rates(ei2, it, t, 50.0), expected)


def test_rate_decoding_affine_map(ei1):
    box = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)
    dec = RateDecoding(space=box, rate_scale_hz=50.0)
    assert dec.from_rates(ei1, np.zeros(16)).tolist() == [-2.0]
    assert dec.from_rates(ei1, np.full(16, 25.0)).tolist() == [0.0]
    assert dec.from_rates(ei1, np.full(16, 500.0)).tolist() == [2.0]  # clipped
    assert dec.from_rates(ei1, np.zeros(16)).dtype == np.float32
    two = RateDecoding(space=gym.spaces.Discrete(2, start=3))
    assert two.from_rates(ei1, np.zeros(16)) == 3  # a silent culture: the first action
    rates = np.zeros(16)
    rates[12] = 10.0
    assert two.from_rates(ei1, rates) == 4
    w = np.zeros((1, 16))
    w[0, 0] = 0.1
    custom = RateDecoding(space=box, weights=w, bias=[-1.0])
    rates = np.zeros(16)
    rates[0] = 15.0
    assert custom.from_rates(ei1, rates).tolist() == [0.5]


# ---------------------------------------------------------------------------- render
class _Painted(gym.Env):
    """A task whose frame is a plain red image (no pygame needed)."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"]}
    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), 0.0, False, False, {}

    def render(self):
        frame = np.zeros((100, 100, 3), np.uint8)
        frame[..., 0] = 255
        return frame


def test_render_rgb_array(ei1):
    g = LivnGym(_Painted("rgb_array"), ei1, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check_env(g)  # with its render checks
    g.reset(seed=0)
    for _ in range(3):
        g.step(np.ones(16, np.float32))
    frame = g.render()
    assert frame.dtype == np.uint8 and frame.shape == (240, 720, 3)
    left, middle = frame[:, :200].reshape(-1, 3), frame[:, 260:480]
    red = (left[:, 0] > 200) & (left[:, 1] < 60) & (left[:, 2] < 60)
    assert red.mean() > 0.3  # the task's frame, on the left
    assert (middle.min(axis=-1) < 100).mean() > 0.01  # axes and spikes in the raster
    bare = LivnGym(_Painted(), ei1, render_mode="rgb_array")  # task without frames: a note
    bare.reset(seed=0)
    other = bare.render()
    assert other.shape == frame.shape
    blank = other[:, :200].reshape(-1, 3)
    assert ((blank[:, 0] > 200) & (blank[:, 1] < 60)).mean() < 0.01
    assert LivnGym(_Painted(), ei1).render() is None


# ---------------------------------------------------------------------------- registration
def test_make_and_make_vec_ids():
    assert "livn/Pendulum-EI1-v0" in IDS
    env = gym.make("livn/Pendulum-EI1-v0")
    assert isinstance(env.unwrapped, LivnGym)
    assert env.unwrapped.culture.system.num_neurons == 10
    env.close()
    vec = gym.make_vec("livn/CartPole-EI1-v0", num_envs=2)
    assert isinstance(vec, LivnVectorEnv)
    assert vec.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    assert vec.action_space.shape == (2, 16) and vec.single_observation_space.shape == (4,)
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (2, 4)
    vec.close()


# ---------------------------------------------------------------------------- vector env
def _singles(system, n, task, role, backend="jax"):
    out = []
    for _ in range(n):
        e = Env(system, seed=1, backend=backend).init()
        e.apply_model_defaults()
        out.append(LivnGym(task(), e, role=role))
    return out


@pytest.mark.parametrize(("system", "backend"), [
    ("EI1", "jax"), ("EI1", "native"), pytest.param("EI2", "jax", marks=pytest.mark.slow)])
@pytest.mark.parametrize("role", ROLES)
def test_vector_env_equals_single_envs_and_autoresets(ei1, system, backend, role):
    """Sub-env i is a LivnGym reset with seed + i, also across NEXT_STEP autoresets — on the
    JAX engine (one vmapped program per sub-batch) and on the native one (trials one after
    another from snapshots)."""
    def task():
        return gym.make("Pendulum-v1", max_episode_steps=3)

    n = 3
    if (system, backend) == ("EI1", "jax"):
        culture = ei1
    else:
        culture = Env(system, seed=1, backend=backend).init()
        culture.apply_model_defaults()
    vec = LivnVectorEnv(task, culture, n, role=role, batch_size=2)  # sub-batches of 2 and 1
    singles = _singles(system, n, task, role, backend)
    obs, _ = vec.reset(seed=10)
    np.testing.assert_array_equal(obs, np.stack([s.reset(seed=10 + i)[0]
                                                 for i, s in enumerate(singles)]))  # fmt: skip
    vec.action_space.seed(0)
    ended = np.zeros(n, bool)
    for k in range(5):
        actions = vec.action_space.sample()
        if role == "actuator":
            actions[:] = np.linspace(0.2, 1.0, 16)[None] * (k % 2)
        obs, rew, term, trunc, _ = vec.step(actions)
        for i, s in enumerate(singles):
            if ended[i]:  # NEXT_STEP: this step reset sub-env i, its action was ignored
                o, _ = s.reset()
                assert rew[i] == 0.0 and not term[i] and not trunc[i]
            else:
                o, r, te, tr, _ = s.step(actions[i])
                assert rew[i] == r and term[i] == te and trunc[i] == tr
            np.testing.assert_array_equal(obs[i], o)
        ended = term | trunc
        if k == 2:
            assert ended.all()  # the time limit of 3 steps
    vec.close()


def test_vector_env_refusals(ei1):
    with pytest.raises(ConfigError, match="not an env instance"):
        LivnVectorEnv(gym.make("Pendulum-v1"), ei1, 2)
    with pytest.raises(ConfigError, match="num_envs"):
        LivnVectorEnv("Pendulum-v1", ei1, 0)
    with pytest.raises(ConfigError, match="max_episode_steps"):
        make_vector_env(2, "Pendulum-v1", "EI1", max_episode_steps=5)


def test_make_env_sensor_role_runs():
    env = make_env("CartPole-v1", "EI1", role="sensor", step_ms=10.0)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and env.action_space == gym.spaces.Discrete(2)
    obs, r, _, _, info = env.step(1)
    assert r == 1.0 and info["culture"]["t"] == pytest.approx(20.0)
    env.close()
    assert json.dumps(info["culture"])  # plain numbers


def test_single_env_on_the_default_backend():
    """LivnGym needs only Env.run and Env.clear: it runs on the default backend (native on
    CPUs where it is installed), seeded the same way."""
    env = Env("EI1", seed=1).init()
    env.apply_model_defaults()
    g = LivnGym(gym.make("CartPole-v1"), env, role="sensor")
    _quiet_check(g)
    a = _episode(g, 3, [0, 1, 0])
    b = _episode(g, 3, [0, 1, 0])
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]


def test_vector_env_on_neuron_keeps_one_simulator():
    """NEURON holds one simulator per process: the vector env runs every culture on the
    template Env (a replica would close it) and the template still runs afterwards."""
    pytest.importorskip("neuron")
    env = Env("EI1", seed=1, backend="neuron").init()
    env.apply_model_defaults()
    dec = RateDecoding(duration=20.0, space=gym.make("Pendulum-v1").action_space)
    vec = LivnVectorEnv("Pendulum-v1", env, 3, decoding=dec)
    assert vec.batch.n_batches == 1 and vec.batch.envs == [env]
    vec.reset(seed=0)
    vec.action_space.seed(0)
    obs, *_ = vec.step(vec.action_space.sample())
    assert obs.shape == (3, 3)
    vec.close()
    env.record_spikes()
    assert env.run(10.0).duration == pytest.approx(10.0)

"""``LivnGym``: a simulated culture between an agent and a Gymnasium task (seed 001).

Two arrangements, chosen with ``role``; in both, one agent step runs the culture for the
decoding's ``duration`` ms (20 ms by default):

* ``role="actuator"`` (default) — the agent acts on the task *through* the culture. It sees
  the task's observation and chooses a stimulation: its action is encoded into electrode
  currents (``encoding``), the culture runs, and the decoded activity (``decoding``) is the
  action sent to the task. Spaces: ``action_space`` = the encoding's input space (default the
  MEA's ``Box(0, 1, (C,))``: one amplitude per electrode), ``observation_space`` = the
  task's. Reward, termination and truncation are the task's.
* ``role="sensor"`` — the agent observes the task *through* the culture. The task's
  observation is encoded into stimulation, the culture runs, and the decoded activity is the
  agent's observation; the agent's action goes to the task unchanged. Spaces:
  ``action_space`` = the task's, ``observation_space`` = the decoding's output space (default
  ``Box(0, 1, (C,))``: each electrode's rate over ``rate_scale_hz``).

Default encodings and decodings (:mod:`livn.integrations.gym.codecs`) work for Box spaces
(and Discrete ones): values → pulse amplitudes on groups of electrodes; per-electrode rates →
an affine map into the target space.

Contracts. ``encoding(env, duration, inputs)`` returns a :class:`~livn.stimulus.Stimulus`
(electrode currents from ``env.cell_stimulus``, or somatic currents) or None; it may define
``input_space(env)`` (else the MEA's ``input_space`` is the agent's action space in the
actuator role). ``decoding(env, it, t, iv, v, im, mp)`` has a ``duration`` (ms) and, for the
sensor role, ``output_space(env)``; what it ``needs`` (``"spikes"``, ``"voltage"``,
``"membrane_current"``) is recorded for all cells when the wrapper is built.

Bad input. An action outside a Box action space is clipped to its bounds (as Pendulum-v1
does; an action of the wrong shape, or with NaN, is refused with a :class:`ConfigError`); a
Discrete action outside the space is refused. In the sensor role the task handles the action
as it always does. An encoding whose electrode currents do not have the culture's ``C``
columns is refused naming both shapes.

Seeding. ``reset(seed=s)`` seeds the wrapper's ``np_random`` and resets the task with
``seed=s``; the culture is cleared (:meth:`livn.env.Env.clear`: state at t = 0) with a noise
seed drawn from ``np_random``, so the same ``s`` and actions give the same episode, and later
resets without a seed continue reproducibly.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

import numpy as np

from livn.errors import ConfigError, did_you_mean, require

gym = require("gymnasium", "gym")

__all__ = ["ROLES", "LivnGym"]

#: Where the culture sits: between the agent's action and the task (``actuator``), or between
#: the task's observation and the agent (``sensor``).
ROLES: tuple[str, ...] = ("actuator", "sensor")

#: Spike history kept for the raster of ``render()``, ms.
RASTER_MS = 500.0


def check_role(role: Any) -> str:
    if role not in ROLES:
        raise ConfigError(
            f"role must be one of {', '.join(repr(r) for r in ROLES)}; got {role!r}."
            f"{did_you_mean(str(role), ROLES)} 'actuator': the agent acts on the task through "
            "the culture; 'sensor': the agent observes the task through the culture."
        )
    return role


def check_env_ready(env: Any) -> None:
    from livn.env import Env

    if not isinstance(env, Env):
        raise ConfigError(
            f"env must be a livn Env (e.g. Env(predefined('EI2')).init()); got "
            f"{type(env).__name__}."
        )
    if env.engine is None:
        raise ConfigError("the livn Env is not initialised; pass Env(...).init().")


def make_task(benchmark: Any, render_mode: str | None = None) -> Any:
    """A Gymnasium env from an env, an id (``gym.make``) or a callable returning one."""
    if isinstance(benchmark, gym.Env):
        return benchmark
    if isinstance(benchmark, str):
        kwargs = {"render_mode": render_mode} if render_mode is not None else {}
        try:
            return gym.make(benchmark, **kwargs)
        except gym.error.Error as e:
            raise ConfigError(
                f"benchmark {benchmark!r} is not a Gymnasium env id ({e}); e.g. 'Pendulum-v1'."
            ) from None
    if callable(benchmark):
        task = benchmark()
        if isinstance(task, gym.Env):
            return task
    raise ConfigError(
        f"benchmark must be a gymnasium Env, an env id such as 'Pendulum-v1', or a callable "
        f"returning an Env; got {benchmark!r}."
    )


class Pairing:
    """The role, codecs and spaces shared by :class:`LivnGym` and the vector env."""

    def __init__(self, task: Any, env: Any, encoding: Any, decoding: Any, role: str) -> None:
        from livn.integrations.gym.codecs import RateDecoding, SpaceEncoding

        self.role = check_role(role)
        if self.role == "actuator":
            encoding = SpaceEncoding() if encoding is None else encoding
            decoding = RateDecoding(space=task.action_space) if decoding is None else decoding
        else:
            encoding = SpaceEncoding(space=task.observation_space) if encoding is None else encoding
            decoding = RateDecoding() if decoding is None else decoding
        if not callable(encoding):
            raise ConfigError(
                f"encoding must be a callable(env, duration, inputs) -> Stimulus | None; got "
                f"{encoding!r}."
            )
        if not callable(decoding) or getattr(decoding, "duration", None) is None:
            raise ConfigError(
                f"decoding must be a callable(env, it, t, iv, v, im, mp) with a duration (ms) "
                f"(e.g. livn.integrations.gym.RateDecoding(duration=20)); got {decoding!r}."
            )
        from livn import limits
        from livn.errors import positive_ms

        self.duration = positive_ms(decoding.duration, "decoding duration")
        dt = float(getattr(env.engine, "dt", 0.025))
        limits.steps(self.duration, dt, "decoding duration (the step length)")
        self.encoding, self.decoding = encoding, decoding
        self.task_action_space = task.action_space
        if self.role == "actuator":
            space = getattr(encoding, "input_space", None)
            self.action_space = space(env) if callable(space) else (space or env.io.input_space)
            self.observation_space = task.observation_space
        else:
            space = getattr(decoding, "output_space", None)
            space = space(env) if callable(space) else space
            if not isinstance(space, gym.Space):
                raise ConfigError(
                    f"in the sensor role the decoding's values are the agent's observations, so "
                    f"it must define output_space(env) (a gymnasium Space); "
                    f"{type(decoding).__name__} does not."
                )
            self.action_space = task.action_space
            self.observation_space = space
        # the default codecs check their fit to the culture's electrodes now, not at a step
        from livn.integrations.gym.codecs import channel_groups, feature_count

        if isinstance(encoding, SpaceEncoding):
            channel_groups(feature_count(encoding.input_space(env)), int(env.io.num_channels))
        if isinstance(decoding, RateDecoding):
            decoding.affine(env)
        for need in getattr(decoding, "needs", ("spikes",)):
            record = getattr(env, f"record_{need}", None)
            if record is None:
                raise ConfigError(f"the decoding needs {need!r}, which an Env cannot record.")
            record()

    # ------------------------------------------------------------------ values
    def agent_action(self, action: Any) -> Any:
        """The agent's action, checked (and clipped for a Box) — actuator role."""
        return checked_action(self.action_space, action)

    def task_action(self, value: Any) -> Any:
        """The decoded value as an action of the task (actuator role)."""
        return conform(self.task_action_space, value, "the decoding's output (the task's action)")

    def observation(self, value: Any) -> Any:
        """The decoded value as the agent's observation (sensor role)."""
        return conform(self.observation_space, value, "the decoding's output (the observation)")

    def stimulus(self, env: Any, inputs: Any) -> Any:
        """The encoding's stimulus for one step, checked against the culture's electrodes."""
        return checked_stimulus(env, self.encoding(env, self.duration, inputs))


def checked_action(space: Any, action: Any) -> Any:
    """``action`` of ``space``: a Box action is cast and clipped (wrong shape or NaN refused);
    other spaces must contain it."""
    if isinstance(space, gym.spaces.Box):
        try:
            a = np.asarray(action)
            if a.dtype.kind not in "biuf":  # strings, objects, complex: not an action
                raise TypeError
            with np.errstate(over="ignore", invalid="ignore"):  # 1e300 -> inf: refused below
                a = a.astype(space.dtype)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(
                f"action must be real numbers of shape {space.shape}; got {action!r:.80}."
            ) from None
        if a.shape != space.shape:
            if a.size == int(np.prod(space.shape)) and a.ndim <= 1:
                a = a.reshape(space.shape)
            else:
                raise ConfigError(
                    f"action has shape {a.shape}; the action space {space} needs {space.shape}."
                )
        if not np.all(np.isfinite(a)):
            raise ConfigError(f"action contains NaN or infinite values: {a}; {space} is bounded.")
        return np.clip(a, space.low, space.high).astype(space.dtype)
    if not space.contains(action):
        raise ConfigError(f"action {action!r} is not in the action space {space}.")
    return action


def conform(space: Any, value: Any, what: str) -> Any:
    """``value`` cast to ``space`` (Box: dtype, shape and bounds by clipping), else refused."""
    if isinstance(space, gym.spaces.Box):
        try:
            a = np.asarray(value, dtype=np.float64).reshape(space.shape)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{what} must be numbers of shape {space.shape}; got {np.shape(value)}."
            ) from None
        a = np.nan_to_num(a, nan=0.0)
        return np.clip(a, space.low, space.high).astype(space.dtype)
    if isinstance(space, gym.spaces.Discrete):
        value = np.asarray(value).reshape(-1)[0] if np.ndim(value) else value
        value = np.int64(value)
    if not space.contains(value):
        raise ConfigError(f"{what} {value!r} is not in {space}.")
    return value


def checked_stimulus(env: Any, stimulus: Any) -> Any:
    """The encoding's output if it fits the culture: None, a somatic Stimulus, or electrode
    currents with one column per electrode (else a ConfigError naming both shapes)."""
    from livn.stimulus import Stimulus

    n_ch = int(env.io.num_channels)
    if stimulus is None:
        return None
    if not isinstance(stimulus, Stimulus):
        shape = tuple(np.shape(stimulus))
        if len(shape) == 2 and shape[1] == n_ch:
            return env.cell_stimulus(stimulus, dt=1.0)
        raise ConfigError(
            f"the encoding returned {type(stimulus).__name__} of shape {shape}; the culture's MEA "
            f"has {n_ch} electrodes, so electrode currents must have shape [T, {n_ch}] (or be a "
            "Stimulus, e.g. from env.cell_stimulus(currents, dt=...))."
        )
    if stimulus.space == "channels" and stimulus.num_inputs != n_ch:
        raise ConfigError(
            f"the encoding's electrode currents have shape {tuple(stimulus.array.shape)} but the "
            f"culture's MEA has {n_ch} electrodes: expected [T, {n_ch}]. Encode into "
            f"env.io.num_channels = {n_ch} columns."
        )
    return stimulus


class LivnGym(gym.Env):
    """A Gymnasium env with a livn culture between the agent and ``benchmark`` (module docs).

    Args:
        benchmark: The task: a Gymnasium env, an env id (``"Pendulum-v1"``) or a callable
            returning an env. For ``render_mode="rgb_array"`` make it with that render mode
            (an id is made so here).
        env: An initialised :class:`livn.env.Env` (any backend); its state is the culture's.
        encoding: ``callable(env, duration, inputs) -> Stimulus | None``; default
            :class:`~livn.integrations.gym.codecs.SpaceEncoding` for the role.
        decoding: ``callable(env, it, t, iv, v, im, mp)`` with ``duration`` (ms per step);
            default :class:`~livn.integrations.gym.codecs.RateDecoding` for the role.
        role: ``"actuator"`` (default) or ``"sensor"`` (module docs).
        render_mode: None or ``"rgb_array"`` (the task's frame beside a spike raster and the
            electrode rates).

    Raises:
        ConfigError: For an unknown role, an Env that is not initialised, or codecs that do not
            fit the task's spaces or the culture's electrodes.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, benchmark: Any, env: Any, encoding: Any = None, decoding: Any = None,
                 *, role: str = "actuator", render_mode: str | None = None) -> None:  # fmt: skip
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"render_mode must be None or 'rgb_array'; got {render_mode!r}.")
        check_role(role)
        check_env_ready(env)
        self.task = make_task(benchmark, render_mode)
        self.culture = env
        self.pairing = Pairing(self.task, env, encoding, decoding, role)
        self.role = self.pairing.role
        self.encoding, self.decoding = self.pairing.encoding, self.pairing.decoding
        self.duration = self.pairing.duration
        self.action_space = self.pairing.action_space
        self.observation_space = self.pairing.observation_space
        self.render_mode = render_mode
        self.culture_seed: int | None = None
        self._history: deque = deque(maxlen=max(1, min(10_000, int(RASTER_MS / self.duration))))
        self._last: dict[str, Any] = {}
        self._owns_culture = False

    # ------------------------------------------------------------------ culture
    def _advance(self, inputs: Any) -> Any:
        """Run the culture one step under the encoding of ``inputs``; the decoded value."""
        stimulus = self.pairing.stimulus(self.culture, inputs)
        t0 = float(self.culture.t)
        result = self.culture.run(self.duration, stimulus)
        self._remember(t0, result.it, result.t, stimulus, inputs)
        return self.decoding(self.culture, *result)

    def _remember(self, t0: float, it: Any, t: Any, stimulus: Any, inputs: Any) -> None:
        it = np.zeros(0, np.int64) if it is None else np.asarray(it)
        t = np.zeros(0) if t is None else np.asarray(t, np.float64)
        self._history.append((t0, it, t + t0))
        self._last = {"t": t0 + self.duration, "inputs": inputs, "stimulus": stimulus,
                      "spikes": len(it)}  # fmt: skip

    def _info(self, info: dict) -> dict:
        return {**info, "culture": {"t": float(self.culture.t), "spikes": self._last.get("spikes", 0),
                                    "seed": self.culture_seed}}  # fmt: skip

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, info = self.task.reset(seed=seed, options=options)
        self.culture_seed = int(self.np_random.integers(0, 2**31 - 1))
        self.culture.clear(seed=self.culture_seed)
        self._history.clear()
        self._last = {}
        if self.role == "sensor":
            obs = self.pairing.observation(self._advance(obs))
        return obs, self._info(info)

    def step(self, action: Any):
        if self.role == "actuator":
            action = self.pairing.agent_action(action)
            task_action = self.pairing.task_action(self._advance(action))
            obs, reward, terminated, truncated, info = self.task.step(task_action)
            info = {**info, "task_action": task_action}
        else:
            obs, reward, terminated, truncated, info = self.task.step(action)
            obs = self.pairing.observation(self._advance(obs))
        return obs, float(reward), bool(terminated), bool(truncated), self._info(info)

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        from livn.integrations.gym.render import culture_frame

        frame = self.task.render() if getattr(self.task, "render_mode", None) == "rgb_array" else None
        return culture_frame(self.culture, frame, list(self._history), self._last, self.duration)

    def close(self) -> None:
        self.task.close()
        if self._owns_culture:
            self.culture.close()
        super().close()

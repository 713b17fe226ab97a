"""``LivnVectorEnv``: ``num_envs`` cultures advanced together by one compiled program.

Every culture is a copy of one :class:`livn.env.Env` (its system, model, MEA and parameters)
with its own state and noise seed. One agent step encodes each culture's inputs into
electrode currents ``[num_envs, T, C]``, runs all cultures for the step by one ``jax.vmap``-ed,
compiled program of the JAX engine (:class:`CultureBatch`), and decodes each culture's spikes.
The tasks are stepped one after another in Python (they are cheap next to the culture).

Sub-environment ``i`` behaves exactly like a :class:`~livn.integrations.gym.LivnGym` on the same
Env reset with ``seed + i`` (same task seed, same culture noise seeds), up to float32
rounding of the batched program (spike times may differ by one integration step in rare
cases; the tests compare the two).

Autoreset follows Gymnasium 1.x ``AutoresetMode.NEXT_STEP`` (``metadata["autoreset_mode"]``):
the step after a sub-environment terminates or truncates resets it — its task (no seed; its
generator continues) and its culture (a new noise seed from its generator) — ignores its
action, and returns its first observation with reward 0 and no termination or truncation.

Batching on a CPU. vmap does not make a CPU core faster, and very wide batches are slower per
culture on XLA:CPU (larger working set); cultures are therefore run in sub-batches of
``batch_size`` by the same compiled program (default: ``num_envs`` split over the usable
cores, at most :data:`CPU_BATCH` per sub-batch; all of them at once on a GPU). The sub-batches
are dispatched before any result is read, so XLA:CPU runs them on several cores at once; with
one program call per sub-batch instead of one ``Env.run`` per culture, that is where the win
over a ``SyncVectorEnv`` of single envs comes from (benchmarks/gym_vector.py).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from livn import limits
from livn.errors import ConfigError, require
from livn.integrations.gym.env import Pairing, check_env_ready, check_role, make_task

gym = require("gymnasium", "gym")
from gymnasium.vector import AutoresetMode, VectorEnv  # noqa: E402
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array  # noqa: E402

__all__ = ["CPU_BATCH", "CultureBatch", "LivnVectorEnv"]

#: Cultures per compiled call on a CPU (measured on EI2: wider batches cost more per culture).
CPU_BATCH = 8


def electrode_maps(env: Any) -> Any:
    """The engine's field maps of ``env``'s electrodes (what ``env.run`` uses for electrode
    stimuli). Uses the Env's private ``_stimulus_args`` until the Env offers a batched,
    stateful run (see docs/rl.md)."""
    from livn.stimulus import Stimulus

    probe = Stimulus(np.zeros((1, int(env.io.num_channels)), np.float32), space="channels")
    return env._stimulus_args(probe)["maps"]


class CultureBatch:
    """``num_envs`` states of one Env's culture and the compiled program that advances them.

    Args:
        env: An initialised Env on the JAX backend (system, model, MEA, parameters).
        num_envs: Number of cultures.
        duration: Length of a step, ms.
        batch_size: Cultures per compiled call (the last sub-batch is padded); default
            ``num_envs`` split over the usable cores, at most :data:`CPU_BATCH` per call, on a
            CPU (sub-batches are dispatched together, so XLA may run them on several cores);
            ``num_envs`` elsewhere.
    """

    def __init__(self, env: Any, num_envs: int, duration: float,
                 batch_size: int | None = None) -> None:  # fmt: skip
        import jax

        if env.backend != "jax":
            raise ConfigError(
                f"LivnVectorEnv runs its cultures as one vmapped program of the JAX engine; the "
                f"Env uses backend={env.backend!r}. Build it with Env(..., backend='jax'), or use "
                "gymnasium.vector.SyncVectorEnv of LivnGym envs for other backends."
            )
        self.env = env
        self.engine = env.engine
        self.num_envs = limits.integer(num_envs, "num_envs", 1, 65536)
        cpu = jax.default_backend() == "cpu"
        if batch_size is None:  # on a CPU: sub-batches for every core, at most CPU_BATCH each
            per_core = math.ceil(self.num_envs / limits.cores())
            batch_size = min(per_core, CPU_BATCH) if cpu else self.num_envs
        self.batch_size = min(limits.integer(batch_size, "batch_size", 1, 65536), self.num_envs)
        self.n_batches = math.ceil(self.num_envs / self.batch_size)
        self.duration = duration
        self.n_steps = limits.steps(duration, self.engine.dt)
        self.maps = electrode_maps(env)
        self.initial = self.engine.initial_state()
        b = self.batch_size
        self.states = [jax.tree_util.tree_map(lambda x: jax.numpy.stack([x] * b), self.initial)
                       for _ in range(self.n_batches)]  # fmt: skip
        self.seeds = [int(env.seed)] * (self.n_batches * b)
        self._keys: list[Any] = [None] * self.n_batches
        self._programs: dict[tuple, Any] = {}
        self._cpu = cpu

    # ------------------------------------------------------------------ state
    def clear(self, index: int, seed: int) -> None:
        """Culture ``index`` back to t = 0 with noise seed ``seed`` (as ``Env.clear(seed)``)."""
        import jax

        seed = limits.seed(seed)
        b, row = divmod(int(index), self.batch_size)
        self.states[b] = jax.tree_util.tree_map(lambda s, x: s.at[row].set(x), self.states[b],
                                                self.initial)  # fmt: skip
        self.seeds[index] = seed
        self._keys[b] = None

    def _keys_of(self, b: int) -> Any:
        if self._keys[b] is None:
            s = self.batch_size
            self._keys[b] = self.engine.keys(self.seeds[b * s : (b + 1) * s])
        return self._keys[b]

    def _program(self, rows: int, cols: int) -> Any:
        import jax

        sig = (rows, cols)
        fn = self._programs.get(sig)
        if fn is None:
            engine, n_steps, maps = self.engine, self.n_steps, self.maps

            def one(state, key, stim, params, stim_dt):
                state, buf, _, _, _ = engine.run(state, params, n_steps, stim, stim_dt, key,
                                                 stim_kind="channels", maps=maps)  # fmt: skip
                return state, buf

            batched = jax.vmap(one, in_axes=(0, 0, 0, None, None))
            if self._cpu:
                from livn.backends.jax.engine import CPU_COMPILER_OPTIONS

                fn = jax.jit(batched, compiler_options=CPU_COMPILER_OPTIONS)
            else:
                fn = jax.jit(batched)
            self._programs[sig] = fn
        return fn

    # ------------------------------------------------------------------ running
    def run(self, currents: np.ndarray, dt: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """Advance every culture by one step.

        Args:
            currents: ``[num_envs, T, C]`` electrode currents, µA (one row per ``dt`` ms).
            dt: Duration of one row, ms.

        Returns:
            ``[(it, t)]`` per culture: spike gids and times (ms from the start of the step),
            in time order.
        """
        s = self.batch_size
        n, rows, cols = currents.shape
        pad = self.n_batches * s - n
        if pad:
            currents = np.concatenate([currents, np.zeros((pad, rows, cols), currents.dtype)])
        fn = self._program(rows, cols)
        gids = self.engine.net.gids
        out: list[tuple[np.ndarray, np.ndarray]] = []
        overflow = 0
        bufs = []
        for b in range(self.n_batches):  # dispatch every sub-batch first: they may run at once
            stim = currents[b * s : (b + 1) * s].astype(np.float32)
            state, buf = fn(self.states[b], self._keys_of(b), stim, self.env.params,
                            np.float32(dt))  # fmt: skip
            self.states[b] = state
            bufs.append(buf)
        for buf in bufs:
            ids, times, count, over = (np.asarray(x) for x in buf)
            overflow += int(over.sum())
            for r in range(s):
                if len(out) == n:
                    break
                k = int(count[r])
                it, t = gids[ids[r, :k]], times[r, :k].astype(np.float64)
                order = np.lexsort((it, t))
                out.append((it[order], t[order]))
        if overflow:
            import warnings

            warnings.warn(f"{overflow} spikes exceeded the spike buffers of this step and were "
                          "not recorded (they were delivered).", RuntimeWarning, stacklevel=3)  # fmt: skip
        return out


class LivnVectorEnv(VectorEnv):
    """``num_envs`` :class:`~livn.integrations.gym.LivnGym` envs with one batched culture.

    Args:
        benchmark: The task: an env id or a callable returning a new env (one per culture).
        env: An initialised :class:`livn.env.Env` on the JAX backend: the template of every
            culture (its own state is not used).
        num_envs: Number of sub-environments (>= 1).
        encoding: As for :class:`LivnGym`; it must return electrode currents (or None).
        decoding: As for :class:`LivnGym`; it may need spikes only.
        role: ``"actuator"`` or ``"sensor"``.
        batch_size: Cultures per compiled call (see the module docs).

    Raises:
        ConfigError: For an Env on another backend, a task instance instead of an id or
            factory, a decoding that needs voltage or currents, or bad sizes.
    """

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, benchmark: Any, env: Any, num_envs: int, encoding: Any = None,
                 decoding: Any = None, *, role: str = "actuator",
                 batch_size: int | None = None) -> None:  # fmt: skip
        check_role(role)
        if getattr(env, "backend", "jax") != "jax":
            raise ConfigError(
                f"LivnVectorEnv runs its cultures as one vmapped program of the JAX engine; the "
                f"Env uses backend={env.backend!r}. Build it with Env(..., backend='jax'), or use "
                "gymnasium.vector.SyncVectorEnv of LivnGym envs for other backends."
            )
        check_env_ready(env)
        if isinstance(benchmark, gym.Env):
            raise ConfigError(
                "LivnVectorEnv needs one task per culture: pass the task's id (e.g. "
                "'Pendulum-v1') or a callable that makes a new one, not an env instance."
            )
        num_envs = limits.integer(num_envs, "num_envs", 1, 65536)
        self.tasks = [make_task(benchmark) for _ in range(num_envs)]
        self.pairing = Pairing(self.tasks[0], env, encoding, decoding, role)
        extra = [x for x in getattr(self.pairing.decoding, "needs", ()) if x != "spikes"]
        if extra:
            raise ConfigError(
                f"the decoding needs {', '.join(extra)}; LivnVectorEnv records spikes only. Use a "
                "spike decoding, or a SyncVectorEnv of LivnGym envs."
            )
        self.culture = env
        self.role = self.pairing.role
        self.num_envs = num_envs
        self.batch = CultureBatch(env, num_envs, self.pairing.duration, batch_size)
        self.single_action_space = self.pairing.action_space
        self.single_observation_space = self.pairing.observation_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.render_mode = None
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._obs = create_empty_array(self.single_observation_space, num_envs)
        self._owns_culture = False

    # ------------------------------------------------------------------ helpers
    def _reset_one(self, i: int, seed: int | None, options: dict | None) -> tuple[Any, dict]:
        from gymnasium.utils import seeding

        if seed is not None or self._rngs[i] is None:
            self._rngs[i], _ = seeding.np_random(seed)
        obs, info = self.tasks[i].reset(seed=seed, options=options)
        self.batch.clear(i, int(self._rngs[i].integers(0, 2**31 - 1)))
        return obs, info

    def _currents(self, inputs: list[Any]) -> tuple[np.ndarray, float]:
        """``([num_envs, T, C] µA, dt)`` of the encoding of each culture's inputs (None: no
        current)."""
        env, c = self.culture, int(self.culture.io.num_channels)
        stims = [None if x is None else self.pairing.stimulus(env, x) for x in inputs]
        shaped = [s for s in stims if s is not None]
        for s in shaped:
            if s.space != "channels":
                raise ConfigError(
                    "LivnVectorEnv takes electrode stimuli (env.cell_stimulus); the encoding "
                    "returned somatic currents. Use a SyncVectorEnv of LivnGym envs for those."
                )
        if not shaped:
            return np.zeros((len(inputs), 1, c), np.float32), self.pairing.duration
        first = shaped[0]
        rows, dt = first.num_steps, first.dt
        out = np.zeros((len(inputs), rows, c), np.float32)
        for i, s in enumerate(stims):
            if s is None:
                continue
            if s.num_steps != rows or s.dt != dt:
                raise ConfigError(
                    f"the encoding's stimuli differ in shape or dt between cultures "
                    f"({tuple(s.array.shape)} at {s.dt:g} ms vs ({rows}, {c}) at {dt:g} ms); "
                    "LivnVectorEnv runs them as one array."
                )
            out[i] = np.asarray(s.array, np.float32)
        return out, dt

    def _decode(self, spikes: tuple[np.ndarray, np.ndarray]) -> Any:
        it, t = spikes
        return self.pairing.decoding(self.culture, it, t, None, None)

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None):  # fmt: skip
        super().reset(seed=seed if isinstance(seed, int) else None)
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, int) and not isinstance(seed, bool):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ConfigError(
                    f"reset(seed=[...]) needs one seed per sub-environment ({self.num_envs}); "
                    f"got {len(seeds)}."
                )
        infos: dict[str, Any] = {}
        task_obs = []
        for i in range(self.num_envs):
            obs, info = self._reset_one(i, seeds[i], options)
            task_obs.append(obs)
            infos = self._add_info(infos, info, i)
        if self.role == "sensor":
            currents, dt = self._currents(task_obs)
            spikes = self.batch.run(currents, dt)
            obs_list = [self.pairing.observation(self._decode(s)) for s in spikes]
        else:
            obs_list = task_obs
        self._autoreset[:] = False
        self._obs = concatenate(self.single_observation_space, obs_list, self._obs)
        return self._obs.copy(), infos

    def step(self, actions: Any):
        n = self.num_envs
        rewards = np.zeros(n, np.float64)
        terminated = np.zeros(n, bool)
        truncated = np.zeros(n, bool)
        infos: dict[str, Any] = {}
        resetting = self._autoreset.copy()
        obs_list: list[Any] = [None] * n
        actions = list(actions) if not isinstance(actions, np.ndarray) else actions
        if self.role == "actuator":
            inputs = [None if resetting[i] else self.pairing.agent_action(actions[i])
                      for i in range(n)]  # fmt: skip
            currents, dt = self._currents(inputs)
            spikes = self.batch.run(currents, dt)
            for i in range(n):
                if resetting[i]:
                    obs_list[i], info = self._reset_one(i, None, None)
                else:
                    task_action = self.pairing.task_action(self._decode(spikes[i]))
                    obs_list[i], r, term, trunc, info = self.tasks[i].step(task_action)
                    rewards[i], terminated[i], truncated[i] = r, term, trunc
                    info = {**info, "culture_spikes": len(spikes[i][0])}
                infos = self._add_info(infos, info, i)
        else:
            task_obs = []
            for i in range(n):
                if resetting[i]:
                    o, info = self._reset_one(i, None, None)
                else:
                    o, r, term, trunc, info = self.tasks[i].step(actions[i])
                    rewards[i], terminated[i], truncated[i] = r, term, trunc
                task_obs.append(o)
                infos = self._add_info(infos, info, i)
            currents, dt = self._currents(task_obs)
            spikes = self.batch.run(currents, dt)
            obs_list = [self.pairing.observation(self._decode(s)) for s in spikes]
            for i in range(n):
                infos = self._add_info(infos, {"culture_spikes": len(spikes[i][0])}, i)
        self._autoreset = terminated | truncated
        self._obs = concatenate(self.single_observation_space, obs_list, self._obs)
        return self._obs.copy(), rewards, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        for task in self.tasks:
            task.close()
        if self._owns_culture:
            self.culture.close()

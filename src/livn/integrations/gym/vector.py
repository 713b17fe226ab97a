"""``LivnVectorEnv``: ``num_envs`` cultures advanced together by one batched run.

Every culture is a copy of one :class:`livn.env.Env` (its system, model, MEA and parameters)
with its own state and noise seed: a :class:`livn.batch.BatchState`. One agent step encodes
each culture's inputs into electrode currents ``[num_envs, T, C]``, advances all cultures by
the step through the Env's public batched run (``Env.run_batch(duration, stimulus,
states=…)``, :class:`CultureBatch`), and decodes each culture's spikes. The tasks are stepped
one after another in Python (they are cheap next to the culture).

On the JAX engine the cultures run as one ``jax.vmap``-ed, compiled program (all of them at
once on a GPU); on the host engines (``native``, the CPU default) one after another from
snapshots of the simulator, with no per-culture Python ``Env`` around them.

Sub-environment ``i`` behaves exactly like a :class:`~livn.integrations.gym.LivnGym` on the same
Env reset with ``seed + i`` (same task seed, same culture noise seeds), up to float32
rounding of the batched program (spike times may differ by one integration step in rare
cases; the tests compare the two).

Autoreset follows Gymnasium 1.x ``AutoresetMode.NEXT_STEP`` (``metadata["autoreset_mode"]``):
the step after a sub-environment terminates or truncates resets it — its task (no seed; its
generator continues) and its culture (a new noise seed from its generator) — ignores its
action, and returns its first observation with reward 0 and no termination or truncation.

Batching on a CPU with the JAX engine. vmap does not make a CPU core faster, and very wide
batches are slower per culture on XLA:CPU (larger working set); cultures are therefore run in
sub-batches of ``batch_size`` (default: ``num_envs`` split over the usable cores, at most
:data:`CPU_BATCH` per sub-batch; all of them at once on a GPU), each sub-batch in its own
thread, so XLA:CPU runs them on several cores at once (benchmarks/gym_vector.py).
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


class CultureBatch:
    """``num_envs`` cultures of one Env, advanced together through the Env's public batched
    run (:meth:`livn.env.Env.run_batch` with ``states=``, :mod:`livn.batch`).

    Args:
        env: An initialised Env (system, model, MEA, parameters); its own state is not used.
        num_envs: Number of cultures.
        duration: Length of a step, ms.
        batch_size: Cultures per batched call. Default, on a CPU: ``num_envs`` split over the
            usable cores (at most :data:`CPU_BATCH` per call on the JAX engine), the calls
            running at once in threads — XLA and the native kernel release the interpreter
            while they compute; the host engines keep one simulator per thread (a replica
            of ``env`` with its parameters). On a GPU: one call takes them all.
    """

    def __init__(self, env: Any, num_envs: int, duration: float,
                 batch_size: int | None = None) -> None:  # fmt: skip
        self.env = env
        self.num_envs = limits.integer(num_envs, "num_envs", 1, 65536)
        jax_engine = env.backend == "jax"
        cores = limits.cores()
        on_cpu = _jax_on_cpu() if jax_engine else True
        # NEURON is one simulator per process (a second Env would close the first): no replicas
        one_simulator = env.backend == "neuron"
        if batch_size is None:  # on a CPU: a sub-batch for every core
            per_core = math.ceil(self.num_envs / cores)
            batch_size = (self.num_envs if not on_cpu or one_simulator
                          else min(per_core, CPU_BATCH) if jax_engine else per_core)  # fmt: skip
        self.batch_size = min(limits.integer(batch_size, "batch_size", 1, 65536), self.num_envs)
        self.n_batches = math.ceil(self.num_envs / self.batch_size)
        self.duration = duration
        # who runs each sub-batch: the JAX engine runs any number at once; a host engine one
        # at a time, so each thread gets its own replica of the Env (sub-batch b → b % k)
        k = 1 if jax_engine or one_simulator else min(self.n_batches, cores)
        self.envs = [env] + [_replica(env) for _ in range(k - 1)]
        self.threaded = on_cpu and self.n_batches > 1 and (jax_engine or k > 1)
        self.lanes = ([[b] for b in range(self.n_batches)] if jax_engine else
                      [list(range(i, self.n_batches, k)) for i in range(k)])  # fmt: skip
        sizes = [len(a) for a in np.array_split(np.arange(self.num_envs), self.n_batches)]
        self.bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        seed = int(env.seed)
        self.states = [self._env_of(b).batch_state([seed] * n, initial=True)
                       for b, n in enumerate(sizes)]  # fmt: skip
        self._pool: Any = None
        self._warm = False

    def _env_of(self, b: int) -> Any:
        return self.envs[b % len(self.envs)]

    def _locate(self, index: int) -> tuple[int, int]:
        b = int(np.searchsorted(self.bounds, int(index), side="right")) - 1
        return b, int(index) - int(self.bounds[b])

    def clear(self, index: int, seed: int) -> None:
        """Culture ``index`` back to t = 0 with noise seed ``seed`` (as ``Env.clear(seed)``)."""
        b, row = self._locate(index)
        self.states[b].reset(row, seed)

    def run(self, stimuli: list[Any]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Advance every culture by one step.

        Args:
            stimuli: One electrode :class:`~livn.stimulus.Stimulus` per culture (µA; the
                same shape and dt for all).

        Returns:
            ``[(it, t)]`` per culture: spike gids and times (ms from the start of the step),
            in time order.
        """
        for replica in self.envs[1:]:  # the template's current parameters
            replica.params = self.env.params
        out: list[list] = [[] for _ in range(self.n_batches)]

        def lane(batches: list[int]) -> None:
            for b in batches:
                lo, hi = self.bounds[b], self.bounds[b + 1]
                out[b] = self._env_of(b).run_batch(self.duration, stimuli[lo:hi],
                                                   states=self.states[b])  # fmt: skip

        if self.threaded:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(len(self.lanes), thread_name_prefix="livn-vec")
            lanes = self.lanes
            if not self._warm:  # compile once before the threads share the program
                lane([0])
                lanes = [[b for b in batches if b] for batches in lanes]
                self._warm = True
            list(self._pool.map(lane, lanes))
        else:
            lane(list(range(self.n_batches)))
        return [(r.it, r.t) for part in out for r in part]

    def close(self) -> None:
        """Stop the worker threads and release the replicas."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        for replica in self.envs[1:]:
            replica.close()
        self.envs = self.envs[:1]


def _replica(env: Any) -> Any:
    """A second Env of ``env``'s system, model, MEA, seed and backend, recording spikes (its
    parameters are set from ``env`` before every step)."""
    from livn.env import Env

    replica = Env(env.system, env.model, env.io, env.seed, backend=env.backend).init()
    replica.params = env.params
    replica.record_spikes()
    return replica


def _jax_on_cpu() -> bool:
    import jax

    return jax.default_backend() == "cpu"


class LivnVectorEnv(VectorEnv):
    """``num_envs`` :class:`~livn.integrations.gym.LivnGym` envs with one batched culture.

    Args:
        benchmark: The task: an env id or a callable returning a new env (one per culture).
        env: An initialised :class:`livn.env.Env` (any backend): the template of every
            culture (its own state is not used; its parameters are read at every step).
        num_envs: Number of sub-environments (>= 1).
        encoding: As for :class:`LivnGym`; it must return electrode currents (or None).
        decoding: As for :class:`LivnGym`; it may need spikes only.
        role: ``"actuator"`` or ``"sensor"``.
        batch_size: Cultures per batched call (see :class:`CultureBatch`).

    Raises:
        ConfigError: For a task instance instead of an id or factory, an encoding that gives
            somatic currents, a decoding that needs voltage or currents, or bad sizes.
    """

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, benchmark: Any, env: Any, num_envs: int, encoding: Any = None,
                 decoding: Any = None, *, role: str = "actuator",
                 batch_size: int | None = None) -> None:  # fmt: skip
        check_role(role)
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
        self._zero: tuple | None = None

    # ------------------------------------------------------------------ helpers
    def _reset_one(self, i: int, seed: int | None, options: dict | None) -> tuple[Any, dict]:
        from gymnasium.utils import seeding

        if seed is not None or self._rngs[i] is None:
            self._rngs[i], _ = seeding.np_random(seed)
        obs, info = self.tasks[i].reset(seed=seed, options=options)
        self.batch.clear(i, int(self._rngs[i].integers(0, 2**31 - 1)))
        return obs, info

    def _stimuli(self, inputs: list[Any]) -> list[Any]:
        """The electrode stimulus of the encoding of each culture's inputs (``None``: no
        current, a zero stimulus of the same shape)."""
        from livn.stimulus import Stimulus

        env, c = self.culture, int(self.culture.io.num_channels)
        stims = [None if x is None else self.pairing.stimulus(env, x) for x in inputs]
        shaped = [s for s in stims if s is not None]
        for s in shaped:
            if s.space != "channels":
                raise ConfigError(
                    "LivnVectorEnv takes electrode stimuli (env.cell_stimulus); the encoding "
                    "returned somatic currents. Use a SyncVectorEnv of LivnGym envs for those."
                )
        first = shaped[0] if shaped else None
        for s in shaped:
            if s.num_steps != first.num_steps or s.dt != first.dt:
                raise ConfigError(
                    f"the encoding's stimuli differ in shape or dt between cultures "
                    f"({tuple(s.array.shape)} at {s.dt:g} ms vs {tuple(first.array.shape)} at "
                    f"{first.dt:g} ms); LivnVectorEnv runs them as one batch."
                )
        rows, dt = (first.num_steps, first.dt) if first else (1, self.pairing.duration)
        key = (rows, dt)
        if self._zero is None or self._zero[0] != key:
            self._zero = (key, Stimulus(np.zeros((rows, c), np.float32), dt=dt, space="channels"))
        return [self._zero[1] if s is None else s for s in stims]

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
            spikes = self.batch.run(self._stimuli(task_obs))
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
            spikes = self.batch.run(self._stimuli(inputs))
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
            spikes = self.batch.run(self._stimuli(task_obs))
            obs_list = [self.pairing.observation(self._decode(s)) for s in spikes]
            for i in range(n):
                infos = self._add_info(infos, {"culture_spikes": len(spikes[i][0])}, i)
        self._autoreset = terminated | truncated
        self._obs = concatenate(self.single_observation_space, obs_list, self._obs)
        return self._obs.copy(), rewards, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        for task in self.tasks:
            task.close()
        self.batch.close()
        if self._owns_culture:
            self.culture.close()

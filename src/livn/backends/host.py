"""What the engines of stateful simulators (NEURON, Brian2) share: the Env-facing contract.

The JAX engine is functional: a run maps ``(state, params)`` to a new state. NEURON and Brian2
keep their state inside the simulator, so a :class:`HostEngine` hands the Env an opaque
:class:`HostState` token and checks that a run continues from the latest state it returned
(or from a snapshot the engine still holds). Parameters are plain NumPy, keys are integer
seeds, and the outputs of a run are laid out as the JAX engine lays them out (spike buffer
``(ids, times, count, overflow)`` in engine order, ``[blocks, N]`` voltage and current), so
:class:`~livn.env.Env` reads every backend the same way.

A subclass implements:

* ``_reset()`` — the simulator at t = 0 (exactly the initial state);
* ``_apply(params)`` — weights and noise of the next run (``params`` as built here);
* ``_seed_noise(seed)`` — restart every cell's noise stream from ``seed``;
* ``_simulate(n_steps, inj, record_v, record_im)`` — advance ``n_steps`` steps of ``dt``
  from the current time under ``inj`` (:class:`Injection`, or ``None``) and return
  ``(ids [k] engine order, times [k] ms from the run start, v [blocks, N] | None,
  im [blocks, N] | None)``;
* ``_save()`` / ``_restore(snapshot)`` — a snapshot of the whole state (for ``run_batch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from livn.errors import ConfigError

__all__ = ["HostEngine", "HostState", "Injection", "NoiseStreams"]


@dataclass(frozen=True)
class HostState:
    """The Env's handle on a stateful simulator's state: which run it follows."""

    token: int
    t: float  # ms


@dataclass(frozen=True)
class TrialSnapshot:
    """The state of one trial of ``run_batch(states=)``: a simulator snapshot and its time."""

    snapshot: Any
    t: float  # ms


@dataclass
class Injection:
    """Injected current of a run, per cell group and compartment, piecewise constant.

    Attributes:
        dt: Interval of one row, ms (row ``i`` holds for ``[i·dt, (i+1)·dt)`` of the run;
            zero after the last row).
        currents: Per group ``[T, n, n_comp]`` nA (inward positive), or ``None`` for a group
            that receives nothing.
    """

    dt: float
    currents: list[np.ndarray | None]


class NoiseStreams:
    """Standard normals of the background noise, reproducible from a seed and the step.

    The steps ``[b·1024, (b+1)·1024)`` use ``default_rng([seed, b])`` (``[1024, N, 2]``:
    excitatory and inhibitory normal per cell), so a run gives the same noise however it is
    split into ``run()`` calls and chunks, and a simulator's own global seed is left alone.
    """

    BLOCK = 1024  # steps per stream block

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n = int(n)
        self.seed = int(seed)
        self._block: tuple[int, np.ndarray] | None = None

    def reseed(self, seed: int) -> None:
        """Restart every stream from ``seed``."""
        self.seed = int(seed)
        self._block = None

    def normals(self, step: int, k: int) -> np.ndarray:
        """``[k, N, 2]`` standard normals of absolute steps ``[step, step + k)``."""
        out = np.empty((k, self.n, 2))
        done = 0
        while done < k:
            b, off = divmod(step + done, self.BLOCK)
            if self._block is None or self._block[0] != b:
                rng = np.random.default_rng([self.seed, b])
                self._block = (b, rng.standard_normal((self.BLOCK, self.n, 2)))
            m = min(k - done, self.BLOCK - off)
            out[done : done + m] = self._block[1][off : off + m]
            done += m
        return out


class HostEngine:
    """Base class of the engines whose simulator holds the state (see module docstring).

    Args:
        network: From :func:`livn.backends.network.build_network`.
        model: The model (``dt``, ``record_dt``, cells).
        seed: The Env seed (initial noise streams).
    """

    #: Backend name, for messages.
    backend = "host"

    def __init__(self, network: Any, model: Any, seed: int = 0) -> None:
        self.net = network
        self.model = model
        self.seed = int(seed)
        self.dt = float(model.dt)
        self.n_sub = max(1, round(model.record_dt / model.dt))
        self._token = 0
        self._t = 0.0
        self._noise_seed: int | None = None
        self._stim_maps: dict[int, list] = {}

    # ------------------------------------------------------------------ the Env's arrays
    def key(self, seed: int) -> int:
        """The noise seed of a run (stateful simulators keep their own random streams)."""
        return int(seed)

    def keys(self, seeds: list[int]) -> list[int]:
        return [int(s) for s in seeds]

    def weights_param(self, per_group: list[Any]) -> list[np.ndarray]:
        return [np.asarray(w, np.float64).copy() for w in per_group]

    def noise_param(self, arrays: dict[str, Any]) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, np.float64).copy() for k, v in arrays.items()}

    def switch(self, on: bool) -> float:
        return 1.0 if on else 0.0

    def place_cells(self, array: Any, num_steps: int, cols: Any) -> np.ndarray:
        out = np.zeros((num_steps, self.net.num_neurons), np.float64)
        out[:, np.asarray(cols)] = np.asarray(array, np.float64)
        return out

    def stack(self, arrays: list[Any]) -> np.ndarray:
        return np.stack([np.asarray(a, np.float64) for a in arrays])

    def mask_outputs(self, masks: Any, vs: Any, iv: Any):
        raise ConfigError(self._no_mask())

    def _no_mask(self) -> str:
        return (f"unroll='mask' (a differentiable run) needs a differentiable backend; the "
                f"{self.backend!r} backend is not. Use Env(..., backend='jax').")  # fmt: skip

    def default_params(self, noise: dict[str, float]) -> dict:
        n = self.net.num_neurons
        return {
            "weights": [np.asarray([c.weight for c in g.channels], np.float64)
                        for g in self.net.groups],
            "noise": {k: np.full(n, float(v)) for k, v in noise.items()},
            "noise_on": 1.0,
        }  # fmt: skip

    def channel_maps(self, field_fn) -> list[np.ndarray]:
        """Per group ``[n_channels, n, n_comp]`` nA per µA of electrode current (cached)."""
        key = id(field_fn)
        if key not in self._stim_maps:
            self._stim_maps[key] = [np.asarray(m, np.float64) for m in field_fn(self.net)]
        return self._stim_maps[key]

    def channel_scale(self, gi: int, weights: np.ndarray) -> np.ndarray:
        """Peak conductance per unit release (µS) of each channel of group ``gi``."""
        kins = [c.kinetics for c in self.net.groups[gi].channels]
        return np.asarray(weights, np.float64) * np.array(
            [k.g_unit * k.peak_factor for k in kins], np.float64
        )

    # ------------------------------------------------------------------ state
    def initial_state(self) -> HostState:
        self._reset()
        self._t = 0.0
        self._noise_seed = None
        self._token += 1
        return HostState(self._token, 0.0)

    #: Whether the simulator can keep the snapshots of several trials at once (what
    #: ``run_batch(states=)`` needs).
    keeps_snapshots = True

    #: Whether ``_save`` holds the noise streams (their seed and position) and ``_restore``
    #: sets ``_noise_seed`` to that seed: engines with sequential streams (NEURON) need it,
    #: so that a trial whose key is the snapshot's seed continues the streams as a run
    #: would. Counter-based streams (native, Brian2) draw from the seed and the step alone,
    #: so their trials simply restart the streams from the key (the same numbers).
    snapshots_hold_streams = False

    def _adopt(self, snapshot: Any) -> None:
        """Make ``snapshot`` the live state; it is this trial's own, so an engine whose
        snapshot is a plain object may take it over without a copy (the native engine)."""
        self._restore(snapshot)

    def _release(self) -> Any:
        """The live state as a snapshot that the caller now owns (see :meth:`_adopt`)."""
        return self._save()

    def _duplicate(self, snapshot: Any) -> Any:
        """A snapshot that shares nothing mutable with ``snapshot`` (for :meth:`_adopt`)."""
        return snapshot

    def _check_keeps(self) -> None:
        if not self.keeps_snapshots:
            raise ConfigError(
                f"the {self.backend} backend keeps one snapshot of its simulator at a time, so "
                "it cannot hold several cultures' states (env.batch_state, LivnVectorEnv); use "
                "the native or jax backend for them."
            )

    def stack_states(self, state: Any, n: int) -> list[TrialSnapshot]:
        """``n`` copies of the current ``state`` (one per trial; ``run_batch(states=)``)."""
        self._check_keeps()
        self._check_state(state)
        snap = self._save()
        return [TrialSnapshot(self._duplicate(snap), self._t) for _ in range(int(n))]

    def initial_states(self, n: int) -> list[TrialSnapshot]:
        """``n`` copies of the state at t = 0 (the Env's own state is kept)."""
        self._check_keeps()
        current, t, noise_seed = self._save(), self._t, self._noise_seed
        token = self._token
        try:
            self._reset()
            snap = self._save()
        finally:
            self._restore(current)
            self._t, self._noise_seed, self._token = t, noise_seed, token
        return [TrialSnapshot(self._duplicate(snap), 0.0) for _ in range(int(n))]

    def set_trial(self, states: list, index: int, source: list, row: int) -> list:
        """``states`` with trial ``index`` replaced by (a copy of) trial ``row`` of ``source``."""
        out = list(states)
        src = source[int(row)]
        out[int(index)] = TrialSnapshot(self._duplicate(src.snapshot), src.t)
        return out

    def trial_steps(self, states: list) -> np.ndarray:
        """``[B]`` integration steps done by each trial of ``states``."""
        return np.asarray([round(s.t / self.dt) for s in states], np.int64)

    def _check_state(self, state: Any) -> None:
        if not isinstance(state, HostState) or state.token != self._token:
            raise ConfigError(
                f"the {self.backend} backend keeps its state in the simulator and can only "
                "continue from the latest state of its Env (a saved earlier state cannot be "
                "resumed); call env.clear() to start again from t = 0."
            )

    # ------------------------------------------------------------------ runs
    def _injection(self, n_steps: int, stim: Any, stim_dt: float, stim_kind: str,
                   maps: Any) -> Injection | None:  # fmt: skip
        if stim is None:
            return None
        x = np.asarray(stim, np.float64)
        stim_dt = float(stim_dt)
        rows = min(x.shape[0], int(np.ceil(n_steps * self.dt / stim_dt - 1e-4)))
        x = x[:rows]
        currents: list[np.ndarray | None] = []
        if stim_kind != "cells":
            # pulse trains are runs of equal rows: map each run once (a small product stays
            # off BLAS's worker threads, which oversubscribe the cores when several
            # simulators run at once — LivnVectorEnv's threads)
            new_run = np.ones(len(x), bool)  # rows that differ from the one before
            new_run[1:] = np.any(x[1:] != x[:-1], axis=1)
            uniq, inverse = x[new_run], np.cumsum(new_run) - 1
        for gi, g in enumerate(self.net.groups):
            if stim_kind == "cells":
                cur = x[:, g.offset : g.offset + g.n]
                if not np.any(cur):
                    currents.append(None)
                    continue
                full = np.zeros((rows, g.n, g.cell.n_comp))
                full[:, :, g.cell.soma] = cur
            else:  # electrode currents through the field maps [C, n, n_comp]
                full = np.tensordot(uniq, np.asarray(maps[gi], np.float64), axes=1)[inverse]
                if not np.any(full):
                    currents.append(None)
                    continue
            currents.append(full)
        return Injection(stim_dt, currents)

    def _outputs(self, ids, times, v, im, capacity: int):
        ids = np.asarray(ids, np.int64)
        times = np.asarray(times, np.float64)
        order = np.lexsort((ids, times))
        ids, times = ids[order], times[order]
        count = len(ids)
        cap = max(int(capacity), count)
        bi = np.zeros(cap, np.int32)
        bt = np.zeros(cap, np.float32)
        bi[:count], bt[:count] = ids, times
        return (bi, bt, np.asarray(count), np.asarray(0)), v, im

    def run(self, state: Any, params: dict, n_steps: int, stim: Any = None,
            stim_dt: float = 1.0, key: Any = None, *, record_v: bool = False,
            record_im: bool = False, mode: str = "events", stim_kind: str = "cells",
            maps: Any = None, capacity: int = 0):  # fmt: skip
        """Advance ``n_steps`` steps (the JAX engine's signature and outputs)."""
        if mode != "events":
            raise ConfigError(self._no_mask())
        self._check_state(state)
        seed = self.seed if key is None else int(key)
        if seed != self._noise_seed:
            self._seed_noise(seed)
            self._noise_seed = seed
        self._apply(params)
        inj = self._injection(int(n_steps), stim, stim_dt, stim_kind, maps)
        ids, times, v, im = self._simulate(int(n_steps), inj, bool(record_v), bool(record_im))
        self._t += int(n_steps) * self.dt
        self._token += 1
        buf, v, im = self._outputs(ids, times, v, im, capacity)
        return HostState(self._token, self._t), buf, v, im, None

    def run_batch(self, state: Any, params: dict, n_steps: int, keys: Any, *,
                  batched_stim: bool = False, stim: Any = None, stim_dt: float = 1.0,
                  record_v: bool = False, record_im: bool = False, stim_kind: str = "cells",
                  maps: Any = None, capacity: int = 0,
                  states: list[TrialSnapshot] | None = None):  # fmt: skip
        """Trials one after another from one snapshot of ``state`` (which does not advance),
        or each from its own :class:`TrialSnapshot` of ``states``; the first result is the
        trials' final snapshots (``None`` without ``states``)."""
        self._check_state(state)
        # with states, every trial owns its snapshot: the Env's own state steps aside
        # (without a copy where the engine can adopt snapshots) and comes back at the end
        snapshot = self._release() if states is not None else self._save()
        t0, noise_seed = self._t, self._noise_seed
        bufs, vs, ims, finals = [], [], [], []
        try:
            for b, k in enumerate(keys):
                if states is not None:
                    self._adopt(states[b].snapshot)
                    self._t = states[b].t
                elif b:
                    self._restore(snapshot)
                    self._t = t0
                if not self.snapshots_hold_streams:
                    self._noise_seed = None  # every trial restarts the streams from its seed
                s = HostState(self._token, self._t)
                x = stim[b] if (batched_stim and stim is not None) else stim
                _, buf, v, im, _ = self.run(s, params, n_steps, x, stim_dt, k,
                                            record_v=record_v, record_im=record_im,
                                            stim_kind=stim_kind, maps=maps, capacity=capacity)  # fmt: skip
                bufs.append(buf)
                vs.append(v)
                ims.append(im)
                if states is not None:
                    finals.append(TrialSnapshot(self._release(), self._t))
        finally:
            if states is not None:
                self._adopt(snapshot)
            else:
                self._restore(snapshot)
            self._t, self._noise_seed = t0, noise_seed
            self._token = state.token  # the Env's state is current again
        width = max(len(b[0]) for b in bufs)
        pad = lambda a: np.pad(a, (0, width - len(a)))  # noqa: E731
        buf = (np.stack([pad(b[0]) for b in bufs]), np.stack([pad(b[1]) for b in bufs]),
               np.stack([b[2] for b in bufs]), np.stack([b[3] for b in bufs]))  # fmt: skip
        return (finals if states is not None else None, buf,
                None if not record_v else np.stack(vs),
                None if not record_im else np.stack(ims), None)  # fmt: skip

    # ------------------------------------------------------------------ to implement
    def _reset(self) -> None:
        raise NotImplementedError

    def _apply(self, params: dict) -> None:
        raise NotImplementedError

    def _seed_noise(self, seed: int) -> None:
        raise NotImplementedError

    def _simulate(self, n_steps: int, inj: Injection | None, record_v: bool, record_im: bool):
        raise NotImplementedError

    def _save(self) -> Any:
        raise NotImplementedError

    def _restore(self, snapshot: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the simulator's objects."""

"""``BatchState``: independent copies of one Env's culture, advanced together.

:meth:`livn.env.Env.run_batch` runs trials that all start from the Env's state and leave it
where it was. To keep a batch of cultures going step after step — ``num_envs`` cultures of a
vector RL environment, say — give it a :class:`BatchState`::

    states = env.batch_state(seeds=[0, 1, 2, 3])     # 4 cultures at the Env's state
    for _ in range(100):
        results = env.run_batch(20.0, stimulus, states=states)   # each advances 20 ms
        ...
    states.reset(2, seed=7)                           # culture 2 back to t = 0, new noise

Each culture has its own noise seed and state; ``run_batch(..., states=states)`` advances
every one of them by the run (in place) and returns one :class:`~livn.result.RunResult` per
culture, timed from that culture's own clock (``result.t0``). The Env's own state, time and
seed are untouched. On the JAX engine the cultures run as one vectorised program (the whole
batch at once on a GPU); on the host engines one after another from snapshots of the
simulator (``native``: each culture's own arrays, swapped in without a copy; ``neuron``:
``SaveState`` objects; ``brian2`` keeps one snapshot at a time and refuses).

If a batched run is interrupted (an exception, Ctrl-C), the cultures may have advanced in part:
the state is then refused, and a new one must be made.

A state belongs to the Env (and the engine build) that made it: after ``env.init()``,
``env.close()`` or a change of ``dt``, make a new one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from livn import limits
from livn.errors import ConfigError

__all__ = ["BatchState"]


class BatchState:
    """The states of ``len(seeds)`` cultures of one Env (see the module docs).

    Build it with :meth:`livn.env.Env.batch_state`, not directly.

    Attributes:
        seeds: The noise seed of each culture.
    """

    def __init__(self, engine: Any, states: Any, seeds: list[int]) -> None:
        self._engine = engine
        self._states = states
        self.seeds = list(seeds)
        self._keys: Any = None
        self._initial: Any = None
        self._broken = False

    def __len__(self) -> int:
        return len(self.seeds)

    @property
    def t(self) -> np.ndarray:
        """``[B]`` simulated time of each culture, ms."""
        return self._engine.trial_steps(self._states) * float(self._engine.dt)

    def keys(self) -> Any:
        """The engine's noise keys of the cultures (one per seed)."""
        if self._keys is None:
            self._keys = self._engine.keys(self.seeds)
        return self._keys

    def check(self, engine: Any) -> None:
        """Raise ConfigError unless the state was made by ``engine`` and is whole."""
        if self._broken:
            raise ConfigError(
                "a run_batch with these states was interrupted, which leaves the cultures' "
                "states undefined (some may have advanced); make new ones with "
                "env.batch_state(seeds)."
            )
        if engine is not self._engine:
            raise ConfigError(
                "this BatchState belongs to another engine build of the Env (env.init(), "
                "env.close() or a new dt rebuild the engine); make a new one with "
                "env.batch_state(seeds)."
            )

    def reset(self, index: int, seed: int | None = None) -> BatchState:
        """Culture ``index`` back to t = 0 (as ``env.clear(seed)``), with noise seed ``seed``
        (default: keep its seed). Returns ``self``."""
        n = len(self.seeds)
        i = limits.integer(index, "BatchState.reset index", 0, n - 1) if n else 0
        if seed is not None:
            self.seeds[i] = limits.seed(seed, "BatchState.reset seed")
            self._keys = None
        if self._initial is None:
            self._initial = self._engine.initial_states(1)
        self._states = self._engine.set_trial(self._states, i, self._initial, 0)
        return self

    def _advance(self, states: Any) -> None:
        self._states = states

    def _interrupted(self) -> None:
        self._broken = True

    def __repr__(self) -> str:
        t = self.t
        span = f"t={t[0]:g} ms" if len(set(t.tolist())) == 1 else f"t={t.min():g}–{t.max():g} ms"
        return f"BatchState({len(self)} cultures, {span})"


def seeds_arg(seeds: Iterable[int] | int, base: int = 0, what: str = "seeds",
              count: bool = True) -> list[int]:  # fmt: skip
    """A list of valid seeds from ``seeds``: a list, or (``count``) a number ``n`` of trials
    (→ ``base … base+n-1``)."""
    if count and isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        return [limits.seed(base + i, what) for i in range(limits.integer(seeds, what, 1))]
    try:
        if isinstance(seeds, str | bytes | dict | int | np.integer):
            raise TypeError
        out = list(seeds)
    except TypeError:
        raise ConfigError(
            f"{what} must be a list of integer seeds (one per trial)"
            f"{' or a count' if count else ' (batch_size= gives a count)'}; got {seeds!r}."
        ) from None
    if not out:
        raise ConfigError(f"{what} needs at least one seed (one trial).")
    return [limits.seed(s, what) for s in out]

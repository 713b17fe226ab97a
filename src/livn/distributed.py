"""DistributedEnv: an Env-like object whose trials fan out to MPI workers (seed 004).

Every rank constructs the same ``DistributedEnv`` and calls :meth:`~DistributedEnv.init`. On
worker ranks ``init()`` serves the controller until it calls :meth:`~DistributedEnv.close`,
then returns; only the controller (rank 0, :attr:`~DistributedEnv.is_root`) goes on to use the
object::

    from livn.distributed import DistributedEnv
    from livn.decoding import MeanFiringRate
    from livn.encoding import ElectrodePulses

    env = DistributedEnv("EI2", seed=42).init()     # workers block here until close()
    if env.is_root:
        env.apply_model_defaults()
        env.record_spikes()
        rates = env(MeanFiringRate(duration=1000), inputs=features, encoding=ElectrodePulses())
        env.close()

Configuration calls (``apply_model_defaults``, ``set_weights``, ``set_noise``,
``set_params``, ``record_*``) are recorded on the controller and replayed on every worker
before its next trial. A fan-out call takes a *sequence* of trials — ``inputs`` for
``__call__``, ``stimuli`` for :meth:`~DistributedEnv.run` — and returns the results in the
same order. Trial ``k`` runs from a cleared Env with seed ``seeds[k]`` (default
``seed + k``), so its result equals ``Env(system, seed=seed + k)`` running that trial alone,
whichever rank ran it and however many ranks there are. Without MPI (one process) the
controller runs every trial itself.

The JAX backend runs each simulation on one rank; ``subworld_size`` ranks per worker are
accepted for compatibility with the seed (the extra ranks of a group stay idle).

No rank is left waiting for one that failed. Building the Env (construction and ``init()``)
is collective: if any rank raises, every rank raises and rank 0 reports it. Under MPI a
``DistributedEnv`` installs :func:`livn.mpi.install_excepthook`: any other exception that
escapes the script on any rank (in the controller's code after ``init()``, or on a worker
outside a trial) prints its traceback and ends the whole job (``MPI_Abort``), and Ctrl+C
prints one line. A trial that raises on a worker is not such an exception: it is reported to
the controller, whose fan-out call raises. A controller script that ends without
:meth:`~DistributedEnv.close` releases the workers at exit.
"""

from __future__ import annotations

import atexit
import sys
import weakref
from collections.abc import Sequence
from typing import Any

from livn import mpi
from livn.errors import ConfigError

__all__ = ["DistributedEnv"]

_TAG_TASK, _TAG_RESULT, _TAG_STOP = 11, 12, 13

_REPLAYED = ("apply_model_defaults", "set_weights", "set_noise", "set_params",
             "record_spikes", "record_voltage", "record_membrane_current")  # fmt: skip


class DistributedEnv:
    """An Env whose trials run on MPI workers (see the module docstring).

    Args:
        system, model, io, seed: As for :class:`livn.env.Env`.
        comm: An MPI communicator (default ``MPI.COMM_WORLD`` when mpi4py is installed and
            the process runs under ``mpiexec``; else no MPI).
        subworld_size: Ranks per worker (the first of each group runs the trials).
    """

    def __init__(self, system: Any, model: Any | None = None, io: Any | None = None,
                 seed: int = 123, comm: Any | None = None, subworld_size: int = 1) -> None:  # fmt: skip
        from livn.env import Env

        if comm is None and mpi.world_size() > 1:
            comm = mpi.comm()
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()
        if self.size > 1:
            mpi.install_excepthook()
        self._closed = True  # until construction succeeds
        self._inflight = 0  # trials handed to workers whose results are not back yet
        from livn import limits

        try:  # the same on every rank: each raises, none waits
            self.subworld_size = limits.integer(subworld_size, "subworld_size", 1)
            self.seed = limits.seed(seed)
        except ConfigError as e:
            raise mpi.on_every_rank(e) from None
        self._ops: list[tuple[str, tuple, dict]] = []
        self._workers = [1 + k * self.subworld_size
                         for k in range((self.size - 1) // self.subworld_size)]  # fmt: skip
        if self.size > 1 and not self._workers:
            raise mpi.on_every_rank(ConfigError(
                f"{self.size} MPI ranks leave no worker with subworld_size={self.subworld_size}; "
                f"start at least {1 + self.subworld_size} ranks or lower subworld_size."
            ))  # fmt: skip
        self.env = self._collective(lambda: Env(system, model=model, io=io, seed=seed))
        self._closed = False
        if self.size > 1 and self.is_root:
            _OPEN.add(self)

    def _collective(self, fn: Any) -> Any:
        """``fn()`` on every rank; if any rank raises, every rank raises (see livn.mpi)."""
        if self.comm is None or self.size == 1:
            return fn()
        return mpi.collective(fn, self.comm)

    @property
    def is_root(self) -> bool:
        """True on the controller (rank 0)."""
        return self.rank == 0

    @property
    def system(self) -> Any:
        return self.env.system

    @property
    def io(self) -> Any:
        return self.env.io

    def init(self) -> DistributedEnv:
        """Build the Env; on worker ranks, serve trials until the controller closes.

        Collective: when the Env fails to build on any rank, every rank raises.
        """
        self._collective(self.env.init)
        if not self.is_root:
            if self.rank in self._workers:
                self._serve()
            mpi.barrier(self.comm)
        return self

    # ------------------------------------------------------------------ configuration
    def __getattr__(self, name: str) -> Any:
        if name in _REPLAYED:

            def call(*args: Any, **kwargs: Any) -> DistributedEnv:
                self._root_only(name)
                getattr(self.env, name)(*args, **kwargs)  # validate here, on the controller
                self._ops.append((name, args, kwargs))
                return self

            return call
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def _root_only(self, what: str) -> None:
        if not self.is_root:
            raise ConfigError(f"{what}() is for the controller (rank 0); guard with env.is_root.")
        if self._closed:
            raise ConfigError("this DistributedEnv is closed.")

    # ------------------------------------------------------------------ fan-out
    def __call__(self, decoding: Any, inputs: Sequence[Any] | None = None, encoding: Any = None,
                 seeds: Sequence[int] | None = None, trials: int | None = None) -> list[Any]:  # fmt: skip
        """``decoding(env, *env.run(duration, encoding(env, duration, inputs[k])))`` per trial.

        Args:
            decoding: A decoding with a ``duration`` (ms).
            inputs: One input per trial (``None`` entries for no input).
            encoding: The encoding (``None``: no stimulus).
            seeds: Per-trial noise seeds (default ``seed + k``).
            trials: Number of trials when ``inputs`` is None.

        Returns:
            The decoded outputs, in trial order.
        """
        self._root_only("__call__")
        if inputs is None:
            if trials is None:
                raise ConfigError("give inputs (one per trial) or trials=<count>.")
            inputs = [None] * int(trials)
        tasks = [("call", decoding, x, encoding) for x in inputs]
        return self._fan_out(tasks, seeds)

    def run(self, duration: float, stimuli: Sequence[Any] | None = None,
            seeds: Sequence[int] | None = None, trials: int | None = None) -> list[Any]:  # fmt: skip
        """``env.run(duration, stimuli[k])`` per trial, each from t = 0; a list of results."""
        self._root_only("run")
        if stimuli is None:
            stimuli = [None] * int(trials or 1)
        return self._fan_out([("run", float(duration), s, None) for s in stimuli], seeds)

    def _fan_out(self, tasks: list[tuple], seeds: Sequence[int] | None) -> list[Any]:
        if seeds is None:
            seeds = [self.seed + k for k in range(len(tasks))]
        seeds = [int(s) for s in seeds]
        if len(seeds) != len(tasks):
            raise ConfigError(f"got {len(seeds)} seeds for {len(tasks)} trials.")
        if self.comm is None or self.size == 1:  # the calls were applied to self.env directly
            return [_trial(self.env, task, s) for task, s in zip(tasks, seeds, strict=True)]
        from livn.errors import require

        MPI = require("mpi4py.MPI", "mpi")
        results: list[Any] = [None] * len(tasks)
        pending = list(range(len(tasks)))[::-1]

        def give(w: int) -> None:
            if pending:
                k = pending.pop()
                self.comm.send((k, self._ops, tasks[k], seeds[k]), dest=w, tag=_TAG_TASK)
                self._inflight += 1

        for w in self._workers:
            give(w)
        status = MPI.Status()
        errors = []
        while self._inflight:
            k, ok, value = mpi.recv(self.comm, MPI.ANY_SOURCE, _TAG_RESULT, status)
            self._inflight -= 1
            if ok:
                results[k] = value
            else:
                errors.append(f"trial {k}: {value}")
            give(status.Get_source())
        if errors:
            raise RuntimeError("trials failed on MPI workers:\n  " + "\n  ".join(errors))
        return results

    def _serve(self) -> None:
        from livn.errors import require

        MPI = require("mpi4py.MPI", "mpi")
        status = MPI.Status()
        applied: list = []
        while True:
            msg = mpi.recv(self.comm, 0, MPI.ANY_TAG, status)
            if status.Get_tag() == _TAG_STOP:
                return
            k, ops, task, seed = msg
            try:
                if ops != applied:
                    replay(self.env, ops)
                    applied = ops
                self.comm.send((k, True, _trial(self.env, task, seed)), dest=0, tag=_TAG_RESULT)
            except Exception as e:
                self.comm.send((k, False, f"{type(e).__name__}: {e}"), dest=0, tag=_TAG_RESULT)

    def close(self) -> None:
        """Release the workers (controller) and the Env.

        Results of trials still out on workers (a fan-out the caller interrupted) are
        received and dropped first.
        """
        if self.is_root and not self._closed and self.comm is not None and self.size > 1:
            from livn.errors import require

            MPI = require("mpi4py.MPI", "mpi")
            status = MPI.Status()
            while self._inflight:
                mpi.recv(self.comm, MPI.ANY_SOURCE, _TAG_RESULT, status)
                self._inflight -= 1
            for w in self._workers:
                self.comm.send(None, dest=w, tag=_TAG_STOP)
            mpi.barrier(self.comm)
        self._closed = True
        _OPEN.discard(self)
        self.env.close()


#: Controllers' DistributedEnvs not yet closed (released at exit, see :func:`_close_at_exit`).
_OPEN: weakref.WeakSet[DistributedEnv] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Release the workers of a controller script that ended without ``close()``.

    Not after an uncaught exception: :func:`livn.mpi.install_excepthook` has handled that
    (Ctrl+C reached every rank; anything else ended the job).
    """
    if getattr(sys, "last_value", None) is not None:
        return
    for env in list(_OPEN):
        if not env._closed:
            env.close()


def replay(env: Any, ops: list[tuple[str, tuple, dict]]) -> None:
    """Apply recorded configuration calls to ``env``, starting from a freshly built state."""
    env.init()
    for name, args, kwargs in ops:
        getattr(env, name)(*args, **kwargs)


def _trial(env: Any, task: tuple, seed: int) -> Any:
    kind, a, b, c = task
    env.clear(seed=seed)
    if kind == "run":
        return tuple(env.run(a, b))
    return env(a, inputs=b, encoding=c)

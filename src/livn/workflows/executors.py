"""Executors: run independent units of work (samples, sweep stimuli) serially, in local worker
processes, or across MPI ranks — with the same results whichever runs them.

A *unit* is ``(index, uid, payload)``: an int, a unique string id and a JSON-serialisable dict.
A *worker* is a ``"package.module:function"`` path called as ``function(context, unit)`` in a
worker process; it writes the unit's output itself (atomically) and raises on failure. The
``context`` (JSON-serialisable) is sent once per worker process, which may cache expensive
state keyed by it (a compiled Env). Units are independent, so the order in which workers
finish them never changes their outputs.

* ``serial``: in this process, one unit after another.
* ``local`` (default): ``processes`` worker processes on this machine (default: all cores),
  started as ``python -m livn.workflows.executors`` (no ``fork``: JAX is not fork-safe, and no
  re-import of the user's script). A unit that raises is recorded as failed; a worker process
  that dies (killed, out of memory) fails its unit and is replaced; the rest completes.
  Stopping is clean: workers ignore Ctrl+C (SIGINT reaches the whole process group; the
  controller's ``KeyboardInterrupt`` kills them), SIGTERM to the controller raises
  :class:`Terminated` there (same clean-up), and on Linux a worker is sent SIGTERM when its
  controller dies, even by SIGKILL. A killed worker leaves at most a hidden temporary file.
* ``mpi``: under ``mpiexec -n N``: rank 0 is the controller and hands units to
  ``(N - 1) // nprocs_per_worker`` workers (the first rank of each group of
  ``nprocs_per_worker``; the JAX backend runs one simulation on one rank, so the other ranks of
  a group stay idle). Every rank calls :func:`run_units`; only rank 0 gets the report. Waiting
  ranks sleep between polls (:func:`livn.mpi.recv`); a rank that fails outside a unit ends
  the job (see :func:`livn.mpi.fail`).

* ``batched``: in this process, ``batch_size`` units at a time through one vectorised run
  (:meth:`livn.env.Env.run_batch`; on a GPU the trials of a batch run in parallel). Only jobs
  that provide a batch worker (:class:`BatchWorker`: sampling, sweeps) offer it. Units whose
  runs cannot share a program (another stimulus shape or step) go to separate batches; each
  unit is still written on its own, atomically, with the same content as the other executors
  write, so a job resumes whichever executor ran it. Outputs are written by background threads
  while the next batch runs.

``auto`` picks ``mpi`` when the process was started by ``mpiexec`` with more than one rank,
else ``local``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from livn import mpi
from livn.errors import ConfigError, did_you_mean

__all__ = ["BATCHED_EXECUTORS", "EXECUTORS", "BatchWorker", "Report", "Terminated", "Unit",
           "find_mpiexec", "mpi_world_size", "resolve_executor", "run_units",
           "sigterm_raises"]  # fmt: skip

#: Executor names accepted by :func:`run_units` for every job.
EXECUTORS: tuple[str, ...] = ("auto", "local", "serial", "mpi")
#: Executor names of the jobs that have a batch worker (sampling, sweeps).
BATCHED_EXECUTORS: tuple[str, ...] = (*EXECUTORS, "batched")

#: ``(index, uid, payload)``.
Unit = tuple[int, str, dict]

#: ``progress(done, total, uid, status)`` with status ``"ok"`` or ``"failed"``; ``start(uid)``.
Progress = Callable[[int, int, str, str], None]


@dataclass
class Report:
    """Outcome of :func:`run_units` (on the controller).

    Attributes:
        completed: uids that finished, in completion order.
        failed: uid → error message for each unit that raised or whose worker died.
        controller: False on MPI worker ranks (which did the work but hold no report).
    """

    completed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    controller: bool = True

    @property
    def ok(self) -> bool:
        return not self.failed


def mpi_world_size() -> int:
    """Number of ranks this process was started with by ``mpiexec`` (1 when not under MPI)."""
    return mpi.world_size()


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM (see :func:`sigterm_raises`).

    A ``KeyboardInterrupt``, so that the clean-up written for Ctrl+C runs for SIGTERM too and
    ``except Exception`` does not swallow it.

    Attributes:
        signum: The signal received (``signal.SIGTERM``).
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"received signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (once; later ones
    are ignored while the clean-up runs).

    Does nothing outside the main thread, or when SIGTERM already has a handler of its own.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def find_mpiexec() -> str | None:
    """``mpiexec`` beside this Python (the ``mpich`` wheel installs it there), else on PATH."""
    import shutil
    from pathlib import Path

    local = Path(sys.executable).parent / "mpiexec"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("mpiexec")


def resolve_executor(name: str, choices: Sequence[str] = EXECUTORS) -> str:
    """Validate an executor name against ``choices`` and resolve ``auto``."""
    if not isinstance(name, str) or name not in choices:
        raise ConfigError(
            f"unknown executor {name!r}. Valid: {', '.join(choices)}."
            f"{did_you_mean(str(name), choices)}"
        )
    if name == "auto":
        return "mpi" if mpi_world_size() > 1 else "local"
    if name == "batched" and mpi_world_size() > 1:
        raise ConfigError(
            f"executor 'batched' runs in one process, but this one was started by mpiexec with "
            f"{mpi_world_size()} ranks (each would run the whole job). Use executor=mpi under "
            "mpiexec, or start without mpiexec."
        )
    return name


def _load(worker: str) -> Callable[[dict, Unit], Any]:
    module, _, attr = worker.partition(":")
    if not module or not attr:
        raise ConfigError(f"worker must be 'package.module:function'; got {worker!r}.")
    return getattr(importlib.import_module(module), attr)


def _error_text(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({tb[-1].filename}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def run_units(
    units: Sequence[Unit],
    worker: str,
    context: Mapping[str, Any],
    executor: str = "auto",
    processes: int | None = None,
    nprocs_per_worker: int = 1,
    progress: Progress | None = None,
    start: Callable[[str], None] | None = None,
    batch_worker: str | None = None,
    batch_size: int | str = "auto",
) -> Report:
    """Run every unit with ``worker`` on the chosen executor (see the module docstring).

    Args:
        units: The units to run (each uid unique).
        worker: ``"package.module:function"``, called as ``function(context, unit)``.
        context: JSON-serialisable dict given to every call.
        executor: ``auto``, ``local``, ``serial``, ``mpi``, or ``batched`` (with
            ``batch_worker``).
        processes: Worker processes for ``local`` (default: the number of cores available).
        nprocs_per_worker: MPI ranks per worker (``mpi`` only).
        progress: Called on the controller as each unit finishes.
        start: Called on the controller when a unit is handed to a worker.
        batch_worker: ``"package.module:name"`` of a :class:`BatchWorker` (``batched`` only).
        batch_size: Units per batch (``batched`` only): an integer >= 1, or ``"auto"`` (the
            batch worker picks by memory and device).

    Returns:
        The :class:`Report`.
    """
    kind = resolve_executor(executor, BATCHED_EXECUTORS if batch_worker else EXECUTORS)
    uids = [u[1] for u in units]
    if len(set(uids)) != len(uids):
        raise ConfigError("unit ids must be unique.")
    context = json.loads(json.dumps(context))  # JSON-serialisable, and identical for every kind
    if kind == "serial":
        return _run_serial(units, worker, context, progress, start)
    if kind == "batched":
        from livn import limits

        size = limits.batch_size(batch_size)
        return _run_batched(units, _load(str(batch_worker)), context, size, progress, start)
    if kind == "local":
        n = processes if processes is not None else len(os.sched_getaffinity(0))
        if int(n) < 1:
            raise ConfigError(f"processes must be >= 1; got {processes!r}.")
        return _run_local(units, worker, context, int(n), progress, start)
    return _run_mpi(units, worker, context, int(nprocs_per_worker), progress, start)


def _run_serial(units, worker, context, progress, start) -> Report:
    fn = _load(worker)
    report = Report()
    for i, unit in enumerate(units):
        uid = unit[1]
        if start:
            start(uid)
        try:
            fn(context, unit)
            report.completed.append(uid)
            status = "ok"
        except Exception as e:
            report.failed[uid] = _error_text(e)
            status = "failed"
        if progress:
            progress(i + 1, len(units), uid, status)
    return report


# ---------------------------------------------------------------------------- batched
class BatchWorker(Protocol):
    """What the ``batched`` executor needs of a job (``"package.module:name"`` names one).

    The three calls run in the executor's process; ``finish`` callables run on its writer
    threads (several at once) while the next batch runs.
    """

    def batch_size(self, context: dict, requested: int | str, pending: int) -> int:
        """The units per batch for ``requested`` (an int >= 1 or ``"auto"``) and ``pending``
        units; raises :class:`~livn.errors.SizeLimitError` when ``requested`` does not fit
        in memory (naming the estimate, the memory available and the largest batch that
        fits)."""
        ...

    def prepare(self, context: dict, unit: Unit) -> tuple[Hashable, Any]:
        """``(signature, prepared)`` of one unit: units of equal signature can share a batch."""
        ...

    def run(self, context: dict, batch: list[Any], size: int) -> list[Callable[[], None]]:
        """Run prepared units together; one ``finish()`` per unit that decodes and writes its
        output (atomically) and raises on failure. ``size`` is the job's batch size: a worker
        may pad a smaller (last) batch to it, to reuse the program compiled for it."""
        ...


def _run_batched(units, worker: BatchWorker, context, batch_size, progress, start) -> Report:
    """Units grouped by signature, ``batch_size`` at a time, in order of their first unit; a
    group runs once it is full, the partial ones at the end."""
    from concurrent.futures import ThreadPoolExecutor

    report = Report()
    total = len(units)
    done = 0
    if not total:
        return report
    size = int(worker.batch_size(context, batch_size, total))
    groups: dict[Hashable, list[tuple[str, Any]]] = {}
    writing: list[tuple[str, Any]] = []  # (uid, future) of the previous batch's outputs

    def finished(uid: str, error: BaseException | None) -> None:
        nonlocal done
        if error is None:
            report.completed.append(uid)
        else:
            report.failed[uid] = _error_text(error)
        done += 1
        if progress:
            progress(done, total, uid, "ok" if error is None else "failed")

    def collect() -> None:
        while writing:
            uid, future = writing.pop(0)
            finished(uid, future.exception())

    def run(key: Hashable) -> None:
        batch = groups.pop(key)
        for uid, _ in batch:
            if start:
                start(uid)
        try:
            finishers = worker.run(context, [p for _, p in batch], size)
            if len(finishers) != len(batch):
                raise RuntimeError(f"the batch worker returned {len(finishers)} results for "
                                   f"{len(batch)} units")  # fmt: skip
        except Exception as e:  # the whole batch failed (e.g. out of memory)
            collect()
            for uid, _ in batch:
                finished(uid, e)
            return
        collect()  # at most one batch of outputs waits for the writer
        writing.extend(
            (uid, pool.submit(fn)) for (uid, _), fn in zip(batch, finishers, strict=True)
        )

    from livn.limits import cores

    # writing is file I/O, zip checksums and copies that mostly release the GIL: several
    # writers keep up with a GPU that finishes hundreds of 40 MB samples at once
    with ThreadPoolExecutor(min(4, cores()), thread_name_prefix="livn-writer") as pool:
        try:
            for unit in units:
                try:
                    key, prepared = worker.prepare(context, unit)
                except Exception as e:
                    if start:
                        start(unit[1])
                    finished(unit[1], e)
                    continue
                group = groups.setdefault(key, [])
                group.append((unit[1], prepared))
                if len(group) >= size:
                    run(key)
            for key in list(groups):
                run(key)
            collect()
        finally:  # an interruption: outputs being written are finished, none is started
            for _, future in writing:
                future.cancel()
    return report


# ---------------------------------------------------------------------------- local processes
def worker_cpus(processes: int) -> list[int | None]:
    """The CPU each of ``processes`` local workers is pinned to (``None``: not pinned).

    With no more workers than the CPUs this process may use, each worker gets its own CPU:
    unpinned, two single-threaded simulations on two cores were measured 1.7× slower than
    pinned ones (XLA's threads of one worker land on the other's core). More workers than
    CPUs, one CPU, or ``LIVN_PIN_WORKERS=0``: the operating system places them.
    """
    if os.environ.get("LIVN_PIN_WORKERS", "1").strip().lower() in ("0", "false", "off", "no"):
        return [None] * processes
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return [None] * processes
    if len(cpus) < 2 or processes > len(cpus):
        return [None] * processes
    return cpus[:processes]


def pin_mpi_rank(comm: Any, MPI: Any) -> int | None:
    """Pin a simulating rank (every rank but the controller, rank 0) to a core of its node.

    The simulating ranks of a node take its usable CPUs in world-rank order, as local workers
    do (:func:`worker_cpus`: only with no more of them than CPUs, and not with
    ``LIVN_PIN_WORKERS=0``); the controller mostly sleeps and stays unpinned. Returns the CPU,
    or ``None``. Collective over ``comm``.
    """
    rank = comm.Get_rank()
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        simulating = [r for r in node.allgather(rank) if r != 0]
    finally:
        node.Free()
    if rank == 0:
        return None
    cpu = worker_cpus(len(simulating))[simulating.index(rank)]
    if cpu is not None:
        try:
            os.sched_setaffinity(0, {int(cpu)})
        except OSError:  # a CPU set the launcher narrowed: leave the placement to it
            return None
    return cpu


class _Proc:
    """One worker process speaking JSON lines: unit in on stdin, result out on its own pipe."""

    def __init__(self, worker: str, context: dict, cpu: int | None = None) -> None:
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        self.cpu = cpu
        if cpu is not None:
            env["LIVN_WORKER_CPU"] = str(cpu)
        else:
            env.pop("LIVN_WORKER_CPU", None)
        env["LIVN_EXECUTOR_FD"] = str(write_fd)
        env["LIVN_EXECUTOR_PARENT"] = str(os.getpid())
        # The worker starts with SIGINT blocked (the mask survives exec) and ignores it before
        # unblocking: a Ctrl+C during its start-up cannot print a traceback. Ours is restored
        # (a Ctrl+C meanwhile is delivered then, not lost).
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            try:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "livn.workflows.executors"],
                    stdin=subprocess.PIPE,
                    pass_fds=(write_fd,),
                    env=env,
                    text=True,
                )
            finally:
                os.close(write_fd)
        except BaseException:
            os.close(read_fd)
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
            raise
        self.out = os.fdopen(read_fd, "r")
        self.unit: Unit | None = None
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a Ctrl+C meanwhile is raised here
            self.send({"worker": worker, "context": context})
        except BaseException:  # no worker outlives an interrupted start
            self.kill()
            raise

    def send(self, message: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        """Let the worker finish (stdin EOF) and reap it; kill it if it does not within 30 s."""
        try:
            if self.proc.poll() is None and self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self.out.close()

    def kill(self) -> None:
        """Stop the worker now (its unit, if any, is abandoned) and reap it."""
        try:
            self.proc.kill()
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        finally:
            self.proc.wait()
            self.out.close()


def _run_local(units, worker, context, processes, progress, start) -> Report:
    report = Report()
    pending = list(units)[::-1]
    total = len(pending)
    done = 0
    sel = selectors.DefaultSelector()
    procs: list[_Proc] = []

    def assign(p: _Proc) -> None:
        unit = pending.pop()
        p.unit = unit
        if start:
            start(unit[1])
        p.send({"unit": list(unit)})

    def spawn(cpu: int | None) -> None:
        p = _Proc(worker, context, cpu)
        procs.append(p)
        sel.register(p.out, selectors.EVENT_READ, p)
        assign(p)

    with sigterm_raises():
        try:
            for cpu in worker_cpus(min(processes, total)):
                spawn(cpu)
            while procs:
                for key, _ in sel.select():
                    p: _Proc = key.data
                    line = p.out.readline()
                    unit = p.unit
                    assert unit is not None
                    if line:
                        msg = json.loads(line)
                        status = msg["status"]
                        if status == "ok":
                            report.completed.append(unit[1])
                        else:
                            report.failed[unit[1]] = msg["error"]
                        alive = True
                    else:  # EOF: the worker died
                        code = p.proc.wait()
                        report.failed[unit[1]] = f"worker process died (exit code {code})"
                        status, alive = "failed", False
                    done += 1
                    if progress:
                        progress(done, total, unit[1], status)
                    p.unit = None
                    if alive and pending:
                        assign(p)
                        continue
                    sel.unregister(p.out)
                    p.close()
                    procs.remove(p)
                    if not alive and pending:
                        spawn(p.cpu)  # the replacement takes the dead worker's CPU
        finally:  # done, or an exception (Ctrl+C, SIGTERM): no worker outlives the controller
            for p in procs:
                p.kill()
            sel.close()
    return report


def _die_with_parent() -> None:
    """Have the kernel send this worker SIGTERM when its controller dies (Linux only)."""
    parent = int(os.environ.get("LIVN_EXECUTOR_PARENT", "0"))
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
            return
    if parent and os.getppid() != parent:  # the controller died before we asked
        os._exit(1)


def _worker_main() -> int:
    """Entry point of a local worker process (``python -m livn.workflows.executors``)."""
    # Ctrl+C reaches the whole process group; the controller decides (and kills us).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _die_with_parent()
    cpu = os.environ.get("LIVN_WORKER_CPU")
    if cpu is not None:  # see worker_cpus
        try:
            os.sched_setaffinity(0, {int(cpu)})
        except (AttributeError, OSError, ValueError):
            pass
    out = os.fdopen(int(os.environ["LIVN_EXECUTOR_FD"]), "w")
    first = sys.stdin.readline()
    if not first:  # the controller stopped before sending anything
        return 0
    hello = json.loads(first)
    fn = _load(hello["worker"])
    context = hello["context"]
    for line in sys.stdin:
        index, uid, payload = json.loads(line)["unit"]
        try:
            fn(context, (index, uid, payload))
            msg = {"status": "ok"}
        except Exception as e:
            msg = {"status": "failed", "error": _error_text(e)}
        out.write(json.dumps(msg) + "\n")
        out.flush()
    return 0


# ---------------------------------------------------------------------------- MPI
_TAG_WORK, _TAG_DONE, _TAG_STOP = 1, 2, 3


def _run_mpi(units, worker, context, nprocs_per_worker, progress, start) -> Report:
    from livn.errors import require

    MPI = require("mpi4py.MPI", "mpi")
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    if nprocs_per_worker < 1:  # every rank raises the same error, and none waits
        raise mpi.on_every_rank(
            ConfigError(f"nprocs_per_worker must be >= 1; got {nprocs_per_worker}.")
        )
    n_workers = (size - 1) // nprocs_per_worker
    if n_workers < 1:
        raise mpi.on_every_rank(
            ConfigError(
                f"the MPI executor needs at least 1 + nprocs_per_worker = {1 + nprocs_per_worker} "
                f"ranks (one controller, then {nprocs_per_worker} per worker); got {size}. Start "
                f"with `mpiexec -n {1 + nprocs_per_worker} ...` or more, or lower nprocs_per_worker."
            )
        )
    leaders = [1 + k * nprocs_per_worker for k in range(n_workers)]
    mpi.install_excepthook()  # a rank that dies outside a unit ends the job (see livn.mpi)
    pin_mpi_rank(comm, MPI)
    if rank == 0:
        report = _mpi_controller(comm, MPI, units, leaders, progress, start)
    elif rank in leaders:
        fn = _load(worker)
        status = MPI.Status()
        while True:
            unit = mpi.recv(comm, 0, MPI.ANY_TAG, status)
            if status.Get_tag() == _TAG_STOP:
                break
            try:
                fn(context, tuple(unit))
                msg = {"status": "ok"}
            except Exception as e:
                msg = {"status": "failed", "error": _error_text(e)}
            comm.send(msg, dest=0, tag=_TAG_DONE)
        report = Report(controller=False)
    else:
        report = Report(controller=False)
    mpi.barrier(comm)
    return report


def _mpi_controller(comm, MPI, units, leaders, progress, start) -> Report:
    report = Report()
    pending = list(units)[::-1]
    total = len(pending)
    busy: dict[int, Unit] = {}

    def give(w: int) -> None:
        """Hand the next pending unit (if any) to worker rank ``w``."""
        if pending:
            unit = pending.pop()
            busy[w] = unit
            if start:
                start(unit[1])
            comm.send(list(unit), dest=w, tag=_TAG_WORK)

    for w in leaders:
        give(w)
    done = 0
    status = MPI.Status()
    while busy:
        msg = mpi.recv(comm, MPI.ANY_SOURCE, _TAG_DONE, status)
        w = status.Get_source()
        unit = busy.pop(w)
        if msg["status"] == "ok":
            report.completed.append(unit[1])
        else:
            report.failed[unit[1]] = msg["error"]
        done += 1
        if progress:
            progress(done, total, unit[1], msg["status"])
        give(w)
    for w in leaders:
        comm.send(None, dest=w, tag=_TAG_STOP)
    return report


if __name__ == "__main__":  # a local worker process
    sys.stdout = sys.stderr  # keep stray prints off the protocol pipe
    sys.exit(_worker_main())

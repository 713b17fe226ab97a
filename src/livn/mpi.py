"""MPI helpers shared by the executors, sampling, sweeps and :class:`~livn.distributed.DistributedEnv`.

``import livn.mpi`` does not import mpi4py; the first call that needs it does (through
:func:`livn.errors.require`, which names the ``mpi`` extra when it is missing), and importing
mpi4py starts MPI.

* :func:`comm`, :func:`rank`, :func:`size`: ``MPI.COMM_WORLD`` and its rank and size.
* :func:`world_size`, :func:`world_rank`: the same numbers read from the launcher's environment
  (``mpiexec`` sets them) without starting MPI; :func:`initialized` says whether MPI runs.
* :func:`recv`, :func:`barrier`: waits that sleep between polls. MPICH's blocking receive spins
  a whole core; a controller or an idle rank that sleeps leaves the cores to the simulations.
* :func:`root_then_bcast`: rank 0 runs a function; every rank returns its result or raises its
  exception. :func:`collective`: every rank runs a function; if any rank raised, every rank
  raises. Either way no rank is left waiting for one that failed.
* :func:`fail`: how a process under MPI ends on an exception: the message is printed once per
  job, and a failure that other ranks may be waiting on ends the whole job
  (``MPI_Abort``). :func:`install_excepthook` applies it to uncaught exceptions of a script;
  livn's collectives, its MPI executor and :class:`~livn.distributed.DistributedEnv` install
  it, so a script that uses them under ``mpiexec`` does not hang when one rank fails.

An exception that every rank raises (from :func:`root_then_bcast` or :func:`collective`) is
marked (:func:`raised_on_every_rank`): rank 0 reports it and every rank simply exits.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

__all__ = ["POLL_S", "abort", "barrier", "collective", "comm", "fail", "initialized",
           "install_excepthook", "on_every_rank", "raised_on_every_rank", "rank", "recv",
           "root_then_bcast", "size", "world_rank", "world_size"]  # fmt: skip

T = TypeVar("T")

#: Seconds between polls of a waiting rank (see the module docstring).
POLL_S = 0.002

_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_SIZE")
_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
_MARK = "_livn_every_rank"


def _mpi() -> Any:
    from livn.errors import require

    return require("mpi4py.MPI", "mpi")


def comm() -> Any:
    """``MPI.COMM_WORLD`` (starts MPI on first use)."""
    return _world()


def _world() -> Any:
    return _mpi().COMM_WORLD


def rank() -> int:
    """This process's rank in ``MPI.COMM_WORLD`` (starts MPI on first use)."""
    return comm().Get_rank()


def size() -> int:
    """The number of ranks in ``MPI.COMM_WORLD`` (starts MPI on first use)."""
    return comm().Get_size()


def _env_int(names: tuple[str, ...], default: int) -> int:
    for var in names:
        value = os.environ.get(var)
        if value and value.isdigit():
            return int(value)
    return default


def world_size() -> int:
    """Number of ranks this process was started with by ``mpiexec`` (1 when not under MPI).

    Read from the launcher's environment; does not start MPI.
    """
    return _env_int(_SIZE_VARS, 1)


def world_rank() -> int:
    """This process's rank as ``mpiexec`` numbered it (0 when not under MPI); does not start MPI."""
    if initialized():
        return rank()
    return _env_int(_RANK_VARS, 0)


def initialized() -> bool:
    """True when mpi4py has started MPI in this process and it has not been finalized."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None:
        return False
    try:
        return bool(mpi.Is_initialized()) and not mpi.Is_finalized()
    except Exception:  # pragma: no cover - a broken MPI installation
        return False


# ---------------------------------------------------------------------------- sleeping waits
def recv(comm: Any, source: int, tag: int, status: Any) -> Any:
    """``comm.recv(source=source, tag=tag, status=status)`` that sleeps between probes.

    Args:
        comm: The communicator.
        source: Rank to receive from (or ``MPI.ANY_SOURCE``).
        tag: Tag to receive (or ``MPI.ANY_TAG``).
        status: An ``MPI.Status`` that receives the message's source and tag.

    Returns:
        The received object.
    """
    while not comm.Iprobe(source=source, tag=tag, status=status):
        time.sleep(POLL_S)
    return comm.recv(source=status.Get_source(), tag=status.Get_tag(), status=status)


def barrier(comm: Any, timeout: float | None = None) -> bool:
    """``comm.Barrier()`` that sleeps between tests instead of spinning a core.

    Args:
        comm: The communicator.
        timeout: Give up after this many seconds (default: wait as long as it takes).

    Returns:
        True when every rank arrived, False when ``timeout`` passed first.
    """
    request = comm.Ibarrier()
    deadline = None if timeout is None else time.monotonic() + timeout
    while not request.Test():
        if deadline is not None and time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


# ---------------------------------------------------------------------------- collectives
def on_every_rank(exc: BaseException) -> BaseException:
    """Mark ``exc`` as raised identically on every rank (see :func:`raised_on_every_rank`)."""
    try:
        setattr(exc, _MARK, True)
    except AttributeError:  # pragma: no cover - exceptions with __slots__
        pass
    return exc


def raised_on_every_rank(exc: BaseException) -> bool:
    """True for an exception that every rank of the job raised (so none is left waiting)."""
    return bool(getattr(exc, _MARK, False))


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a RuntimeError with its type and message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def root_then_bcast(fn: Callable[[], T], comm: Any | None = None) -> T:
    """Rank 0 runs ``fn()``; every rank returns its result, or raises the exception it raised.

    The other ranks sleep (:func:`barrier`) while rank 0 works. The raised exception is marked
    :func:`raised_on_every_rank`; on rank 0 it is the original (with its traceback), on the
    others a copy (a ``RuntimeError`` naming it when it cannot be pickled). With one rank this
    is just ``fn()``.

    Args:
        fn: The work of rank 0; its result must be picklable.
        comm: The communicator (default ``MPI.COMM_WORLD``).

    Returns:
        ``fn()``'s result, on every rank.
    """
    c = comm if comm is not None else _world()
    if c.Get_size() == 1:
        return fn()
    install_excepthook()
    error: BaseException | None = None
    data = result = None
    root = c.Get_rank() == 0
    if root:
        try:
            result = fn()
            try:
                data = pickle.dumps((True, result))
            except Exception as e:
                error = TypeError(f"the result of {fn!r} cannot be sent to the other ranks: {e}")
        except Exception as e:
            error = e
        if error is not None:
            data = pickle.dumps((False, _portable(error)))
    barrier(c)
    ok, value = pickle.loads(c.bcast(data, root=0))
    if ok:
        return result if root else value  # rank 0 keeps its own object
    if error is not None:
        raise on_every_rank(error)
    raise on_every_rank(value)


def collective(fn: Callable[[], T], comm: Any | None = None) -> T:
    """Every rank runs ``fn()``; if any rank raised, every rank raises.

    A rank that raised raises its own exception; the others raise (a copy of) the exception of
    the lowest rank that raised, so rank 0 always holds a meaningful one. The exception is
    marked :func:`raised_on_every_rank`.

    Args:
        fn: The work of every rank.
        comm: The communicator (default ``MPI.COMM_WORLD``).

    Returns:
        This rank's ``fn()`` result.
    """
    c = comm if comm is not None else _world()
    if c.Get_size() == 1:
        return fn()
    install_excepthook()
    error: BaseException | None = None
    result: Any = None
    try:
        result = fn()
    except Exception as e:
        error = e
    barrier(c)
    errors = c.allgather(None if error is None else _portable(error))
    first = next((e for e in errors if e is not None), None)
    if error is not None:
        raise on_every_rank(error)
    if first is not None:
        raise on_every_rank(first)
    return result


# ---------------------------------------------------------------------------- ending a job
#: Seconds between printing a rank's error and ``MPI_Abort`` (see :func:`abort`).
ABORT_GRACE_S = 0.5


def abort(code: int = 1) -> NoReturn:
    """End every rank of the job now (``MPI.COMM_WORLD.Abort(code)``); flushes output first."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # pragma: no cover - a closed stream
            pass
    # MPI_Abort tears the job down at once; mpiexec forwards a rank's output through its proxy
    # process, which may be killed before it has passed the message on (seen under load: the
    # job ended with status 1 and no message). A short pause lets the message through.
    time.sleep(ABORT_GRACE_S)
    _world().Abort(code)
    os._exit(code)  # pragma: no cover - Abort does not return


def fail(exc: BaseException, message: str, code: int) -> int:
    """Report ``exc`` (whose text is ``message``) as the end of this process; once per MPI job.

    Not under MPI, ``message`` is printed and ``code`` returned. Under MPI:

    * an exception raised on every rank (:func:`raised_on_every_rank`), or one raised before
      MPI started (every rank parses the same arguments and raises the same error), is printed
      by rank 0 only, and ``code`` is returned: every rank exits by itself;
    * any other exception may leave other ranks waiting for this one: it is printed (naming
      the rank) and the whole job is ended with ``MPI_Abort(code)``; this does not return.

    Args:
        exc: The exception.
        message: Its text as the user should see it (one line, or a traceback).
        code: The exit status.

    Returns:
        ``code``, when the process may exit normally.
    """
    if world_size() <= 1:
        print(message, file=sys.stderr, flush=True)
        return code
    r = world_rank()
    if raised_on_every_rank(exc) or not initialized():
        if r == 0:
            print(message, file=sys.stderr, flush=True)
        return code
    where = f"livn: on MPI rank {r} of {world_size()}; ending the job.\n" if r else ""
    print(f"{where}{message}", file=sys.stderr, flush=True)
    abort(code)


_hook_installed = False


def install_excepthook() -> None:
    """Route this script's uncaught exceptions through :func:`fail` while it runs under MPI.

    Ctrl+C (``KeyboardInterrupt``, which ``mpiexec`` delivers to every rank) prints one line on
    rank 0; an exception raised on every rank is printed by rank 0 only; any other uncaught
    exception prints its traceback and ends the whole job, so no rank waits forever for a rank
    that died. Installed once per process; a no-op when not under MPI.
    """
    global _hook_installed
    if _hook_installed or world_size() <= 1:
        return
    previous = sys.excepthook

    def hook(tp: type[BaseException], value: BaseException, tb: Any) -> None:
        if world_size() <= 1:
            previous(tp, value, tb)
            return
        if isinstance(value, KeyboardInterrupt):
            if world_rank() == 0:
                print("livn: interrupted.", file=sys.stderr, flush=True)
            return
        text = "".join(traceback.format_exception(tp, value, tb)).rstrip("\n")
        fail(value, text, 1)

    sys.excepthook = hook
    _hook_installed = True

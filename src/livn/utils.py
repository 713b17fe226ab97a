"""Compatibility with livn 2.0.0: its ``livn.utils`` helpers (docs/migrating.md).

Each helper calls livn's own code where it exists:

* :class:`P`: MPI-optional collectives (``gather``, ``broadcast``, ``merge``, ``reduce_sum``,
  ``is_root``). Under MPI they use the communicator (default ``MPI.COMM_WORLD``, from
  :mod:`livn.mpi`); in a plain process they act as the only rank, without importing mpi4py.
* :func:`merge`: results of several ranks as one (runs: :meth:`livn.result.RunResult.merge`;
  dicts: key by key).
* :func:`import_instance`: an object from a dotted class path or ``{"cls", "kwargs"}``
  (classes found by :func:`livn.workflows.sample.resolve_class`).
* :func:`load_file`: a JSON or YAML file (YAML with livn's safe, bounded reader).
* :data:`Jsonable`: the type of JSON values.

Not provided: 2.0.0's ``lnp`` (an array namespace switching between NumPy and JAX): results
here are NumPy, and JAX appears only inside the ``jax`` backend and ``unroll="mask"`` runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

from livn import mpi
from livn.errors import ConfigError

__all__ = ["Jsonable", "P", "import_instance", "load_file", "merge"]

#: A JSON value: what ``json.dumps`` writes and :func:`load_file` returns.
Jsonable: TypeAlias = "bool | int | float | str | list[Jsonable] | dict[str, Jsonable] | None"


class P:
    """MPI-optional collectives (livn 2.0.0's ``P``). Every method takes ``comm`` (an mpi4py
    communicator; default ``MPI.COMM_WORLD`` when this process runs under MPI, else none:
    a single rank) and, where it matters, ``root`` (rank 0 by default)."""

    @staticmethod
    def comm(comm: Any = None) -> Any:
        """``comm``, else ``MPI.COMM_WORLD`` under MPI (:mod:`livn.mpi`), else None."""
        if comm is not None:
            return comm
        if mpi.initialized() or mpi.world_size() > 1:
            return mpi.comm()
        return None

    @staticmethod
    def rank(comm: Any = None) -> int:
        """This process's rank (0 without MPI)."""
        c = P.comm(comm)
        return 0 if c is None else int(c.Get_rank())

    @staticmethod
    def size(comm: Any = None) -> int:
        """The number of ranks (1 without MPI)."""
        c = P.comm(comm)
        return 1 if c is None else int(c.Get_size())

    @staticmethod
    def is_root(comm: Any = None, root: int = 0) -> bool:
        """Whether this process is ``root`` (True without MPI)."""
        return P.rank(comm) == root

    @staticmethod
    def gather(value: Any, comm: Any = None, root: int = 0) -> list[Any] | None:
        """Every rank's ``value`` in rank order, on ``root``; None on the other ranks.
        Without MPI: ``[value]``."""
        c = P.comm(comm)
        return [value] if c is None else c.gather(value, root=root)

    @staticmethod
    def broadcast(value: Any, comm: Any = None, root: int = 0) -> Any:
        """``root``'s ``value`` on every rank. Without MPI: ``value``."""
        c = P.comm(comm)
        return value if c is None else c.bcast(value, root=root)

    @staticmethod
    def reduce_sum(value: Any, comm: Any = None) -> Any:
        """The sum of every rank's ``value`` (numbers or NumPy arrays), on every rank.
        Without MPI: ``value``."""
        c = P.comm(comm)
        return value if c is None else c.allreduce(value)

    @staticmethod
    def merge(value: Any, comm: Any = None, root: int = 0) -> Any:
        """:func:`merge` of every rank's ``value`` (runs or dicts), on ``root``; None on the
        other ranks. Without MPI: ``merge(value)``."""
        values = P.gather(value, comm=comm, root=root)
        return None if values is None else merge(*values)


def merge(*items: Any) -> Any:
    """Results of several parts (e.g. MPI ranks) as one.

    Args:
        items: :class:`~livn.result.RunResult` of the same window (joined by cell,
            :meth:`~livn.result.RunResult.merge`), or mappings (joined key by key; nested
            mappings are merged, otherwise a later item's value wins). ``None`` items (ranks
            with nothing) are skipped.

    Returns:
        The merged result; None if every item is None.

    Raises:
        ConfigError: Items of different kinds, or another kind.
    """
    from livn.result import RunResult

    parts = [x for x in items if x is not None]
    if not parts:
        return None
    if all(isinstance(x, RunResult) for x in parts):
        return parts[0].merge(*parts[1:])
    if all(isinstance(x, Mapping) for x in parts):
        out: dict[Any, Any] = {}
        for part in parts:
            for key, value in part.items():
                old = out.get(key)
                both = isinstance(old, Mapping) and isinstance(value, Mapping)
                out[key] = merge(old, value) if both else value
        return out
    kinds = sorted({type(x).__name__ for x in parts})
    raise ConfigError(
        f"merge joins Run results or mappings (all of one kind); got {', '.join(kinds)}."
    )


def import_instance(spec: Any, *args: Any, **kwargs: Any) -> Any:
    """An instance of the class ``spec`` names.

    Args:
        spec: A dotted path (``"livn.decoding.MeanFiringRate"``), a livn short name
            (``"RCSD"``, ``"NoInput"``, ``"MeanFiringRate"``…), a class, or 2.0.0's
            ``model.json`` form ``{"cls": path, "kwargs": {...}}``; an instance is returned
            as it is.
        args, kwargs: Constructor arguments (``kwargs`` override the spec's).

    Raises:
        ConfigError: The class cannot be imported, or refuses the arguments.
    """
    from livn.workflows.sample import MODELS, resolve_class

    given: dict[str, Any] = {}
    if isinstance(spec, Mapping):
        if set(spec) - {"cls", "kwargs"} or not isinstance(spec.get("kwargs", {}), Mapping):
            raise ConfigError(
                f"import_instance takes {{'cls': 'module.Class', 'kwargs': {{...}}}}; got "
                f"keys {', '.join(map(str, spec))}."
            )
        given, spec = dict(spec.get("kwargs", {})), spec.get("cls")
    if isinstance(spec, str):
        cls = resolve_class(spec, "model" if spec in MODELS else "class")
    elif isinstance(spec, type):
        cls = spec
    elif spec is None:
        raise ConfigError("import_instance needs a class path, e.g. 'livn.models.LIF'.")
    else:
        return spec
    try:
        return cls(*args, **{**given, **kwargs})
    except TypeError as e:
        raise ConfigError(f"cannot build {cls.__name__}: {e}.") from None


def load_file(path: str | os.PathLike) -> Jsonable:
    """The content of a JSON (``.json``) or YAML (``.yml``, ``.yaml``) file.

    YAML is read with livn's safe reader (:func:`livn.system.layered.loader.load_config`:
    no Python objects, ``1e3`` is a number, ``!include`` of sibling files, size bounds).

    Raises:
        ConfigError: A missing or unreadable file, invalid content, or another extension.
    """
    p = Path(os.path.expanduser(os.fspath(path)))
    suffix = p.suffix.lower()
    if suffix in (".yml", ".yaml"):
        from livn.system.layered.loader import load_config

        return load_config(p)[0]
    if suffix != ".json":
        raise ConfigError(f"load_file reads .json, .yml or .yaml files; got {str(p)!r}.")
    try:
        return json.loads(p.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot be read ({getattr(e, 'strerror', None) or e}).") from None
    except (json.JSONDecodeError, RecursionError) as e:
        raise ConfigError(f"{p}: not valid JSON ({e}).") from None

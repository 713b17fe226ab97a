"""Shards: one finished unit of work (a sample, a sweep stimulus) in one file.

A shard is an uncompressed NumPy ``.npz`` archive readable without livn and without pickle
(``numpy.load(path, allow_pickle=False)``): numeric arrays plus one entry ``meta``, a 0-d
unicode array holding a JSON object (format version, index, seed, ...). Shards are written
atomically (temporary file in the same directory, fsync, rename), so a shard that exists is
complete; a job killed at any point leaves only complete shards and temporary files
``.<shard name>.<random>.tmp`` that the next launch removes (:func:`clean_partial`).

Sample shards (``samples/sample_<index:06d>.npz``) hold:

* ``meta``: ``{"format": 1, "kind": "sample", "index", "seed", "t_end" (ms), "system", ...}``
* ``features``: ``[F]`` float32, the encoding's inputs (``[0]`` for spontaneous activity)
* the decoding's output: for :class:`livn.decoding.Raw` ``it`` ``[S]`` int64 gids, ``t``
  ``[S]`` float64 ms (relative to the sample's start), and when recorded ``iv`` ``[R]`` int64,
  ``v`` ``[R, T]`` float32 mV, ``im`` ``[M]`` int64, ``mp`` ``[M, T]`` float32 nA; another
  decoding's array output is stored as ``output``, a mapping's arrays under their keys.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from livn import _fs
from livn.errors import ConfigError

__all__ = [
    "FORMAT",
    "Pending",
    "clean_partial",
    "is_shard_name",
    "read_meta",
    "read_shard",
    "shard_indices",
    "shard_path",
    "write_shard",
]

#: Version of the shard layout.
FORMAT = 1


def shard_path(directory: str | os.PathLike, index: int, prefix: str = "sample") -> Path:
    """``<directory>/<prefix>_<index:06d>.npz``."""
    return Path(directory) / f"{prefix}_{int(index):06d}.npz"


def write_shard(
    path: str | os.PathLike, arrays: Mapping[str, Any], meta: Mapping[str, Any]
) -> None:
    """Write ``arrays`` and ``meta`` atomically to ``path`` (see the module docstring).

    Raises:
        ConfigError: For an array name ``meta`` or an object array (not loadable without pickle).
    """
    out: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        if name == "meta":
            raise ConfigError("'meta' is reserved in a shard; rename that array.")
        if value is None:
            continue
        arr = np.asarray(value)
        if arr.dtype == object:
            raise ConfigError(
                f"shard array {name!r} has dtype object, which cannot be read without pickle; "
                "store numeric arrays (or split ragged data into several arrays)."
            )
        out[name] = arr
    out["meta"] = np.array(json.dumps({"format": FORMAT, **meta}, sort_keys=True))
    with _fs.atomic_write(path, "wb") as f:
        np.savez(f, **out)


def read_shard(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a shard; arrays are loaded into memory."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    return meta, arrays


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The ``meta`` of a shard without loading its arrays."""
    with np.load(path, allow_pickle=False) as z:
        return json.loads(str(z["meta"]))


def shard_indices(directory: str | os.PathLike, prefix: str = "sample") -> list[int]:
    """Sorted indices of the complete shards in ``directory`` (``[]`` if it does not exist)."""
    d = Path(directory)
    if not d.is_dir():
        return []
    out = []
    head = f"{prefix}_"
    for entry in d.iterdir():
        name = entry.name
        if name.startswith(head) and name.endswith(".npz"):
            with contextlib.suppress(ValueError):
                out.append(int(name[len(head) : -4]))
    return sorted(out)


class Pending(Sequence):
    """The unit indices ``start, start + step, …`` below ``total`` that are not ``done``, in
    order: a lazy sequence, so a job of any size is planned (counted, estimated, refused)
    without enumerating it. It compares equal to a list of the same indices.

    Args:
        total: Units in the job (indices ``0 … total − 1``).
        step, start: Only indices ``i`` with ``i % step == start`` (one task of a job array).
        done: Indices already finished.
    """

    def __init__(self, total: int, step: int = 1, start: int = 0, done: Iterable[int] = ()):
        self._range = range(start, total, step)
        self._done = sorted({int(i) for i in done if int(i) in self._range})

    def __len__(self) -> int:
        return len(self._range) - len(self._done)

    def __iter__(self) -> Iterator[int]:
        done = set(self._done)
        return (i for i in self._range if i not in done)

    def __getitem__(self, k):  # type: ignore[override]
        if isinstance(k, slice):
            return list(self)[k]
        n = len(self)
        if not -n <= k < n:
            raise IndexError(k)
        k %= n
        for d in self._done:  # skip the done indices at or before the k-th position
            if self._range.index(d) <= k:
                k += 1
        return self._range[k]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=False))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Pending({self._range!r}, {len(self._done)} done)"


def iter_shards(directory: str | os.PathLike, prefix: str = "sample") -> Iterator[tuple[int, Path]]:
    """``(index, path)`` of every complete shard, in index order."""
    for i in shard_indices(directory, prefix):
        yield i, shard_path(directory, i, prefix)


def is_shard_name(name: str, prefix: str | None = None) -> bool:
    """True for a shard file name ``<prefix>_<digits>.npz`` (any prefix of letters if None)."""
    head = re.escape(prefix) if prefix is not None else "[A-Za-z][A-Za-z0-9]*"
    return re.fullmatch(rf"{head}_[0-9]+\.npz", name) is not None


def clean_partial(directory: str | os.PathLike, prefix: str | None = None) -> int:
    """Remove the temporary files a killed writer left for shards in ``directory``.

    Only :func:`livn._fs.atomic_write` temporary files of shard names
    (``.<prefix>_<index>.npz.<random>.tmp``) are removed, and not while their writer is alive;
    nothing else in the directory is touched.

    Args:
        directory: A shard directory (a missing one is fine).
        prefix: Shard prefix (``sample``, ``stim``); None for any.

    Returns:
        The number of files removed.
    """
    return _fs.clean_temp(directory, lambda name: is_shard_name(name, prefix))

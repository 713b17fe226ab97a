"""Filesystem helpers: local paths and fsspec URLs, and atomic writes.

A *location* is a local path or an fsspec URL (``memory://...``, ``s3://...``). Local paths are
handled with the standard library; URLs go through fsspec, which is imported only when needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any


def is_url(location: str | os.PathLike) -> bool:
    """True if ``location`` is an fsspec URL other than ``file://``."""
    s = str(location)
    return "://" in s and not s.startswith("file://")


def normalize(location: str | os.PathLike) -> str:
    """Absolute local path (``file://`` stripped, ``~`` expanded) or the URL unchanged."""
    s = os.fspath(location)
    if s.startswith("file://"):
        s = s[len("file://") :]
    if is_url(s):
        return s.rstrip("/")
    return str(Path(s).expanduser().resolve())


def join(location: str, name: str) -> str:
    """Join a file name onto a directory location (path or URL)."""
    return f"{location.rstrip('/')}/{name}" if is_url(location) else os.path.join(location, name)


def exists(location: str) -> bool:
    """True if the file or directory exists."""
    if is_url(location):
        import fsspec

        fs, path = fsspec.core.url_to_fs(location)
        return fs.exists(path)
    return os.path.exists(location)


def isdir(location: str) -> bool:
    """True if the location is a directory."""
    if is_url(location):
        import fsspec

        fs, path = fsspec.core.url_to_fs(location)
        return fs.isdir(path)
    return os.path.isdir(location)


@contextlib.contextmanager
def open_binary(location: str):
    """Open a file for binary reading (local or fsspec URL)."""
    if is_url(location):
        import fsspec

        with fsspec.open(location, "rb") as f:
            yield f
    else:
        with open(location, "rb") as f:
            yield f


def read_text(location: str) -> str:
    """Read a UTF-8 text file (local or fsspec URL)."""
    with open_binary(location) as f:
        return f.read().decode("utf-8")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> IO[Any]:
    """Write a local file atomically: a temporary file in the same directory, then rename.

    Readers never see a partially written file; on error the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write JSON atomically with stable formatting."""
    with atomic_write(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")

"""Filesystem helpers: local paths and fsspec URLs, atomic writes and their temporary files.

A *location* is a local path or an fsspec URL (``memory://...``, ``s3://...``). Local paths are
handled with the standard library; URLs go through fsspec, which is imported only when needed.

:func:`atomic_write` writes ``<dir>/<name>`` through a temporary file ``<dir>/.<name>.<random>.tmp``
(``<random>`` is :func:`tempfile.mkstemp`'s suffix of lowercase letters, digits and ``_``),
renamed into place when complete. A process killed while writing leaves that temporary file;
:func:`clean_temp` removes the ones of given target names, and only those. While a writer is
alive it holds an exclusive :func:`fcntl.flock` on its temporary file (POSIX), so a cleaner
running beside it (another task of the same job) never removes a file that is being written.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locks, temporary files are named only
    fcntl = None  # type: ignore[assignment]

#: Suffix of :func:`atomic_write`'s temporary files.
TEMP_SUFFIX = ".tmp"
# ``.<name>.<mkstemp random part>.tmp``; the random part never holds a dot, so ``name`` is
# everything between the leading dot and the last two dots.
_TEMP = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]+\.tmp$")


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


def url_fs(location: str) -> tuple[Any, str]:
    """``(file system, path)`` of an fsspec URL.

    Raises:
        MissingDependencyError: The URL's protocol needs a package that is not installed
            (``s3://`` needs s3fs, ``http://`` needs aiohttp, …).
        ConfigError: An unknown protocol, or a URL its file system cannot open.
    """
    import fsspec

    from livn.errors import ConfigError, MissingDependencyError

    try:
        return fsspec.core.url_to_fs(location)
    except ImportError as e:
        raise MissingDependencyError(
            f"{location}: this URL needs a package that is not installed ({e}). Install it, or "
            "give a local path."
        ) from None
    except (ValueError, OSError) as e:
        raise ConfigError(
            f"{location}: cannot open this URL ({type(e).__name__}: {e}). Give a local path or "
            "the URL of a supported file system (file://, memory://, s3:// with s3fs, …)."
        ) from None


def exists(location: str) -> bool:
    """True if the file or directory exists."""
    if is_url(location):
        fs, path = url_fs(location)
        return fs.exists(path)
    return os.path.exists(location)


def isdir(location: str) -> bool:
    """True if the location is a directory."""
    if is_url(location):
        fs, path = url_fs(location)
        return fs.isdir(path)
    return os.path.isdir(location)


@contextlib.contextmanager
def open_binary(location: str):
    """Open a file for binary reading (local or fsspec URL)."""
    if is_url(location):
        fs, path = url_fs(location)
        with fs.open(path, "rb") as f:
            yield f
    else:
        with open(location, "rb") as f:
            yield f


def read_text(location: str) -> str:
    """Read a UTF-8 text file (local or fsspec URL)."""
    with open_binary(location) as f:
        return f.read().decode("utf-8")


def temp_target(filename: str) -> str | None:
    """The file name an :func:`atomic_write` temporary file stands for, or None.

    ``temp_target(".config.json.k2x_9q1a.tmp") == "config.json"``; any name not of the form
    ``.<name>.<random>.tmp`` gives None.
    """
    match = _TEMP.match(filename)
    return match.group("name") if match else None


def _lock_fd(fd: int, blocking: bool) -> bool:
    """Take an exclusive flock on ``fd``; False if another open file holds one (non-blocking).

    True also where locks are unavailable (not POSIX, or a filesystem without flock): there a
    temporary file is recognised by its name alone.
    """
    if fcntl is None:  # pragma: no cover - not POSIX
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        return True  # e.g. ENOLCK/EOPNOTSUPP on a filesystem mounted without locks
    return True


def _new_temp(path: Path) -> tuple[int, str]:
    """A fresh, locked temporary file for ``path``: ``(fd, name)``."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
        # A cleaner may have locked and unlinked the file before we locked it: then try again.
        if _lock_fd(fd, blocking=True) and os.fstat(fd).st_nlink > 0:
            return fd, tmp
        os.close(fd)  # pragma: no cover - needs a cleaner within microseconds of mkstemp


def make_dirs(directory: str | os.PathLike) -> None:
    """``mkdir -p directory``; a directory that cannot be created (``/proc/x``, a path through
    a file, no permission) is a :class:`~livn.errors.ConfigError` naming it."""
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        from livn.errors import ConfigError

        raise ConfigError(
            f"cannot create the directory {directory}: {e.strerror or e}. Choose another output "
            "directory."
        ) from None


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> IO[Any]:
    """Write a local file atomically: a temporary file in the same directory, then rename.

    Readers never see a partially written file; on error the temporary file is removed. The
    temporary file is ``.<name>.<random>.tmp`` (see the module docstring) and stays locked
    until it has been renamed, so :func:`clean_temp` leaves it alone meanwhile.
    """
    path = Path(path)
    make_dirs(path.parent)
    fd, tmp = _new_temp(path)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            if fcntl is not None:
                os.replace(tmp, path)  # while the lock is held (closing the file releases it)
        if fcntl is None:  # pragma: no cover - not POSIX: an open file cannot be renamed
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def temp_files(
    directory: str | os.PathLike, names: Collection[str] | Callable[[str], bool]
) -> list[Path]:
    """The :func:`atomic_write` temporary files in ``directory`` whose target is in ``names``.

    Args:
        directory: A local directory (a missing one has none).
        names: Target file names (``["config.json"]``), or a predicate on a target name.

    Returns:
        Sorted paths of the matching temporary files (finished or still being written).
    """
    d = Path(directory)
    if not d.is_dir():
        return []
    owns = names if callable(names) else frozenset(names).__contains__
    out = []
    for entry in d.iterdir():
        target = temp_target(entry.name)
        if target is not None and owns(target) and entry.is_file() and not entry.is_symlink():
            out.append(entry)
    return sorted(out)


def clean_temp(directory: str | os.PathLike, names: Collection[str] | Callable[[str], bool]) -> int:
    """Remove the temporary files that killed writers left for ``names`` in ``directory``.

    Only files named ``.<name>.<random>.tmp`` (see the module docstring) with ``name`` in
    ``names`` are candidates; one that a live writer still holds locked is kept. Nothing else
    in the directory is touched.

    Args:
        directory: A local directory (a missing one is fine).
        names: Target file names (``["config.json"]``), or a predicate on a target name.

    Returns:
        The number of files removed.
    """
    n = 0
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    for path in temp_files(directory, names):
        try:  # read-write: NFS emulates flock with fcntl locks, which need a writable file
            fd = os.open(path, os.O_RDWR | nofollow)
        except OSError:
            try:
                fd = os.open(path, os.O_RDONLY | nofollow)
            except OSError:  # gone already (renamed by its writer), or not ours to open
                continue
        try:
            if _abandoned(fd):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    n += 1
        finally:
            os.close(fd)
    return n


#: Where locks cannot be taken, a temporary file untouched for this long (s) is abandoned.
STALE_S = 3600.0


def _abandoned(fd: int) -> bool:
    """True when no live writer holds the temporary file ``fd``: its lock can be taken, or —
    where locks are unavailable or fail in an unexpected way (NFS, Lustre without flock) — it
    has not been modified for :data:`STALE_S` seconds. When in doubt, the file is kept."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False  # a live writer holds it
    import time

    try:
        return time.time() - os.fstat(fd).st_mtime > STALE_S
    except OSError:  # pragma: no cover
        return False


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write JSON atomically with stable formatting."""
    with atomic_write(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")

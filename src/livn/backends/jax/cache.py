"""JAX's persistent compilation cache, on by default in livn's cache directory.

The first JAX Env of a process points JAX's compilation cache at
``$LIVN_CACHE_DIR/jax-compile`` (default ``~/.cache/livn/jax-compile``) and caches every
program, however quick its compile: a second process on the machine — every sampling or sweep
worker, every test process — loads the engine's compiled programs instead of compiling them.
JAX keys each entry by its version, the device and the program, so an upgrade or another
system never reuses a stale one.

* ``LIVN_COMPILE_CACHE=0`` (or ``false``/``off``/``no``) turns it off.
* A cache directory the user chose for JAX (``JAX_COMPILATION_CACHE_DIR`` or
  ``jax.config.update("jax_compilation_cache_dir", ...)``) is kept.
* A directory that cannot be written: one warning, and the process runs uncached.
* A corrupt entry (a disk error, a torn write by a killed process) is ignored and rewritten:
  JAX's warning that it cannot read it is caught while the engine compiles (:func:`watching`)
  and the entry removed before JAX compiles the program and writes it again (JAX never
  overwrites an existing entry).

This is process-wide JAX configuration (JAX has one compilation cache per process), done
once, on the first JAX engine; ``import livn`` touches none of it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["OFF_VALUES", "configure", "drop_corrupt", "enabled", "watched", "watching"]

#: Values of ``LIVN_COMPILE_CACHE`` that turn the cache off.
OFF_VALUES = frozenset({"0", "false", "off", "no"})
_READ_ERROR = re.compile(r"Error reading persistent compilation cache entry for '([^']+)'")
_STATE: dict[str, object] = {"configured": False, "path": None}


def enabled() -> bool:
    """Whether ``LIVN_COMPILE_CACHE`` allows the cache (default on)."""
    return os.environ.get("LIVN_COMPILE_CACHE", "1").strip().lower() not in OFF_VALUES


def configure() -> Path | None:
    """Point JAX's persistent compilation cache at livn's cache (once per process).

    Returns:
        The cache directory in use, or ``None`` when the cache is off or not writable.
    """
    if _STATE["configured"]:
        return _STATE["path"]  # type: ignore[return-value]
    _STATE["configured"] = True
    if not enabled():
        return None
    import jax

    chosen = jax.config.jax_compilation_cache_dir
    if chosen:  # the user's own choice for JAX
        _STATE["path"] = Path(chosen)
        return _STATE["path"]  # type: ignore[return-value]
    from livn.system.predefined import cache_dir

    path = cache_dir() / "jax-compile"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as e:
        warnings.warn(
            f"livn's compilation cache {path} is not writable ({e.strerror or e}); running "
            "without it (every process compiles its programs). Set LIVN_CACHE_DIR to a "
            "writable directory, or LIVN_COMPILE_CACHE=0 to silence this.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    _drop_unreadable(path)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _STATE["path"] = path
    return path


#: The first bytes of an entry JAX wrote: zstandard or zlib compressed.
_MAGIC = (b"\x28\xb5\x2f\xfd", b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")


def _drop_unreadable(path: Path) -> None:
    """Remove entries that are not compressed data at all (empty, garbage): a look at the
    first bytes of each, once per process. Damage further inside an entry is caught while
    compiling (:func:`watching`)."""
    for entry in path.glob("*-cache"):
        try:
            with open(entry, "rb") as f:
                head = f.read(4)
            if not head.startswith(_MAGIC):
                entry.unlink()
        except OSError:
            pass


def drop_corrupt(message: str) -> bool:
    """If ``message`` is JAX's warning that it could not read a cache entry, remove that
    program's entries (so that the compile that follows writes a good one) and return True."""
    m = _READ_ERROR.search(message)
    path = _STATE["path"]
    if m is None or path is None:
        return False
    for entry in Path(path).glob(f"{m.group(1)}-*"):
        try:
            entry.unlink()
        except OSError:
            pass
    return True


@contextlib.contextmanager
def watching() -> Iterator[None]:
    """While compiling: JAX's warnings about unreadable entries remove those entries at once
    (before JAX compiles and writes the program again) instead of being shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("always", message=_READ_ERROR.pattern[:40])
        shown = warnings.showwarning

        def hook(message, category, filename, lineno, file=None, line=None):
            if not drop_corrupt(str(message)):
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = hook
        yield


def watched(fn: Callable) -> Callable:
    """``fn`` run under :func:`watching` (for engine methods that compile small programs)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with watching():
            return fn(*args, **kwargs)

    return wrapper

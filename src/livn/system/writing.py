"""Publishing a generated system directory atomically (both generators and the cache).

A system is built in a temporary sibling directory and renamed into place, so the target never
holds a partial system and a failed build leaves nothing behind. If the target already holds a
system generated from the same configuration (its ``graph.json`` ``generator`` record), nothing
is done. A different system there is an error unless ``overwrite=True``; a non-empty directory
that is not a livn system is never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from livn import _fs
from livn.errors import ConfigError
from livn.system.graph import GRAPH_FILE


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def generator_of(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The ``generator`` record of the system in ``directory`` (None if unreadable)."""
    from livn.system.graph import read_graph

    try:
        return read_graph(str(directory)).generator
    except Exception:
        return None


def check_target(target: Path, record: dict[str, Any], overwrite: bool = False) -> bool:
    """Whether ``target`` already holds the system of ``record`` (True: nothing to do); raises
    :class:`ConfigError` where :func:`publish_system` may not write (see the module docstring).

    Args:
        target: Absolute path of the system directory.
        record: The generator record of the system to write.
        overwrite: Replace an existing system generated from a different configuration.
    """
    if (target / GRAPH_FILE).exists():
        if generator_of(target) == record:
            return True
        if not overwrite:
            raise ConfigError(
                f"output_directory {target} already holds a system generated with a different "
                "configuration. Choose another output_directory, delete the old one, or pass "
                "overwrite=True (--overwrite)."
            )
    elif target.exists() and not _is_empty_dir(target):
        raise ConfigError(
            f"output_directory {target} exists, is not empty and is not a livn system; refusing "
            "to write into it. Choose a new or empty directory."
        )
    return False


def publish_system(
    target: Path,
    record: dict[str, Any],
    build: Callable[[Path], None],
    overwrite: bool = False,
) -> str:
    """Run ``build(staging_dir)`` and rename the result to ``target``; returns its path.

    Args:
        target: Absolute path of the system directory.
        record: The generator record the build writes into ``graph.json`` (compared with an
            existing system at ``target``).
        build: Writes the system's files into the directory it is given.
        overwrite: Replace an existing system generated from a different configuration.
    """
    if check_target(target, record, overwrite):
        return str(target)
    return replace_directory(target, build)


def replace_directory(target: Path, build: Callable[[Path], None]) -> str:
    """Run ``build(staging_dir)`` next to ``target`` and rename the result into place, an
    existing ``target`` swapped out only once the new one is complete (a failed or interrupted
    build leaves ``target`` as it was and no staging directory); returns its path."""
    _fs.make_dirs(target.parent)
    short = target.name[:64]  # the staging names must fit NAME_MAX (255) for any target name
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{short}.tmp-", dir=target.parent))
    except OSError as e:
        raise ConfigError(
            f"cannot write the system into {target.parent}: {e.strerror or e}. Choose another "
            "output_directory."
        ) from None
    try:
        build(tmp)
        if target.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{short}.old-", dir=target.parent))
            os.rename(target, trash / "old")
            os.rename(tmp, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
    return str(target)

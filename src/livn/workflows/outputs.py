"""Where jobs may write: checks run before a job writes anything.

A job's output directory is refused, with nothing written, when

* ``LIVN_OUTPUT_ROOT`` is set and the directory is not inside it (a cluster or a shared
  machine can confine every job's outputs this way);
* it lies inside a system directory (one holding ``graph.json``), livn's cache of predefined
  systems, or livn's installed package;
* it is an existing file, or an existing non-empty directory that holds no livn job
  (``marker`` is the file a job of this kind keeps there, e.g. ``config.json``): livn never
  writes beside files it did not make;
* it cannot be created: a path component is a file, a name is too long for the file system,
  or the nearest existing directory is not writable.

A directory whose only content is livn's own temporary files (``.config.json.<random>.tmp``,
left by a job killed while writing its first marker; see :func:`livn._fs.temp_target`) counts
as empty: the job starts again there and removes them.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from livn import _fs
from livn.errors import ConfigError

__all__ = ["OUTPUT_ROOT_VAR", "check_location", "check_output_directory", "foreign_entries"]

#: Environment variable that confines job outputs to one directory tree.
OUTPUT_ROOT_VAR = "LIVN_OUTPUT_ROOT"


def _inside(path: Path, parent: Path) -> bool:
    try:
        path.relative_to(parent)
    except ValueError:
        return False
    return True


def foreign_entries(directory: Path, marker: str, temporaries: Collection[str] = ()) -> list[str]:
    """Names in ``directory`` other than the temporary files of ``marker`` and ``temporaries``.

    Args:
        directory: An existing directory.
        marker: The job's marker file; its :func:`~livn._fs.atomic_write` temporary files are
            the job's own.
        temporaries: Other file names whose temporary files are the job's own.
    """
    own = {p.name for p in _fs.temp_files(directory, {marker, *temporaries})}
    return sorted(e.name for e in directory.iterdir() if e.name not in own)


def check_output_directory(
    path: str | os.PathLike, marker: str, temporaries: Collection[str] = ()
) -> Path:
    """The resolved output directory, or :class:`ConfigError` (see the module docstring).

    Args:
        path: The requested output directory.
        marker: File a job of this kind keeps in its directory (``config.json``,
            ``checkpoint.json``); a non-empty directory without it is refused, unless all it
            holds is temporary files of ``marker`` (or of ``temporaries``) that a killed job
            left.
        temporaries: Further file names the job writes atomically before its marker exists.
    """
    out = check_location(path)
    try:
        return _check_contents(out, marker, temporaries)
    except OSError as e:  # e.g. the directory cannot be listed
        raise ConfigError(
            f"output directory {out} cannot be used: {e.strerror or e}. Choose another path."
        ) from None


def check_location(path: str | os.PathLike, system: bool = False) -> Path:
    """The resolved ``path``, or :class:`ConfigError` if a job may not write there: outside
    ``LIVN_OUTPUT_ROOT``, inside livn's package or cache or a system directory, or a path
    that cannot be created (see the module docstring). Its contents are not checked.

    Args:
        path: The requested output directory.
        system: ``path`` is where a system is generated: it may itself be a system
            directory (it is regenerated), but not lie inside one.
    """
    try:
        return _check_location(path, system)
    except ConfigError:
        raise
    except (OSError, ValueError) as e:  # a name too long, a NUL byte, no permission, …
        raise ConfigError(
            f"output directory {os.fspath(path)!r} cannot be used: "
            f"{getattr(e, 'strerror', None) or e}. Choose another path (e.g. ./my_dataset)."
        ) from None


def _check_location(path: str | os.PathLike, system: bool) -> Path:
    text = os.fspath(path)
    if not text.strip():
        raise ConfigError(
            "output directory is empty; give a directory path, e.g. ./my_dataset (an empty "
            "value would write into the current directory)."
        )
    out = Path(os.path.expanduser(text)).resolve()
    root = os.environ.get(OUTPUT_ROOT_VAR)
    if root:
        allowed = Path(os.path.expanduser(root)).resolve()
        if not _inside(out, allowed):
            raise ConfigError(
                f"output directory {out} is outside the allowed location {allowed} "
                f"(set by {OUTPUT_ROOT_VAR}). Choose a directory inside it, e.g. "
                f"{allowed / out.name}."
            )
    import livn
    from livn.system.predefined import cache_dir

    forbidden = [(Path(livn.__file__).resolve().parent, "livn's installed package")]
    forbidden.append((cache_dir().resolve(), "livn's cache of predefined systems"))
    for parent, what in forbidden:
        if _inside(out, parent):
            raise ConfigError(
                f"output directory {out} is inside {what} ({parent}); choose a directory of "
                "your own, e.g. ./my_dataset."
            )
    for parent in out.parents if system else (out, *out.parents):
        if (parent / "graph.json").is_file():
            raise ConfigError(
                f"output directory {out} is inside the system directory {parent}; write job "
                "outputs elsewhere, e.g. beside it."
            )
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output directory {out} exists and is a file; choose another path.")
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(
            f"output directory {out} cannot be created: {existing} is a file, not a directory; "
            "choose another path."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"output directory {out} cannot be created or written: no write permission on "
            f"{existing}; choose another path."
        )
    return out


def _check_contents(out: Path, marker: str, temporaries: Collection[str]) -> Path:
    if out.is_dir() and not (out / marker).is_file():
        foreign = foreign_entries(out, marker, temporaries)
        if foreign:
            more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
            shown = ", ".join(foreign[:5]) + more
            raise ConfigError(
                f"output directory {out} already holds files that are not a livn job (no "
                f"{marker}): {shown}. livn does not write beside them; choose a new or empty "
                "directory, or move those files away."
            )
    return out

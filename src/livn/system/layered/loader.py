"""Reading a 3D system config: YAML with ``!include`` of sibling files.

``Synapses: !include _synapses.yml`` replaces the value by the content of ``_synapses.yml``,
read relative to the directory of the file that holds the ``!include`` (so nested includes
work from wherever the top-level config lives). Files are read with livn's safe loader
(:func:`livn._yaml.loader`: no Python objects, ``1e3`` is a number) and bounded like every YAML
surface. An include cycle, a missing or unreadable file, or invalid YAML is a
:class:`~livn.errors.ConfigError` naming the including file, the key and the included file.

:func:`load_config` also returns where each included subtree came from, so that a later
validation error can name the file that holds the bad value.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livn._yaml import MAX_DEPTH, MAX_NODES, expanded_size, loader
from livn.errors import ConfigError

#: Most files one config may include (directly or nested).
MAX_INCLUDES = 256

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class _Include:
    """An ``!include`` tag as parsed, before the file is read."""

    target: str
    line: int


def _loader() -> type:
    import yaml

    Loader = loader()

    def include(ld: Any, node: Any) -> _Include:
        if not isinstance(node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "!include takes one file name, e.g. !include _synapses.yml",
                node.start_mark,
            )  # fmt: skip
        return _Include(str(ld.construct_scalar(node)), node.start_mark.line + 1)

    Loader.add_constructor("!include", include)
    return Loader


def key_text(path: KeyPath) -> str:
    """``("Geometry", "Axon Extent", "EXC")`` → ``Geometry.Axon Extent.EXC``."""
    return ".".join(path) if path else "<top level>"


def _read(path: Path, included_from: str | None) -> Any:
    import yaml

    where = f" (included from {included_from})" if included_from else ""
    try:
        is_file = path.is_file()
    except (OSError, ValueError) as e:
        raise ConfigError(f"config {str(path)!r}{where} cannot be read: {e}.") from None
    if not is_file:
        what = "is not a regular file" if path.exists() else "does not exist"
        raise ConfigError(f"config {path}{where} {what}; give the path of a YAML file.")
    try:
        data = yaml.load(path.read_text("utf-8"), Loader=_loader())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}{where}: invalid YAML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}{where}: not a UTF-8 text file ({e}).") from None
    except RecursionError:
        raise ConfigError(f"{path}{where}: the YAML is nested too deeply to read.") from None
    except OSError as e:
        raise ConfigError(f"{path}{where}: cannot be read ({e.strerror or e}).") from None
    size, depth = expanded_size(data)
    if depth == math.inf:
        raise ConfigError(f"{path}{where}: the YAML has an alias inside itself.")
    if depth > MAX_DEPTH or size > MAX_NODES:
        raise ConfigError(
            f"{path}{where}: the YAML expands to {size:,} values nested {depth} deep, above the "
            f"bounds ({MAX_NODES:,} values, {MAX_DEPTH} levels)."
        )
    return data


def load_config(path: str | os.PathLike) -> tuple[Any, dict[KeyPath, str]]:
    """Read a config and every file it includes.

    Args:
        path: The top-level YAML file.

    Returns:
        ``(data, sources)``: the merged data, and for the top level (key ``()``) and every
        ``!include`` the key path where it was included and the file (absolute path) it came
        from.

    Raises:
        ConfigError: A missing or unreadable file, invalid YAML, an include cycle (the chain
            of files is named), or too many includes.
    """
    root = Path(os.path.expanduser(os.fspath(path))).resolve()
    sources: dict[KeyPath, str] = {(): str(root)}
    count = 0

    def resolve(value: Any, file: Path, key: KeyPath, chain: tuple[Path, ...]) -> Any:
        nonlocal count
        if len(key) > MAX_DEPTH:
            raise ConfigError(
                f"{file}: key {key_text(key[:5])}… is nested more than {MAX_DEPTH} levels deep."
            )
        if isinstance(value, _Include):
            target = (file.parent / os.path.expanduser(value.target)).resolve()
            here = f"{file}, line {value.line} (key {key_text(key)})"
            if target in chain:
                cycle = " -> ".join(p.name for p in (*chain[chain.index(target):], target))
                raise ConfigError(
                    f"{here}: !include {value.target} makes an include cycle ({cycle}); a file "
                    "may not include itself, directly or through others."
                )
            count += 1
            if count > MAX_INCLUDES:
                raise ConfigError(f"{here}: more than {MAX_INCLUDES} included files.")
            data = _read(target, here)
            sources[key] = str(target)
            return resolve(data, target, key, (*chain, target))
        if isinstance(value, dict):
            return {k: resolve(v, file, (*key, str(k)), chain) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v, file, (*key, str(i)), chain) for i, v in enumerate(value)]
        return value

    data = resolve(_read(root, None), root, (), (root,))
    total, depth = expanded_size(data)
    if depth > MAX_DEPTH or total > MAX_NODES:
        raise ConfigError(
            f"{root}: with its includes the config expands to {total:,} values nested {depth} "
            f"deep, above the bounds ({MAX_NODES:,} values, {MAX_DEPTH} levels)."
        )
    return data, sources


def source_of(sources: dict[KeyPath, str], key: KeyPath) -> str:
    """The file that holds the value at ``key`` (the deepest include above it)."""
    best: KeyPath = ()
    for k in sources:
        if len(k) > len(best) and key[: len(k)] == k:
            best = k
    return sources[best]

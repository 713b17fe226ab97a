"""``key=value`` command-line arguments (seed syntax) into a nested configuration dict.

``a=1`` sets a top-level key; ``a.b=1`` a nested one. Values are parsed as JSON when they are
valid JSON (numbers, booleans, ``null``, lists, objects) and kept as strings otherwise, so
``area=disk``, ``total_cells=50``, ``area_kwargs.x_range=[0,1000]`` and
``populations='{"EXC": {"count": 40}}'`` all work.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from livn.errors import ConfigError


def parse_value(text: str) -> Any:
    """JSON if it parses, else the raw string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
    except RecursionError:
        raise ConfigError(
            f"value {text[:20]!r}… is nested too deeply to read; a configuration value needs a "
            "few levels."
        ) from None


def parse_kv(args: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` tokens into a nested dict; later tokens override earlier ones."""
    out: dict[str, Any] = {}
    for token in args:
        key, sep, raw = token.partition("=")
        key = key.removeprefix("**")
        if not sep or not key:
            raise ConfigError(
                f"cannot parse argument {token!r}: expected key=value (e.g. total_cells=50), "
                "or a flag such as --launch."
            )
        parts = key.split(".")
        if any(not p for p in parts):
            raise ConfigError(f"cannot parse key {key!r}: empty component in dotted key.")
        node = out
        for p in parts[:-1]:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise ConfigError(f"key {key!r} nests under {p!r}, which already has a value.")
            node = child
        try:
            value = parse_value(raw)
        except ConfigError as e:
            raise ConfigError(f"argument {key}=…: {e}") from None
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]].update(value)
        else:
            node[parts[-1]] = value
    return out

"""Reading user YAML safely: PyYAML's safe loader with YAML 1.2 floats, and size bounds.

Shared by every YAML surface (batch sweeps, 3D system configs): ``1e3`` reads as a number,
and a file is refused before use if it expands (aliases counted as copies) to more than
:data:`MAX_NODES` values, nests deeper than :data:`MAX_DEPTH`, or holds an alias inside itself.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: Most values a YAML file may expand to (aliases counted as copies).
MAX_NODES = 1_000_000
#: Deepest nesting of a YAML file (livn's configs have fewer than ten levels).
MAX_DEPTH = 50


def loader() -> type:
    """PyYAML's safe loader, reading ``1e3`` and ``-2E-1`` as floats (YAML 1.2, as users
    write them; YAML 1.1 needs ``1.0e+3``). A fresh subclass per call, so constructors added
    to it (``!include``) stay local."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
    return Loader


def expanded_size(data: Any) -> tuple[int, float]:
    """``(values, depth)`` of ``data``, counting every alias as a copy (memoised by identity,
    so a "billion laughs" file is sized without being expanded). A recursive alias (a value
    that contains itself) has infinite depth. Iterative: any depth is measured."""
    memo: dict[int, tuple[int, float]] = {}
    active: set[int] = set()
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        x, done = stack.pop()
        if not isinstance(x, dict | list):
            continue
        key = id(x)
        children = [c for kv in x.items() for c in kv] if isinstance(x, dict) else list(x)
        if done:
            active.discard(key)
            sizes = [memo.get(id(c), (1, 0)) for c in children]
            memo[key] = (1 + sum(n for n, _ in sizes), 1 + max((d for _, d in sizes), default=0))
            continue
        if key in active:
            return 0, math.inf  # recursive
        if key in memo:
            continue
        active.add(key)
        stack.append((x, True))
        for c in children:
            if isinstance(c, dict | list) and id(c) in active:
                return 0, math.inf
            stack.append((c, False))
    return memo.get(id(data), (1, 0))

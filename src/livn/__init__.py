"""livn: a testbed for learning to interact with simulated in vitro neural networks.

The public names are imported lazily, so ``import livn`` stays fast and loads no heavy
dependency (h5py, scipy, pydantic, JAX, …) until a feature needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

from livn._version import __version__

_LAZY = {
    "make": "livn.env",
    "Env": "livn.env",
    "System": "livn.system",
    "predefined": "livn.system",
    "MEA": "livn.io",
    "Stimulus": "livn.stimulus",
    "LivnError": "livn.errors",
    "ConfigError": "livn.errors",
    "SystemFormatError": "livn.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'livn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

"""Models: backend-neutral definitions of the cells' dynamics (see :mod:`livn.models.base`)."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "ReducedCalciumSomaDendrite": "livn.models.rcsd",
    "LIF": "livn.models.lif",
    "Izhikevich": "livn.models.izhikevich",
}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'livn.models' has no attribute {name!r}")

"""Models: backend-neutral definitions of the cells' dynamics."""

from __future__ import annotations

from typing import Any

__all__ = ["ReducedCalciumSomaDendrite"]


def __getattr__(name: str) -> Any:
    if name == "ReducedCalciumSomaDendrite":
        from livn.models.rcsd import ReducedCalciumSomaDendrite

        return ReducedCalciumSomaDendrite
    raise AttributeError(f"module 'livn.models' has no attribute {name!r}")

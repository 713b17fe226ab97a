"""The reduced calcium soma–dendrite (RCSD) model: EXC motoneurons and INH Renshaw cells."""

from livn.models.rcsd.model import ReducedCalciumSomaDendrite

__all__ = ["ReducedCalciumSomaDendrite"]

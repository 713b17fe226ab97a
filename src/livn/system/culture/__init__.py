"""2D cultures: cells placed uniformly in an area, distance-dependent connectivity."""

from livn.system.culture.build import build_culture, write_culture
from livn.system.culture.config import ConnectivityConfig, CultureConfig, PopulationConfig
from livn.system.culture.placement import disk, rectangle

__all__ = [
    "ConnectivityConfig",
    "CultureConfig",
    "PopulationConfig",
    "build_culture",
    "disk",
    "rectangle",
    "write_culture",
]

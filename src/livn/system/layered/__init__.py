"""3D layered systems: cells in depth slabs (layers), axon-extent connectivity (seed 002)."""

from livn.system.layered.build import build_layered, write_layered
from livn.system.layered.config import DEFAULT_LAYERS, LayeredConfig, from_dict, load

__all__ = ["DEFAULT_LAYERS", "LayeredConfig", "build_layered", "from_dict", "load", "write_layered"]

"""Systems: the neural architecture (cells and synapses) of a culture, as a directory."""

from livn.system.parallel import ParallelSystem
from livn.system.predefined import PREDEFINED, cache_dir, make, predefined
from livn.system.system import Projection, System

__all__ = ["PREDEFINED", "ParallelSystem", "Projection", "System", "cache_dir", "make",
           "predefined"]

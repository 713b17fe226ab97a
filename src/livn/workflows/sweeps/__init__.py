"""YAML parameter sweeps of electrode stimulation patterns (``livn batch config.yml``)."""

from __future__ import annotations

from livn.workflows.sweeps.batch import Batch
from livn.workflows.sweeps.config import BatchConfig, load_config
from livn.workflows.sweeps.expand import StimulusSpec, count, expand, iter_stimuli, stimulus_seed
from livn.workflows.sweeps.patterns import PATTERNS, get_pattern

__all__ = ["PATTERNS", "Batch", "BatchConfig", "StimulusSpec", "count", "expand", "get_pattern",
           "iter_stimuli", "load_config", "stimulus_seed"]  # fmt: skip

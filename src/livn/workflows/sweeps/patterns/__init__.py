"""Stimulation patterns for parameter sweeps: one module per pattern (see :mod:`.base`)."""

from __future__ import annotations

from livn.errors import ConfigError, did_you_mean
from livn.workflows.sweeps.patterns.base import MAX_AMPLITUDE_UA, TIMING, Pattern, pulse_train
from livn.workflows.sweeps.patterns.gabor import Gabor
from livn.workflows.sweeps.patterns.gaussian import Gaussian
from livn.workflows.sweeps.patterns.moving_gaussian import MovingGaussian
from livn.workflows.sweeps.patterns.pulse import Pulse

__all__ = ["MAX_AMPLITUDE_UA", "PATTERNS", "TIMING", "Pattern", "get_pattern", "pulse_train"]

#: Sweep ``type`` → pattern.
PATTERNS: dict[str, Pattern] = {p.name: p for p in (Gaussian(), Gabor(), MovingGaussian(), Pulse())}


def get_pattern(type_: str) -> Pattern:
    """The pattern for a sweep ``type`` (a ``_sweep`` suffix is allowed)."""
    name = str(type_).removesuffix("_sweep")
    if name not in PATTERNS:
        raise ConfigError(
            f"unknown stimulus type {type_!r}. Valid: {', '.join(PATTERNS)} (optionally with "
            f"'_sweep').{did_you_mean(name, PATTERNS)}"
        )
    return PATTERNS[name]

"""``gaussian``: a static Gaussian spot of current over the electrode grid."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from livn.errors import ConfigError
from livn.workflows.sweeps.patterns.base import Pattern


def gaussian_profile(xy: np.ndarray, cx: float, cy: float, sigma: float) -> np.ndarray:
    """``exp(-|xy - c|² / (2σ²))`` per position (mm)."""
    if sigma <= 0:
        raise ConfigError(f"sigma must be > 0 mm; got {sigma!r}.")
    d2 = (xy[:, 0] - cx) ** 2 + (xy[:, 1] - cy) ** 2
    return np.exp(-d2 / (2.0 * sigma * sigma))


class Gaussian(Pattern):
    """Amplitude ``amplitude · exp(-d² / (2 sigma²))`` at each electrode, ``d`` its distance
    (mm) from ``(center_x, center_y)`` (mm from the array centre); the same for every pulse."""

    name = "gaussian"
    defaults: ClassVar[dict[str, Any]] = {
        "amplitude": 10.0,
        "sigma": 0.5,
        "center_x": 0.0,
        "center_y": 0.0,
    }
    abbreviations: ClassVar[dict[str, str]] = {
        "amplitude": "a",
        "sigma": "s",
        "center_x": "x",
        "center_y": "y",
    }

    def amplitudes(self, xy, onsets_ms, duration, p: dict[str, Any]) -> np.ndarray:
        profile = p["amplitude"] * gaussian_profile(xy, p["center_x"], p["center_y"], p["sigma"])
        return np.broadcast_to(profile, (len(onsets_ms), len(profile)))

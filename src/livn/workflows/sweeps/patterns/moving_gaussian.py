"""``moving_gaussian``: a Gaussian spot that crosses the array at constant velocity."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from livn.workflows.sweeps.patterns.base import Pattern
from livn.workflows.sweeps.patterns.gaussian import gaussian_profile


class MovingGaussian(Pattern):
    """A Gaussian spot (``amplitude`` µA, ``sigma`` mm) whose centre moves at ``velocity``
    mm/s in ``direction`` degrees (0 = +x, 90 = +y) and passes ``(center_x, center_y)`` at the
    middle of the run: centre(t) = c + velocity · (t − duration/2) / 1000 · (cos, sin). Each
    pulse takes the spot's position at its onset."""

    name = "moving_gaussian"
    defaults: ClassVar[dict[str, Any]] = {
        "velocity": 5.0,
        "direction": 0.0,
        "sigma": 0.5,
        "amplitude": 10.0,
        "center_x": 0.0,
        "center_y": 0.0,
    }
    abbreviations: ClassVar[dict[str, str]] = {
        "velocity": "v",
        "direction": "d",
        "sigma": "s",
        "amplitude": "a",
        "center_x": "x",
        "center_y": "y",
    }

    def amplitudes(self, xy, onsets_ms, duration, p: dict[str, Any]) -> np.ndarray:
        theta = math.radians(p["direction"])
        shift = p["velocity"] * (np.asarray(onsets_ms) - duration / 2.0) / 1000.0  # mm
        rows = [
            p["amplitude"]
            * gaussian_profile(
                xy,
                p["center_x"] + s * math.cos(theta),
                p["center_y"] + s * math.sin(theta),
                p["sigma"],
            )
            for s in shift
        ]
        return np.array(rows).reshape(len(rows), len(xy))

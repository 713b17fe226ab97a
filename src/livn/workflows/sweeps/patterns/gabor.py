"""``gabor``: a grating of current (cosine carrier, optional Gaussian envelope)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from livn.workflows.sweeps.patterns.base import Pattern
from livn.workflows.sweeps.patterns.gaussian import gaussian_profile


class Gabor(Pattern):
    """Amplitude ``amplitude · cos(2π · frequency · (x cos θ + y sin θ) + phase) · envelope``
    at each electrode (x, y in mm from the array centre; θ = ``orientation`` and ``phase`` in
    degrees; ``frequency`` in cycles/mm). The envelope is a Gaussian of ``sigma`` mm around the
    centre, or 1 when ``sigma`` is 0. Negative amplitudes flip the pulse polarity (anodic
    first)."""

    name = "gabor"
    defaults: ClassVar[dict[str, Any]] = {
        "frequency": 0.5,
        "orientation": 0.0,
        "phase": 0.0,
        "amplitude": 10.0,
        "sigma": 0.0,
    }
    abbreviations: ClassVar[dict[str, str]] = {
        "frequency": "f",
        "orientation": "o",
        "phase": "p",
        "amplitude": "a",
        "sigma": "s",
    }

    def amplitudes(self, xy, onsets_ms, duration, p: dict[str, Any]) -> np.ndarray:
        theta = math.radians(p["orientation"])
        along = xy[:, 0] * math.cos(theta) + xy[:, 1] * math.sin(theta)
        carrier = np.cos(2.0 * math.pi * p["frequency"] * along + math.radians(p["phase"]))
        envelope = gaussian_profile(xy, 0.0, 0.0, p["sigma"]) if p["sigma"] > 0 else 1.0
        profile = p["amplitude"] * carrier * envelope
        return np.broadcast_to(profile, (len(onsets_ms), len(profile)))

"""``pulse``: biphasic pulse trains on chosen electrodes (``livn.encoding.ElectrodePulses``)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from livn.errors import ConfigError
from livn.workflows.sweeps.patterns.base import Pattern


class Pulse(Pattern):
    """``amplitude`` µA biphasic pulses on ``channels`` (a list of electrode columns, or
    ``"all"``), with the shared timing parameters; other electrodes stay at zero."""

    name = "pulse"
    defaults: ClassVar[dict[str, Any]] = {"amplitude": 10.0, "channels": "all"}
    abbreviations: ClassVar[dict[str, str]] = {
        "amplitude": "a",
        "channels": "c",
        "period_ms": "T",
        "pulse_ms": "w",
    }

    def amplitudes(self, xy, onsets_ms, duration, p: dict[str, Any]) -> np.ndarray:
        n = len(xy)
        channels = p["channels"]
        mask = np.zeros(n)
        if channels == "all":
            mask[:] = 1.0
        else:
            chans = [channels] if isinstance(channels, int) else channels
            if not isinstance(chans, list) or not all(
                isinstance(c, int) and not isinstance(c, bool) for c in chans
            ):
                raise ConfigError(
                    f"pulse: channels must be 'all', an int or a list of ints; got {channels!r}."
                )
            bad = [c for c in chans if not 0 <= c < n]
            if bad:
                raise ConfigError(f"pulse: channel {bad[0]} out of range 0..{n - 1}.")
            mask[chans] = 1.0
        return np.broadcast_to(p["amplitude"] * mask, (len(onsets_ms), n))

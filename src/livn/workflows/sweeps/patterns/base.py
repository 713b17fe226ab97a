"""Stimulation patterns over the electrode grid: the base class and the pulse train they share.

A pattern turns its parameters into electrode currents ``[T, n_channels]`` (µA, one row per
``dt`` ms) for a run of ``duration`` ms. Spatial patterns set one signed amplitude per
electrode for each pulse; every electrode then delivers charge-balanced biphasic pulses
(leading phase ``-amplitude``: cathodic for a positive amplitude; then ``+amplitude``), each
phase ``pulse_ms`` long, at ``onset_ms + k · period_ms``.

Positions are the electrodes' x, y in **mm relative to the centre of the array** (the mean of
the electrode coordinates), so ``center_x = center_y = 0`` is the middle of the MEA whatever
its pitch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from livn.errors import ConfigError, did_you_mean
from livn.limits import number

__all__ = ["MAX_AMPLITUDE_UA", "TIMING", "Pattern", "electrode_positions_mm", "pulse_train"]

#: Largest electrode current a pattern may ask for, µA (safety bound for typos like 4000).
MAX_AMPLITUDE_UA = 1000.0

#: Most pulse onsets :meth:`Pattern.check` evaluates (spread evenly over the run).
CHECK_ONSETS = 10_000

#: Timing parameters every spatial pattern accepts, with defaults (ms).
TIMING: dict[str, float] = {"pulse_ms": 0.2, "period_ms": 50.0, "onset_ms": 10.0, "dt": 0.05}


def electrode_positions_mm(mea: Any) -> np.ndarray:
    """``[C, 2]`` electrode x, y in mm relative to the array centre."""
    xy = np.asarray(mea.electrode_coordinates, dtype=np.float64)[:, 1:3]
    return (xy - xy.mean(axis=0)) / 1000.0


def _timing(pulse_ms: float, period_ms: float, onset_ms: float, dt: float):
    """The biphasic pulse train all patterns share, as :class:`livn.encoding.ElectrodePulses`
    (its rules for the time grid, pulse shape and fitting apply; errors name the parameter)."""
    from livn.encoding import ElectrodePulses

    return ElectrodePulses(pulse_ms=pulse_ms, period_ms=period_ms, onset_ms=onset_ms, dt=dt,
                           phase="biphasic", polarity="cathodic", amplitude_uA=1.0)  # fmt: skip


def pulse_onsets_ms(duration: float, pulse_ms: float, period_ms: float, onset_ms: float,
                    dt: float) -> np.ndarray:  # fmt: skip
    """``[K]`` onset times (ms) of every pulse that fits in a run of ``duration`` ms.

    Raises:
        ConfigError: If no pulse fits, or a time is not a whole number of ``dt`` rows.
    """
    first, period, count = pulse_onset_grid(duration, pulse_ms, period_ms, onset_ms, dt)
    return (first + period * np.arange(count, dtype=np.int64)) * dt


def pulse_onset_grid(duration: float, pulse_ms: float, period_ms: float, onset_ms: float,
                     dt: float) -> tuple[int, int, int]:  # fmt: skip
    """``(first, period, count)`` in rows of ``dt``: the onsets of :func:`pulse_onsets_ms`
    without listing them (a very long run costs nothing)."""
    train = _timing(pulse_ms, period_ms, onset_ms, dt)
    try:
        return train.onset_grid(duration)
    except ConfigError as e:
        if "do not fit" not in str(e):
            raise
        raise ConfigError(
            f"no pulse fits in a {duration:g} ms run (first onset at {onset_ms:g} ms, biphasic "
            f"pulse {2 * pulse_ms:g} ms); lower onset_ms or lengthen the run."
        ) from None


def pulse_train(
    amplitudes: np.ndarray, duration: float, pulse_ms: float, period_ms: float,
    onset_ms: float, dt: float,
) -> np.ndarray:  # fmt: skip
    """``[T, C]`` currents (µA, ``T = ceil(duration / dt)``): biphasic pulses (leading phase
    ``-amplitude``, then ``+amplitude``, each ``pulse_ms``) at ``onset_ms + k · period_ms``,
    with one amplitude per pulse and channel. Timing as :class:`livn.encoding.ElectrodePulses`.

    Args:
        amplitudes: ``[K, C]`` signed amplitudes (µA) of the ``K`` pulses that fit in the run,
            or ``[C]`` for all pulses.
        duration: Run length, ms.
        pulse_ms, period_ms, onset_ms, dt: Phase width, onset-to-onset interval, first onset
            and row length, ms.
    """
    train = _timing(pulse_ms, period_ms, onset_ms, dt)
    onsets = pulse_onsets_ms(duration, pulse_ms, period_ms, onset_ms, dt)
    starts = np.rint(onsets / dt).astype(np.int64)
    wave = train.waveform()  # [rows of one pulse], per µA: -1 … then +1 …
    amps = np.asarray(amplitudes, dtype=np.float64)
    if amps.ndim == 1:
        amps = np.broadcast_to(amps, (len(starts), amps.shape[0]))
    if amps.shape[0] != len(starts):
        raise ValueError(f"amplitudes has {amps.shape[0]} rows for {len(starts)} pulses.")
    out = np.zeros((train.num_rows(duration), amps.shape[1]), dtype=np.float32)
    for k, start in enumerate(starts):
        out[start : start + len(wave)] = wave[:, None] * amps[k]
    return out


class Pattern:
    """A stimulation pattern (subclasses set :attr:`name`, :attr:`defaults`, :meth:`amplitudes`).

    Attributes:
        name: The sweep ``type``.
        defaults: Parameter name → default value (None: required).
        abbreviations: Short names for descriptive stimulus ids (``amplitude`` → ``a``).
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    abbreviations: ClassVar[dict[str, str]] = {}

    def resolve(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters with defaults filled in; unknown or missing ones raise ConfigError."""
        valid = {**self.defaults, **TIMING}
        unknown = [k for k in params if k not in valid]
        if unknown:
            raise ConfigError(
                f"{self.name}: unknown parameter {unknown[0]!r}. Valid: {', '.join(valid)}."
                f"{did_you_mean(unknown[0], valid)}"
            )
        out = {**valid, **params}
        missing = [k for k, v in out.items() if v is None]
        if missing:
            raise ConfigError(f"{self.name}: parameter {missing[0]!r} is required.")
        for k, v in out.items():
            if k in TIMING or isinstance(self.defaults.get(k), float | int):
                try:  # a finite int or float (10**400 is not one: it has no float)
                    number(v, k)
                except ConfigError:
                    raise ConfigError(
                        f"{self.name}: parameter {k!r} must be a number; got {v!r}."
                    ) from None
        for k, v in out.items():  # canonical numbers: 10 and 10.0 are the same stimulus
            if isinstance(self.defaults.get(k, TIMING.get(k)), float) and isinstance(v, int):
                out[k] = float(v)
        for k in ("pulse_ms", "period_ms", "dt"):
            if out[k] <= 0:
                raise ConfigError(f"{self.name}: {k} must be > 0 ms; got {out[k]!r}.")
        if out["onset_ms"] < 0:
            raise ConfigError(f"{self.name}: onset_ms must be >= 0; got {out['onset_ms']!r}.")
        return out

    def amplitudes(self, xy: np.ndarray, onsets_ms: np.ndarray, duration: float,
                   p: dict[str, Any]) -> np.ndarray:  # fmt: skip
        """``[K, C]`` signed amplitudes (µA) per pulse onset and electrode position ``xy`` (mm)."""
        raise NotImplementedError

    def check(self, mea: Any, duration: float, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``params`` for a run of ``duration`` ms without building the currents.

        Resolves the parameters, checks that a pulse fits and that the peak current stays
        within :data:`MAX_AMPLITUDE_UA` (at up to :data:`CHECK_ONSETS` pulse onsets spread
        over the run), so even a very long run is checked in little memory.

        Returns:
            The resolved parameters.
        """
        p = self.resolve(params)
        try:
            first, period, count = pulse_onset_grid(duration, p["pulse_ms"], p["period_ms"],
                                                    p["onset_ms"], p["dt"])  # fmt: skip
        except ConfigError as e:
            raise ConfigError(f"{self.name}: {e}") from None
        k = np.unique(np.linspace(0, count - 1, min(count, CHECK_ONSETS)).astype(np.int64))
        self._checked_amplitudes(mea, (first + period * k) * p["dt"], duration, p)
        return p

    def _onsets(self, duration: float, params: Mapping[str, Any]) -> tuple[dict, np.ndarray]:
        p = self.resolve(params)
        try:
            onsets = pulse_onsets_ms(duration, p["pulse_ms"], p["period_ms"], p["onset_ms"],
                                     p["dt"])  # fmt: skip
        except ConfigError as e:
            raise ConfigError(f"{self.name}: {e}") from None
        return p, onsets

    def _checked_amplitudes(self, mea: Any, onsets: np.ndarray, duration: float,
                            p: dict[str, Any]) -> np.ndarray:  # fmt: skip
        xy = electrode_positions_mm(mea)
        amps = np.asarray(self.amplitudes(xy, onsets, duration, p), dtype=np.float64)
        if not np.all(np.isfinite(amps)):
            raise ConfigError(f"{self.name}: the parameters give non-finite electrode currents.")
        peak = float(np.abs(amps).max()) if amps.size else 0.0
        if peak > MAX_AMPLITUDE_UA:
            raise ConfigError(
                f"{self.name}: peak electrode current {peak:g} µA exceeds the {MAX_AMPLITUDE_UA:g} "
                "µA safety bound; lower the amplitude."
            )
        return amps

    def channel_inputs(self, mea: Any, duration: float, params: Mapping[str, Any]) -> np.ndarray:
        """``[T, n_channels]`` electrode currents (µA, rows of ``params['dt']`` ms)."""
        p, onsets = self._onsets(duration, params)
        amps = self._checked_amplitudes(mea, onsets, duration, p)
        return pulse_train(amps, duration, p["pulse_ms"], p["period_ms"], p["onset_ms"], p["dt"])

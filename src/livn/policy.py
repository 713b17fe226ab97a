"""``livn.policy``: electrode pulse schedules in the livn 2.0.0 form (compatibility code).

A policy is a callable ``policy(duration=None) -> [T, C]`` float32 array of electrode currents
in µA, one row per ``policy.dt`` ms (``T = ceil(duration / dt)``; default ``duration`` is
:attr:`ElectrodePolicy.extent_ms`), where ``C = n_channels`` is the MEA's electrode count.
``env.run(d, stimulus=policy)`` plays it from the start of the run; a policy whose
:attr:`~ElectrodePolicy.extent_ms` exceeds ``d`` is refused (see
:meth:`livn.stimulus.Stimulus.from_policy`).

The pulses are those of :class:`livn.encoding.ElectrodePulses` (same sign convention:
cathodic = negative current; same rule that every time and width is a whole number of
``dt`` rows; a biphasic pulse is exactly charge-balanced); a policy only places them at its
own list of times. Differences from 2.0.0 are listed in ``docs/migrating.md``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from livn import limits
from livn.encoding import MAX_ROWS, ElectrodePulses, _channels_of
from livn.errors import ConfigError, positive_ms

__all__ = ["BiphasicPulsePolicy", "ElectrodePolicy", "MonophasicPulsePolicy", "PulseSweepPolicy"]


class ElectrodePolicy:
    """Base of the electrode policies: no pulses (all-zero currents) on ``channels``.

    Args:
        n_channels: Electrodes of the MEA (columns of the output), or an MEA/Env to take the
            count from.
        channels: Electrode column indices the pulses drive; ``None`` for all.
        dt: Duration of one row, ms (> 0).

    Raises:
        ConfigError: For a bad channel count, channels out of range or repeated, or a bad ``dt``.
    """

    def __init__(self, n_channels: Any, channels: Sequence[int] | int | None = None,
                 dt: float = 1.0) -> None:  # fmt: skip
        self.n_channels = _channels_of(n_channels)[0]
        if self.n_channels > MAX_ROWS:
            raise ConfigError(f"n_channels={self.n_channels} is too large for an electrode array.")
        if channels is None:
            self.channels: tuple[int, ...] = tuple(range(self.n_channels))
        else:
            self.channels = ElectrodePulses._check_channels(channels)
            bad = [c for c in self.channels if c >= self.n_channels]
            if bad:
                raise ConfigError(
                    f"channel index {bad[0]} is out of range for n_channels={self.n_channels} "
                    f"(valid: 0..{self.n_channels - 1})."
                )
        self.dt = positive_ms(dt, "policy dt")

    @classmethod
    def for_array(cls, n: Any, channels: Sequence[int] | int | None = None,
                  **kwargs: Any) -> ElectrodePolicy:  # fmt: skip
        """This policy for an array of ``n`` electrodes (an int, an MEA or an Env)."""
        return cls(n, channels, **kwargs)

    # ------------------------------------------------------------------ pulses
    def _pulses(self) -> list[tuple[int, np.ndarray]]:
        """``(start row, [rows] µA waveform)`` of every pulse, in time order."""
        return []

    def _rows(self, ms: float, name: str) -> int:
        """``ms`` as a whole number of rows of ``dt`` (ConfigError otherwise)."""
        return ElectrodePulses(pulse_ms=self.dt, dt=self.dt)._steps(ms, name)

    def _checked(self, pulses: list[tuple[int, np.ndarray]]) -> list[tuple[int, np.ndarray]]:
        pulses = sorted(pulses, key=lambda p: p[0])
        for (a, wa), (b, _) in itertools.pairwise(pulses):
            if a + len(wa) > b:
                raise ConfigError(
                    f"pulses at {a * self.dt:g} ms and {b * self.dt:g} ms overlap (a pulse lasts "
                    f"{len(wa) * self.dt:g} ms); space the pulse times further apart."
                )
        return pulses

    @property
    def extent_ms(self) -> float:
        """Time from the start of the run to the end of the last pulse, ms."""
        pulses = self._pulses()
        return max((s + len(w) for s, w in pulses), default=0) * self.dt

    def num_rows(self, duration: float) -> int:
        """``T = ceil(duration / dt)``: rows covering ``duration`` ms."""
        duration = positive_ms(duration, "duration")
        rows = duration / self.dt
        if not rows <= MAX_ROWS:
            raise ConfigError(
                f"{duration:g} ms is {rows:.3g} rows of dt={self.dt:g} ms; at most {MAX_ROWS:,}. "
                "Use a larger dt or a shorter run."
            )
        return max(1, math.ceil(rows - 1e-6))

    def __call__(self, duration: float | None = None) -> np.ndarray:
        """Electrode currents ``[ceil(duration / dt), n_channels]`` float32, µA.

        Args:
            duration: ms covered (default :attr:`extent_ms`); pulses past it are cut off.
        """
        if duration is None:
            duration = max(self.extent_ms, self.dt)
        rows = self.num_rows(duration)
        limits.check_memory(4.0 * rows * self.n_channels,
                            f"a {duration:g} ms policy of {self.n_channels} channels",
                            "Use a larger dt or a shorter run")  # fmt: skip
        profile = np.zeros(rows)
        for start, wave in self._pulses():
            if start >= rows:
                break
            end = min(rows, start + len(wave))
            profile[start:end] = wave[: end - start]
        out = np.zeros((rows, self.n_channels), dtype=np.float32)
        out[:, list(self.channels)] = profile[:, None]
        return out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_channels={self.n_channels}, channels="
                f"{list(self.channels)}, dt={self.dt:g} ms, extent={self.extent_ms:g} ms)")  # fmt: skip


def _amplitude(value: Any, name: str = "amplitude") -> float:
    return limits.float32(limits.number(value, name, 0.0, unit="µA"), name)


def _times(pulse_times: Any) -> list[float]:
    if isinstance(pulse_times, int | float | np.integer | np.floating) and not isinstance(
            pulse_times, bool):  # fmt: skip
        pulse_times = [pulse_times]
    if isinstance(pulse_times, str | bytes | dict) or not hasattr(pulse_times, "__iter__"):
        raise ConfigError(
            f"pulse_times must be a list of pulse onsets in ms (>= 0); got {pulse_times!r}."
        )
    out = [limits.number(t, "pulse_times entry", 0.0, unit="ms") for t in pulse_times]
    if not out:
        raise ConfigError("pulse_times is empty; give at least one pulse onset in ms.")
    return out


class BiphasicPulsePolicy(ElectrodePolicy):
    """Charge-balanced biphasic pulses at ``pulse_times`` on ``channels``.

    Each pulse: ``phase_duration`` at ``∓amplitude``, ``interphase_gap`` at zero, then
    ``phase_duration`` at ``±amplitude`` (cathodic, i.e. negative, first by default).

    Args:
        n_channels: Electrodes of the MEA (or an MEA/Env).
        channels: Driven electrode columns (``None``: all).
        amplitude: Phase amplitude, µA (>= 0).
        phase_duration: Width of one phase, ms (a multiple of ``dt``).
        interphase_gap: Zero-current gap between the phases, ms (a multiple of ``dt``).
        pulse_times: Pulse onsets, ms from the start of the run (multiples of ``dt``).
        cathodic_first: Negative phase first (True) or positive first.
        dt: Row duration, ms.
    """

    def __init__(self, n_channels: Any, channels: Sequence[int] | int | None = None,
                 amplitude: float = 1.5, phase_duration: float = 0.2,
                 interphase_gap: float = 0.05, pulse_times: Sequence[float] = (0.0,),
                 cathodic_first: bool = True, dt: float = 0.05) -> None:  # fmt: skip
        super().__init__(n_channels, channels, dt)
        self.amplitude = _amplitude(amplitude)
        if not isinstance(cathodic_first, bool | np.bool_):
            raise ConfigError(f"cathodic_first must be True or False; got {cathodic_first!r}.")
        self.cathodic_first = bool(cathodic_first)
        self.phase_duration = positive_ms(phase_duration, "phase_duration")
        self.interphase_gap = limits.number(interphase_gap, "interphase_gap", 0.0, unit="ms")
        self.pulse_times = _times(pulse_times)
        self._rows(self.phase_duration, "phase_duration")
        self._rows(self.interphase_gap, "interphase_gap")
        self._shape = ElectrodePulses(
            pulse_ms=self.phase_duration,
            phase="biphasic",
            interphase_ms=self.interphase_gap,
            polarity="cathodic" if self.cathodic_first else "anodic",
            dt=self.dt,
        )
        self._onsets = [self._rows(t, "pulse_times entry") for t in self.pulse_times]
        self._checked(self._pulses())

    def _pulses(self) -> list[tuple[int, np.ndarray]]:
        wave = self.amplitude * self._shape.waveform()
        return sorted((s, wave) for s in self._onsets)


class MonophasicPulsePolicy(ElectrodePolicy):
    """Single-phase pulses of ``pulse_width`` ms at ``pulse_times`` on ``channels``.

    Args:
        n_channels: Electrodes of the MEA (or an MEA/Env).
        channels: Driven electrode columns (``None``: all).
        amplitude: Pulse amplitude, µA (>= 0).
        pulse_width: Pulse width, ms (a multiple of ``dt``).
        pulse_times: Pulse onsets, ms from the start of the run (multiples of ``dt``).
        cathodic: Negative current (True, the default) or positive.
        dt: Row duration, ms.
    """

    def __init__(self, n_channels: Any, channels: Sequence[int] | int | None = None,
                 amplitude: float = 1.5, pulse_width: float = 1.0,
                 pulse_times: Sequence[float] = (0.0,), cathodic: bool = True,
                 dt: float = 1.0) -> None:  # fmt: skip
        super().__init__(n_channels, channels, dt)
        self.amplitude = _amplitude(amplitude)
        if not isinstance(cathodic, bool | np.bool_):
            raise ConfigError(f"cathodic must be True or False; got {cathodic!r}.")
        self.cathodic = bool(cathodic)
        self.pulse_width = positive_ms(pulse_width, "pulse_width")
        self.pulse_times = _times(pulse_times)
        self._rows(self.pulse_width, "pulse_width")
        self._shape = ElectrodePulses(pulse_ms=self.pulse_width, phase="mono",
                                      polarity="cathodic" if self.cathodic else "anodic",
                                      dt=self.dt)  # fmt: skip
        self._onsets = [self._rows(t, "pulse_times entry") for t in self.pulse_times]
        self._checked(self._pulses())

    def _pulses(self) -> list[tuple[int, np.ndarray]]:
        wave = self.amplitude * self._shape.waveform()
        return sorted((s, wave) for s in self._onsets)


class PulseSweepPolicy(ElectrodePolicy):
    """A recruitment sweep: one biphasic pulse per trial, amplitudes cycled ``repeats`` times.

    Trial ``k`` (``0 ≤ k < len(amplitudes) · repeats``) spans ``[k · trial_ms, (k+1) · trial_ms)``;
    its pulse starts at ``k · trial_ms + onset_ms`` with amplitude ``amplitudes[k %
    len(amplitudes)]`` (the whole sweep, then again): ``pulse_ms`` at ``−amp``, then
    ``pulse_ms`` at ``+amp``.

    Args:
        amplitudes: Pulse amplitudes, µA (>= 0), at least one.
        repeats: Sweeps (>= 1).
        trial_ms: Trial length, ms (a multiple of ``dt``).
        onset_ms: Pulse onset within a trial, ms (a multiple of ``dt``; the pulse must end
            within the trial).
        pulse_ms: Width of one phase, ms (a multiple of ``dt``).
        dt: Row duration, ms.
        n_channels: Electrodes of the MEA (or an MEA/Env); default 16 (the default MEA).
        channels: Driven electrode columns (``None``: all).
    """

    def __init__(self, amplitudes: Sequence[float], repeats: int = 8, trial_ms: float = 2000.0,
                 onset_ms: float = 1000.0, pulse_ms: float = 0.2, dt: float = 0.1,
                 n_channels: Any = 16,
                 channels: Sequence[int] | int | None = None) -> None:  # fmt: skip
        super().__init__(n_channels, channels, dt)
        if isinstance(amplitudes, int | float | np.integer | np.floating) and not isinstance(
                amplitudes, bool):  # fmt: skip
            amplitudes = [amplitudes]
        if isinstance(amplitudes, str | bytes | dict) or not hasattr(amplitudes, "__iter__"):
            raise ConfigError(f"amplitudes must be a list of µA values (>= 0); got {amplitudes!r}.")
        self.amplitudes = [_amplitude(a, "amplitudes entry") for a in amplitudes]
        if not self.amplitudes:
            raise ConfigError("amplitudes is empty; give at least one pulse amplitude in µA.")
        self.repeats = limits.integer(repeats, "repeats", 1)
        self.trial_ms = positive_ms(trial_ms, "trial_ms")
        self.onset_ms = limits.number(onset_ms, "onset_ms", 0.0, unit="ms")
        self.pulse_ms = positive_ms(pulse_ms, "pulse_ms")
        self._rows(self.pulse_ms, "pulse_ms")
        self._shape = ElectrodePulses(pulse_ms=self.pulse_ms, phase="biphasic", dt=self.dt)
        self._trial = self._rows(self.trial_ms, "trial_ms")
        self._onset = self._rows(self.onset_ms, "onset_ms")
        if self._onset + self._shape.pulse_steps > self._trial:
            raise ConfigError(
                f"onset_ms={self.onset_ms:g} + a pulse of {2 * self.pulse_ms:g} ms does not fit in "
                f"trial_ms={self.trial_ms:g}; move the onset earlier or lengthen the trial."
            )
        n = len(self.amplitudes) * self.repeats
        if n * self._trial > MAX_ROWS:
            raise ConfigError(
                f"{n} trials of {self.trial_ms:g} ms are more than {MAX_ROWS:,} rows of "
                f"dt={self.dt:g} ms; use fewer repeats or amplitudes, or a larger dt."
            )

    @property
    def num_trials(self) -> int:
        """``len(amplitudes) · repeats``."""
        return len(self.amplitudes) * self.repeats

    @property
    def extent_ms(self) -> float:
        """All trials: ``num_trials · trial_ms``."""
        return self.num_trials * self._trial * self.dt

    def schedule(self) -> list[tuple[float, float]]:
        """``(pulse onset ms from the start of the run, amplitude µA)`` per trial, in order."""
        return [((k * self._trial + self._onset) * self.dt, self.amplitudes[k % len(self.amplitudes)])
                for k in range(self.num_trials)]  # fmt: skip

    def _pulses(self) -> list[tuple[int, np.ndarray]]:
        unit = self._shape.waveform()
        return [(k * self._trial + self._onset, self.amplitudes[k % len(self.amplitudes)] * unit)
                for k in range(self.num_trials)]  # fmt: skip

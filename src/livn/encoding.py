"""Encodings: turn inputs into a stimulus for one run (seed 004).

An encoding is a callable ``encoding(env, duration, inputs) -> Stimulus | None``;
``env(decoding=D, inputs=X, encoding=E)`` calls it with ``D.duration`` (ms) and passes the
result to :meth:`livn.env.Env.run`. ``None`` means no stimulus (spontaneous activity).

Electrode stimulation, exactly as implemented by :class:`ElectrodePulses`:

* **Grid.** Electrode currents are an array ``[T, n_channels]`` in µA, one row per ``dt`` ms,
  ``T = ceil(duration / dt)``; it goes to ``env.cell_stimulus(array, dt=dt)``. Columns are the
  MEA's electrodes in row order (for the grids livn builds, column ``k`` is electrode id ``k``).
* **Sign.** Positive current flows out of the electrode into the medium (anodic); cathodic
  current is negative.
* **Pulse.** A monophasic pulse is one phase of ``pulse_ms`` at ``-amplitude`` (cathodic) or
  ``+amplitude`` (anodic). A biphasic pulse is the leading phase (cathodic by default), an
  optional zero-current gap of ``interphase_ms``, then the opposite phase of equal width and
  amplitude: its net charge is exactly zero.
* **Timing.** Pulses start at ``onset_ms + k · period_ms``. All times must be whole multiples
  of ``dt``. With ``period_ms`` and no ``count``, every pulse that fits in the run is given;
  otherwise ``count`` pulses (default 1), all of which must fit.
* **Amplitude.** With ``inputs`` ``[n_channels]`` in ``[0, 1]`` (the MEA's ``input_space``) the
  amplitude of channel ``c`` is ``inputs[c] · amplitude_uA``; without inputs every selected
  channel gets ``amplitude_uA``. ``amplitude_uA`` defaults to the MEA's ``max_input_current``,
  so inputs scale exactly like :meth:`livn.io.MEA.scale_inputs`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from livn.errors import ConfigError, did_you_mean, positive_ms

__all__ = ["PHASES", "POLARITIES", "ElectrodePulses", "Encoding", "NoInput"]

#: Pulse shapes of :class:`ElectrodePulses`.
PHASES: tuple[str, ...] = ("mono", "biphasic")

#: Sign of the (leading) phase: cathodic = negative electrode current, anodic = positive.
POLARITIES: tuple[str, ...] = ("cathodic", "anodic")

#: Most rows of an electrode-current array (one run's stimulus; the limit of integration
#: steps, :data:`livn.limits.MAX_STEPS`).
MAX_ROWS = 2**31 - 1


class Encoding:
    """Base of all encodings: ``__call__(env, duration, inputs) -> Stimulus | None``."""

    def __call__(self, env: Any, duration: float, inputs: Any = None) -> Any:
        """The stimulus for a run of ``duration`` ms encoding ``inputs``, or None for none."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__.")


@dataclass(frozen=True)
class NoInput(Encoding):
    """No stimulus: the culture runs spontaneously. ``inputs`` are ignored."""

    def __call__(self, env: Any, duration: float, inputs: Any = None) -> None:
        positive_ms(duration, "duration")
        return None


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        prefixed = [c for c in choices if isinstance(value, str) and value and c.startswith(value)]
        hint = f" Did you mean '{prefixed[0]}'?" if prefixed else did_you_mean(str(value), choices)
        raise ConfigError(f"{name} must be one of {valid}; got {value!r}.{hint}")
    return str(value)


def _non_negative_ms(value: Any, name: str) -> float:
    from livn.limits import number

    try:
        return number(value, name, 0.0, unit="ms")
    except ConfigError:
        raise ConfigError(f"{name} must be a non-negative number of ms; got {value!r}.") from None


@dataclass(frozen=True)
class ElectrodePulses(Encoding):
    """Current pulses through MEA electrodes (see the module docstring for the rules).

    Args:
        channels: Column indices of the electrodes to drive; default all.
        amplitude_uA: Phase amplitude for an input of 1, µA (> 0); default the MEA's
            ``max_input_current``.
        pulse_ms: Width of one phase, ms (a multiple of ``dt``).
        phase: ``"mono"`` (also ``"monophasic"``) or ``"biphasic"`` (leading phase, then the
            opposite one).
        polarity: Sign of the (leading) phase, ``"cathodic"`` (negative) or ``"anodic"``.
        onset_ms: Start of the first pulse, ms from the start of the run (>= 0).
        period_ms: Onset-to-onset interval of a pulse train, ms; None for a single pulse.
        count: Number of pulses; default 1 without ``period_ms``, else as many as fit.
        interphase_ms: Zero-current gap between the two phases of a biphasic pulse, ms.
        dt: Duration of one row of the current array, ms (> 0).

    Raises:
        ConfigError: For an unknown ``phase``/``polarity``, negative or repeated channels,
            times that are not multiples of ``dt``, overlapping pulses, or bad numbers.
    """

    channels: Sequence[int] | None = None
    amplitude_uA: float | None = None
    pulse_ms: float = 0.2
    phase: str = "biphasic"
    polarity: str = "cathodic"
    onset_ms: float = 0.0
    period_ms: float | None = None
    count: int | None = None
    interphase_ms: float = 0.0
    dt: float = 0.025

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        phase = "mono" if self.phase == "monophasic" else self.phase
        put("phase", _choice(phase, "phase", PHASES))
        put("polarity", _choice(self.polarity, "polarity", POLARITIES))
        put("dt", positive_ms(self.dt, "dt"))
        put("pulse_ms", positive_ms(self.pulse_ms, "pulse_ms"))
        put("onset_ms", _non_negative_ms(self.onset_ms, "onset_ms"))
        put("interphase_ms", _non_negative_ms(self.interphase_ms, "interphase_ms"))
        if self.phase == "mono" and self.interphase_ms > 0:
            raise ConfigError(
                f"interphase_ms={self.interphase_ms:g} applies to biphasic pulses only; "
                "use phase='biphasic' or interphase_ms=0."
            )
        if self.amplitude_uA is not None:
            from livn.limits import number

            try:
                a = number(self.amplitude_uA, "amplitude_uA", 0.0, exclusive_minimum=True)
            except ConfigError:
                raise ConfigError(
                    f"amplitude_uA must be a positive number of µA (or None for the MEA's "
                    f"max_input_current); got {self.amplitude_uA!r}."
                ) from None
            put("amplitude_uA", a)
        if self.channels is not None:
            put("channels", self._check_channels(self.channels))
        if self.count is not None:
            c = self.count
            if isinstance(c, bool) or not isinstance(c, int | np.integer) or c < 1:
                raise ConfigError(f"count must be a positive integer or None; got {c!r}.")
            put("count", int(c))
        width = self.pulse_steps  # validates pulse_ms and interphase_ms against dt
        if self.period_ms is None:
            if self.count is not None and self.count > 1:
                raise ConfigError(
                    f"count={self.count} pulses need a period_ms (onset-to-onset interval)."
                )
        else:
            put("period_ms", positive_ms(self.period_ms, "period_ms"))
            if self._steps(self.period_ms, "period_ms") < width:
                raise ConfigError(
                    f"period_ms={self.period_ms:g} is shorter than one pulse "
                    f"({width * self.dt:g} ms); pulses would overlap. Use a longer "
                    "period or shorter pulses."
                )
        self._steps(self.onset_ms, "onset_ms")

    @staticmethod
    def _check_channels(channels: Any) -> tuple[int, ...]:
        if isinstance(channels, int | np.integer):
            channels = [channels]
        if isinstance(channels, str | bytes | dict) or not hasattr(channels, "__iter__"):
            raise ConfigError(
                f"channels must be electrode column indices (a list of ints) or None; got "
                f"{channels!r}."
            )
        out = []
        for c in channels:
            if isinstance(c, bool) or not isinstance(c, int | np.integer) or c < 0:
                raise ConfigError(
                    f"channels must be non-negative electrode column indices; got {c!r}."
                )
            out.append(int(c))
        if len(set(out)) != len(out):
            raise ConfigError(f"channels must not repeat; got {out}.")
        if not out:
            raise ConfigError("channels is empty; name at least one electrode or pass None (all).")
        return tuple(out)

    # ------------------------------------------------------------------ time grid
    def _steps(self, ms: float, name: str) -> int:
        """``ms`` as a whole number of rows, else ConfigError."""
        k = ms / self.dt
        if not k <= MAX_ROWS:  # also inf/NaN: 1e300 ms / 1e-300 ms
            raise ConfigError(
                f"{name}={ms:g} ms is {k:.3g} stimulus rows of dt={self.dt:g} ms; at most "
                f"{MAX_ROWS:,}. Use a larger dt."
            )
        if abs(k - round(k)) > 1e-6 * max(1.0, k):
            lo = math.floor(k) * self.dt
            hi = math.ceil(k) * self.dt
            raise ConfigError(
                f"{name}={ms:g} ms is not a whole number of stimulus rows of dt={self.dt:g} ms; "
                f"use {lo:g} or {hi:g} ms, or a dt that divides it."
            )
        return round(k)

    @property
    def pulse_steps(self) -> int:
        """Rows one pulse occupies (both phases and the interphase gap of a biphasic pulse)."""
        width = self._steps(self.pulse_ms, "pulse_ms")
        if self.phase == "mono":
            return width
        return 2 * width + self._steps(self.interphase_ms, "interphase_ms")

    def waveform(self) -> np.ndarray:
        """``[pulse_steps]`` current of one pulse per µA of amplitude, one value per row."""
        width = self._steps(self.pulse_ms, "pulse_ms")
        lead = -1.0 if self.polarity == "cathodic" else 1.0
        if self.phase == "mono":
            return np.full(width, lead)
        gap = self._steps(self.interphase_ms, "interphase_ms")
        return np.concatenate([np.full(width, lead), np.zeros(gap), np.full(width, -lead)])

    def num_rows(self, duration: float) -> int:
        """``T = ceil(duration / dt)``: rows covering a run of ``duration`` ms."""
        duration = positive_ms(duration, "duration")
        rows = duration / self.dt
        if not rows <= MAX_ROWS:
            raise ConfigError(
                f"a run of {duration:g} ms is {rows:.3g} stimulus rows of dt={self.dt:g} ms; at "
                f"most {MAX_ROWS:,}. Use a larger dt or a shorter run."
            )
        return max(1, math.ceil(rows - 1e-6))

    def onsets(self, duration: float) -> np.ndarray:
        """``[P]`` int row index at which each pulse starts in a run of ``duration`` ms."""
        first, period, count = self.onset_grid(duration)
        return first + period * np.arange(count, dtype=np.int64)

    def onset_grid(self, duration: float) -> tuple[int, int, int]:
        """``(first, period, count)`` in rows: pulse ``k`` starts at row ``first + k·period``
        (computed without listing the onsets, so a very long run costs nothing)."""
        rows = self.num_rows(duration)
        first = self._steps(self.onset_ms, "onset_ms")
        width = self.pulse_steps
        fit = rows - width - first  # rows left after the first pulse
        if self.period_ms is None:
            period, count = width, 1
        else:
            period = self._steps(self.period_ms, "period_ms")
            count = self.count if self.count is not None else (fit // period + 1 if fit >= 0 else 0)
        if count < 1 or first + (count - 1) * period + width > rows:
            n_fit = fit // period + 1 if fit >= 0 else 0
            raise ConfigError(
                f"{max(count, 1)} pulse(s) starting at onset_ms={self.onset_ms:g} do not fit in "
                f"a run of {float(duration):g} ms ({n_fit} fit); lengthen the run, move the onset "
                "or give fewer pulses."
            )
        return first, period, count

    # ------------------------------------------------------------------ currents
    def channel_inputs(
        self, target: Any, duration: float, inputs: ArrayLike | None = None
    ) -> np.ndarray:
        """Electrode currents for one run.

        Args:
            target: An Env (its ``io``), an MEA, or a channel count (then ``amplitude_uA`` is
                required).
            duration: Length of the run, ms.
            inputs: ``[n_channels]`` amplitudes in ``[0, 1]``; default 1 on every channel.
                Channels outside ``channels`` stay at zero.

        Returns:
            ``[ceil(duration / dt), n_channels]`` float32 currents in µA.
        """
        n_channels, max_current = _channels_of(target)
        scale = self.amplitude_uA if self.amplitude_uA is not None else max_current
        if scale is None:
            raise ConfigError(
                "amplitude_uA is needed when the target is a bare channel count; pass "
                "ElectrodePulses(amplitude_uA=...) or an Env/MEA (whose max_input_current is used)."
            )
        mask = np.zeros(n_channels)
        if self.channels is None:
            mask[:] = 1.0
        else:
            bad = [c for c in self.channels if c >= n_channels]
            if bad:
                raise ConfigError(
                    f"channel index {bad[0]} is out of range for an MEA with {n_channels} "
                    f"channels (valid: 0..{n_channels - 1})."
                )
            mask[list(self.channels)] = 1.0
        if inputs is None:
            factors = np.ones(n_channels)
        else:
            try:
                factors = np.asarray(inputs)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"inputs must be numbers in [0, 1]; got {e}.") from None
            if factors.dtype == bool or not np.issubdtype(factors.dtype, np.number) or (
                    np.iscomplexobj(factors)):  # fmt: skip
                raise ConfigError(f"inputs must be numbers in [0, 1]; got dtype {factors.dtype}.")
            factors = factors.astype(np.float64)
            if factors.shape != (n_channels,):
                raise ConfigError(
                    f"inputs must have shape [n_channels] = ({n_channels},), values in [0, 1]; "
                    f"got shape {factors.shape}."
                )
            if not np.all(np.isfinite(factors)):
                raise ConfigError("inputs contain NaN or infinite values; they must lie in [0, 1].")
            if np.any((factors < 0) | (factors > 1)):
                raise ConfigError(
                    f"inputs must lie in [0, 1] (the MEA's input_space); got values from "
                    f"{factors.min():g} to {factors.max():g}. Scale them, or raise "
                    "amplitude_uA."
                )
        profile = np.zeros(self.num_rows(duration))
        rows = self.onsets(duration)[:, None] + np.arange(self.pulse_steps)[None, :]
        profile[rows] = self.waveform()[None, :]
        amplitudes = scale * factors * mask  # [C] µA
        return (profile[:, None] * amplitudes[None, :]).astype(np.float32)

    def __call__(self, env: Any, duration: float, inputs: ArrayLike | None = None) -> Any:
        """``env.cell_stimulus(self.channel_inputs(env, duration, inputs), dt=self.dt)``."""
        array = self.channel_inputs(env, duration, inputs)
        stimulate = getattr(env, "cell_stimulus", None)
        if stimulate is None:
            raise ConfigError(
                f"{type(env).__name__} has no cell_stimulus(); electrode stimulation needs an Env "
                "whose IO device is an MEA."
            )
        return stimulate(array, dt=self.dt)


def _channels_of(target: Any) -> tuple[int, float | None]:
    """``(n_channels, max_input_current or None)`` of an Env, an MEA or a channel count."""
    if isinstance(target, int | np.integer) and not isinstance(target, bool):
        if target < 1:
            raise ConfigError(f"the channel count must be a positive integer; got {target!r}.")
        return int(target), None
    io = getattr(target, "io", target)
    if hasattr(io, "num_channels"):
        return int(io.num_channels), float(io.max_input_current)
    raise ConfigError(f"expected an Env, an MEA or a channel count; got {type(target).__name__}.")

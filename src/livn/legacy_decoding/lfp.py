"""livn 2.0.0's ``LFP``: electrode potentials from membrane currents, filtered and resampled.

Rules, exactly as implemented:

* **Potential.** :meth:`livn.io.MEA.lfp` of the run's membrane currents (``run.current`` nA,
  rows ``run.current_ids``): ``V = Σ I / (4π σ r)`` µV over the cells within the electrode's
  ``output_radius`` (SPEC §3), one row per channel, sampled every ``record_dt`` ms (the run's
  ``current_dt``, else the Env model's ``record_dt``), i.e. at ``fs = 1000 / record_dt`` Hz.
* **Channels.** ``channels`` picks electrode ids (in the given order); None: all, in the MEA's
  order.
* **Low-pass.** With ``lowpass_hz`` (below ``fs / 2``): a Butterworth filter of order
  ``filter_order`` applied forwards and backwards (zero phase; ``scipy.signal.sosfiltfilt``).
* **Downsampling.** With ``downsample_hz`` below ``fs``: polyphase resampling by the ratio
  ``downsample_hz / fs`` (as a fraction with denominator ≤ 1000) with its anti-aliasing FIR,
  edges padded by a fitted line (``scipy.signal.resample_poly(..., padtype="line")``);
  ``sample_rate_hz`` is ``fs`` times that fraction. None or ≥ ``fs``: no resampling.
* **Band power.** With ``compute_band_power``: per band ``(lo, hi)`` Hz, the integral over
  ``lo <= f < hi`` of the Welch power spectral density (µV²/Hz; ``scipy.signal.welch``,
  Hann segments of 1 s — 1 Hz resolution — or the whole signal if shorter), µV² per channel.
* :meth:`setup` switches on membrane-current recording of all cells (every source adds to the
  field).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from livn import limits
from livn.decoding import Decoding, as_run
from livn.errors import ConfigError, did_you_mean

__all__ = ["BANDS", "LFP"]

#: Default bands for ``compute_band_power``, Hz.
BANDS = {"delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0),
         "gamma": (30.0, 100.0)}  # fmt: skip


def _hz(value: Any, name: str) -> float:
    return limits.number(value, f"LFP {name}", 0.0, exclusive_minimum=True, unit="Hz")


@dataclass(kw_only=True)
class LFP(Decoding):
    """Local field potential per electrode (module rules).

    Args:
        duration: Length of the run, ms.
        channels: Electrode ids to keep, in this order; None: all.
        downsample_hz: Target sample rate, Hz (> 0); None: keep the recording rate.
        lowpass_hz: Low-pass cutoff, Hz (> 0, below half the recording rate); None: no filter.
        compute_band_power: Add ``band_power`` to the result.
        bands: ``{name: (lo, hi)}`` Hz for the band power; default :data:`BANDS`.
        filter_order: Order of the Butterworth low-pass (1–20).

    Returns (when called):
        ``{"lfp" [C, T] µV, "sample_rate_hz", "n_channels", "n_samples", "channel_ids" [C]}``
        and ``"band_power": {name: [C] µV²}`` when asked.
    """

    needs: ClassVar[tuple[str, ...]] = ("membrane_current",)
    channels: Any = None
    downsample_hz: float | None = 1000.0
    lowpass_hz: float | None = None
    compute_band_power: bool = False
    bands: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(BANDS))
    filter_order: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.channels is not None:
            if isinstance(self.channels, str | bytes) or np.ndim(self.channels) > 1:
                raise ConfigError(
                    f"LFP channels must be a list of electrode ids; got {self.channels!r}."
                )
            self.channels = [
                limits.integer(c, "LFP channel id") for c in np.atleast_1d(self.channels).tolist()
            ]
            if not self.channels:
                raise ConfigError("LFP channels is empty; give electrode ids, or None for all.")
        if self.downsample_hz is not None:
            self.downsample_hz = _hz(self.downsample_hz, "downsample_hz")
        if self.lowpass_hz is not None:
            self.lowpass_hz = _hz(self.lowpass_hz, "lowpass_hz")
        if not isinstance(self.compute_band_power, bool):
            raise ConfigError(
                f"LFP compute_band_power must be True or False; got {self.compute_band_power!r}."
            )
        if not isinstance(self.bands, dict) or not self.bands:
            raise ConfigError(
                f"LFP bands must be a dict {{name: (lo, hi) Hz}}; got {self.bands!r}."
            )
        checked = {}
        for name, band in self.bands.items():
            if isinstance(band, str | bytes) or np.ndim(band) != 1 or len(band) != 2:
                raise ConfigError(f"LFP band {name!r} must be (lo, hi) in Hz; got {band!r}.")
            lo = limits.number(band[0], f"LFP band {name!r} lo", 0.0, unit="Hz")
            hi = limits.number(
                band[1], f"LFP band {name!r} hi", lo, exclusive_minimum=True, unit="Hz"
            )
            checked[str(name)] = (lo, hi)
        self.bands = checked
        self.filter_order = limits.integer(self.filter_order, "LFP filter_order", 1, 20)

    def setup(self, env: Any) -> None:
        """Record the membrane current of every cell (what the field sums)."""
        env.record_membrane_current()

    def __call__(self, run: Any, env: Any) -> dict[str, Any]:
        from scipy import signal

        run = as_run(run, self.duration)
        if run.current is None or run.current_ids is None:
            raise ConfigError(
                "LFP needs membrane currents: call env.record_membrane_current() (or "
                "decoding.setup(env)) before the run."
            )
        io = getattr(env, "io", None)
        if io is None or not hasattr(io, "lfp"):
            raise ConfigError("LFP needs an MEA (env.io); pass io=MEA(...) to Env.")
        record_dt = run.current_dt or getattr(getattr(env, "model", None), "record_dt", None)
        if record_dt is None:
            raise ConfigError("LFP needs the recording interval: the run does not know it and "
                              "the Env's model has no record_dt.")  # fmt: skip
        fs = 1000.0 / float(record_dt)
        x = np.asarray(io.lfp(env.system.neuron_coordinates, run.current_ids, run.current))
        ids = [int(c) for c in io.channel_ids]
        if self.channels is not None:
            unknown = [c for c in self.channels if c not in ids]
            if unknown:
                raise ConfigError(
                    f"LFP channels {unknown} are not electrodes of this MEA (ids "
                    f"{ids[0]}..{ids[-1]}).{did_you_mean(str(unknown[0]), map(str, ids))}"
                )
            x = x[[ids.index(c) for c in self.channels]]
            ids = list(self.channels)
        if self.lowpass_hz is not None and x.shape[1] > 1:
            if self.lowpass_hz >= fs / 2:
                raise ConfigError(
                    f"LFP lowpass_hz={self.lowpass_hz:g} must be below half the recording rate "
                    f"({fs / 2:g} Hz at record_dt={record_dt:g} ms)."
                )
            sos = signal.butter(self.filter_order, self.lowpass_hz, fs=fs, output="sos")
            pad = min(3 * (2 * len(sos) + 1), x.shape[1] - 1)
            x = signal.sosfiltfilt(sos, x, axis=1, padlen=pad)
        rate = fs
        if self.downsample_hz is not None and self.downsample_hz < fs and x.shape[1] > 0:
            ratio = Fraction(self.downsample_hz / fs).limit_denominator(1000)
            if ratio == 0:
                raise ConfigError(f"LFP downsample_hz={self.downsample_hz:g} is too low for a "
                                  f"{fs:g} Hz recording (ratio below 1/1000).")  # fmt: skip
            x = signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=1,
                                     padtype="line")  # fmt: skip
            rate = fs * ratio.numerator / ratio.denominator
        out: dict[str, Any] = {"lfp": x, "sample_rate_hz": float(rate), "n_channels": len(ids),
                               "n_samples": int(x.shape[1]), "channel_ids": np.asarray(ids)}  # fmt: skip
        if self.compute_band_power:
            out["band_power"] = self._band_power(signal, x, rate)
        return out

    def _band_power(self, signal: Any, x: np.ndarray, rate: float) -> dict[str, np.ndarray]:
        if x.shape[1] < 2:
            return {name: np.zeros(len(x)) for name in self.bands}
        f, psd = signal.welch(x, fs=rate, nperseg=min(max(2, round(rate)), x.shape[1]), axis=1)
        df = f[1] - f[0]
        return {name: psd[:, (f >= lo) & (f < hi)].sum(axis=1) * df
                for name, (lo, hi) in self.bands.items()}  # fmt: skip

"""livn 2.0.0's ``RecruitmentCurve`` and ``ExtracellularRecruitment``: how many cells a pulse
of each amplitude recruits.

Rules, exactly as implemented (times in ms, amplitudes in µA):

* **Schedule.** Rows ``(onset, amplitude)``: the pulses of the run, onsets from the start of
  the run — a list/array, or an object with ``schedule()`` (e.g.
  :class:`livn.policy.PulseSweepPolicy`, whose ``channels`` then also name the driven
  electrode columns and whose ``extent_ms`` is the default ``duration``).
* **Recruited fraction** of a pulse: the fraction of the cells (of ``population``) with at
  least one spike in ``[onset, onset + post_ms)``; its **baseline fraction**: the same over
  ``[onset − pre_ms, onset)``. Per distinct amplitude (ascending) the curve holds the mean of
  both over that amplitude's pulses and their count.
* ``threshold_ua``: the smallest amplitude whose mean fraction is ``>= recruited`` (NaN if
  none). ``block_ua``: the smallest larger amplitude whose fraction falls below ``recruited``
  again (NaN if none).
* ``peak_mv`` (ExtracellularRecruitment): per amplitude, the largest extracellular potential
  at any cell's soma when every driven electrode carries that current:
  ``a · max_i |Σ_c MEA.field(soma_i)[c]|`` mV (SPEC §3 point source). ``ceiling_ua``: the
  largest amplitude with ``peak_mv <= ceiling_mv`` (NaN without ``ceiling_mv`` or if none).
* ``band``: ``(threshold_ua, upper)``, ``upper`` the largest tested amplitude such that every
  amplitude from the threshold up to it recruits ``>= recruited`` and stays within the
  ceiling; ``(NaN, NaN)`` without a threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from livn import limits
from livn.decoding import Decoding, check_population
from livn.errors import ConfigError
from livn.legacy_decoding.base import MAX_ONSETS, ms, run_spikes

__all__ = ["ExtracellularRecruitment", "RecruitmentCurve", "recruitment_curve"]


def _schedule(value: Any) -> np.ndarray:
    rows = value.schedule() if hasattr(value, "schedule") and callable(value.schedule) else value
    if isinstance(rows, str | bytes | dict) or rows is None:
        raise ConfigError(f"schedule must be rows (onset ms, amplitude µA) or a policy with "
                          f"schedule(); got {value!r}.")  # fmt: skip
    try:
        arr = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.zeros((0, 0))
    if arr.ndim != 2 or arr.shape[1] != 2 or not 1 <= len(arr) <= MAX_ONSETS:
        raise ConfigError(
            f"schedule must be 1 to {MAX_ONSETS:,} rows (onset ms, amplitude µA) or a policy "
            f"with schedule(); got {value!r}."
        )
    if not np.all(np.isfinite(arr)) or np.any(arr[:, 0] < 0):
        raise ConfigError("schedule onsets must be finite and >= 0 ms, amplitudes finite (µA).")
    return arr


def recruitment_curve(ids: np.ndarray, times: np.ndarray, n_units: int, schedule: np.ndarray,
                      pre_ms: float, post_ms: float) -> dict[str, np.ndarray]:  # fmt: skip
    """``{"amplitude_ua", "fraction", "baseline_fraction", "n_pulses"}`` (module rules).

    Args:
        ids: ``[S]`` unit ids of the spikes, in ``[0, n_units)``.
        times: ``[S]`` spike times, ms.
        n_units: Number of units.
        schedule: ``[K, 2]`` rows ``(onset ms, amplitude µA)``.
        pre_ms, post_ms: The baseline and response windows, ms.
    """
    order = np.argsort(times, kind="stable")
    ids, times = np.asarray(ids)[order], np.asarray(times)[order]

    def fraction(lo: float, hi: float) -> float:
        a, b = np.searchsorted(times, [lo, hi], side="left")
        return len(np.unique(ids[a:b])) / n_units

    response = np.array([fraction(o, o + post_ms) for o, _ in schedule])
    baseline = np.array([fraction(o - pre_ms, o) for o, _ in schedule])
    amps, which = np.unique(schedule[:, 1], return_inverse=True)
    count = np.bincount(which, minlength=len(amps))
    return {"amplitude_ua": amps,
            "fraction": np.bincount(which, weights=response, minlength=len(amps)) / count,
            "baseline_fraction": np.bincount(which, weights=baseline, minlength=len(amps)) / count,
            "n_pulses": count}  # fmt: skip


def _threshold_and_block(amps: np.ndarray, frac: np.ndarray, recruited: float
                         ) -> tuple[float, float, int | None]:  # fmt: skip
    hit = np.flatnonzero(frac >= recruited)
    if not hit.size:
        return math.nan, math.nan, None
    first = int(hit[0])
    below = np.flatnonzero(frac[first:] < recruited)
    block = float(amps[first + below[0]]) if below.size else math.nan
    return float(amps[first]), block, first


@dataclass(kw_only=True)
class RecruitmentCurve(Decoding):
    """Fraction of cells recruited per pulse amplitude (module rules).

    Args:
        duration: Length of the run, ms; default the schedule's ``extent_ms``.
        schedule: Rows ``(onset ms, amplitude µA)`` or a policy with ``schedule()``.
        pre_ms: Baseline window before each pulse, ms (>= 0).
        post_ms: Response window after each pulse onset, ms (> 0).
        recruited: Fraction that counts as recruited, in ``(0, 1]``.
        population: Only this population's cells; default all.

    Returns (when called):
        ``{"amplitude_ua", "fraction", "baseline_fraction", "n_pulses", "threshold_ua",
        "block_ua"}``.
    """

    needs: ClassVar[tuple[str, ...]] = ("spikes",)
    duration: Any = None
    schedule: Any = None
    pre_ms: float = 50.0
    post_ms: float = 20.0
    recruited: float = 0.5
    population: str | None = None

    def __post_init__(self) -> None:
        if self.duration is None:
            self.duration = getattr(self.schedule, "extent_ms", None)
        super().__post_init__()
        self.channels = getattr(self.schedule, "channels", None)
        self.schedule = _schedule(self.schedule)
        self.pre_ms = ms(self.pre_ms, f"{type(self).__name__} pre_ms")
        self.post_ms = ms(self.post_ms, f"{type(self).__name__} post_ms", exclusive=True)
        self.recruited = limits.number(self.recruited, f"{type(self).__name__} recruited", 0.0,
                                       1.0, exclusive_minimum=True)  # fmt: skip
        check_population(self.population)

    def _curve(self, run: Any, env: Any) -> dict[str, Any]:
        ids, times, n, _ = run_spikes(run, env, self, self.population)
        curve = recruitment_curve(ids, times, n, self.schedule, self.pre_ms, self.post_ms)
        threshold, block, _ = _threshold_and_block(curve["amplitude_ua"], curve["fraction"],
                                                   self.recruited)  # fmt: skip
        return {**curve, "threshold_ua": threshold, "block_ua": block}

    def __call__(self, run: Any, env: Any) -> dict[str, Any]:
        return self._curve(run, env)


@dataclass(kw_only=True)
class ExtracellularRecruitment(RecruitmentCurve):
    """:class:`RecruitmentCurve` plus the extracellular potential it takes (module rules).

    Args:
        duration, schedule, pre_ms, post_ms, recruited, population: As in
            :class:`RecruitmentCurve`.
        ceiling_mv: Largest acceptable peak extracellular potential, mV (> 0); None: none.
        channels: Driven electrode columns of ``env.io``; default the policy's, else all.

    Returns (when called):
        ``{"curve", "peak_mv", "threshold_ua", "block_ua", "ceiling_ua", "band"}``:
        ``curve`` the dict of :func:`recruitment_curve`, ``peak_mv`` ``[A]`` per amplitude,
        ``band`` a pair of µA.
    """

    ceiling_mv: float | None = None
    channels: Any = None

    def __post_init__(self) -> None:
        channels = self.channels
        super().__post_init__()
        if channels is not None:
            self.channels = channels
        if self.ceiling_mv is not None:
            self.ceiling_mv = limits.number(self.ceiling_mv, "ExtracellularRecruitment ceiling_mv",
                                            0.0, exclusive_minimum=True, unit="mV")  # fmt: skip
        if self.channels is not None:
            if isinstance(self.channels, int | np.integer):
                self.channels = [self.channels]
            self.channels = [limits.integer(c, "ExtracellularRecruitment channel", 0)
                             for c in self.channels]  # fmt: skip

    def __call__(self, run: Any, env: Any) -> dict[str, Any]:
        found = self._curve(run, env)
        amps = found["amplitude_ua"]
        io = getattr(env, "io", None)
        if io is None or not hasattr(io, "field"):
            raise ConfigError("ExtracellularRecruitment needs an MEA (env.io); pass io=MEA(...).")
        nc = np.asarray(env.system.neuron_coordinates, dtype=np.float64)
        if self.population is not None:
            start, count = env.system.population_ranges[self.population]
            nc = nc[(nc[:, 0] >= start) & (nc[:, 0] < start + count)]
        field = np.asarray(io.field(nc[:, 1:4]))  # [n, C] mV per µA
        cols = list(range(field.shape[1])) if self.channels is None else self.channels
        if max(cols) >= field.shape[1]:
            raise ConfigError(f"ExtracellularRecruitment channels {cols} exceed the MEA's "
                              f"{field.shape[1]} electrode columns.")  # fmt: skip
        peak = np.abs(amps) * float(np.max(np.abs(field[:, cols].sum(axis=1)), initial=0.0))
        ceiling = math.nan
        if self.ceiling_mv is not None:
            ok = np.flatnonzero(peak <= self.ceiling_mv)
            ceiling = float(amps[ok[-1]]) if ok.size else math.nan
        band = (math.nan, math.nan)
        first = _threshold_and_block(amps, found["fraction"], self.recruited)[2]
        if first is not None:
            good = (found["fraction"] >= self.recruited) & (
                peak <= (self.ceiling_mv if self.ceiling_mv is not None else math.inf)
            )
            last = first
            while last + 1 < len(amps) and good[last + 1]:
                last += 1
            if good[first]:
                band = (float(amps[first]), float(amps[last]))
        curve = {k: found[k] for k in ("amplitude_ua", "fraction", "baseline_fraction",
                                       "n_pulses")}  # fmt: skip
        return {"curve": curve, "peak_mv": peak, "threshold_ua": found["threshold_ua"],
                "block_ua": found["block_ua"], "ceiling_ua": ceiling, "band": band}  # fmt: skip

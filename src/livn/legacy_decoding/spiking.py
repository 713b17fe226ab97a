"""livn 2.0.0's spike statistics as dict decodings: ``ActiveFraction``, ``ISICV``, ``BurstRate``.

Rules (the statistics themselves are :mod:`livn.decoding`'s; see its module docstring):

* Spikes count in the window ``[0, W]`` ms, ``W`` the run's duration (or the decoding's);
  ``population`` restricts them to one population's cells.
* **ActiveFraction.** A cell is active with at least ``min_spikes`` spikes in the window;
  ``active_fraction = n_active / n_units`` over all ``n_units`` cells (of the population).
* **ISICV.** :func:`livn.decoding.isi_cvs`: per cell with at least ``min_spikes`` spikes,
  ``std(ISI) / mean(ISI)`` (``ddof = 0``); ``isi_cv`` is their mean (NaN if none).
* **BurstRate.** :func:`livn.decoding.detect_bursts` with the same parameters; the rate is
  bursts per second of the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from livn import limits
from livn.decoding import Decoding, check_population, detect_bursts, isi_cvs
from livn.legacy_decoding.base import ms, run_spikes

__all__ = ["ISICV", "ActiveFraction", "BurstRate"]


@dataclass(kw_only=True)
class ActiveFraction(Decoding):
    """Fraction of cells that fired (module rules).

    Args:
        duration: Length of the run, ms.
        min_spikes: Spikes that make a cell active (>= 1).
        population: Only this population's cells; default all.

    Returns (when called):
        ``{"active_fraction", "n_active", "n_units"}``.
    """

    needs: ClassVar[tuple[str, ...]] = ("spikes",)
    min_spikes: int = 1
    population: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.min_spikes = limits.integer(self.min_spikes, "ActiveFraction min_spikes", 1)
        check_population(self.population)

    def __call__(self, run: Any, env: Any) -> dict[str, Any]:
        ids, _, n, _ = run_spikes(run, env, self, self.population)
        active = int(np.sum(np.bincount(ids, minlength=n) >= self.min_spikes))
        return {"active_fraction": active / n, "n_active": active, "n_units": n}


@dataclass(kw_only=True)
class ISICV(Decoding):
    """Coefficient of variation of the inter-spike intervals (module rules).

    Args:
        duration: Length of the run, ms.
        min_spikes: Spikes a cell needs to enter (>= 2).
        population: Only this population's cells; default all.

    Returns (when called):
        ``{"isi_cv", "n_units", "cv"}``: the mean CV, the number of cells that entered and
        their CVs ``[n_units]`` (in gid order).
    """

    needs: ClassVar[tuple[str, ...]] = ("spikes",)
    min_spikes: int = 3
    population: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.min_spikes = limits.integer(self.min_spikes, "ISICV min_spikes", 2)
        check_population(self.population)

    def __call__(self, run: Any, env: Any) -> dict[str, Any]:
        ids, times, _, _ = run_spikes(run, env, self, self.population)
        _, cv = isi_cvs(ids, times, self.min_spikes)
        mean = float(np.mean(cv)) if cv.size else math.nan
        return {"isi_cv": mean, "n_units": int(cv.size), "cv": cv}


@dataclass(kw_only=True)
class BurstRate(Decoding):
    """Network bursts per second (module rules; :func:`livn.decoding.detect_bursts`).

    Args:
        duration: Length of the run, ms.
        bin_ms: Bin width, ms (> 0).
        min_fraction: Fraction of the cells that must fire in a burst bin, in ``(0, 1]``.
        rate_factor: Multiple of the mean population rate a burst bin must reach (>= 0).
        gap_ms: Bursts closer than this merge, ms (>= 0).
        population: Only this population's cells; default all.

    Returns (when called):
        ``{"burst_rate_hz", "n_bursts", "bursts"}``; ``bursts`` is ``[n_bursts, 2]`` rows
        ``(start, end)`` in ms from the start of the window.
    """

    needs: ClassVar[tuple[str, ...]] = ("spikes",)
    bin_ms: float = 10.0
    min_fraction: float = 0.25
    rate_factor: float = 2.0
    gap_ms: float = 50.0
    population: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.bin_ms = ms(self.bin_ms, "BurstRate bin_ms", exclusive=True)
        self.min_fraction = limits.number(self.min_fraction, "BurstRate min_fraction", 0.0, 1.0,
                                          exclusive_minimum=True)  # fmt: skip
        self.rate_factor = limits.number(self.rate_factor, "BurstRate rate_factor", 0.0)
        self.gap_ms = ms(self.gap_ms, "BurstRate gap_ms")
        check_population(self.population)

    def __call__(self, run: Any, env: Any) -> dict[str, Any]:
        ids, times, n, window = run_spikes(run, env, self, self.population)
        bursts = detect_bursts(ids, times, n, window, self.bin_ms, self.min_fraction,
                               self.rate_factor, self.gap_ms)  # fmt: skip
        return {"burst_rate_hz": len(bursts) / (window / 1000.0), "n_bursts": len(bursts),
                "bursts": bursts}  # fmt: skip

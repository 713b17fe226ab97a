"""livn 2.0.0's ``PeriStimulusHistogram``: spiking around stimulus onsets.

Rules, exactly as implemented:

* Spikes count in the run's window ``[0, W]`` ms (of ``population`` if given).
* For each onset ``o`` (ms from the start of the run) a spike at ``t`` falls in bin ``k`` when
  ``edges[k] <= t − o < edges[k + 1]`` with ``edges = −pre_ms + k · bin_ms`` and the last edge
  at ``post_ms`` (the last bin may be shorter): windows are half-open, ``[o − pre_ms, o +
  post_ms)``. Onsets whose window reaches outside the run count all the same (the run simply
  has no spikes there).
* ``psth_hz[k] = counts[k] / (n_trials · n_units · width_k / 1000)``: the rate per cell per
  trial, Hz.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from livn.decoding import Decoding, check_population
from livn.legacy_decoding.base import bin_count, ms, onsets, run_spikes

__all__ = ["PeriStimulusHistogram", "peri_stimulus_counts"]


def peri_stimulus_counts(times: np.ndarray, onset_ms: np.ndarray, pre_ms: float, post_ms: float,
                         bin_ms: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(counts [B] int64, edges [B + 1] ms relative to the onset)`` summed over onsets.

    Args:
        times: ``[S]`` spike times, ms.
        onset_ms: ``[K]`` onsets, ms (same clock as ``times``).
        pre_ms, post_ms: The window ``[o − pre_ms, o + post_ms)`` around each onset.
        bin_ms: Bin width, ms; the last bin ends at ``post_ms``.
    """
    n = bin_count(pre_ms + post_ms, bin_ms)
    edges = -pre_ms + np.arange(n + 1, dtype=np.float64) * bin_ms
    edges[-1] = post_ms
    times = np.sort(np.asarray(times, dtype=np.float64))
    counts = np.zeros(n, dtype=np.int64)
    for o in onset_ms:
        lo, hi = np.searchsorted(times, [o - pre_ms, o + post_ms], side="left")
        rel = times[lo:hi] - o
        k = np.clip(np.floor((rel + pre_ms) / bin_ms).astype(np.int64), 0, n - 1)
        counts += np.bincount(k, minlength=n)
    return counts, edges


@dataclass(kw_only=True)
class PeriStimulusHistogram(Decoding):
    """Trial-averaged rate around stimulus onsets (module rules).

    Args:
        duration: Length of the run, ms.
        onset_ms: Onset time(s), ms from the start of the run: a number or a list.
        pre_ms: Time before each onset, ms (>= 0).
        post_ms: Time after each onset, ms (> 0).
        bin_ms: Bin width, ms (> 0).
        population: Only this population's cells; default all.

    Returns (when called):
        ``{"psth_hz" [B], "counts" [B], "bin_edges_ms" [B + 1] (relative to the onset),
        "n_trials", "n_units"}``.
    """

    needs: ClassVar[tuple[str, ...]] = ("spikes",)
    onset_ms: Any = field(default_factory=lambda: [0.0])
    pre_ms: float = 0.0
    post_ms: float = 100.0
    bin_ms: float = 10.0
    population: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.onset_ms = onsets(self.onset_ms, "PeriStimulusHistogram onset_ms")
        self.pre_ms = ms(self.pre_ms, "PeriStimulusHistogram pre_ms")
        self.post_ms = ms(self.post_ms, "PeriStimulusHistogram post_ms", exclusive=True)
        self.bin_ms = ms(self.bin_ms, "PeriStimulusHistogram bin_ms", exclusive=True)
        bin_count(self.pre_ms + self.post_ms, self.bin_ms, span_name="pre_ms + post_ms")
        check_population(self.population)

    def __call__(self, run: Any, env: Any) -> dict[str, Any]:
        _, times, n, _ = run_spikes(run, env, self, self.population)
        counts, edges = peri_stimulus_counts(times, self.onset_ms, self.pre_ms, self.post_ms,
                                             self.bin_ms)  # fmt: skip
        k = len(self.onset_ms)
        rate = counts / (k * n * np.diff(edges) / 1000.0)
        return {"psth_hz": rate, "counts": counts, "bin_edges_ms": edges, "n_trials": k,
                "n_units": n}  # fmt: skip

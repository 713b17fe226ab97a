"""livn 2.0.0's ``stimulus_response`` and ``StimulusResponse``: how strongly, how soon and how
long a culture answers a stimulus.

Rules, exactly as implemented (times in ms; ``o`` runs over the onsets, ``K`` of them; rates
are per cell, trial-averaged, in Hz):

* **Bins.** Bins of ``bin_size`` aligned to the onset: bin ``j`` covers ``[j·b, (j+1)·b)``
  relative to ``o`` (half-open), for ``j`` from ``−floor(pre_ms / b)`` up to the last bin
  that starts before ``max(post_ms, tail_ms)``. ``rate(j) = count(j) / (K · n_units · b/1000)``.
* **Baseline.** The bins wholly before the onset (``j < 0``): mean ``μ`` and standard
  deviation ``σ`` (``ddof = 0``) of their rates; ``μ = σ = 0`` without such bins
  (``pre_ms < bin_size``). Threshold ``θ = μ + threshold_k · σ``.
* ``evoked_rate_hz``: spikes in ``[o, o + window_ms)`` / ``(K · n_units · window_ms/1000)``.
* ``response_gain``: ``evoked_rate_hz / μ`` (NaN when ``μ = 0``).
* ``response_peak_hz``: the largest ``rate(j)`` over the bins starting in ``[0, post_ms)``.
* ``response_latency_ms``: start of the first of those bins with ``rate(j) > θ`` (NaN if none).
* ``response_duration_ms``: ``b`` × the number of consecutive bins with ``rate > θ`` from the
  latency bin on, among bins starting before ``tail_ms`` (0 without a response).
* ``response_probability``: the fraction of units that fire at least once in
  ``[o, o + window_ms)``, averaged over the onsets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from livn import limits
from livn.decoding import Decoding, check_population
from livn.errors import ConfigError
from livn.legacy_decoding.base import bin_count, ms, onsets, run_spikes

__all__ = ["StimulusResponse", "stimulus_response"]

#: Most units ``stimulus_response`` takes (rates divide by it as a float).
MAX_UNITS = 10**9

KEYS = ("evoked_rate_hz", "response_gain", "response_peak_hz", "response_latency_ms",
        "response_duration_ms", "response_probability")  # fmt: skip


def _parameters(window_ms: Any, pre_ms: Any, post_ms: Any, bin_size: Any, tail_ms: Any,
                threshold_k: Any) -> tuple[float, ...]:  # fmt: skip
    window_ms = ms(window_ms, "window_ms", exclusive=True)
    pre_ms = ms(pre_ms, "pre_ms")
    post_ms = ms(post_ms, "post_ms", exclusive=True)
    bin_size = ms(bin_size, "bin_size", exclusive=True)
    tail_ms = ms(tail_ms, "tail_ms")
    threshold_k = limits.number(threshold_k, "threshold_k", 0.0)
    bin_count(pre_ms + max(post_ms, tail_ms), bin_size, "bin_size",
              span_name="pre_ms + max(post_ms, tail_ms)")  # fmt: skip
    return window_ms, pre_ms, post_ms, bin_size, tail_ms, threshold_k


def stimulus_response(
    it: ArrayLike,
    tt: ArrayLike,
    n_units: int,
    onset_ms: float | ArrayLike,
    *,
    window_ms: float,
    pre_ms: float = 1000.0,
    post_ms: float = 500.0,
    bin_size: float = 10.0,
    tail_ms: float = 4000.0,
    threshold_k: float = 3.0,
) -> dict[str, float]:
    """Response metrics of spikes to stimuli at ``onset_ms`` (module rules).

    Args:
        it: ``[S]`` int ids of the units that spiked.
        tt: ``[S]`` spike times, ms (same clock as ``onset_ms``).
        n_units: Number of units observed (1 to :data:`MAX_UNITS`).
        onset_ms: Onset time(s), ms: a number or a list (trials).
        window_ms: The evoked window after the onset, ms (> 0).
        pre_ms: Baseline before the onset, ms (>= 0).
        post_ms: Where the peak and latency are sought after the onset, ms (> 0).
        bin_size: Bin width, ms (> 0).
        tail_ms: How far after the onset the response may last, ms (>= 0).
        threshold_k: Baseline standard deviations above the mean a response bin must exceed.

    Returns:
        ``{evoked_rate_hz, response_gain, response_peak_hz, response_latency_ms,
        response_duration_ms, response_probability}`` (floats).

    Raises:
        ConfigError: A bad parameter, or spikes that are not matching finite arrays.
    """
    n_units = limits.integer(n_units, "n_units", 1, MAX_UNITS)
    window_ms, pre_ms, post_ms, b, tail_ms, threshold_k = _parameters(
        window_ms, pre_ms, post_ms, bin_size, tail_ms, threshold_k)  # fmt: skip
    starts = onsets(onset_ms)
    ids = np.asarray(it).reshape(-1)
    times = np.asarray(tt, dtype=np.float64).reshape(-1)
    if len(ids) != len(times) or not np.all(np.isfinite(times)):
        raise ConfigError(
            f"it and tt must be matching arrays of spike ids and finite times (ms); got "
            f"{len(ids)} ids and {len(times)} times."
        )
    order = np.argsort(times, kind="stable")
    ids, times = ids[order], times[order]
    k = len(starts)
    n_pre = math.floor(pre_ms / b + 1e-9)
    n_post = bin_count(max(post_ms, tail_ms), b, "bin_size")
    counts = np.zeros(n_pre + n_post, dtype=np.int64)
    evoked, fired = 0, 0.0
    for o in starts:
        lo, hi = np.searchsorted(times, [o - n_pre * b, o + n_post * b], side="left")
        j = np.floor((times[lo:hi] - o) / b).astype(np.int64) + n_pre
        counts += np.bincount(np.clip(j, 0, len(counts) - 1), minlength=len(counts))
        a, z = np.searchsorted(times, [o, o + window_ms], side="left")
        evoked += z - a
        fired += len(np.unique(ids[a:z])) / n_units
    rate = counts / (k * n_units * b / 1000.0)
    base = rate[:n_pre]
    mu, sigma = (float(np.mean(base)), float(np.std(base))) if n_pre else (0.0, 0.0)
    theta = mu + threshold_k * sigma
    after = rate[n_pre:]
    peak_bins = after[: bin_count(post_ms, b, "bin_size")]
    above = np.flatnonzero(peak_bins > theta)
    latency, length = math.nan, 0.0
    if above.size:
        first = int(above[0])
        tail = after[: max(bin_count(tail_ms, b, "bin_size") if tail_ms > 0 else 0, first + 1)]
        run = np.flatnonzero(tail[first:] <= theta)
        length = (run[0] if run.size else len(tail) - first) * b
        latency = first * b
    evoked_rate = evoked / (k * n_units * window_ms / 1000.0)
    return {
        "evoked_rate_hz": float(evoked_rate),
        "response_gain": float(evoked_rate / mu) if mu > 0 else math.nan,
        "response_peak_hz": float(np.max(peak_bins)),
        "response_latency_ms": float(latency),
        "response_duration_ms": float(length),
        "response_probability": float(fired / k),
    }


@dataclass(kw_only=True)
class StimulusResponse(Decoding):
    """:func:`stimulus_response` of a run's spikes (module rules).

    Args:
        duration: Length of the run, ms.
        onset_ms: Onset time(s), ms from the start of the run.
        window_ms: The evoked window, ms (> 0).
        pre_ms, post_ms, bin_size, tail_ms, threshold_k: As in :func:`stimulus_response`.
        population: Only this population's cells (the units); default all cells.

    Returns (when called):
        The dict of :func:`stimulus_response`, ``n_units`` the cells (of the population).
    """

    needs: ClassVar[tuple[str, ...]] = ("spikes",)
    onset_ms: Any = 0.0
    window_ms: float = 100.0
    pre_ms: float = 1000.0
    post_ms: float = 500.0
    bin_size: float = 10.0
    tail_ms: float = 4000.0
    threshold_k: float = 3.0
    population: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.onset_ms = onsets(self.onset_ms)
        (self.window_ms, self.pre_ms, self.post_ms, self.bin_size, self.tail_ms,
         self.threshold_k) = _parameters(self.window_ms, self.pre_ms, self.post_ms,
                                         self.bin_size, self.tail_ms, self.threshold_k)  # fmt: skip
        check_population(self.population)

    def __call__(self, run: Any, env: Any) -> dict[str, float]:
        ids, times, n, _ = run_spikes(run, env, self, self.population)
        return stimulus_response(ids, times, n, self.onset_ms, window_ms=self.window_ms,
                                 pre_ms=self.pre_ms, post_ms=self.post_ms,
                                 bin_size=self.bin_size, tail_ms=self.tail_ms,
                                 threshold_k=self.threshold_k)  # fmt: skip

"""What the livn 2.0.0 decodings share: the window they read and their parameter checks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from livn import limits
from livn.decoding import as_run, population_spikes
from livn.errors import ConfigError

#: Most onsets (trials) one decoding may be given.
MAX_ONSETS = 1_000_000


def window_ms(run: Any, decoding: Any) -> float:
    """Length (ms) of the window a decoding reads: the run's ``duration`` when it knows it,
    else the decoding's."""
    duration = getattr(run, "duration", None)
    return float(decoding.duration if duration is None else duration)


def run_spikes(run: Any, env: Any, decoding: Any, population: str | None = None
               ) -> tuple[np.ndarray, np.ndarray, int, float]:  # fmt: skip
    """``(local gids, times ms, cell count, window ms)`` of the run's spikes in the window
    (of ``population``; see :func:`livn.decoding.population_spikes`)."""
    run = as_run(run, decoding.duration)
    window = window_ms(run, decoding)
    ids, times, n = population_spikes(env, population, run.spike_ids, run.spike_times, window)
    return ids, times, n, window


def ms(value: Any, name: str, minimum: float = 0.0, exclusive: bool = False) -> float:
    """A finite number of ms ``>= minimum`` (``> minimum`` with ``exclusive``)."""
    return limits.number(value, name, minimum, exclusive_minimum=exclusive, unit="ms")


def onsets(value: Any, name: str = "onset_ms") -> np.ndarray:
    """``[K]`` float64 onset times (ms) from a number or a 1-D sequence of finite numbers."""
    if isinstance(value, str | bytes | bool) or value is None:
        raise ConfigError(f"{name} must be a time in ms or a list of times; got {value!r}.")
    try:
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim > 1:
            raise ValueError
        arr = arr.reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{name} must be a time in ms or a list of times; got {value!r}."
        ) from None
    if arr.size == 0 or arr.size > MAX_ONSETS:
        raise ConfigError(f"{name} must hold 1 to {MAX_ONSETS:,} times (ms); got {arr.size:,}.")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name} must be finite times in ms; got {value!r}.")
    return arr


def bin_count(span: float, bin_ms: float, name: str = "bin_ms", span_name: str = "the window"
              ) -> int:  # fmt: skip
    """``ceil(span / bin_ms)`` bins (at least 1), refused above ``livn.decoding.MAX_BINS``
    (the message names ``span_name``, what the span is made of, and ``name``)."""
    from livn.decoding import MAX_BINS

    ratio = span / bin_ms
    if not ratio <= MAX_BINS:
        raise ConfigError(
            f"{span_name} = {span:g} ms in bins of {name}={bin_ms:g} ms is {ratio:.3g} bins; "
            f"at most {MAX_BINS:,}. Use a larger {name} or a shorter window."
        )
    return max(1, math.ceil(ratio - 1e-9))

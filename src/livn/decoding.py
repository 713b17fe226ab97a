"""Decodings: turn the recordings of one run into an output (seed 004).

A decoding is a callable ``decoding(env, it, t, iv, v, im=None, mp=None)`` with a ``duration``
in ms. ``env(decoding=D, inputs=X, encoding=E)`` runs ``D.duration`` ms under the stimulus that
``E`` makes of ``X`` and hands the recordings (see :meth:`livn.env.Env.run`) to ``D``.

**Two call forms.** Every :class:`Decoding` also accepts livn 2.0.0's form
``decoding(run, env)`` (a :class:`livn.result.RunResult` then the Env; exactly two arguments,
where ours always has at least three). A subclass implements ``__call__`` in one of the two
forms — ``(self, env, it, t, iv, v, im=None, mp=None)`` or ``(self, run, env)`` (two
positional parameters) — and the base class converts a call in the other form: the
recordings of a run are ``run.spike_ids, run.spike_times, run.voltage_ids, run.voltage``
(and ``run.current_ids, run.current`` when recorded); recordings become a ``RunResult`` with
``duration`` = the decoding's ``duration``, ``t0 = 0`` and the Env's ``model.record_dt``. A
decoding whose 2.0.0 result differs from ours overrides :meth:`Decoding.decode_run`, which then
answers the ``(run, env)`` form: :class:`MeanFiringRate` gives 2.0.0's dict
``{rate_hz, total_spikes, n_units, duration_s}`` there and our per-cell ``[N]`` Hz array in our
form. :meth:`Decoding.setup` is 2.0.0's hook before a run (a no-op unless a decoding needs
something recorded). livn 2.0.0's other decodings (``LFP``, ``Pipe``, ``Slice``,
``ISICV`` …) live in :mod:`livn.legacy_decoding` and are importable from here too.

The culture statistics are also plain functions of spike gids ``it`` and times ``t`` (ms,
relative to the start of the run). Rules, exactly as implemented:

* **Window.** Only spikes with ``0 <= t <= duration`` count; every rate divides by the full
  ``duration``. Gids must lie in ``[0, num_neurons)``.
* **Bins.** ``ceil(duration / bin_ms)`` bins of ``bin_ms``; bin ``k`` starts at ``k · bin_ms``
  and the last one ends at ``duration`` (it may be shorter; rates use each bin's own width).
* **ISI CV.** Per cell with at least ``min_spikes`` spikes: std / mean of its inter-spike
  intervals (population std, ``ddof = 0``); the result is the mean over those cells.
* **Network bursts.** A bin is *active* when (a) at least ``min_fraction`` of the cells fire in
  it and (b) its population rate is at least ``rate_factor`` times the run's mean population
  rate (so steady firing is not a burst). Runs of consecutive active bins are bursts; bursts
  whose gap (start of the next minus end of the previous) is below ``gap_ms`` merge. The burst
  rate is the number of bursts per second of run.
* **Synchrony.** The Golomb–Rinzel index χ over the cells that spiked at least once, from spike
  counts ``c_i(b)`` in bins of ``bin_ms``: ``χ² = Var_b(mean_i c_i) / mean_i Var_b(c_i)``.
  χ = 1 for identical trains and ≈ 1/sqrt(M) for M independent trains.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from livn.errors import ConfigError, did_you_mean, positive_ms

#: livn 2.0.0's decodings, importable from here (``from livn.decoding import LFP``); they live
#: in :mod:`livn.legacy_decoding` and load on first use.
_LEGACY = {
    "ActiveFraction": "livn.legacy_decoding.spiking",
    "BurstRate": "livn.legacy_decoding.spiking",
    "ISICV": "livn.legacy_decoding.spiking",
    "LFP": "livn.legacy_decoding.lfp",
    "PeriStimulusHistogram": "livn.legacy_decoding.psth",
    "Pipe": "livn.legacy_decoding.pipeline",
    "Slice": "livn.legacy_decoding.pipeline",
    "StimulusResponse": "livn.legacy_decoding.response",
    "stimulus_response": "livn.legacy_decoding.response",
    "RecruitmentCurve": "livn.legacy_decoding.recruitment",
    "ExtracellularRecruitment": "livn.legacy_decoding.recruitment",
}

__all__ = [
    "ChannelRecording",
    "ChannelSpikes",
    "CultureStatistics",
    "CultureStats",
    "Decoding",
    "MeanFiringRate",
    "Raw",
    "Recording",
    "as_run",
    "burst_rate",
    "check_population",
    "detect_bursts",
    "firing_rates",
    "isi_cv",
    "isi_cvs",
    "population_rate",
    "population_spikes",
    "rate_histogram",
    "recordings",
    "synchrony",
    *_LEGACY,
]


# --------------------------------------------------------------------------- result types


class Recording(NamedTuple):
    """The recordings of one run, as :meth:`livn.env.Env.run` returns them.

    Attributes:
        it: ``[S]`` int gids of the spikes, or None.
        t: ``[S]`` spike times, ms from the start of the run, or None.
        iv: ``[R]`` gids of the voltage rows, or None.
        v: ``[R, n_timesteps]`` membrane voltage, mV, or None.
        im: ``[Q]`` gids of the membrane-current rows, or None.
        mp: ``[Q, n_timesteps]`` membrane current, nA, or None.
    """

    it: Any
    t: Any
    iv: Any
    v: Any
    im: Any = None
    mp: Any = None


class ChannelSpikes(NamedTuple):
    """Spikes as the electrodes see them.

    Attributes:
        channel_ids: ``[C]`` electrode ids, in the MEA's row order.
        ids: ``{channel id: [S_c] gids}`` of the spikes each channel records.
        times: ``{channel id: [S_c] times (ms)}`` of those spikes.
        counts: ``[C]`` int number of spikes per channel (order of ``channel_ids``).
        rates: ``[C]`` spikes per second per channel, Hz.
    """

    channel_ids: np.ndarray
    ids: dict[int, np.ndarray]
    times: dict[int, np.ndarray]
    counts: np.ndarray
    rates: np.ndarray


class CultureStats(NamedTuple):
    """Standard statistics of a culture's spiking (see the module docstring for the rules).

    Attributes:
        rate: Mean firing rate, Hz per cell.
        isi_cv: Mean ISI coefficient of variation (NaN if no cell has enough spikes).
        burst_rate: Network bursts per second, Hz.
        synchrony: Golomb–Rinzel χ in ``[0, 1]`` (NaN if fewer than two cells spiked).
    """

    rate: float
    isi_cv: float
    burst_rate: float
    synchrony: float


# --------------------------------------------------------------------------- validation

#: Most time bins a statistic may use (8 bytes each, several arrays of them).
MAX_BINS = 100_000_000


def _num_neurons(value: Any) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if isinstance(value, bool) or n < 1 or n != value:
        raise ConfigError(f"num_neurons must be a positive integer; got {value!r}.")
    return n


def _in_range(value: Any, name: str, low: float, high: float, low_open: bool = False) -> float:
    numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    try:  # strings ('1_000', 'nan') and booleans are not numbers here
        x = float(value) if numeric else math.nan
    except OverflowError:  # 2**1024 has no float
        x = math.nan
    ok = math.isfinite(x) and (x > low if low_open else x >= low) and x <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{name} must be a number in {bracket}{low:g}, {high:g}]; got {value!r}.")
    return x


def _min_spikes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 2:
        raise ConfigError(f"min_spikes must be an integer >= 2; got {value!r}.")
    return int(value)


def _check_spikes(
    it: ArrayLike | None, t: ArrayLike | None, duration: float, num_neurons: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(it int64 [S], t float64 [S])`` restricted to ``0 <= t <= duration``."""
    if it is None or t is None:
        raise ConfigError(
            "no spikes were recorded (it/t is None); call env.record_spikes() before running."
        )
    ids = np.asarray(it).reshape(-1)
    times = np.asarray(t, dtype=np.float64).reshape(-1)
    if len(ids) != len(times):
        raise ConfigError(
            f"it and t must have equal length; got {len(ids)} gids and {len(times)} times."
        )
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        as_float = ids.astype(np.float64)
        if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
            raise ConfigError("spike gids (it) must be integers.")
    ids = ids.astype(np.int64)
    if not np.all(np.isfinite(times)):
        raise ConfigError("spike times (t) contain NaN or infinite values.")
    if num_neurons is not None and ids.size:
        bad = ids[(ids < 0) | (ids >= num_neurons)]
        if bad.size:
            raise ConfigError(
                f"spike gid {int(bad[0])} is out of range for {num_neurons} cells "
                f"(valid: 0..{num_neurons - 1}); pass the cell count of the system that spiked."
            )
    keep = (times >= 0.0) & (times <= duration)
    return ids[keep], times[keep]


def _bins(duration: float, bin_ms: float) -> tuple[int, np.ndarray]:
    """``(n_bins, edges [n_bins + 1] ms)``; the last bin ends at ``duration``."""
    ratio = duration / bin_ms
    if not ratio <= MAX_BINS:  # also inf: 1e308 ms in bins of 1e-300 ms
        raise ConfigError(
            f"a run of {duration:g} ms in bins of {bin_ms:g} ms is {ratio:.3g} bins; at most "
            f"{MAX_BINS:,}. Use a larger bin_ms."
        )
    n = max(1, math.ceil(ratio - 1e-6))
    edges = np.arange(n + 1, dtype=np.float64) * bin_ms
    edges[-1] = duration
    return n, edges


def _bin_index(t: np.ndarray, bin_ms: float, n_bins: int) -> np.ndarray:
    return np.clip(np.floor(t / bin_ms).astype(np.int64), 0, n_bins - 1)


# --------------------------------------------------------------------------- statistics


def firing_rates(it: ArrayLike, t: ArrayLike, num_neurons: int, duration: float) -> np.ndarray:
    """Mean firing rate of each cell over a run.

    Args:
        it: ``[S]`` int gids of the spikes, in ``[0, num_neurons)``.
        t: ``[S]`` spike times, ms from the start of the run.
        num_neurons: Number of cells ``N``.
        duration: Length of the run, ms (> 0).

    Returns:
        ``[N]`` float64 rates in Hz (spikes in the window divided by ``duration / 1000``).
    """
    n = _num_neurons(num_neurons)
    duration = positive_ms(duration, "duration")
    ids, _ = _check_spikes(it, t, duration, n)
    return np.bincount(ids, minlength=n) / (duration / 1000.0)


def population_rate(it: ArrayLike, t: ArrayLike, num_neurons: int, duration: float) -> float:
    """Mean firing rate of the population, Hz per cell (spikes / (N · duration in s))."""
    n = _num_neurons(num_neurons)
    duration = positive_ms(duration, "duration")
    ids, _ = _check_spikes(it, t, duration, n)
    return len(ids) / (n * duration / 1000.0)


def rate_histogram(
    it: ArrayLike, t: ArrayLike, num_neurons: int, duration: float, bin_ms: float = 10.0
) -> np.ndarray:
    """Population rate over time.

    Args:
        it: ``[S]`` int gids of the spikes.
        t: ``[S]`` spike times, ms.
        num_neurons: Number of cells ``N``.
        duration: Length of the run, ms.
        bin_ms: Bin width, ms; the last bin ends at ``duration``.

    Returns:
        ``[ceil(duration / bin_ms)]`` rates in Hz per cell: spikes in the bin / (N · width in s).
    """
    n = _num_neurons(num_neurons)
    duration = positive_ms(duration, "duration")
    bin_ms = positive_ms(bin_ms, "bin_ms")
    _, times = _check_spikes(it, t, duration, n)
    n_bins, edges = _bins(duration, bin_ms)
    counts = np.bincount(_bin_index(times, bin_ms, n_bins), minlength=n_bins)
    return counts / (n * np.diff(edges) / 1000.0)


def isi_cvs(it: ArrayLike, t: ArrayLike, min_spikes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Coefficient of variation of each cell's inter-spike intervals.

    Args:
        it: ``[S]`` int gids of the spikes (any order).
        t: ``[S]`` spike times, ms.
        min_spikes: Cells with fewer spikes are left out (at least 2).

    Returns:
        ``(gids [M] int64, cv [M] float64)`` in gid order, for the ``M`` cells with at least
        ``min_spikes`` spikes and a positive mean interval: ``std(ISI) / mean(ISI)``
        (``ddof = 0``).
    """
    min_spikes = _min_spikes(min_spikes)
    ids, times = _check_spikes(it, t, math.inf)
    order = np.lexsort((times, ids))
    ids, times = ids[order], times[order]
    same = ids[1:] == ids[:-1]
    isi = np.diff(times)[same]
    if isi.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    cells, cell = np.unique(ids[1:][same], return_inverse=True)
    n_isi = np.bincount(cell)
    mean = np.bincount(cell, weights=isi) / n_isi
    std = np.sqrt(np.bincount(cell, weights=(isi - mean[cell]) ** 2) / n_isi)
    keep = (n_isi + 1 >= min_spikes) & (mean > 0)
    return cells[keep], std[keep] / mean[keep]


def isi_cv(it: ArrayLike, t: ArrayLike, min_spikes: int = 3) -> float:
    """Mean coefficient of variation of the inter-spike intervals.

    Args:
        it: ``[S]`` int gids of the spikes (any order).
        t: ``[S]`` spike times, ms.
        min_spikes: Cells with fewer spikes are left out (at least 2).

    Returns:
        The mean over the qualifying cells of ``std(ISI) / mean(ISI)`` (``ddof = 0``,
        :func:`isi_cvs`): 0 for a regular train, ≈ 1 for a Poisson train; NaN if no cell
        qualifies.
    """
    _, cv = isi_cvs(it, t, min_spikes)
    return float(np.mean(cv)) if cv.size else math.nan


def detect_bursts(
    it: ArrayLike,
    t: ArrayLike,
    num_neurons: int,
    duration: float,
    bin_ms: float = 10.0,
    min_fraction: float = 0.25,
    rate_factor: float = 2.0,
    gap_ms: float = 50.0,
) -> np.ndarray:
    """Network bursts: intervals in which many cells fire together.

    A bin of ``bin_ms`` is active when at least ``min_fraction`` of the ``num_neurons`` cells
    fire in it and its population rate is at least ``rate_factor`` times the run's mean rate.
    Consecutive active bins form a burst; bursts less than ``gap_ms`` apart merge.

    Args:
        it: ``[S]`` int gids of the spikes, in ``[0, num_neurons)``.
        t: ``[S]`` spike times, ms.
        num_neurons: Number of cells ``N``.
        duration: Length of the run, ms.
        bin_ms: Bin width, ms (> 0).
        min_fraction: Fraction of cells that must fire in a bin, in ``(0, 1]``.
        rate_factor: Multiple of the mean population rate a bin must reach (>= 0).
        gap_ms: Bursts separated by less than this merge, ms (>= 0).

    Returns:
        ``[n_bursts, 2]`` float64 rows ``(start, end)`` in ms, on bin edges, in time order.
    """
    n = _num_neurons(num_neurons)
    duration = positive_ms(duration, "duration")
    bin_ms = positive_ms(bin_ms, "bin_ms")
    min_fraction = _in_range(min_fraction, "min_fraction", 0.0, 1.0, low_open=True)
    rate_factor = _in_range(rate_factor, "rate_factor", 0.0, math.inf)
    gap_ms = _in_range(gap_ms, "gap_ms", 0.0, math.inf)
    ids, times = _check_spikes(it, t, duration, n)
    if ids.size == 0:
        return np.zeros((0, 2))
    n_bins, edges = _bins(duration, bin_ms)
    b = _bin_index(times, bin_ms, n_bins)
    rate = np.bincount(b, minlength=n_bins) / (n * np.diff(edges) / 1000.0)
    mean_rate = len(ids) / (n * duration / 1000.0)
    cells = np.bincount(np.unique(b * n + ids) // n, minlength=n_bins)
    active = (cells >= min_fraction * n - 1e-9) & (rate >= rate_factor * mean_rate)
    change = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    starts, ends = edges[np.flatnonzero(change == 1)], edges[np.flatnonzero(change == -1)]
    bursts: list[list[float]] = []
    for start, end in zip(starts, ends, strict=True):
        if bursts and start - bursts[-1][1] < gap_ms:
            bursts[-1][1] = end
        else:
            bursts.append([start, end])
    return np.asarray(bursts, dtype=np.float64).reshape(-1, 2)


def burst_rate(
    it: ArrayLike,
    t: ArrayLike,
    num_neurons: int,
    duration: float,
    bin_ms: float = 10.0,
    min_fraction: float = 0.25,
    rate_factor: float = 2.0,
    gap_ms: float = 50.0,
) -> float:
    """Network bursts per second, Hz (:func:`detect_bursts` count / ``duration`` in s)."""
    bursts = detect_bursts(it, t, num_neurons, duration, bin_ms, min_fraction, rate_factor, gap_ms)
    return len(bursts) / (positive_ms(duration, "duration") / 1000.0)


def synchrony(it: ArrayLike, t: ArrayLike, duration: float, bin_ms: float = 5.0) -> float:
    """Golomb–Rinzel synchrony index χ of the cells that spiked.

    With ``c_i(b)`` the spike count of cell ``i`` in bin ``b`` (bins of ``bin_ms``, see the
    module docstring) over the ``M`` cells with at least one spike:
    ``χ² = Var_b(mean_i c_i(b)) / mean_i Var_b(c_i(b))`` (variances over bins, ``ddof = 0``).

    Args:
        it: ``[S]`` int gids of the spikes.
        t: ``[S]`` spike times, ms.
        duration: Length of the run, ms.
        bin_ms: Bin width, ms (> 0).

    Returns:
        χ in ``[0, 1]``: 1 for identical trains, ≈ 1/sqrt(M) for independent ones; NaN if fewer
        than two cells spiked or no cell's count varies.
    """
    duration = positive_ms(duration, "duration")
    bin_ms = positive_ms(bin_ms, "bin_ms")
    ids, times = _check_spikes(it, t, duration)
    cells, cell = np.unique(ids, return_inverse=True)
    m = len(cells)
    if m < 2:
        return math.nan
    n_bins, _ = _bins(duration, bin_ms)
    b = _bin_index(times, bin_ms, n_bins)
    occupied, counts = np.unique(cell * n_bins + b, return_counts=True)
    sum_sq = np.bincount(occupied // n_bins, weights=counts.astype(np.float64) ** 2, minlength=m)
    mean_i = np.bincount(cell, minlength=m) / n_bins
    var_cells = np.mean(sum_sq / n_bins - mean_i**2)
    var_pop = np.var(np.bincount(b, minlength=n_bins) / m)
    if var_cells <= 0:
        return math.nan
    return float(math.sqrt(var_pop / var_cells))


# --------------------------------------------------------------------------- decodings


#: The parameters of our call form, for binding ``decoding(env, it, t, ...)`` by name.
_RECORDINGS_SIGNATURE = inspect.Signature(
    [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                       default=inspect.Parameter.empty if n in ("env", "it", "t") else None)
     for n in ("env", "it", "t", "iv", "v", "im", "mp")]
)  # fmt: skip


def as_run(data: Any, duration: float | None = None, record_dt: float | None = None) -> Any:
    """``data`` as a :class:`livn.result.RunResult`.

    Args:
        data: A ``RunResult`` (returned as is), an object with livn 2.0.0's ``Run`` names
            (``spike_ids spike_times voltage_ids voltage current_ids current``; ``t0``,
            ``duration``, ``voltage_dt`` when it has them), or a tuple ``(it, t, iv, v[, im,
            mp])``.
        duration: Length of the run, ms, when ``data`` does not say.
        record_dt: Interval of the voltage/current samples, ms, when ``data`` does not say.

    Raises:
        ConfigError: ``data`` is none of these.
    """
    from livn.result import RunResult

    if isinstance(data, RunResult):
        return data
    names = ("spike_ids", "spike_times", "voltage_ids", "voltage", "current_ids", "current")
    if all(hasattr(data, n) for n in names[:2]):
        values = [getattr(data, n, None) for n in names]
        duration = getattr(data, "duration", None) or duration
        record_dt = (
            getattr(data, "voltage_dt", None) or getattr(data, "current_dt", None) or record_dt
        )
        t0 = getattr(data, "t0", 0.0) or 0.0
    elif isinstance(data, tuple | list) and len(data) in (4, 6):
        values, t0 = list(data) + [None] * (6 - len(data)), 0.0
    else:
        raise ConfigError(
            f"a decoding called as decoding(run, env) needs the result of env.run (a RunResult "
            f"or a tuple (it, t, iv, v[, im, mp])) first; got {type(data).__name__}."
        )
    full = values[4] is not None or values[5] is not None
    return RunResult(*values, full=full, t0=float(t0), duration=duration, record_dt=record_dt)


def recordings(run: Any) -> tuple[Any, ...]:
    """``(it, t, iv, v)`` of a run, ``(it, t, iv, v, im, mp)`` when currents were recorded."""
    run = as_run(run)
    values = (run.spike_ids, run.spike_times, run.voltage_ids, run.voltage)
    if run.current_ids is None and run.current is None:
        return values
    return (*values, run.current_ids, run.current)


def _record_dt(env: Any) -> float | None:
    value = getattr(getattr(env, "model", None), "record_dt", None)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _upstream_arguments(args: tuple, kwargs: dict) -> tuple[Any, Any] | None:
    """``(run, env)`` of a 2.0.0-form call (exactly two arguments), else None."""
    if len(args) + len(kwargs) != 2 or not set(kwargs) <= {"run", "env"}:
        return None
    if len(args) == 2:
        return args[0], args[1]
    if len(args) == 1:
        return (args[0], kwargs["env"]) if "env" in kwargs else None
    return kwargs["run"], kwargs["env"]


def _declared_form(call: Any) -> str:
    """``"run"`` for ``__call__(self, run, env)``, ``"recordings"`` for ours, ``"any"`` for
    ``*args``."""
    params = list(inspect.signature(call).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return "any"
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return "run" if sum(p.kind in positional for p in params) == 2 else "recordings"


def _both_forms(call: Any, form: str) -> Any:
    """Wrap a subclass's ``__call__`` (written in ``form``) so it takes both call forms."""

    @functools.wraps(call)
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        upstream = _upstream_arguments(args, kwargs)
        if upstream is not None:
            data, env = upstream
            if type(self).decode_run is not Decoding.decode_run:
                return self.decode_run(as_run(data, self.duration, _record_dt(env)), env)
            if form == "run":
                return call(self, data, env)
            return call(self, env, *recordings(as_run(data, self.duration, _record_dt(env))))
        if form == "recordings":
            return call(self, *args, **kwargs)
        try:
            bound = _RECORDINGS_SIGNATURE.bind(*args, **kwargs).arguments
        except TypeError as e:
            raise ConfigError(
                f"{type(self).__name__} is called as decoding(run, env) or decoding(env, it, t, "
                f"iv, v[, im, mp]); {e}."
            ) from None
        env = bound.pop("env")
        values = [bound.get(n) for n in ("it", "t", "iv", "v", "im", "mp")]
        return call(self, as_run(tuple(values), self.duration, _record_dt(env)), env)

    __call__.__livn_form__ = form
    return __call__


@dataclass
class Decoding:
    """Base of all decodings: a run length and ``__call__(env, *recordings)``.

    Either call form works on every subclass (module docstring): ``decoding(env, it, t, iv,
    v[, im, mp])`` (ours; what ``env(decoding)`` calls) and ``decoding(run, env)`` (livn
    2.0.0's). A subclass writes ``__call__`` in one of them.

    Args:
        duration: Length of the run the decoding reads, ms (> 0).

    Attributes:
        needs: What the Env must record for this decoding (``"spikes"``, ``"voltage"``,
            ``"membrane_current"``); jobs check it against their ``record`` before running.

    Raises:
        ConfigError: For a non-positive or non-numeric ``duration``.
    """

    needs: ClassVar[tuple[str, ...]] = ()

    duration: float

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is None or hasattr(call, "__livn_form__"):
            return
        form = _declared_form(call)
        if form != "any":
            cls.__call__ = _both_forms(call, form)

    def __post_init__(self) -> None:
        name = type(self).__name__
        try:
            self.duration = positive_ms(self.duration, f"{name} duration")
        except ConfigError as e:
            raise ConfigError(
                f"{e} Pass the run length in ms, e.g. {name}(duration=1000)."
            ) from None

    def setup(self, env: Any) -> None:
        """livn 2.0.0's hook, called with the Env before the run; does nothing here.

        Subclasses that need a recording switched on (e.g. ``LFP``: membrane currents) do it
        here.
        """
        return None

    def decode_run(self, run: Any, env: Any) -> Any:
        """The result of a ``decoding(run, env)`` call, for decodings whose 2.0.0 result
        differs from ours (e.g. :class:`MeanFiringRate`'s dict). Not overridden: the
        decoding's own result."""
        raise NotImplementedError  # pragma: no cover - only reached when overridden

    def __call__(
        self,
        env: Any,
        it: ArrayLike | None,
        t: ArrayLike | None,
        iv: ArrayLike | None,
        v: ArrayLike | None,
        im: ArrayLike | None = None,
        mp: ArrayLike | None = None,
    ) -> Any:
        """Decode the recordings of one run of ``duration`` ms (see :class:`Recording`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__.")


def check_population(population: Any) -> None:
    """Refuse a ``population`` that is neither a name nor None (names are checked on use)."""
    if population is not None and not isinstance(population, str):
        raise ConfigError(f"population must be a population name or None; got {population!r}.")


def population_spikes(
    env: Any, population: str | None, it: Any, t: Any, duration: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Spikes in the window ``[0, duration]`` ms as ``(local gids, times, cell count)`` of
    ``population`` of ``env.system`` (or of all cells).

    Raises:
        ConfigError: No spikes recorded, malformed spikes, or an unknown population.
    """
    total = int(env.system.num_neurons)
    ids, times = _check_spikes(it, t, duration, total)
    if population is None:
        return ids, times, total
    ranges = env.system.population_ranges
    if population not in ranges:
        names = list(ranges)
        raise ConfigError(
            f"unknown population {population!r}. Valid: {', '.join(names)}."
            f"{did_you_mean(population, names)}"
        )
    start, count = (int(x) for x in ranges[population])
    keep = (ids >= start) & (ids < start + count)
    return ids[keep] - start, times[keep], count


@dataclass
class Raw(Decoding):
    """The recordings unchanged, as a :class:`Recording` ``(it, t, iv, v, im, mp)``."""

    def __call__(
        self,
        env: Any,
        it: ArrayLike | None,
        t: ArrayLike | None,
        iv: ArrayLike | None,
        v: ArrayLike | None,
        im: ArrayLike | None = None,
        mp: ArrayLike | None = None,
    ) -> Recording:
        return Recording(it, t, iv, v, im, mp)


@dataclass
class MeanFiringRate(Decoding):
    """Per-cell mean firing rate over the run (needs recorded spikes).

    Args:
        duration: Length of the run, ms.
        population: Only this population's cells (in gid order); default all cells.

    Returns (when called):
        ``[N]`` rates in Hz, ``N`` the number of cells (of the population); called as
        ``decoding(run, env)`` (livn 2.0.0), the dict of :meth:`decode_run`.
    """

    needs: ClassVar[tuple[str, ...]] = ("spikes",)
    population: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_population(self.population)

    def __call__(
        self,
        env: Any,
        it: ArrayLike | None,
        t: ArrayLike | None,
        iv: ArrayLike | None,
        v: ArrayLike | None,
        im: ArrayLike | None = None,
        mp: ArrayLike | None = None,
    ) -> np.ndarray:
        ids, times, n = population_spikes(env, self.population, it, t, self.duration)
        return firing_rates(ids, times, n, self.duration)

    def decode_run(self, run: Any, env: Any) -> dict[str, float | int]:
        """livn 2.0.0's form ``decoding(run, env)``: a summary dict instead of per-cell rates.

        Returns:
            ``{"rate_hz", "total_spikes", "n_units", "duration_s"}``: spikes in the window
            ``[0, duration]`` (of the population), the number of cells that fired, the window
            in s (the run's own ``duration`` when it knows it, e.g. after ``Slice``, else this
            decoding's) and ``rate_hz = total_spikes / (n_units · duration_s)``, the mean rate
            of the cells that fired (0 when none did).
        """
        duration = float(run.duration) if run.duration is not None else self.duration
        ids, _, _ = population_spikes(env, self.population, run.spike_ids, run.spike_times,
                                       duration)  # fmt: skip
        n_units = len(np.unique(ids))
        seconds = duration / 1000.0
        rate = len(ids) / (n_units * seconds) if n_units else 0.0
        return {"rate_hz": float(rate), "total_spikes": len(ids), "n_units": n_units,
                "duration_s": seconds}  # fmt: skip


@dataclass
class ChannelRecording(Decoding):
    """Spikes per electrode of ``env.io`` (an MEA) and their counts and rates.

    Args:
        duration: Length of the run, ms.
        output_radius: Overrides the MEA's recording radius, µm; default the MEA's.

    Returns (when called):
        :class:`ChannelSpikes`; ``counts``/``rates`` are ``[n_channels]`` in the MEA's order.
    """

    needs: ClassVar[tuple[str, ...]] = ("spikes",)
    output_radius: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.output_radius is not None:
            self.output_radius = _in_range(
                self.output_radius, "output_radius (µm)", 0.0, math.inf, low_open=True
            )

    def __call__(
        self,
        env: Any,
        it: ArrayLike | None,
        t: ArrayLike | None,
        iv: ArrayLike | None,
        v: ArrayLike | None,
        im: ArrayLike | None = None,
        mp: ArrayLike | None = None,
    ) -> ChannelSpikes:
        ids, times = _check_spikes(it, t, self.duration, int(env.system.num_neurons))
        cit, ct = env.io.channel_recording(
            env.system.neuron_coordinates, ids, times, output_radius=self.output_radius
        )
        channel_ids = np.asarray(env.io.channel_ids, dtype=np.int64)
        counts = np.array([len(cit[int(c)]) for c in channel_ids], dtype=np.int64)
        return ChannelSpikes(channel_ids, cit, ct, counts, counts / (self.duration / 1000.0))


@dataclass
class CultureStatistics(Decoding):
    """Rate, ISI CV, network burst rate and synchrony of the run (see the module docstring).

    Args:
        duration: Length of the run, ms.
        bin_ms: Bin width for burst detection, ms.
        min_fraction: Fraction of cells that must fire in a burst bin, in ``(0, 1]``.
        rate_factor: Multiple of the mean rate a burst bin must reach.
        gap_ms: Bursts closer than this merge, ms.
        synchrony_bin_ms: Bin width for the synchrony index, ms.
        min_spikes: Spikes a cell needs to enter the ISI CV (>= 2).
        population: Only this population's cells; default all cells.

    Returns (when called):
        :class:`CultureStats`.
    """

    needs: ClassVar[tuple[str, ...]] = ("spikes",)
    bin_ms: float = 10.0
    min_fraction: float = 0.25
    rate_factor: float = 2.0
    gap_ms: float = 50.0
    synchrony_bin_ms: float = 5.0
    min_spikes: int = 3
    population: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_population(self.population)
        self.bin_ms = positive_ms(self.bin_ms, "bin_ms")
        self.synchrony_bin_ms = positive_ms(self.synchrony_bin_ms, "synchrony_bin_ms")
        self.min_fraction = _in_range(self.min_fraction, "min_fraction", 0.0, 1.0, low_open=True)
        self.rate_factor = _in_range(self.rate_factor, "rate_factor", 0.0, math.inf)
        self.gap_ms = _in_range(self.gap_ms, "gap_ms", 0.0, math.inf)
        self.min_spikes = _min_spikes(self.min_spikes)

    def __call__(
        self,
        env: Any,
        it: ArrayLike | None,
        t: ArrayLike | None,
        iv: ArrayLike | None,
        v: ArrayLike | None,
        im: ArrayLike | None = None,
        mp: ArrayLike | None = None,
    ) -> CultureStats:
        ids, times, n = population_spikes(env, self.population, it, t, self.duration)
        return CultureStats(
            rate=population_rate(ids, times, n, self.duration),
            isi_cv=isi_cv(ids, times, self.min_spikes),
            burst_rate=burst_rate(
                ids,
                times,
                n,
                self.duration,
                self.bin_ms,
                self.min_fraction,
                self.rate_factor,
                self.gap_ms,
            ),
            synchrony=synchrony(ids, times, self.duration, self.synchrony_bin_ms),
        )


def __getattr__(name: str) -> Any:
    if name in _LEGACY:
        value = getattr(importlib.import_module(_LEGACY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'livn.decoding' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LEGACY))

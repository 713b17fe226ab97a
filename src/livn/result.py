"""``RunResult``: what :meth:`livn.env.Env.run` returns, and its channels.

A tuple ``(it, t, iv, v)`` — ``(it, t, iv, v, im, mp)`` when membrane currents are recorded —
whose fields are also named, with livn 2.0.0's ``Run`` names and methods (docs/migrating.md).
A result can also be built from channels, as 2.0.0's ``Run(channels, t0, duration)``:

* ``"spikes"``: :class:`Events` — ``(ids [n] int, times [n] ms from the run's start)``;
* ``"voltage"``: :class:`Series` — ``(ids [n] int, values [n, T] mV, dt ms)``;
* ``"current"``: :class:`Series` — ``(ids [n] int, values [n, T] nA, dt ms)``.

A channel is given as the class or as the plain tuple. Spikes are sorted by time, then gid
(as ``Env.run`` returns them); column ``k`` of a series is the interval ``[k·dt, (k+1)·dt)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from livn import limits
from livn.errors import ConfigError, did_you_mean

__all__ = ["CHANNELS", "Events", "RunResult", "Series"]

#: The channels of a result and the fields that hold them.
CHANNELS = {"spikes": ("it", "t"), "voltage": ("iv", "v"), "current": ("im", "mp")}

_UNSET: Any = object()
_TOL = 1e-6  # ms: times that differ by less are the same (float round-off of t0 + duration)


def _ids(value: Any, name: str) -> np.ndarray:
    """``[n]`` int64 gids (non-negative integers)."""
    try:
        a = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as e:
        raise ConfigError(f"{name} must be a 1-D array of gids (integers >= 0); got {e}.") from None
    if a.ndim == 1 and a.size == 0:  # [] reads as float64
        return np.zeros(0, np.int64)
    if a.ndim != 1 or a.dtype.kind not in "iu" or (a.size and a.min() < 0) or (
            a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.int64).max):  # fmt: skip
        what = f"a {a.ndim}-D array of dtype {a.dtype}" if a.ndim != 1 or a.dtype.kind not in "iu" \
            else f"negative gid {int(a.min())}"  # fmt: skip
        raise ConfigError(f"{name} must be a 1-D array of gids (integers >= 0); got {what}.")
    return a.astype(np.int64, copy=False)


def _reals(value: Any, name: str, ndim: int) -> np.ndarray:
    """A finite real array of ``ndim`` dimensions (its dtype kept; integers as float64)."""
    try:
        a = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as e:
        raise ConfigError(f"{name} must be a {ndim}-D array of finite numbers; got {e}.") from None
    if a.ndim != ndim or a.dtype.kind not in "iuf":
        raise ConfigError(
            f"{name} must be a {ndim}-D array of finite numbers; got a {a.ndim}-D array of "
            f"dtype {a.dtype}."
        )
    limits.finite_array(a, name)
    return a if a.dtype.kind == "f" else a.astype(np.float64)


class Events:
    """Spike events of one run (livn 2.0.0's ``Events``; ``run["spikes"]``).

    Args:
        ids: ``[n]`` gids (integers >= 0).
        times: ``[n]`` ms from the start of the run (finite).
        duration: Length of the run, ms (known for a result's channel), or None.

    Iterates as ``(ids, times)``.
    """

    def __init__(self, ids: Any, times: Any, duration: float | None = None) -> None:
        self.duration = None if duration is None else limits.number(
            duration, "events duration", 0.0, exclusive_minimum=True, unit="ms")  # fmt: skip
        self.ids = _ids(ids, "spike ids")
        self.times = _reals(times, "spike times", 1).astype(np.float64, copy=False)
        if len(self.ids) != len(self.times):
            raise ConfigError(
                f"spike ids and spike times must have the same length; got {len(self.ids)} "
                f"ids and {len(self.times)} times."
            )

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.ids, self.times))

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"Events({len(self)} spikes)"

    def raster(self, dt: float, duration: float | None = None,
               ids: Any = None) -> np.ndarray:  # fmt: skip
        """Spike counts per cell and time bin.

        Args:
            dt: Bin width, ms (> 0).
            duration: Length covered, ms (default: the run's :attr:`duration`, else up to
                the last spike and one ``dt`` after it). Bins follow
                :mod:`livn.decoding`'s rule: ``ceil(duration / dt)`` bins, the last one ends
                at ``duration``; spikes outside ``[0, duration]`` are left out.
            ids: ``[k]`` gids of the rows, distinct (default: the gids that spiked, ascending).

        Returns:
            ``[len(ids), bins]`` int64 counts.
        """
        from livn.decoding import _bin_index, _bins

        dt = limits.number(dt, "raster dt", 0.0, exclusive_minimum=True, unit="ms")
        if duration is None:
            duration = self.duration
        if duration is None:
            duration = float(np.max(self.times)) + dt if len(self) else dt
        duration = limits.number(duration, "raster duration", 0.0, exclusive_minimum=True,
                                 unit="ms")  # fmt: skip
        rows = np.unique(self.ids) if ids is None else _ids(ids, "raster ids")
        n_bins, _ = _bins(duration, dt)
        limits.check_memory(8.0 * len(rows) * n_bins,
                            f"a raster of {len(rows):,} cells × {n_bins:,} bins",
                            "Use a larger dt, a shorter duration or fewer ids")  # fmt: skip
        if len(np.unique(rows)) != len(rows):
            raise ConfigError("raster ids must be distinct (one row per cell); got duplicates.")
        out = np.zeros((len(rows), n_bins), np.int64)
        if not len(rows) or not len(self):
            return out
        order = np.argsort(rows)
        pos = np.minimum(np.searchsorted(rows[order], self.ids), len(rows) - 1)
        keep = (rows[order][pos] == self.ids) & (self.times >= 0) & (self.times <= duration)
        np.add.at(out, (order[pos[keep]], _bin_index(self.times[keep], dt, n_bins)), 1)
        return out


class Series:
    """Sampled traces of one run (livn 2.0.0's ``Series``; ``run["voltage"]``).

    Args:
        ids: ``[n]`` gids of the rows (integers >= 0, distinct).
        values: ``[n, T]`` samples (finite); column ``k`` is the interval ``[k·dt, (k+1)·dt)``.
        dt: Sample interval, ms (> 0).

    Iterates as ``(ids, values)``.
    """

    def __init__(self, ids: Any, values: Any, dt: float) -> None:
        self.ids = _ids(ids, "series ids")
        self.values = _reals(values, "series values", 2)
        self.dt = limits.number(dt, "series dt", 0.0, exclusive_minimum=True, unit="ms")
        if self.values.shape[0] != len(self.ids):
            raise ConfigError(
                f"series values must have one row per id ([{len(self.ids)}, T]); got shape "
                f"{list(self.values.shape)}."
            )
        if len(np.unique(self.ids)) != len(self.ids):
            raise ConfigError("series ids must be distinct (one row per cell); got duplicates.")

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.ids, self.values))

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"Series({len(self)} rows × {np.shape(self.values)[1]} samples, dt={self.dt} ms)"


def _same_duration(a: float | None, b: float | None) -> bool:
    return a == b or (a is not None and b is not None and abs(a - b) <= _TOL)


def _trusted(kind: type, **fields: Any) -> Any:
    """An :class:`Events`/:class:`Series` of arrays that a result already holds (unchecked:
    a simulation's NaN voltage stays readable)."""
    out = object.__new__(kind)
    out.__dict__.update(fields)
    return out


def _channel(name: str, value: Any) -> Events | Series:
    kind = Events if name == "spikes" else Series
    if isinstance(value, kind):
        return value
    form = "(ids, times)" if kind is Events else "(ids, values, dt)"
    if not isinstance(value, tuple | list) or len(value) != (2 if kind is Events else 3):
        raise ConfigError(
            f"channel {name!r} must be {'an' if kind is Events else 'a'} {kind.__name__} or "
            f"a tuple {form}; got "
            f"{type(value).__name__}."
        )
    return kind(*value)


class RunResult(tuple):
    """``(it, t, iv, v[, im, mp])`` with named access: ``.it .t .iv .v .im .mp``.

    Four values, six when membrane currents are recorded (seed 001 unpacks four, seed 004
    six; ``it, t, iv, v, *_ = env.run(d)`` works for both and on livn 2.0.0). livn 2.0.0's
    ``Run`` names are properties too (docs/migrating.md): ``spike_ids spike_times voltage_ids
    voltage voltage_sections current_ids current voltage_dt current_dt t0 duration t1
    channels``, ``result["spikes"]`` (a channel), and :meth:`slice`, :meth:`select`,
    :meth:`concat`, :meth:`merge`, :meth:`gather`.

    Built by :meth:`livn.env.Env.run`, or from channels as livn 2.0.0's
    ``Run(channels, t0=0, duration=None)`` (:meth:`from_channels`; the module docstring
    describes the channels).
    """

    _fields = ("it", "t", "iv", "v", "im", "mp")

    def __new__(cls, it, t=_UNSET, iv=_UNSET, v=_UNSET, im=None, mp=None, full: bool = False,
                t0: float = 0.0, duration: float | None = None,
                record_dt: float | None = None):  # fmt: skip
        if isinstance(it, Mapping):  # Run(channels, t0=0, duration=None)
            if v is not _UNSET or im is not None or mp is not None or full is not False or (
                    record_dt is not None):  # fmt: skip
                raise ConfigError(
                    "Run(channels, t0=0, duration=None) takes the channels and at most t0 and "
                    "duration; the arrays go inside the channels (see livn.result)."
                )
            if t is not _UNSET:
                if not (isinstance(t0, float | int) and t0 == 0):
                    raise ConfigError("Run(channels, ...) got t0 twice (by position and by name).")
                t0 = t
            if iv is not _UNSET:
                if duration is not None:
                    raise ConfigError(
                        "Run(channels, ...) got duration twice (by position and by name)."
                    )
                duration = iv
            return cls.from_channels(it, t0=t0, duration=duration)
        if any(x is _UNSET for x in (t, iv, v)):
            raise ConfigError(
                f"RunResult(it, t, iv, v, ...) needs the four fields (None where not recorded), "
                f"or Run(channels, t0, duration) a mapping of channels; got {type(it).__name__} "
                "alone."
            )
        items = (it, t, iv, v, im, mp) if full else (it, t, iv, v)
        self = super().__new__(cls, items)
        self._named = dict(zip(cls._fields, (it, t, iv, v, im, mp), strict=True))
        self._full = full
        #: Simulated time (ms) at the start of the run; spike times are relative to it.
        self.t0 = float(t0)
        #: Length of the run, ms.
        self.duration = None if duration is None else float(duration)
        #: Interval of the voltage and current samples, ms.
        self.record_dt = None if record_dt is None else float(record_dt)
        return self

    @classmethod
    def from_channels(cls, channels: Mapping[str, Any], t0: float = 0.0,
                      duration: float | None = None) -> RunResult:  # fmt: skip
        """A result from channels (livn 2.0.0's ``Run(channels, t0, duration)``).

        Args:
            channels: ``{"spikes": Events | (ids, times), "voltage": Series | (ids, values,
                dt), "current": Series | (ids, values, dt)}``; any may be left out (not
                recorded). Spikes are sorted by time, then gid.
            t0: Simulated time at the start, ms (>= 0).
            duration: Length, ms (> 0); default the length of the series (``T · dt``), or
                None with spikes alone.

        Returns:
            Four values, six when there is a ``"current"`` channel (as from ``Env.run``).

        Raises:
            ConfigError: An unknown channel name, a malformed channel, voltage and current
                of different ``dt``, spikes outside ``[0, duration]`` or series longer than
                ``duration``.
        """
        if not isinstance(channels, Mapping):
            raise ConfigError(
                f"Run channels must be a mapping like {{'spikes': (ids, times)}}; got "
                f"{type(channels).__name__}."
            )
        for name in channels:
            if name not in CHANNELS:
                raise ConfigError(
                    f"unknown Run channel {name!r}. Valid: {', '.join(CHANNELS)}."
                    f"{did_you_mean(str(name), CHANNELS)}"
                )
        chans = {k: _channel(k, v) for k, v in channels.items() if v is not None}
        t0 = limits.number(t0, "Run t0", 0.0, unit="ms")
        series = [chans[k] for k in ("voltage", "current") if k in chans]
        dts = {s.dt for s in series}
        if len(dts) > 1:
            raise ConfigError(
                f"voltage dt={series[0].dt:g} ms and current dt={series[1].dt:g} ms differ; a "
                "result has one recording interval (record_dt). Resample one of them."
            )
        record_dt = dts.pop() if dts else None
        if duration is None and series:  # the length of the samples (None if there are none)
            duration = max(s.values.shape[1] for s in series) * record_dt or None
            if duration is not None and not math.isfinite(duration):
                raise ConfigError(
                    f"the series of {max(s.values.shape[1] for s in series)} samples of dt="
                    f"{record_dt:g} ms last longer than any run; use a smaller dt."
                )
        if duration is not None:
            duration = limits.number(duration, "Run duration", 0.0, exclusive_minimum=True,
                                     unit="ms")  # fmt: skip
            for name, s in ((k, chans[k]) for k in ("voltage", "current") if k in chans):
                ratio = duration / s.dt  # inf for a tiny dt: any number of samples fits
                if math.isfinite(ratio) and s.values.shape[1] > math.floor(ratio + 1e-6):
                    raise ConfigError(
                        f"the {name} channel has {s.values.shape[1]} samples of {s.dt:g} ms, "
                        f"longer than the Run duration={duration:g} ms."
                    )
        it = t = None
        if "spikes" in chans:
            ev = chans["spikes"]
            late = ev.times[(ev.times < 0) | (ev.times > (duration or math.inf) + _TOL)]
            if late.size:
                raise ConfigError(
                    f"spike time {float(late[0]):g} ms lies outside the run [0, "
                    f"{duration if duration is not None else math.inf:g}] ms (spike times are "
                    "relative to t0)."
                )
            order = np.lexsort((ev.ids, ev.times))
            it, t = ev.ids[order], ev.times[order]
        iv, v = tuple(chans["voltage"]) if "voltage" in chans else (None, None)
        im, mp = tuple(chans["current"]) if "current" in chans else (None, None)
        return cls(it, t, iv, v, im, mp, full="current" in chans, t0=t0, duration=duration,
                   record_dt=record_dt)  # fmt: skip

    def __getattr__(self, name: str):
        try:
            return self.__dict__["_named"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: Any) -> Any:
        """``result[i]``: the i-th value; ``result["spikes"]``: a channel (livn 2.0.0)."""
        if isinstance(key, str):
            chans = self.channels
            if key not in chans:
                recorded = ", ".join(chans) or "none"
                raise KeyError(
                    f"{key!r}: not a channel of this result (recorded: {recorded}; the "
                    f"channels are {', '.join(CHANNELS)})."
                )
            return chans[key]
        return super().__getitem__(key)

    def __reduce__(self):
        n = self._named
        return (_run_result, (n["it"], n["t"], n["iv"], n["v"], n["im"], n["mp"], self._full,
                              self.t0, self.duration, self.record_dt))  # fmt: skip

    # livn 2.0.0's names (Run)
    spike_ids = property(lambda self: self._named["it"], doc="``[n]`` gids of the spikes.")
    spike_times = property(lambda self: self._named["t"], doc="``[n]`` ms, from ``t0``.")
    voltage_ids = property(lambda self: self._named["iv"], doc="Gids of the voltage rows.")
    voltage = property(lambda self: self._named["v"], doc="``[cells, samples]`` mV.")
    current_ids = property(lambda self: self._named["im"], doc="Gids of the current rows.")
    current = property(lambda self: self._named["mp"], doc="``[cells, samples]`` nA.")
    voltage_dt = property(lambda self: self.record_dt if self._named["v"] is not None else None,
                          doc="Voltage sample interval, ms (None if not recorded).")  # fmt: skip
    current_dt = property(lambda self: self.record_dt if self._named["mp"] is not None else None,
                          doc="Current sample interval, ms (None if not recorded).")  # fmt: skip

    @property
    def voltage_sections(self) -> np.ndarray | None:
        """The section of each voltage row: ``"soma"`` (the voltage here is somatic; 2.0.0
        had a row per section). None if voltage was not recorded."""
        iv = self._named["iv"]
        return None if self._named["v"] is None else np.full(len(iv), "soma")

    @property
    def t1(self) -> float | None:
        """Simulated time (ms) at the end of the run."""
        return None if self.duration is None else self.t0 + self.duration

    @property
    def channels(self) -> dict[str, Events | Series]:
        """The recorded channels: ``{"spikes": Events, "voltage": Series, "current":
        Series}`` (those recorded)."""
        n, out = self._named, {}
        if n["it"] is not None:
            out["spikes"] = _trusted(Events, ids=n["it"], times=n["t"], duration=self.duration)
        for name, (ids, values) in (("voltage", ("iv", "v")), ("current", ("im", "mp"))):
            if n[values] is not None:
                out[name] = _trusted(Series, ids=n[ids], values=n[values], dt=self.record_dt)
        return out

    def _replace(self, **changes: Any) -> RunResult:
        n = {**self._named, **changes.pop("named", {})}
        kw = {"full": self._full, "t0": self.t0, "duration": self.duration,
              "record_dt": self.record_dt, **changes}  # fmt: skip
        return RunResult(n["it"], n["t"], n["iv"], n["v"], n["im"], n["mp"], **kw)

    def slice(self, start: float, stop: float | None = None) -> RunResult:
        """The part ``[start, stop)`` ms of the run (relative to its start), as a result
        that starts there: spike times relative to ``start``, sample columns of whole
        intervals inside the window, ``t0`` moved to ``t0 + start``.

        Raises:
            ConfigError: A window outside ``[0, duration]`` or empty.
        """
        end = self.duration if stop is None else stop
        if end is None:
            raise ConfigError("slice needs stop= (ms): this result does not know its duration.")
        start = limits.number(start, "slice start", 0.0, unit="ms")
        end = limits.number(end, "slice stop", start, self.duration, unit="ms")
        named = {}
        if self._named["it"] is not None:
            keep = (self._named["t"] >= start) & (self._named["t"] < end)
            named["it"], named["t"] = self._named["it"][keep], self._named["t"][keep] - start
        if self.record_dt is not None:
            a, b = (round(x / self.record_dt) for x in (start, end))
            for name in ("v", "mp"):
                if self._named[name] is not None:
                    named[name] = self._named[name][:, a:b]
        return self._replace(named=named, t0=self.t0 + start, duration=end - start)

    def select(self, gids: Iterable[int] | None = None, population: str | None = None,
               population_ranges: Mapping[str, tuple[int, int]] | None = None) -> RunResult:  # fmt: skip
        """Only the spikes and traces of ``gids`` and/or of ``population`` (whose gid range
        comes from ``population_ranges``, e.g. ``env.system.population_ranges``)."""
        keep = None if gids is None else np.unique(np.asarray(list(gids), dtype=np.int64))
        if population is not None:
            ranges = dict(population_ranges or {})
            if population not in ranges:
                raise ConfigError(
                    f"select population {population!r}: pass population_ranges= (e.g. "
                    f"env.system.population_ranges) that include it; given: "
                    f"{', '.join(ranges) or 'none'}."
                )
            start, count = ranges[population]
            pop = np.arange(start, start + count)
            keep = pop if keep is None else np.intersect1d(keep, pop)
        if keep is None:
            return self._replace()
        named = {}
        for ids, values in (("it", "t"), ("iv", "v"), ("im", "mp")):
            if self._named[ids] is not None:
                mask = np.isin(self._named[ids], keep)
                named[ids], named[values] = self._named[ids][mask], self._named[values][mask]
        return self._replace(named=named)

    def _recorded(self) -> tuple[str, ...]:
        return tuple(k for k, (_, values) in CHANNELS.items() if self._named[values] is not None)

    def concat(self, *others: RunResult) -> RunResult:
        """This run followed by ``others`` in time, as one result (livn 2.0.0's ``concat``).

        Each run must start where the previous one ended (``t0 == previous t1``, e.g.
        consecutive ``env.run`` calls) and record the same channels, the same voltage and
        current rows and the same ``record_dt``. Spike times become relative to this run's
        ``t0``; sample columns are joined. ``RunResult.concat(a, b, c)`` works too.

        Raises:
            ConfigError: A run that is not a RunResult, does not know its duration, does
                not follow the previous one, or records other channels, rows or intervals.
        """
        runs = [self, *others]
        for i, r in enumerate(runs):
            if not isinstance(r, RunResult):
                raise ConfigError(f"concat: run {i} is a {type(r).__name__}, not a Run.")
            if r.duration is None:
                raise ConfigError(f"concat: run {i} does not know its duration.")
        for i, (a, b) in enumerate(itertools.pairwise(runs), start=1):
            if abs(b.t0 - a.t1) > _TOL:
                raise ConfigError(
                    f"concat: run {i} starts at t0={b.t0:g} ms, not where run {i - 1} ends "
                    f"(t1={a.t1:g} ms); only consecutive runs join."
                )
            sampled = a._named["v"] is not None or a._named["mp"] is not None
            if b._recorded() != a._recorded() or (sampled and b.record_dt != a.record_dt):
                raise ConfigError(
                    f"concat: run {i} records {', '.join(b._recorded()) or 'nothing'} every "
                    f"{b.record_dt} ms, run {i - 1} {', '.join(a._recorded()) or 'nothing'} "
                    f"every {a.record_dt} ms; they must record the same."
                )
            for ids in ("iv", "im"):
                if a._named[ids] is not None and not np.array_equal(a._named[ids], b._named[ids]):
                    raise ConfigError(
                        f"concat: run {i} records {'voltage' if ids == 'iv' else 'current'} "
                        f"of other cells than run {i - 1}; select the same gids first."
                    )
        named = {}
        if self._named["it"] is not None:
            named["it"] = np.concatenate([np.asarray(r._named["it"]) for r in runs])
            named["t"] = np.concatenate([np.asarray(r._named["t"]) + (r.t0 - self.t0)
                                         for r in runs])  # fmt: skip
        for name in ("v", "mp"):
            if self._named[name] is not None:
                named[name] = np.concatenate([np.asarray(r._named[name]) for r in runs], axis=1)
        return self._replace(named=named, duration=sum(r.duration for r in runs))

    def merge(self, *others: RunResult) -> RunResult:
        """This run and ``others`` over the same window, as one result of all their cells
        (livn 2.0.0's ``merge``; e.g. the results of the MPI ranks, :meth:`gather`).

        Spikes are joined and sorted by time, then gid; voltage and current rows are joined
        and sorted by gid (a gid may appear in one run only). A channel recorded by some
        runs only is kept with what they recorded. ``RunResult.merge(a, b)`` works too.

        Raises:
            ConfigError: A run that is not a RunResult, another ``t0``, ``duration`` or
                ``record_dt``, another number of samples, or a gid recorded twice.
        """
        runs = [self, *others]
        for i, r in enumerate(runs):
            if not isinstance(r, RunResult):
                raise ConfigError(f"merge: run {i} is a {type(r).__name__}, not a Run.")
            if abs(r.t0 - self.t0) > _TOL or not _same_duration(r.duration, self.duration):
                raise ConfigError(
                    f"merge: run {i} covers t0={r.t0:g} ms for {r.duration} ms, run 0 t0="
                    f"{self.t0:g} ms for {self.duration} ms; only runs of the same window merge "
                    "(use concat for consecutive runs)."
                )
        series = [r for r in runs if r._named["v"] is not None or r._named["mp"] is not None]
        dts = {r.record_dt for r in series}
        if len(dts) > 1:
            raise ConfigError(f"merge: the runs record at different intervals {sorted(dts)} ms.")
        named = {}
        spikes = [r for r in runs if r._named["it"] is not None]
        if spikes:
            it = np.concatenate([np.asarray(r._named["it"]) for r in spikes])
            t = np.concatenate([np.asarray(r._named["t"]) for r in spikes])
            order = np.lexsort((it, t))
            named["it"], named["t"] = it[order], t[order]
        for ids, values, what in (("iv", "v", "voltage"), ("im", "mp", "current")):
            parts = [r for r in runs if r._named[values] is not None]
            if not parts:
                continue
            widths = {np.shape(r._named[values])[1] for r in parts}
            if len(widths) > 1:
                raise ConfigError(f"merge: the {what} of the runs has {sorted(widths)} samples.")
            gids = np.concatenate([np.asarray(r._named[ids]) for r in parts])
            uniq, counts = np.unique(gids, return_counts=True)
            if np.any(counts > 1):
                raise ConfigError(
                    f"merge: gid {int(uniq[counts > 1][0])} has {what} in more than one run; "
                    "merge joins runs of different cells."
                )
            order = np.argsort(gids, kind="stable")
            rows = np.concatenate([np.asarray(r._named[values]) for r in parts])
            named[ids], named[values] = gids[order], rows[order]
        full = any(r._full for r in runs)
        return self._replace(named=named, full=full, record_dt=dts.pop() if dts else self.record_dt)

    def gather(self, comm: Any = None, root: int = 0) -> RunResult | None:
        """The :meth:`merge` of this result over the MPI ranks, on ``root`` (None on the
        other ranks); without MPI, this result (livn 2.0.0's ``gather``).

        Args:
            comm: An mpi4py communicator (default ``MPI.COMM_WORLD`` when running under
                MPI); see :class:`livn.utils.P`.
            root: The rank that receives the result.
        """
        from livn.utils import P

        runs = P.gather(self, comm=comm, root=root)
        return None if runs is None else runs[0].merge(*runs[1:])


def _run_result(it, t, iv, v, im, mp, full, t0, duration, record_dt) -> RunResult:
    return RunResult(it, t, iv, v, im, mp, full=full, t0=t0, duration=duration,
                     record_dt=record_dt)  # fmt: skip

"""``RunResult``: what :meth:`livn.env.Env.run` returns.

A tuple ``(it, t, iv, v)`` — ``(it, t, iv, v, im, mp)`` when membrane currents are recorded —
whose fields are also named, with livn 2.0.0's ``Run`` names and methods (docs/migrating.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from livn import limits
from livn.errors import ConfigError


class RunResult(tuple):
    """``(it, t, iv, v[, im, mp])`` with named access: ``.it .t .iv .v .im .mp``.

    Four values, six when membrane currents are recorded (seed 001 unpacks four, seed 004
    six; ``it, t, iv, v, *_ = env.run(d)`` works for both and on livn 2.0.0). livn 2.0.0's
    ``Run`` names are properties too (docs/migrating.md): ``spike_ids spike_times voltage_ids
    voltage current_ids current voltage_dt current_dt t0 duration t1``, and
    :meth:`slice`, :meth:`select`.
    """

    _fields = ("it", "t", "iv", "v", "im", "mp")

    def __new__(cls, it, t, iv, v, im=None, mp=None, full: bool = False, t0: float = 0.0,
                duration: float | None = None, record_dt: float | None = None):  # fmt: skip
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

    def __getattr__(self, name: str):
        try:
            return self.__dict__["_named"][name]
        except KeyError:
            raise AttributeError(name) from None

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
    def t1(self) -> float | None:
        """Simulated time (ms) at the end of the run."""
        return None if self.duration is None else self.t0 + self.duration

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


def _run_result(it, t, iv, v, im, mp, full, t0, duration, record_dt) -> RunResult:
    return RunResult(it, t, iv, v, im, mp, full=full, t0=t0, duration=duration,
                     record_dt=record_dt)  # fmt: skip

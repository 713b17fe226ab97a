"""livn 2.0.0's ``Pipe`` and ``Slice``: chain decodings, and cut a window out of a run.

* **Pipe.** ``Pipe(stages)(run, env)`` calls each stage as ``stage(data, env)`` in order,
  starting with ``data = run``; a stage's result replaces ``data`` unless it is ``None`` (a
  stage that only has side effects keeps the data). The result is the last ``data``. Its
  ``duration`` is the given one, else the largest ``duration`` of its stages; ``setup(env)``
  calls every stage's ``setup``.
* **Slice.** ``Slice(start, stop)(run, env)`` is ``run.slice(start, stop)``
  (:meth:`livn.result.RunResult.slice`): spikes in ``[start, stop)`` ms of the run, times made
  relative to ``start``, traces cut to whole sample intervals, ``duration = stop − start``.
  ``stop=None`` is the end of the run. Its ``duration`` (what ``env(Slice(...))`` runs) is the
  given one, else ``stop``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from livn.decoding import Decoding, as_run
from livn.errors import ConfigError, positive_ms
from livn.legacy_decoding.base import ms

__all__ = ["Pipe", "Slice"]

#: Most stages one Pipe may have.
MAX_STAGES = 10_000


class Pipe(Decoding):
    """Stages applied in turn to a run (module docstring).

    Args:
        stages: Decodings or callables ``f(data, env)``; at least one.
        duration: Length of the run, ms; default the largest ``duration`` among the stages
            (None if no stage has one: then the Pipe can be called on a run but not passed to
            ``env(...)``).

    Raises:
        ConfigError: No stages, a stage that is not callable, or a bad ``duration``.
    """

    def __init__(self, stages: Iterable[Callable[[Any, Any], Any]], duration: float | None = None
                 ) -> None:  # fmt: skip
        if isinstance(stages, str | bytes) or not isinstance(stages, Iterable):
            raise ConfigError(f"Pipe stages must be a list of decodings; got {stages!r}.")
        stages = list(stages)
        if not 1 <= len(stages) <= MAX_STAGES:
            raise ConfigError(
                f"Pipe stages must hold 1 to {MAX_STAGES:,} decodings; got {len(stages):,}."
            )
        for k, stage in enumerate(stages):
            if not callable(stage):
                raise ConfigError(
                    f"Pipe stage {k} ({stage!r}) is not callable; pass decodings or functions "
                    "f(data, env)."
                )
        if duration is None:
            own = [float(s.duration) for s in stages if getattr(s, "duration", None) is not None]
            duration = max(own) if own else None
        self.stages = stages
        self.duration = None if duration is None else positive_ms(duration, "Pipe duration")

    @property
    def needs(self) -> tuple[str, ...]:  # type: ignore[override]
        """What the stages need recorded, together."""
        out: list[str] = []
        for stage in self.stages:
            out += [n for n in getattr(stage, "needs", ()) if n not in out]
        return tuple(out)

    def setup(self, env: Any) -> None:
        """Every stage's ``setup(env)``, in order."""
        for stage in self.stages:
            setup = getattr(stage, "setup", None)
            if callable(setup):
                setup(env)

    def __call__(self, run: Any, env: Any) -> Any:
        data = run
        for stage in self.stages:
            out = stage(data, env)
            if out is not None:
                data = out
        return data

    def __eq__(self, other: object) -> bool:
        same = (self.stages, self.duration) == (getattr(other, "stages", None),
                                                getattr(other, "duration", None))  # fmt: skip
        return type(other) is Pipe and same

    def __repr__(self) -> str:
        return f"Pipe(stages={self.stages!r}, duration={self.duration!r})"


class Slice(Decoding):
    """The window ``[start, stop)`` ms of a run (module docstring).

    Args:
        start: Start of the window, ms from the start of the run (>= 0).
        stop: End of the window, ms (> start); None: the end of the run.
        duration: Length of the run to simulate, ms; default ``stop``.

    Raises:
        ConfigError: Negative ``start``, ``stop <= start``, or a bad ``duration``.
    """

    def __init__(self, start: float = 0.0, stop: float | None = None,
                 duration: float | None = None) -> None:  # fmt: skip
        self.start = ms(start, "Slice start")
        self.stop = None if stop is None else ms(stop, "Slice stop", self.start, exclusive=True)
        if duration is None:
            duration = self.stop
        self.duration = None if duration is None else positive_ms(duration, "Slice duration")

    def __call__(self, run: Any, env: Any) -> Any:
        return as_run(run, self.duration).slice(self.start, self.stop)

    def __eq__(self, other: object) -> bool:
        return type(other) is Slice and (self.start, self.stop, self.duration) == (
            other.start, other.stop, other.duration)  # fmt: skip

    def __repr__(self) -> str:
        return f"Slice(start={self.start:g}, stop={self.stop!r}, duration={self.duration!r})"

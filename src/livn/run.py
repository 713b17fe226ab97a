"""Compatibility with livn 2.0.0: its ``livn.run`` module (docs/migrating.md).

2.0.0 scripts import ``Run`` from here for type checks and annotations. Here the result of
:meth:`livn.env.Env.run` is :class:`livn.result.RunResult`, which carries 2.0.0's ``Run`` names
(``spike_ids``, ``voltage``, ``t0``, ``slice``, ``select``, …); ``Run`` is that class, not a
second implementation. Building a result from channels (2.0.0's ``Run(channels, t0,
duration)``) is not supported: results come from ``Env.run``.
"""

from livn.result import RunResult as Run

__all__ = ["Run"]

"""Compatibility with livn 2.0.0: its ``livn.run`` module (docs/migrating.md).

2.0.0 scripts import ``Run``, ``Events`` and ``Series`` from here. The result of
:meth:`livn.env.Env.run` is :class:`livn.result.RunResult`, which carries 2.0.0's ``Run``
names (``spike_ids``, ``voltage``, ``t0``, ``slice``, ``select``, ``concat``, ``merge``, …)
and is built from channels as 2.0.0's ``Run(channels, t0=0, duration=None)``; ``Run`` is that
class, not a second implementation. It unpacks to four values, six when there are currents
(docs/migrating.md says why).
"""

from livn.result import Events, Series
from livn.result import RunResult as Run

__all__ = ["Events", "Run", "Series"]

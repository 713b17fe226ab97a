"""Compatibility with livn 2.0.0: its decodings that return dicts (docs/migrating.md).

livn 2.0.0 scripts import these from :mod:`livn.decoding` (``from livn.decoding import LFP``),
which re-exports them lazily. Each is a :class:`livn.decoding.Decoding` written in 2.0.0's
call form ``decoding(run, env)`` and so also callable as ``decoding(env, it, t, iv, v[, im,
mp])`` and through ``env(decoding)``; each computes from our own statistics, MEA and
:class:`livn.result.RunResult` (no second implementation).

==========================  ============================================================
:mod:`.pipeline`            ``Pipe`` (stages in turn; a ``None`` result keeps the data),
                            ``Slice`` (a window of the run)
:mod:`.spiking`             ``ActiveFraction``, ``ISICV``, ``BurstRate``
:mod:`.psth`                ``PeriStimulusHistogram``
:mod:`.response`            ``stimulus_response``, ``StimulusResponse``
:mod:`.lfp`                 ``LFP`` (membrane currents → electrode potentials, filtered)
:mod:`.recruitment`         ``RecruitmentCurve``, ``ExtracellularRecruitment``
==========================  ============================================================

The window a decoding reads is the run's own ``duration`` when the run knows it (so after a
``Slice`` it is the slice), else the decoding's ``duration``.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "Pipe": "pipeline",
    "Slice": "pipeline",
    "ActiveFraction": "spiking",
    "ISICV": "spiking",
    "BurstRate": "spiking",
    "PeriStimulusHistogram": "psth",
    "stimulus_response": "response",
    "StimulusResponse": "response",
    "LFP": "lfp",
    "RecruitmentCurve": "recruitment",
    "ExtracellularRecruitment": "recruitment",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

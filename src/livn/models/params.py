"""Default parameters of a model on a system: tuned files and synapse templates.

Every model provides ``default_params(system) -> {"weights": {...}, "noise": {...}}``, the
parameters :meth:`livn.env.Env.apply_model_defaults` applies. A system may carry tuned ones as
``params/<MODEL>.json`` (written from a predefined config's ``defaults:`` block, or by
``livn systems tune ... --promote``); :func:`tuned_params` reads them for any model, and
:func:`template_params` gives each mechanism's template weight (its release sites) with the
model's own noise, the fallback of models without a rule of their own (RCSD derives weights
from the realised in-degrees: :mod:`livn.models.rcsd.defaults`).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["template_params", "tuned_params"]


def tuned_params(system: Any, model_name: str) -> dict[str, dict[str, float]] | None:
    """The system's ``params/<model_name>.json`` (for RCSD also a livn 2.0.0
    ``params/default.json``, see :meth:`livn.system.System.model_params`), or ``None``."""
    stored = getattr(system, "model_params", None)
    if callable(stored):
        return stored(model_name)
    from livn import _fs

    path = _fs.join(system.uri, f"params/{model_name}.json")
    if not _fs.exists(path):
        return None
    return json.loads(_fs.read_text(path))


def template_params(system: Any, noise: dict[str, float] | None = None) -> dict[str, dict[str, float]]:
    """Each mechanism's template weight (release sites) and ``noise`` (default: RCSD's
    SPEC §2.5 noise)."""
    if noise is None:
        from livn.models.rcsd.model import NOISE_DEFAULTS

        noise = NOISE_DEFAULTS
    weights = {}
    for p in system.graph.projections:
        for mech, m in p.mechanisms.items():
            weights[f"{p.post}_{p.pre}-{p.section}-{mech}-weight"] = m.weight
    return {"weights": weights, "noise": dict(noise)}

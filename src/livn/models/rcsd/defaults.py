"""Default weights and noise of the RCSD model for a system without ``params/RCSD.json``."""

from __future__ import annotations

from livn.models.rcsd.model import NOISE_DEFAULTS


def default_params(system) -> dict[str, dict[str, float]]:
    """Built-in defaults: each mechanism's template weight and the SPEC §2.5 noise."""
    weights = {}
    for p in system.graph.projections:
        for mech, m in p.mechanisms.items():
            weights[f"{p.post}_{p.pre}-{p.section}-{mech}-weight"] = m.weight
    return {"weights": weights, "noise": dict(NOISE_DEFAULTS)}

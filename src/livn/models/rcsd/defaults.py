"""Default weights and noise of the RCSD model for a system without ``params/RCSD.json``.

A system's tuned defaults live in ``params/RCSD.json`` (written from a predefined config's
``defaults:`` block, or by ``livn systems tune ... --promote``). Without that file,
:meth:`livn.env.Env.apply_model_defaults` applies :func:`derived_params`: weights derived from
the system's *realised* in-degrees and synapse templates, so that a freshly generated culture
of any size and connectivity receives the same synaptic drive per cell as the tuned EI2
culture and is alive (a few Hz per cell) without tuning. The one-release-site template weights
(:func:`template_params`) leave a culture almost silent (0.1–0.4 Hz per cell, driven only by
the noise).

**The rule** (docs/tuning.md). The *charge* of one synapse is the time integral of its
conductance per presynaptic spike, ``Σ_mechanisms weight · g_unit · ∫s(t) dt`` (µS·ms; ``s`` the
peak-normalised dual exponential, NMDA counted at its Mg-block at −65 mV). For every post
population and input type (excitatory, inhibitory), the weights of all its input projections
are scaled by one factor chosen so that the mean charge per post cell — charge per synapse ×
synapses per post cell (the realised ``num_edges / count``), summed over the projections —
equals :data:`DRIVE` for that post cell type and input type. NMDA keeps
:data:`NMDA_FACTOR` of the AMPA scaling, and excitatory cells get the raised excitatory noise
of the tuned systems (:data:`EXC_NOISE_FACTOR`). Different transmitters (cholinergic: 7 release
sites, τ 7 ms; glycinergic) are thereby normalised by their charge, not their release sites.
"""

from __future__ import annotations

import math
from typing import Any

from livn.models.params import template_params
from livn.models.rcsd.model import NOISE_DEFAULTS, PHYSICS

__all__ = [
    "DRIVE",
    "EXC_NOISE_FACTOR",
    "NMDA_FACTOR",
    "default_params",
    "defaults_source",
    "derived_params",
    "synapse_charge",
    "template_params",
]

#: Target charge per post cell (µS·ms per presynaptic spike of every input synapse), by
#: ``(post cell type, input type)``. Calibrated by tuning runs (docs/tuning.md): EI2's tuned
#: setting (excitation ×30, inhibition ×40 per synapse, NMDA ×0.1) gives 0.72 (exc → EXC and
#: exc → INH), 1.08 (inh → EXC) and 0.43 (inh → INH); the constants below are that drive times
#: the factors found by the studies.
DRIVE: dict[tuple[str, str], float] = {
    ("excitatory", "excitatory"): 0.687,
    ("inhibitory", "excitatory"): 0.687,
    ("excitatory", "inhibitory"): 1.43,
    ("inhibitory", "inhibitory"): 0.478,
}
#: NMDA weight as a fraction of the AMPA scaling (as in every tuned system).
NMDA_FACTOR = 0.1
#: Excitatory background noise (``g_e0``, ``std_e``) of excitatory cells, × SPEC §2.5.
EXC_NOISE_FACTOR = 1.5
#: Membrane potential at which the NMDA Mg block is evaluated for the charge, mV.
V_REST = -65.0


#: Former name of :func:`template_params`.
default_params = template_params


def synapse_charge(mechanism: str, info: Any, weight: float | None = None) -> float:
    """Conductance integral of one synapse of ``mechanism`` per presynaptic spike, µS·ms.

    Args:
        mechanism: Mechanism name (``AMPA``, ``NMDA``, ``GABA_A``, …).
        info: Its template (``e``, ``g_unit``, ``tau_rise``, ``tau_decay``, ``weight``).
        weight: The weight (release sites); default the template's.
    """
    w = float(info.weight if weight is None else weight)
    tr, td = float(info.tau_rise), float(info.tau_decay)
    if tr > 0 and td > tr:
        tp = tr * td / (td - tr) * math.log(td / tr)
        area = (td - tr) / (math.exp(-tp / td) - math.exp(-tp / tr))
    else:
        area = td
    block = 1.0
    if mechanism.upper().startswith("NMDA"):
        block = PHYSICS.mg_block(math, V_REST)
    return w * float(info.g_unit) * area * block


def _mechanism_factor(mechanism: str) -> float:
    return NMDA_FACTOR if mechanism.upper().startswith("NMDA") else 1.0


def derived_params(system, noise: dict[str, float] | None = None) -> dict[str, dict[str, float]]:
    """Weights derived from the realised in-degrees and transmitters (see the module
    docstring), and the noise of the tuned systems.

    Args:
        system: A :class:`~livn.system.System`.
        noise: The model's noise parameters (default the SPEC §2.5 built-ins); excitatory
            cells get ``g_e0`` and ``std_e`` × :data:`EXC_NOISE_FACTOR` of these.

    Returns:
        ``{"weights": {every weight key: value}, "noise": {name: value, then
        population-prefixed overrides}}``, the format of ``params/RCSD.json``.
    """
    graph = system.graph
    types = {p.name: p.synapse_type for p in graph.populations}
    counts = {p.name: p.count for p in graph.populations}
    charge: dict[tuple[str, str], float] = {}  # (post, input type) -> template charge per cell
    for p in graph.projections:
        if p.num_edges == 0 or counts[p.post] == 0:
            continue
        per_synapse = sum(synapse_charge(m, info) * _mechanism_factor(m)
                          for m, info in p.mechanisms.items())  # fmt: skip
        key = (p.post, p.type)
        charge[key] = charge.get(key, 0.0) + per_synapse * p.num_edges / counts[p.post]
    weights: dict[str, float] = {}
    for p in graph.projections:
        c = charge.get((p.post, p.type), 0.0)
        scale = DRIVE[(types[p.post], p.type)] / c if c > 0 else 1.0
        for m, info in p.mechanisms.items():
            value = float(info.weight) * scale * _mechanism_factor(m)
            weights[f"{p.post}_{p.pre}-{p.section}-{m}-weight"] = float(f"{value:.6g}")
    base = dict(NOISE_DEFAULTS if noise is None else noise)
    out = dict(base)
    for pop in graph.populations:
        if pop.synapse_type == "excitatory" and pop.count > 0:
            for name in ("g_e0", "std_e"):
                out[f"{pop.name}-{name}"] = float(f"{base[name] * EXC_NOISE_FACTOR:.6g}")
    return {"weights": weights, "noise": out}


def defaults_source(system, model: str = "RCSD") -> tuple[str, str]:
    """Where :meth:`~livn.env.Env.apply_model_defaults` takes this system's parameters from.

    Returns:
        ``("tuned", text)`` when the system has ``params/<model>.json`` (a predefined
        config's ``defaults:`` block, or a promoted tuning study), else ``("derived", text)``.
    """
    from livn import _fs

    path = _fs.join(system.uri, f"params/{model}.json")
    if _fs.exists(path):
        return "tuned", (
            f"tuned: params/{model}.json (a predefined config's defaults: block, or a "
            "promoted tuning study)"
        )
    if model != "RCSD":
        return "template", f"templates: {model} has no derived defaults (one release site)"
    return "derived", (
        "derived, not tuned: no params/RCSD.json, so weights are set from the realised "
        "in-degrees and transmitters (same synaptic drive per cell as the tuned EI2; "
        "docs/tuning.md); tune with `livn systems tune system=... --launch`"
    )

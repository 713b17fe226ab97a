"""Synapse definitions stored with a system (SPEC §2.4).

A projection ``pre -> post`` carries one transmitter template: a set of dual-exponential
mechanisms with reversal potential ``e`` (mV), unit conductance ``g_unit`` (µS), rise and decay
time constants (ms), and a default ``weight`` (number of release sites). The target section is
the soma for inhibitory synapses, and for excitatory synapses the dendrite of excitatory
(two-compartment) cells or the soma of inhibitory cells.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

SynapseType = Literal["excitatory", "inhibitory"]

TRANSMITTERS: dict[str, dict[str, dict[str, float]]] = {
    "glutamatergic": {
        "AMPA": {"e": 0.0, "g_unit": 5e-4, "tau_rise": 0.5, "tau_decay": 3.0, "weight": 1.0},
        "NMDA": {"e": 0.0, "g_unit": 5e-4, "tau_rise": 0.5, "tau_decay": 80.0, "weight": 1.0},
    },
    "gabaergic": {
        "GABA_A": {"e": -60.0, "g_unit": 1e-3, "tau_rise": 0.3, "tau_decay": 6.0, "weight": 1.0},
    },
    "cholinergic": {
        "AMPA": {"e": 0.0, "g_unit": 5e-4, "tau_rise": 0.5, "tau_decay": 7.0, "weight": 7.0},
    },
    "glycinergic": {
        "GABA_A": {"e": -70.0, "g_unit": 2.5e-4, "tau_rise": 0.3, "tau_decay": 5.0, "weight": 5.0},
    },
}

DEFAULT_TRANSMITTER: dict[str, str] = {"excitatory": "glutamatergic", "inhibitory": "gabaergic"}


def target_section(pre_type: SynapseType, post_type: SynapseType) -> str:
    """Section of the post cell that a ``pre_type -> post_type`` synapse targets."""
    if pre_type == "excitatory" and post_type == "excitatory":
        return "dendrite"
    return "soma"


def projection_synapse(pre_type: SynapseType, post_type: SynapseType) -> dict[str, Any]:
    """The synapse definition for a projection between populations of the given types."""
    transmitter = DEFAULT_TRANSMITTER[pre_type]
    return {
        "type": pre_type,
        "transmitter": transmitter,
        "section": target_section(pre_type, post_type),
        "mechanisms": copy.deepcopy(TRANSMITTERS[transmitter]),
    }


def weight_name(post: str, pre: str, section: str, mechanism: str) -> str:
    """Weight key of SPEC §2.4, e.g. ``EXC_INH-soma-GABA_A-weight``."""
    return f"{post}_{pre}-{section}-{mechanism}-weight"

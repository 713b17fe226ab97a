"""Synapse definitions stored with a system (SPEC §2.4).

A projection ``pre -> post`` carries the transmitter template of its presynaptic population: a
set of dual-exponential mechanisms with reversal potential ``e`` (mV), unit conductance
``g_unit`` (µS), rise and decay time constants (ms), and a default ``weight`` (number of release
sites). A population's transmitter defaults by its synapse type (glutamatergic for excitatory,
GABAergic for inhibitory); cholinergic (excitatory) and glycinergic (inhibitory) are the other
choices. The target section is the soma for inhibitory synapses, and for excitatory synapses the
dendrite of excitatory (two-compartment) cells or the soma of inhibitory cells.
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

#: The synapse type (sign) each transmitter can be released by.
TRANSMITTER_SIGN: dict[str, SynapseType] = {
    "glutamatergic": "excitatory",
    "cholinergic": "excitatory",
    "gabaergic": "inhibitory",
    "glycinergic": "inhibitory",
}


def check_transmitter(transmitter: str | None, synapse_type: str) -> str:
    """The transmitter of a population of ``synapse_type``: ``transmitter``, or the default.

    Raises:
        ValueError: For an unknown transmitter, or one of the other sign (the message lists
            the valid choices for ``synapse_type``); config validators turn it into a
            ConfigError naming the key.
    """
    from livn.errors import did_you_mean

    valid = [t for t, sign in TRANSMITTER_SIGN.items() if sign == synapse_type]
    if transmitter is None:
        return DEFAULT_TRANSMITTER[synapse_type]
    if not isinstance(transmitter, str) or transmitter not in TRANSMITTERS:
        raise ValueError(
            f"unknown transmitter {transmitter!r}; valid for {synapse_type} cells: "
            f"{', '.join(valid)}.{did_you_mean(str(transmitter), valid)}"
        )
    if TRANSMITTER_SIGN[transmitter] != synapse_type:
        raise ValueError(
            f"transmitter {transmitter!r} is {TRANSMITTER_SIGN[transmitter]}, but the population's "
            f"synapse_type is {synapse_type}; valid for {synapse_type} cells: {', '.join(valid)}"
        )
    return transmitter


def target_section(pre_type: SynapseType, post_type: SynapseType) -> str:
    """Section of the post cell that a ``pre_type -> post_type`` synapse targets."""
    if pre_type == "excitatory" and post_type == "excitatory":
        return "dendrite"
    return "soma"


def projection_synapse(
    pre_type: SynapseType,
    post_type: SynapseType,
    transmitter: str | None = None,
    section: str | None = None,
) -> dict[str, Any]:
    """The synapse definition for a projection between populations of the given types.

    Args:
        pre_type, post_type: Synapse types of the pre and post populations.
        transmitter: The presynaptic population's transmitter (default by ``pre_type``).
        section: Target section on the post cell (default: :func:`target_section`).
    """
    transmitter = check_transmitter(transmitter, pre_type)
    return {
        "type": pre_type,
        "transmitter": transmitter,
        "section": section or target_section(pre_type, post_type),
        "mechanisms": copy.deepcopy(TRANSMITTERS[transmitter]),
    }


def weight_name(post: str, pre: str, section: str, mechanism: str) -> str:
    """Weight key of SPEC §2.4, e.g. ``EXC_INH-soma-GABA_A-weight``."""
    return f"{post}_{pre}-{section}-{mechanism}-weight"

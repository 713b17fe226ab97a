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


#: Other spellings of a section in weight keys: livn 2.0.0 writes ``dend``.
SECTION_ALIASES: dict[str, str] = {"dend": "dendrite"}
#: Seed 004's section in ``EXC_EXC-hillock-AMPA-weight``. No livn system places synapses on the
#: hillock (RCSD's ``axon0``, the axon compartment next to the soma), so in a weight key it
#: cannot mean that section; it stands for the projection's own target section (any section).
ANY_SECTION = "hillock"


def _key_parts(key: str, populations: list[str]) -> tuple[str, str, str, str]:
    """``(post, pre, section, mechanism)`` of a full weight key (population names may hold
    ``_``: the split is the one that yields two of ``populations``)."""
    proj, section, mechanism, _ = key.rsplit("-", 3)
    for post in populations:
        if proj.startswith(post + "_") and proj[len(post) + 1 :] in populations:
            return post, proj[len(post) + 1 :], section, mechanism
    post, _, pre = proj.partition("_")
    return post, pre, section, mechanism


def resolve_weight_key(key: object, keys: list[str],
                       populations: list[str] | None = None) -> list[str]:  # fmt: skip
    """The full weight keys that ``key`` names, in ``keys`` order.

    A key is ``"{post}_{pre}-{section}-{mechanism}-weight"`` (SPEC §2.4) or, as in livn 2.0.0,
    a part of it: the projection ``"{post}_{pre}"`` or the post population ``"{post}"`` first,
    then any of a section, a mechanism and ``weight``; what is left out matches everything
    (``"EXC_EXC"`` names all EXC→EXC weights, ``"INH-GABA_A"`` all GABA_A weights onto INH).
    Sections may be spelt ``dend`` (2.0.0) for ``dendrite``; ``hillock`` (seed 004) matches
    any section (see :data:`ANY_SECTION`).

    Args:
        key: The user's key.
        keys: All full weight keys of the network (``Env.weight_names``).
        populations: The system's population names (to split ``post_pre`` where names hold
            ``_``; default: split at the first ``_``).

    Raises:
        ConfigError: A key that is not a string, has a part that names no projection,
            population, section or mechanism, a parameter other than ``weight``, or matches
            no weight; the message lists the valid keys and the nearest one.
    """
    from livn.errors import ConfigError, did_you_mean

    def refuse(why: str) -> ConfigError:
        if not keys:
            return ConfigError(f"unknown weight {key!r}: this network has no synapses, so it has "
                               "no weights to set (e.g. a ParallelSystem).")  # fmt: skip
        hint = did_you_mean(str(key), keys)
        return ConfigError(
            f"unknown weight {key!r}: {why}. Valid: {', '.join(keys)} (2.0.0 spellings work too: "
            f"'dend' for 'dendrite', parts left out match all).{hint}"
        )

    if not isinstance(key, str) or not key:
        raise refuse("a weight key is a non-empty string like 'EXC_INH-soma-GABA_A-weight'")
    if key in keys:
        return [key]
    parts = [_key_parts(k, list(populations or [])) for k in keys]
    projections = {f"{p[0]}_{p[1]}": (p[0], p[1]) for p in parts}
    posts = {p[0] for p in parts}
    # the head is the longest leading run of '-'-parts that names a projection or population
    pieces = key.split("-")
    cut = next((i for i in range(len(pieces), 0, -1)
                if "-".join(pieces[:i]) in projections.keys() | posts), 1)  # fmt: skip
    head, rest = "-".join(pieces[:cut]), pieces[cut:]
    sections = {p[2] for p in parts}
    mechanisms = {p[3] for p in parts}
    if head in projections:
        want = dict(zip(("post", "pre"), projections[head], strict=True))
    elif head in posts:
        want = {"post": head}
    else:
        raise refuse(f"{head!r} names no projection ({', '.join(sorted(projections))}) and no "
                     f"post population ({', '.join(sorted(posts))})")  # fmt: skip
    for part in rest:
        if part == "weight":
            continue
        section = SECTION_ALIASES.get(part, part)
        if part == ANY_SECTION:
            continue
        if section in sections and "section" not in want:
            want["section"] = section
        elif part in mechanisms and "mechanism" not in want:
            want["mechanism"] = part
        elif part in ("e", "g_unit", "tau_rise", "tau_decay"):
            raise refuse(f"'{part}' is a synapse parameter fixed by the system's graph.json; "
                         "set_weights sets only weights (2.0.0 keys '<post>-<section>-<mech>-"
                         f"{part}' are not supported)")  # fmt: skip
        else:
            raise refuse(f"{part!r} is not a section ({', '.join(sorted(sections))}, or 'dend'), "
                         f"a mechanism ({', '.join(sorted(mechanisms))}) or 'weight'")  # fmt: skip
    order = ("post", "pre", "section", "mechanism")
    out = [k for k, p in zip(keys, parts, strict=True)
           if all(want.get(name, value) == value for name, value in zip(order, p, strict=True))]  # fmt: skip
    if not out:
        raise refuse("it matches no weight of this network")
    return out

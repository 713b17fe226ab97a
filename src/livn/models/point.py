"""Shared parts of the single-compartment (point) models: synapses, noise, field coupling.

Point models map every synaptic mechanism of a system onto one of two conductances:
excitatory (template reversal above −30 mV) or inhibitory. With ``synapses="exponential"``
(default) they use the model's own single-exponential kinetics (``tau_e``, ``tau_i``,
``e_e``, ``e_i``) and ignore NMDA mechanisms; with ``synapses="template"`` they use the
system's dual-exponential templates (SPEC §2.4) unchanged. The peak conductance per unit
weight is the template's ``g_unit`` either way, so weights keep their meaning (release sites).

Extracellular stimulation needs an extended cell: a point cell is given a *virtual axon*, one
field sample point ``axon_length`` µm from the soma coupled by ``axon_g`` µS, so an
electrode drives it through the activating function like the multi-compartment cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from livn.errors import ConfigError
from livn.models.base import SynapseKinetics

#: Background noise is off by default for point models (same keys as RCSD, µS and ms).
POINT_NOISE_DEFAULTS = {"g_e0": 0.0, "g_i0": 0.0, "std_e": 0.0, "std_i": 0.0,
                        "tau_e": 2.728, "tau_i": 10.49}  # fmt: skip
SYNAPSE_MODES = ("exponential", "template")


def point_synapse(model: Any, section: str, mechanism: str, template: Any):
    """:class:`SynapseKinetics` of a system mechanism on a point cell (see module doc)."""
    if model.synapses not in SYNAPSE_MODES:
        raise ConfigError(
            f"unknown synapses mode {model.synapses!r}. Valid: {', '.join(SYNAPSE_MODES)}."
        )
    nmda = mechanism.upper().startswith("NMDA")
    excitatory = float(template.e) > -30.0
    if model.synapses == "template":
        return SynapseKinetics(0, float(template.e), float(template.g_unit),
                               float(template.tau_rise), float(template.tau_decay), nmda=nmda,
                               depression=mechanism.upper().startswith("AMPA"))  # fmt: skip
    if nmda:
        return None
    if excitatory:
        return SynapseKinetics(0, model.e_e, float(template.g_unit), 0.0, model.tau_e)
    return SynapseKinetics(0, model.e_i, float(template.g_unit), 0.0, model.tau_i)


class PointCell:
    """Common :class:`~livn.models.base.CellDynamics` parts of a one-compartment cell."""

    n_comp = 1
    soma = 0
    noise_e_comp = 0
    noise_i_comp = 0
    noise_e_rev = 0.0
    noise_i_rev = -75.0

    def __init__(self, name: str, axon_length: float, axon_g: float) -> None:
        self.name = name
        self.axon_length = float(axon_length)
        self.axon_g = float(axon_g)

    def section_index(self, section: str) -> int:
        return 0  # every section is the one compartment

    def soma_voltage(self, s: dict):
        return s["v"][:, 0]

    def field_points(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array([0.0, -self.axon_length]), np.array([self.axon_g])

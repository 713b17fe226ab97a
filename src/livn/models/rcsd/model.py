"""``ReducedCalciumSomaDendrite``: the default model (SPEC §2), backend-neutral."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livn.errors import ConfigError
from livn.models.base import SynapseKinetics, SynapsePhysics, step_heaviside
from livn.models.rcsd import dynamics as D
from livn.models.rcsd.cells import CellType, exc_cell, inh_cell

#: Point-conductance background noise defaults (SPEC §2.5): µS and ms.
NOISE_DEFAULTS = {
    "g_e0": 0.0121,
    "g_i0": 0.0573,
    "std_e": 0.003,
    "std_i": 0.0066,
    "tau_e": 2.728,
    "tau_i": 10.49,
}
NOISE_E_E = 0.0  # mV
NOISE_E_I = -75.0  # mV

#: Synapse physics of SPEC §2.4 (NMDA Mg block, AMPA short-term depression, conduction
#: velocity); the model's ``synapse_physics``, read by every backend.
PHYSICS = SynapsePhysics()
STD_U = PHYSICS.std_u
STD_TAU_REC = PHYSICS.std_tau_rec  # ms
NMDA_MG = PHYSICS.nmda_mg  # mM
CONDUCTION_VELOCITY = PHYSICS.conduction_velocity  # µm/ms


@dataclass
class ReducedCalciumSomaDendrite:
    """Reduced-compartment conductance-based cells (EXC motoneuron, INH Renshaw cell).

    Attributes:
        dt: Integration step, ms.
        record_dt: Voltage/current recording interval, ms.
        refractory: Spike-detection refractory period, ms.
        noise: Default background-noise parameters (see :data:`NOISE_DEFAULTS`).
        synapse_physics: NMDA Mg block, AMPA depression, conduction velocity (SPEC §2.4).
    """

    dt: float = 0.025
    record_dt: float = 0.1
    refractory: float = 2.0
    noise: dict[str, float] = field(default_factory=lambda: dict(NOISE_DEFAULTS))
    synapse_physics: SynapsePhysics = field(default_factory=SynapsePhysics)

    name = "RCSD"

    def cell_template(self, synapse_type: str) -> CellType:
        """The compartment template for a population of the given synapse type."""
        return exc_cell() if synapse_type == "excitatory" else inh_cell()

    def cell_type(self, synapse_type: str) -> RCSDCell:
        """The cell dynamics for a population of the given synapse type."""
        return RCSDCell(self.cell_template(synapse_type), self.refractory)

    def default_params(self, system: Any) -> dict[str, dict[str, float]]:
        """The system's ``params/RCSD.json`` (tuned), else weights derived from its realised
        in-degrees and transmitters (:func:`livn.models.rcsd.defaults.derived_params`)."""
        from livn.models.params import tuned_params
        from livn.models.rcsd.defaults import derived_params

        return tuned_params(system, self.name) or derived_params(system, self.noise)

    def synapse(self, cell: RCSDCell, section: str, mechanism: str, template: Any):
        """SPEC §2.4 kinetics of a system synapse template on ``cell``."""
        upper = mechanism.upper()
        return SynapseKinetics(
            target=cell.section_index(section),
            e=float(template.e),
            g_unit=float(template.g_unit),
            tau_rise=float(template.tau_rise),
            tau_decay=float(template.tau_decay),
            nmda=upper.startswith("NMDA"),
            depression=upper.startswith("AMPA"),
        )


class RCSDCell:
    """:class:`~livn.models.base.CellDynamics` of one RCSD cell template."""

    noise_e_rev = NOISE_E_E
    noise_i_rev = NOISE_E_I

    def __init__(self, cell: CellType, refractory: float) -> None:
        self.cell = cell
        self.name = cell.name
        self.n_comp = cell.n_comp
        self.soma = cell.soma
        self.noise_e_comp = cell.dendrite  # EXC: dendrite; INH: soma (SPEC §2.5)
        self.noise_i_comp = cell.soma
        self.v_threshold = cell.v_threshold
        self.refractory = float(refractory)

    def section_index(self, section: str) -> int:
        s = section.lower()
        if s in ("soma", "somatic"):
            return self.cell.soma
        if s in ("dendrite", "dend", "apical", "basal"):
            return self.cell.dendrite
        if s in ("hillock", "ais", "axon"):
            return self.cell.sections.index("axon0")
        if section in self.cell.sections:
            return self.cell.sections.index(section)
        valid = ["soma", "dendrite", "hillock", *self.cell.sections]
        raise ConfigError(
            f"RCSD {self.name} cells have no section {section!r}. Valid: {', '.join(valid)}."
        )

    def constants(self, xp: Any, dtype: Any) -> dict:
        return D.cell_arrays(self.cell, xp, dtype)

    def initial_state(self, n: int, xp: Any, dtype: Any) -> dict:
        return D.initial_state(self.cell, n, xp, dtype)

    def advance(self, xp, c, s, dt, g_in, ge_in, i_inj, since, heaviside=step_heaviside):
        new = D.step(xp, c, s, dt, g_in, ge_in, i_inj)
        v0, v1 = s["v"][:, self.soma], new["v"][:, self.soma]
        thr = self.v_threshold
        frac = xp.clip((thr - v0) / xp.where(v1 != v0, v1 - v0, 1.0), 0.0, 1.0)
        ok = (v0 < thr) & (since + dt * frac > self.refractory)
        return new, heaviside(v1 - thr) * ok, frac

    def soma_voltage(self, s: dict):
        return s["v"][:, self.soma]

    def soma_current(self, xp, c, s):
        cur = D.currents(xp, c["params"], s, active=c["active"])
        soma = self.soma
        return cur["i"][:, soma] * c["params"]["area"][soma] * 1e6 - c["i_hold"][soma]

    def field_points(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.cell.axis_offsets, float), np.asarray(self.cell.g_axial, float)

"""``ReducedCalciumSomaDendrite``: the default model (SPEC §2), backend-neutral."""

from __future__ import annotations

from dataclasses import dataclass, field

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

#: AMPA short-term depression (Tsodyks–Markram), SPEC §2.4.
STD_U = 0.25
STD_TAU_REC = 400.0  # ms
NMDA_MG = 1.0  # mM
CONDUCTION_VELOCITY = 250.0  # µm/ms


@dataclass
class ReducedCalciumSomaDendrite:
    """Reduced-compartment conductance-based cells (EXC motoneuron, INH Renshaw cell).

    Attributes:
        dt: Integration step, ms.
        record_dt: Voltage/current recording interval, ms.
        refractory: Spike-detection refractory period, ms.
        noise: Default background-noise parameters (see :data:`NOISE_DEFAULTS`).
    """

    dt: float = 0.025
    record_dt: float = 0.1
    refractory: float = 2.0
    noise: dict[str, float] = field(default_factory=lambda: dict(NOISE_DEFAULTS))

    name = "RCSD"

    def cell_type(self, synapse_type: str) -> CellType:
        """The cell template for a population of the given synapse type."""
        return exc_cell() if synapse_type == "excitatory" else inh_cell()

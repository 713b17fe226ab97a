"""Cell types of the RCSD model (SPEC §2.1, §2.2) as compartment chains.

Each cell is an unbranched chain of compartments, so one implicit voltage step is a
tridiagonal solve:

* EXC (two-compartment Booth–Rinzel–Kiehn motoneuron + axon):
  ``dendrite — soma — axon0 — … — axon4``.
* INH (single-compartment V1 Renshaw cell + axon): ``soma — axon0 — … — axon4``.

Units: area cm², specific capacitance µF/cm², densities S/cm², axial conductance µS.

Axial coupling, as modelled here:

* EXC soma–dendrite: each half-section conductance equals ``gc/pp · A_soma`` (SPEC §2.1), the
  two halves in series give ``G_sd = gc/(2·pp) · A_soma``.
* Soma–axon: the soma half-section (EXC: ``gc/pp · A_soma``; INH: from Ra = 70 Ω·cm) in series
  with half an axon segment; axon–axon: one segment, ``π r² / (Ra · L)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

RA_AXON = 70.0  # Ω·cm
AXON_SEGMENTS = 5
AXON_SEGMENT_LENGTH = 30.0  # µm
CA_POOL_DEPTH = 0.2  # µm, Na/K pool shell depth (SPEC §2.3)
POOL_BETA = 0.075  # 1/ms
NAI0, NAO0, KI0, KO0 = 15.0, 145.0, 145.0, 5.0  # mM

FIELDS = (
    "area", "cm", "g_pas", "e_pas", "g_na", "g_kdr", "g_ka", "g_can", "g_cal", "g_kca",
    "ca_f", "ca_alpha", "ca_k", "na_pool", "k_pool",
)  # fmt: skip


@dataclass(frozen=True)
class CellType:
    """A chain of compartments with per-compartment parameters (all arrays ``[n_comp]``).

    Attributes:
        name: ``"EXC"`` or ``"INH"`` cell template name.
        sections: Compartment names in chain order.
        soma: Index of the soma (spike detection, somatic synapses).
        dendrite: Index of the dendrite (excitatory synapses onto EXC), or the soma.
        g_axial: ``[n_comp - 1]`` µS between compartment ``j`` and ``j + 1``.
        v_threshold: Somatic spike detection threshold, mV.
        params: Per-compartment arrays named in :data:`FIELDS`.
        axon_offsets: Distance of each compartment from the soma along the cell axis (µm),
            signed: dendrite positive, axon negative (used for extracellular fields).
    """

    name: str
    sections: tuple[str, ...]
    soma: int
    dendrite: int
    g_axial: np.ndarray
    v_threshold: float
    params: dict[str, np.ndarray] = field(repr=False)
    axis_offsets: np.ndarray = field(repr=False, default=None)

    @property
    def n_comp(self) -> int:
        return len(self.sections)

    def capacitance_nF(self) -> np.ndarray:
        """``[n_comp]`` membrane capacitance in nF."""
        return self.params["cm"] * self.params["area"] * 1e3


def _cyl_area_cm2(length_um: float, diam_um: float) -> float:
    return math.pi * diam_um * length_um * 1e-8


def _axial_resistance_ohm(length_um: float, diam_um: float, ra: float) -> float:
    r_cm = diam_um / 2 * 1e-4
    return ra * (length_um * 1e-4) / (math.pi * r_cm * r_cm)


def _compartments(spec: list[dict[str, float]]) -> dict[str, np.ndarray]:
    return {k: np.array([c.get(k, 0.0) for c in spec], dtype=np.float64) for k in FIELDS}


def exc_cell() -> CellType:
    """EXC: Booth–Rinzel–Kiehn two-compartment motoneuron with a 5-segment axon (SPEC §2.1)."""
    length, pp, diam = 120.0, 0.1, 8.131
    cm = 1.2959
    gc = 8.2553e-3  # S/cm²
    a_soma = _cyl_area_cm2(length * pp, diam)
    a_dend = _cyl_area_cm2(length * (1 - pp), diam)
    ax_d, ax_cm = 2.567, 0.0799
    a_ax = _cyl_area_cm2(AXON_SEGMENT_LENGTH, ax_d)
    g_na_soma = 0.105
    soma = dict(area=a_soma, cm=cm * 8.1924, g_pas=1.452e-4, e_pas=-62.0, g_na=g_na_soma,
                g_kdr=0.04515, g_can=1.0678e-3, g_kca=2.959e-4,
                ca_f=1.0053e-3, ca_alpha=0.21016, ca_k=1.5283, na_pool=1, k_pool=1)  # fmt: skip
    dend = dict(area=a_dend, cm=cm, g_pas=1.3904e-5, e_pas=-62.0, g_cal=1e-5, g_can=2.8807e-4,
                g_kca=2.3696e-4, ca_f=1.1955e-3, ca_alpha=0.67761, ca_k=3.3313, k_pool=1)  # fmt: skip
    axon = dict(area=a_ax, cm=ax_cm, g_pas=5.17e-5, e_pas=-60.0, g_na=1.0 * g_na_soma,
                g_kdr=0.3, na_pool=1, k_pool=1)  # fmt: skip
    g_half_soma = gc / pp * a_soma * 1e6  # µS
    r_seg = _axial_resistance_ohm(AXON_SEGMENT_LENGTH, ax_d, RA_AXON)
    g_sd = g_half_soma / 2.0
    g_sa = 1e6 / (1e6 / g_half_soma + r_seg / 2.0)
    g_aa = 1e6 / r_seg
    seg = AXON_SEGMENT_LENGTH
    offsets = [60.0, 0.0] + [-(15.0 + seg * i) for i in range(AXON_SEGMENTS)]
    return CellType(
        name="EXC",
        sections=("dendrite", "soma", *(f"axon{i}" for i in range(AXON_SEGMENTS))),
        soma=1,
        dendrite=0,
        g_axial=np.array([g_sd, g_sa] + [g_aa] * (AXON_SEGMENTS - 1)),
        v_threshold=-37.0,
        params=_compartments([dend, soma] + [axon] * AXON_SEGMENTS),
        axis_offsets=np.array(offsets),
    )


def inh_cell() -> CellType:
    """INH: single-compartment V1 Renshaw interneuron with a 5-segment axon (SPEC §2.2)."""
    diam = 24.80
    a_soma = _cyl_area_cm2(diam, diam)
    ax_d = 1.578
    a_ax = _cyl_area_cm2(AXON_SEGMENT_LENGTH, ax_d)
    g_na_soma = 0.13920
    soma = dict(area=a_soma, cm=1.0757, g_pas=1.193e-4, e_pas=-69.226, g_na=g_na_soma,
                g_kdr=0.14060, g_ka=0.0, g_kca=3.368e-4, g_can=7.877e-3,
                ca_f=8.864e-3, ca_alpha=5.0, ca_k=6.1996, na_pool=1, k_pool=1)  # fmt: skip
    axon = dict(area=a_ax, cm=1.0, g_pas=8.44e-6, e_pas=-60.0, g_na=0.6172 * g_na_soma,
                g_kdr=0.3, na_pool=1, k_pool=1)  # fmt: skip
    r_soma_half = _axial_resistance_ohm(diam / 2, diam, RA_AXON)
    r_seg = _axial_resistance_ohm(AXON_SEGMENT_LENGTH, ax_d, RA_AXON)
    g_sa = 1e6 / (r_soma_half + r_seg / 2.0)
    g_aa = 1e6 / r_seg
    seg = AXON_SEGMENT_LENGTH
    offsets = [0.0] + [-(15.0 + seg * i) for i in range(AXON_SEGMENTS)]
    return CellType(
        name="INH",
        sections=("soma", *(f"axon{i}" for i in range(AXON_SEGMENTS))),
        soma=0,
        dendrite=0,
        g_axial=np.array([g_sa] + [g_aa] * (AXON_SEGMENTS - 1)),
        v_threshold=-50.0,
        params=_compartments([soma] + [axon] * AXON_SEGMENTS),
        axis_offsets=np.array(offsets),
    )


CELL_TYPES = {"excitatory": exc_cell, "inhibitory": inh_cell}

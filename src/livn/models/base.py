"""What a model provides to an engine: cell dynamics per cell type and synapse kinetics.

A *model* (``ReducedCalciumSomaDendrite``, ``LIF``, ``Izhikevich``…) is backend-neutral. It
declares ``name``, ``dt`` and ``record_dt`` (ms), ``refractory`` (ms), default background
``noise``, optionally ``signed_weights`` (``True`` when a weight may be negative; absent or
``False``: weights are conductance scales and ``Env.set_weights`` refuses values below 0) and

* ``cell_type(synapse_type) -> CellDynamics`` — the dynamics of the cells of a population of
  that synapse type (``"excitatory"`` / ``"inhibitory"``);
* ``synapse(cell, section, mechanism, template) -> SynapseKinetics | None`` — how a synaptic
  mechanism of the system (SPEC §2.4 template) acts on those cells (``None``: ignored);
* optionally ``synapse_physics`` — a :class:`SynapsePhysics` (NMDA Mg, AMPA depression,
  conduction velocity; default SPEC §2.4's), which every backend reads through
  :func:`synapse_physics` instead of hard-coding it.

A :class:`CellDynamics` is a chain of ``n_comp`` compartments (1 for point neurons). Its
functions take the array namespace ``xp`` (NumPy or ``jax.numpy``) so a reference solver and
the JAX engine share one definition. Currents and conductances entering ``advance`` are
``[n, n_comp]``: ``g_in`` (µS) and ``ge_in`` (µS·mV, Σ g·E) of synapses and noise, and
``i_inj`` (nA, inward positive).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class SynapseKinetics:
    """A synaptic conductance on one compartment (SPEC §2.4).

    ``tau_rise == 0`` means a single exponential (a spike adds to ``g`` directly).

    Attributes:
        target: Compartment index.
        e: Reversal potential, mV.
        g_unit: Peak conductance per unit weight, µS.
        tau_rise: ms (0: instantaneous rise).
        tau_decay: ms.
        nmda: Apply the NMDA magnesium block.
        depression: Apply AMPA short-term depression (release ``R·U``).
    """

    target: int
    e: float
    g_unit: float
    tau_rise: float
    tau_decay: float
    nmda: bool = False
    depression: bool = False

    @property
    def peak_factor(self) -> float:
        """Normalisation so one unit of weight peaks at ``g_unit`` (1 for one exponential)."""
        tr, td = self.tau_rise, self.tau_decay
        if tr <= 0:
            return 1.0
        tp = tr * td / (td - tr) * np.log(td / tr)
        return float(1.0 / (np.exp(-tp / td) - np.exp(-tp / tr)))


@dataclass(frozen=True)
class SynapsePhysics:
    """Synapse physics shared by all mechanisms of a model (SPEC §2.4), read by every backend.

    Attributes:
        nmda_mg: Extracellular Mg²⁺ of the NMDA block ``1 / (1 + exp(-0.062 v) · Mg / 3.57)``,
            mM.
        std_u: Release fraction ``U`` of AMPA short-term depression (Tsodyks–Markram).
        std_tau_rec: Recovery time constant of the depression, ms.
        conduction_velocity: Axonal conduction velocity (delay = soma distance / velocity,
            at least 2 steps), µm/ms.
    """

    nmda_mg: float = 1.0
    std_u: float = 0.25
    std_tau_rec: float = 400.0
    conduction_velocity: float = 250.0

    def mg_block(self, xp: Any, v: Any) -> Any:
        """The NMDA magnesium block at voltage ``v`` (mV), in ``xp`` (NumPy, jax.numpy, math)."""
        return 1.0 / (1.0 + xp.exp(-0.062 * v) * (self.nmda_mg / 3.57))


def synapse_physics(model: Any) -> SynapsePhysics:
    """The model's :class:`SynapsePhysics` (its ``synapse_physics`` attribute, else SPEC's)."""
    physics = getattr(model, "synapse_physics", None)
    return physics if isinstance(physics, SynapsePhysics) else SynapsePhysics()


def step_heaviside(x):
    """``1.0`` where ``x >= 0`` else ``0.0`` (the forward pass of every spike function)."""
    return (x >= 0) * 1.0


class CellDynamics(Protocol):
    """The dynamics of one cell type (see the module docstring for units)."""

    name: str
    n_comp: int
    soma: int
    noise_e_comp: int  # compartment of the excitatory background conductance
    noise_i_comp: int
    noise_e_rev: float  # mV
    noise_i_rev: float

    def section_index(self, section: str) -> int:
        """Compartment that a synapse on ``section`` (``"soma"``, ``"dendrite"``…) targets."""

    def constants(self, xp: Any, dtype: Any) -> dict:
        """Per-compartment constants as ``xp`` arrays (a pytree)."""

    def initial_state(self, n: int, xp: Any, dtype: Any) -> dict:
        """State of ``n`` cells at t = 0: a dict of ``[n, n_comp]`` arrays."""

    def advance(self, xp: Any, c: dict, s: dict, dt: float, g_in, ge_in, i_inj, since,
                heaviside=step_heaviside) -> tuple[dict, Any, Any]:  # fmt: skip
        """One step of ``dt`` ms.

        Args:
            since: ``[n]`` ms since each cell's last spike (for refractoriness).
            heaviside: The spike function (a surrogate-gradient one when differentiating).

        Returns:
            ``(new_state, spike [n] in {0, 1}, frac [n] in [0, 1])`` where ``frac`` places the
            spike within the step (``t + frac·dt``).
        """

    def soma_voltage(self, s: dict):
        """``[n]`` somatic voltage, mV."""

    def soma_current(self, xp: Any, c: dict, s: dict):
        """``[n]`` somatic membrane current, nA, outward positive."""

    def field_points(self) -> tuple[np.ndarray, np.ndarray]:
        """``(offsets [n_comp] µm along the cell axis, g_axial [n_comp - 1] µS)``.

        Extracellular stimulation (SPEC §3) samples the field at ``soma + offset · axis`` and
        drives each compartment through the activating function.
        """

"""Leaky integrate-and-fire with conductance-based synapses (COBA; Vogels & Abbott 2005).

``C dv/dt = g_L (E_L − v) + Σ g_s (E_s − v) + I``; at ``v ≥ v_th`` a spike is emitted, ``v`` is
reset to ``v_reset`` and held there for ``refractory`` ms. The step is exact for conductances
held constant over it: ``v ← v∞ + (v − v∞)·exp(−dt·G/C)`` with ``G = g_L + Σ g_s`` and
``v∞ = (g_L E_L + Σ g_s E_s + I)/G``. Defaults are the Vogels–Abbott benchmark cell
(200 pF, 10 nS, τ_m 20 ms, E_L −60, v_th −50, v_reset −60, 5 ms refractory, τ_e 5 ms,
τ_i 10 ms, E_e 0, E_i −80 mV). Units: mV, ms, nF, µS, nA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livn.models.base import step_heaviside
from livn.models.point import POINT_NOISE_DEFAULTS, PointCell, point_synapse


@dataclass
class LIF:
    """Leaky integrate-and-fire point neurons (see the module docstring).

    Attributes:
        v_init: Initial voltage (mV), or ``"uniform"`` for uniform in ``[v_reset, v_th)``
            drawn from the Env seed.
        synapses: ``"exponential"`` (model kinetics) or ``"template"`` (system templates).
    """

    dt: float = 0.1
    record_dt: float = 0.1
    refractory: float = 5.0
    c_m: float = 0.2  # nF
    g_l: float = 0.01  # µS
    e_l: float = -60.0
    v_th: float = -50.0
    v_reset: float = -60.0
    v_init: float | str = -60.0
    synapses: str = "exponential"
    tau_e: float = 5.0
    tau_i: float = 10.0
    e_e: float = 0.0
    e_i: float = -80.0
    axon_length: float = 100.0  # µm, virtual axon for extracellular stimulation
    axon_g: float = 0.01  # µS
    noise: dict[str, float] = field(default_factory=lambda: dict(POINT_NOISE_DEFAULTS))

    name = "LIF"

    def cell_type(self, synapse_type: str) -> LIFCell:
        return LIFCell(self, "EXC" if synapse_type == "excitatory" else "INH")

    def synapse(self, cell: Any, section: str, mechanism: str, template: Any):
        return point_synapse(self, section, mechanism, template)

    def default_params(self, system: Any) -> dict[str, dict[str, float]]:
        """The system's ``params/<name>.json`` (tuned), else the template weights and this
        model's noise (:mod:`livn.models.params`)."""
        from livn.models.params import template_params, tuned_params

        return tuned_params(system, self.name) or template_params(system, self.noise)


class LIFCell(PointCell):
    def __init__(self, model: LIF, name: str) -> None:
        super().__init__(name, model.axon_length, model.axon_g)
        self.m = model

    def constants(self, xp: Any, dtype: Any) -> dict:
        return {}

    def initial_state(self, n: int, xp: Any, dtype: Any, rng: np.random.Generator | None = None):
        m = self.m
        if m.v_init == "uniform":
            rng = rng if rng is not None else np.random.default_rng(0)
            v = rng.uniform(m.v_reset, m.v_th, size=(n, 1))
        else:
            v = np.full((n, 1), float(m.v_init))
        return {"v": xp.asarray(v, dtype=dtype)}

    def advance(self, xp, c, s, dt, g_in, ge_in, i_inj, since, heaviside=step_heaviside):
        m = self.m
        v = s["v"][:, 0]
        G = m.g_l + g_in[:, 0]
        v_inf = (m.g_l * m.e_l + ge_in[:, 0] + i_inj[:, 0]) / G
        v1 = v_inf + (v - v_inf) * xp.exp(-dt * G / m.c_m)
        refr = since < m.refractory
        v1 = xp.where(refr, m.v_reset, v1)
        spk = heaviside(v1 - m.v_th) * (1.0 - refr)
        frac = xp.clip((m.v_th - v) / xp.where(v1 != v, v1 - v, 1.0), 0.0, 1.0)
        v_new = v1 * (1.0 - spk) + m.v_reset * spk
        return {"v": v_new[:, None]}, spk, frac

    def soma_current(self, xp, c, s):
        return self.m.g_l * (s["v"][:, 0] - self.m.e_l)


def lif_rate(current_nA: float, model: LIF | None = None) -> float:
    """Analytic firing rate (Hz) of an isolated LIF cell under a constant current."""
    m = model or LIF()
    v_inf = m.e_l + current_nA / m.g_l
    if v_inf <= m.v_th:
        return 0.0
    tau = m.c_m / m.g_l
    isi = m.refractory + tau * np.log((v_inf - m.v_reset) / (v_inf - m.v_th))
    return 1000.0 / isi

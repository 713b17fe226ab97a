"""Izhikevich (2003) point neurons with regular-spiking and fast-spiking presets.

``dv/dt = 0.04 v² + 5 v + 140 − u + k·I``, ``du/dt = a (b v − u)``; at ``v ≥ v_peak`` (30 mV)
``v ← c``, ``u ← u + d``. ``I`` (nA) is the synaptic + injected current and ``k`` (mV/ms per
nA, ``input_gain``) converts it to the model's units (a notional 50 pF membrane: 0.5 nA
gives the classic ``I = 10``). Forward Euler at ``dt`` (default 0.1 ms). Excitatory
populations use the ``excitatory`` preset (default ``"RS"``), inhibitory ones ``"FS"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livn.errors import ConfigError, did_you_mean
from livn.models.base import step_heaviside
from livn.models.point import POINT_NOISE_DEFAULTS, PointCell, point_synapse

#: ``(a, b, c, d)`` per preset (Izhikevich 2003, Fig. 2).
PRESETS = {
    "RS": (0.02, 0.2, -65.0, 8.0),  # regular spiking
    "IB": (0.02, 0.2, -55.0, 4.0),  # intrinsically bursting
    "CH": (0.02, 0.2, -50.0, 2.0),  # chattering
    "FS": (0.1, 0.2, -65.0, 2.0),  # fast spiking
    "LTS": (0.02, 0.25, -65.0, 2.0),  # low-threshold spiking
}


@dataclass
class Izhikevich:
    """Izhikevich neurons (see the module docstring)."""

    dt: float = 0.1
    record_dt: float = 0.1
    refractory: float = 0.0
    excitatory: str = "RS"
    inhibitory: str = "FS"
    v_peak: float = 30.0
    input_gain: float = 20.0  # mV/ms per nA
    synapses: str = "exponential"
    tau_e: float = 5.0
    tau_i: float = 10.0
    e_e: float = 0.0
    e_i: float = -80.0
    axon_length: float = 100.0
    axon_g: float = 0.01
    noise: dict[str, float] = field(default_factory=lambda: dict(POINT_NOISE_DEFAULTS))

    name = "Izhikevich"

    def cell_type(self, synapse_type: str) -> IzhikevichCell:
        preset = self.excitatory if synapse_type == "excitatory" else self.inhibitory
        if preset not in PRESETS:
            raise ConfigError(
                f"unknown Izhikevich preset {preset!r}. Valid: {', '.join(PRESETS)}."
                f"{did_you_mean(preset, PRESETS)}"
            )
        return IzhikevichCell(self, preset)

    def synapse(self, cell: Any, section: str, mechanism: str, template: Any):
        return point_synapse(self, section, mechanism, template)

    def default_params(self, system: Any) -> dict[str, dict[str, float]]:
        """The system's ``params/<name>.json`` (tuned), else the template weights and this
        model's noise (:mod:`livn.models.params`)."""
        from livn.models.params import template_params, tuned_params

        return tuned_params(system, self.name) or template_params(system, self.noise)


class IzhikevichCell(PointCell):
    def __init__(self, model: Izhikevich, preset: str) -> None:
        super().__init__(preset, model.axon_length, model.axon_g)
        self.m = model
        self.a, self.b, self.c, self.d = PRESETS[preset]

    def constants(self, xp: Any, dtype: Any) -> dict:
        return {}

    def initial_state(self, n: int, xp: Any, dtype: Any, rng: np.random.Generator | None = None):
        v = np.full((n, 1), self.c)
        return {"v": xp.asarray(v, dtype=dtype), "u": xp.asarray(self.b * v, dtype=dtype)}

    def advance(self, xp, c, s, dt, g_in, ge_in, i_inj, since, heaviside=step_heaviside):
        v, u = s["v"][:, 0], s["u"][:, 0]
        i_nA = ge_in[:, 0] - g_in[:, 0] * v + i_inj[:, 0]
        dv = 0.04 * v * v + 5.0 * v + 140.0 - u + self.m.input_gain * i_nA
        v1 = v + dt * dv
        u1 = u + dt * self.a * (self.b * v - u)
        peak = self.m.v_peak
        ok = since >= self.m.refractory
        spk = heaviside(v1 - peak) * ok
        frac = xp.clip((peak - v) / xp.where(v1 != v, v1 - v, 1.0), 0.0, 1.0)
        v_new = xp.minimum(v1, peak) * (1.0 - spk) + self.c * spk
        u_new = u1 + self.d * spk
        return {"v": v_new[:, None], "u": u_new[:, None]}, spk, frac

    def soma_current(self, xp, c, s):
        v, u = s["v"][:, 0], s["u"][:, 0]
        return -(0.04 * v * v + 5.0 * v + 140.0 - u) / self.m.input_gain

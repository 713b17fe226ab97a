"""Channel kinetics of the RCSD model (SPEC §2.3), written against an array namespace ``xp``.

Every function takes voltages in mV and returns dimensionless gates, time constants in ms, or
driving terms in mV. ``xp`` is ``numpy`` or ``jax.numpy``, so the same equations drive the
JAX engine and the float64 reference solver used in the fidelity tests.
"""

from __future__ import annotations

from typing import Any

CELSIUS = 36.0
FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)
CAO = 2.0  # mM, extracellular calcium
CAI0 = 1e-5  # mM, resting intracellular calcium
KCA_HALF = 0.0005  # mM, KCa half activation


def rt_over_f(celsius: float = CELSIUS) -> float:
    """Thermal voltage RT/F in mV."""
    return 1000.0 * GAS_CONSTANT * (celsius + 273.15) / FARADAY


def sigmoid(xp: Any, x):
    """``1 / (1 + exp(-x))``."""
    return 1.0 / (1.0 + xp.exp(-x))


# Nas: I = g·m∞³·h·(v − ENa)
def nas_minf(xp, v):
    return sigmoid(xp, (v + 35.0) / 7.8)


def nas_hinf(xp, v):
    return sigmoid(xp, -(v + 55.0) / 7.0)


def nas_htau(xp, v):
    return 30.0 / (xp.exp((v + 50.0) / 15.0) + xp.exp(-(v + 50.0) / 16.0))


# Kdr: I = g·n⁴·(v − EK)
def kdr_ninf(xp, v):
    return sigmoid(xp, (v + 28.0) / 15.0)


def kdr_ntau(xp, v):
    return 7.0 / (xp.exp((v + 40.0) / 40.0) + xp.exp(-(v + 40.0) / 50.0))


# Ka: I = g·a·b·(v − EK), τa 1 ms, τb 15 ms
KA_TAU_A = 1.0
KA_TAU_B = 15.0


def ka_ainf(xp, v):
    return sigmoid(xp, (v + 36.0) / 8.0)


def ka_binf(xp, v):
    return sigmoid(xp, -(v + 66.0) / 8.0)


# CaN: I = g·m²·h·GHK, τm 4 ms, τh 40 ms
CAN_TAU_M = 4.0
CAN_TAU_H = 40.0


def can_minf(xp, v):
    return sigmoid(xp, (v + 30.0) / 5.0)


def can_hinf(xp, v):
    return sigmoid(xp, -(v + 45.0) / 5.0)


# CaL (dendrite): I = g·m·GHK, τm 60 ms
CAL_TAU_M = 60.0


def cal_minf(xp, v):
    return sigmoid(xp, (v + 40.0) / 7.0)


def ktf(scale: float, celsius: float = CELSIUS) -> float:
    """``KTF = (scale / 293.15)·(celsius + 273.15)`` mV (scale 36 for CaN, 25 for CaL)."""
    return scale / 293.15 * (celsius + 273.15)


KTF_CAN = ktf(36.0)
KTF_CAL = ktf(25.0)


def efun(xp, z):
    """``z / (e^z − 1)``, with ``1 − z/2`` for ``|z| < 1e-4`` (safe for autodiff)."""
    small = xp.abs(z) < 1e-4
    zs = xp.where(small, 1.0, z)
    return xp.where(small, 1.0 - z / 2.0, zs / (xp.exp(zs) - 1.0))


def ghk(xp, v, cai, ktf_value: float, cao: float = CAO):
    """GHK driving term (mV): ``−f·(1 − (cai/cao)·e^{v/f})·efun(v/f)``, ``f = KTF/2``."""
    f = ktf_value / 2.0
    z = v / f
    return -f * (1.0 - (cai / cao) * xp.exp(z)) * efun(xp, z)


def kca_factor(cai):
    """KCa open fraction ``cai / (cai + 0.0005)``."""
    return cai / (cai + KCA_HALF)


def nernst(xp, c_out, c_in, valence: int = 1, celsius: float = CELSIUS):
    """Reversal potential (mV)."""
    return rt_over_f(celsius) / valence * xp.log(c_out / c_in)

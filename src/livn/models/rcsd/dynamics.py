"""RCSD cell dynamics: membrane currents, rest, the continuous right-hand side and one step.

State is a dict of arrays ``[n_cells, n_comp]`` with keys :data:`STATE_KEYS`. All functions
take the array namespace ``xp`` (``numpy`` or ``jax.numpy``) and a parameter dict ``p`` of
``[n_comp]`` arrays (from :class:`~livn.models.rcsd.cells.CellType`).

Sign convention: membrane currents are positive outward; injected currents positive inward.
Units: mV, ms, mA/cm² (densities), nA (compartment currents), µS, nF.

One step (:func:`step`), in the manner of NEURON's default method:
1. voltages: backward Euler with the ohmic conductances linearised at the old state (GHK
   calcium currents explicit) and the axial coupling implicit — a tridiagonal solve per cell;
2. gates: exponential update at the new voltage (``exp(−dt/τ)`` by a (2, 2) Padé
   approximant for voltage-dependent τ), only on the compartments where the channel exists;
3. ion pools: forward Euler with the currents at the start of the step (saves a second
   current evaluation; the scheme is first order either way).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from livn.models.rcsd import kinetics as k
from livn.models.rcsd.cells import CA_POOL_DEPTH, KI0, KO0, NAI0, NAO0, POOL_BETA, CellType

V_HOLD = -60.0  # mV, every section rests here (holding current)
V_INIT = -75.0  # mV, initial voltage

STATE_KEYS = ("v", "h", "n", "a", "b", "mc", "hc", "ml", "cai", "nai", "nao", "ki", "ko")

_POOL_SCALE = 1e4 / (2.0 * k.FARADAY * CA_POOL_DEPTH)  # (mM/ms) per (mA/cm²), SPEC §2.3


#: Gate -> the conductance that makes it matter; gates of absent channels are not updated.
GATE_CHANNEL = {"h": "g_na", "n": "g_kdr", "a": "g_ka", "b": "g_ka", "mc": "g_can",
                "hc": "g_can", "ml": "g_cal"}  # fmt: skip
ALL_CHANNELS = frozenset(GATE_CHANNEL.values()) | {"g_kca"}


def gates_inf(xp: Any, v, active=ALL_CHANNELS):
    """Steady-state gates at voltage ``v`` (for the channels in ``active``)."""
    fns = {"h": k.nas_hinf, "n": k.kdr_ninf, "a": k.ka_ainf, "b": k.ka_binf,
           "mc": k.can_minf, "hc": k.can_hinf, "ml": k.cal_minf}  # fmt: skip
    return {g: f(xp, v) for g, f in fns.items() if GATE_CHANNEL[g] in active}


def gates_tau(xp: Any, v, active=ALL_CHANNELS):
    """Gate time constants (ms) at voltage ``v`` (for the channels in ``active``)."""
    one = xp.ones_like(v)
    taus = {"a": k.KA_TAU_A, "b": k.KA_TAU_B, "mc": k.CAN_TAU_M, "hc": k.CAN_TAU_H,
            "ml": k.CAL_TAU_M}  # fmt: skip
    out = {}
    if "g_na" in active:
        out["h"] = k.nas_htau(xp, v)
    if "g_kdr" in active:
        out["n"] = k.kdr_ntau(xp, v)
    for g, tau in taus.items():
        if GATE_CHANNEL[g] in active:
            out[g] = tau * one
    return out


def currents(xp: Any, p: dict, s: dict, v=None, active=ALL_CHANNELS):
    """Membrane current densities (mA/cm²) at voltage ``v`` (default ``s["v"]``).

    Channels not in ``active`` (zero conductance throughout the cell) are skipped.

    Returns:
        dict with ``i_na``, ``i_k``, ``i_ca``, ``i_pas``, ``i`` (total) and ``g_ohmic`` (S/cm²,
        the conductance of the ohmic currents, for the implicit voltage update).
    """
    v = s["v"] if v is None else v
    ena = k.nernst(xp, s["nao"], s["nai"])
    ek = k.nernst(xp, s["ko"], s["ki"])
    minf = k.nas_minf(xp, v)
    g_na = p["g_na"] * minf**3 * s["h"]
    g_k = (
        p["g_kdr"] * s["n"] ** 4 + p["g_ka"] * s["a"] * s["b"] + p["g_kca"] * k.kca_factor(s["cai"])
    )
    i_na = g_na * (v - ena)
    i_k = g_k * (v - ek)
    i_ca = (p["g_can"] * s["mc"] ** 2 * s["hc"] * k.ghk(xp, v, s["cai"], k.KTF_CAN)
            + p["g_cal"] * s["ml"] * k.ghk(xp, v, s["cai"], k.KTF_CAL))  # fmt: skip
    i_pas = p["g_pas"] * (v - p["e_pas"])
    return {
        "i_na": i_na,
        "i_k": i_k,
        "i_ca": i_ca,
        "i_pas": i_pas,
        "i": i_na + i_k + i_ca + i_pas,
        "g_ohmic": g_na + g_k + p["g_pas"],
    }


def resting_state(cell: CellType, v: float = V_HOLD) -> dict[str, np.ndarray]:
    """``[n_comp]`` float64 state with every gate at steady state at ``v`` and pools at rest."""
    n = cell.n_comp
    vv = np.full(n, float(v))
    s = {key: np.asarray(val, dtype=np.float64) for key, val in gates_inf(np, vv).items()}
    s.update(v=vv, cai=np.full(n, k.CAI0), nai=np.full(n, NAI0), nao=np.full(n, NAO0),
             ki=np.full(n, KI0), ko=np.full(n, KO0))  # fmt: skip
    return s


def rest_currents(cell: CellType, v: float = V_HOLD) -> tuple[np.ndarray, np.ndarray]:
    """``(holding current [n_comp] nA, resting calcium current density [n_comp] mA/cm²)``.

    The holding current cancels the ionic current of each compartment at ``v`` so that, with
    no input, every section rests exactly at ``v`` (SPEC §2: V_hold = −60 mV).
    """
    c = currents(np, cell.params, resting_state(cell, v))
    return c["i"] * cell.params["area"] * 1e6, c["i_ca"]


def initial_state(cell: CellType, n_cells: int, xp: Any = np, dtype=None, v0: float = V_INIT):
    """State for ``n_cells`` cells: voltage ``v0``, gates at steady state at ``v0``."""
    s = resting_state(cell, v0)
    s.update(cai=np.full(cell.n_comp, k.CAI0))
    return {key: xp.asarray(np.tile(val, (n_cells, 1)), dtype=dtype) for key, val in s.items()}


def _pool_derivatives(xp: Any, p: dict, s: dict, c: dict, irest):
    ca_drive = xp.maximum(0.0, -p["ca_alpha"] * (c["i_ca"] - irest))
    d_cai = p["ca_f"] * (ca_drive - p["ca_k"] * (s["cai"] - k.CAI0))
    na_in = -c["i_na"] * _POOL_SCALE
    k_in = -c["i_k"] * _POOL_SCALE
    return {
        "cai": d_cai,
        "nai": p["na_pool"] * (na_in - POOL_BETA * (s["nai"] - NAI0)),
        "nao": p["na_pool"] * (-na_in - POOL_BETA * (s["nao"] - NAO0)),
        "ki": p["k_pool"] * (k_in - POOL_BETA * (s["ki"] - KI0)),
        "ko": p["k_pool"] * (-k_in - POOL_BETA * (s["ko"] - KO0)),
    }


def _axial(xp: Any, g_axial, v):
    """``[n, n_comp]`` axial current into each compartment (nA)."""
    flow = g_axial * (v[:, 1:] - v[:, :-1])  # current from j+1 into j
    zero = xp.zeros_like(v[:, :1])
    return xp.concatenate([flow, zero], axis=1) - xp.concatenate([zero, flow], axis=1)


def rhs(xp: Any, cell_arrays: dict, s: dict, i_inj):
    """Time derivatives of the state (the continuous model, used by the reference solver).

    Args:
        cell_arrays: From :func:`cell_arrays`.
        s: State dict of ``[n, n_comp]`` arrays.
        i_inj: ``[n, n_comp]`` injected current (nA, inward positive).
    """
    p, active = cell_arrays["params"], cell_arrays["active"]
    c = currents(xp, p, s, active=active)
    area_nA = p["area"] * 1e6
    i_total = (-c["i"] * area_nA + cell_arrays["i_hold"] + _axial(xp, cell_arrays["g_axial"], s["v"])
               + i_inj)  # fmt: skip
    d = {"v": i_total / cell_arrays["C"]}
    inf, tau = gates_inf(xp, s["v"], active), gates_tau(xp, s["v"], active)
    for key in GATE_CHANNEL:
        d[key] = (inf[key] - s[key]) / tau[key] if key in inf else xp.zeros_like(s[key])
    d.update(_pool_derivatives(xp, p, s, c, cell_arrays["irest"]))
    return d


def channel_spans(params: dict) -> dict[str, tuple[int, int]]:
    """``{channel: (lo, hi)}``: the compartment range holding every non-zero conductance."""
    spans = {}
    for c in sorted(ALL_CHANNELS):
        nz = np.flatnonzero(np.asarray(params[c]) != 0)
        if len(nz):
            spans[c] = (int(nz[0]), int(nz[-1]) + 1)
    return spans


def _ghk1(xp: Any, v, cai, ktf_value: float):
    """:func:`kinetics.ghk` with one exponential (``e^{v/f}`` serves both terms)."""
    f = ktf_value / 2.0
    z = v / f
    small = xp.abs(z) < 1e-4
    zs = xp.where(small, 1.0, z)
    ez = xp.exp(zs)
    ef = xp.where(small, 1.0 - z / 2.0, zs / (ez - 1.0))
    ez = xp.where(small, 1.0 + z, ez)
    return -f * (1.0 - (cai / k.CAO) * ez) * ef


def _decay(y):
    """``exp(−y)`` for ``0 ≤ y ≲ 0.5`` by the (2, 2) Padé approximant (rel. error < 1e-5)."""
    h = 0.5 * y
    q = y * y / 12.0
    return (1.0 - h + q) / (1.0 + h + q)


def dense_currents(xp: Any, ca: dict, s: dict):
    """:func:`currents` on compartment-major state ``[n_comp, n]`` (``ca`` from
    :func:`cell_arrays`), with one exponential per GHK term.

    Every channel present in the cell is evaluated on every compartment (its conductance is
    zero where it is absent, which adds exact zeros): uniform loops over the whole array
    vectorise far better than per-span slices, and channels absent from the cell are skipped.
    """
    p, active = ca["params_cm"], ca["active"]
    v = s["v"]
    ek = k.nernst(xp, s["ko"], s["ki"])
    g_na = i_na = 0.0
    if "g_na" in active:
        ena = k.nernst(xp, s["nao"], s["nai"])
        g_na = p["g_na"] * k.nas_minf(xp, v) ** 3 * s["h"]
        i_na = g_na * (v - ena)
    g_k = 0.0
    if "g_kdr" in active:
        g_k = g_k + p["g_kdr"] * s["n"] ** 4
    if "g_ka" in active:
        g_k = g_k + p["g_ka"] * s["a"] * s["b"]
    if "g_kca" in active:
        g_k = g_k + p["g_kca"] * k.kca_factor(s["cai"])
    i_ca = 0.0
    if "g_can" in active:
        i_ca = i_ca + p["g_can"] * s["mc"] ** 2 * s["hc"] * _ghk1(xp, v, s["cai"], k.KTF_CAN)
    if "g_cal" in active:
        i_ca = i_ca + p["g_cal"] * s["ml"] * _ghk1(xp, v, s["cai"], k.KTF_CAL)
    i_k = g_k * (v - ek)
    i_pas = p["g_pas"] * (v - p["e_pas"])
    return {"i_na": i_na, "i_k": i_k, "i_ca": i_ca, "i_pas": i_pas,
            "i": i_na + i_k + i_ca + i_pas, "g_ohmic": g_na + g_k + p["g_pas"]}  # fmt: skip


#: Gate -> (steady state, time constant: a function of v or a constant in ms).
_GATES = {
    "h": (k.nas_hinf, k.nas_htau), "n": (k.kdr_ninf, k.kdr_ntau),
    "a": (k.ka_ainf, k.KA_TAU_A), "b": (k.ka_binf, k.KA_TAU_B),
    "mc": (k.can_minf, k.CAN_TAU_M), "hc": (k.can_hinf, k.CAN_TAU_H),
    "ml": (k.cal_minf, k.CAL_TAU_M),
}  # fmt: skip


def cell_arrays(cell: CellType, xp: Any = np, dtype=None) -> dict:
    """Per-compartment constants of a cell type as ``xp`` arrays."""
    i_hold, irest = rest_currents(cell)
    conv = lambda a: xp.asarray(a, dtype=dtype)  # noqa: E731
    col = lambda a: conv(np.asarray(a)[:, None])  # noqa: E731  [n_comp, 1]
    return {
        "active": frozenset(c for c in ALL_CHANNELS if np.any(cell.params[c] != 0)),
        "spans": channel_spans(cell.params),
        "params": {key: conv(val) for key, val in cell.params.items()},
        "C": conv(cell.capacitance_nF()),
        "g_axial": conv(cell.g_axial),
        "i_hold": conv(i_hold),
        "irest": conv(irest),
        # the same as [n_comp, 1] columns, for compartment-major state (step_cm)
        "params_cm": {key: col(val) for key, val in cell.params.items()},
        "C_cm": col(cell.capacitance_nF()),
        "i_hold_cm": col(i_hold),
        "irest_cm": col(irest),
    }


def _tridiagonal_rows(lower, diag, upper, rhs_):
    """Solve tridiagonal systems along the leading axis (Thomas algorithm, unrolled).

    ``diag`` and ``rhs_`` are ``[m, n]`` (one system per column); ``lower[j]`` and
    ``upper[j]`` are per-row constants. Returns the ``m`` solution rows.
    """
    m = diag.shape[0]
    cp, dp = [None] * m, [None] * m
    cp[0] = upper[0] / diag[0]
    dp[0] = rhs_[0] / diag[0]
    for j in range(1, m):
        denom = diag[j] - lower[j] * cp[j - 1]
        cp[j] = upper[j] / denom
        dp[j] = (rhs_[j] - lower[j] * dp[j - 1]) / denom
    x = [None] * m
    x[m - 1] = dp[m - 1]
    for j in range(m - 2, -1, -1):
        x[j] = dp[j] - cp[j] * x[j + 1]
    return x


def step_cm(xp: Any, ca: dict, s: dict, dt: float, g_in=0.0, ge_in=0.0, i_inj=0.0):
    """:func:`step` on compartment-major state: every array is ``[n_comp, n]``.

    This is the integrator (the engine keeps RCSD state in this layout, where each
    compartment is a contiguous row); :func:`step` is the same on ``[n, n_comp]``.
    """
    p = ca["params_cm"]
    v = s["v"]
    m = v.shape[0]
    c = dense_currents(xp, ca, s)
    area_nA = p["area"] * 1e6
    C_dt = ca["C_cm"] / dt
    G = c["g_ohmic"] * area_nA
    ga = ca["g_axial"]
    # axial conductance to the left (j-1) and right (j+1) neighbour of each compartment
    g_left = [0.0] + [ga[j - 1] for j in range(1, m)]
    g_right = [ga[j] for j in range(m - 1)] + [0.0]
    zero = xp.zeros((1, 1), dtype=v.dtype)
    gl = xp.concatenate([zero, xp.reshape(ga, (-1, 1))], axis=0)
    gr = xp.concatenate([xp.reshape(ga, (-1, 1)), zero], axis=0)
    diag = C_dt + G + g_in + gl + gr
    rhs_ = (C_dt + G) * v - c["i"] * area_nA + ca["i_hold_cm"] + ge_in + i_inj
    lower = [-g for g in g_left]
    upper = [-g for g in g_right]
    v_new = xp.stack(_tridiagonal_rows(lower, diag, upper, rhs_), axis=0)

    new = dict(s)
    new["v"] = v_new
    rows = xp.arange(m)[:, None]
    for key, (inf_fn, tau) in _GATES.items():
        span = ca["spans"].get(GATE_CHANNEL[key])
        if span is None:
            continue
        lo, hi = span
        inf = inf_fn(xp, v_new)
        decay = _decay(dt / tau(xp, v_new)) if callable(tau) else float(np.exp(-dt / tau))
        upd = inf + (s[key] - inf) * decay
        # gates outside the channel's compartments keep their value
        new[key] = upd if (lo, hi) == (0, m) else xp.where((rows >= lo) & (rows < hi), upd, s[key])
    d = _pool_derivatives(xp, p, s, c, ca["irest_cm"])
    for key, dv in d.items():
        new[key] = new[key] + dt * dv
    return new


def step(xp: Any, ca: dict, s: dict, dt: float, g_in=0.0, ge_in=0.0, i_inj=0.0):
    """Advance the state by ``dt`` ms.

    Args:
        ca: Cell constants from :func:`cell_arrays`.
        s: State dict of ``[n, n_comp]`` arrays.
        g_in: ``[n, n_comp]`` input conductance (synapses, noise), µS.
        ge_in: ``[n, n_comp]`` Σ g·E of the inputs (µS·mV), so input current is g·v − ge.
        i_inj: ``[n, n_comp]`` injected current, nA (inward positive).
    """
    t = lambda a: a if np.ndim(a) < 2 else xp.swapaxes(a, 0, 1)  # noqa: E731
    new = step_cm(xp, ca, {key: t(val) for key, val in s.items()}, dt, t(g_in), t(ge_in),
                  t(i_inj))  # fmt: skip
    return {key: t(val) for key, val in new.items()}

"""Brian2 code for one step of a cell group, rendered from the model's own functions.

The model layer writes its equations once against an array namespace ``xp`` (NumPy or
``jax.numpy``; see :mod:`livn.models.base`). Here ``xp`` is :data:`XP`, whose functions
return :class:`Expr` — Brian2 abstract-code expressions — so the *same* Python functions
(channel kinetics, membrane currents, ion pools, the NMDA block, the LIF and Izhikevich
updates) produce the Brian2 code: no equation or parameter is copied into this backend.

:func:`group_code` returns the declarations (Brian2 ``Equations`` lines, all dimensionless
except times), the initial values and the statements of one integration step of a group:

1. synaptic channels: the arrivals ``inc`` of the step (written by ``on_pre``) enter the
   dual-exponential pair ``A, B`` (``g = (B − A)·w``, NMDA block at the target's voltage);
2. point-conductance noise: exact OU update from the step's standard normals;
3. the cell update — RCSD: backward Euler for the voltages with the axial coupling implicit
   (a tridiagonal solve per cell, unrolled), then gates at the new voltage, ion pools forward
   Euler with the currents of the start of the step (as :func:`livn.models.rcsd.dynamics.step`);
   LIF/Izhikevich: the model's own ``advance``;
4. spike detection (upward threshold crossing, interpolated crossing time, refractoriness).

Units: mV, ms, µS, nA; ``t`` and the spike times are Brian2 times (seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["XP", "Expr", "GroupCode", "cell_step", "group_code", "noise_inputs", "synaptic_inputs"]


def fmt(x: Any) -> str:
    """Code of an expression or a number."""
    if isinstance(x, Expr):
        return x.code
    if isinstance(x, bool | np.bool_):
        return "1" if x else "0"
    v = float(x)
    if math.isinf(v):
        return "inf" if v > 0 else "(-inf)"
    s = repr(v)
    return f"({s})" if v < 0 else s


class Expr:
    """A Brian2 abstract-code expression that composes by arithmetic.

    Comparisons give ``int(...)`` (0 or 1), so products and :meth:`_XP.where` work on them;
    indexing (``x[:, 0]``) returns the expression itself: one per-cell value stands for a
    column of the engine's ``[n, n_comp]`` arrays.
    """

    __slots__ = ("code",)
    __array_ufunc__ = None  # NumPy scalars defer to the reflected operators
    __hash__ = object.__hash__

    def __init__(self, code: str) -> None:
        self.code = code

    def __repr__(self) -> str:
        return f"Expr({self.code!r})"

    @staticmethod
    def _bin(op: str, a: Any, b: Any) -> Expr:
        return _mk(f"({fmt(a)} {op} {fmt(b)})")

    def __add__(self, o):
        return self._bin("+", self, o)

    def __radd__(self, o):
        return self._bin("+", o, self)

    def __sub__(self, o):
        return self._bin("-", self, o)

    def __rsub__(self, o):
        return self._bin("-", o, self)

    def __mul__(self, o):
        return self._bin("*", self, o)

    def __rmul__(self, o):
        return self._bin("*", o, self)

    def __truediv__(self, o):
        return self._bin("/", self, o)

    def __rtruediv__(self, o):
        return self._bin("/", o, self)

    def __pow__(self, o):
        if isinstance(o, int | np.integer) and 1 <= int(o) <= 4:
            return _mk("(" + " * ".join([self.code] * int(o)) + ")")
        return self._bin("**", self, o)

    def __neg__(self):
        return Expr(f"(-{self.code})")

    def __pos__(self):
        return self

    def _cmp(self, op: str, o: Any) -> Expr:
        return _mk(f"int({fmt(self)} {op} {fmt(o)})")

    def __lt__(self, o):
        return self._cmp("<", o)

    def __le__(self, o):
        return self._cmp("<=", o)

    def __gt__(self, o):
        return self._cmp(">", o)

    def __ge__(self, o):
        return self._cmp(">=", o)

    def __eq__(self, o):  # type: ignore[override]
        return self._cmp("==", o)

    def __ne__(self, o):  # type: ignore[override]
        return self._cmp("!=", o)

    def __and__(self, o):
        return self._bin("*", self, o)

    def __rand__(self, o):
        return self._bin("*", o, self)

    def astype(self, dtype: Any) -> Expr:
        return self

    def __getitem__(self, item: Any) -> Expr:
        return self


#: While rendering a group: the GroupCode that long expressions are hoisted into.
_SINK: list[Any] = []
_HOIST = 160  # characters


def _mk(code: str) -> Expr:
    """An expression; a long one becomes a temporary (keeps shared subexpressions small)."""
    if _SINK and _SINK[-1] is not None and len(code) > _HOIST:
        return _SINK[-1].temp(Expr(code))
    return Expr(code)


def _is(x: Any) -> bool:
    return isinstance(x, Expr)


class _XP:
    """The array namespace of the model functions, rendering Brian2 code (see :class:`Expr`)."""

    @staticmethod
    def _fn(name: str, x: Any, num):
        return _mk(f"{name}({fmt(x)})") if _is(x) else num(float(x))

    def exp(self, x):
        return self._fn("exp", x, math.exp)

    def log(self, x):
        return self._fn("log", x, math.log)

    def sqrt(self, x):
        return self._fn("sqrt", x, math.sqrt)

    def abs(self, x):
        return self._fn("abs", x, abs)

    def where(self, c, a, b):
        if not _is(c):
            return a if c else b
        return _mk(f"({fmt(c)} * {fmt(a)} + (1 - {fmt(c)}) * {fmt(b)})")

    def clip(self, x, lo, hi):
        if not _is(x):
            return min(max(float(x), lo), hi)
        return _mk(f"clip({fmt(x)}, {fmt(lo)}, {fmt(hi)})")

    def maximum(self, a, b):
        if not _is(a) and not _is(b):
            return max(float(a), float(b))
        if not _is(a):
            return self.clip(b, a, math.inf)
        if not _is(b):
            return self.clip(a, b, math.inf)
        return _mk(f"(0.5 * ({fmt(a)} + {fmt(b)} + abs({fmt(a)} - {fmt(b)})))")

    def minimum(self, a, b):
        if not _is(a) and not _is(b):
            return min(float(a), float(b))
        if not _is(a):
            return self.clip(b, -math.inf, a)
        if not _is(b):
            return self.clip(a, -math.inf, b)
        return _mk(f"(0.5 * ({fmt(a)} + {fmt(b)} - abs({fmt(a)} - {fmt(b)})))")

    def ones_like(self, x):
        return 1.0

    def zeros_like(self, x):
        return 0.0


#: The rendering array namespace.
XP = _XP()


def heaviside(x: Any) -> Expr:
    """The spike function (``1`` where ``x ≥ 0``)."""
    return Expr(f"int({fmt(x)} >= 0)")


@dataclass
class GroupCode:
    """Brian2 code of one cell group.

    Attributes:
        decls: ``Equations`` lines (``name : unit [(shared)]``, subexpressions).
        step: Statements of one integration step (before the threshold).
        soma_v: Name of the somatic voltage variable.
        soma_im: Name of the somatic membrane current subexpression (nA, outward positive).
    """

    decls: list[str] = field(default_factory=list)
    step: list[str] = field(default_factory=list)
    n_temps: int = 0
    soma_v: str = "v_0"
    soma_im: str = "im_soma"

    def temp(self, expr: Expr) -> Expr:
        """A fresh temporary holding ``expr``."""
        name = f"q_h{self.n_temps}"
        self.n_temps += 1
        self.step.append(f"{name} = {expr.code}")
        return Expr(name)

    def let(self, name: str, expr: Any) -> Any:
        """Assign ``expr`` to the temporary or variable ``name``; returns it as an Expr."""
        if not _is(expr):
            return float(expr)
        if name.endswith("_"):  # a temporary (Brian2 reserves a trailing underscore)
            name = "q_" + name[:-1]
        self.step.append(f"{name} = {fmt(expr)}")
        return Expr(name)


def synaptic_inputs(gc: GroupCode, cell: Any, channels: list, physics: Any, dt: float,
                    arrival) -> tuple[list, list]:  # fmt: skip
    """Dual-exponential channels (``A``, ``B`` per channel) driven by ``arrival(ci)`` (the
    release of the step, an :class:`Expr`), with the NMDA block at the target's voltage.

    Returns per-compartment ``(g_in, ge_in)``: Σ g and Σ g·E of the channels.
    """
    g_in: list[Any] = [0.0] * cell.n_comp
    ge_in: list[Any] = [0.0] * cell.n_comp
    for ci, ch in enumerate(channels):
        k = ch.kinetics
        gc.decls += [f"A{ci} : 1", f"B{ci} : 1"]
        arr = arrival(ci)
        if k.tau_rise > 0:
            gc.let(f"A{ci}", Expr(f"A{ci}") * float(np.exp(-dt / k.tau_rise)) + arr)
        gc.let(f"B{ci}", Expr(f"B{ci}") * float(np.exp(-dt / k.tau_decay)) + arr)
        g = Expr(f"(B{ci} - A{ci})") if k.tau_rise > 0 else Expr(f"B{ci}")
        if k.nmda:
            g = g * physics.mg_block(XP, Expr(f"v_{k.target}"))
        g = gc.let(f"gsyn{ci}_", g)
        g_in[k.target] = g_in[k.target] + g
        ge_in[k.target] = ge_in[k.target] + g * float(k.e)
    return g_in, ge_in


def noise_inputs(gc: GroupCode, cell: Any, g_in: list, ge_in: list, coeff, z_e: Any, z_i: Any,
                 noise_on: Any) -> tuple[list, list]:  # fmt: skip
    """Point-conductance noise (exact OU update of ``ge1``, ``gi1`` from the step's standard
    normals ``z_e``, ``z_i``; ``coeff(name)`` is the expression of ``a_e``, ``b_e``, ``g_e0``,
    ``a_i``, ``b_i`` or ``g_i0``) added to the inputs; returns them as temporaries."""
    gc.decls += ["ge1 : 1", "gi1 : 1"]
    gc.let("ge1", coeff("a_e") * Expr("ge1") + coeff("b_e") * z_e)
    gc.let("gi1", coeff("a_i") * Expr("gi1") + coeff("b_i") * z_i)
    gne = gc.let("gne_", XP.clip(coeff("g_e0") + Expr("ge1"), 0.0, math.inf) * noise_on)
    gni = gc.let("gni_", XP.clip(coeff("g_i0") + Expr("gi1"), 0.0, math.inf) * noise_on)
    g_in, ge_in = list(g_in), list(ge_in)
    g_in[cell.noise_e_comp] = g_in[cell.noise_e_comp] + gne
    ge_in[cell.noise_e_comp] = ge_in[cell.noise_e_comp] + gne * float(cell.noise_e_rev)
    g_in[cell.noise_i_comp] = g_in[cell.noise_i_comp] + gni
    ge_in[cell.noise_i_comp] = ge_in[cell.noise_i_comp] + gni * float(cell.noise_i_rev)
    return ([gc.let(f"gin{j}_", g) for j, g in enumerate(g_in)],
            [gc.let(f"gein{j}_", g) for j, g in enumerate(ge_in)])  # fmt: skip


def cell_step(gc: GroupCode, cell: Any, dt: float, g_in, ge_in, i_inj) -> None:
    """The cell update and spike test of the group's model (RCSD or a point model)."""
    if hasattr(cell, "cell") and hasattr(cell.cell, "g_axial"):  # RCSD compartment chain
        _rcsd(gc, cell, dt, g_in, ge_in, i_inj)
    else:
        _point(gc, cell, dt, g_in, ge_in, i_inj)


def _inputs(gc: GroupCode, cell: Any, channels: list, physics: Any, dt: float, gi: int):
    """Synaptic and noise conductances per compartment; returns ``(g_in, ge_in, i_inj)``."""
    n_comp = cell.n_comp
    for ci in range(len(channels)):
        gc.decls += [f"inc{ci} : 1", f"w{ci} : 1 (shared)"]

    def arrival(ci: int) -> Expr:  # written by on_pre into inc<ci>; consumed here
        gc.step.append(f"q_arr{ci} = inc{ci} * w{ci}")
        gc.step.append(f"inc{ci} = 0")
        return Expr(f"q_arr{ci}")

    g_in, ge_in = synaptic_inputs(gc, cell, channels, physics, dt, arrival)
    # point-conductance noise: standard normals from the livn_z table
    gc.decls += ["a_e : 1", "b_e : 1", "g_e0 : 1", "a_i : 1", "b_i : 1", "g_i0 : 1",
                 "noise_on : 1 (shared)", "t0 : second (shared)"]  # fmt: skip
    gc.step.append("q_lt = t - t0")
    g_in, ge_in = noise_inputs(gc, cell, g_in, ge_in, Expr, Expr(f"livn_z{gi}(q_lt, 2 * i)"),
                               Expr(f"livn_z{gi}(q_lt, 2 * i + 1)"), Expr("noise_on"))  # fmt: skip
    # injected current: a row of the livn_inj table, chosen by the livn_row table
    gc.step.append("q_row = livn_row(q_lt)")
    i_inj = [gc.let(f"iinj{j}_", Expr(f"livn_inj{gi}(q_row * {fmt(dt)} * ms, {n_comp} * i + {j})"))
             for j in range(n_comp)]  # fmt: skip
    return g_in, ge_in, i_inj


def _spike(gc: GroupCode, frac: Any, spk: Any, dt: float) -> None:
    """Spike flag, interpolated crossing time and last spike time."""
    gc.let("spk", spk)
    gc.step.append(f"tcross = t + {fmt(frac)} * {fmt(dt)} * ms")
    gc.step.append("tspike = tspike + spk * (tcross - tspike)")


def _rcsd(gc: GroupCode, cell: Any, dt: float, g_in, ge_in, i_inj) -> None:
    from livn.models.rcsd import dynamics as D

    ct = cell.cell
    ca = D.cell_arrays(ct, np, np.float64)
    m = ct.n_comp
    params = {key: np.asarray(val, np.float64) for key, val in ct.params.items()}
    states = []
    for j in range(m):
        p = {key: float(val[j]) for key, val in params.items()}
        active = frozenset(c for c in D.ALL_CHANNELS if p[c] != 0.0)
        s: dict[str, Any] = {}
        for key in D.STATE_KEYS:
            gate = D.GATE_CHANNEL.get(key)
            if gate is not None and gate not in active:
                s[key] = 0.0  # a gate of an absent channel: never read with weight
                continue
            s[key] = Expr(f"{key}_{j}")
            gc.decls.append(f"{key}_{j} : 1")
        states.append((p, active, s))

    v_soma_old = gc.let("vold_", states[ct.soma][2]["v"])
    since = gc.let("since_", Expr("(t - tspike) / ms"))
    diag, rhs, pools = [], [], []
    ga = [float(g) for g in ca["g_axial"]]
    for j, (p, active, s) in enumerate(states):
        c = D.dense_currents(XP, {"params_cm": p, "active": active}, s)
        c = {key: gc.let(f"{key}{j}_", val) for key, val in c.items()}
        d = D._pool_derivatives(XP, p, s, c, float(ca["irest"][j]))
        pools.append({key: gc.let(f"d{key}{j}_", val) for key, val in d.items()
                      if _is(val) and not _zero_pool(key, p)})  # fmt: skip
        area_nA = p["area"] * 1e6
        c_dt = float(ca["C"][j]) / dt
        big = c["g_ohmic"] * area_nA
        gl = ga[j - 1] if j > 0 else 0.0
        gr = ga[j] if j < m - 1 else 0.0
        diag.append(gc.let(f"diag{j}_", c_dt + big + g_in[j] + gl + gr))
        rhs.append(gc.let(f"rhs{j}_", (c_dt + big) * s["v"] - c["i"] * area_nA
                          + float(ca["i_hold"][j]) + ge_in[j] + i_inj[j]))  # fmt: skip
    # Thomas algorithm: lower[j] = -ga[j-1], upper[j] = -ga[j]
    cp, dp = [None] * m, [None] * m
    if m > 1:
        cp[0] = gc.let("cp0_", -ga[0] / diag[0])
    dp[0] = gc.let("dp0_", rhs[0] / diag[0])
    for j in range(1, m):
        den = gc.let(f"den{j}_", diag[j] + ga[j - 1] * cp[j - 1])
        if j < m - 1:
            cp[j] = gc.let(f"cp{j}_", -ga[j] / den)
        dp[j] = gc.let(f"dp{j}_", (rhs[j] + ga[j - 1] * dp[j - 1]) / den)
    x = [None] * m
    x[m - 1] = dp[m - 1]
    for j in range(m - 2, -1, -1):
        x[j] = gc.let(f"x{j}_", dp[j] - cp[j] * x[j + 1])
    for j in range(m):
        gc.let(f"v_{j}", x[j])
    # gates at the new voltage (exp(-dt/tau) by the model's Padé form where tau depends on v)
    for j, (_p, active, s) in enumerate(states):
        v_new = Expr(f"v_{j}")
        for key, (inf_fn, tau) in D._GATES.items():
            if D.GATE_CHANNEL[key] not in active:
                continue
            inf = gc.let(f"inf_{key}{j}_", inf_fn(XP, v_new))
            decay = D._decay(dt / tau(XP, v_new)) if callable(tau) else float(np.exp(-dt / tau))
            gc.let(f"{key}_{j}", inf + (s[key] - inf) * decay)
        for key, dv in pools[j].items():
            gc.let(f"{key}_{j}", s[key] + dt * dv)

    # spike: upward crossing of the threshold at the soma (as RCSDCell.advance)
    v1 = Expr(f"v_{ct.soma}")
    thr = float(cell.v_threshold)
    frac = gc.let("frac_", XP.clip((thr - v_soma_old) / XP.where(v1 != v_soma_old, v1 - v_soma_old,
                                                                1.0), 0.0, 1.0))  # fmt: skip
    ok = (v_soma_old < thr) & (since + dt * frac > float(cell.refractory))
    _spike(gc, frac, heaviside(v1 - thr) * ok, dt)

    # somatic membrane current (as RCSDCell.soma_current, at the recorded state)
    p, _active, s = states[ct.soma]
    _SINK.append(None)  # a subexpression: inline, no temporaries
    try:
        cur = D.currents(XP, p, s)
        im = cur["i"] * (p["area"] * 1e6) - float(ca["i_hold"][ct.soma])
    finally:
        _SINK.pop()
    gc.decls.append(f"im_soma = {fmt(im)} : 1")
    gc.soma_v = f"v_{ct.soma}"


def _zero_pool(key: str, p: dict[str, float]) -> bool:
    """Whether a pool of this compartment is constant (its rate coefficient is zero)."""
    coeff = {"cai": "ca_f", "nai": "na_pool", "nao": "na_pool", "ki": "k_pool", "ko": "k_pool"}
    return p[coeff[key]] == 0.0


def _point(gc: GroupCode, cell: Any, dt: float, g_in, ge_in, i_inj) -> None:
    s = {}
    for key in cell.initial_state(1, np, np.float64):
        gc.decls.append(f"{key}_0 : 1")
        s[key] = Expr(f"{key}_0")
    since = gc.let("since_", Expr("(t - tspike) / ms"))
    new, spk, frac = cell.advance(XP, {}, s, dt, g_in[0], ge_in[0], i_inj[0], since, heaviside)
    spk = gc.let("spk_", spk)
    frac = gc.let("frac_", frac)
    tmp = {key: gc.let(f"new_{key}_", val) for key, val in new.items()}
    for key, val in tmp.items():
        gc.let(f"{key}_0", val)
    _spike(gc, frac, spk, dt)
    _SINK.append(None)  # a subexpression: inline, no temporaries
    try:
        gc.decls.append(f"im_soma = {fmt(cell.soma_current(XP, {}, s))} : 1")
    finally:
        _SINK.pop()
    gc.soma_v = "v_0"


def group_code(cell: Any, channels: list, physics: Any, dt: float, gi: int) -> GroupCode:
    """The Brian2 code of group ``gi`` (see the module docstring).

    Args:
        cell: The group's :class:`~livn.models.base.CellDynamics` (RCSD, LIF or Izhikevich).
        channels: The group's synaptic channels (:class:`livn.backends.network.Channel`).
        physics: The model's :class:`~livn.models.base.SynapsePhysics`.
        dt: Integration step, ms.
        gi: Group index (names of the group's input tables).
    """
    gc = GroupCode()
    gc.decls += ["spk : 1", "tcross : second", "tspike : second"]
    _SINK.append(gc)
    try:
        g_in, ge_in, i_inj = _inputs(gc, cell, channels, physics, dt, gi)
        cell_step(gc, cell, dt, g_in, ge_in, i_inj)
    finally:
        _SINK.pop()
    return gc

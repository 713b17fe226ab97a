"""Independent high-accuracy solution of the RCSD single-cell equations (scipy, float64).

Integrates the continuous model (:func:`livn.models.rcsd.dynamics.rhs`) with an implicit
adaptive solver at tight tolerances, and finds spike times as upward threshold crossings of
the dense output, for comparison with the fixed-step engine.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from livn.models.rcsd import dynamics as D


def simulate_reference(cell, amplitude_nA, t_on, t_off, t_end, rtol=1e-9, atol=1e-10):
    """Somatic current step of ``amplitude_nA`` on ``[t_on, t_off)``; returns (sol, spikes)."""
    ca = D.cell_arrays(cell)
    s0 = D.initial_state(cell, 1)
    keys = D.STATE_KEYS
    n = cell.n_comp

    def unpack(y):
        return {k: y[i * n : (i + 1) * n][None, :] for i, k in enumerate(keys)}

    def f(t, y):
        inj = np.zeros((1, n))
        if t_on <= t < t_off:
            inj[0, cell.soma] = amplitude_nA
        d = D.rhs(np, ca, unpack(y), inj)
        return np.concatenate([d[k][0] for k in keys])

    def jac(t, y):
        h = 1e-6 * np.maximum(1e-3, np.abs(y))
        cols = [(f(t, y + e) - f(t, y - e)) / (2 * e[i]) for i, e in enumerate(np.diag(h))]
        return np.stack(cols, axis=1)

    y0 = np.concatenate([s0[k][0] for k in keys])
    pieces, t0, y = [], 0.0, y0
    for t1 in (t_on, t_off, t_end):  # restart at the discontinuities of the input
        if t1 <= t0:
            continue
        sol = solve_ivp(f, (t0, t1), y, method="Radau", rtol=rtol, atol=atol, dense_output=True,
                        max_step=0.5, jac=jac)  # fmt: skip
        pieces.append(sol)
        t0, y = t1, sol.y[:, -1]
    spikes = []
    vi = keys.index("v") * n + cell.soma
    for sol in pieces:
        tt = np.arange(sol.t[0], sol.t[-1], 0.002)
        v = sol.sol(tt)[vi]
        up = np.nonzero((v[:-1] < cell.v_threshold) & (v[1:] >= cell.v_threshold))[0]
        for i in up:  # refine the crossing by linear interpolation on the fine grid
            frac = (cell.v_threshold - v[i]) / (v[i + 1] - v[i])
            tc = tt[i] + frac * (tt[i + 1] - tt[i])
            if not spikes or tc - spikes[-1] > 2.0:
                spikes.append(tc)
    return pieces, np.array(spikes), y


def simulate_engine(step_fn, cell, amplitudes, t_on, t_off, t_end, dt):
    """Spike times (list per amplitude) from a fixed-step ``step_fn(state, i_inj) -> state``.

    Crossings are located by linear interpolation between steps.
    """
    n = len(amplitudes)
    s = D.initial_state(cell, n)
    spikes = [[] for _ in range(n)]
    steps = round(t_end / dt)
    for i in range(steps):
        t = i * dt
        inj = np.zeros((n, cell.n_comp))
        if t_on <= t < t_off:
            inj[:, cell.soma] = amplitudes
        v0 = np.asarray(s["v"][:, cell.soma], dtype=np.float64)
        s = step_fn(s, inj)
        v1 = np.asarray(s["v"][:, cell.soma], dtype=np.float64)
        for j in np.nonzero((v0 < cell.v_threshold) & (v1 >= cell.v_threshold))[0]:
            tc = t + dt * (cell.v_threshold - v0[j]) / (v1[j] - v0[j])
            if not spikes[j] or tc - spikes[j][-1] > 2.0:
                spikes[j].append(tc)
    return s, [np.array(x) for x in spikes]


CASES = {
    # name: (cell, amplitude nA, t_on, t_off, t_end) — somatic current steps
    "EXC_0.3": ("EXC", 0.3, 150.0, 250.0, 300.0),
    "INH_0.3": ("INH", 0.3, 150.0, 250.0, 300.0),
    "EXC_0.05": ("EXC", 0.05, 150.0, 350.0, 350.0),
    "EXC_1.0": ("EXC", 1.0, 150.0, 250.0, 250.0),
    "EXC_2.0": ("EXC", 2.0, 150.0, 250.0, 250.0),
    "INH_2.0": ("INH", 2.0, 150.0, 200.0, 200.0),
}
DATA = __import__("pathlib").Path(__file__).parent / "data" / "rcsd_reference.json"


def compute_case(name):
    """Reference spike times and final soma voltage for one case."""
    from livn.models.rcsd.cells import exc_cell, inh_cell

    kind, amp, t_on, t_off, t_end = CASES[name]
    cell = exc_cell() if kind == "EXC" else inh_cell()
    _, spikes, _y = simulate_reference(cell, amp, t_on, t_off, t_end)
    return {"spikes": spikes.tolist(), "rtol": 1e-9, "atol": 1e-10}


if __name__ == "__main__":  # python tests/rcsd_reference.py  (regenerates tests/data)
    import json
    import sys
    import warnings

    warnings.simplefilter("ignore")
    names = sys.argv[1:] or list(CASES)
    data = json.loads(DATA.read_text()) if DATA.exists() else {}
    for name in names:
        data[name] = compute_case(name)
        print(name, len(data[name]["spikes"]), flush=True)
        DATA.write_text(json.dumps(data, indent=1))

COMMENT
A livn synaptic channel (SPEC 2.4): every synapse of one (projection, mechanism) onto a cell.
Dual exponential g = gmax (B - A) (tau1 rise, tau2 decay; rise = 0: single exponential),
gmax the peak conductance per unit release. NMDA (nmda = 1) is scaled by the Mg block
1 / (1 + exp(-0.062 v) mg / 3.57). Each connection (NetCon) releases its weight, times
R U with AMPA short-term depression (depress = 1, Tsodyks-Markram):
R_eff = 1 - (1 - R) exp(-(t - tlast) / tau_rec), release R_eff U, then R = R_eff (1 - U).
ENDCOMMENT
NEURON {
    POINT_PROCESS LivnSyn
    RANGE tau1, tau2, e, gmax, rise, nmda, mg, depress, U, tau_rec, g, i
    NONSPECIFIC_CURRENT i
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) (mM) = (milli/liter) }
PARAMETER {
    tau1 = 1 (ms)
    tau2 = 5 (ms)
    e = 0 (mV)
    gmax = 0 (uS)
    rise = 1
    nmda = 0
    mg = 1 (mM)
    depress = 0
    U = 0.25
    tau_rec = 400 (ms)
}
ASSIGNED { v (mV) i (nA) g (uS) }
STATE { A B }
INITIAL { A = 0 B = 0 }
BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gmax * (B - A)
    if (nmda) { g = g / (1 + exp(-0.062 * v) * mg / 3.57) }
    i = g * (v - e)
}
DERIVATIVE states { A' = -A / tau1 B' = -B / tau2 }
NET_RECEIVE(w, R, tlast (ms)) {
    LOCAL reff, rel
    INITIAL { R = 1 tlast = -1e9 }
    if (depress) {
        reff = 1 - (1 - R) * exp(-(t - tlast) / tau_rec)
        rel = w * reff * U
        R = reff * (1 - U)
        tlast = t
    } else {
        rel = w
    }
    A = A + rel * rise
    B = B + rel
}

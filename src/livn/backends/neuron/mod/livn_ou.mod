COMMENT
Point-conductance background noise (SPEC 2.5): an Ornstein-Uhlenbeck conductance with mean g0,
standard deviation std and time constant tau, updated exactly once per step,
g1 <- a g1 + std sqrt(1 - a^2) z (a = exp(-dt/tau), z standard normal from this instance's
Random123 stream), conductance max(0, g0 + g1) on, current g (v - e).
ENDCOMMENT
NEURON {
    POINT_PROCESS LivnOU
    RANGE g0, std, tau, e, on, g, g1, i
    NONSPECIFIC_CURRENT i
    RANDOM rng
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) }
PARAMETER {
    g0 = 0 (uS)
    std = 0 (uS)
    tau = 10 (ms)
    e = 0 (mV)
    on = 1
}
ASSIGNED { v (mV) i (nA) g (uS) g1 (uS) dt (ms) }
INITIAL { g1 = 0 }
BREAKPOINT {
    SOLVE update
    g = g0 + g1
    if (g < 0) { g = 0 }
    g = g * on
    i = g * (v - e)
}
PROCEDURE update() {
    LOCAL a
    if (std > 0) {
        a = exp(-dt / tau)
        g1 = a * g1 + std * sqrt(1 - a * a) * random_normal(rng)
    } else {
        g1 = g1 * exp(-dt / tau)
    }
}

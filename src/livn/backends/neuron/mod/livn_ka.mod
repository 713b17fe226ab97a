COMMENT
RCSD A-type potassium channel Ka (SPEC 2.3): i = gbar a b (v - ek), tau_a 1 ms, tau_b 15 ms.
ENDCOMMENT
NEURON {
    SUFFIX livn_ka
    USEION k READ ek WRITE ik
    RANGE gbar
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { gbar = 0 (S/cm2) taua = 1 (ms) taub = 15 (ms) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) }
STATE { a b }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar * a * b * (v - ek)
}
INITIAL { a = ainf(v) b = binf(v) }
DERIVATIVE states { a' = (ainf(v) - a) / taua b' = (binf(v) - b) / taub }
FUNCTION ainf(v (mV)) { ainf = 1 / (1 + exp(-(v + 36) / 8)) }
FUNCTION binf(v (mV)) { binf = 1 / (1 + exp((v + 66) / 8)) }

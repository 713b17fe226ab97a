COMMENT
RCSD delayed-rectifier potassium channel Kdr (SPEC 2.3): i = gbar n^4 (v - ek).
ENDCOMMENT
NEURON {
    SUFFIX livn_kdr
    USEION k READ ek WRITE ik
    RANGE gbar
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { gbar = 0 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) ninf ntau (ms) }
STATE { n }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar * n^4 * (v - ek)
}
INITIAL { rates(v) n = ninf }
DERIVATIVE states { rates(v) n' = (ninf - n) / ntau }
PROCEDURE rates(v (mV)) {
    ninf = 1 / (1 + exp(-(v + 28) / 15))
    ntau = 7 / (exp((v + 40) / 40) + exp(-(v + 40) / 50))
}

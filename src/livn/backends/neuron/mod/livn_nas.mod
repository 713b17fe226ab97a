COMMENT
RCSD sodium channel Nas (SPEC 2.3): i = gbar m_inf(v)^3 h (v - ena), instantaneous m.
m = m_inf(v) is updated with the gates (once per step, at the step's starting voltage) and is
a constant of the current: otherwise NEURON's numerical di/dv takes m_inf's steep slope into
the implicit voltage step, whose diagonal then turns negative on the upstroke and the step
diverges (the JAX engine linearises the same way).
ENDCOMMENT
NEURON {
    SUFFIX livn_nas
    USEION na READ ena WRITE ina
    RANGE gbar, m
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { gbar = 0 (S/cm2) }
ASSIGNED { v (mV) ena (mV) ina (mA/cm2) hinf htau (ms) m }
STATE { h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ina = gbar * m * m * m * h * (v - ena)
}
INITIAL { rates(v) h = hinf }
DERIVATIVE states { rates(v) h' = (hinf - h) / htau }
FUNCTION minf(v (mV)) { minf = 1 / (1 + exp(-(v + 35) / 7.8)) }
PROCEDURE rates(v (mV)) {
    m = minf(v)
    hinf = 1 / (1 + exp((v + 55) / 7))
    htau = 30 / (exp((v + 50) / 15) + exp(-(v + 50) / 16))
}

COMMENT
RCSD N-type calcium channel CaN (SPEC 2.3): i = gbar m^2 h GHK(v, cai), tau_m 4 ms, tau_h 40 ms.
GHK(v, cai) = -f (1 - (cai/cao) e^(v/f)) efun(v/f) with f = KTF/2, KTF = 36/293.15 (celsius + 273.15).
The GHK driving term is evaluated with the gates, once per step at the step's starting
voltage, and held through the step: the calcium current enters the voltage step explicitly, as
in livn's integrator (SPEC 2). Left to NEURON's numerical di/dv it would enter implicitly,
which changes INH firing by ~0.1 % (a 0.1 ms drift over 35 spikes at 2 nA; both first order).
ENDCOMMENT
NEURON {
    SUFFIX livn_can
    USEION ca READ cai WRITE ica
    RANGE gbar, drive
    GLOBAL cao_ghk, ktf_scale
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) (mM) = (milli/liter) }
PARAMETER {
    gbar = 0 (S/cm2)
    taum = 4 (ms)
    tauh = 40 (ms)
    cao_ghk = 2 (mM)
    ktf_scale = 36 (mV)
}
ASSIGNED { v (mV) cai (mM) ica (mA/cm2) celsius (degC) drive (mV) }
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ica = gbar * m * m * h * drive
}
INITIAL { m = minf(v) h = hinf(v) drive = ghk(v, cai) }
DERIVATIVE states { drive = ghk(v, cai) m' = (minf(v) - m) / taum h' = (hinf(v) - h) / tauh }
FUNCTION minf(v (mV)) { minf = 1 / (1 + exp(-(v + 30) / 5)) }
FUNCTION hinf(v (mV)) { hinf = 1 / (1 + exp((v + 45) / 5)) }
FUNCTION ghk(v (mV), ci (mM)) (mV) {
    LOCAL f, z
    f = ktf_scale / 293.15 * (celsius + 273.15) / 2
    z = v / f
    ghk = -f * (1 - (ci / cao_ghk) * exp(z)) * efun(z)
}
FUNCTION efun(z) {
    if (fabs(z) < 1e-4) { efun = 1 - z / 2 } else { efun = z / (exp(z) - 1) }
}

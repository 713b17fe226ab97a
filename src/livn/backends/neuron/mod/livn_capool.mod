COMMENT
RCSD calcium pool (SPEC 2.3): cai' = f (max(0, -alpha (ica - irest)) - kk (cai - cai0)).
irest is the resting calcium current density of the compartment (at -60 mV).
ENDCOMMENT
NEURON {
    SUFFIX livn_capool
    USEION ca READ ica WRITE cai
    RANGE f, alpha, kk, irest
    GLOBAL cai0
}
UNITS { (mA) = (milliamp) (mM) = (milli/liter) }
PARAMETER {
    f = 0 (1)
    alpha = 0 (mM/ms/mA-cm2)
    kk = 0 (/ms)
    irest = 0 (mA/cm2)
    cai0 = 1e-5 (mM)
}
ASSIGNED { ica (mA/cm2) }
STATE { cai (mM) }
INITIAL { cai = cai0 }
BREAKPOINT { SOLVE states METHOD cnexp }
DERIVATIVE states {
    cai' = f * (drive(ica) - kk * (cai - cai0))
}
FUNCTION drive(ica (mA/cm2)) (mM/ms) {
    drive = -alpha * (ica - irest)
    if (drive < 0) { drive = 0 }
}

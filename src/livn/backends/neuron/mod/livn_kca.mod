COMMENT
RCSD calcium-activated potassium channel KCa (SPEC 2.3): i = gbar cai/(cai + 0.0005) (v - ek).
ENDCOMMENT
NEURON {
    SUFFIX livn_kca
    USEION k READ ek WRITE ik
    USEION ca READ cai
    RANGE gbar
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) (mM) = (milli/liter) }
PARAMETER { gbar = 0 (S/cm2) khalf = 0.0005 (mM) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) cai (mM) }
BREAKPOINT { ik = gbar * cai / (cai + khalf) * (v - ek) }

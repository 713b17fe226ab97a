COMMENT
Holding current of an RCSD section (SPEC 2): a constant inward current density that cancels the
ionic current at -60 mV, so that with no input every section rests there.
ENDCOMMENT
NEURON {
    SUFFIX livn_hold
    NONSPECIFIC_CURRENT i
    RANGE ihold
}
UNITS { (mA) = (milliamp) }
PARAMETER { ihold = 0 (mA/cm2) }
ASSIGNED { i (mA/cm2) }
BREAKPOINT { i = -ihold }

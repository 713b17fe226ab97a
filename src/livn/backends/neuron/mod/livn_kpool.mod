COMMENT
RCSD potassium pools (SPEC 2.3): inside and outside concentrations driven by ik,
ki' = -ik scale - beta (ki - ki0), ko' = ik scale - beta (ko - ko0),
scale = 1e4 / (2 F depth) with depth 0.2 um.
ENDCOMMENT
NEURON {
    SUFFIX livn_kpool
    USEION k READ ik WRITE ki, ko
    GLOBAL beta, depth, ki00, ko00
}
UNITS { (mA) = (milliamp) (mM) = (milli/liter) (um) = (micron) FARADAY = (faraday) (coulomb) }
PARAMETER {
    beta = 0.075 (/ms)
    depth = 0.2 (um)
    ki00 = 145 (mM)
    ko00 = 5 (mM)
}
ASSIGNED { ik (mA/cm2) }
STATE { ki (mM) ko (mM) }
INITIAL { ki = ki00 ko = ko00 }
BREAKPOINT { SOLVE states METHOD cnexp }
DERIVATIVE states {
    LOCAL influx
    influx = -ik * 1e4 / (2 * FARADAY * depth)
    ki' = influx - beta * (ki - ki00)
    ko' = -influx - beta * (ko - ko00)
}

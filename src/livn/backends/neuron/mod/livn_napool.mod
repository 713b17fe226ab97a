COMMENT
RCSD sodium pools (SPEC 2.3): inside and outside concentrations driven by ina,
nai' = -ina scale - beta (nai - nai0), nao' = ina scale - beta (nao - nao0),
scale = 1e4 / (2 F depth) with depth 0.2 um.
ENDCOMMENT
NEURON {
    SUFFIX livn_napool
    USEION na READ ina WRITE nai, nao
    GLOBAL beta, depth, nai00, nao00
}
UNITS { (mA) = (milliamp) (mM) = (milli/liter) (um) = (micron) FARADAY = (faraday) (coulomb) }
PARAMETER {
    beta = 0.075 (/ms)
    depth = 0.2 (um)
    nai00 = 15 (mM)
    nao00 = 145 (mM)
}
ASSIGNED { ina (mA/cm2) }
STATE { nai (mM) nao (mM) }
INITIAL { nai = nai00 nao = nao00 }
BREAKPOINT { SOLVE states METHOD cnexp }
DERIVATIVE states {
    LOCAL influx
    influx = -ina * 1e4 / (2 * FARADAY * depth)
    nai' = influx - beta * (nai - nai00)
    nao' = -influx - beta * (nao - nao00)
}

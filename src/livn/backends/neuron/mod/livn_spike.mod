COMMENT
livn's spike detector (SPEC 2): an upward crossing of the somatic threshold is a spike unless it
comes within the refractory period of the cell's previous spike (as the JAX engine detects
spikes). NEURON's NetCon threshold detection has no refractory period: during a strong
stimulus a cell can cross twice within 2 ms, which livn counts once.
ENDCOMMENT
NEURON {
    POINT_PROCESS LivnSpike
    RANGE vthresh, refractory, tlast
}
UNITS { (mV) = (millivolt) }
PARAMETER {
    vthresh = -37 (mV)
    refractory = 2 (ms)
}
ASSIGNED { v (mV) tlast (ms) }
INITIAL {
    tlast = -1e9
    net_send(0, 1)
}
NET_RECEIVE(w) {
    if (flag == 1) {
        WATCH (v > vthresh) 2
    } else if (flag == 2) {
        if (t - tlast > refractory) {
            tlast = t
            net_event(t)
        }
    }
}

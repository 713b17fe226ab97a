"""The native backend: a fused, Numba-compiled CPU kernel (:mod:`livn.backends.native.engine`)."""

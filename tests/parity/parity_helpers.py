"""Stimuli and spike bookkeeping shared by the parity modules."""

from __future__ import annotations

import numpy as np

#: Somatic current steps of the single-cell cases (nA), one cell of each type per amplitude.
AMPLITUDES = (0.05, 0.2, 0.5, 1.0, 2.0)


def step_stimulus(system, t_on: float, t_off: float, t_end: float) -> np.ndarray:
    """``[t_end, 10]`` somatic currents (1 ms rows): cell k of each population gets
    ``AMPLITUDES[k]`` on ``[t_on, t_off)``."""
    x = np.zeros((int(t_end), system.num_neurons))
    for pop in ("EXC", "INH"):
        start, _ = system.population_ranges[pop]
        for k, amp in enumerate(AMPLITUDES):
            x[int(t_on) : int(t_off), start + k] = amp
    return x


def spike_trains(it: np.ndarray, t: np.ndarray, n: int) -> list[np.ndarray]:
    """Spike times per cell (gid order)."""
    return [np.sort(t[it == i]) for i in range(n)]

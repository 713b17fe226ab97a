"""Cross-simulator parity workloads: the same system, stimulus and seed on any backend.

Used by the parity suite (``tests/parity``) and ``benchmarks/parity.py``, and by anyone who
wants to check that the simulators of an installation agree (docs/backends.md):

* :func:`isolated_cells` — a system of 5 EXC and 5 INH cells without connections, with an MEA;
* :func:`step_trains` — those cells under 500 ms somatic current steps of
  :data:`AMPLITUDES` (no noise): spike times per cell;
* :func:`extracellular_threshold` — the smallest 1 ms pulse on the electrode nearest a cell
  that makes it spike from rest;
* :func:`culture` — EI2 under electrode pulses without noise, or with noise.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

__all__ = ["AMPLITUDES", "culture", "extracellular_threshold", "isolated_cells", "step_trains"]

#: Somatic current steps of the single-cell cases (nA), one cell of each type per amplitude.
AMPLITUDES = (0.05, 0.2, 0.5, 1.0, 2.0)


def isolated_cells(directory: str | os.PathLike) -> str:
    """Generate the 10 isolated cells (5 EXC, 5 INH, seed 3) with a 500 µm MEA into
    ``directory``; returns its path."""
    from livn.workflows.generate_2d import Generate2D

    out = os.fspath(directory)
    job = Generate2D({
        "total_cells": 10, "output_directory": out, "seed": 3,
        "populations": {"EXC": {"count": 5, "synapse_type": "excitatory"},
                        "INH": {"count": 5, "synapse_type": "inhibitory"}},
        "connectivity": {"mean_degree": 0.0},
    })  # fmt: skip
    with warnings.catch_warnings():  # no connections: the degree warning is expected
        warnings.simplefilter("ignore")
        job.launch()
    job.mea(pitch=500.0)
    return out


def step_trains(path: str, backend: str, t_on: float = 100.0, t_off: float = 600.0,
                t_end: float = 650.0) -> list[np.ndarray]:  # fmt: skip
    """Spike times (ms) per cell of :func:`isolated_cells` under current steps on
    ``[t_on, t_off)``: cell ``k`` of each population gets ``AMPLITUDES[k]``; no noise."""
    from livn.env import Env
    from livn.stimulus import Stimulus
    from livn.system import System

    system = System(path)
    x = np.zeros((int(t_end), system.num_neurons))
    for pop in ("EXC", "INH"):
        start, _ = system.population_ranges[pop]
        for k, amp in enumerate(AMPLITUDES):
            x[int(t_on) : int(t_off), start + k] = amp
    env = Env(system, backend=backend, seed=1).init()
    env.set_noise(enabled=False)
    env.record_spikes()
    it, t, _, _ = env.run(t_end, Stimulus(x, dt=1.0))
    env.close()
    return [np.sort(t[it == i]) for i in range(system.num_neurons)]


def extracellular_threshold(path: str, backend: str, cell: int, hi: float = 400.0,
                            resolution: float = 0.005) -> float:  # fmt: skip
    """Smallest 1 ms pulse (µA) on the electrode nearest ``cell`` that makes it spike from rest
    (bisection on ``[0, hi]`` to ``resolution`` of the bracket)."""
    from livn.env import Env
    from livn.errors import ConfigError
    from livn.system import System

    system = System(path)
    env = Env(system, backend=backend, seed=1).init()
    env.set_noise(enabled=False)
    env.record_spikes()
    soma = np.asarray(system.neuron_coordinates)
    soma = soma[soma[:, 0] == cell][0, 1:4]
    channel = int(np.argmin(np.linalg.norm(env.io.electrode_coordinates[:, 1:4] - soma, axis=1)))

    def fires(amp: float) -> bool:
        env.clear()
        env.run(150.0)  # from the initial -75 mV to rest
        x = np.zeros((20, env.io.num_channels), np.float32)
        x[5, channel] = amp
        return bool(np.any(env.run(20.0, env.cell_stimulus(x, dt=1.0)).it == cell))

    lo = 0.0
    if not fires(hi) or fires(lo):
        raise ConfigError(f"no threshold for cell {cell} in [0, {hi}] µA on channel {channel}.")
    while hi - lo > resolution * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fires(mid) else (mid, hi)
    env.close()
    return hi


def culture(backend: str, tuned: bool, noise: bool, duration: float = 1000.0,
            seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(it, t)`` of EI2: without noise, 2 ms pulses of 20 µA on every electrode every
    100 ms; with noise, ``duration`` after a 300 ms transient. ``tuned``: the system's
    tuned weights (else the template weights)."""
    from livn.env import Env
    from livn.system import make

    seed = seed if seed is not None else (7 if noise else 3)
    env = Env(make("EI2"), backend=backend, seed=seed).init()
    if tuned:
        env.apply_model_defaults()
    if not noise:
        env.set_noise(enabled=False)
    env.record_spikes()
    if noise:
        env.run(300.0)
        it, t, _, _ = env.run(duration)
    else:
        x = np.zeros((int(duration), env.io.num_channels), np.float32)
        for k in range(int(duration) // 100):
            x[100 * k + 50 : 100 * k + 52, :] = 20.0
        it, t, _, _ = env.run(duration, env.cell_stimulus(x, dt=1.0))
    env.close()
    return it, t

"""Parity figures of every installed backend against the JAX engine (what tests/parity holds).

Prints, per backend: single RCSD cells (500 ms somatic steps of 0.05–2 nA, EXC and INH, no
noise) — spike counts and the largest spike-time difference over the first 100 ms; the
extracellular threshold of one EXC and one INH cell for a 1 ms pulse on the nearest electrode;
EI2 without noise under 2 ms electrode pulses every 100 ms (template and tuned weights) —
per-cell spike-count differences and population rates; EI2 with noise — rate, ISI CV and
synchrony.

    python benchmarks/parity.py [--backends neuron brian2] [--duration 1000]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import warnings

import numpy as np

AMPLITUDES = (0.05, 0.2, 0.5, 1.0, 2.0)


def isolated_system() -> str:
    from livn.workflows.generate_2d import Generate2D

    out = os.path.join(tempfile.mkdtemp(prefix="livn-parity-"), "isolated")
    job = Generate2D({
        "total_cells": 10, "output_directory": out, "seed": 3,
        "populations": {"EXC": {"count": 5, "synapse_type": "excitatory"},
                        "INH": {"count": 5, "synapse_type": "inhibitory"}},
        "connectivity": {"mean_degree": 0.0},
    })  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        job.launch()
    job.mea(pitch=500.0)
    return out


def single_cells(path: str, backend: str) -> list[np.ndarray]:
    from livn.env import Env
    from livn.stimulus import Stimulus
    from livn.system import System

    system = System(path)
    x = np.zeros((650, 10))
    for pop in ("EXC", "INH"):
        start, _ = system.population_ranges[pop]
        for k, amp in enumerate(AMPLITUDES):
            x[100:600, start + k] = amp
    env = Env(system, backend=backend, seed=1).init()
    env.set_noise(enabled=False)
    env.record_spikes()
    it, t, _, _ = env.run(650.0, Stimulus(x, dt=1.0))
    env.close()
    return [np.sort(t[it == i]) for i in range(10)]


def threshold(path: str, backend: str, cell: int) -> float:
    from livn.env import Env
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
        env.run(150.0)
        x = np.zeros((20, env.io.num_channels), np.float32)
        x[5, channel] = amp
        return bool(np.any(env.run(20.0, env.cell_stimulus(x, dt=1.0)).it == cell))

    lo, hi = 0.0, 400.0
    while hi - lo > 0.002 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fires(mid) else (mid, hi)
    env.close()
    return hi


def culture(backend: str, tuned: bool, noise: bool, duration: float):
    from livn.env import Env
    from livn.system import make

    env = Env(make("EI2"), backend=backend, seed=7 if noise else 3).init()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["neuron", "brian2"])
    parser.add_argument("--duration", type=float, default=1000.0)
    args = parser.parse_args()
    from livn.decoding import isi_cv, synchrony

    path = isolated_system()
    ref = {"cells": single_cells(path, "jax"),
           "thr": [threshold(path, "jax", c) for c in (0, 5)]}  # fmt: skip
    cultures = {}
    for case in ((False, False), (True, False), (True, True)):
        cultures[case] = {"jax": culture("jax", *case, args.duration)}
    for backend in args.backends:
        if importlib.util.find_spec(backend) is None:
            print(f"{backend}: not installed")
            continue
        print(f"== {backend} vs jax")
        cells = single_cells(path, backend)
        for i in range(10):
            a, b = ref["cells"][i], cells[i]
            a100, b100 = a[a < 200], b[b < 200]
            n = min(len(a100), len(b100))
            dt = np.max(np.abs(a100[:n] - b100[:n])) if n else float("nan")
            kind = "EXC" if i < 5 else "INH"
            print(f"  {kind} {AMPLITUDES[i % 5]:>4} nA: spikes jax {len(a):>3} {backend} "
                  f"{len(b):>3}; first 100 ms: {len(a100)} vs {len(b100)}, max |dt| {dt:.4f} ms")
        for c, thr_jax in zip((0, 5), ref["thr"], strict=True):
            thr = threshold(path, backend, c)
            print(f"  extracellular threshold {'EXC' if c < 5 else 'INH'}: jax {thr_jax:.2f} µA, "
                  f"{backend} {thr:.2f} µA ({100 * (thr_jax - thr) / thr:+.2f} %)")
        for (tuned, noise), runs in cultures.items():
            it_a, t_a = runs["jax"]
            it_b, t_b = culture(backend, tuned, noise, args.duration)
            label = f"EI2 {'tuned' if tuned else 'template'} weights, noise {'on' if noise else 'off'}"
            sim_s = args.duration / 1000.0
            ra, rb = len(it_a) / 100 / sim_s, len(it_b) / 100 / sim_s
            if noise:
                print(f"  {label}: rate {ra:.2f} vs {rb:.2f} Hz, ISI CV {isi_cv(it_a, t_a):.3f} vs "
                      f"{isi_cv(it_b, t_b):.3f}, synchrony {synchrony(it_a, t_a, args.duration):.3f}"
                      f" vs {synchrony(it_b, t_b, args.duration):.3f}")
            else:
                ca, cb = np.bincount(it_a, minlength=100), np.bincount(it_b, minlength=100)
                print(f"  {label}: rate {ra:.2f} vs {rb:.2f} Hz ({100 * (ra - rb) / rb:+.1f} %), "
                      f"cells with different counts {int(np.sum(ca != cb))}/100, "
                      f"sum |Δcount| / count {np.abs(ca - cb).sum() / max(1, cb.sum()):.3f}")


if __name__ == "__main__":
    main()

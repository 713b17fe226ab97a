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
import tempfile
from pathlib import Path

import numpy as np

from livn.backends.parity import (
    AMPLITUDES,
    culture,
    extracellular_threshold,
    isolated_cells,
    step_trains,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["neuron", "brian2"])
    parser.add_argument("--duration", type=float, default=1000.0)
    args = parser.parse_args()
    from livn.decoding import isi_cv, synchrony

    path = isolated_cells(Path(tempfile.mkdtemp(prefix="livn-parity-")) / "isolated")
    ref = {"cells": step_trains(path, "jax"),
           "thr": [extracellular_threshold(path, "jax", c, resolution=0.002) for c in (0, 5)]}  # fmt: skip
    cultures = {}
    for case in ((False, False), (True, False), (True, True)):
        cultures[case] = {"jax": culture("jax", *case, args.duration)}
    for backend in args.backends:
        if importlib.util.find_spec(backend) is None:
            print(f"{backend}: not installed")
            continue
        print(f"== {backend} vs jax")
        cells = step_trains(path, backend)
        for i in range(10):
            a, b = ref["cells"][i], cells[i]
            a100, b100 = a[a < 200], b[b < 200]
            n = min(len(a100), len(b100))
            dt = np.max(np.abs(a100[:n] - b100[:n])) if n else float("nan")
            kind = "EXC" if i < 5 else "INH"
            print(f"  {kind} {AMPLITUDES[i % 5]:>4} nA: spikes jax {len(a):>3} {backend} "
                  f"{len(b):>3}; first 100 ms: {len(a100)} vs {len(b100)}, max |dt| {dt:.4f} ms")
        for c, thr_jax in zip((0, 5), ref["thr"], strict=True):
            thr = extracellular_threshold(path, backend, c, resolution=0.002)
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

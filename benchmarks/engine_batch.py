"""Batched trials (``Env.run_batch``, ``jax.vmap``): trials per second against batch size.

RCSD on EI2 (100 cells) with background noise, recording spikes, voltage and membrane
current; each trial an independent noise seed from the same initial state. Meant for a GPU
(``JAX_PLATFORMS=cuda``); on a CPU the batch only amortises dispatch.

    python benchmarks/engine_batch.py [--system EI2] [--duration 100] [--sizes 1 4 16 64 256 1024]
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="EI2")
    parser.add_argument("--duration", type=float, default=100.0, help="ms per trial")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64, 256, 1024])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import jax

    from livn.env import Env
    from livn.system import predefined

    env = Env(predefined(args.system), seed=1).init()
    env.apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    env.record_membrane_current()
    print(f"device: {jax.devices()[0]}; system {args.system}; {args.duration:g} ms per trial")
    print(f"{'batch':>6} {'compile+first s':>16} {'wall s':>8} {'trials/s':>10} "
          f"{'sim s per wall s':>17} {'spikes/trial':>13}")  # fmt: skip
    for b in args.sizes:
        seeds = list(range(b))
        t0 = time.perf_counter()
        env.run_batch(args.duration, seeds=seeds)
        t1 = time.perf_counter()
        best = float("inf")
        for _ in range(args.repeat):
            s = time.perf_counter()
            res = env.run_batch(args.duration, seeds=seeds)
            best = min(best, time.perf_counter() - s)
        spikes = sum(len(r.it) for r in res) / b
        print(f"{b:>6} {t1 - t0:>16.2f} {best:>8.3f} {b / best:>10.1f} "
              f"{b * args.duration / 1000.0 / best:>17.2f} {spikes:>13.1f}")  # fmt: skip


if __name__ == "__main__":
    main()

"""RCSD engine speed: wall seconds per simulated second, start-up (compile) time, peak memory.

Case (a) of the engine issue: RCSD on EI2 (100 cells) with background noise, recording
spikes, voltage and membrane current.

    python benchmarks/engine_rcsd.py [--system EI2] [--duration 1000] [--repeat 3]
                                     [--backend jax|native|neuron|brian2]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="EI2")
    parser.add_argument("--duration", type=float, default=1000.0, help="ms per timed run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", default="jax", help="jax (default), native, neuron, brian2")
    args = parser.parse_args()

    t0 = time.perf_counter()
    from livn.env import Env
    from livn.system import predefined

    env = Env(predefined(args.system), seed=1, backend=args.backend).init()
    env.apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    env.record_membrane_current()
    t1 = time.perf_counter()
    first = env.run(args.duration)  # compiles
    t2 = time.perf_counter()
    times, spikes = [], []
    for _ in range(args.repeat):
        s = time.perf_counter()
        r = env.run(args.duration)
        times.append(time.perf_counter() - s)
        spikes.append(len(r.it))
    sim_s = args.duration / 1000.0
    n = env.system.num_neurons
    print(f"system {args.system} ({n} cells), RCSD, noise on, recording spikes+voltage+current, "
          f"backend {env.backend}")  # fmt: skip
    print(f"setup (import, build, init): {t1 - t0:.2f} s")
    print(f"first run incl. compile:     {t2 - t1:.2f} s for {sim_s:g} simulated s")
    print(
        f"wall s per simulated s:      median {statistics.median(times) / sim_s:.2f} "
        f"(min {min(times) / sim_s:.2f}, max {max(times) / sim_s:.2f})"
    )
    print(
        f"mean rate:                   {statistics.mean(spikes) / n / sim_s:.2f} Hz per cell "
        f"(first run {len(first.it) / n / sim_s:.2f})"
    )
    print(
        f"peak RSS:                    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()

"""COBA LIF benchmark (Vogels & Abbott 2005; Brette et al. 2007, benchmark 1) on the JAX engine.

4,000 leaky integrate-and-fire cells (3,200 EXC / 800 INH), 2 % random connectivity
(Gaussian kernel far wider than the dish, so connection probability is uniform), conductance
synapses (τ_e 5 ms, τ_i 10 ms, Δg_e 6 nS, Δg_i 67 nS, E_e 0, E_i −80 mV), dt 0.1 ms, spikes
recorded. Activity is started by 50 ms of random current (in place of the usual random initial
conductances) and is then self-sustained. Prints start-up (import + system build + Env init +
compile), wall seconds per simulated second and peak memory.

    python benchmarks/engine_coba.py [--duration 1000] [--repeat 3] [--cells 4000]
                                     [--backend jax|native|brian2]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time


def coba_system(cells: int) -> str:
    """A fresh COBA system directory: ``cells`` LIF cells (4:1 EXC:INH), 2 % connectivity."""
    from livn.workflows import get

    n_exc = cells * 4 // 5
    p = 0.02
    out = os.path.join(tempfile.mkdtemp(prefix="livn-coba-"), "coba")
    get("generate_2d", {
        "output_directory": out,
        "populations": {"EXC": {"count": n_exc, "synapse_type": "excitatory"},
                        "INH": {"count": cells - n_exc, "synapse_type": "inhibitory"}},
        "area": "rectangle", "area_kwargs": {"x_range": [0, 500], "y_range": [0, 500]},
        "connectivity": {"kernel": "gaussian", "sigma": 1e6, "cutoff": 3.0,
                         "mean_degree": {"EXC->EXC": p * n_exc, "EXC->INH": p * n_exc,
                                         "INH->EXC": p * (cells - n_exc),
                                         "INH->INH": p * (cells - n_exc)}},
        "seed": 1,
    }).launch()  # fmt: skip
    return out


def coba_env(path: str, **env_kwargs):
    """The COBA Env of ``path`` (Δg_e 6 nS, Δg_i 67 nS, spikes recorded), its self-sustained
    activity started by 50 ms of random current."""
    import numpy as np

    from livn.env import Env
    from livn.models.lif import LIF
    from livn.stimulus import Stimulus

    env = Env(path, model=LIF(v_init="uniform"), seed=1, **env_kwargs).init()
    weights = {}
    for key in env.weight_names:  # Δg 6 nS (g_unit 0.5 nS) and 67 nS (g_unit 1 nS)
        weights[key] = 12.0 if "AMPA" in key else 67.0
    env.set_weights(weights)
    env.record_spikes()
    n = env.system.num_neurons
    rng = np.random.default_rng(0)
    kick = Stimulus(rng.uniform(0.0, 0.3, size=(50, n)).astype(np.float32), dt=1.0)
    env.run(50.0, stimulus=kick)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=1000.0, help="ms per timed run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cells", type=int, default=4000)
    parser.add_argument("--delivery", default="auto", choices=["auto", "gather", "scatter"])
    parser.add_argument("--backend", default="jax", help="jax (default), native, brian2")
    args = parser.parse_args()

    t0 = time.perf_counter()
    n = args.cells
    out = coba_system(n)
    t_build = time.perf_counter()
    # runs the 50 ms kick (compiles its signature)
    env = coba_env(out, delivery=args.delivery, backend=args.backend)
    first = env.run(args.duration)  # compiles the timed signature
    t_ready = time.perf_counter()
    times, spikes = [], []
    for _ in range(args.repeat):
        s = time.perf_counter()
        r = env.run(args.duration)
        times.append(time.perf_counter() - s)
        spikes.append(len(r.it))
    sim_s = args.duration / 1000.0
    synapses = env.engine.net.num_entries
    delivery = getattr(env.engine, "delivery", "events")
    print(f"COBA LIF: {n} cells, {synapses} synapses, dt 0.1 ms, backend {env.backend}, "
          f"delivery {delivery}")  # fmt: skip
    print(f"system build:                {t_build - t0:.2f} s (incl. imports)")
    print(f"start-up (init + compile):   {t_ready - t_build:.2f} s "
          f"(includes 50 ms kick + {sim_s:g} s first run)")  # fmt: skip
    print(
        f"wall s per simulated s:      median {statistics.median(times) / sim_s:.3f} "
        f"(min {min(times) / sim_s:.3f}, max {max(times) / sim_s:.3f})"
    )
    print(
        f"mean rate:                   {statistics.mean(spikes) / n / sim_s:.2f} Hz per cell "
        f"(first run {len(first.it) / n / sim_s:.2f})"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS:                    {rss:.0f} MB")


if __name__ == "__main__":
    main()

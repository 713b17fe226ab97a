"""Culture envs: environment steps per second of LivnVectorEnv against SyncVectorEnv.

Pendulum-v1 through EI2 (actuator role, default codecs, 20 ms of culture per step, random
stimulation). ``LivnVectorEnv`` advances ``num_envs`` cultures through ``Env.run_batch(states=)``:
on the JAX engine one vmapped program (in sub-batches of ``--batch-size``, default 8 on a CPU
and all on a GPU), on the native engine one culture after another from snapshots;
``SyncVectorEnv`` steps ``num_envs`` LivnGym envs, each on its own Env (``--sync-backend``,
default the same backend), one after another.
Both are warmed up (compiled) before timing, then take turns for ``--rounds`` rounds of
``--steps`` vector steps (so that a busy machine slows both alike); the figure is the median
over rounds of sub-environment steps per second (``num_envs`` × vector steps / wall s).

    python benchmarks/gym_vector.py [--system EI2] [--step-ms 20] [--sizes 1 8 64]
        [--steps 5] [--rounds 3] [--batch-size N] [--only vector|sync] [--json FILE]
        [--backend jax|native] [--sync-backend jax|native]
"""

from __future__ import annotations

import argparse
import json
import time


def _warm(vec, seed: int = 0) -> None:
    vec.reset(seed=seed)
    vec.action_space.seed(seed)
    vec.step(vec.action_space.sample())  # compiles


def _rate(vec, steps: int) -> float:
    """Sub-environment steps per second over ``steps`` vector steps."""
    t0 = time.perf_counter()
    for _ in range(steps):
        vec.step(vec.action_space.sample())
    return vec.num_envs * steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="EI2")
    parser.add_argument("--task", default="Pendulum-v1")
    parser.add_argument("--step-ms", type=float, default=20.0, help="culture ms per env step")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--steps", type=int, default=5, help="timed vector steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median reported)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--only", choices=["vector", "sync"], default=None)
    parser.add_argument("--json", default=None, help="write the figures to this file")
    parser.add_argument("--backend", default="jax", help="the vector env's Env backend")
    parser.add_argument("--sync-backend", default=None, help="the single envs' (default: same)")
    args = parser.parse_args()

    import gymnasium as gym
    import jax
    import numpy as np

    from livn.env import Env
    from livn.integrations.gym import LivnGym, LivnVectorEnv, RateDecoding

    space = gym.make(args.task).action_space

    def culture(backend=args.backend):
        env = Env(args.system, seed=1, backend=backend).init()
        env.apply_model_defaults()
        return env

    def single():
        dec = RateDecoding(duration=args.step_ms, space=space)
        return LivnGym(gym.make(args.task), culture(args.sync_backend or args.backend),
                       decoding=dec)  # fmt: skip

    print(f"device: {jax.devices()[0]}; {args.task} through {args.system}, "
          f"{args.step_ms:g} ms per step; backends: vector {args.backend}, sync "
          f"{args.sync_backend or args.backend}; env steps per second")  # fmt: skip
    print(f"{'num_envs':>8} {'LivnVectorEnv':>14} {'SyncVectorEnv':>14} {'ratio':>6}")
    rows = []
    for n in args.sizes:
        envs = {}
        if args.only in (None, "vector"):
            dec = RateDecoding(duration=args.step_ms, space=space)
            envs["vector"] = LivnVectorEnv(args.task, culture(), n, decoding=dec,
                                           batch_size=args.batch_size)  # fmt: skip
        if args.only in (None, "sync"):
            envs["sync"] = gym.vector.SyncVectorEnv([single for _ in range(n)])
        for vec in envs.values():
            _warm(vec)
        # the two take turns, round by round, so that a busy machine slows both alike
        rates: dict[str, list[float]] = {k: [] for k in envs}
        for _ in range(args.rounds):
            for name, vec in envs.items():
                rates[name].append(_rate(vec, args.steps))
        for vec in envs.values():
            vec.close()
        med = {k: float(np.median(v)) if v else float("nan") for k, v in
               ((k, rates.get(k, [])) for k in ("vector", "sync"))}  # fmt: skip
        ratio = med["vector"] / med["sync"]
        print(f"{n:>8} {med['vector']:>14.1f} {med['sync']:>14.1f} {ratio:>6.2f}", flush=True)
        rows.append({"num_envs": n, "vector_steps_per_s": med["vector"],
                     "sync_steps_per_s": med["sync"], "rounds": rates})  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"system": args.system, "task": args.task, "step_ms": args.step_ms,
                       "backend": args.backend, "sync_backend": args.sync_backend or args.backend,
                       "device": str(jax.devices()[0]), "rows": rows}, f, indent=1)  # fmt: skip


if __name__ == "__main__":
    main()

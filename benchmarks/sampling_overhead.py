"""Where a sample's time goes besides the engine: one process, samples run back to back.

Builds the job's Env once (as a sampling worker does), runs one sample to compile, then times
``--samples`` samples through the sampling worker (:func:`livn.workflows.sample.run_sample`)
and splits each into: the engine's run (``engine.run``: the compiled chunks and their host
copies), ``Env._result`` (gid order, populations), decoding, ``shards.write_shard`` (the
``.npz`` with its zip and fsync) and the rest (clear, features, encoding, bookkeeping).
Prints medians, wall and CPU seconds, and the sample's speed relative to the engine alone.

    taskset -c 1 python benchmarks/sampling_overhead.py [--system EI2] [--duration 5000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--system", default="EI2")
    p.add_argument("--duration", type=float, default=5000.0, help="ms per sample")
    p.add_argument("--samples", type=int, default=3)
    a = p.parse_args()

    from livn.workflows import get, sample, shards

    with tempfile.TemporaryDirectory() as out:
        job = get("sample", {"system": a.system, "duration": a.duration,
                             "samples": a.samples + 1, "output_directory": out})  # fmt: skip
        context = job._prepare()
        context.pop("todo")
        context["output_directory"] = out
        env = sample._env_for(context)
        sample.run_sample(context, (0, "sample_000000", {}))  # compile (or load the cache)

        times: dict[str, list[tuple[float, float]]] = {}

        def timed(name, fn):
            def wrapper(*args, **kwargs):
                w, c = time.perf_counter(), time.process_time()
                try:
                    return fn(*args, **kwargs)
                finally:
                    times.setdefault(name, []).append(
                        (time.perf_counter() - w, time.process_time() - c)
                    )

            return wrapper

        env.engine.run = timed("engine.run", env.engine.run)
        env._result = timed("Env._result", env._result)
        shards.write_shard = timed("write_shard", shards.write_shard)
        decode = sample.decoded_arrays
        sample.decoded_arrays = timed("decoded_arrays", decode)
        worker = timed("run_sample (whole)", sample.run_sample)
        for i in range(1, a.samples + 1):
            worker(context, (i, f"sample_{i:06d}", {}))

    print(f"{a.system}, {a.duration:g} ms per sample, {a.samples} samples, medians:")
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
           for k, v in times.items()}  # fmt: skip
    whole = med["run_sample (whole)"][0]
    for k, (w, c) in med.items():
        print(f"  {k:<20} wall {w:7.3f} s  cpu {c:7.3f} s  {100 * w / whole:5.1f} %")
    rest = whole - sum(w for k, (w, _) in med.items() if k != "run_sample (whole)")
    print(f"  {'rest':<20} wall {rest:7.3f} s")
    print(f"sampling runs at {100 * med['engine.run'][0] / whole:.1f} % of the engine's speed")


if __name__ == "__main__":
    main()

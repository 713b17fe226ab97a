"""Time to generate the predefined systems (SPEC §1.2) from their shipped configs.

Each system is built in a fresh subprocess with an empty cache, so the figure is the real
first-use cost: placement, connectivity, HDF5 writing and the MEA. Prints wall seconds for the
build alone (excluding interpreter start-up and imports) and the subprocess's peak RSS.

    python benchmarks/generate_systems.py [NAME ...] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = """
import json, resource, sys, time
import livn.system.culture, livn.io  # imports are not part of the build time
from livn.system import make
t0 = time.perf_counter()
s = make(sys.argv[1])
build = time.perf_counter() - t0
print(json.dumps({"cells": s.num_neurons, "synapses": s.num_edges, "seconds": build,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

DEFAULT = ["EI1", "EI2", "EI3", "EI4", "E", "E5I", "E3I", "EI"]


def run(name: str) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "LIVN_CACHE_DIR": cache}
        out = subprocess.run(
            [sys.executable, "-c", CHILD, name], env=env, check=True, capture_output=True, text=True
        )
        return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'system':<6} {'cells':>7} {'synapses':>9} {'median s':>9} {'min s':>7} "
        f"{'max s':>7} {'peak RSS MB':>12}"
    )
    for name in args.names:
        runs = [run(name) for _ in range(args.repeat)]
        secs = [r["seconds"] for r in runs]
        print(
            f"{name:<6} {runs[0]['cells']:>7} {runs[0]['synapses']:>9} "
            f"{statistics.median(secs):>9.2f} {min(secs):>7.2f} {max(secs):>7.2f} "
            f"{max(r['peak_rss_mb'] for r in runs):>12.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

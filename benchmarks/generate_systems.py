"""Time to generate the predefined systems (SPEC §1.2) from their shipped configs.

Each system is built in a fresh subprocess with an empty cache, so the figure is the real
first-use cost: placement, connectivity, HDF5 writing and the MEA. Prints wall seconds for the
build alone (excluding interpreter start-up and imports) and the subprocess's peak RSS
(including the interpreter and imports, ~100 MB).

``S4x10`` is S4's config with ten times the cells (80,000 EXC / 20,000 INH on the same 4 x 4 mm,
same degrees): the 3D generator's scaling without a dense N x N matrix (not a predefined name;
built from the config with livn.system.layered).

    python benchmarks/generate_systems.py [NAME ...] [--repeat N]
    python benchmarks/generate_systems.py S1 S2 S3 S4 CA1 S4x10 --repeat 1
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
import json, os, resource, sys, time
import livn.system.culture, livn.system.layered, livn.io  # imports are not in the build time
from livn.system import System, make
name = sys.argv[1]
t0 = time.perf_counter()
if name == "S4x10":  # S4 with 10x the cells, from its config (not a predefined system)
    from livn.system.layered import from_dict, write_layered
    from livn.system.layered.loader import load_config
    from livn.system.predefined import shipped_config
    data, _ = load_config(shipped_config("S4"))
    for pop in data["Geometry"]["Cell Distribution"].values():
        pop["Count"] *= 10
    s = System(write_layered(from_dict(data, name="S4x10"), os.path.join(os.environ["OUT"], "s")))
else:
    s = make(name)
build = time.perf_counter() - t0
print(json.dumps({"cells": s.num_neurons, "synapses": s.num_edges, "seconds": build,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

DEFAULT = ["EI1", "EI2", "EI3", "EI4", "E", "E5I", "E3I", "EI", "S1", "S2", "S3", "S4", "CA1"]


def run(name: str) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "LIVN_CACHE_DIR": cache, "OUT": cache}
        out = subprocess.run(
            [sys.executable, "-c", CHILD, name], env=env, check=True, capture_output=True, text=True
        )
        return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=DEFAULT, help="predefined names, or S4x10")
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

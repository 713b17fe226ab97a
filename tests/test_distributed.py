"""DistributedEnv: trials fanned out to MPI workers equal single Env runs with the same seeds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from livn.workflows.executors import find_mpiexec

pytest.importorskip("jax")

SCRIPT = """
import json, sys
import numpy as np
from livn.decoding import MeanFiringRate
from livn.distributed import DistributedEnv
from livn.encoding import ElectrodePulses

env = DistributedEnv("EI1", seed=5).init()
if env.is_root:
    env.apply_model_defaults()
    env.record_spikes()
    features = [np.full(16, 0.5, np.float32), None, np.ones(16, np.float32), None]
    rates = env(MeanFiringRate(duration=30), inputs=features, encoding=ElectrodePulses(onset_ms=2))
    runs = env.run(30, trials=3)
    json.dump({"rates": [r.tolist() for r in rates],
               "runs": [[np.asarray(r[0]).tolist(), np.asarray(r[1]).tolist()] for r in runs]},
              open(sys.argv[1], "w"))
    env.close()
"""


@pytest.fixture(scope="module")
def reference():
    from livn.decoding import MeanFiringRate
    from livn.encoding import ElectrodePulses
    from livn.env import Env

    features = [np.full(16, 0.5, np.float32), None, np.ones(16, np.float32), None]
    rates, runs = [], []
    for k, x in enumerate(features):  # one fresh Env per trial, seed 5 + k
        env = Env("EI1", seed=5 + k).init().apply_model_defaults().record_spikes()
        rates.append(
            env(MeanFiringRate(duration=30), inputs=x, encoding=ElectrodePulses(onset_ms=2))
        )
    for k in range(3):
        env = Env("EI1", seed=5 + k).init().apply_model_defaults().record_spikes()
        it, t, *_ = env.run(30)
        runs.append((it, t))
    return rates, runs


def test_without_mpi_the_controller_runs_every_trial(reference):
    from livn.decoding import MeanFiringRate
    from livn.distributed import DistributedEnv
    from livn.encoding import ElectrodePulses

    rates_ref, runs_ref = reference
    env = DistributedEnv("EI1", seed=5).init()
    assert env.is_root
    env.apply_model_defaults().record_spikes()
    features = [np.full(16, 0.5, np.float32), None, np.ones(16, np.float32), None]
    rates = env(MeanFiringRate(duration=30), inputs=features, encoding=ElectrodePulses(onset_ms=2))
    for a, b in zip(rates, rates_ref, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(rates[0], rates[2])  # the inputs matter
    runs = env.run(30, trials=3)
    for (it, t, *_), (it2, t2) in zip(runs, runs_ref, strict=True):
        np.testing.assert_array_equal(it, it2)
        np.testing.assert_array_equal(t, t2)
    env.close()


def test_mpi_workers_give_the_same_results(tmp_path, reference):
    mpiexec = find_mpiexec()
    assert mpiexec is not None, "mpiexec not found: install the test extra (it has the mpich wheel)"
    script = tmp_path / "fan_out.py"
    script.write_text(textwrap.dedent(SCRIPT))
    out = tmp_path / "out.json"
    proc = subprocess.run([mpiexec, "-n", "3", sys.executable, str(script), str(out)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = json.loads(out.read_text())
    rates_ref, runs_ref = reference
    for a, b in zip(got["rates"], rates_ref, strict=True):
        np.testing.assert_array_equal(np.asarray(a), b)
    for (it, t), (it2, t2) in zip(got["runs"], runs_ref, strict=True):
        np.testing.assert_array_equal(np.asarray(it, dtype=np.int64), it2)
        np.testing.assert_array_equal(np.asarray(t), t2)

"""The NEURON backend under MPI (seed 004: ``Env(system, comm=MPI.COMM_WORLD, subworld_size=...)``).

Cells are distributed round-robin over the ranks; the noise streams are keyed by cell, so a
run on 2 ranks must equal the run in one process exactly (spikes and voltages), and with
``subworld_size=1`` each rank runs the whole network on its own.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip(
    "neuron", reason="the NEURON simulator is not installed (pip install 'livn[neuron]')"
)
pytest.importorskip("mpi4py", reason="MPI tests need mpi4py (the test extra)")

from livn.errors import ConfigError
from livn.workflows.executors import find_mpiexec

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from mpi4py import MPI
    from livn.env import Env
    comm = MPI.COMM_WORLD
    sub = None if sys.argv[2] == "none" else int(sys.argv[2])
    env = Env("EI2", backend="neuron", seed=4, comm=comm, subworld_size=sub).init()
    env.apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    env.run(50.0)
    it, t, iv, v = env.run(100.0)
    np.savez(f"{sys.argv[1]}-{comm.rank}.npz", it=it, t=t, v=v,
             nhost=int(env.engine.nhost), cells=len(env.engine.cells))
    env.close()
""")


def _single():
    from livn.env import Env

    env = Env("EI2", backend="neuron", seed=4).init()
    env.apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    env.run(50.0)
    out = env.run(100.0)
    env.close()
    return out


@pytest.mark.parametrize("subworld", ["none", "1"])
def test_two_ranks_equal_one_process(tmp_path, subworld):
    mpiexec = find_mpiexec()
    assert mpiexec is not None, "mpiexec not found: install the test extra (the mpich wheel)"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    base = tmp_path / "out"
    proc = subprocess.run([mpiexec, "-n", "2", sys.executable, str(script), str(base), subworld],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ref = _single()
    assert len(ref.it) > 0
    for rank in (0, 1):
        got = np.load(f"{base}-{rank}.npz")
        # every rank holds the whole result (gathered), equal to the one-process run
        np.testing.assert_array_equal(got["it"], ref.it)
        np.testing.assert_allclose(got["t"], ref.t, atol=1e-9)
        np.testing.assert_allclose(got["v"], ref.v, atol=1e-9)
        if subworld == "none":  # one network over both ranks: half the cells each
            assert int(got["nhost"]) == 2 and int(got["cells"]) == 50
        else:  # each rank its own network
            assert int(got["nhost"]) == 1 and int(got["cells"]) == 100


def test_mpi_arguments_are_checked():
    from mpi4py import MPI

    from livn.env import Env

    with pytest.raises(ConfigError, match=r"not supported by the jax backend.*'neuron'"):
        Env("EI1", backend="jax", comm=MPI.COMM_WORLD)
    with pytest.raises(ConfigError, match="subworld_size needs comm="):
        Env("EI1", backend="neuron", subworld_size=2).init()
    with pytest.raises(ConfigError, match="comm must be an mpi4py communicator"):
        Env("EI1", backend="neuron", comm="world").init()

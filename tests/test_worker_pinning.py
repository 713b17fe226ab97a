"""Local workers get a core each when there are enough (executors.worker_cpus): two
simulations on two cores were measured 1.7× slower unpinned, their XLA threads fighting."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from livn.workflows.executors import run_units, worker_cpus

if not hasattr(os, "sched_getaffinity"):
    pytest.skip("CPU affinity is Linux-only", allow_module_level=True)
CPUS = sorted(os.sched_getaffinity(0))

PROBE = textwrap.dedent("""
    import json, os, time

    def probe(context, unit):
        time.sleep(0.3)  # keep every worker busy at once
        path = os.path.join(context["out"], unit[1] + ".json")
        with open(path, "w") as f:
            json.dump({"pid": os.getpid(), "cpus": sorted(os.sched_getaffinity(0))}, f)
""")


def _affinities(tmp_path, monkeypatch, processes: int, units: int) -> list[dict]:
    (tmp_path / "livn_probe_worker.py").write_text(PROBE)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = tmp_path / "out"
    out.mkdir()
    report = run_units([(i, f"u{i}", {}) for i in range(units)], "livn_probe_worker:probe",
                       {"out": str(out)}, executor="local", processes=processes)  # fmt: skip
    assert not report.failed, report.failed
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


@pytest.mark.skipif(len(CPUS) < 2, reason="needs 2 CPUs")
def test_each_worker_gets_its_own_cpu(tmp_path, monkeypatch):
    monkeypatch.delenv("LIVN_PIN_WORKERS", raising=False)
    seen = _affinities(tmp_path, monkeypatch, processes=2, units=4)
    by_pid = {r["pid"]: tuple(r["cpus"]) for r in seen}
    assert len(by_pid) == 2
    assert all(len(c) == 1 for c in by_pid.values())
    assert len(set(by_pid.values())) == 2 and set(sum(by_pid.values(), ())) <= set(CPUS)


def test_livn_pin_workers_0_leaves_placement_to_the_os(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVN_PIN_WORKERS", "0")
    seen = _affinities(tmp_path, monkeypatch, processes=min(2, len(CPUS)), units=2)
    assert all(r["cpus"] == CPUS for r in seen)


def test_no_pinning_with_more_workers_than_cpus(monkeypatch):
    monkeypatch.delenv("LIVN_PIN_WORKERS", raising=False)
    assert worker_cpus(len(CPUS) + 1) == [None] * (len(CPUS) + 1)
    if len(CPUS) >= 2:
        assert worker_cpus(2) == CPUS[:2]


MPI_PROBE = textwrap.dedent("""
    import json, os, sys
    from mpi4py import MPI
    from livn.workflows.executors import run_units
    sys.path.insert(0, sys.argv[1])
    units = [(i, f"u{i}", {}) for i in range(4)]
    report = run_units(units, "livn_probe_worker:probe", {"out": sys.argv[2]}, executor="mpi")
    if MPI.COMM_WORLD.Get_rank() == 0:
        print(json.dumps({"failed": report.failed, "cpus": sorted(os.sched_getaffinity(0))}))
""")


@pytest.mark.skipif(len(CPUS) < 2, reason="needs 2 CPUs")
def test_mpi_worker_ranks_get_a_cpu_each_and_the_controller_none(tmp_path):
    """mpiexec -n 3: the controller (rank 0) sleeps unpinned; the two simulating ranks of the
    node take a CPU each, as local workers do."""
    import subprocess
    import sys

    from livn.workflows.executors import find_mpiexec

    mpiexec = find_mpiexec()
    if mpiexec is None:
        pytest.skip("mpiexec not found (the mpi extra)")
    (tmp_path / "livn_probe_worker.py").write_text(PROBE)
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "LIVN_PIN_WORKERS"}
    proc = subprocess.run([mpiexec, "-n", "3", sys.executable, "-c", MPI_PROBE, str(tmp_path),
                           str(out)], capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    head = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    assert head["failed"] == {} and head["cpus"] == CPUS  # the controller is not pinned
    seen = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    by_pid = {r["pid"]: tuple(r["cpus"]) for r in seen}
    assert len(seen) == 4 and len(by_pid) == 2
    assert sorted(by_pid.values()) == [(CPUS[0],), (CPUS[1],)]

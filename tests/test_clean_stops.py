"""Clean stops: an error on any MPI rank ends the whole job (printed once, non-zero exit, no
rank left waiting); Ctrl+C and SIGTERM stop local workers and leave resumable state.

Every subprocess has a timeout, so a hang fails the test instead of hanging the run; no test
asserts a wall-clock speed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from livn.workflows import get
from livn.workflows.executors import find_mpiexec
from livn.workflows.shards import read_shard, shard_indices

LIVN = [sys.executable, "-m", "livn"]
BASE = {"system": "EI1", "duration": 20.0, "samples": 3, "seed": 7}
TIMEOUT = 180  # s; generous: a hang fails the test, a slow machine does not


def _mpiexec() -> str:
    mpiexec = find_mpiexec()
    assert mpiexec is not None, "mpiexec not found: install the test extra (it has the mpich wheel)"
    return mpiexec


def _cli_args(config: dict) -> list[str]:
    return [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in config.items()]


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}  # fmt: skip


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_until(condition, limit: float, what: str, proc: subprocess.Popen | None = None) -> None:
    t0 = time.monotonic()
    while not condition():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the command ended before {what}: {proc.returncode}\n{out}\n{err}")
        assert time.monotonic() - t0 < limit, f"timed out waiting for {what}"
        time.sleep(0.05)


# ---------------------------------------------------------------------------- livn.mpi
def test_livn_mpi_is_light_and_works_without_mpi(capsys):
    code = ("import sys, livn.mpi, livn.distributed, livn.workflows.executors, livn.cli.main; "
            "print('mpi4py' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=TIMEOUT)  # fmt: skip
    assert out.stdout.strip() == "False"

    from livn import mpi

    if mpi.world_size() > 1:  # pragma: no cover - the suite itself run under mpiexec
        pytest.skip("run outside mpiexec")
    assert mpi.world_rank() == 0
    error = ValueError("bad")
    assert mpi.fail(error, "livn: error: bad", 2) == 2
    assert capsys.readouterr().err == "livn: error: bad\n"
    assert not mpi.raised_on_every_rank(error)
    assert mpi.raised_on_every_rank(mpi.on_every_rank(error))


COLLECTIVES = """
import json, sys
from livn import mpi

r = mpi.rank()
out = {"size": mpi.size()}
try:
    mpi.root_then_bcast(lambda: {}["only rank 0 runs this"])
except KeyError as e:
    out["bcast_error"] = [type(e).__name__, str(e), mpi.raised_on_every_rank(e)]
out["bcast"] = mpi.root_then_bcast(lambda: {"from": r})
try:
    mpi.collective(lambda: 1 / 0 if r == 2 else r)
except ZeroDivisionError as e:
    out["collective_error"] = [type(e).__name__, mpi.raised_on_every_rank(e)]
out["collective"] = mpi.collective(lambda: r * 10)
json.dump(out, open(f"{sys.argv[1]}/{r}.json", "w"))
"""


def test_collectives_raise_on_every_rank(tmp_path):
    script = tmp_path / "collectives.py"
    script.write_text(COLLECTIVES)
    proc = subprocess.run([_mpiexec(), "-n", "3", sys.executable, str(script), str(tmp_path)],
                          capture_output=True, text=True, timeout=TIMEOUT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for r in range(3):
        got = json.loads((tmp_path / f"{r}.json").read_text())
        assert got["size"] == 3
        # rank 0's error, raised on every rank
        assert got["bcast_error"] == ["KeyError", "'only rank 0 runs this'", True]
        assert got["bcast"] == {"from": 0}  # rank 0's result, on every rank
        assert got["collective_error"] == ["ZeroDivisionError", True]  # rank 2's, everywhere
        assert got["collective"] == r * 10  # each rank's own result


# ---------------------------------------------------------------------------- MPI: refusals
@pytest.fixture
def other_job(tmp_path) -> Path:
    """A directory holding another sampling job (duration 30 ms; no samples yet)."""
    out = tmp_path / "other"
    get("sample", {**BASE, "duration": 30.0, "output_directory": str(out)})._prepare()
    assert (out / "config.json").is_file()
    return out


@pytest.mark.parametrize("how", ["mpiexec", "livn systems mpi"])
def test_mpi_sample_refused_on_rank_0_ends_every_rank(other_job, how):
    before = _snapshot(other_job)
    config = _cli_args({**BASE, "duration": 50.0, "output_directory": str(other_job)})
    if how == "mpiexec":
        cmd = [_mpiexec(), "-n", "2", *LIVN, "systems", "sample", *config, "--launch"]
    else:
        cmd = [*LIVN, "systems", "mpi", "sample", *config, 'resources={"-n": 2}', "--launch"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("already holds a different sampling job") == 1, proc.stderr
    assert proc.stderr.count("livn: error:") == 1
    assert "Traceback" not in proc.stderr
    assert "Sampling" not in proc.stdout  # nothing started
    assert _snapshot(other_job) == before  # the other job is untouched


BATCH = {
    "metadata": {"batch_name": "tiny"},
    "base_config": {"system": "EI1", "duration": 20.0, "seed": 3},
    "batch": {"save_format": "pytorch",
              "stimuli": [{"type": "pulse", "parameters": {"channels": [[0, 1]],
                                                           "amplitude": 50.0, "onset_ms": 5.0}}]},
}  # fmt: skip


def test_mpi_sweep_refused_on_rank_0_ends_every_rank(tmp_path):
    import yaml

    out = tmp_path / "out"
    out.mkdir()
    other = {"batch_id": "other_20260101_000000", "config_hash": "0" * 16, "completed": [],
             "failed": {}, "num_stimuli": 4}  # fmt: skip
    (out / "checkpoint.json").write_text(json.dumps(other))
    data = json.loads(json.dumps(BATCH))
    data["batch"]["output_dir"] = str(out)
    config = tmp_path / "batch.yml"
    config.write_text(yaml.safe_dump(data))
    before = _snapshot(out)
    proc = subprocess.run([_mpiexec(), "-n", "2", *LIVN, "batch", str(config)],
                          capture_output=True, text=True, timeout=TIMEOUT)  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("holds a different batch (other_20260101_000000)") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert _snapshot(out) == before


# ---------------------------------------------------------------------------- MPI: DistributedEnv
DISTRIBUTED = """
import sys
from livn.distributed import DistributedEnv

mode = sys.argv[1]
env = DistributedEnv("EI1", seed=5)
if mode == "worker" and env.rank == 2:
    raise RuntimeError("rank 2 failed outside a trial")  # rank 0 waits in init()
env.init()
if env.is_root:
    env.apply_model_defaults()
    raise RuntimeError("the controller failed after init")  # the workers wait for trials
"""


@pytest.mark.parametrize("mode", ["controller", "worker"])
def test_distributed_env_failure_ends_the_job(tmp_path, mode):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(DISTRIBUTED))
    proc = subprocess.run([_mpiexec(), "-n", "3", sys.executable, str(script), mode],
                          capture_output=True, text=True, timeout=TIMEOUT)  # fmt: skip
    assert proc.returncode != 0
    message = {"controller": "RuntimeError: the controller failed after init",
               "worker": "RuntimeError: rank 2 failed outside a trial"}[mode]  # fmt: skip
    assert proc.stderr.count(message) == 1, proc.stderr
    assert proc.stderr.count("Traceback") == 1
    if mode == "worker":
        assert "on MPI rank 2 of 3" in proc.stderr


def test_distributed_env_bad_system_is_reported_once(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("from livn.distributed import DistributedEnv\nDistributedEnv('EI9').init()\n")
    proc = subprocess.run([_mpiexec(), "-n", "3", sys.executable, str(script)],
                          capture_output=True, text=True, timeout=TIMEOUT)  # fmt: skip
    assert proc.returncode != 0
    assert proc.stderr.count("Unknown system 'EI9'") == 1, proc.stderr


# ---------------------------------------------------------------------------- local workers
STALL = '''
import os
import time
from pathlib import Path

from livn.encoding import NoInput


class Stall(NoInput):
    """No input. While STALL_DIR is set, a sample whose seed is >= STALL_FROM records its
    worker's pid in STALL_DIR and sleeps (a long unit that a stop has to interrupt)."""

    def __call__(self, env, duration, inputs=None):
        where = os.environ.get("STALL_DIR")
        if where and env.seed >= int(os.environ["STALL_FROM"]):
            Path(where, str(os.getpid())).touch()
            time.sleep(600)
        return super().__call__(env, duration, inputs)
'''


@pytest.fixture
def stall(tmp_path, monkeypatch) -> Path:
    """The Stall encoding importable here and in subprocesses; returns the pid directory."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "stall_encoding.py").write_text(textwrap.dedent(STALL))
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.setenv("PYTHONPATH", f"{code}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    pids = tmp_path / "pids"
    pids.mkdir()
    return pids


def _shards(directory: Path) -> dict[int, dict[str, np.ndarray]]:
    out = {}
    for i in shard_indices(directory / "samples"):
        meta, arrays = read_shard(directory / "samples" / f"sample_{i:06d}.npz")
        out[i] = {**arrays, "seed": np.array(meta["seed"])}
    return out


def _kill(proc: subprocess.Popen, workers: list[int]) -> None:
    """Leave nothing running, whatever the test found."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    for pid in workers:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _start(config: dict, stall: Path, stall_from: int) -> subprocess.Popen:
    cmd = [*LIVN, "systems", "sample", *_cli_args(config), "--launch", "--processes", "2"]
    env = {**os.environ, "STALL_DIR": str(stall), "STALL_FROM": str(stall_from)}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)  # fmt: skip


def test_ctrl_c_prints_one_line_and_a_relaunch_completes_identically(tmp_path, stall):
    config = {**BASE, "encoding": "stall_encoding.Stall"}
    ref = tmp_path / "reference"  # uninterrupted (STALL_DIR is not set in this process)
    assert get("sample", {**config, "output_directory": str(ref)}).launch(executor="serial").ok
    out = tmp_path / "job"
    config["output_directory"] = str(out)
    # sample 0 (seed 7) runs; samples 1 and 2 hold both workers until the interrupt
    proc = _start(config, stall, stall_from=8)
    workers: list[int] = []
    try:
        _wait_until(lambda: shard_indices(out / "samples") == [0] and len(list(stall.iterdir())) == 2,
                    TIMEOUT, "sample 0 written and both workers busy", proc)  # fmt: skip
        workers = [int(p.name) for p in stall.iterdir()]
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl+C does: the whole process group
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        _kill(proc, workers)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if not line.startswith("[")]  # progress lines
    assert lines == [
        "livn: interrupted; finished samples are kept — re-run the same command to resume."
    ], err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    _wait_until(lambda: not any(_alive(pid) for pid in workers), TIMEOUT, "the workers to end")
    visible = sorted(p.name for p in (out / "samples").iterdir() if not p.name.startswith("."))
    assert visible == ["sample_000000.npz"]  # finished kept, no partial file visible

    report = get("sample", config).launch(executor="serial")  # the relaunch
    assert sorted(report.completed) == ["sample_000001", "sample_000002"]
    got, want = _shards(out), _shards(ref)
    assert sorted(got) == sorted(want) == [0, 1, 2]
    for i in want:
        assert sorted(got[i]) == sorted(want[i])
        for k in want[i]:
            np.testing.assert_array_equal(got[i][k], want[i][k], err_msg=f"sample {i} {k}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_stopping_the_parent_stops_its_workers(tmp_path, stall, sig):
    config = {**BASE, "encoding": "stall_encoding.Stall", "output_directory": str(tmp_path / "j")}
    proc = _start(config, stall, stall_from=0)  # every sample holds its worker
    workers: list[int] = []
    try:
        _wait_until(lambda: len(list(stall.iterdir())) == 2, TIMEOUT, "both workers busy", proc)
        workers = [int(p.name) for p in stall.iterdir()]
        os.kill(proc.pid, sig)  # the parent alone (a scheduler, `kill PID`)
        _, err = proc.communicate(timeout=TIMEOUT)
        # the workers would sleep for 10 minutes; they must go with their parent
        _wait_until(lambda: not any(_alive(pid) for pid in workers), TIMEOUT, "the workers to end")
    finally:
        _kill(proc, workers)
    if sig == signal.SIGTERM:
        assert proc.returncode == 143, err
        assert err.splitlines()[-1] == (
            "livn: terminated; finished samples are kept — re-run the same command to resume."
        )
        assert "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL

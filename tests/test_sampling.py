"""The sampling job: shards, seeds, executors (serial, local processes, MPI), resume after
SIGKILL, failures, configuration errors and Slurm scripts.

Every sample is compared against an independent run: a fresh ``Env`` with the sample's seed,
or the same job run by another executor. Equality is exact (bit-identical arrays).
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

from livn.errors import ConfigError
from livn.workflows import get
from livn.workflows.executors import find_mpiexec
from livn.workflows.shards import read_shard, shard_indices

pytest.importorskip("jax")

BASE = {"system": "EI1", "duration": 40.0, "samples": 3, "seed": 7}
LIVN = [sys.executable, "-m", "livn"]


def _cli_args(config: dict) -> list[str]:
    return [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in config.items()]


def _shards(directory: Path) -> dict[int, dict[str, np.ndarray]]:
    out = {}
    for i in shard_indices(directory / "samples"):
        meta, arrays = read_shard(directory / "samples" / f"sample_{i:06d}.npz")
        out[i] = {**arrays, "seed": np.array(meta["seed"])}
    return out


def _assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for i in a:
        assert sorted(a[i]) == sorted(b[i]), i
        for k in a[i]:
            np.testing.assert_array_equal(a[i][k], b[i][k], err_msg=f"sample {i} {k}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The job run serially in this process."""
    out = tmp_path_factory.mktemp("ref")
    report = get("sample", {**BASE, "output_directory": str(out)}).launch(executor="serial")
    assert report.ok and len(report.completed) == 3
    return _shards(out)


def test_sample_equals_a_fresh_env_with_its_seed(reference):
    from livn.env import Env

    env = Env("EI1", seed=BASE["seed"] + 1).init()
    env.apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    env.record_membrane_current()
    it, t, iv, v, im, mp = env.run(BASE["duration"])
    s = reference[1]
    assert int(s["seed"]) == 8
    np.testing.assert_array_equal(s["it"], it)
    np.testing.assert_array_equal(s["t"], t)
    np.testing.assert_array_equal(s["iv"], iv)
    np.testing.assert_array_equal(s["v"], v)
    np.testing.assert_array_equal(s["im"], im)
    np.testing.assert_array_equal(s["mp"], mp)
    assert s["features"].shape == (0,)  # spontaneous activity has no inputs
    # different seeds give different noise
    assert not np.array_equal(reference[0]["v"], reference[1]["v"])


def test_shards_load_without_pickle_and_config_is_saved(tmp_path, reference):
    out = tmp_path / "job"
    get("sample", {**BASE, "samples": 1, "output_directory": str(out)}).launch(executor="serial")
    with np.load(out / "samples" / "sample_000000.npz", allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        assert z["v"].dtype == np.float32 and z["it"].dtype.kind == "i"
    assert meta["seed"] == 7 and meta["t_end"] == 40.0 and meta["system"] == "EI1"
    config = json.loads((out / "config.json").read_text())
    assert (
        config["encoding"] == "livn.encoding.NoInput" and config["decoding"] == "livn.decoding.Raw"
    )
    assert config["record"] == ["spikes", "voltage", "membrane_current"]


def test_local_processes_give_identical_samples(tmp_path, reference):
    out = tmp_path / "local"
    job = get("sample", {**BASE, "output_directory": str(out)})
    report = job.launch(executor="local", processes=2)
    assert report.ok
    _assert_same(_shards(out), reference)


def test_mpi_gives_identical_samples(tmp_path, reference):
    mpiexec = find_mpiexec()
    assert mpiexec is not None, "mpiexec not found: install the test extra (it has the mpich wheel)"
    out = tmp_path / "mpi"
    cmd = [mpiexec, "-n", "3", *LIVN, "systems", "sample",
           *_cli_args({**BASE, "output_directory": str(out)}), "--launch", "--merge"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "3 written, 0 failed" in proc.stdout
    _assert_same(_shards(out), reference)
    # only the controller merges (worker ranks used to merge the same directory at once)
    assert proc.stdout.count("Merged 3 samples into") == 1, proc.stdout
    assert (out / "README.md").is_file()


def test_encoding_inputs_are_seeded_features(tmp_path):
    out = tmp_path / "pulses"
    config = {**BASE, "samples": 2, "output_directory": str(out), "decoding": "MeanFiringRate",
              "encoding": "ElectrodePulses", "encoding_kwargs": {"onset_ms": 5.0}}  # fmt: skip
    job = get("sample", config)
    assert job.launch(executor="serial").ok
    shards = _shards(out)
    for i in range(2):
        expected = np.random.default_rng(7 + i).uniform(0, 1, 16).astype(np.float32)
        np.testing.assert_array_equal(shards[i]["features"], expected)
        assert shards[i]["output"].shape == (10,)  # per-cell rates of EI1
    assert json.loads((out / "config.json").read_text())["record"] == ["spikes"]


def test_relaunch_skips_finished_and_extends(tmp_path, reference):
    out = tmp_path / "grow"
    get("sample", {**BASE, "samples": 2, "output_directory": str(out)}).launch(executor="serial")
    first = (out / "samples" / "sample_000000.npz").stat()
    report = get("sample", {**BASE, "output_directory": str(out)}).launch(executor="serial")
    assert report.completed == ["sample_000002"]
    assert (out / "samples" / "sample_000000.npz").stat().st_mtime_ns == first.st_mtime_ns
    _assert_same(_shards(out), reference)
    assert json.loads((out / "config.json").read_text())["samples"] == 3


def _wait_for(path: Path, count: int, proc: subprocess.Popen, limit: float = 300) -> None:
    t0 = time.monotonic()
    while len(shard_indices(path)) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < limit, "sampling made no progress"
        time.sleep(0.05)


@pytest.mark.parametrize("kill_after", [0, 2])
def test_sigkill_then_relaunch_loses_and_duplicates_nothing(tmp_path, reference, kill_after):
    out = tmp_path / "killed"
    config = {**BASE, "output_directory": str(out)}
    cmd = [*LIVN, "systems", "sample", *_cli_args(config), "--launch", "--processes", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    if kill_after:
        _wait_for(out / "samples", kill_after, proc)
    else:
        while not (out / "config.json").exists():
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    done = shard_indices(out / "samples")
    assert len(done) >= kill_after
    for i in done:  # every visible shard is complete
        read_shard(out / "samples" / f"sample_{i:06d}.npz")
    report = get("sample", config).launch(executor="serial")
    assert sorted(report.completed) == [f"sample_{i:06d}" for i in range(3) if i not in done]
    visible = [p.name for p in (out / "samples").iterdir() if not p.name.startswith(".")]
    assert sorted(visible) == [f"sample_{i:06d}.npz" for i in range(3)]
    assert not [p for p in (out / "samples").iterdir() if p.name.endswith(".tmp")]
    _assert_same(_shards(out), reference)


FAILING = '''
import os
from livn.encoding import Encoding

class Flaky(Encoding):
    """Raises for seed 8, kills its worker process for seed 9."""

    def __call__(self, env, duration, inputs=None):
        if env.seed == 8:
            raise RuntimeError("bad stimulus for seed 8")
        if env.seed == 9:
            os._exit(3)
        return None
'''


def test_failures_are_reported_and_the_rest_completes(tmp_path, monkeypatch):
    (tmp_path / "flaky_encoding.py").write_text(textwrap.dedent(FAILING))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    out = tmp_path / "flaky"
    config = {**BASE, "samples": 4, "output_directory": str(out),
              "encoding": "flaky_encoding.Flaky"}  # fmt: skip
    cmd = [*LIVN, "systems", "sample", *_cli_args(config), "--launch", "--processes", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    assert "sample_000001: RuntimeError: bad stimulus for seed 8" in proc.stderr
    assert "sample_000002: worker process died (exit code 3)" in proc.stderr
    assert shard_indices(out / "samples") == [0, 3]


def test_bad_configurations_write_nothing(tmp_path, monkeypatch):
    out = tmp_path / "never"
    with pytest.raises(ConfigError, match="Did you mean 'duration'"):
        get("sample", {**BASE, "duraton": 10, "output_directory": str(out)})
    with pytest.raises(ConfigError, match="samples"):
        get("sample", {**BASE, "samples": "many", "output_directory": str(out)})
    with pytest.raises(ConfigError, match="cannot import encoding"):
        get("sample", {**BASE, "encoding": "nowhere.Thing", "output_directory": str(out)}).launch()
    with pytest.raises(ConfigError, match="neither a predefined system"):
        get("sample", {**BASE, "system": "EI9", "output_directory": str(out)}).launch()
    with pytest.raises(ConfigError, match="output_directory is required"):
        get("sample", BASE).launch()
    monkeypatch.setenv("LIVN_OUTPUT_ROOT", str(tmp_path / "allowed"))
    with pytest.raises(ConfigError, match="outside the allowed location"):
        get("sample", {**BASE, "output_directory": str(out)}).launch()
    monkeypatch.delenv("LIVN_OUTPUT_ROOT")
    assert not out.exists()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a livn job"):
        get("sample", {**BASE, "output_directory": str(foreign)}).launch()
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]

    from livn.system import predefined

    with pytest.raises(ConfigError, match="inside"):
        get("sample", {**BASE, "output_directory": str(Path(predefined("EI1")) / "x")}).launch()


def test_a_directory_holding_a_different_job_is_refused(tmp_path):
    out = tmp_path / "job"
    get("sample", {**BASE, "samples": 1, "output_directory": str(out)}).launch(executor="serial")
    before = {p.name: p.stat().st_mtime_ns for p in (out / "samples").iterdir()}
    with pytest.raises(ConfigError, match=r"different sampling job .*duration"):
        get("sample", {**BASE, "duration": 50.0, "output_directory": str(out)}).launch()
    assert {p.name: p.stat().st_mtime_ns for p in (out / "samples").iterdir()} == before


def test_seed_default_system_path_falls_back_to_predefined(tmp_path):
    job = get("sample", {"system": "./systems/graphs/EI2", "output_directory": str(tmp_path / "o")})
    assert job.resolved()["system"] == "EI2"
    assert job.config.duration == 31000.0 and job.config.samples == 100 and job.config.noise


def test_mpi_module_builds_the_mpiexec_command(tmp_path):
    job = get("sample", {**BASE, "output_directory": str(tmp_path / "o")})
    cmd = job.mpi_command({"--n": 32})
    assert cmd[1:3] == ["-n", "32"] and cmd[-2:] == ["executor=mpi", "--launch"]
    assert cmd[3:8] == [sys.executable, "-m", "livn", "systems", "sample"]
    with pytest.raises(ConfigError, match="number of MPI ranks"):
        job.mpi_command({"--nodes": 2})


def test_mpi_module_ranks_from_mpi_ranks_or_all_cores(tmp_path, monkeypatch):
    """The seed runs `export MPI_RANKS=8; livn systems mpi ... --launch` without resources."""
    job = get("sample", {**BASE, "output_directory": str(tmp_path / "o")})
    monkeypatch.setenv("MPI_RANKS", "8")
    assert job.mpi_command({})[1:3] == ["-n", "8"]
    monkeypatch.delenv("MPI_RANKS")
    assert job.mpi_command({})[1:3] == ["-n", str(max(2, os.cpu_count() or 1))]
    for bad in ("1", "eight", "2.5"):
        monkeypatch.setenv("MPI_RANKS", bad)
        with pytest.raises(ConfigError, match=f"MPI_RANKS='{bad}'.*integer >= 2"):
            job.mpi_command({})


def test_slurm_script_and_submission(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "sbatch.log"
    (bindir / "sbatch").write_text(f'#!/bin/sh\necho "$@" > {log}\necho "Submitted batch job 42"\n')
    (bindir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "slurm_job"
    cmd = [*LIVN, "systems", "slurm", "sample", *_cli_args({**BASE, "output_directory": str(out)}),
           'resources={"--nodes": 2, "--ntasks-per-node": 56, "-p": "normal", "-t": "4:00:00"}',
           "--launch"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Submitted batch job 42" in proc.stdout
    script = out / "slurm" / "sample.sbatch"
    assert log.read_text().strip() == str(script)
    text = script.read_text()
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=56", "#SBATCH -p normal",
                 "#SBATCH -t 4:00:00"):  # fmt: skip
        assert line in text.splitlines()
    assert "srun " in text and "executor=mpi --launch" in text


@pytest.mark.slow
def test_slurm_array_tasks_write_every_sample(tmp_path, reference):
    out = tmp_path / "array"
    job = get("sample", {**BASE, "output_directory": str(out)})
    path, _ = job.submit_slurm({"--array": 2, "-t": "1:00:00"}, submit=False)
    text = path.read_text()
    assert "#SBATCH --array=0-1" in text and "task_count=2" in text
    for task in (0, 1):
        env = {**os.environ, "SLURM_ARRAY_TASK_ID": str(task)}
        proc = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        expected = [i for i in range(3) if i % 2 <= task]
        assert shard_indices(out / "samples") == expected
    _assert_same(_shards(out), reference)


def test_slurm_without_sbatch_fails_before_writing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    out = tmp_path / "nosbatch"
    job = get("sample", {**BASE, "output_directory": str(out)})
    with pytest.raises(ConfigError, match="sbatch was not found"):
        job.submit_slurm({"--nodes": 1})
    assert not (out / "slurm").exists()

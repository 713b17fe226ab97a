"""The input contract (livn.limits): every bad input listed in issue 9 is refused with a clear
error before anything is written; bounds are estimated arithmetically and can be overridden."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from livn import limits
from livn.cli.main import main
from livn.errors import ConfigError, SizeLimitError


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---------------------------------------------------------------------------- the helpers
def test_integer_refuses_floats_booleans_and_strings():
    assert limits.integer(3, "n") == 3
    assert limits.integer(np.int64(7), "n", 0, 10) == 7
    for bad in (1e12, 3.0, True, False, "3", None, np.float32(2)):
        with pytest.raises(ConfigError, match="n must be an integer"):
            limits.integer(bad, "n")
    with pytest.raises(ConfigError, match=r"Write it as an integer \(3\)"):
        limits.integer(3.0, "n")
    with pytest.raises(ConfigError, match=r"in 1 … 5; got 6"):
        limits.integer(6, "n", 1, 5)


def test_number_refuses_non_finite_booleans_strings_and_out_of_range():
    assert limits.number(2, "x") == 2.0
    assert limits.number(np.float32(0.5), "x", 0.0) == 0.5
    assert limits.number(np.array(1.5), "x") == 1.5
    for bad in (float("nan"), float("inf"), -float("inf"), True, "1", None, [1.0]):
        with pytest.raises(ConfigError, match="x must be"):
            limits.number(bad, "x")
    with pytest.raises(ConfigError, match="positive number of ms"):
        limits.number(0.0, "x", 0.0, exclusive_minimum=True, unit="ms")
    assert limits.number(0.0, "x", 0.0) == 0.0
    with pytest.raises(ConfigError, match="non-negative"):
        limits.number(-1e-9, "x", 0.0)
    with pytest.raises(ConfigError, match="<= 5"):
        limits.number(5.5, "x", 1.0, 5.0)


def test_finite_array_checks_every_array_library():
    import jax.numpy as jnp
    import torch

    for arr in (np.ones((2, 2)), jnp.ones((2, 2)), torch.ones(2, 2), [[1, 2]], np.arange(3)):
        limits.finite_array(arr, "a")  # no error
    for arr in (
        np.array([[1.0, np.nan]]),
        jnp.array([[jnp.inf, 1.0]]),
        torch.tensor([[1.0, float("nan")]], requires_grad=True),
        [[1.0, float("-inf")]],
    ):
        with pytest.raises(ConfigError, match="a contains 1 NaN or infinite"):
            limits.finite_array(arr, "a")
    with pytest.raises(ConfigError, match="numeric array"):
        limits.finite_array(np.array(["x"]), "a")


def test_finite_array_lets_traced_values_through():
    import jax
    import jax.numpy as jnp

    seen = []

    def f(x):
        limits.finite_array(x, "x")  # a tracer: its values are unknown here
        seen.append(type(x).__name__)
        return x.sum()

    assert float(jax.grad(f)(jnp.ones(3)).sum()) == 3.0
    assert seen and seen[0].endswith("Tracer")


def test_seed_bounds_match_jax_keys():
    import jax

    # seeds >= 2**32 would alias smaller ones: the reason for MAX_SEED
    same = jax.random.key_data(jax.random.key(2**32)) == jax.random.key_data(jax.random.key(0))
    assert bool(np.all(same))
    assert limits.seed(limits.MAX_SEED) == 2**32 - 1
    with pytest.raises(ConfigError, match="seed must be an integer in 0"):
        limits.seed(2**32)
    with pytest.raises(ConfigError):
        limits.seed(-1)


def test_steps_bounds():
    assert limits.steps(0.025, 0.025) == 1
    assert limits.steps(100, 0.025) == 4000
    with pytest.raises(ConfigError, match="shorter than one integration step"):
        limits.steps(1e-9, 0.025)
    with pytest.raises(ConfigError, match="at most 2,147,483,647 steps"):
        limits.steps(1e12, 0.025)


def test_parse_bytes_and_budget(monkeypatch):
    assert limits.parse_bytes("64GB") == 64 * 10**9
    assert limits.parse_bytes("512MiB") == 512 * 2**20
    assert limits.parse_bytes("1e9") == 10**9
    for bad in ("lots", "-1GB", "0", "nanGB", "1XB"):
        with pytest.raises(ConfigError, match="LIVN_MAX_MEMORY"):
            limits.parse_bytes(bad)
    monkeypatch.setenv(limits.MEMORY_VAR, "3MiB")
    assert limits.memory_budget() == 3 * 2**20
    monkeypatch.delenv(limits.MEMORY_VAR)
    assert limits.memory_budget() == limits.physical_memory() // 2


@pytest.mark.parametrize("n_cells,duration", [(10, 100.0), (100, 5000.0), (10000, 31000.0)])
def test_run_bytes_spike_buffer_is_the_engines(n_cells, duration):
    """The estimate's spike buffer is the one the JAX engine allocates (independent code)."""
    from types import SimpleNamespace

    from livn.backends.jax.engine import Engine

    dt = 0.025
    n_steps = round(duration / dt)
    fake = SimpleNamespace(dt=dt, net=SimpleNamespace(num_neurons=n_cells))
    assert limits.spike_capacity(n_cells, n_steps, dt) == Engine.default_capacity(fake, n_steps)
    blocks = n_steps * dt / 0.1
    expected = 2 * (Engine.default_capacity(fake, n_steps) * 8 + blocks * n_cells * 4 * 2)
    assert limits.run_bytes(n_cells, n_steps, dt, 0.1, True, True) == pytest.approx(expected)


# ---------------------------------------------------------------------------- Env calls
@pytest.fixture(scope="module")
def env():
    from livn.env import Env

    return Env("EI1", seed=1).init()


def test_stimulus_nan_is_refused_on_every_array_library(env):
    import jax.numpy as jnp
    import torch

    from livn.stimulus import Stimulus

    n = env.system.num_neurons
    for arr in (jnp.zeros((5, n)).at[2, 3].set(jnp.nan), torch.full((5, n), float("inf"))):
        with pytest.raises(ConfigError, match="NaN or infinite"):
            Stimulus(arr, dt=1.0)
        with pytest.raises(ConfigError, match="NaN or infinite"):
            env.run(5.0, arr)
    with pytest.raises(ConfigError, match="NaN or infinite"):
        env.cell_stimulus(np.full((5, env.io.num_channels), np.nan))
    with pytest.raises(ConfigError, match="gids must be integers"):
        Stimulus(np.zeros((5, 2)), gids=[0.5, 1.5])


def test_weights_must_be_finite_and_non_negative(env):
    key = env.weight_names[0]
    before = [np.asarray(w).copy() for w in env.params["weights"]]
    for bad in (float("nan"), float("inf"), -0.5, True, "1"):
        with pytest.raises(ConfigError, match=f"weight '{key}'"):
            env.set_weights({key: bad})
    with pytest.raises(ConfigError, match="takes a mapping"):
        env.set_weights([(key, 1.0)])
    after = [np.asarray(w) for w in env.params["weights"]]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    env.set_weights({key: 0.0})  # zero is a valid weight


def test_noise_values_are_checked(env):
    with pytest.raises(ConfigError, match=r"noise 'g_e0'.*non-negative"):
        env.set_noise({"g_e0": -1.0})
    with pytest.raises(ConfigError, match=r"noise 'EXC-std_i'"):
        env.set_noise({"EXC-std_i": float("nan")})
    with pytest.raises(ConfigError, match=r"noise 'tau_e'.*positive"):
        env.set_noise(tau_e=0.0)
    with pytest.raises(ConfigError, match="'enabled' must be True or False"):
        env.set_noise({"enabled": "no"})


def test_run_duration_and_memory_bounds(env, monkeypatch):
    env.record_spikes()
    env.record_voltage()
    with pytest.raises(ConfigError, match="shorter than one integration step"):
        env.run(1e-9)
    with pytest.raises(ConfigError, match="2,147,483,647 steps"):
        env.run(1e12)
    monkeypatch.setenv(limits.MEMORY_VAR, "1MB")
    with pytest.raises(SizeLimitError, match=r"needs about .* above the limit of .*LIVN_MAX_MEMORY"):
        env.run(5000.0)  # 50,000 blocks × 10 cells × 4 B × 2 + spike buffer > 1 MB
    with pytest.raises(SizeLimitError, match="3 trials"):
        env.run_batch(1000.0, seeds=[1, 2, 3])
    monkeypatch.setenv(limits.MEMORY_VAR, "1GB")  # the override lets the same run through
    v = env.run(5.0)[3]
    assert v.shape[0] == env.system.num_neurons
    with pytest.raises(ConfigError, match="run_batch seed"):
        env.run_batch(5.0, seeds=[2**32])
    with pytest.raises(ConfigError, match="at least one seed"):
        env.run_batch(5.0, seeds=[])


def test_env_seed_bounds():
    from livn.env import Env

    with pytest.raises(ConfigError, match="Env seed"):
        Env("EI1", seed=2**32)
    with pytest.raises(ConfigError, match="Env seed"):
        Env("EI1", seed=1.5)


# ---------------------------------------------------------------------------- sampling
@pytest.mark.parametrize(
    "arg,match",
    [
        ("samples=1e12", "'samples': 1000000000000.0 .must be an integer"),
        ("samples=true", "'samples': True .must be an integer"),
        ("samples=3.0", "must be an integer"),
        ("duration=1e12", "2,147,483,647 steps"),
        ("duration=1e-9", "shorter than one integration step"),
        ("duration=NaN", "'duration': nan .must be a finite number"),
        ("duration=Infinity", "must be a finite number"),
        ("noise=1", "'noise': 1 .must be true or false"),
        ("task_index=5", "task_index=5 must be below task_count=2"),
        ("output_directory=", "'output_directory': ''"),
        ("seed=4294967295", "exceeds the largest seed"),
        ("processes=100000", "at most .* local worker processes"),
        ("record=[]", "record nothing"),
        ('encoding_kwargs={"amplitud": 5}', "encoding_kwargs do not fit"),
        ('decoding_kwargs={"bin_ms": -1}', "decoding_kwargs"),
        ("samples=2000000", "2,000,000 samples, above the limit of 1,000,000"),
    ],
)
def test_bad_sample_configs_are_refused_before_anything_is_written(capsys, workdir, arg, match):
    argv = ["systems", "sample", "system=EI1", "duration=20", "samples=2", "task_count=2",
            "output_directory=./job", arg, "--launch"]  # fmt: skip
    if arg.startswith(("encoding_kwargs", "decoding_kwargs")):
        argv.insert(4, "encoding=ElectrodePulses" if arg[0] == "e" else "decoding=MeanFiringRate")
    code, out, err = cli(capsys, *argv)
    assert code == 2, (out, err)
    assert "livn: error:" in err and "Traceback" not in err
    import re

    assert re.search(match, err), err
    assert "Sampling" not in out  # nothing announced as started
    assert not (workdir / "job").exists()


def _broken_system(root: Path, kind: str) -> Path:
    from livn.system import make

    path = root / f"sys_{kind}"
    shutil.copytree(make("EI1").uri, path)
    if kind == "truncated":
        cells = path / "cells.h5"
        with open(cells, "r+b") as f:
            f.truncate(cells.stat().st_size * 2 // 3)
    elif kind == "no_connections":
        (path / "connections.h5").unlink()
    elif kind == "graph":
        (path / "graph.json").write_text("{not json", "utf-8")
    elif kind == "mea":
        (path / "mea.json").write_text('{"electrode_coordinates": [[0, 1, 2]]}', "utf-8")
    elif kind == "mea_nan":
        (path / "mea.json").write_text('{"electrode_coordinates": [[0, NaN, 2, 3]]}', "utf-8")
    return path


@pytest.mark.parametrize(
    "kind,match",
    [
        ("truncated", r"cells.h5: .*(truncated|cannot be read)"),
        ("no_connections", "connections.h5: missing"),
        ("graph", "graph.json: not valid JSON"),
        ("mea", "mea.json: invalid electrode layout"),
        ("mea_nan", "mea.json: invalid electrode layout .*NaN"),
    ],
)
def test_broken_system_directories_fail_before_the_job_starts(capsys, workdir, kind, match):
    system = _broken_system(workdir, kind)
    code, _, err = cli(capsys, "systems", "sample", f"system={system}", "duration=20",
                         "samples=2", "output_directory=./job", "--launch")  # fmt: skip
    assert code == 2
    import re

    assert re.search(match, err), err
    assert not (workdir / "job").exists()


def test_truncated_dataset_inside_a_readable_file_is_detected(workdir):
    """A file whose header opens but whose data is cut is caught by System.check()."""
    import h5py

    from livn.errors import SystemFormatError
    from livn.system import System, make

    path = workdir / "sys"
    shutil.copytree(make("EI1").uri, path)
    with h5py.File(path / "connections.h5", "r") as f:
        names = []
        f.visititems(lambda n, o: names.append((n, o.id.get_offset(), o.nbytes))
                     if isinstance(o, h5py.Dataset) and o.id.get_offset() else None)  # fmt: skip
    _, offset, nbytes = max(names, key=lambda x: x[1])
    with open(path / "connections.h5", "r+b") as f:  # overwrite the last dataset's bytes past EOF
        f.seek(0, 2)
        size = f.tell()
    assert offset + nbytes <= size
    System(path)  # the directory opens lazily
    with open(path / "connections.h5", "r+b") as f:
        f.truncate(offset + nbytes // 2)
    with pytest.raises(SystemFormatError, match=r"connections\.h5"):
        System(path).check()


def test_a_foreign_config_json_is_refused_and_kept(capsys, workdir):
    (workdir / "job").mkdir()
    (workdir / "job" / "config.json").write_text("hello", "utf-8")
    code, _, err = cli(capsys, "systems", "sample", "system=EI1", "duration=20", "samples=1",
                       "output_directory=./job", "--launch")  # fmt: skip
    assert code == 2 and "is not a livn sampling job's config.json" in err
    assert (workdir / "job" / "config.json").read_text("utf-8") == "hello"
    assert sorted(p.name for p in (workdir / "job").iterdir()) == ["config.json"]
    (workdir / "job" / "config.json").write_text(json.dumps({"workflow": "other"}), "utf-8")
    code, _, err = cli(capsys, "systems", "sample", "system=EI1", "output_directory=./job",
                       "--launch")  # fmt: skip
    assert code == 2 and "not a livn sampling job" in err


def test_sample_dry_run_estimates_and_writes_nothing(capsys, workdir):
    code, out, err = cli(capsys, "systems", "sample", "system=EI2", "duration=5000",
                         "samples=10", "output_directory=./job", "--dry-run")  # fmt: skip
    assert code == 0, err
    assert "Samples: 10 (0 already written, 10 to run)" in out
    assert "Estimated run time" in out and "Estimated disk use" in out
    # Raw records voltage and membrane current of 100 cells every 0.1 ms: 2 × 100 × 50,000 × 4 B
    # per sample (the dominant term) — about 38 MiB each, 380 MiB in all
    assert "~38." in out and "MiB per sample" in out
    assert not (workdir / "job").exists()


def test_relaunch_runs_the_samples_asked_for(workdir):
    from livn.workflows.sample import Sample

    job = Sample({"system": "EI1", "duration": 20, "samples": 5, "output_directory": "./job"})
    job._prepare()  # writes config.json only
    fewer = Sample({"system": "EI1", "duration": 20, "samples": 3, "output_directory": "./job"})
    assert fewer.plan()["todo"] == [0, 1, 2]
    assert fewer.plan()["resolved"]["samples"] == 5  # the job remembers its largest count
    same = Sample({"system": "EI1", "duration": 20, "output_directory": "./job"})
    assert same.plan()["todo"] == [0, 1, 2, 3, 4]  # no samples given: the job's own count


def test_disk_and_unit_bounds_and_their_override(workdir):
    from livn.workflows.sample import Sample

    huge = {"system": "EI2", "duration": 31000, "samples": 900_000, "output_directory": "./job"}
    with pytest.raises(SizeLimitError, match=r"would write about .* free\. .*allow_large=true"):
        Sample(huge).plan()
    small_out = {**huge, "decoding": "MeanFiringRate", "record": ["spikes"], "samples": 1_000_001}
    with pytest.raises(SizeLimitError, match="1,000,001 samples, above the limit"):
        Sample(small_out).plan()
    plan = Sample({**small_out, "allow_large": True}).plan()
    assert len(plan["todo"]) == 1_000_001 and not (workdir / "job").exists()


def test_memory_bound_of_one_sample(workdir, monkeypatch):
    from livn.workflows.sample import Sample

    monkeypatch.setenv(limits.MEMORY_VAR, "10MB")
    job = Sample({"system": "EI2", "duration": 5000, "samples": 1, "output_directory": "./job"})
    with pytest.raises(SizeLimitError, match="one 5000 ms sample of 100 cells"):
        job.plan()
    Sample({**job.config.model_dump(), "allow_large": True}).plan()


# ---------------------------------------------------------------------------- sweeps
BIG_SWEEP = """
metadata: {batch_name: big}
base_config: {system: EI1, duration: DURATION}
batch:
  output_dir: ./big_out
  save_format: FORMAT
  stimuli:
    - type: gaussian_sweep
      parameters:
        amplitude: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        sigma: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
        center_x: [-1, -0.9, -0.8, -0.7, -0.6, -0.5, -0.4, -0.3, -0.2, -0.1]
        center_y: [-1, -0.9, -0.8, -0.7, -0.6, -0.5, -0.4, -0.3, -0.2, -0.1]
        onset_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        period_ms: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
        pulse_ms: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
      repetitions: REPS
"""


def _sweep(workdir: Path, duration="100", fmt="pytorch", reps="100", small=False) -> Path:
    """BIG_SWEEP (10⁷ × reps stimuli), or with ``small`` only its 10 amplitudes × reps."""
    text = BIG_SWEEP.replace("DURATION", duration).replace("FORMAT", fmt).replace("REPS", reps)
    if small:
        for k in ("sigma", "center_x", "center_y", "onset_ms", "period_ms", "pulse_ms"):
            text = text.replace(f"        {k}:", f"        # {k}:")
    path = workdir / "big.yml"
    path.write_text(text, "utf-8")
    return path


def test_a_billion_stimulus_dry_run_is_counted_not_enumerated(workdir):
    """Hang guard only (a subprocess timeout), no speed assertion: the old code enumerated."""
    path = _sweep(workdir)
    livn = [sys.executable, "-m", "livn"]
    r = subprocess.run([*livn, "batch", str(path), "--dry-run"], capture_output=True, text=True,
                       timeout=120, cwd=workdir)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Total stimuli: 1,000,000,000" in r.stdout
    assert "stim_000000000 " in r.stdout
    assert "Would be refused at launch" in r.stdout and "--allow-large" in r.stdout
    r = subprocess.run([*livn, "batch", str(path)], capture_output=True, text=True, timeout=120,
                       cwd=workdir)  # fmt: skip
    assert r.returncode == 2 and "1,000,000,000 stimuli, above the limit" in r.stderr
    assert not (workdir / "big_out").exists()


def test_sweep_duration_and_memory_bounds(capsys, workdir, monkeypatch):
    path = _sweep(workdir, duration="1e9", fmt="hdf5", reps="1", small=True)
    code, _, err = cli(capsys, "batch", str(path), "--allow-large")
    assert code == 2 and "base_config.duration 1e+09 ms" in err and "Lower base_config" in err
    path = _sweep(workdir, duration="1e7", fmt="hdf5", reps="1", small=True)
    code, _, err = cli(capsys, "batch", str(path), "--allow-large", "--dry-run")
    assert code == 0  # allowed large: estimates only
    monkeypatch.setenv(limits.MEMORY_VAR, "1GB")
    code, _, err = cli(capsys, "batch", str(path))
    assert code == 2 and "one 1e+07 ms stimulus of 10 cells (electrode currents" in err
    assert "needs about" in err
    assert not (workdir / "big_out").exists()


def test_pytorch_results_in_memory_are_bounded(workdir, monkeypatch):
    from livn.workflows.sweeps import Batch

    monkeypatch.setenv(limits.MEMORY_VAR, "200MB")
    path = _sweep(workdir, duration="1000", fmt="pytorch", reps="30000", small=True)
    batch = Batch.from_yaml(path)
    assert batch.num_stimuli == 300_000
    with pytest.raises(SizeLimitError, match=r"results\.pt of batch 'big'.*save_format: hdf5"):
        batch.plan()


@pytest.mark.parametrize(
    "edit,match",
    [
        (("repetitions: 1", "repetitions: 1.0"), "'batch.stimuli.0.repetitions': 1.0"),
        (("repetitions: 1", "repetitions: true"), "must be an integer"),
        (("duration: 100", "duration: .nan"), "must be a finite number"),
        (("amplitude: [1, 2", "amplitude: [.inf, 2"), "parameter 'amplitude' must be a number"),
        (("output_dir: ./big_out", "output_dir: ''"), "'batch.output_dir'"),
        (("system: EI1", "system: EI1, seed: 4294967296"), "'base_config.seed'"),
    ],
)
def test_bad_sweep_values_are_refused(capsys, workdir, edit, match):
    import re

    path = _sweep(workdir, reps="1")
    text = path.read_text("utf-8")
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1], 1), "utf-8")
    code, _, err = cli(capsys, "batch", str(path), "--dry-run")
    assert code == 2 and re.search(match, err), err
    assert not (workdir / "big_out").exists()


def test_yaml_alias_bomb_is_refused(capsys, workdir):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    lines.append("batch: {output_dir: ./o, stimuli: [{type: gaussian, parameters: {x: *a8}}]}")
    path = workdir / "bomb.yml"
    path.write_text("\n".join(lines), "utf-8")
    code, _, err = cli(capsys, "batch", str(path), "--dry-run")
    assert code == 2 and "expands to" in err and "aliases" in err


def test_yaml_exponent_numbers_are_floats(workdir):
    from livn.workflows.sweeps.config import load_config

    path = _sweep(workdir, duration="1e3", reps="1")
    assert load_config(path).base_config.duration == 1000.0


# ---------------------------------------------------------------------------- generate_2d
@pytest.mark.parametrize(
    "arg,match",
    [
        ("total_cells=1e9", "'total_cells': 1000000000.0 .must be an integer"),
        ("total_cells=1000000000", "'total_cells'"),
        ('populations={"EXC": {"count": 0}}', "would have 0 cells"),
        ("connectivity.sigma=NaN", "must be a finite number"),
        ("connectivity.mean_degree=1e7", "synapses, above the limit"),
        ("z_range=[0,Infinity]", "must be a finite number"),
        ("seed=true", "must be an integer"),
    ],
)
def test_bad_generate_2d_configs(capsys, workdir, arg, match):
    import re

    code, _, err = cli(capsys, "systems", "generate_2d", "output_directory=./g", arg, "--launch")
    assert code == 2 and re.search(match, err), err
    assert not (workdir / "g").exists()


@pytest.mark.parametrize("flag", [["--pitch", "nan"], ["--pitch", "1e-300"], ["--z", "inf"]])
def test_bad_mea_options(capsys, workdir, flag):
    code, _, err = cli(capsys, "systems", "generate_2d", "output_directory=./g", "total_cells=20",
                       "--launch", "--mea", *flag)  # fmt: skip
    assert code == 2, err
    assert "livn: error:" in err and ("pitch" in err or "MEA" in err or "z " in err), err
    assert not (workdir / "g").exists()  # the MEA options are checked before the system is built


def test_limits_doc_lists_the_bounds():
    """The table in docs/limits.md states the constants the code enforces."""
    from livn.io.mea import MAX_CHANNELS
    from livn.system.culture.config import MAX_CELLS, MAX_EDGES
    from livn.workflows.sweeps.config import MAX_NODES

    doc = (Path(__file__).parent.parent / "docs" / "limits.md").read_text("utf-8")
    assert limits.MAX_SEED == 2**32 - 1 and "2³² − 1" in doc
    assert limits.MAX_STEPS == 2**31 - 1 and "2³¹ − 1" in doc
    hours = limits.MAX_STEPS * 0.025 / 3.6e6
    assert f"{hours:.1f} h simulated at dt = 0.025 ms" in doc
    for text in (f"{limits.MAX_UNITS:,} samples or stimuli", f"1 … {MAX_CHANNELS:,}",
                 f"1 … {MAX_CELLS:,}", f"{MAX_EDGES:,} synapses", f"{MAX_NODES:,} values",
                 limits.MEMORY_VAR, "allow_large=true", "--allow-large", "4 per core"):  # fmt: skip
        assert text in doc, text

def test_numpy_scalars_in_python_configs_follow_the_same_rules(workdir):
    from livn.workflows.sample import Sample

    config = Sample({"samples": np.int64(3), "duration": np.float32(20.0),
                     "noise": np.bool_(False)}).config  # fmt: skip
    assert (config.samples, config.duration, config.noise) == (3, 20.0, False)
    assert type(config.samples) is int and type(config.noise) is bool
    for bad in (np.float64(3.0), np.bool_(True)):
        with pytest.raises(ConfigError, match=r"'samples'.*must be an integer"):
            Sample({"samples": bad})
    with pytest.raises(ConfigError, match=r"'duration'.*finite"):
        Sample({"duration": np.float64("nan")})


def test_processes_overrides_are_checked_before_anything_is_written(capsys, workdir):
    from livn.workflows.sample import Sample

    path = _sweep(workdir, reps="1", small=True)
    for bad in ("0", "100000"):
        code, out, err = cli(capsys, "batch", str(path), "--processes", bad)
        assert code == 2 and "processes" in err, err
        assert "Starting batch" not in out
        assert not (workdir / "big_out").exists()
    job = Sample({"system": "EI1", "duration": 20, "samples": 1, "output_directory": "./job"})
    for bad in (0, 10**6, 1.5):
        with pytest.raises(ConfigError, match="processes"):
            job.launch(processes=bad)
    assert not (workdir / "job").exists()


def test_a_foreign_or_other_checkpoint_is_refused_by_the_dry_run(capsys, workdir):
    path = _sweep(workdir, reps="1", small=True)
    (workdir / "big_out").mkdir()
    (workdir / "big_out" / "checkpoint.json").write_text("not json", "utf-8")
    code, _, err = cli(capsys, "batch", str(path), "--dry-run")
    assert code == 2 and "is not a livn batch checkpoint" in err
    assert (workdir / "big_out" / "checkpoint.json").read_text("utf-8") == "not json"
    (workdir / "big_out" / "checkpoint.json").write_text('{"config_hash": "x"}', "utf-8")
    code, _, err = cli(capsys, "batch", str(path), "--dry-run")
    assert code == 2 and "holds a different batch" in err


def test_checking_a_very_long_pulse_train_takes_little_memory(workdir):
    """5·10⁷ ms at one pulse per 0.5 ms is 10⁸ onsets: listing them (8 bytes each, several
    arrays) needs GBs; the check samples them arithmetically. Run under a 1 GiB address-space
    limit so a regression fails with MemoryError instead of slowing the machine."""
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))\n"
        "from livn.io import MEA\n"
        "from livn.workflows.sweeps.patterns import get_pattern\n"
        "p = get_pattern('moving_gaussian').check(MEA(), 5e7, {'period_ms': 0.5, "
        "'pulse_ms': 0.1, 'dt': 0.05})\n"
        "print('ok', p['period_ms'])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok 0.5" in r.stdout, r.stderr[-2000:]


def test_bad_slurm_resources_are_refused_before_config_json(workdir):
    from livn.workflows.sample import Sample

    job = Sample({"system": "EI1", "duration": 20, "samples": 2, "output_directory": "./job"})
    with pytest.raises(ConfigError, match="bogus key"):
        job.submit_slurm({"bogus key": 1}, submit=False)
    assert not (workdir / "job").exists()


def test_generation_memory_bound_is_checked_at_launch_not_in_the_config(workdir, monkeypatch):
    """A config's validity does not depend on the machine; the launch refuses what does not fit,
    and so does a predefined build — with livn's error, not a pydantic traceback."""
    from livn.system.culture import CultureConfig
    from livn.workflows.generate_2d import Generate2D

    monkeypatch.setenv(limits.MEMORY_VAR, "100KB")
    config = {"total_cells": 2000, "output_directory": "./g"}
    CultureConfig.model_validate(config)  # valid everywhere
    with pytest.raises(SizeLimitError, match="candidate pairs"):
        Generate2D(config).launch()
    assert not (workdir / "g").exists()
    monkeypatch.setenv("LIVN_CACHE_DIR", str(workdir / "cache"))
    from livn.system import make

    with pytest.raises(SizeLimitError, match="LIVN_MAX_MEMORY"):
        make("EI2")
    monkeypatch.setenv(limits.MEMORY_VAR, "1GB")
    assert make("EI2").num_neurons == 100


def test_a_relaunch_without_samples_reports_the_jobs_own_count(capsys, workdir):
    args = ["systems", "sample", "system=EI1", "duration=20", "output_directory=./job",
            "executor=serial"]  # fmt: skip
    code, out, err = cli(capsys, *args, "samples=2", "--launch")
    assert code == 0, err
    assert "Sampling 2 samples (2 to run)" in out and "2/2 samples" in out
    code, out, err = cli(capsys, *args, "--launch")  # no samples=: the job's own count
    assert code == 0, err
    assert "Sampling 2 samples (0 to run)" in out and "2/2 samples" in out


def test_jax_and_torch_scalars_are_numbers_but_not_booleans_or_strings():
    import jax.numpy as jnp
    import torch

    for value in (jnp.asarray(100.0), torch.tensor(2.5), np.array(1.5),
                  torch.tensor(3, dtype=torch.int64), jnp.asarray(1.0, jnp.bfloat16)):  # fmt: skip
        assert limits.number(value, "x") == float(value)
    for value in (np.array(True), np.array("1.5"), jnp.asarray(True), torch.tensor(True),
                  np.array(1 + 2j), jnp.ones(2), torch.tensor(float("nan"))):  # fmt: skip
        with pytest.raises(ConfigError, match="x must be"):
            limits.number(value, "x")


def test_distributed_env_arguments_follow_the_contract():
    from livn.distributed import DistributedEnv

    for kwargs, match in (({"subworld_size": 1.7}, "subworld_size must be an integer"),
                          ({"subworld_size": 0}, "subworld_size"),
                          ({"seed": "x"}, "seed must be an integer")):  # fmt: skip
        with pytest.raises(ConfigError, match=match):
            DistributedEnv("EI1", **kwargs)

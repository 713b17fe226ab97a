"""YAML parameter sweeps (`livn batch`): expansion as seed 003 counts it, canonical seeds,
patterns against independent formulas, dry run, outputs as the seed reads them, failures,
SIGKILL and resume, configuration errors."""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from livn.errors import ConfigError
from livn.workflows.shards import read_shard, shard_indices
from livn.workflows.sweeps import Batch, BatchConfig, count, expand, get_pattern, stimulus_seed

LIVN = [sys.executable, "-m", "livn"]


def _config(stimuli, output_dir="./out", **batch):
    return {"batch": {"output_dir": str(output_dir), "stimuli": stimuli, **batch}}


# ---------------------------------------------------------------------------- expansion
@pytest.mark.parametrize(
    ("stimuli", "expected"),
    [
        ([{"type": "gaussian_sweep", "repetitions": 3,
           "parameters": {"amplitude": [10, 20, 30, 40, 50], "sigma": [0.3, 0.5, 0.8, 1.0, 1.5]}}], 75),
        ([{"type": "gaussian_sweep", "repetitions": 3,
           "parameters": {"amplitude": [10, 20], "sigma": [0.5, 1.0], "center_x": [0.0]}}], 12),
        ([{"type": "gaussian", "parameters": {"amplitude": 30.0, "sigma": [0.5, 1.0, 1.5]}}], 3),
        ([{"type": "gaussian_sweep", "repetitions": 2,
           "parameters": {"amplitude": [10, 20, 30], "sigma": [0.5, 1.0]}},
          {"type": "gabor_sweep", "repetitions": 1,
           "parameters": {"frequency": [0.5, 1.0, 2.0], "orientation": [0, 45, 90]}}], 21),
    ],
)  # fmt: skip
def test_expansion_counts_as_the_seed(stimuli, expected):
    config = BatchConfig.model_validate(_config(stimuli))
    assert count(config) == expected
    specs = expand(config)
    assert len(specs) == expected
    assert len({s.key for s in specs}) == expected
    assert len({s.stimulus_id for s in specs}) == expected


def test_expansion_order_and_ids_follow_the_seed():
    config = BatchConfig.model_validate(_config([{"type": "gaussian_sweep", "repetitions": 3,
        "parameters": {"amplitude": [10, 20], "sigma": [0.5, 1.0], "center_x": [0.0]}}]))  # fmt: skip
    specs = expand(config)
    got = [(s.swept["amplitude"], s.swept["sigma"], s.rep) for s in specs[:5]]
    assert got == [(10, 0.5, 0), (10, 0.5, 1), (10, 0.5, 2), (10, 1.0, 0), (10, 1.0, 1)]
    assert specs[0].key == "stim_0000" and specs[11].key == "stim_0011"
    assert specs[0].stimulus_id == "gaussian_a10.0_s0.5_rep0"


def test_seeds_are_canonical():
    a = BatchConfig.model_validate(_config([{"type": "gaussian", "base_seed": 42,
                                             "parameters": {"amplitude": [10, 20]}}]))  # fmt: skip
    b = BatchConfig.model_validate(_config([{"type": "pulse", "parameters": {"amplitude": [5, 6]}},
                                            {"type": "gaussian_sweep", "base_seed": 42,
                                             "parameters": {"amplitude": [20.0]}}]))  # fmt: skip
    sa, sb = expand(a), expand(b)
    # the same stimulus gets the same seed at another position, in another batch, 20 == 20.0
    assert sa[1].seed == sb[2].seed and sa[1].key != sb[2].key
    assert sa[0].seed != sa[1].seed
    # independent recomputation of the documented rule
    text = json.dumps({"type": "gaussian", "params": sa[1].params, "rep": 0, "base_seed": 42},
                      sort_keys=True, separators=(",", ":"))  # fmt: skip
    expected = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF
    assert sa[1].seed == expected == stimulus_seed("gaussian", sa[1].params, 0, 42)
    # and in another process
    code = ("from livn.workflows.sweeps import stimulus_seed; import json, sys; "
            "print(stimulus_seed('gaussian', json.loads(sys.argv[1]), 0, 42))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code, json.dumps(sa[1].params)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert int(out.stdout) == sa[1].seed


# ---------------------------------------------------------------------------- patterns
@pytest.fixture(scope="module")
def mea():
    from livn.io import MEA
    from livn.system import make

    return MEA.from_directory(make("EI1").uri)


def _xy(mea):
    xy = mea.electrode_coordinates[:, 1:3]
    return (xy - xy.mean(0)) / 1000.0


def test_gaussian_pattern_matches_the_formula(mea):
    params = {"amplitude": 30.0, "sigma": 0.8, "center_x": 0.5, "center_y": -1.0, "onset_ms": 1.0,
              "period_ms": 10.0, "pulse_ms": 0.2, "dt": 0.05}  # fmt: skip
    arr = get_pattern("gaussian_sweep").channel_inputs(mea, 30.0, params)
    assert arr.shape == (600, 16)
    xy = _xy(mea)
    expected = 30.0 * np.exp(-((xy[:, 0] - 0.5) ** 2 + (xy[:, 1] + 1.0) ** 2) / (2 * 0.8**2))
    # first pulse at 1 ms = row 20: 4 rows cathodic (-), 4 rows anodic (+)
    np.testing.assert_allclose(arr[20:24], -np.tile(expected, (4, 1)), rtol=1e-6)
    np.testing.assert_allclose(arr[24:28], np.tile(expected, (4, 1)), rtol=1e-6)
    assert np.all(arr[:20] == 0) and np.all(arr[28:220] == 0)
    assert np.count_nonzero(np.abs(arr).sum(1)) == 3 * 8  # pulses at 1, 11, 21 ms
    np.testing.assert_allclose(arr.sum(0), 0.0, atol=1e-4)  # charge balanced


def test_gabor_and_moving_gaussian_match_their_formulas(mea):
    xy = _xy(mea)
    gabor = get_pattern("gabor").channel_inputs(
        mea,
        20.0,
        {
            "frequency": 0.5,
            "orientation": 45,
            "phase": 90,
            "amplitude": 20.0,
            "onset_ms": 0.0,
        },
    )
    th = math.radians(45)
    expected = 20.0 * np.cos(2 * math.pi * 0.5 * (xy[:, 0] * math.cos(th) + xy[:, 1] * math.sin(th))
                             + math.pi / 2)  # fmt: skip
    np.testing.assert_allclose(gabor[0], -expected, rtol=1e-5, atol=1e-5)

    moving = get_pattern("moving_gaussian").channel_inputs(
        mea,
        101.0,
        {
            "velocity": 20.0,
            "direction": 90,
            "sigma": 0.5,
            "amplitude": 10.0,
            "onset_ms": 0.0,
            "period_ms": 50.0,
        },
    )
    for k, onset in enumerate([0.0, 50.0, 100.0][:2]):
        cy = 20.0 * (onset - 50.5) / 1000.0
        expected = 10.0 * np.exp(-(xy[:, 0] ** 2 + (xy[:, 1] - cy) ** 2) / (2 * 0.25))
        np.testing.assert_allclose(moving[k * 1000], -expected, rtol=1e-5, err_msg=f"pulse {k}")


def test_pulse_pattern_and_bounds(mea):
    arr = get_pattern("pulse").channel_inputs(mea, 10.0, {"channels": [0, 5], "amplitude": 7.0,
                                                          "onset_ms": 0.0})  # fmt: skip
    assert set(np.flatnonzero(np.abs(arr).sum(0))) == {0, 5}
    assert arr.min() == -7.0 and arr.max() == 7.0
    # the timing is ElectrodePulses': a uniform pattern is its pulse train
    from livn.encoding import ElectrodePulses

    timing = {"pulse_ms": 0.1, "period_ms": 7.5, "onset_ms": 0.5, "dt": 0.025}
    uniform = get_pattern("pulse").channel_inputs(mea, 40.0, {"amplitude": 12.5, **timing})
    reference = ElectrodePulses(amplitude_uA=12.5, **timing).channel_inputs(mea, 40.0)
    np.testing.assert_array_equal(uniform, reference)
    with pytest.raises(ConfigError, match="safety bound"):
        get_pattern("gaussian").channel_inputs(mea, 30.0, {"amplitude": 5000})
    with pytest.raises(ConfigError, match="Did you mean 'sigma'"):
        get_pattern("gaussian").resolve({"sigm": 1})
    with pytest.raises(ConfigError, match="no pulse fits"):
        get_pattern("gaussian").channel_inputs(mea, 10.0, {"onset_ms": 20.0})
    with pytest.raises(ConfigError, match="out of range"):
        get_pattern("pulse").channel_inputs(mea, 30.0, {"channels": [99]})
    with pytest.raises(ConfigError, match="unknown stimulus type"):
        get_pattern("gausian")


# ---------------------------------------------------------------------------- running
BATCH = {
    "metadata": {"batch_name": "test_sweep"},
    "base_config": {"system": "EI1", "duration": 30.0, "seed": 3},
    "batch": {
        "save_format": "pytorch",
        "stimuli": [
            {"type": "gaussian_sweep", "base_seed": 1,
             "parameters": {"amplitude": [20.0, 60.0], "onset_ms": 2.0, "period_ms": 10.0},
             "repetitions": 2},
            {"type": "pulse", "parameters": {"channels": [[0, 1]], "amplitude": 50.0,
                                             "onset_ms": 5.0}},
        ],
    },
}  # fmt: skip


def _write(tmp_path: Path, fmt: str = "pytorch", name: str = "out", **batch) -> Path:
    data = json.loads(json.dumps(BATCH))
    data["batch"].update(output_dir=str(tmp_path / name), save_format=fmt, **batch)
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _responses(out: Path) -> dict[int, dict]:
    res = {}
    for i in shard_indices(out / "responses", "stim"):
        meta, arrays = read_shard(out / "responses" / f"stim_{i:04d}.npz")
        res[i] = {**arrays, "seed": np.array(meta["seed"])}
    return res


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    batch = Batch.from_yaml(_write(tmp))
    report = batch.run(executor="serial")
    assert report.ok and len(report.completed) == 5
    return batch, _responses(tmp / "out")


def test_pytorch_results_load_as_the_seed_reads_them(reference):
    import torch

    batch, responses = reference
    data = torch.load(batch.output_dir / "results.pt")
    assert data["metadata"]["num_stimuli"] == 5 and data["metadata"]["failed_stimuli"] == []
    results = data["results"]
    assert len(results) == 5
    for k, result in enumerate(results):
        spikes = result["spikes"]
        assert spikes.shape == (30, 10)
        config = result["stimulus_config"]
        assert config["stimulus_key"] == f"stim_{k:04d}"
        assert int(spikes.sum()) == len(responses[k]["spike_ids"])
    index = json.loads((batch.output_dir / "stimulus_index.json").read_text())
    assert index["stim_0000"]["type"] == "gaussian" and index["stim_0000"]["amplitude"] == 20.0
    meta = json.loads((batch.output_dir / "batch_metadata.json").read_text())
    assert meta["batch_id"].startswith("test_sweep_") and meta["num_stimuli"] == 5


def test_a_stimulus_equals_a_direct_env_run(reference):
    from livn.env import Env

    batch, responses = reference
    k = max(responses, key=lambda i: len(responses[i]["spike_ids"]))  # the strongest response
    spec = batch.stimuli[k]
    env = Env("EI1", seed=spec.seed).init().apply_model_defaults().record_spikes()
    currents = get_pattern(spec.type).channel_inputs(env.io, 30.0, spec.params)
    it, t, *_ = env.run(30.0, env.cell_stimulus(currents, dt=spec.params["dt"]))
    assert len(it) > 0
    np.testing.assert_array_equal(responses[k]["spike_ids"], it)
    np.testing.assert_array_equal(responses[k]["spike_times"], t)
    # stimulation matters: it moves the membrane potentials of the same Env and seed
    runs = []
    for stimulus in (env.cell_stimulus(currents, dt=spec.params["dt"]), None):
        e = Env("EI1", seed=spec.seed).init().apply_model_defaults().record_voltage()
        runs.append(e.run(30.0, stimulus).v)
    assert np.abs(runs[0] - runs[1]).max() > 1.0  # mV


def test_hdf5_and_dataset_outputs(tmp_path, reference):
    import h5py

    _, responses = reference
    batch = Batch.from_yaml(_write(tmp_path, "hdf5", save_intermediates=True))
    assert batch.run(executor="serial").ok
    with h5py.File(batch.output_dir / "results.h5", "r") as f:
        assert f["metadata"].attrs["num_stimuli"] == 5
        assert f["grid"].attrs["size"] == 16 and f["grid"].attrs["spacing"] == 1000.0
        assert f["stimuli/stim_0003"].attrs["amplitude"] == 60.0
        for k in range(5):
            r = f[f"responses/stim_{k:04d}"]
            np.testing.assert_array_equal(r["spike_ids"][:], responses[k]["spike_ids"])
            assert r["spikes"][:].sum() == len(responses[k]["spike_ids"])
            assert r["voltages"].shape == (10, 300) and r["stimulus"].shape[1] == 16

    from datasets import load_dataset

    batch = Batch.from_yaml(_write(tmp_path, "dataset", name="ds"))
    assert batch.run(executor="serial").ok
    ds = load_dataset(str(batch.output_dir / "dataset"))["train"]
    assert ds.num_rows == 5
    assert ds[2]["trial_it"][0] == responses[2]["spike_ids"].tolist()


def test_failing_stimulus_is_recorded_and_the_batch_continues(tmp_path, monkeypatch, capsys):
    import livn.workflows.sweeps.run as run_mod
    from livn.cli.main import main

    original = run_mod.run_stimulus

    def flaky(context, unit):
        if unit[1] == "stim_0002":
            raise RuntimeError("electrode 3 disconnected")
        return original(context, unit)

    monkeypatch.setattr(run_mod, "run_stimulus", flaky)
    path = _write(tmp_path)
    assert main(["batch", str(path), "--executor", "serial"]) == 1
    err = capsys.readouterr().err
    assert "[1/5] Executing gaussian_a20.0_rep0..." in err  # seed 003's progress lines
    assert "ERROR executing stim_0002 (gaussian_a60.0_rep0)" in err
    assert "stim_0002 (gaussian_a60.0_rep0): RuntimeError: electrode 3 disconnected" in err
    assert "--resume" in err
    out = tmp_path / "out"
    assert shard_indices(out / "responses", "stim") == [0, 1, 3, 4]
    meta = json.loads((out / "batch_metadata.json").read_text())
    assert meta["failed_stimuli"] == ["stim_0002"]
    checkpoint = json.loads((out / "checkpoint.json").read_text())
    assert "stim_0002" in checkpoint["failed"]
    monkeypatch.setattr(run_mod, "run_stimulus", original)  # fixed: resume retries it
    assert main(["batch", str(path), "--executor", "serial", "--resume",
                 str(out / "checkpoint.json")]) == 0  # fmt: skip
    assert shard_indices(out / "responses", "stim") == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("kill_after", [1, pytest.param(3, marks=pytest.mark.slow)])
def test_sigkill_and_resume_is_bit_identical(tmp_path, reference, kill_after):
    import torch

    path = _write(tmp_path)
    out = tmp_path / "out"
    cmd = [*LIVN, "batch", str(path), "--processes", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    t0 = time.monotonic()
    while len(shard_indices(out / "responses", "stim")) < kill_after:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < 300
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert not (out / "results.pt").exists() or kill_after >= 5
    for name in os.listdir(out / "responses"):
        assert name.startswith(".") or read_shard(out / "responses" / name)
    resumed = subprocess.run([*cmd, "--resume", str(out / "checkpoint.json")],
                             capture_output=True, text=True, timeout=600)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    got = _responses(out)
    ref_batch, ref = reference
    assert sorted(got) == sorted(ref)
    for i in ref:
        for k in ref[i]:
            np.testing.assert_array_equal(got[i][k], ref[i][k], err_msg=f"stim {i} {k}")
    a = torch.load(out / "results.pt")["results"]
    b = torch.load(ref_batch.output_dir / "results.pt")["results"]
    for x, y in zip(a, b, strict=True):
        assert (
            torch.equal(x["spikes"], y["spikes"]) and x["stimulus_config"] == y["stimulus_config"]
        )
    assert not [n for n in os.listdir(out / "responses") if n.endswith(".tmp")]


# ---------------------------------------------------------------------------- dry run, errors
def test_dry_run_prints_and_writes_nothing(tmp_path):
    path = _write(tmp_path)
    proc = subprocess.run([*LIVN, "batch", str(path), "--dry-run"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Total stimuli: 5" in proc.stdout
    assert "stim_0000 gaussian_a20.0_rep0" in proc.stdout
    assert f"Output directory: {tmp_path / 'out'}" in proc.stdout
    assert "Estimated run time" in proc.stdout and "Estimated disk use" in proc.stdout
    assert not (tmp_path / "out").exists()


def _bad(tmp_path, text: str) -> str:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        Batch.from_yaml(path).run(executor="serial")
    assert not (tmp_path / "o").exists()
    return str(e.value)


def test_bad_configs_give_clear_errors_and_write_nothing(tmp_path, monkeypatch):
    assert "invalid YAML" in _bad(tmp_path, "batch: [unclosed")
    msg = _bad(tmp_path, "batch: {output_dir: o, stimuli: [{type: gaussian}], save_formt: hdf5}")
    assert "unknown key 'batch.save_formt'" in msg and "save_format" in msg
    msg = _bad(tmp_path, "batch: {output_dir: o, save_format: csv, stimuli: [{type: gaussian}]}")
    assert "save_format" in msg and "csv" in msg
    msg = _bad(
        tmp_path, "base_config: {duration: -5}\nbatch: {output_dir: o, stimuli: [{type: gaussian}]}"
    )
    assert "duration" in msg
    msg = _bad(tmp_path, "base_config: {system: EI1, model: LIFF}\n"
                         "batch: {output_dir: o, stimuli: [{type: gaussian}]}")  # fmt: skip
    assert "base_config.model" in msg and "Did you mean 'LIF'" in msg
    assert "unknown stimulus type" in _bad(
        tmp_path, "batch: {output_dir: o, stimuli: [{type: spiral}]}"
    )
    assert "Did you mean 'amplitude'" in _bad(
        tmp_path, "batch: {output_dir: o, stimuli: [{type: gaussian, parameters: {amplitud: 3}}]}"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIVN_OUTPUT_ROOT", str(tmp_path / "allowed"))
    assert "outside the allowed location" in _bad(
        tmp_path, "base_config: {system: EI1}\nbatch: {output_dir: o, stimuli: [{type: gaussian}]}"
    )


def test_a_directory_holding_a_different_batch_is_refused(tmp_path, reference):
    batch, _ = reference
    other = json.loads(json.dumps(BATCH))
    other["base_config"]["duration"] = 40.0
    before = sorted(os.listdir(batch.output_dir))
    with pytest.raises(ConfigError, match="different batch"):
        Batch(other, output=str(batch.output_dir)).run(executor="serial")
    with pytest.raises(ConfigError, match="already holds this batch"):
        Batch(BATCH, output=str(batch.output_dir)).run(executor="serial")
    with pytest.raises(ConfigError, match="not this batch's checkpoint"):
        Batch(BATCH, output=str(batch.output_dir)).run(executor="serial", resume="elsewhere.json")
    assert sorted(os.listdir(batch.output_dir)) == before


def test_resuming_on_another_device_warns(tmp_path, reference):
    import shutil

    batch, _ = reference
    out = tmp_path / "copy"
    shutil.copytree(batch.output_dir, out)
    checkpoint = json.loads((out / "checkpoint.json").read_text())
    assert checkpoint["device"] == "cpu"
    checkpoint["device"] = "cuda"  # as if it had been started on a GPU
    (out / "checkpoint.json").write_text(json.dumps(checkpoint))
    with pytest.warns(UserWarning, match="pass --device cuda for bit-identical results"):
        report = Batch(BATCH, output=str(out)).run(executor="serial",
                                                   resume=out / "checkpoint.json")  # fmt: skip
    assert report.ok and report.completed == []  # everything was done: outputs rebuilt
    assert json.loads((out / "checkpoint.json").read_text())["device"] == "cuda"


def test_the_shipped_example_config_is_valid():
    from livn.workflows.sweeps import load_config

    config = load_config(Path(__file__).resolve().parents[1] / "examples" / "batch_config.yml")
    assert count(config) == 12 + 4 + 2 + 2

"""The ``batched`` executor: units run ``batch_size`` at a time through ``Env.run_batch`` and
are written as the serial executor writes them — for sampling jobs and ``livn batch`` sweeps.

Shards are compared with the serial executor's array by array. Without a stimulus, and with
somatic current stimuli, they are bit-identical; with electrode stimuli XLA computes a batch's
electrode currents as one matrix product instead of one vector product per trial (another
summation order), so voltages differ in the last float32 bits — see
``test_electrode_stimuli_agree_to_float32_rounding``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from livn.errors import ConfigError, SizeLimitError
from livn.workflows import get
from livn.workflows.executors import Report, run_units
from livn.workflows.shards import read_shard, shard_indices

pytest.importorskip("jax")

BASE = {"system": "EI1", "duration": 50.0, "samples": 3, "seed": 7}
LIVN = [sys.executable, "-m", "livn"]


def _shards(directory: Path) -> dict[int, tuple[dict, dict[str, np.ndarray]]]:
    return {i: read_shard(directory / "samples" / f"sample_{i:06d}.npz")
            for i in shard_indices(directory / "samples")}  # fmt: skip


def _assert_identical(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for i in a:
        assert a[i][0] == b[i][0], f"sample {i} meta"
        assert sorted(a[i][1]) == sorted(b[i][1]), i
        for k, value in a[i][1].items():
            assert value.dtype == b[i][1][k].dtype, (i, k)
            np.testing.assert_array_equal(value, b[i][1][k], err_msg=f"sample {i} {k}")


@pytest.fixture
def run_batch_sizes(monkeypatch) -> list[int]:
    """The number of trials of every ``Env.run_batch`` call."""
    from livn.env import Env

    sizes: list[int] = []
    original = Env.run_batch

    def spy(self, duration, stimulus=None, seeds=None, batch_size=None):
        sizes.append(len(seeds))
        return original(self, duration, stimulus, seeds=seeds, batch_size=batch_size)

    monkeypatch.setattr(Env, "run_batch", spy)
    return sizes


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The spontaneous job run by the serial executor (default backend)."""
    out = tmp_path_factory.mktemp("serial")
    assert get("sample", {**BASE, "output_directory": str(out)}).launch(executor="serial").ok
    return _shards(out)


@pytest.fixture(scope="module")
def jax_reference(tmp_path_factory) -> dict:
    """The same job on the JAX engine, whose batches are one vmapped program."""
    out = tmp_path_factory.mktemp("serial_jax")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIVN_BACKEND", "jax")
        assert get("sample", {**BASE, "output_directory": str(out)}).launch(
            executor="serial").ok  # fmt: skip
    return _shards(out)


# ---------------------------------------------------------------------------- sampling
@pytest.mark.parametrize("backend", ["default", "jax"])
def test_batched_samples_are_the_serial_samples(tmp_path, request, run_batch_sizes, monkeypatch,
                                                backend):  # fmt: skip
    if backend == "jax":
        monkeypatch.setenv("LIVN_BACKEND", "jax")
    reference = request.getfixturevalue("jax_reference" if backend == "jax" else "reference")
    out = tmp_path / "batched"
    job = get("sample", {**BASE, "output_directory": str(out), "executor": "batched",
                         "batch_size": 2})  # fmt: skip
    report = job.launch()
    assert report.ok and sorted(report.completed) == [f"sample_{i:06d}" for i in range(3)]
    assert run_batch_sizes == [2, 1]  # three samples: a full batch, then a partial one
    _assert_identical(_shards(out), reference)
    assert json.loads((out / "config.json").read_text())["samples"] == 3


SOMA = '''
import numpy as np
from livn.stimulus import Stimulus


class SomaSteps:
    """Current steps into three cells (gids); odd seeds get a shorter stimulus."""

    def __call__(self, env, duration, inputs):
        rows = 40 if env.seed % 2 else 60
        array = np.zeros((rows, 3), np.float32)
        array[5:30] = 0.4 * np.asarray(inputs[:3], np.float32)
        return Stimulus(array, dt=1.0, gids=[1, 4, 7])
'''


@pytest.mark.slow  # four programs compiled (~20 s)
def test_stimuli_of_other_shapes_run_in_batches_of_their_own(tmp_path, monkeypatch,
                                                             run_batch_sizes):  # fmt: skip
    (tmp_path / "soma_steps.py").write_text(textwrap.dedent(SOMA))
    monkeypatch.syspath_prepend(str(tmp_path))
    config = {**BASE, "samples": 4, "encoding": "soma_steps.SomaSteps"}
    serial = tmp_path / "serial"
    assert get("sample", {**config, "output_directory": str(serial)}).launch(executor="serial")
    run_batch_sizes.clear()
    batched = tmp_path / "batched"
    report = get("sample", {**config, "output_directory": str(batched)}).launch(
        executor="batched", batch_size=2)  # fmt: skip
    assert report.ok
    # seeds 7 and 9 share one stimulus shape, 8 and 10 another
    assert run_batch_sizes == [2, 2]
    _assert_identical(_shards(batched), _shards(serial))
    features = _shards(batched)[1][1]["features"]
    assert features.shape == (16,) and features.any()  # the inputs reached the stimulus


PULSES = {"encoding": "ElectrodePulses",
          "encoding_kwargs": {"amplitude_uA": 20.0, "period_ms": 20.0}}  # fmt: skip


@pytest.fixture(scope="module")
def electrode_jobs(tmp_path_factory) -> tuple[dict, dict]:
    """Electrode pulses on the JAX engine, whose batches are one vmapped program."""
    serial, batched = tmp_path_factory.mktemp("pulses_serial"), tmp_path_factory.mktemp("pb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIVN_BACKEND", "jax")
        assert get("sample", {**BASE, **PULSES, "output_directory": str(serial)}).launch(
            executor="serial").ok  # fmt: skip
        assert get("sample", {**BASE, **PULSES, "output_directory": str(batched)}).launch(
            executor="batched", batch_size=3).ok  # fmt: skip
    return _shards(serial), _shards(batched)


@pytest.mark.slow  # two programs compiled (~20 s)
def test_electrode_stimuli_are_bit_identical(electrode_jobs):
    """The electrode currents of a batch trial are summed in the order of a single run's (the
    JAX engine multiplies by the field maps and sums; ``tensordot`` under ``vmap`` became a
    matrix product that summed in another order and moved voltages by up to 1e-3 mV)."""
    serial, batched = electrode_jobs
    assert sorted(serial) == sorted(batched) == [0, 1, 2]
    assert any(len(s[1]["it"]) for s in serial.values())  # the pulses evoke spikes
    _assert_identical(batched, serial)


CRASH = '''
import os


class CrashAt:
    """No stimulus; ends the process (as a crash would) at the seed $CRASH_SEED."""

    def __call__(self, env, duration, inputs):
        if os.environ.get("CRASH_SEED") == str(env.seed):
            os._exit(3)
        return None
'''


def test_a_crash_mid_batch_loses_nothing_and_a_relaunch_runs_only_the_missing(tmp_path,
                                                                              monkeypatch):  # fmt: skip
    (tmp_path / "crash_at.py").write_text(textwrap.dedent(CRASH))
    monkeypatch.syspath_prepend(str(tmp_path))
    config = {**BASE, "samples": 5, "encoding": "crash_at.CrashAt"}
    ref = tmp_path / "ref"
    assert get("sample", {**config, "output_directory": str(ref)}).launch(executor="serial").ok
    out = tmp_path / "job"
    args = [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in config.items()]
    env = {
        **os.environ,
        "CRASH_SEED": "11",  # sample 4: samples 0-3 ran in two batches
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    proc = subprocess.run([*LIVN, "systems", "sample", *args, f"output_directory={out}",
                           "executor=batched", "batch_size=2", "--launch"], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    written = _shards(out)
    # the first batch's shards were written before the second batch's were queued; every
    # visible shard is complete and equals the serial run's
    assert {0, 1} <= set(written) <= {0, 1, 2, 3}
    expected = _shards(ref)
    _assert_identical(written, {i: expected[i] for i in written})
    visible = {p.name for p in (out / "samples").iterdir() if not p.name.startswith(".")}
    assert visible == {f"sample_{i:06d}.npz" for i in written}
    report = get("sample", {**config, "output_directory": str(out)}).launch(
        executor="batched", batch_size=2)  # fmt: skip
    assert sorted(report.completed) == [f"sample_{i:06d}" for i in range(5) if i not in written]
    _assert_identical(_shards(out), expected)
    assert not [p for p in (out / "samples").iterdir() if p.name.startswith(".")]


def test_the_cli_runs_a_batched_job(tmp_path, reference):
    out = tmp_path / "cli"
    args = [f"{k}={v}" for k, v in BASE.items()]
    proc = subprocess.run([*LIVN, "systems", "sample", *args, f"output_directory={out}",
                           "--executor", "batched", "--batch-size", "2", "--launch"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "with batched" in proc.stdout and "Done: 3 written, 0 failed" in proc.stdout
    _assert_identical(_shards(out), reference)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("value", [0, -2, 1.5, 2.0, True, "8x", "AUTO", "", None, [2]])
def test_bad_batch_sizes_are_refused_by_name(tmp_path, value):
    with pytest.raises(ConfigError, match="batch_size") as info:
        get("sample", {**BASE, "output_directory": str(tmp_path / "j"), "batch_size": value})
    assert "'auto'" in str(info.value) or "auto" in str(info.value)
    assert repr(value)[:6] in str(info.value) or str(value) in str(info.value)
    assert not (tmp_path / "j").exists()


def test_bad_batch_size_on_the_command_lines(tmp_path):
    proc = subprocess.run([*LIVN, "systems", "sample", "system=EI1", "duration=20",
                           f"output_directory={tmp_path / 'j'}", "executor=batched",
                           "batch_size=0", "--launch"], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 2 and "batch_size" in proc.stderr and "got 0" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "j").exists()
    config = tmp_path / "sweep.yml"
    config.write_text(f"batch: {{output_dir: {tmp_path / 'b'}, stimuli: [{{type: gaussian}}]}}\n")
    proc = subprocess.run([*LIVN, "batch", str(config), "--executor", "batched",
                           "--batch-size", "many"], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 2 and "--batch-size" in proc.stderr and "'many'" in proc.stderr
    assert not (tmp_path / "b").exists()


def test_a_batch_larger_than_memory_names_the_estimate_and_the_largest_that_fits(
    tmp_path, monkeypatch
):
    from livn import limits

    per_sample = get("sample", {**BASE, "output_directory": str(tmp_path / "p")}).plan()[
        "memory_per_sample"
    ]
    monkeypatch.setenv(limits.MEMORY_VAR, str(int(2.5 * per_sample)))
    out = tmp_path / "j"
    job = get("sample", {**BASE, "output_directory": str(out), "executor": "batched",
                         "batch_size": 3})  # fmt: skip
    with pytest.raises(SizeLimitError) as info:
        job.launch()
    message = str(info.value)
    assert "batch_size=3" in message
    assert limits.human_bytes(3 * per_sample) in message  # the estimate
    assert limits.human_bytes(int(2.5 * per_sample)) in message  # what is available
    assert "largest batch that fits is 2" in message and "batch_size=2" in message
    assert not out.exists()
    # the same budget: batch_size=auto picks the largest batch that fits
    report = get("sample", {**BASE, "output_directory": str(out), "executor": "batched"}).launch()
    assert report.ok
    assert len(shard_indices(out / "samples")) == 3


def test_auto_and_explicit_batches_against_a_gpu_memory(monkeypatch):
    """The device side of :func:`livn.workflows.batching.resolve`, with the free memory a GPU
    would report (the host's budget is ample)."""
    from livn.env import Env
    from livn.workflows import batching

    env = Env("EI1", seed=1).init()
    env.apply_model_defaults()
    args = (env, 1000.0)
    cpu = batching.resolve(*args, "auto", 100, "trials", True, True)
    assert cpu["platform"] == "cpu" and cpu["batch_size"] == batching.AUTO_CPU
    assert batching.resolve(*args, "auto", 3, "trials", True, True)["batch_size"] == 3
    assert batching.resolve(*args, 7, 100, "trials", True, True)["batch_size"] == 7
    probe = dict(batching.resolve(*args, 1, 1, "trials", True, True))
    monkeypatch.setattr(batching, "device_memory", lambda env: ("gpu", 1e12))
    gpu = batching.resolve(*args, "auto", 10_000, "trials", True, True)
    assert gpu["batch_size"] == batching.AUTO_GPU and gpu["per_trial_device"] > 0
    per = gpu["per_trial_device"]
    free = (batching.CHUNK_BYTES + 10.5 * per) / batching.GPU_SHARE  # room for 10 trials
    monkeypatch.setattr(batching, "device_memory", lambda env: ("gpu", free))
    assert batching.resolve(*args, "auto", 10_000, "trials", True, True)["batch_size"] == 10
    with pytest.raises(SizeLimitError, match="GPU memory") as info:
        batching.resolve(*args, 64, 10_000, "trials", True, True)
    assert "largest batch that fits is 10" in str(info.value)
    assert probe["per_trial_host"] > 0


# ---------------------------------------------------------------------------- sweeps
SWEEP = {
    "metadata": {"batch_name": "batched"},
    "base_config": {"system": "EI1", "duration": 30.0, "seed": 3},
    "batch": {
        "save_format": "hdf5",
        "stimuli": [
            {"type": "gaussian_sweep", "base_seed": 1,
             "parameters": {"amplitude": [20.0, 60.0], "onset_ms": 2.0, "period_ms": 10.0},
             "repetitions": 2},
            {"type": "pulse", "parameters": {"channels": [[0, 1]], "amplitude": 50.0,
                                             "onset_ms": 5.0}},
        ],
    },
}  # fmt: skip


def test_a_sweep_runs_batched_as_it_runs_serially(tmp_path, run_batch_sizes):
    from livn.workflows.sweeps import Batch

    def responses(out: Path) -> dict:
        return {i: read_shard(out / "responses" / f"stim_{i:04d}.npz")
                for i in shard_indices(out / "responses", "stim")}  # fmt: skip

    outs = {}
    for executor in ("serial", "batched"):
        data = json.loads(json.dumps(SWEEP))
        data["batch"]["output_dir"] = str(tmp_path / executor)
        with open(os.devnull, "w") as quiet:
            report = Batch(data).run(executor=executor, batch_size=5, stream=quiet)
        assert report.ok and len(report.completed) == 5
        outs[executor] = responses(tmp_path / executor)
    assert run_batch_sizes == [5]  # the gaussians and the pulse share the step (0.05 ms)
    serial, batched = outs["serial"], outs["batched"]
    assert sorted(serial) == sorted(batched) == [0, 1, 2, 3, 4]
    for i in serial:
        assert serial[i][0] == batched[i][0]
        for k in ("spike_ids", "spike_times"):
            np.testing.assert_array_equal(serial[i][1][k], batched[i][1][k], err_msg=f"{i} {k}")
    checkpoint = json.loads((tmp_path / "batched" / "checkpoint.json").read_text())
    assert len(checkpoint["completed"]) == 5 and not checkpoint["failed"]
    assert (tmp_path / "batched" / "results.h5").is_file()


def test_batch_cli_dry_run_shows_the_batch(tmp_path):
    config = tmp_path / "sweep.yml"
    data = json.loads(json.dumps(SWEEP))
    data["batch"]["output_dir"] = str(tmp_path / "out")
    config.write_text(json.dumps(data))
    proc = subprocess.run([*LIVN, "batch", str(config), "--dry-run", "--executor", "batched",
                           "--batch-size", "4"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Batched: 4 stimuli per run" in proc.stdout and "on 1 worker process" in proc.stdout
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- the executor
class FakeBatches:
    """A batch worker without a simulator: units ``(i, uid, {"group": g, ...})``; a unit with
    ``"bad": "prepare"|"finish"`` fails there, a batch holding ``"bad": "run"`` fails whole."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.written: list[str] = []

    def batch_size(self, context, requested, pending):
        return 3 if requested == "auto" else requested

    def prepare(self, context, unit):
        if unit[2].get("bad") == "prepare":
            raise ValueError(f"cannot prepare {unit[1]}")
        return unit[2]["group"], unit

    def run(self, context, batch, size):
        self.batches.append([u[1] for u in batch])
        if any(u[2].get("bad") == "run" for u in batch):
            raise MemoryError("the batch did not fit")

        def finish(unit):
            if unit[2].get("bad") == "finish":
                raise OSError(f"disk full writing {unit[1]}")
            self.written.append(unit[1])

        return [lambda u=u: finish(u) for u in batch]


FAKE = FakeBatches()


def test_the_executor_groups_by_signature_and_reports_each_unit(monkeypatch):
    fake = FakeBatches()
    monkeypatch.setattr(sys.modules[__name__], "FAKE", fake)
    groups = ["a", "b", "a", "a", "b", "a", "a", "b"]
    payloads = [{"group": g} for g in groups]
    payloads[1]["bad"] = "prepare"
    payloads[6]["bad"] = "finish"
    payloads[7]["bad"] = "run"
    units = [(i, f"u{i}", p) for i, p in enumerate(payloads)]
    events: list[tuple] = []
    report = run_units(units, "unused:worker", {}, executor="batched",
                       batch_worker=f"{__name__}:FAKE", batch_size=2,
                       progress=lambda *a: events.append(a),
                       start=lambda uid: events.append(("start", uid)))  # fmt: skip
    assert isinstance(report, Report)
    # full groups run as soon as they fill, in order; the partial ones at the end
    assert fake.batches == [["u0", "u2"], ["u3", "u5"], ["u4", "u7"], ["u6"]]
    assert sorted(report.completed) == ["u0", "u2", "u3", "u5"] == sorted(fake.written)
    assert set(report.failed) == {"u1", "u4", "u6", "u7"}
    assert "ValueError: cannot prepare u1" in report.failed["u1"]
    assert "MemoryError: the batch did not fit" in report.failed["u4"] == report.failed["u7"]
    assert "OSError: disk full writing u6" in report.failed["u6"]
    done = [e for e in events if e[0] != "start"]
    assert [e[0] for e in done] == list(range(1, 9)) and {e[1] for e in done} == {8}
    assert sorted(e[1] for e in events if e[0] == "start") == sorted(u[1] for u in units)
    with pytest.raises(ConfigError, match="batch_size"):
        run_units(units, "unused:worker", {}, executor="batched",
                  batch_worker=f"{__name__}:FAKE", batch_size=0)  # fmt: skip
    with pytest.raises(ConfigError, match="unknown executor 'batched'"):
        run_units(units, "unused:worker", {}, executor="batched")  # a job without a batch worker

"""Fault injection (issue 9, part 8): SIGKILL at seeded random points during sampling, sweeps,
merge and predefined builds, then run again until done. The result must equal an uninterrupted
reference (file bytes, shard arrays) and no temporary or staging file may be left.

A kill point is drawn from ``random.Random`` seeded with :data:`SEED` and the workflow's name:
either a time after the start, or the moment a file matching a pattern appears (a temporary
file, a staging directory, a finished shard) plus a short random delay. The interrupted runs
see a slow disk: every :func:`livn._fs.atomic_write` sleeps :data:`WRITE_DELAY` s before its
rename (a ``sitecustomize`` hook, active in every process of the run, workers included), so
many kills land while a temporary file exists. The final runs and the references use the real,
unpatched code. The number of kills is printed (run with ``-s`` to see it); the slow variants
run a longer schedule.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from livn import _fs
from livn.workflows import shards

pytest.importorskip("jax")
if not Path("/proc/self/stat").exists():  # pragma: no cover - the kill bookkeeping reads /proc
    pytest.skip("fault injection needs Linux /proc", allow_module_level=True)

SEED = 1234
LIVN = [sys.executable, "-m", "livn"]
#: Seconds every atomic write of an interrupted run sleeps before its rename.
WRITE_DELAY = 0.25
#: Limit for any one subprocess (s); a run that makes no progress fails the test.
TIMEOUT = 300

SLOW_DISK = """
import os
if os.environ.get("LIVN_FAULT_WRITE_DELAY"):
    import contextlib
    import time

    from livn import _fs

    _delay = float(os.environ["LIVN_FAULT_WRITE_DELAY"])
    _atomic_write = _fs.atomic_write

    @contextlib.contextmanager
    def _slow_atomic_write(path, mode="w"):
        with _atomic_write(path, mode) as f:
            yield f
            f.flush()
            time.sleep(_delay)  # a slow disk: the temporary file lives longer

    _fs.atomic_write = _slow_atomic_write
"""


# ---------------------------------------------------------------------- harness
def _env(hooks: Path, slow: bool, **extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hooks), env.get("PYTHONPATH")]))
    if slow:
        env["LIVN_FAULT_WRITE_DELAY"] = str(WRITE_DELAY)
    else:
        env.pop("LIVN_FAULT_WRITE_DELAY", None)
    return env


@pytest.fixture(scope="module")
def hooks(tmp_path_factory) -> Path:
    """A directory with the slow-disk ``sitecustomize`` (inert unless its variable is set)."""
    d = tmp_path_factory.mktemp("hooks")
    (d / "sitecustomize.py").write_text(SLOW_DISK)
    return d


def _group_alive(pgid: int) -> list[int]:
    """Processes of the process group ``pgid`` that have not exited (zombies have: their
    locks and files are released)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            alive.append(int(stat.parent.name))
    return alive


def _wait_gone(pgid: int) -> None:
    deadline = time.monotonic() + 60
    while _group_alive(pgid):
        assert time.monotonic() < deadline, f"process group {pgid} did not die"
        time.sleep(0.01)


def _draw(rng: random.Random, n: int, times: tuple[float, float], patterns: list[str]) -> list:
    """``n`` kill points: ``("time", s)`` or ``("file", pattern, extra delay s)``."""
    points = []
    for _ in range(n):
        if rng.random() < 0.4:
            points.append(("time", round(rng.uniform(*times), 3)))
        else:
            points.append(("file", rng.choice(patterns), round(rng.uniform(0.0, 0.1), 3)))
    return points


def _leftovers(root: Path) -> list[str]:
    """Temporary or staging files under ``root`` (atomic_write's, merge's, builds')."""
    out = []
    for path in root.rglob("*"):
        name = path.name
        if _fs.temp_target(name) or ".staging-" in name or name.startswith(".merge-"):
            out.append(path.relative_to(root).as_posix())
    return sorted(out)


class Injector:
    """Runs a command, SIGKILLs its process group at a kill point, counts the kills."""

    def __init__(self, name: str, root: Path, env: dict[str, str], log: Path) -> None:
        self.name, self.root, self.env, self.log = name, root, env, log
        self.kills = 0
        self.left = 0  # kills after which a temporary or staging file was on disk
        self.finished = 0  # runs that completed before their kill point

    def run(self, cmd: list[str], point: tuple) -> None:
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=self.env,
                                    start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + TIMEOUT
            if point[0] == "time":
                until = time.monotonic() + point[1]
                while proc.poll() is None and time.monotonic() < until:
                    time.sleep(0.005)
            else:
                _, pattern, extra = point
                while proc.poll() is None and not any(self.root.glob(pattern)):
                    assert time.monotonic() < deadline, f"{self.name}: {cmd} made no progress"
                    time.sleep(0.002)
                if proc.poll() is None:
                    time.sleep(extra)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                self.kills += 1
                proc.wait(timeout=60)
                _wait_gone(proc.pid)
                self.left += bool(_leftovers(self.root))
            else:
                proc.wait(timeout=60)
                _wait_gone(proc.pid)
                assert proc.returncode == 0, self.log.read_text()[-3000:]
                self.finished += 1
        finally:
            if proc.poll() is None:  # pragma: no cover - an assertion above failed
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)

    def report(self) -> str:
        line = (f"fault injection [{self.name}]: {self.kills} SIGKILLs injected "
                f"({self.left} left temporary/staging files behind, {self.finished} runs "
                "finished before their kill point)")  # fmt: skip
        print(line)
        return line


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def _same_bytes(a: Path, b: Path, names: list[str]) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def _same_shards(a: Path, b: Path, prefix: str) -> None:
    ia, ib = shards.shard_indices(a, prefix), shards.shard_indices(b, prefix)
    assert ia == ib and ia
    for i in ia:
        name = f"{prefix}_{i:06d}.npz" if prefix == "sample" else f"{prefix}_{i:04d}.npz"
        meta_a, arrays_a = shards.read_shard(a / name)
        meta_b, arrays_b = shards.read_shard(b / name)
        assert meta_a == meta_b, name
        assert sorted(arrays_a) == sorted(arrays_b), name
        for k in arrays_a:
            assert arrays_a[k].dtype == arrays_b[k].dtype, (name, k)
            np.testing.assert_array_equal(arrays_a[k], arrays_b[k], err_msg=f"{name} {k}")


def _check_shards_readable(directory: Path, prefix: str) -> None:
    for i in shards.shard_indices(directory, prefix):  # a visible shard is always complete
        name = f"{prefix}_{i:06d}.npz" if prefix == "sample" else f"{prefix}_{i:04d}.npz"
        shards.read_shard(directory / name)


def _kills(default: int, slow: int) -> list:
    return [default, pytest.param(slow, marks=pytest.mark.slow)]


# ---------------------------------------------------------------------- sampling
SAMPLE = ["system=EI1", "duration=20", "samples=3", "seed=3"]


def _sample_cmd(out: Path) -> list[str]:
    return [*LIVN, "systems", "sample", *SAMPLE, f"output_directory={out}", "--launch",
            "--processes", "1"]  # fmt: skip


@pytest.fixture(scope="module")
def sampled(tmp_path_factory, hooks) -> Path:
    """The sampling job run once, uninterrupted, through the CLI."""
    out = tmp_path_factory.mktemp("reference") / "job"
    _run(_sample_cmd(out), _env(hooks, slow=False))
    assert shards.shard_indices(out / "samples") == [0, 1, 2]
    return out


@pytest.mark.parametrize("n_kills", _kills(3, 12))
def test_sampling_killed_at_random_points_resumes_identically(tmp_path, hooks, sampled, n_kills):
    out = tmp_path / "job"
    rng = random.Random(f"{SEED}:sampling")
    patterns = [".config.json.*.tmp", "samples/.sample_*.tmp", "samples/sample_000000.npz",
                "samples/sample_000001.npz"]  # fmt: skip
    inject = Injector("sampling", out, _env(hooks, slow=True), tmp_path / "log.txt")
    for point in _draw(rng, n_kills, (0.5, 6.0), patterns):
        inject.run(_sample_cmd(out), point)
        _check_shards_readable(out / "samples", "sample")
    inject.report()
    assert inject.kills >= 1
    _run(_sample_cmd(out), _env(hooks, slow=False))
    _same_shards(sampled / "samples", out / "samples", "sample")
    _same_bytes(sampled, out, ["config.json"])
    assert _leftovers(out) == []
    assert _files(out) == _files(sampled)


# ---------------------------------------------------------------------- merge
@pytest.mark.parametrize("n_kills", _kills(5, 20))
def test_merge_killed_at_random_points_reruns_identically(tmp_path, hooks, sampled, n_kills):
    pytest.importorskip("pyarrow")
    from livn.workflows import dataset

    reference = tmp_path / "reference"
    shutil.copytree(sampled, reference)
    merge = [*LIVN, "systems", "sample", "--merge"]
    _run([*merge, f"output_directory={reference}"], _env(hooks, slow=False))
    out = tmp_path / "job"
    shutil.copytree(sampled, out)
    dataset.merge(out, include_voltage=True)  # a previous merge, with other options
    (out / "notes.txt").write_text("mine")
    rng = random.Random(f"{SEED}:merge")
    patterns = [".merge-*.tmp", ".merge-*.tmp/data/*/*.parquet", ".merge-*.tmp/old",
                ".merge-*.tmp/old/data", ".merge.json.*.tmp"]  # fmt: skip
    inject = Injector("merge", out, _env(hooks, slow=True), tmp_path / "log.txt")
    for point in _draw(rng, n_kills, (0.2, 2.0), patterns):
        inject.run([*merge, f"output_directory={out}"], point)
    inject.report()
    assert inject.kills >= 1
    _run([*merge, f"output_directory={out}"], _env(hooks, slow=False))
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    assert _leftovers(out) == []
    assert _files(out) == _files(reference)
    data = [f"data/{n}" for n in _files(reference / "data") if (reference / "data" / n).is_file()]
    assert data  # the Parquet files of both configs
    _same_bytes(reference, out, ["README.md", "merge.json", *data])
    assert dataset.is_merged(out)


# ---------------------------------------------------------------------- sweeps
BATCH = {
    "metadata": {"batch_name": "faults"},
    "base_config": {"system": "EI1", "duration": 20.0, "seed": 3},
    "batch": {"save_format": "pytorch", "stimuli": [
        {"type": "pulse", "parameters": {"channels": [[0, 1]], "amplitude": [30.0, 70.0],
                                         "onset_ms": 5.0}}]},
}  # fmt: skip


def _batch_cmd(config: Path, out: Path) -> list[str]:
    cmd = [*LIVN, "batch", str(config), "--processes", "1"]
    if (out / "checkpoint.json").exists():
        cmd += ["--resume", str(out / "checkpoint.json")]
    return cmd


def _batch_config(tmp: Path, out: Path) -> Path:
    data = json.loads(json.dumps(BATCH))
    data["batch"]["output_dir"] = str(out)
    path = tmp / f"{out.name}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _results(out: Path) -> list:
    import torch

    return torch.load(out / "results.pt", weights_only=True)["results"]


@pytest.mark.parametrize("n_kills", _kills(3, 12))
def test_sweep_killed_at_random_points_resumes_identically(tmp_path, hooks, n_kills):
    import torch

    reference = tmp_path / "reference"
    _run(_batch_cmd(_batch_config(tmp_path, reference), reference), _env(hooks, slow=False))
    out = tmp_path / "out"
    config = _batch_config(tmp_path, out)
    rng = random.Random(f"{SEED}:sweeps")
    patterns = [".checkpoint.json.*.tmp", "responses/.stim_*.tmp", "responses/stim_0001.npz",
                ".results.pt.*.tmp", ".batch_metadata.json.*.tmp"]  # fmt: skip
    inject = Injector("sweeps", out, _env(hooks, slow=True), tmp_path / "log.txt")
    for point in _draw(rng, n_kills, (0.5, 5.0), patterns):
        inject.run(_batch_cmd(config, out), point)
        _check_shards_readable(out / "responses", "stim")
    inject.report()
    assert inject.kills >= 1
    _run(_batch_cmd(config, out), _env(hooks, slow=False))
    _same_shards(reference / "responses", out / "responses", "stim")
    _same_bytes(reference, out, ["stimulus_index.json"])
    a, b = _results(reference), _results(out)
    assert len(a) == len(b) == 2
    for x, y in zip(a, b, strict=True):
        assert x["stimulus_config"] == y["stimulus_config"]
        for k in ("spikes", "spike_ids", "spike_times"):
            assert torch.equal(x[k], y[k]), k
    assert _leftovers(out) == []
    assert _files(out) == _files(reference)


# ---------------------------------------------------------------------- predefined builds
BUILD = [sys.executable, "-c", "from livn.system import make; make('EI3')"]


@pytest.mark.parametrize("n_kills", _kills(5, 20))
def test_predefined_build_killed_at_random_points_rebuilds_identically(tmp_path, hooks, n_kills):
    reference = tmp_path / "reference"
    _run(BUILD, _env(hooks, slow=False, LIVN_CACHE_DIR=str(reference)))
    cache = tmp_path / "cache"
    rng = random.Random(f"{SEED}:build")
    patterns = ["systems/.EI3-*.staging-*", "systems/.EI3-*.staging-*/.system.tmp-*/*",
                "systems/.EI3-*.staging-*/**/.*.json.*.tmp", "systems/.EI3-*.staging-*/system"]  # fmt: skip
    inject = Injector("build", cache, _env(hooks, slow=True, LIVN_CACHE_DIR=str(cache)),
                      tmp_path / "log.txt")  # fmt: skip
    for point in _draw(rng, n_kills, (0.1, 2.0), patterns):
        inject.run(BUILD, point)
    inject.report()
    assert inject.kills >= 1
    _run(BUILD, _env(hooks, slow=False, LIVN_CACHE_DIR=str(cache)))
    assert _leftovers(cache) == []
    assert _files(cache) == _files(reference)
    _same_bytes(reference, cache, [n for n in _files(reference) if (reference / n).is_file()])

"""Recovery leaves nothing behind (issue 9, part 4): the next run that owns a killed writer's
temporary or staging files removes them — and nothing else; a directory holding only our own
interrupted marker is recoverable; merge never deletes a file it did not write.

Temporary files are made the way a killed writer leaves them (``tempfile.mkstemp`` with
:func:`livn._fs.atomic_write`'s prefix and suffix, or a real writer killed with SIGKILL).
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from livn import _fs
from livn.errors import ConfigError
from livn.workflows import shards
from livn.workflows.outputs import check_output_directory


def _leftover(directory: Path, name: str) -> Path:
    """A temporary file of ``name`` as ``atomic_write`` makes it, left behind."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    os.write(fd, b"half")
    os.close(fd)
    return Path(path)


def _listing(directory: Path) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*"))


# ---------------------------------------------------------------------- _fs
def test_temp_target_parses_the_writers_names_only(tmp_path):
    assert _fs.temp_target(".config.json.abc123.tmp") == "config.json"
    assert _fs.temp_target(".results.h5.k2x_9q1a.tmp") == "results.h5"
    assert _fs.temp_target(".sample_000003.npz.zz.tmp") == "sample_000003.npz"
    for name in ["config.json", "config.json.abc.tmp", ".config.json.ABC.tmp",
                 ".config.json.abc.tmp.bak", ".config.json.a-b.tmp", ".tmp", "..x.tmp"]:  # fmt: skip
        assert _fs.temp_target(name) is None, name
    assert _fs.temp_target(".config.json.tmp") == "config"  # not config.json's: no random part
    with _fs.atomic_write(tmp_path / "x.json") as f:  # writer and cleaner agree on the name
        f.write("{}")
        (temp,) = os.listdir(tmp_path)
        assert _fs.temp_target(temp) == "x.json"
    assert os.listdir(tmp_path) == ["x.json"]


def test_clean_temp_removes_only_temp_files_of_the_given_names(tmp_path):
    a = _leftover(tmp_path, "config.json")
    b = _leftover(tmp_path, "config.json")
    other = _leftover(tmp_path, "other.json")
    user = tmp_path / "outside.txt"
    user.write_text("mine")
    keep = ["config.json", "config.json.abc.tmp", ".config.json.tmp", ".config.json.ABC.tmp",
            "notes.txt"]  # fmt: skip
    for name in keep:
        (tmp_path / name).write_text("user")
    (tmp_path / ".config.json.dir1.tmp").mkdir()  # a directory is not a temp file
    (tmp_path / ".config.json.lnk1.tmp").symlink_to(user)  # nor a link
    assert _fs.clean_temp(tmp_path, ["config.json"]) == 2
    assert not a.exists() and not b.exists()
    assert sorted(os.listdir(tmp_path)) == sorted(
        [*keep, other.name, "outside.txt", ".config.json.dir1.tmp", ".config.json.lnk1.tmp"]
    )
    assert user.read_text() == "mine"
    assert _fs.clean_temp(tmp_path, lambda name: name.endswith(".json")) == 1  # other.json's
    assert _fs.clean_temp(tmp_path / "missing", ["config.json"]) == 0


WRITER = """
import sys, time
from livn import _fs
with _fs.atomic_write(sys.argv[1], "wb") as f:
    f.write(b"partial")
    f.flush()
    print("writing", flush=True)
    time.sleep(120)
"""


def test_a_file_being_written_is_kept_until_its_writer_is_killed(tmp_path):
    target = tmp_path / "data.bin"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(target)],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "writing"
        (temp,) = _fs.temp_files(tmp_path, ["data.bin"])
        assert _fs.clean_temp(tmp_path, ["data.bin"]) == 0  # its writer is alive
        assert temp.exists()
    finally:
        child.kill()
        child.communicate(timeout=60)
    assert _fs.clean_temp(tmp_path, ["data.bin"]) == 1
    assert os.listdir(tmp_path) == []
    # in-process: a live writer's file is kept too, and its write completes
    with _fs.atomic_write(target, "w") as f:
        f.write("complete")
        assert _fs.clean_temp(tmp_path, ["data.bin"]) == 0
    assert target.read_text() == "complete" and os.listdir(tmp_path) == ["data.bin"]


def test_shard_clean_partial_removes_only_shard_temp_files(tmp_path):
    sample = _leftover(tmp_path, "sample_000003.npz")
    stim = _leftover(tmp_path, "stim_0001.npz")
    other = _leftover(tmp_path, "notes.txt")
    (tmp_path / "sample_000001.npz").write_bytes(b"done")
    (tmp_path / ".keep").write_text("")
    assert shards.clean_partial(tmp_path, "sample") == 1
    assert not sample.exists() and stim.exists()
    assert shards.clean_partial(tmp_path) == 1  # any shard prefix
    assert sorted(os.listdir(tmp_path)) == sorted([".keep", "sample_000001.npz", other.name])


# ---------------------------------------------------------------------- output directories
def test_a_directory_holding_only_our_interrupted_marker_is_accepted(tmp_path):
    d = tmp_path / "job"
    d.mkdir()
    (d / ".config.json.abc123.tmp").write_text('{"workf')
    assert check_output_directory(d, "config.json") == d.resolve()
    _leftover(d, "config.json")
    assert check_output_directory(d, "config.json") == d.resolve()
    with pytest.raises(ConfigError, match=r"\.config\.json\.abc123\.tmp"):
        check_output_directory(d, "checkpoint.json")  # another job's marker: not ours
    assert check_output_directory(d, "checkpoint.json", ["config.json"]) == d.resolve()
    (d / "notes.txt").write_text("user")
    with pytest.raises(
        ConfigError, match=r"notes\.txt\. livn does not write beside them; choose a new"
    ):
        check_output_directory(d, "config.json")
    e = tmp_path / "other"
    e.mkdir()
    (e / ".config.json.tmp").write_text("")  # not the writer's pattern
    with pytest.raises(ConfigError, match=r"\.config\.json\.tmp"):
        check_output_directory(e, "config.json")


# ---------------------------------------------------------------------- sampling
JOB = {"system": "EI1", "duration": 20.0, "seed": 5}


def test_sampling_recovers_a_killed_first_launch_and_cleans_only_its_temp_files(tmp_path):
    from livn.workflows import get

    pytest.importorskip("jax")
    out = tmp_path / "job"
    first = _leftover(out, "config.json")  # killed while writing its first config.json
    job = get("sample", {**JOB, "samples": 1, "output_directory": str(out)})
    assert job.launch(executor="serial").ok
    assert not first.exists()
    assert _listing(out) == ["config.json", "samples", "samples/sample_000000.npz"]

    ours = [_leftover(out, "config.json"), _leftover(out / "samples", "sample_000001.npz"),
            _leftover(out / "slurm", "sample.sbatch")]  # fmt: skip
    theirs = [_leftover(out, "results.pt"), _leftover(out / "samples", "notes.txt")]
    for name in ("notes.txt", "samples/.keep", "slurm/mine.sh"):
        (out / name).write_text("user")
    job = get("sample", {**JOB, "samples": 2, "output_directory": str(out)})
    assert job.launch(executor="serial").ok
    assert not any(p.exists() for p in ours)
    assert all(p.exists() for p in theirs)
    assert all(
        (out / n).read_text() == "user" for n in ("notes.txt", "samples/.keep", "slurm/mine.sh")
    )
    assert shards.shard_indices(out / "samples") == [0, 1]


# ---------------------------------------------------------------------- sweeps
TINY_BATCH = {
    "metadata": {"batch_name": "tiny"},
    "base_config": {"system": "EI1", "duration": 20.0, "seed": 3},
    "batch": {"save_format": "pytorch", "stimuli": [
        {"type": "pulse", "parameters": {"channels": [[0, 1]], "amplitude": [40.0, 60.0],
                                         "onset_ms": 5.0}}]},
}  # fmt: skip


def test_batch_recovers_a_killed_first_checkpoint_and_resume_cleans_only_its_temp_files(tmp_path):
    pytest.importorskip("jax")
    pytest.importorskip("torch")
    from livn.workflows.sweeps import Batch

    out = tmp_path / "out"
    first = _leftover(out, "checkpoint.json")
    config = json.loads(json.dumps(TINY_BATCH))
    config["batch"]["output_dir"] = str(out)
    assert Batch(config).run(executor="serial").ok
    assert not first.exists()
    expected = ["batch_metadata.json", "checkpoint.json", "responses", "responses/stim_0000.npz",
                "responses/stim_0001.npz", "results.pt", "stimulus_index.json"]  # fmt: skip
    assert _listing(out) == expected

    ours = [_leftover(out, n) for n in ("checkpoint.json", "results.pt", "results.h5",
                                        "batch_metadata.json", "stimulus_index.json")]  # fmt: skip
    ours += [_leftover(out / "responses", "stim_0001.npz"),
             _leftover(out / "dataset", "train-00000-of-00001.parquet")]  # fmt: skip
    theirs = [_leftover(out, "config.json"), _leftover(out / "responses", "notes.txt")]
    for name in ("notes.txt", "results.pt.bak", "responses/.keep", "dataset/mine.parquet"):
        (out / name).write_text("user")
    report = Batch(config).run(resume=out / "checkpoint.json", executor="serial")
    assert report.ok and report.completed == []
    assert not any(p.exists() for p in ours)
    assert all(p.exists() for p in theirs)
    for name in ("notes.txt", "results.pt.bak", "responses/.keep", "dataset/mine.parquet"):
        assert (out / name).read_text() == "user"


# ---------------------------------------------------------------------- predefined builds
def test_a_build_removes_stale_staging_of_its_name_only(tmp_path, monkeypatch):
    pre = importlib.import_module("livn.system.predefined")  # (livn.system.predefined: a function)
    monkeypatch.setenv("LIVN_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "cache" / "systems"
    build = f"EI1-{pre._definition_hash('EI1')}"
    root.mkdir(parents=True)

    def staging(name: str) -> Path:
        d = root / name
        (d / "system").mkdir(parents=True)
        (d / "system" / "cells.h5").write_bytes(b"partial")
        return d

    killed = staging(f".{build}.staging-abc123")  # a killed build of this name
    old_free = staging(".EI1-000000000000.staging-x1")  # another version's, lock free
    (root / ".EI1-000000000000.lock").touch()
    old_busy = staging(".EI1-111111111111.staging-x2")  # another version's, being built
    busy_lock = open(root / ".EI1-111111111111.lock", "a+")
    fcntl.flock(busy_lock.fileno(), fcntl.LOCK_EX)
    no_lock = staging(".EI1-222222222222.staging-x3")  # not made by predefined()
    other = staging(f".EI2-{pre._definition_hash('EI2')}.staging-abc123")
    user = [root / ".EI1-notes", root / "mine.txt", root / f".{build}.staging-x.bak"]
    for p in user:
        p.write_text("user")
    try:
        path = pre.predefined("EI1")
    finally:
        fcntl.flock(busy_lock.fileno(), fcntl.LOCK_UN)
        busy_lock.close()
    assert Path(path) == root / build and (root / build / "graph.json").is_file()
    assert not killed.exists() and not old_free.exists()
    assert old_busy.exists() and no_lock.exists() and other.exists()
    assert all(p.read_text() == "user" for p in user)
    # killed after publishing, before removing its staging: the next use cleans it
    late = staging(f".{build}.staging-late1")
    assert pre.predefined("EI1") == path
    assert not late.exists() and (root / build / "graph.json").is_file()


# ---------------------------------------------------------------------- merge
def _job(out: Path, n: int = 4) -> Path:
    """A sampling output directory with ``n`` synthetic EI1 shards (50 ms)."""
    (out / "samples").mkdir(parents=True)
    config = {"workflow": "sample", "format": 1, "system": "EI1", "system_name": "EI1",
              "model": None, "duration": 50.0, "samples": n, "noise": True, "seed": 7,
              "encoding": "livn.encoding.NoInput", "encoding_kwargs": {},
              "decoding": "livn.decoding.Raw", "decoding_kwargs": {}, "nprocs_per_worker": 1}  # fmt: skip
    (out / "config.json").write_text(json.dumps(config))
    for i in range(n):
        rng = np.random.default_rng(i)
        s = int(rng.integers(1, 30))
        arrays = {"features": np.zeros(0, np.float32), "it": rng.integers(0, 10, s),
                  "t": np.sort(rng.uniform(0.0, 50.0, s))}  # fmt: skip
        meta = {"kind": "sample", "index": i, "seed": 7 + i, "t_end": 50.0, "system": "EI1"}
        shards.write_shard(shards.shard_path(out / "samples", i), arrays, meta)
    return out


def _merged_bytes(out: Path) -> dict[str, bytes]:
    names = ["README.md", "merge.json", *(f"data/{n}" for n in _listing(out / "data"))]
    return {n: (out / n).read_bytes() for n in names if (out / n).is_file()}


def test_merge_refuses_foreign_files_in_data_before_writing_anything(tmp_path):
    pytest.importorskip("pyarrow")
    from livn.workflows import dataset as ds

    out = _job(tmp_path / "job")
    (out / "data").mkdir()
    (out / "data" / "notes.txt").write_text("user")
    before = _listing(out)
    with pytest.raises(ConfigError, match=r"notes\.txt.*never deletes other files; move those"):
        ds.merge(out, channels=False)
    assert _listing(out) == before  # nothing written: no card, record, lock or staging
    assert (out / "data" / "notes.txt").read_text() == "user"


def test_remerge_replaces_only_its_own_files_and_refuses_foreign_ones(tmp_path):
    pytest.importorskip("pyarrow")
    from livn.workflows import dataset as ds

    out = _job(tmp_path / "job")
    ds.merge(out, channels=True)
    record = ds.merge_record(out)
    assert record["files"] == sorted(f"{c}/{s}-00000-of-00001.parquet"
                                     for c in ("EI1", "EI1-channels") for s in ("test", "train"))  # fmt: skip
    merged = _merged_bytes(out)
    for extra, named in (("data/mine/x.parquet", "mine/"), ("data/EI1/notes.txt", "EI1/notes.txt")):
        path = out / extra
        path.parent.mkdir(exist_ok=True)
        path.write_text("user")
        with pytest.raises(ConfigError, match=f"did not write: {named}. "):
            ds.merge(out, channels=False)
        assert path.read_text() == "user"
        assert {n: (out / n).read_bytes() for n in merged} == merged  # the old merge is intact
        path.unlink()
    (out / "data" / "mine").rmdir()
    ds.merge(out, channels=False)  # a re-merge removes the channel view it wrote before
    assert _listing(out / "data") == ["EI1", "EI1/test-00000-of-00001.parquet",
                                      "EI1/train-00000-of-00001.parquet"]  # fmt: skip
    assert ds.is_merged(out)


def test_a_legacy_record_owns_its_configs_directories(tmp_path):
    pytest.importorskip("pyarrow")
    from livn.workflows import dataset as ds

    out = _job(tmp_path / "job")
    ds.merge(out, channels=False)
    record = json.loads((out / "merge.json").read_text())
    del record["files"]  # written before merges kept foreign files
    (out / "merge.json").write_text(json.dumps(record))
    (out / "data" / "EI1" / "old-00000-of-00001.parquet").write_bytes(b"old merge layout")
    ds.merge(out, channels=False)
    assert "files" in ds.merge_record(out)
    assert not (out / "data" / "EI1" / "old-00000-of-00001.parquet").exists()


KILL_IN_SWAP = """
import os, signal, sys
from livn.workflows import dataset as ds

k, calls, replace, swap = int(sys.argv[2]), [0], os.replace, ds._swap

def counting(src, dst):
    calls[0] += 1
    if calls[0] == k:
        os.kill(os.getpid(), signal.SIGKILL)
    return replace(src, dst)

def killing_swap(*args):
    os.replace = counting
    return swap(*args)

ds._swap = killing_swap
ds.merge(sys.argv[1], channels=True)
print("merge finished", calls[0])
"""


def test_merge_killed_at_every_step_of_the_swap_recovers(tmp_path):
    """SIGKILL before each rename of a re-merge's swap (which also adds the channel view)."""
    pytest.importorskip("pyarrow")
    from livn.workflows import dataset as ds

    reference = _job(tmp_path / "reference")
    ds.merge(reference, channels=True)
    expected = _merged_bytes(reference)
    steps = 0
    for k in range(1, 20):
        out = _job(tmp_path / f"killed-{k}")
        ds.merge(out, channels=False)
        before = _merged_bytes(out)
        user = out / "notes.txt"
        user.write_text("user")
        proc = subprocess.run([sys.executable, "-c", KILL_IN_SWAP, str(out), str(k)],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        if proc.returncode == 0:  # k is past the last rename: the swap has k - 1 of them
            assert "merge finished" in proc.stdout
            break
        assert proc.returncode == -9, proc.stderr
        steps += 1
        if (out / "README.md").exists():  # a card: all of the old merge or all of the new one
            assert _merged_bytes(out) in (before, expected), k
        else:
            assert not ds.is_merged(out) and ds.merge_record(out) is None
        ds.merge(out, channels=True)
        assert _merged_bytes(out) == expected, k
        assert not [p for p in out.iterdir() if p.name.endswith(".tmp")], k
        assert user.read_text() == "user"
    assert steps == 7  # card out, record, old config out, two configs in, record, card in


def test_without_working_locks_only_stale_temp_files_are_cleaned(tmp_path, monkeypatch):
    """NFS/Lustre: flock may fail with EBADF/ENOSYS; a fresh temp file may belong to a live
    writer on another node and is kept; one untouched for STALE_S is removed."""
    import errno
    import os
    import time

    from livn import _fs

    fresh = tmp_path / ".sample_000001.npz.abc123.tmp"
    old = tmp_path / ".sample_000002.npz.def456.tmp"
    for p in (fresh, old):
        p.write_bytes(b"partial")
    past = time.time() - _fs.STALE_S - 60
    os.utime(old, (past, past))

    def no_locks(fd, op):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(_fs.fcntl, "flock", no_locks)
    assert _fs.clean_temp(tmp_path, lambda name: name.startswith("sample_")) == 1
    assert fresh.exists() and not old.exists()

"""Merging sample shards into a Hugging Face dataset, and publishing it (seed 000, SPEC §5).

Synthetic shards of the predefined system EI1 (10 cells, built offline) stand in for a sampling
job; nothing here touches the network.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from livn.errors import ConfigError  # noqa: E402
from livn.io import MEA  # noqa: E402
from livn.system import make  # noqa: E402
from livn.workflows import dataset as ds  # noqa: E402
from livn.workflows.shards import read_shard, shard_path, write_shard  # noqa: E402

SYSTEM = "EI1"
T_END = 50.0  # ms
STEPS = int(T_END / 0.1)


def write_job(
    out: Path,
    n: int = 12,
    *,
    seed: int = 7,
    noise: bool = True,
    voltage: bool = False,
    currents: bool = False,
    start: int = 0,
) -> Path:
    """A sampling output directory with ``n`` synthetic shards of EI1."""
    (out / "samples").mkdir(parents=True, exist_ok=True)
    config = {
        "workflow": "sample",
        "format": 1,
        "system": SYSTEM,
        "system_name": SYSTEM,
        "model": None,
        "duration": T_END,
        "samples": start + n,
        "noise": noise,
        "seed": seed,
        "encoding": "livn.encoding.ElectrodePulses",
        "encoding_kwargs": {},
        "decoding": "livn.decoding.Raw",
        "decoding_kwargs": {},
        "nprocs_per_worker": 1,
    }
    (out / "config.json").write_text(json.dumps(config))
    for i in range(start, start + n):
        rng = np.random.default_rng(1000 + i)
        s = int(rng.integers(0, 40)) if i % 5 else 0  # some samples without spikes
        arrays = {
            "features": rng.uniform(size=16).astype(np.float32),
            "it": rng.integers(0, 10, s).astype(np.int64),
            "t": np.sort(rng.uniform(0.0, T_END, s)),
        }
        if voltage:
            arrays["iv"] = np.arange(10, dtype=np.int64)
            arrays["v"] = rng.normal(-60, 5, (10, STEPS)).astype(np.float32)
        if currents:
            arrays["im"] = np.arange(10, dtype=np.int64)
            arrays["mp"] = rng.normal(0, 0.1, (10, STEPS)).astype(np.float32)
        meta = {"kind": "sample", "index": i, "seed": seed + i, "t_end": T_END, "system": SYSTEM}
        write_shard(shard_path(out / "samples", i), arrays, meta)
    return out


def rows(out: Path, config: str = SYSTEM) -> dict[str, list[dict]]:
    """``{split: rows}`` read straight from the Parquet files."""
    got: dict[str, list[dict]] = {}
    for path in sorted((out / "data" / config).glob("*.parquet")):
        split = path.name.split("-")[0]
        got.setdefault(split, []).extend(pq.read_table(path).to_pylist())
    return got


@pytest.fixture
def no_network(monkeypatch):
    """Fail any attempt to open a network connection, and put the HF libraries offline."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets_config = pytest.importorskip("datasets.config")
    monkeypatch.setattr(datasets_config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets_config, "HF_DATASETS_OFFLINE", True, raising=False)


# ---------------------------------------------------------------------- layout and values
def test_merge_writes_card_and_parquet_layout(tmp_path):
    out = write_job(tmp_path / "job")
    assert ds.merge(out) == out.resolve()
    assert (out / "README.md").is_file()
    names = sorted(p.relative_to(out).as_posix() for p in (out / "data").rglob("*.parquet"))
    assert names == [
        "data/EI1-channels/test-00000-of-00001.parquet",
        "data/EI1-channels/train-00000-of-00001.parquet",
        "data/EI1/test-00000-of-00001.parquet",
        "data/EI1/train-00000-of-00001.parquet",
    ]
    header = (out / "README.md").read_text().split("---")[1]
    import yaml

    configs = {c["config_name"]: c for c in yaml.safe_load(header)["configs"]}
    assert set(configs) == {"EI1", "EI1-channels"}
    splits = {f["split"]: f["path"] for f in configs["EI1"]["data_files"]}
    assert splits == {
        "train": ["data/EI1/train-00000-of-00001.parquet"],
        "test": ["data/EI1/test-00000-of-00001.parquet"],
        "train_with_noise": ["data/EI1/train-00000-of-00001.parquet"],
        "test_with_noise": ["data/EI1/test-00000-of-00001.parquet"],
    }
    assert not list(out.glob(".merge-*"))  # no staging left behind
    assert ds.is_merged(out)


def test_columns_types_and_exact_round_trip(tmp_path):
    out = write_job(tmp_path / "job", n=12)
    ds.merge(out, channels=False)
    schema = pq.read_schema(out / "data/EI1/train-00000-of-00001.parquet")
    assert schema.names == ["index", "seed", "trials", "t_end", "features", "trial_it", "trial_t"]
    assert schema.field("seed").type == pa.int64()
    assert schema.field("trials").type == pa.int64()
    assert schema.field("t_end").type == pa.float64()
    assert schema.field("features").type == pa.list_(pa.float32())
    assert schema.field("trial_it").type == pa.list_(pa.list_(pa.int64()))
    assert schema.field("trial_t").type == pa.list_(pa.list_(pa.float64()))
    got = {r["index"]: r for split in rows(out).values() for r in split}
    assert sorted(got) == list(range(12))
    for i, row in got.items():
        meta, arrays = read_shard(shard_path(out / "samples", i))
        assert row["seed"] == meta["seed"] == 7 + i
        assert row["trials"] == 1
        assert row["t_end"] == T_END
        np.testing.assert_array_equal(np.asarray(row["features"], np.float32), arrays["features"])
        assert len(row["trial_it"]) == len(row["trial_t"]) == 1
        np.testing.assert_array_equal(row["trial_it"][0], arrays["it"])
        assert row["trial_t"][0] == arrays["t"].tolist()  # float64, bit for bit


def test_include_voltage(tmp_path):
    out = write_job(tmp_path / "job", n=4, voltage=True)
    ds.merge(out, include_voltage=True, channels=False, batch_size=3)
    schema = pq.read_schema(next((out / "data/EI1").glob("train-*.parquet")))
    assert schema.field("trial_iv").type == pa.list_(pa.list_(pa.int64()))
    assert schema.field("trial_vv").type == pa.list_(pa.list_(pa.list_(pa.float32())))
    for row in (r for split in rows(out).values() for r in split):
        _, arrays = read_shard(shard_path(out / "samples", row["index"]))
        np.testing.assert_array_equal(row["trial_iv"][0], arrays["iv"])
        np.testing.assert_array_equal(np.asarray(row["trial_vv"][0], np.float32), arrays["v"])
    # without the flag the traces are left out
    ds.merge(out, channels=False)
    assert "trial_vv" not in pq.read_schema(next((out / "data/EI1").glob("*.parquet"))).names


def test_small_batches_give_the_same_rows(tmp_path):
    out = write_job(tmp_path / "job", n=12)
    ds.merge(out, channels=False, batch_size=256)
    one = rows(out)
    ds.merge(out, channels=False, batch_size=1)
    assert rows(out) == one
    assert pq.ParquetFile(next((out / "data/EI1").glob("train-*"))).num_row_groups > 1


# ---------------------------------------------------------------------- splits
def test_splits_are_deterministic_disjoint_and_cover_all_samples(tmp_path):
    a = write_job(tmp_path / "a", n=30)
    b = write_job(tmp_path / "b", n=30)
    ds.merge(a, channels=False)
    ds.merge(b, channels=False)
    ds.merge(a, channels=False)  # again
    for out in (a, b):
        got = rows(out)
        train = {r["index"] for r in got["train"]}
        test = {r["index"] for r in got["test"]}
        assert not train & test
        assert train | test == set(range(30))
        assert len(test) == 3  # round(0.1 * 30)
    assert {r["index"] for r in rows(a)["test"]} == {r["index"] for r in rows(b)["test"]}
    # the rule itself: depends only on (indices, test_size, seed)
    idx = list(range(30))
    np.testing.assert_array_equal(ds.assign_splits(idx, 0.1, 7), ds.assign_splits(idx, 0.1, 7))
    assert ds.assign_splits(idx, 0.1, 7).sum() == 3
    assert ds.assign_splits(idx, 0.0, 7).sum() == 0
    assert ds.assign_splits([0, 1], 0.1, 7).sum() == 1  # at least one test sample
    assert ds.assign_splits([5], 0.5, 7).sum() == 0  # a single sample stays in train
    # a different job seed splits differently (with overwhelming probability)
    assert not np.array_equal(ds.assign_splits(idx, 0.5, 7), ds.assign_splits(idx, 0.5, 8))


def test_test_size_zero_declares_no_test_split(tmp_path):
    out = write_job(tmp_path / "job", n=5)
    ds.merge(out, test_size=0.0, channels=False)
    assert set(rows(out)) == {"train"}
    card = (out / "README.md").read_text()
    assert "split: test\n" not in card and "split: train_with_noise" in card


def test_noise_off_has_no_with_noise_splits(tmp_path):
    out = write_job(tmp_path / "job", n=5, noise=False)
    ds.merge(out, channels=False)
    assert "_with_noise" not in (out / "README.md").read_text().split("---")[1]


# ---------------------------------------------------------------------- datasets
def test_load_dataset_offline_and_seed_001_example(tmp_path, no_network):
    datasets = pytest.importorskip("datasets")
    out = write_job(tmp_path / "job", n=12)
    ds.merge(out)
    cache = str(tmp_path / "hf-cache")
    dataset = datasets.load_dataset(str(out), name="EI1", cache_dir=cache)
    assert set(dataset) == {"train", "test", "train_with_noise", "test_with_noise"}
    assert dataset["train"].num_rows + dataset["test"].num_rows == 12
    assert dataset["train_with_noise"].num_rows == dataset["train"].num_rows

    # seed 001 "Using the dataset", with a local path instead of the hub name and EI1 for S1
    system_name = "EI1"
    dataset = datasets.load_dataset(str(out), name=system_name, cache_dir=cache)
    sample = dataset["train_with_noise"][0]
    it = sample["trial_it"][0]
    t = sample["trial_t"][0]
    system = make(system_name)
    mea = MEA.from_directory(system.uri)
    cit, ct = mea.channel_recording(system.neuron_coordinates, it, t)
    assert set(cit) == set(ct) == {int(c) for c in mea.channel_ids}
    _, arrays = read_shard(shard_path(out / "samples", sample["index"]))
    np.testing.assert_array_equal(it, arrays["it"])
    assert t == arrays["t"].tolist()

    channels = datasets.load_dataset(str(out), name="EI1-channels", cache_dir=cache)
    assert channels["train"].num_rows == dataset["train"].num_rows
    assert set(channels["train"].column_names) == {
        "index",
        "seed",
        "t_end",
        "features",
        "cit",
        "ctt",
    }


def test_load_dataset_after_remerge_sees_the_new_data(tmp_path, no_network):
    datasets = pytest.importorskip("datasets")
    out = write_job(tmp_path / "job", n=10)
    cache = str(tmp_path / "hf-cache")
    ds.merge(out, channels=False)
    first = datasets.load_dataset(str(out), name="EI1", cache_dir=cache)
    assert first["train"].num_rows + first["test"].num_rows == 10
    write_job(out, n=10, start=10)
    ds.merge(out, channels=False)
    second = datasets.load_dataset(str(out), name="EI1", cache_dir=cache)  # same cache
    assert second["train"].num_rows + second["test"].num_rows == 20


# ---------------------------------------------------------------------- channel view
@pytest.mark.parametrize("warmup", [0.0, 12.5])
def test_channel_view_matches_mea(tmp_path, warmup):
    out = write_job(tmp_path / "job", n=10, currents=True)
    ds.merge(out, warmup=warmup)
    system = make(SYSTEM)
    mea = MEA.from_directory(system.uri)
    coords = system.neuron_coordinates
    ids = [int(c) for c in mea.channel_ids]
    got = {r["index"]: r for split in rows(out, "EI1-channels").values() for r in split}
    assert sorted(got) == list(range(10))
    seen = 0
    for i, row in got.items():
        _, arrays = read_shard(shard_path(out / "samples", i))
        keep = arrays["t"] >= warmup
        cit, ct = mea.channel_recording(coords, arrays["it"][keep], arrays["t"][keep] - warmup)
        assert len(row["cit"]) == len(row["ctt"]) == len(ids)
        for k, c in enumerate(ids):
            np.testing.assert_array_equal(row["cit"][k], cit[c])
            assert row["ctt"][k] == ct[c].tolist()
            assert all(x >= 0 for x in row["ctt"][k])
            seen += len(row["cit"][k])
        assert row["t_end"] == T_END - warmup
        skip = round(warmup / 0.1)
        cp = mea.lfp(coords, arrays["im"], arrays["mp"])[:, skip:].astype(np.float32)
        np.testing.assert_array_equal(np.asarray(row["cp"], np.float32), cp)
        np.testing.assert_array_equal(np.asarray(row["features"], np.float32), arrays["features"])
    assert seen > 0  # EI1's MEA observes some of the synthetic spikes


def test_channel_view_without_currents_has_no_cp(tmp_path):
    out = write_job(tmp_path / "job", n=3)
    ds.merge(out)
    names = pq.read_schema(next((out / "data/EI1-channels").glob("*.parquet"))).names
    assert names == ["index", "seed", "t_end", "features", "cit", "ctt"]


def test_channel_view_needs_the_system(tmp_path):
    out = write_job(tmp_path / "job", n=3)
    config = json.loads((out / "config.json").read_text())
    config["system"] = str(tmp_path / "missing-system")
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="channels=False"):
        ds.merge(out)
    ds.merge(out, channels=False)  # the spikes alone need no system
    assert set(rows(out)) == {"train", "test"}


# ---------------------------------------------------------------------- re-merge
def test_remerge_replaces_previous_merge_cleanly(tmp_path):
    out = write_job(tmp_path / "job", n=6, voltage=True)
    ds.merge(out, include_voltage=True, channels=True)
    (out / ".merge-crashed.tmp").mkdir()  # left by a killed merge
    write_job(out, n=4, start=6, voltage=True)  # the job grew
    ds.merge(out, channels=False)
    assert not (out / "data/EI1-channels").exists()
    assert not list(out.glob(".merge-*"))
    got = rows(out)
    assert sorted(r["index"] for s in got.values() for r in s) == list(range(10))
    assert "trial_vv" not in next(iter(got.values()))[0]
    assert "EI1-channels" not in (out / "README.md").read_text()
    record = ds.merge_record(out)
    assert record["samples"] == 10 and record["options"]["channels"] is False


def test_failed_merge_leaves_previous_merge_intact(tmp_path):
    out = write_job(tmp_path / "job", n=6)
    ds.merge(out, channels=False)
    card = (out / "README.md").read_text()
    before = rows(out)
    meta = {"index": 6, "seed": 13, "t_end": T_END}
    write_shard(shard_path(out / "samples", 6), {"output": np.zeros(3)}, meta)
    with pytest.raises(ConfigError, match="sample_000006"):
        ds.merge(out, channels=False)
    assert (out / "README.md").read_text() == card
    assert rows(out) == before
    assert not list(out.glob(".merge-*"))
    assert not ds.is_merged(out)  # the shards changed since


# ---------------------------------------------------------------------- errors
def test_error_without_config(tmp_path):
    (tmp_path / "samples").mkdir()
    with pytest.raises(ConfigError, match=r"config\.json.*livn systems sample"):
        ds.merge(tmp_path)


def test_error_without_shards(tmp_path):
    out = write_job(tmp_path / "job", n=0)
    with pytest.raises(ConfigError, match=r"no samples in .*samples.*--launch"):
        ds.merge(out)
    assert not (out / "README.md").exists()


def test_error_shard_without_spikes(tmp_path):
    out = write_job(tmp_path / "job", n=2)
    path = shard_path(out / "samples", 1)
    write_shard(path, {"output": np.zeros(4)}, {"index": 1, "seed": 8, "t_end": T_END})
    with pytest.raises(ConfigError, match=r"sample_000001\.npz has no spike arrays.*Raw"):
        ds.merge(out)
    assert not (out / "README.md").exists() and not (out / "data").exists()


def test_error_voltage_requested_but_not_recorded(tmp_path):
    out = write_job(tmp_path / "job", n=2)
    with pytest.raises(ConfigError, match="include_voltage=False"):
        ds.merge(out, include_voltage=True)


@pytest.mark.parametrize(
    "kwargs", [{"test_size": 1.0}, {"test_size": -0.1}, {"batch_size": 0}, {"warmup": -1.0}]
)
def test_error_bad_options(tmp_path, kwargs):
    out = write_job(tmp_path / "job", n=2)
    with pytest.raises(ConfigError):
        ds.merge(out, **kwargs)


def test_error_warmup_longer_than_sample(tmp_path):
    out = write_job(tmp_path / "job", n=2)
    with pytest.raises(ConfigError, match="warmup"):
        ds.merge(out, warmup=T_END)


# ---------------------------------------------------------------------- publish
@pytest.fixture
def hub_calls(monkeypatch, no_network):
    hub = pytest.importorskip("huggingface_hub")
    calls: list[tuple[str, tuple, dict]] = []

    def init(self, *args, **kwargs):
        calls.append(("init", args, kwargs))

    def create_repo(self, *args, **kwargs):
        calls.append(("create_repo", args, kwargs))
        return "url"

    def upload_folder(self, *args, **kwargs):
        calls.append(("upload_folder", args, kwargs))
        return "commit"

    monkeypatch.setattr(hub.HfApi, "__init__", init)
    monkeypatch.setattr(hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(hub.HfApi, "upload_folder", upload_folder)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hub, "get_token", lambda: None)
    return calls


def test_publish_merges_then_uploads(tmp_path, hub_calls):
    out = write_job(tmp_path / "job", n=5)
    assert ds.publish(out, "my-org/my-dataset", token="hf_x", private=True) == "commit"
    assert ds.is_merged(out)
    assert [c[0] for c in hub_calls] == ["init", "create_repo", "upload_folder"]
    assert hub_calls[0][2] == {"token": "hf_x"}
    assert hub_calls[1][1] == ("my-org/my-dataset",)
    assert hub_calls[1][2] == {"repo_type": "dataset", "private": True, "exist_ok": True}
    upload = hub_calls[2][2]
    assert upload["folder_path"] == str(out.resolve())
    assert upload["repo_id"] == "my-org/my-dataset"
    assert upload["repo_type"] == "dataset"
    assert upload["allow_patterns"] == ["README.md", "data/**"]
    assert "5 samples" in upload["commit_message"]


def test_publish_token_from_environment_and_reuses_merge(tmp_path, hub_calls, monkeypatch):
    out = write_job(tmp_path / "job", n=5)
    ds.merge(out, include_voltage=False, test_size=0.2, channels=False)
    stamp = (out / "README.md").stat().st_mtime_ns
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    ds.publish(out, "me/data", commit_message="first")
    assert (out / "README.md").stat().st_mtime_ns == stamp  # not merged again
    assert hub_calls[0][2] == {"token": "hf_env"}
    assert hub_calls[2][2]["commit_message"] == "first"
    # new shards: merged again, with the options of the last merge
    write_job(out, n=2, start=5)
    ds.publish(out, "me/data")
    record = ds.merge_record(out)
    assert record["samples"] == 7 and record["options"]["test_size"] == 0.2
    assert not (out / "data/EI1-channels").exists()


def test_publish_without_token_fails_before_any_work(tmp_path, hub_calls):
    out = write_job(tmp_path / "job", n=3)
    with pytest.raises(ConfigError, match="HF_TOKEN"):
        ds.publish(out, "my-org/my-dataset")
    assert hub_calls == []
    assert not (out / "README.md").exists() and not (out / "data").exists()


@pytest.mark.parametrize("repo_id", ["no-slash", "a/b/c", "/name", "org/", "org/na me", ""])
def test_publish_rejects_bad_repo_id(tmp_path, hub_calls, repo_id):
    out = write_job(tmp_path / "job", n=2)
    with pytest.raises(ConfigError, match="org/name"):
        ds.publish(out, repo_id, token="hf_x")
    assert hub_calls == [] and not (out / "README.md").exists()


# ---------------------------------------------------------------------- imports
def test_module_imports_no_heavy_dependencies():
    code = (
        "import sys, livn, livn.workflows.dataset; "
        "print([m for m in ('pyarrow', 'datasets', 'huggingface_hub') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

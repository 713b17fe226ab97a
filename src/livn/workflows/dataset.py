"""Merge a sampling job's shards into a Hugging Face dataset, and publish it (seed 000).

:func:`merge` turns ``<out>/samples/sample_*.npz`` (see :mod:`livn.workflows.shards`) into a
dataset that ``datasets.load_dataset("<out>", name=<system_name>)`` reads offline::

    <out>/README.md                                       dataset card; its YAML header
                                                          declares the configs and splits
    <out>/data/<system_name>/train-00000-of-00001.parquet one row per sample
    <out>/data/<system_name>/test-00000-of-00001.parquet
    <out>/data/<system_name>-channels/{train,test}-*.parquet   the channel view
    <out>/merge.json                                      what was merged, with which options

Shards are read one at a time and written in Parquet row groups, so memory stays flat however
many samples there are. The new files are staged in a hidden directory ``<out>/.merge-<random>.tmp``
and swapped in with renames, the card last: a reader sees the complete old merge, the complete
new one, or (only while the swap runs, or after a crash in it) no card at all — never a mix.
The next merge removes the staging directories of a killed merge (under the merge lock).

Merge owns only the files under ``data/`` that ``merge.json`` lists under ``files`` (during a
swap it lists the old and the new ones, so a crash leaves nothing it wrote unlisted). It
replaces only those, and refuses with :class:`ConfigError`, before writing anything, when
``data/`` holds anything else: a user's file there is never deleted.

:func:`publish` uploads the card and ``data/`` to the Hugging Face Hub.

Needs the ``livn[datasets]`` extra (``pyarrow``; ``huggingface_hub`` to publish).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from livn import _fs
from livn.errors import ConfigError, LivnError, require
from livn.workflows import shards

__all__ = [
    "CARD",
    "RECORDING_DT",
    "assign_splits",
    "is_merged",
    "merge",
    "merge_record",
    "publish",
]

#: The dataset card (Hugging Face reads its YAML header for configs and splits).
CARD = "README.md"
#: Directory of the Parquet files.
DATA_DIR = "data"
#: What :func:`merge` merged (options, sample count, digest of the sample indices).
RECORD = "merge.json"
#: Job configuration written by the sampling job.
CONFIG_FILE = "config.json"
SAMPLES_DIR = "samples"
#: Sampling interval (ms) of recorded voltages and membrane currents (SPEC §4).
RECORDING_DT = 0.1
#: A Parquet row group is written when this many bytes of rows are buffered (or ``batch_size`` rows).
BATCH_BYTES = 64 * 2**20
#: A new Parquet file is started once a file holds this many bytes of (uncompressed) rows.
FILE_BYTES = 512 * 2**20
#: Suffix of the channel-view config name.
CHANNELS_SUFFIX = "-channels"

_STAGING_PREFIX = ".merge-"
_STAGING_SUFFIX = ".tmp"
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


# ---------------------------------------------------------------------- splits
def _split_key(seed: int, index: int) -> int:
    digest = hashlib.blake2b(f"livn-split:{int(seed)}:{int(index)}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big")


def assign_splits(indices: Sequence[int], test_size: float, seed: int = 0) -> np.ndarray:
    """Which samples go to the test split.

    Every sample gets a key, a hash of ``(seed, index)``; the ``round(test_size · N)`` samples
    with the smallest keys form the test split (at least one, and at least one left for
    training, when ``N ≥ 2`` and ``0 < test_size``). The result depends only on the set of
    indices, ``test_size`` and ``seed``; adding samples moves only a few between the splits.

    Args:
        indices: ``[N]`` sample indices.
        test_size: Fraction of samples in the test split, ``0 ≤ test_size < 1``.
        seed: The job's base seed (so two jobs split differently).

    Returns:
        ``[N]`` bool, True where the sample belongs to the test split.
    """
    test_size = _check_test_size(test_size)
    n = len(indices)
    is_test = np.zeros(n, dtype=bool)
    if n == 0 or test_size == 0.0:
        return is_test
    n_test = round(test_size * n)
    if n >= 2:
        n_test = min(max(n_test, 1), n - 1)
    if n_test == 0:
        return is_test
    keys = np.array([_split_key(seed, i) for i in indices], dtype=np.uint64)
    order = np.lexsort((np.asarray(indices, dtype=np.int64), keys))
    is_test[order[:n_test]] = True
    return is_test


def _check_test_size(test_size: float) -> float:
    try:
        value = float(test_size)
    except (TypeError, ValueError):
        raise ConfigError(f"test_size must be a fraction in [0, 1); got {test_size!r}.") from None
    if not 0.0 <= value < 1.0:
        raise ConfigError(
            f"test_size must be a fraction in [0, 1) (e.g. 0.1 for 10% test samples); "
            f"got {test_size!r}."
        )
    return value


# ---------------------------------------------------------------------- inputs
def _read_config(out: Path) -> dict[str, Any]:
    path = out / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"{path} not found: {out} is not the output directory of a sampling job. Run "
            f"`livn systems sample output_directory={out} --launch` first, or pass the "
            "directory that holds config.json and samples/."
        )
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not valid JSON ({e}); re-launch the sampling job.") from e
    if not isinstance(config, dict) or "system" not in config:
        raise ConfigError(f"{path}: expected the sampling job's configuration with a 'system'.")
    if config.get("workflow", "sample") != "sample":
        raise ConfigError(
            f"{path}: this directory holds a {config.get('workflow')!r} job, not 'sample'; "
            "only sampling outputs can be merged into a dataset."
        )
    return config


def _system_name(config: Mapping[str, Any]) -> str:
    name = config.get("system_name") or Path(str(config["system"]).rstrip("/")).name
    name = str(name)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ConfigError(
            f"system name {name!r} cannot be a dataset config name; use letters, digits, "
            "'.', '_' and '-' (set 'system_name' in config.json)."
        )
    return name


def _indices(out: Path) -> list[int]:
    indices = shards.shard_indices(out / SAMPLES_DIR)
    if not indices:
        raise ConfigError(
            f"no samples in {out / SAMPLES_DIR} (expected sample_000000.npz, ...). Launch the "
            f"sampling job first: `livn systems sample output_directory={out} --launch`."
        )
    return indices


def _digest(indices: Sequence[int]) -> str:
    return hashlib.sha256(",".join(map(str, indices)).encode()).hexdigest()[:16]


def _load(path: Path, keys: Sequence[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a shard, loading only ``keys`` that it has."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in keys if k in z.files}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise ConfigError(
            f"{path}: not a readable shard ({e}). Delete it and re-launch the sampling job to "
            "simulate that sample again."
        ) from e
    return meta, arrays


# ---------------------------------------------------------------------- Arrow building
# A column is (name, depth, numpy dtype): depth 0 scalars, 1 a 1-D array per row, 2 a list of
# 1-D arrays (or a 2-D array, one inner list per row), 3 a list of 2-D arrays.
Column = tuple[str, int, Any]


def _arrow_type(pa: Any, depth: int, dtype: Any) -> Any:
    leaf = pa.from_numpy_dtype(np.dtype(dtype))
    for _ in range(depth):
        leaf = pa.list_(leaf)
    return leaf


def _nested(pa: Any, values: list[Any], depth: int, dtype: Any) -> Any:
    """A (nested) list array from ``values`` without going through Python scalars."""
    if depth == 0:
        return pa.array(np.asarray(values, dtype=dtype), type=pa.from_numpy_dtype(np.dtype(dtype)))
    lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    if depth == 1:
        flat = (
            np.concatenate([np.asarray(v, dtype=dtype).reshape(-1) for v in values])
            if values
            else np.zeros(0, dtype=dtype)
        )
        child = pa.array(flat, type=pa.from_numpy_dtype(np.dtype(dtype)))
    else:
        child = _nested(pa, [x for v in values for x in v], depth - 1, dtype)
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), child)


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, list | tuple):
        return sum(_nbytes(v) for v in value) + 8
    return 8


class _SplitWriter:
    """Rows of one split of one config, written as Parquet row groups into numbered files."""

    def __init__(self, directory: Path, split: str, columns: Sequence[Column], batch_size: int):
        self.pa = require("pyarrow", "datasets")
        self.pq = require("pyarrow.parquet", "datasets")
        self.directory = directory
        self.split = split
        self.columns = list(columns)
        self.schema = self.pa.schema([(n, _arrow_type(self.pa, d, t)) for n, d, t in columns])
        self.batch_size = batch_size
        self.rows: list[Mapping[str, Any]] = []
        self.buffered = 0
        self.parts: list[Path] = []
        self.writer = None
        self.file_bytes = 0
        self.num_rows = 0

    def add(self, row: Mapping[str, Any]) -> None:
        self.rows.append(row)
        self.buffered += sum(_nbytes(row[n]) for n, _, _ in self.columns)
        if len(self.rows) >= self.batch_size or self.buffered >= BATCH_BYTES:
            self.flush()

    def _open(self) -> None:
        path = self.directory / f".{self.split}-{len(self.parts):05d}.parquet"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.parts.append(path)
        self.writer = self.pq.ParquetWriter(path, self.schema, compression="zstd")
        self.file_bytes = 0

    def flush(self) -> None:
        if not self.rows:
            return
        if self.writer is None:
            self._open()
        arrays = [_nested(self.pa, [r[n] for r in self.rows], d, t) for n, d, t in self.columns]
        table = self.pa.Table.from_arrays(arrays, schema=self.schema)
        self.writer.write_table(table, row_group_size=len(self.rows))
        self.num_rows += len(self.rows)
        self.file_bytes += self.buffered
        self.rows, self.buffered = [], 0
        if self.file_bytes >= FILE_BYTES:
            self.writer.close()
            self.writer = None

    def close(self) -> list[Path]:
        """Flush, close and name the files ``<split>-XXXXX-of-YYYYY.parquet``; returns them."""
        self.flush()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        n = len(self.parts)
        final = []
        for i, part in enumerate(self.parts):
            target = self.directory / f"{self.split}-{i:05d}-of-{n:05d}.parquet"
            os.replace(part, target)
            final.append(target)
        return final


# ---------------------------------------------------------------------- rows
def _main_columns(include_voltage: bool) -> list[Column]:
    cols: list[Column] = [
        ("index", 0, np.int64),
        ("seed", 0, np.int64),
        ("trials", 0, np.int64),
        ("t_end", 0, np.float64),
        ("features", 1, np.float32),
        ("trial_it", 2, np.int64),
        ("trial_t", 2, np.float64),
    ]
    if include_voltage:
        cols += [("trial_iv", 2, np.int64), ("trial_vv", 3, np.float32)]
    return cols


def _channel_columns(with_potentials: bool) -> list[Column]:
    cols: list[Column] = [
        ("index", 0, np.int64),
        ("seed", 0, np.int64),
        ("t_end", 0, np.float64),
        ("features", 1, np.float32),
        ("cit", 2, np.int64),
        ("ctt", 2, np.float64),
    ]
    if with_potentials:
        cols.append(("cp", 2, np.float32))
    return cols


class _ChannelView:
    """Per-electrode spikes and potentials of a sample, with the warm-up removed."""

    def __init__(self, config: Mapping[str, Any], warmup: float):
        from livn.io import MEA
        from livn.system import make

        try:
            system = make(config["system"])
        except LivnError as e:
            raise ConfigError(
                f"the channel view needs the system {config['system']!r}, which cannot be "
                f"loaded ({e}); make it available, or merge with channels=False."
            ) from e
        self.coordinates = np.asarray(system.neuron_coordinates)
        self.mea = MEA.from_directory(system.uri) if system.has_mea else MEA()
        self.channel_ids = [int(c) for c in self.mea.channel_ids]
        self.warmup = float(warmup)
        self.skip = round(self.warmup / RECORDING_DT)

    def row(self, path: Path, base: Mapping[str, Any], arrays: Mapping[str, np.ndarray], lfp: bool):
        t_end = float(base["t_end"])
        if self.warmup >= t_end:
            raise ConfigError(
                f"warmup={self.warmup:g} ms is not shorter than the sample ({path}: t_end "
                f"{t_end:g} ms); choose 0 ≤ warmup < {t_end:g}."
            )
        it, t = arrays["it"], arrays["t"]
        keep = t >= self.warmup
        cit, ct = self.mea.channel_recording(self.coordinates, it[keep], t[keep] - self.warmup)
        row = {
            "index": base["index"],
            "seed": base["seed"],
            "t_end": t_end - self.warmup,
            "features": base["features"],
            "cit": [cit[c] for c in self.channel_ids],
            "ctt": [ct[c] for c in self.channel_ids],
        }
        if lfp:
            if "mp" not in arrays or "im" not in arrays:
                raise ConfigError(
                    f"{path} has no membrane currents ('im', 'mp') although earlier samples do; "
                    "re-sample it, or merge with channels=False."
                )
            cp = self.mea.lfp(self.coordinates, arrays["im"], arrays["mp"])  # [C, T] µV
            row["cp"] = np.ascontiguousarray(cp[:, self.skip :], dtype=np.float32)
        return row


def _main_row(
    path: Path,
    meta: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    index: int,
    config: Mapping[str, Any],
    include_voltage: bool,
) -> dict[str, Any]:
    if "it" not in arrays or "t" not in arrays:
        raise ConfigError(
            f"{path} has no spike arrays ('it', 't'): its decoding did not return raw spikes. "
            "Merging needs decoding='livn.decoding.Raw' with spike recording; re-sample with it."
        )
    it = np.asarray(arrays["it"]).astype(np.int64, copy=False).reshape(-1)
    t = np.asarray(arrays["t"]).astype(np.float64, copy=False).reshape(-1)
    if len(it) != len(t):
        raise ConfigError(f"{path}: 'it' and 't' differ in length ({len(it)} vs {len(t)}).")
    features = arrays.get("features", np.zeros(0, np.float32))
    row: dict[str, Any] = {
        "index": int(meta.get("index", index)),
        # the sample job's rule (seed + index, duration) for shards that lack these entries
        "seed": int(meta.get("seed", int(config.get("seed", 0) or 0) + index)),
        "trials": 1,
        "t_end": float(meta.get("t_end", config.get("duration", 0.0))),
        "features": np.asarray(features, dtype=np.float32).reshape(-1),
        "trial_it": [it],
        "trial_t": [t],
    }
    if include_voltage:
        if "iv" not in arrays or "v" not in arrays:
            raise ConfigError(
                f"{path} has no voltage traces ('iv', 'v'); merge with include_voltage=False, "
                "or sample with voltage recording."
            )
        v = np.asarray(arrays["v"], dtype=np.float32)
        iv = np.asarray(arrays["iv"]).astype(np.int64, copy=False).reshape(-1)
        if v.ndim != 2 or v.shape[0] != len(iv):
            raise ConfigError(f"{path}: 'v' must have shape [len(iv)={len(iv)}, T]; got {v.shape}.")
        row["trial_iv"] = [iv]
        row["trial_vv"] = [v]
    return row


# ---------------------------------------------------------------------- card
def _card(
    system_name: str,
    config: Mapping[str, Any],
    splits: Mapping[str, Mapping[str, list[str]]],
    counts: Mapping[str, Mapping[str, int]],
    sizes: Mapping[str, Mapping[str, int]],
    options: Mapping[str, Any],
) -> str:
    import yaml

    noise = bool(config.get("noise", True))
    configs = []
    for k, (name, files) in enumerate(splits.items()):
        data_files = [{"split": s, "path": sorted(paths)} for s, paths in files.items()]
        if noise:
            data_files += [
                {"split": f"{s}_with_noise", "path": sorted(paths)}
                for s, paths in files.items()
                if s in ("train", "test")
            ]
        entry: dict[str, Any] = {"config_name": name, "data_files": data_files}
        if k == 0:
            entry["default"] = True
        configs.append(entry)
    # Split sizes in ``dataset_info`` make ``datasets`` fingerprint a re-merge differently
    # (its cache key for a local directory covers the card, not the files' contents).
    infos = []
    for name, files in splits.items():
        split_infos = []
        for s in files:
            entry = {"name": s, "num_bytes": sizes[name][s], "num_examples": counts[name][s]}
            split_infos.append(entry)
            if noise and s in ("train", "test"):
                split_infos.append({**entry, "name": f"{s}_with_noise"})
        size = sum(sizes[name].values())
        infos.append(
            {
                "config_name": name,
                "splits": split_infos,
                "download_size": size,
                "dataset_size": size,
            }
        )
    meta = {"configs": configs, "dataset_info": infos, "tags": ["livn", "neuroscience"]}
    header = yaml.safe_dump(meta, sort_keys=False)
    main = counts[system_name]
    total = sum(main.values())
    split_lines = "\n".join(f"| `{s}` | {n} |" for s, n in main.items())
    job = {k: v for k, v in config.items() if k not in ("output_directory",)}
    noise_note = (
        "The job sampled with background noise on, so the splits `train_with_noise` and "
        "`test_with_noise` are declared as well; they point at the same files as `train` and "
        "`test` (no separate noise-free data exists in this dataset)."
        if noise
        else "The job sampled with background noise off; there are no `*_with_noise` splits."
    )
    voltage_rows = (
        "| `trial_iv` | list<list<int64>> | per trial: gids of the voltage rows |\n"
        "| `trial_vv` | list<list<list<float32>>> | per trial: voltage rows (mV, every 0.1 ms) |\n"
        if options.get("include_voltage")
        else ""
    )
    channels = ""
    chan_name = system_name + CHANNELS_SUFFIX
    if chan_name in splits:
        cp = "`cp` (per channel the LFP in µV every 0.1 ms), " if options.get("cp") else ""
        channels = (
            f"\n## Channel view (`{chan_name}`)\n\nThe same samples as the multi-electrode array "
            "sees them: per channel (in electrode id order) `cit` (gids of the recorded spikes), "
            f"`ctt` (their times, ms), {cp}with the first {options['warmup']:g} ms removed and "
            "times shifted to start at 0 (`t_end` is the remaining duration).\n"
        )
    return f"""---
{header}---

# livn samples: {system_name}

Simulated activity of the in-vitro neural culture `{system_name}`, sampled with
[livn](https://github.com/livn-org/livn): {total} samples of {float(config.get("duration", 0)):g} ms.

```python
from datasets import load_dataset

dataset = load_dataset("<this repository or directory>", name="{system_name}")
sample = dataset["train"][0]
it, t = sample["trial_it"][0], sample["trial_t"][0]  # spike gids and times (ms)
```

## Columns (`{system_name}`)

| column | type | meaning |
|---|---|---|
| `index` | int64 | sample index in the job |
| `seed` | int64 | noise seed of the sample (job seed + index) |
| `trials` | int64 | number of trials (1) |
| `t_end` | float64 | duration of the sample (ms) |
| `features` | list<float32> | the encoding's inputs (empty for spontaneous activity) |
| `trial_it` | list<list<int64>> | per trial: gids of the spiking neurons |
| `trial_t` | list<list<float64>> | per trial: spike times (ms, from the trial start) |
{voltage_rows}
## Splits

| split | samples |
|---|---|
{split_lines}

Test samples are the `round(test_size · N)` samples with the smallest hash of (job seed, index);
test_size = {options["test_size"]:g}. {noise_note}
{channels}
## Sampling job

```json
{json.dumps(job, indent=2, sort_keys=True, default=str)}
```
"""


# ---------------------------------------------------------------------- merge
@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(out / ".merge.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(
                f"another merge of {out} is running; wait for it to finish."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_STAGING = re.compile(rf"^{re.escape(_STAGING_PREFIX)}[a-z0-9_]+{re.escape(_STAGING_SUFFIX)}$")


def _clean_staging(out: Path) -> None:
    """Remove what a killed merge left: its staging directories and record temporary files.

    Call holding the merge lock; nothing but ``.merge-<random>.tmp`` directories and
    ``.merge.json.<random>.tmp`` files is touched.
    """
    for entry in out.iterdir():
        if _STAGING.match(entry.name) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
    _fs.clean_temp(out, [RECORD])


def _owned(out: Path) -> tuple[set[str], set[str]]:
    """What earlier merges wrote under ``data/``, from ``merge.json`` (whether or not a card is
    there): ``(files, directories)``: paths relative to ``data/`` of the files it lists, and the
    directories a merge record without a file list (written before merges kept foreign files,
    when ``data/`` was all merge's) owns whole."""
    try:
        record = json.loads((out / RECORD).read_text())
    except (OSError, json.JSONDecodeError):
        return set(), set()
    if not isinstance(record, dict):
        return set(), set()

    def plain(parts: list[str]) -> bool:
        return all(p not in ("", ".", "..") for p in parts)

    if "files" in record:
        files = {str(f) for f in record["files"] if isinstance(f, str)}
        return {f for f in files if len(f.split("/")) == 2 and plain(f.split("/"))}, set()
    configs = record.get("configs", [])
    return set(), {str(n) for n in configs if isinstance(n, str) and "/" not in n and plain([n])}


def _check_data(out: Path) -> list[str]:
    """Files of ``data/`` that merges wrote (relative to it); :class:`ConfigError`, naming
    them, if ``data/`` holds anything else."""
    data = out / DATA_DIR
    if not data.exists() and not data.is_symlink():
        return []
    if not data.is_dir() or data.is_symlink():
        raise ConfigError(
            f"{data} exists but is not a directory that merge made; move it away (merge writes "
            f"the dataset's Parquet files under {data}/) and merge again."
        )
    files, whole = _owned(out)
    dirs = whole | {f.split("/")[0] for f in files}
    mine: list[str] = []
    foreign: list[str] = []
    for entry in sorted(data.iterdir()):
        if entry.name not in dirs or not entry.is_dir() or entry.is_symlink():
            foreign.append(entry.name + ("/" if entry.is_dir() else ""))
            continue
        for child in sorted(entry.iterdir()):
            rel = f"{entry.name}/{child.name}"
            ours = child.is_file() and not child.is_symlink()
            (mine if ours and (entry.name in whole or rel in files) else foreign).append(rel)
    if foreign:
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        raise ConfigError(
            f"{data} holds files that merge did not write: {', '.join(foreign[:5])}{more}. Merge "
            "replaces only the Parquet files it wrote there and never deletes other files; move "
            f"those out of {data} (or merge a copy of the job elsewhere) and merge again."
        )
    return mine


def merge(
    output_directory: str | os.PathLike,
    include_voltage: bool = False,
    test_size: float = 0.1,
    channels: bool = True,
    warmup: float = 0.0,
    batch_size: int = 256,
) -> Path:
    """Merge a sampling job's shards into a Hugging Face dataset in ``output_directory``.

    Writes the card ``README.md``, Parquet files under ``data/<system_name>/`` (columns
    ``index``, ``seed``, ``trials``, ``t_end`` ms, ``features``, ``trial_it``, ``trial_t`` ms,
    and with ``include_voltage`` ``trial_iv``, ``trial_vv`` mV) and, with ``channels``, the
    channel view under ``data/<system_name>-channels/`` (``index``, ``seed``, ``t_end`` ms,
    ``features``, ``cit``, ``ctt`` ms, and ``cp`` µV when the shards hold membrane currents).
    Splits ``train``/``test`` (plus ``train_with_noise``/``test_with_noise`` aliases when the
    job sampled with noise); see :func:`assign_splits`. A previous merge is replaced.

    Args:
        output_directory: The sampling job's directory (``config.json`` and ``samples/``).
        include_voltage: Also store the voltage traces (large).
        test_size: Fraction of samples in the test split, ``0 ≤ test_size < 1``.
        channels: Also write the channel view (needs the system, built or cached locally).
        warmup: Initial time (ms) removed from the channel view; its times then start at 0.
        batch_size: Rows per Parquet row group (fewer when the rows are large).

    Returns:
        ``output_directory`` as a Path; ``datasets.load_dataset(str(path), name=system_name)``
        loads it.

    Raises:
        ConfigError: No ``config.json``, no shards, a shard without spike arrays (or without
            voltage when ``include_voltage``), or an invalid option.
        MissingDependencyError: ``pyarrow`` is not installed (``pip install 'livn[datasets]'``).
    """
    require("pyarrow.parquet", "datasets")
    out = Path(_fs.normalize(output_directory))
    test_size = _check_test_size(test_size)
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be a positive number of rows; got {batch_size!r}.")
    warmup = float(warmup)
    if not np.isfinite(warmup) or warmup < 0:
        raise ConfigError(f"warmup must be ≥ 0 ms; got {warmup!r}.")
    config = _read_config(out)
    system_name = _system_name(config)
    indices = _indices(out)
    is_test = assign_splits(indices, test_size, int(config.get("seed", 0) or 0))
    samples_dir = out / SAMPLES_DIR

    view = _ChannelView(config, warmup) if channels else None
    first = shards.shard_path(samples_dir, indices[0])
    with np.load(first, allow_pickle=False) as z:
        with_cp = bool(channels) and {"im", "mp"} <= set(z.files)

    keys = ["it", "t", "features"]
    if include_voltage:
        keys += ["iv", "v"]
    if with_cp:
        keys += ["im", "mp"]

    _check_data(out)  # before anything is written
    with _lock(out):
        _clean_staging(out)
        old = _check_data(out)  # again: another merge may have finished meanwhile
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, suffix=_STAGING_SUFFIX, dir=out))
        try:
            data = staging / DATA_DIR
            cfgs = {system_name: _main_columns(include_voltage)}
            if view is not None:
                cfgs[system_name + CHANNELS_SUFFIX] = _channel_columns(with_cp)
            writers = {
                (name, split): _SplitWriter(data / name, split, cols, int(batch_size))
                for name, cols in cfgs.items()
                for split in ("train", "test")
            }
            for index, test in zip(indices, is_test, strict=True):
                path = shards.shard_path(samples_dir, index)
                meta, arrays = _load(path, keys)
                split = "test" if test else "train"
                row = _main_row(path, meta, arrays, index, config, include_voltage)
                writers[system_name, split].add(row)
                if view is not None:
                    crow = view.row(path, row, arrays, with_cp)
                    writers[system_name + CHANNELS_SUFFIX, split].add(crow)
                del arrays, row
            files: dict[str, dict[str, list[str]]] = {name: {} for name in cfgs}
            counts: dict[str, dict[str, int]] = {name: {} for name in cfgs}
            sizes: dict[str, dict[str, int]] = {name: {} for name in cfgs}
            for (name, split), writer in writers.items():
                paths = writer.close()
                if writer.num_rows:
                    files[name][split] = [p.relative_to(staging).as_posix() for p in paths]
                    counts[name][split] = writer.num_rows
                    sizes[name][split] = sum(p.stat().st_size for p in paths)
            options = {
                "include_voltage": bool(include_voltage),
                "test_size": test_size,
                "channels": bool(channels),
                "warmup": warmup,
                "batch_size": int(batch_size),
                "cp": with_cp,
            }
            (staging / CARD).write_text(_card(system_name, config, files, counts, sizes, options))
            record = {
                "format": 1,
                "system_name": system_name,
                "samples": len(indices),
                "indices_digest": _digest(indices),
                "configs": list(cfgs),
                "splits": counts,
                "options": options,
            }
            _swap(out, staging, record, old)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return out


def _swap(out: Path, staging: Path, record: dict[str, Any], old: Sequence[str]) -> None:
    """Put the staged card and ``data/`` files in place of the ``old`` ones (relative paths).

    Order: the old card goes; ``merge.json`` lists old and new files as the merge's; the old
    configs' directories go and the new ones come in; ``merge.json`` lists the new files; the
    card comes last. A crash anywhere leaves no card or the complete new merge, and ``data/``
    holding only files that ``merge.json`` lists.
    """
    trash = staging / "old"
    trash.mkdir()
    card = out / CARD
    if card.exists():
        os.replace(card, trash / CARD)  # from here on no card: nothing half-done is loadable
    staged = staging / DATA_DIR
    new = sorted(p.relative_to(staged).as_posix() for p in staged.glob("*/*"))
    _fs.write_json(out / RECORD, {**record, "files": sorted({*old, *new})})
    data = out / DATA_DIR
    data.mkdir(exist_ok=True)
    for name in sorted({f.split("/")[0] for f in old}):
        if (data / name).exists():
            os.replace(data / name, trash / name)
    for name in sorted({f.split("/")[0] for f in new}):
        os.replace(staged / name, data / name)
    _fs.write_json(out / RECORD, {**record, "files": new})
    os.replace(staging / CARD, card)


def merge_record(output_directory: str | os.PathLike) -> dict[str, Any] | None:
    """The ``merge.json`` of the last complete merge in ``output_directory``, or None."""
    out = Path(_fs.normalize(output_directory))
    if not (out / CARD).is_file() or not (out / RECORD).is_file():
        return None
    try:
        return json.loads((out / RECORD).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def is_merged(output_directory: str | os.PathLike) -> bool:
    """True if the directory holds a merge of exactly its current shards."""
    out = Path(_fs.normalize(output_directory))
    record = merge_record(out)
    if record is None or not (out / DATA_DIR / str(record.get("system_name"))).is_dir():
        return False
    return record.get("indices_digest") == _digest(shards.shard_indices(out / SAMPLES_DIR))


# ---------------------------------------------------------------------- publish
def _token(token: str | None) -> str:
    if token:
        return token
    env = os.environ.get("HF_TOKEN")
    if env:
        return env
    hub = require("huggingface_hub", "datasets")
    found = hub.get_token()
    if found:
        return found
    raise ConfigError(
        "publishing needs a Hugging Face token with write access: pass token=..., set the "
        "HF_TOKEN environment variable, or run `hf auth login` (huggingface-cli login)."
    )


def publish(
    output_directory: str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str | None = None,
) -> Any:
    """Upload the merged dataset (card and ``data/``) to the Hugging Face Hub.

    The token and ``repo_id`` are checked before anything else happens. If the directory is
    not merged, or its shards changed since the last merge, :func:`merge` runs first (with the
    options of the last merge, if any).

    Args:
        output_directory: The sampling job's directory.
        repo_id: ``"<org or user>/<name>"`` of the dataset repository (created if missing).
        token: Hugging Face token; default ``HF_TOKEN``, else the token saved by ``hf auth login``.
        private: Create the repository as private (an existing repository is left as it is).
        commit_message: Message of the upload commit.

    Returns:
        The ``CommitInfo`` of the upload.

    Raises:
        ConfigError: No token, or a malformed ``repo_id``.
        MissingDependencyError: ``huggingface_hub`` is not installed (``livn[datasets]``).
    """
    if not isinstance(repo_id, str) or not _REPO_ID.fullmatch(repo_id):
        raise ConfigError(
            f"repo_id must look like 'org/name' (letters, digits, '.', '_', '-'), e.g. "
            f"'my-org/my-dataset'; got {repo_id!r}."
        )
    hub = require("huggingface_hub", "datasets")
    token = _token(token)
    out = Path(_fs.normalize(output_directory))
    if not is_merged(out):
        record = merge_record(out)
        options = dict(record.get("options", {})) if record else {}
        options.pop("cp", None)
        merge(out, **options)
    record = merge_record(out) or {}
    if commit_message is None:
        commit_message = (
            f"livn dataset {record.get('system_name', '')}: {record.get('samples', '?')} samples"
        )
    api = hub.HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    return api.upload_folder(
        folder_path=str(out),
        repo_id=repo_id,
        repo_type="dataset",
        allow_patterns=[CARD, f"{DATA_DIR}/**"],
        commit_message=commit_message,
    )

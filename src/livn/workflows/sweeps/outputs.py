"""Assembling a batch's final outputs from its per-stimulus shards.

Shards under ``responses/`` are the source of truth; each final file is rebuilt from them,
stimulus by stimulus, into a temporary file that is renamed into place, so a reader never
sees a partial file and a resumed batch ends with the same files as an uninterrupted one.

* ``results.pt`` (``save_format: pytorch``): ``{"metadata": {...}, "results": [...]}`` with,
  per completed stimulus, ``spikes`` ``[T, N]`` uint8 spike counts per 1 ms bin,
  ``spike_ids``/``spike_times`` tensors, ``stimulus_config`` and with intermediates
  ``voltages``, ``currents``, ``stimulus``. Only tensors and plain types, so
  ``torch.load(path)`` works with ``weights_only=True``.
* ``results.h5`` (``hdf5``): ``metadata`` (attrs ``batch_id``, ``num_stimuli``, ``config``
  JSON), ``grid`` (attrs ``size`` = electrodes, ``spacing`` = pitch µm), ``stimuli/<key>``
  (parameters as attrs), ``responses/<key>/{spikes, spike_ids, spike_times[, voltages,
  currents, stimulus]}``. Written group by group (memory stays flat).
* ``dataset/`` (``dataset``): Parquet files readable with
  ``datasets.load_dataset("<output_dir>/dataset")``: one row per stimulus with
  ``stimulus_key``, ``stimulus_id``, ``type``, ``seed``, ``rep``, ``parameters`` (JSON),
  ``trial_it``, ``trial_t``.

Every file of a batch is written through a temporary file ``.<name>.<random>.tmp``;
:func:`clean_partial` removes the ones a killed run left (and nothing else) when the batch
is run again.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from livn import _fs
from livn.workflows import shards
from livn.workflows.sweeps.run import RESPONSES_DIR

__all__ = ["DATASET_FILE", "ROOT_FILES", "assemble", "clean_partial", "spike_matrix"]

#: Files a batch writes in its output directory, each atomically (``checkpoint.json`` first).
ROOT_FILES: tuple[str, ...] = ("checkpoint.json", "batch_metadata.json", "stimulus_index.json",
                               "results.pt", "results.h5")  # fmt: skip
#: The Parquet file of ``save_format: dataset``, in ``dataset/``.
DATASET_FILE = "train-00000-of-00001.parquet"


def clean_partial(output_dir: Path) -> int:
    """Remove the temporary files a killed run of a batch left in ``output_dir``.

    Only temporary files of the batch's own files are removed: response shards in
    ``responses/``, :data:`ROOT_FILES` and ``dataset/``'s :data:`DATASET_FILE`; a file whose
    writer is still running is kept (see :func:`livn._fs.clean_temp`).

    Returns:
        The number of files removed.
    """
    output_dir = Path(output_dir)
    n = shards.clean_partial(output_dir / RESPONSES_DIR, "stim")
    n += _fs.clean_temp(output_dir, ROOT_FILES)
    return n + _fs.clean_temp(output_dir / "dataset", [DATASET_FILE])


def spike_matrix(ids: np.ndarray, times: np.ndarray, n_cells: int, duration: float) -> np.ndarray:
    """``[ceil(duration), n_cells]`` uint8 spike counts per 1 ms bin."""
    n_bins = max(1, math.ceil(duration))
    out = np.zeros((n_bins, n_cells), dtype=np.uint8)
    b = np.clip(np.floor(np.asarray(times)).astype(np.int64), 0, n_bins - 1)
    np.add.at(out, (b, np.asarray(ids, dtype=np.int64)), 1)
    return out


def _completed(output_dir: Path, keys: list[str]) -> Iterator[tuple[str, dict, dict]]:
    for key in keys:
        path = output_dir / RESPONSES_DIR / f"{key}.npz"
        if path.is_file():
            meta, arrays = shards.read_shard(path)
            yield key, meta, arrays


def _config(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {"stimulus_key": meta["stimulus_key"], "stimulus_id": meta["stimulus_id"],
            "type": meta["type"], **meta["params"], "rep": meta["rep"], "seed": meta["seed"]}  # fmt: skip


def assemble(fmt: str, output_dir: Path, keys: list[str], metadata: dict[str, Any],
             n_cells: int, duration: float, mea: Any) -> Path:  # fmt: skip
    """Write the final output of ``fmt`` from the shards of ``keys``; returns its path."""
    if fmt == "pytorch":
        return _pytorch(output_dir, keys, metadata, n_cells, duration)
    if fmt == "hdf5":
        return _hdf5(output_dir, keys, metadata, n_cells, duration, mea)
    return _dataset(output_dir, keys)


def _pytorch(output_dir, keys, metadata, n_cells, duration) -> Path:
    from livn.errors import require

    torch = require("torch", "torch")
    results = []
    for _key, meta, a in _completed(output_dir, keys):
        r = {
            "stimulus_config": _config(meta),
            "spikes": torch.from_numpy(
                spike_matrix(a["spike_ids"], a["spike_times"], n_cells, duration)
            ),
            "spike_ids": torch.from_numpy(a["spike_ids"]),
            "spike_times": torch.from_numpy(a["spike_times"]),
        }
        if "voltage" in a:
            r["voltages"] = torch.from_numpy(a["voltage"])
            r["currents"] = torch.from_numpy(a["membrane_current"])
            r["stimulus"] = torch.from_numpy(a["stimulus"])
        results.append(r)
    path = output_dir / "results.pt"
    with _fs.atomic_write(path, "wb") as f:
        torch.save({"metadata": metadata, "results": results}, f)
    return path


def _hdf5(output_dir, keys, metadata, n_cells, duration, mea) -> Path:
    import h5py

    path = output_dir / "results.h5"
    with _fs.atomic_write(path, "wb") as f, h5py.File(f, "w") as h:
        m = h.create_group("metadata")
        m.attrs["batch_id"] = metadata["batch_id"]
        m.attrs["num_stimuli"] = metadata["num_stimuli"]
        m.attrs["config"] = json.dumps(metadata["config"])
        m.attrs["failed_stimuli"] = json.dumps(metadata.get("failed_stimuli", []))
        g = h.create_group("grid")
        g.attrs["size"] = int(mea.num_channels)
        xy = np.asarray(mea.electrode_coordinates)[:, 1:3]
        d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
        g.attrs["spacing"] = float(d[d > 0].min()) if (d > 0).any() else 0.0
        g.create_dataset("electrodes", data=np.asarray(mea.electrode_coordinates))
        stimuli, responses = h.create_group("stimuli"), h.create_group("responses")
        for key, meta, a in _completed(output_dir, keys):
            s = stimuli.create_group(key)
            for k, v in _config(meta).items():
                s.attrs[k] = json.dumps(v) if isinstance(v, list | dict) else v
            r = responses.create_group(key)
            r.create_dataset("spikes", data=spike_matrix(a["spike_ids"], a["spike_times"],
                                                         n_cells, duration))  # fmt: skip
            r.create_dataset("spike_ids", data=a["spike_ids"])
            r.create_dataset("spike_times", data=a["spike_times"])
            if "voltage" in a:
                r.create_dataset("voltages", data=a["voltage"])
                r.create_dataset("currents", data=a["membrane_current"])
                r.create_dataset("stimulus", data=a["stimulus"])
            h.flush()
    return path


def _dataset(output_dir, keys) -> Path:
    from livn.errors import require

    pa = require("pyarrow", "datasets")
    pq = require("pyarrow.parquet", "datasets")
    schema = pa.schema([
        ("stimulus_key", pa.string()), ("stimulus_id", pa.string()), ("type", pa.string()),
        ("seed", pa.int64()), ("rep", pa.int64()), ("parameters", pa.string()),
        ("trial_it", pa.list_(pa.list_(pa.int64()))), ("trial_t", pa.list_(pa.list_(pa.float64()))),
    ])  # fmt: skip
    target = output_dir / "dataset"
    target.mkdir(exist_ok=True)
    path = target / DATASET_FILE
    with _fs.atomic_write(path, "wb") as f:
        writer = pq.ParquetWriter(f, schema)
        rows: list[dict] = []
        for _key, meta, a in _completed(output_dir, keys):
            rows.append({"stimulus_key": meta["stimulus_key"], "stimulus_id": meta["stimulus_id"],
                         "type": meta["type"], "seed": meta["seed"], "rep": meta["rep"],
                         "parameters": json.dumps(meta["params"], sort_keys=True),
                         "trial_it": [a["spike_ids"].tolist()],
                         "trial_t": [a["spike_times"].tolist()]})  # fmt: skip
            if len(rows) >= 256:
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                rows = []
        writer.write_table(pa.Table.from_pylist(rows, schema=schema))
        writer.close()
    os.utime(target)
    return target

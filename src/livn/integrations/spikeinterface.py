"""Trials as SpikeInterface objects; needs ``livn[spikeinterface]`` (spikeinterface,
probeinterface).

::

    from livn.integrations.spikeinterface import to_recording, to_sorting, export
    from livn.trial import Trial

    trial = Trial.from_run(env, result, duration=1000)
    recording = to_recording(trial)  # NumpyRecording of the potentials, with the MEA as probe
    sorting = to_sorting(trial)      # NumpySorting: the ground-truth spikes of the cells
    export("./my_dataset")           # <job>/export-spikeinterface/<trial>/{recording,sorting}

* **Recording.** A ``NumpyRecording`` of the extracellular potentials ``[T, n_channels]``
  (float32, µV, so ``gain_to_uV`` 1 and ``offset_to_uV`` 0) at ``1000 / record_dt`` Hz,
  channel ids the electrode ids as text, with a probeinterface ``Probe`` of the MEA: 2D
  contacts at the electrodes' x, y (µm), circles of ``contact_radius`` µm (for drawing; the
  simulated electrodes are points), device channel ``k`` = electrode row ``k``. The z of each
  electrode is the channel property ``z_um``. Needs recorded membrane currents (see
  :meth:`livn.trial.Trial.potentials`).
* **Sorting.** A ``NumpySorting`` with one unit per cell (unit id = gid; ``units="observed"``
  keeps the cells within an electrode's ``output_radius``), spike times rounded to the
  nearest sample (``round(t / record_dt)``) at the recording's rate, and unit properties
  ``population``, ``x``, ``y``, ``z`` (µm), ``nearest_channel`` (electrode id) and
  ``observed``.
* **Export.** ``recording.save(folder=<trial>/recording)`` (binary folder) and
  ``sorting.save(folder=<trial>/sorting)`` (NumPy folder), read back with
  ``spikeinterface.load(folder)``; ``livn.json`` beside them holds the trial's metadata.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from livn.errors import ConfigError, require

__all__ = ["CONTACT_RADIUS", "export", "to_probe", "to_recording", "to_sorting", "write"]

#: Drawn radius of the contacts, µm (the simulated electrodes are points).
CONTACT_RADIUS = 15.0


def to_probe(mea: Any, contact_radius: float = CONTACT_RADIUS) -> Any:
    """A planar ``probeinterface.Probe`` of an MEA: contacts at x, y (µm), ids the electrode
    ids, device channel ``k`` for electrode row ``k``."""
    from livn import limits

    probeinterface = require("probeinterface", "spikeinterface")
    radius = limits.number(contact_radius, "contact_radius", 0.0, exclusive_minimum=True,
                           unit="µm")  # fmt: skip
    coords = np.asarray(mea.electrode_coordinates, np.float64)
    probe = probeinterface.Probe(ndim=2, si_units="um")
    probe.set_contacts(positions=coords[:, 1:3], shapes="circle",
                       shape_params={"radius": radius})  # fmt: skip
    probe.set_contact_ids([str(int(c)) for c in coords[:, 0]])
    probe.set_device_channel_indices(np.arange(len(coords)))
    probe.annotate(name="livn MEA", manufacturer="livn (simulated)")
    return probe


def to_recording(trial: Any, contact_radius: float = CONTACT_RADIUS) -> Any:
    """The extracellular potentials of a trial as a ``NumpyRecording`` with the MEA as probe.

    Raises:
        ConfigError: For a trial without membrane currents (it asks for
            ``env.record_membrane_current()``).
    """
    core = require("spikeinterface.core", "spikeinterface")
    trial.require_currents(alternative=", or export the spikes alone (to_sorting, "
                           "--no-potentials)")  # fmt: skip
    traces = np.ascontiguousarray(trial.potentials().T)  # [T, C] µV
    ids = [str(int(c)) for c in trial.mea.channel_ids]
    recording = core.NumpyRecording([traces], sampling_frequency=1000.0 / trial.record_dt,
                                    channel_ids=ids)  # fmt: skip
    recording.set_channel_gains(1.0)
    recording.set_channel_offsets(0.0)
    attached = recording.set_probe(to_probe(trial.mea, contact_radius))
    recording = recording if attached is None else attached  # in place from 0.105 on
    recording.set_property("z_um", np.asarray(trial.mea.electrode_coordinates)[:, 3])
    recording.annotate(**_annotations(trial))
    return recording


def to_sorting(trial: Any, units: str = "all") -> Any:
    """The spikes of a trial's cells as a ``NumpySorting`` (ground truth; see the module
    docstring)."""
    core = require("spikeinterface.core", "spikeinterface")
    cells = trial.cells(units)
    gids = cells["gid"]
    ids = np.asarray(trial.it, np.int64)
    samples = np.rint(np.asarray(trial.t, np.float64) / trial.record_dt).astype(np.int64)
    keep = np.isin(ids, gids)
    sorting = core.NumpySorting.from_samples_and_labels(
        [samples[keep]], [ids[keep]], sampling_frequency=1000.0 / trial.record_dt,
        unit_ids=gids,
    )  # fmt: skip
    for name in ("population", "x", "y", "z", "observed"):
        sorting.set_property(name, cells[name])
    sorting.set_property("nearest_channel", trial.mea.channel_ids[cells["nearest"]])
    sorting.annotate(**_annotations(trial))
    return sorting


def _annotations(trial: Any) -> dict[str, Any]:
    return {"livn_system": trial.system.name, "livn_seed": trial.seed,
            "livn_trial": trial.name, "livn_duration_ms": float(trial.duration)}  # fmt: skip


def write(trial: Any, folder: str | os.PathLike, potentials: bool = True, units: str = "all",
          overwrite: bool = False) -> Path:  # fmt: skip
    """Save a trial as ``<folder>/recording`` (unless ``potentials=False``), ``<folder>/sorting``
    and ``<folder>/livn.json``; the folder appears complete or not at all.

    Returns:
        The folder.
    """
    from livn.integrations.nwb import trial_notes

    require("spikeinterface.core", "spikeinterface")
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise ConfigError(f"{folder} exists; pass overwrite=True (--overwrite) to replace it.")
    recording = to_recording(trial) if potentials else None
    sorting = to_sorting(trial, units=units)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        with warnings.catch_warnings():  # in-memory objects have no provenance to keep
            warnings.filterwarnings("ignore", message=".*not serializable.*")
            if recording is not None:
                recording.save(folder=tmp / "recording", format="binary", verbose=False,
                               progress_bar=False)  # fmt: skip
            sorting.save(folder=tmp / "sorting")
        (tmp / "livn.json").write_text(json.dumps(trial_notes(trial), indent=2, default=str))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def export(source: str | os.PathLike, output: str | os.PathLike | None = None,
           limit: int | None = None, overwrite: bool = False,
           progress: Callable[[Path], None] | None = None, **kwargs: Any) -> list[Path]:  # fmt: skip
    """Save every trial of a source as ``<output>/<trial name>/`` (see :func:`write`).

    Args:
        source: A shard, a sampling job directory or a sweep output directory.
        output: Default ``<job>/export-spikeinterface``
            (:func:`livn.integrations.nwb.output_directory`).
        limit: At most this many trials (the first in index order).
        overwrite: Replace existing folders (default: refuse before writing anything).
        progress: Called with each folder once it is written.
        **kwargs: ``potentials``, ``units`` (as :func:`write`).

    Returns:
        The folders written, in index order.
    """
    from livn.integrations.nwb import output_directory
    from livn.trial import Trial, refuse_existing, selected_paths
    from livn.trial import output_directory as checked

    require("spikeinterface.core", "spikeinterface")
    paths = selected_paths(source, limit)
    out = checked(output if output is not None else output_directory(source, "spikeinterface"),
                  lambda e: (e / "livn.json").is_file(), "SpikeInterface exports")  # fmt: skip
    targets = [out / p.stem for p in paths]
    refuse_existing(targets, overwrite)
    written = []
    for shard, target in zip(paths, targets, strict=True):
        trial = Trial.from_shard(shard, voltage=False)
        written.append(write(trial, target, overwrite=overwrite, **kwargs))
        if progress is not None:
            progress(written[-1])
    return written

"""Export trials to Neurodata Without Borders (NWB) files; needs ``livn[nwb]`` (pynwb).

::

    from livn.integrations.nwb import write_nwb, export
    from livn.trial import Trial

    write_nwb(Trial.from_run(env, result, duration=1000), "run.nwb")  # a run of this process
    export("./my_dataset", "./my_dataset/export-nwb")                 # every sample of a job

What a file holds (read it back with ``pynwb.NWBHDF5IO(path).read()``):

* **Metadata.** ``session_description`` names the system, its size, the seed and the duration;
  ``session_id`` is the trial's name; ``notes`` is a JSON object with ``livn_version``,
  ``system``, ``system_uri``, ``num_neurons``, ``populations``, ``seed``, ``duration_ms``,
  ``record_dt_ms`` and what else is known of the trial (``index``, ``model``, ``encoding``,
  ``features``, …). ``identifier`` is derived from these (the same trial gives the same one).
* **MEA.** A device ``MEA`` and one electrode group ``MEA``; the electrodes table has one row
  per electrode (id = electrode id) with ``rel_x``, ``rel_y``, ``rel_z`` (µm, as in
  ``mea.json``), ``location`` ``"culture"`` and ``channel_name`` (the id as text).
* **Extracellular potentials.** ``acquisition["ElectricalSeries"]``: ``[T, n_channels]``
  float32 in µV (``conversion`` 1e-6 to volts) every ``record_dt`` ms from t = 0
  (:meth:`livn.trial.Trial.potentials`). Needs recorded membrane currents; without them
  :func:`write_nwb` asks for ``env.record_membrane_current()`` (or ``potentials=False``).
* **Spikes.** The units table: one unit per cell (unit id = gid), its ``spike_times`` (s),
  ``electrodes`` the nearest electrode, and columns ``population``, ``x``, ``y``, ``z`` (µm),
  ``nearest_electrode_distance`` (µm) and ``observed`` (within ``output_radius`` of an
  electrode); ``units="observed"`` keeps only the observed cells.
* **Stimulus.** ``stimulus["electrode_stimulus"]``: the electrode currents ``[T, n_channels]``
  in µA (``conversion`` 1e-6 to amperes) every ``stimulus.dt`` ms, or
  ``stimulus["cell_stimulus"]`` (nA, ``conversion`` 1e-9) for somatic currents, the gids in
  its ``comments``.
* **Voltage** (``include_voltage=True``): ``acquisition["somatic_voltage"]``: ``[T, R]``
  float32 in mV (``conversion`` 1e-3 to volts), the gids in its ``comments``.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from livn.errors import ConfigError, require

__all__ = ["export", "output_directory", "to_nwbfile", "trial_notes", "write_nwb"]

#: Namespace of :func:`uuid.uuid5` for the file identifiers.
_NAMESPACE = uuid.UUID("6f1c2d4e-8a7b-4c3d-9e5f-0a1b2c3d4e5f")


def trial_notes(trial: Any) -> dict[str, Any]:
    """The JSON metadata of a trial written into ``notes``."""
    from livn._version import __version__

    features = None if trial.features is None else [float(x) for x in trial.features]
    extra = {k: v for k, v in trial.metadata.items() if k != "source"}
    return {
        "livn_version": __version__,
        "system": trial.system.name,
        "system_uri": str(trial.system.uri),
        "num_neurons": int(trial.system.num_neurons),
        "populations": {p: [s, c] for p, s, c in trial.populations()},
        "seed": trial.seed,
        "duration_ms": float(trial.duration),
        "record_dt_ms": float(trial.record_dt),
        "name": trial.name,
        **extra,
        "features": features,
    }


def to_nwbfile(trial: Any, potentials: bool = True, units: str = "all",
               include_voltage: bool = False,
               session_start_time: datetime.datetime | None = None) -> Any:  # fmt: skip
    """An in-memory ``pynwb.NWBFile`` of a trial (see the module docstring for its content).

    Args:
        trial: A :class:`livn.trial.Trial`.
        potentials: Write the extracellular potentials (needs recorded membrane currents).
        units: ``"all"`` cells, or only the ``"observed"`` ones, as units.
        include_voltage: Also write the somatic voltage traces (if recorded).
        session_start_time: Timezone-aware start time; default now (UTC).

    Raises:
        ConfigError: ``potentials=True`` for a trial without membrane currents, or
            ``include_voltage=True`` for one without voltage.
    """
    pynwb = require("pynwb", "nwb")
    from hdmf.common import DynamicTableRegion, VectorData, VectorIndex
    from pynwb.ecephys import ElectricalSeries
    from pynwb.misc import Units

    cells = trial.cells(units)  # checks units
    if potentials:
        trial.require_currents(alternative=", or export without them (potentials=False, "
                               "--no-potentials)")  # fmt: skip
    if include_voltage and trial.v is None:
        raise ConfigError(
            f"include_voltage=True but {trial.name} has no voltage traces; record them with "
            "env.record_voltage() before env.run(...), or leave include_voltage out."
        )
    if session_start_time is None:
        session_start_time = datetime.datetime.now(datetime.UTC)
    elif not isinstance(session_start_time, datetime.datetime) or session_start_time.tzinfo is None:
        raise ConfigError(
            f"session_start_time must be a timezone-aware datetime (NWB requires it); got "
            f"{session_start_time!r}. Pass e.g. datetime.datetime.now(datetime.UTC)."
        )
    notes = trial_notes(trial)
    system = trial.system
    nwb = pynwb.NWBFile(
        session_description=(f"livn simulation of the system {system.name} "
                             f"({system.num_neurons:,} cells) recorded through a "
                             f"{trial.mea.num_channels}-electrode MEA: seed {trial.seed}, "
                             f"{trial.duration:g} ms"),
        identifier=str(uuid.uuid5(_NAMESPACE, json.dumps(notes, sort_keys=True, default=str))),
        session_start_time=session_start_time,
        session_id=trial.name,
        experiment_description="simulated in vitro neural culture (livn)",
        notes=json.dumps(notes, sort_keys=True, default=str),
        was_generated_by=[["livn", notes["livn_version"]]],
        keywords=["livn", "simulation", "multi-electrode array", system.name],
    )

    # ---------------------------------------------------------------- MEA
    mea = trial.mea
    device = nwb.create_device(
        name="MEA", description=f"multi-electrode array simulated by livn: {mea.describe()}",
    )  # fmt: skip
    group = nwb.create_electrode_group(
        name="MEA", description="the electrodes of the MEA (rel_x/rel_y/rel_z in µm)",
        location="culture", device=device,
    )  # fmt: skip
    nwb.add_electrode_column("channel_name", "electrode id, as text")
    for cid, x, y, z in mea.electrode_coordinates:
        nwb.add_electrode(id=int(cid), group=group, location="culture", rel_x=float(x),
                          rel_y=float(y), rel_z=float(z), channel_name=str(int(cid)))  # fmt: skip
    n_ch = mea.num_channels
    rate = 1000.0 / float(trial.record_dt)  # Hz

    # ---------------------------------------------------------------- potentials
    if potentials:
        region = nwb.create_electrode_table_region(list(range(n_ch)), "all electrodes of the MEA")
        nwb.add_acquisition(ElectricalSeries(
            name="ElectricalSeries", data=np.ascontiguousarray(trial.potentials().T),
            electrodes=region, conversion=1e-6, rate=rate, starting_time=0.0,
            description=("extracellular potential at each electrode (µV; conversion to volts "
                         "1e-6): point sources of the somatic membrane currents of the cells "
                         f"within {mea.output_radius:g} µm (SPEC §3)"),
        ))  # fmt: skip
    if include_voltage:
        nwb.add_acquisition(pynwb.TimeSeries(
            name="somatic_voltage", data=np.ascontiguousarray(trial.v.T, dtype=np.float32),
            unit="volts", conversion=1e-3, rate=rate, starting_time=0.0,
            description="somatic membrane voltage (mV; conversion to volts 1e-3), one column "
                        "per cell (gids in comments)",
            comments=json.dumps([int(g) for g in trial.iv]),
        ))  # fmt: skip

    # ---------------------------------------------------------------- stimulus
    stim = trial.stimulus
    if stim is not None:
        array = np.ascontiguousarray(np.asarray(stim.array, dtype=np.float32))
        if stim.space == "channels":
            ts = pynwb.TimeSeries(
                name="electrode_stimulus", data=array, unit="amperes", conversion=1e-6,
                rate=1000.0 / float(stim.dt), starting_time=0.0,
                description="electrode currents (µA; conversion to amperes 1e-6), one column "
                            "per electrode in the order of the electrodes table; positive: "
                            "anodic",
            )  # fmt: skip
        else:
            gids = (np.arange(array.shape[1]) if stim.gids is None else stim.gids).tolist()
            ts = pynwb.TimeSeries(
                name="cell_stimulus", data=array, unit="amperes", conversion=1e-9,
                rate=1000.0 / float(stim.dt), starting_time=0.0,
                description="somatic current injection (nA; conversion to amperes 1e-9), one "
                            "column per cell (gids in comments)",
                comments=json.dumps([int(g) for g in gids]),
            )  # fmt: skip
        nwb.add_stimulus(ts)

    # ---------------------------------------------------------------- units
    gids = cells["gid"]
    spikes = np.asarray(trial.t, np.float64) / 1000.0  # s
    ids = np.asarray(trial.it, np.int64)
    by_cell = np.lexsort((spikes, ids))
    ids, spikes = ids[by_cell], spikes[by_cell]
    if units == "observed":
        keep = np.isin(ids, gids)
        ids, spikes = ids[keep], spikes[keep]
    ends = np.searchsorted(ids, gids, side="right")
    table = nwb.electrodes
    spike_times = VectorData(name="spike_times", description="spike times (s from the start)",
                             data=spikes)  # fmt: skip
    electrodes = DynamicTableRegion(name="electrodes", description="the nearest electrode",
                                    data=cells["nearest"].astype(np.int64), table=table)  # fmt: skip
    columns = [
        spike_times,
        VectorIndex(name="spike_times_index", data=ends.astype(np.int64), target=spike_times),
        electrodes,
        VectorIndex(name="electrodes_index", data=np.arange(1, len(gids) + 1, dtype=np.int64),
                    target=electrodes),
        VectorData(name="population", description="population of the cell",
                   data=cells["population"].tolist()),
        *(VectorData(name=axis, description=f"soma {axis} (µm)", data=cells[axis])
          for axis in "xyz"),
        VectorData(name="nearest_electrode_distance",
                   description="distance from the soma to the nearest electrode (µm)",
                   data=cells["distance"]),
        VectorData(name="observed", description=f"within {mea.output_radius:g} µm "
                   "(output_radius) of an electrode", data=cells["observed"]),
    ]  # fmt: skip
    nwb.units = Units(
        name="units", id=gids.tolist(), columns=columns,
        description=f"the simulated cells ({units}); unit id = gid",
    )  # fmt: skip
    return nwb


def write_nwb(trial: Any, path: str | os.PathLike, overwrite: bool = False,
              **kwargs: Any) -> Path:  # fmt: skip
    """Write a trial to an NWB file atomically (temporary file, then rename).

    Args:
        trial: A :class:`livn.trial.Trial`.
        path: The ``.nwb`` file.
        overwrite: Replace an existing file (default: refuse).
        **kwargs: As :func:`to_nwbfile` (``potentials``, ``units``, ``include_voltage``,
            ``session_start_time``).

    Returns:
        The path written.
    """
    pynwb = require("pynwb", "nwb")
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} exists; pass overwrite=True (--overwrite) to replace it.")
    nwb = to_nwbfile(trial, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():  # the temporary name does not end in .nwb
            warnings.filterwarnings("ignore", message=".*does not end in '.nwb'")
            with pynwb.NWBHDF5IO(tmp, "w") as io:
                io.write(nwb)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def output_directory(source: str | os.PathLike, to: str) -> Path:
    """Default output directory of ``livn export SOURCE --to TO``: ``<job>/export-<to>`` of the
    job directory a source belongs to (the shard's job for a shard file)."""
    path = Path(source)
    if path.is_file():
        parent = path.parent
        job = parent.parent if parent.name in ("samples", "responses") else parent
        return job / f"export-{to}"
    return path / f"export-{to}"


def export(source: str | os.PathLike, output: str | os.PathLike | None = None,
           limit: int | None = None, overwrite: bool = False,
           progress: Callable[[Path], None] | None = None, **kwargs: Any) -> list[Path]:  # fmt: skip
    """Write every trial of a source as ``<output>/<trial name>.nwb``.

    Args:
        source: A shard, a sampling job directory or a sweep output directory
            (:func:`livn.trial.load_trials`).
        output: The directory; default :func:`output_directory` (``<job>/export-nwb``).
        limit: At most this many trials (the first in index order).
        overwrite: Replace existing files (default: refuse before writing anything).
        progress: Called with each path once it is written.
        **kwargs: As :func:`to_nwbfile`.

    Returns:
        The paths written, in index order.
    """
    from livn.trial import Trial, refuse_existing, selected_paths
    from livn.trial import output_directory as checked

    require("pynwb", "nwb")
    paths = selected_paths(source, limit)
    out = checked(output if output is not None else output_directory(source, "nwb"),
                  lambda e: e.is_file() and e.suffix == ".nwb", "NWB files")  # fmt: skip
    targets = [out / f"{p.stem}.nwb" for p in paths]
    refuse_existing(targets, overwrite)
    written = []
    for shard, target in zip(paths, targets, strict=True):
        trial = Trial.from_shard(shard, voltage=bool(kwargs.get("include_voltage", False)))
        written.append(write_nwb(trial, target, overwrite=overwrite, **kwargs))
        if progress is not None:
            progress(written[-1])
    return written

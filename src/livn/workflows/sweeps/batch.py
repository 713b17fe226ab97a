"""``livn batch config.yml``: run a YAML batch of stimulus sweeps, resumably.

    from livn.workflows.sweeps import Batch

    batch = Batch.from_yaml("config.yml")
    batch.dry_run()                 # count, examples, location, time and disk estimate
    report = batch.run()            # or batch.run(resume="<output_dir>/checkpoint.json")

Layout of ``output_dir``: ``checkpoint.json`` (written first and after every stimulus:
batch id, config hash, completed and failed keys), ``responses/stim_XXXX.npz`` (one shard per
finished stimulus, :mod:`livn.workflows.sweeps.run`), and, rebuilt at the end of every run,
``results.pt`` | ``results.h5`` | ``dataset/`` (:mod:`livn.workflows.sweeps.outputs`),
``batch_metadata.json`` and ``stimulus_index.json``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from livn import _fs
from livn._version import __version__
from livn.errors import ConfigError
from livn.workflows import shards
from livn.workflows.executors import Report, resolve_executor, run_units
from livn.workflows.outputs import check_output_directory
from livn.workflows.sweeps.config import BatchConfig, load_config
from livn.workflows.sweeps.expand import StimulusSpec, expand
from livn.workflows.sweeps.run import RESPONSES_DIR

__all__ = ["Batch"]

CHECKPOINT = "checkpoint.json"
#: Rough cost model for the dry-run estimate: wall seconds per cell per simulated second on
#: one CPU core, from docs/engine.md (RCSD EI2, 100 cells: 0.85 s per simulated s; COBA LIF,
#: 4,000 cells: 0.32 s; Izhikevich assumed like LIF), and start-up (import, build, compile)
#: per worker process (RCSD: 0.6 s setup + ~4.5 s compilation).
SECONDS_PER_CELL_SECOND = {"RCSD": 0.0085, "LIF": 0.00008, "Izhikevich": 0.00008}
STARTUP_S = 6.0


class Batch:
    """A batch of stimulus sweeps (see the module docstring).

    Args:
        config: A :class:`BatchConfig` or the dict of a batch YAML file.
        device: Overrides ``base_config.device`` (``cpu`` | ``cuda``).
        output: Overrides ``batch.output_dir``.
    """

    def __init__(self, config: BatchConfig | Mapping[str, Any], device: str | None = None,
                 output: str | None = None) -> None:  # fmt: skip
        from livn._config import validate

        data = config.model_dump() if isinstance(config, BatchConfig) else dict(config)
        data = json.loads(json.dumps(data, default=str))
        if device is not None:
            data.setdefault("base_config", {})["device"] = device
        if output is not None:
            data.setdefault("batch", {})["output_dir"] = output
        self.config: BatchConfig = validate(BatchConfig, data, "batch config")
        self.stimuli: list[StimulusSpec] = expand(self.config)

    @classmethod
    def from_yaml(cls, path: str | Path, device: str | None = None,
                  output: str | None = None) -> Batch:  # fmt: skip
        """Load and validate a batch YAML file."""
        return cls(load_config(path), device=device, output=output)

    # ------------------------------------------------------------------ identity
    @property
    def output_dir(self) -> Path:
        return Path(self.config.batch.output_dir).expanduser().resolve()

    def config_hash(self) -> str:
        """SHA-256 of everything that determines the results (not the output location)."""
        data = self.config.model_dump(mode="json")
        data["batch"].pop("output_dir")
        data["base_config"].pop("device")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def _system(self):
        from livn.workflows.sample import _resolve_system

        return _resolve_system(self.config.base_config.system)

    def _mea_and_cells(self):
        from livn.io import MEA
        from livn.system import make

        system = make(self._system())
        mea = MEA.from_directory(system.uri) if system.has_mea else MEA()
        return mea, int(system.num_neurons)

    def validate_stimuli(self, mea: Any) -> None:
        """Check the model and build every stimulus's electrode currents once, so that bad
        parameters raise ConfigError before anything runs or is written."""
        from livn.workflows.sample import MODELS, resolve_class
        from livn.workflows.sweeps.patterns import get_pattern

        model = self.config.base_config.model
        if model is not None:
            try:
                resolve_class(MODELS.get(model, model), "model")
            except ConfigError as e:
                raise ConfigError(f"base_config.model: {e}") from None

        duration = self.config.base_config.duration
        for s in self.stimuli:
            try:
                get_pattern(s.type).channel_inputs(mea, duration, s.params)
            except ConfigError as e:
                raise ConfigError(f"{s.key} ({s.stimulus_id}): {e}") from None

    # ------------------------------------------------------------------ dry run
    def dry_run(self, stream: IO[str] | None = None, processes: int | None = None) -> dict:
        """Print what :meth:`run` would do and an estimate of time and disk; write nothing."""
        import os

        stream = stream or sys.stdout
        mea, n_cells = self._mea_and_cells()
        self.validate_stimuli(mea)
        base, b = self.config.base_config, self.config.batch
        n = len(self.stimuli)
        sim_s = base.duration / 1000.0
        model = base.model or "RCSD"
        per = SECONDS_PER_CELL_SECOND.get(model, SECONDS_PER_CELL_SECOND["RCSD"]) * n_cells * sim_s
        workers = max(1, min(n, processes or len(os.sched_getaffinity(0))))
        est_s = STARTUP_S + n * per / workers
        spikes = n_cells * 5.0 * sim_s * 12  # ~5 Hz per cell, 12 bytes per spike
        dense = n_cells * max(1, int(base.duration)) if b.save_format != "dataset" else 0
        inter = 0
        if b.save_intermediates:
            rows = base.duration / 0.1
            inter = 2 * n_cells * rows * 4 + (base.duration / 0.05) * mea.num_channels * 4
        per_bytes = spikes + inter
        disk = n * (2 * per_bytes + dense)  # shards + final file
        p = lambda *a: print(*a, file=stream)  # noqa: E731
        p(f"Dry run of batch '{self.config.metadata.batch_name}' (nothing is written)")
        p(f"Total stimuli: {n}")
        for sweep in self.config.batch.stimuli:
            sizes = " × ".join(f"{len(v)} {k}" for k, v in sweep.parameters.items()) or "1"
            p(f"  {sweep.type}: {sizes} × {sweep.repetitions} repetitions")
        p("Example stimuli:")
        for s in self.stimuli[:3]:
            p(f"  {s.key} {s.stimulus_id}: {json.dumps(s.swept)} rep={s.rep} seed={s.seed}")
        p(f"Output directory: {self.output_dir} ({b.save_format})")
        p(f"System: {base.system} ({n_cells} cells, {mea.num_channels} electrodes), model "
          f"{model}, {base.duration:g} ms per stimulus, device {base.device}")  # fmt: skip
        p(f"Estimated run time: ~{_human_time(est_s)} on {workers} worker process(es) "
          f"(~{per:.1f} s per stimulus, {STARTUP_S:.0f} s start-up)")  # fmt: skip
        p(f"Estimated disk use: ~{_human_bytes(disk)} (~5 Hz per cell"
          f"{', voltages and currents every 0.1 ms' if b.save_intermediates else ''})")  # fmt: skip
        return {"num_stimuli": n, "estimated_seconds": est_s, "estimated_bytes": disk,
                "output_dir": str(self.output_dir)}  # fmt: skip

    # ------------------------------------------------------------------ run
    def run(
        self,
        resume: str | Path | None = None,
        executor: str = "auto",
        processes: int | None = None,
        progress: Callable[[int, int, str, str], None] | None = None,
        start: Callable[[str], None] | None = None,
        stream: IO[str] | None = None,
    ) -> Report:
        """Run the stimuli not yet finished and rebuild the outputs; returns the report.

        Args:
            resume: ``<output_dir>/checkpoint.json`` of an interrupted run of this batch.
            executor, processes: As for :func:`livn.workflows.executors.run_units`.
            progress, start: Controller-side callbacks (see ``run_units``).
            stream: Where status lines go (default stdout).
        """
        kind = resolve_executor(executor)
        rank = 0
        if kind == "mpi":
            from livn import mpi

            rank = mpi.rank()
            # rank 0 prepares; every rank gets the result, or raises the error rank 0 raised
            prepared = mpi.root_then_bcast(lambda: self._prepare(resume))
        else:
            prepared = self._prepare(resume)
        context, checkpoint, todo, mea_cells = prepared
        stream = stream or sys.stdout
        if rank == 0:
            print(f"Starting batch execution: {checkpoint['batch_id']}", file=stream)
            print(f"Total stimuli: {len(self.stimuli)} ({len(todo)} to run)", file=stream)
            print(f"Output directory: {self.output_dir}", file=stream, flush=True)

        def done(i: int, n: int, uid: str, status: str) -> None:
            if status == "ok":
                checkpoint["completed"] = sorted({*checkpoint["completed"], uid})
                checkpoint["failed"].pop(uid, None)
            else:
                checkpoint["failed"][uid] = "failed"
            _fs.write_json(self.output_dir / CHECKPOINT, checkpoint)
            if progress:
                progress(i, n, uid, status)

        units = [(s.index, s.key, {"stimulus_id": s.stimulus_id, "type": s.type,
                                   "params": s.params, "rep": s.rep, "base_seed": s.base_seed,
                                   "seed": s.seed}) for s in todo]  # fmt: skip
        report = run_units(units, "livn.workflows.sweeps.run:run_stimulus", context,
                           executor=kind, processes=processes, progress=done, start=start)  # fmt: skip
        if not report.controller:
            return report
        checkpoint["failed"].update(report.failed)
        checkpoint["finished"] = _now()
        _fs.write_json(self.output_dir / CHECKPOINT, checkpoint)
        self._finalise(checkpoint, *mea_cells)
        return report

    def _prepare(self, resume: str | Path | None):
        from livn.workflows.sweeps.run import _device

        mea, n_cells = self._mea_and_cells()
        self.validate_stimuli(mea)
        if self.config.base_config.device == "cuda":
            with _device("cuda"):
                pass
        out = check_output_directory(self.output_dir, CHECKPOINT)
        path = out / CHECKPOINT
        digest = self.config_hash()
        if resume is not None:
            resume = Path(resume).expanduser().resolve()
            if resume != path:
                raise ConfigError(
                    f"--resume {resume} is not this batch's checkpoint ({path}); pass "
                    "<output_dir>/checkpoint.json of the batch, or --output to point at it."
                )
            if not path.is_file():
                raise ConfigError(
                    f"nothing to resume: {path} does not exist. Run without --resume."
                )
        if path.is_file():
            checkpoint = json.loads(path.read_text("utf-8"))
            if checkpoint.get("config_hash") != digest:
                raise ConfigError(
                    f"{out} holds a different batch ({checkpoint.get('batch_id')}); choose another "
                    "output_dir (or --output), or delete that batch if you no longer need it."
                )
            if resume is None:
                raise ConfigError(
                    f"{out} already holds this batch ({len(checkpoint.get('completed', []))}/"
                    f"{len(self.stimuli)} done). Resume it with --resume {path}."
                )
            device = self.config.base_config.device
            if checkpoint.get("device", device) != device:
                import warnings

                warnings.warn(
                    f"resuming on {device} a batch started on {checkpoint['device']}: the "
                    "stimuli run now may differ in the last bits from a single-device run; "
                    f"pass --device {checkpoint['device']} for bit-identical results.",
                    stacklevel=3,
                )
        else:
            name = self.config.metadata.batch_name
            checkpoint = {"batch_id": f"{name}_{datetime.datetime.now():%Y%m%d_%H%M%S}",
                          "config_hash": digest, "num_stimuli": len(self.stimuli),
                          "completed": [], "failed": {}, "started": _now()}  # fmt: skip
        finished = set(shards.shard_indices(out / RESPONSES_DIR, "stim"))
        checkpoint["completed"] = [s.key for s in self.stimuli if s.index in finished]
        checkpoint["failed"] = {}
        checkpoint.setdefault("device", self.config.base_config.device)  # where it started
        _fs.write_json(path, checkpoint)
        from livn.workflows.sweeps.outputs import clean_partial

        clean_partial(out)  # temp files a killed run left: shards, outputs, checkpoint (ours only)
        todo = [s for s in self.stimuli if s.index not in finished]
        base = self.config.base_config.model_dump(mode="json")
        base["system"] = self._system()
        context = {"base_config": base, "output_dir": str(out),
                   "save_intermediates": self.config.batch.save_intermediates}  # fmt: skip
        return context, checkpoint, todo, (mea, n_cells)

    def _finalise(self, checkpoint: dict, mea: Any, n_cells: int) -> None:
        from livn.workflows.sweeps.outputs import assemble

        out = self.output_dir
        keys = [s.key for s in self.stimuli]
        failed = sorted(checkpoint["failed"])
        metadata = {"batch_id": checkpoint["batch_id"], "batch_name": self.config.metadata.batch_name,
                    "num_stimuli": len(self.stimuli), "completed": len(checkpoint["completed"]),
                    "failed_stimuli": failed, "errors": checkpoint["failed"],
                    "config": self.config.model_dump(mode="json"), "config_hash": checkpoint["config_hash"],
                    "started": checkpoint.get("started"), "finished": checkpoint.get("finished"),
                    "livn_version": __version__, "num_cells": n_cells,
                    "duration_ms": self.config.base_config.duration}  # fmt: skip
        assemble(self.config.batch.save_format, out, keys, metadata, n_cells,
                 self.config.base_config.duration, mea)  # fmt: skip
        _fs.write_json(out / "stimulus_index.json", {s.key: s.config() for s in self.stimuli})
        _fs.write_json(out / "batch_metadata.json", metadata)


def _now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def _human_time(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def _human_bytes(b: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if b < 1024:
            return f"{b:.0f} {unit}"
        b /= 1024
    return f"{b:.1f} TB"

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
import functools
import hashlib
import itertools
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from livn import _fs
from livn._version import __version__
from livn.errors import ConfigError
from livn.workflows import shards
from livn.workflows.executors import BATCHED_EXECUTORS, Report, resolve_executor, run_units
from livn.workflows.outputs import check_output_directory
from livn.workflows.sweeps.config import BatchConfig, load_config
from livn.workflows.sweeps.expand import StimulusSpec, count, expand, iter_stimuli
from livn.workflows.sweeps.patterns.base import TIMING
from livn.workflows.sweeps.run import RESPONSES_DIR

__all__ = ["Batch"]

CHECKPOINT = "checkpoint.json"
#: Default electrode-current row length of the patterns, ms.
DT = TIMING["dt"]
#: How a user skips a batch's size bounds.
OVERRIDE = "pass --allow-large (batch.allow_large: true)"
#: Sweeps with at most this many parameter combinations have every combination checked.
FULL_CHECK = 2000


def _check_combinations(parameters: dict[str, list[Any]]) -> Iterator[tuple]:
    """The parameter combinations :meth:`Batch.validate_stimuli` builds (see there)."""
    names = list(parameters)
    lists = [parameters[k] for k in names]
    if math.prod(len(v) for v in lists) <= FULL_CHECK:
        yield from itertools.product(*lists)
        return
    first = [v[0] for v in lists]
    for i, values in enumerate(lists):  # each value, the others at their first value
        for v in values:
            yield (*first[:i], v, *first[i + 1 :])
    ends = []
    for values in lists:  # the corners of the numeric ranges
        nums = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        ends.append(sorted({min(nums), max(nums)}) if nums else [values[0]])
    yield from itertools.islice(itertools.product(*ends), FULL_CHECK)


class Batch:
    """A batch of stimulus sweeps (see the module docstring).

    Args:
        config: A :class:`BatchConfig` or the dict of a batch YAML file.
        device: Overrides ``base_config.device`` (``cpu`` | ``cuda``).
        output: Overrides ``batch.output_dir``.
    """

    def __init__(self, config: BatchConfig | Mapping[str, Any], device: str | None = None,
                 output: str | None = None, allow_large: bool | None = None) -> None:  # fmt: skip
        from livn._config import validate

        data = config.model_dump() if isinstance(config, BatchConfig) else dict(config)
        try:
            data = json.loads(json.dumps(data, default=str))
        except (ValueError, RecursionError) as e:  # a value that contains itself
            raise ConfigError(f"batch config cannot be read as plain data ({e}).") from None
        if device is not None:
            data.setdefault("base_config", {})["device"] = device
        if output is not None:
            data.setdefault("batch", {})["output_dir"] = output
        if allow_large is not None:
            data.setdefault("batch", {})["allow_large"] = allow_large
        self.config: BatchConfig = validate(BatchConfig, data, "batch config")
        #: Number of stimuli, counted without enumerating them.
        self.num_stimuli: int = count(self.config)

    @classmethod
    def from_yaml(cls, path: str | Path, device: str | None = None, output: str | None = None,
                  allow_large: bool | None = None) -> Batch:  # fmt: skip
        """Load and validate a batch YAML file."""
        return cls(load_config(path), device=device, output=output, allow_large=allow_large)

    @functools.cached_property
    def stimuli(self) -> list[StimulusSpec]:
        """Every stimulus, in order (enumerated on first use; :attr:`num_stimuli` counts them
        without enumerating, :meth:`plan` checks the bounds first)."""
        return expand(self.config)

    # ------------------------------------------------------------------ identity
    @property
    def output_dir(self) -> Path:
        return Path(self.config.batch.output_dir).expanduser().resolve()

    def config_hash(self) -> str:
        """SHA-256 of everything that determines the results (not the output location)."""
        data = self.config.model_dump(mode="json")
        data["batch"].pop("output_dir")
        data["batch"].pop("allow_large")
        data["base_config"].pop("device")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def _system(self):
        from livn.workflows.sample import resolve_system

        return resolve_system(self.config.base_config.system)

    def _mea_and_cells(self):
        from livn.io import MEA
        from livn.system import make

        system = make(self._system()).check()
        mea = MEA.from_directory(system.uri) if system.has_mea else MEA()
        return mea, int(system.num_neurons)

    def _model(self) -> Any:
        """The model instance ``base_config.model`` names (default RCSD)."""
        from livn.workflows.sample import MODELS, resolve_class

        model = self.config.base_config.model
        try:
            cls = resolve_class(MODELS.get(model, model) if model else MODELS["RCSD"], "model")
            return cls()
        except ConfigError as e:
            raise ConfigError(f"base_config.model: {e}") from None

    def validate_stimuli(self, mea: Any) -> None:
        """Check the model and each sweep's parameters, so that bad parameters raise
        ConfigError before anything runs or is written.

        Every value of every parameter is resolved against its pattern. The electrode
        currents are built for every combination when a sweep has at most
        :data:`FULL_CHECK` of them; above that, for each value (the other parameters at their
        first value) and for every corner of the numeric ranges (smallest/largest value of
        each parameter), so the check stays fast for sweeps of any size. Repetitions share
        their parameters and are not re-checked.
        """
        from livn.workflows.sweeps.patterns import get_pattern

        self._model()
        duration = self.config.base_config.duration
        for k, sweep in enumerate(self.config.batch.stimuli):
            pattern = get_pattern(sweep.type)
            names = list(sweep.parameters)
            for combo in _check_combinations(sweep.parameters):
                swept = dict(zip(names, combo, strict=True))
                try:
                    pattern.check(mea, duration, swept)
                except ConfigError as e:
                    raise ConfigError(
                        f"batch.stimuli[{k}] ({sweep.type}) with {json.dumps(swept)}: {e}"
                    ) from None

    # ------------------------------------------------------------------ plan / dry run
    def plan(self, processes: int | None = None, resume: str | Path | None = None,
             executor: str = "auto", batch_size: int | str = "auto") -> dict[str, Any]:  # fmt: skip
        """Validate the whole batch and estimate its cost; writes nothing, enumerates nothing.

        Checks, in order: the output directory
        (:func:`~livn.workflows.outputs.check_output_directory`) and the batch already there
        (its ``checkpoint.json`` must be this batch's, and then ``resume`` must name it), the
        executor arguments, the system (every file read), the model, the duration against the
        model's step, the bounds of :mod:`livn.limits` — stimuli per batch, memory of one
        stimulus (and, for ``save_format: pytorch``, of the whole results file, which is built
        in memory), disk for the stimuli still to run — the device, and last each sweep's
        parameters (:meth:`validate_stimuli`). ``batch.allow_large`` skips the overridable
        bounds. For the ``batched`` executor an integer ``batch_size`` must fit the memory
        too (``auto`` and a GPU's memory are resolved at launch,
        :mod:`livn.workflows.batching`).

        Args:
            processes: Local worker processes of the launch (default all cores).
            resume: ``<output_dir>/checkpoint.json`` when resuming.
            executor: Where the stimuli would run (for the time estimate).
            batch_size: Stimuli per run of the ``batched`` executor (an int >= 1 or ``auto``).

        Returns:
            ``{"num_stimuli", "done", "num_cells", "num_channels", "model", "mea",
            "checkpoint" (the one there, or None), "estimated_seconds", "estimated_bytes",
            "memory_per_stimulus", "stimulus_bytes", "workers", "executor", "batch_size",
            "output_dir"}``.
        """
        from livn import limits
        from livn.workflows import estimates

        base, b = self.config.base_config, self.config.batch
        big = b.allow_large
        n = self.num_stimuli
        what = f"batch '{self.config.metadata.batch_name}'"
        ov = OVERRIDE
        out = check_output_directory(self.output_dir, CHECKPOINT)  # as a launch would
        checkpoint = self._existing(out / CHECKPOINT, resume)
        processes = limits.processes(processes)
        kind = resolve_executor(executor, BATCHED_EXECUTORS)
        size = limits.batch_size(batch_size)
        limits.check_units(n, what, "stimuli", "Sweep fewer values or repetitions", big, ov)
        mea, n_cells = self._mea_and_cells()
        model = self._model()
        dt, record_dt = float(model.dt), float(model.record_dt)
        n_steps = limits.steps(base.duration, dt, "base_config.duration",
                               "Lower base_config.duration")  # fmt: skip
        si = b.save_intermediates
        stim_dt = DT
        for k, sw in enumerate(b.stimuli):  # the electrode-current rows of each dt, first
            for v in sw.parameters.get("dt", [DT]):
                if isinstance(v, int | float) and not isinstance(v, bool) and v > 0:
                    if base.duration / v > limits.MAX_STEPS:
                        raise ConfigError(
                            f"batch.stimuli[{k}].parameters.dt={v!r}: a {base.duration:g} ms run "
                            f"is {base.duration / v:.3g} rows of electrode current; at most "
                            f"{limits.MAX_STEPS:,}. Use a larger dt."
                        )
                    stim_dt = min(stim_dt, float(v))
        stim_bytes = (base.duration / stim_dt) * mea.num_channels * 4.0
        dense = max(1, math.ceil(base.duration)) * n_cells if b.save_format != "dataset" else 0
        memory = limits.run_bytes(n_cells, n_steps, dt, record_dt, si, si) + 2 * stim_bytes + dense
        limits.check_memory(
            memory, f"one {base.duration:g} ms stimulus of {n_cells:,} cells (electrode currents "
            f"every dt = {stim_dt:g} ms){' with intermediates' if si else ''}",
            "Shorten base_config.duration" + (" or drop save_intermediates" if si else ""), big, ov,
        )  # fmt: skip
        record = estimates.recording_bytes(n_cells, base.duration, record_dt, 2 if si else 0)
        record += stim_bytes if si else 0.0
        if b.save_format == "pytorch":  # results.pt is assembled in memory
            limits.check_memory(
                n * (record + dense), f"results.pt of {what} ({n:,} stimuli)",
                "Use save_format: hdf5 or dataset (written stimulus by stimulus), or sweep "
                "fewer stimuli", big, ov,
            )  # fmt: skip
        done = len(shards.shard_indices(out / RESPONSES_DIR, "stim"))
        todo = max(0, n - done)
        disk = todo * 2 * record + n * dense  # new shards + the final file (rebuilt whole)
        limits.check_disk(disk, out, what, "Sweep fewer stimuli or shorten duration", big, ov)
        if base.device == "cuda":
            from livn.workflows.sweeps.run import _device

            with _device("cuda"):
                pass
        self.validate_stimuli(mea)
        if kind == "batched" and size != "auto" and todo:
            size = min(size, todo)
            limits.check_batch(
                size, limits.run_bytes(n_cells, n_steps, dt, record_dt, si, si) + 3 * stim_bytes,
                f"{base.duration:g} ms stimuli of {n_cells:,} cells"
                f"{' with intermediates' if si else ''}", limits.memory_budget(),
                f"host memory ({limits.MEMORY_VAR}; default half of this machine's memory)",
                "shorten base_config.duration" + (" or drop save_intermediates" if si else ""),
            )  # fmt: skip
        workers = 1 if kind == "batched" else estimates.workers(kind, todo, processes)
        per = estimates.run_seconds(getattr(model, "name", None), n_cells, base.duration)
        return {"num_stimuli": n, "done": done, "num_cells": n_cells,
                "num_channels": int(mea.num_channels), "mea": mea, "checkpoint": checkpoint,
                "model": getattr(model, "name", type(model).__name__),
                "estimated_seconds": (estimates.STARTUP_S if todo else 0.0) + todo * per / workers,
                "seconds_per_stimulus": per, "estimated_bytes": disk,
                "memory_per_stimulus": memory, "stimulus_bytes": stim_bytes, "workers": workers,
                "executor": kind, "batch_size": size, "output_dir": str(out)}  # fmt: skip

    def _existing(self, path: Path, resume: str | Path | None) -> dict | None:
        """The checkpoint of this batch at ``path`` (None for a new batch), or ConfigError: a
        foreign or unreadable file, a different batch, this batch without ``resume``, or a
        ``resume`` that names another file or nothing."""
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
        if not path.is_file():
            return None
        try:
            checkpoint = json.loads(path.read_text("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(
                f"{path} exists but is not a livn batch checkpoint ({type(e).__name__}: {e}); "
                "livn does not overwrite it. Choose another output_dir (or --output)."
            ) from None
        if not isinstance(checkpoint, dict) or "config_hash" not in checkpoint:
            raise ConfigError(
                f"{path} is not a livn batch checkpoint (no config_hash); livn does not "
                "overwrite it. Choose another output_dir (or --output)."
            )
        if checkpoint.get("config_hash") != self.config_hash():
            raise ConfigError(
                f"{path.parent} holds a different batch ({checkpoint.get('batch_id')}); choose "
                "another output_dir (or --output), or delete that batch if you no longer need it."
            )
        if resume is None:
            raise ConfigError(
                f"{path.parent} already holds this batch ({len(checkpoint.get('completed', []))}/"
                f"{self.num_stimuli} done). Resume it with --resume {path}."
            )
        return checkpoint

    def dry_run(self, stream: IO[str] | None = None, processes: int | None = None,
                resume: str | Path | None = None, executor: str = "auto",
                batch_size: int | str = "auto") -> dict:  # fmt: skip
        """Print what :meth:`run` would do and an estimate of time and disk; write nothing.

        The count and the estimates are arithmetic: a sweep of 10⁹ stimuli answers at once.
        A batch above a bound is reported (the estimate, the limit and the override) instead
        of the estimates.
        """
        import itertools

        from livn import limits
        from livn.errors import SizeLimitError
        from livn.workflows import estimates

        stream = stream or sys.stdout
        base, b = self.config.base_config, self.config.batch
        p = lambda *a: print(*a, file=stream)  # noqa: E731
        p(f"Dry run of batch '{self.config.metadata.batch_name}' (nothing is written)")
        p(f"Total stimuli: {self.num_stimuli:,}")
        for sweep in b.stimuli:
            sizes = " × ".join(f"{len(v)} {k}" for k, v in sweep.parameters.items()) or "1"
            p(f"  {sweep.type}: {sizes} × {sweep.repetitions} repetitions")
        p("Example stimuli:")
        for s in itertools.islice(iter_stimuli(self.config), 3):
            p(f"  {s.key} {s.stimulus_id}: {json.dumps(s.swept)} rep={s.rep} seed={s.seed}")
        p(f"Output directory: {self.output_dir} ({b.save_format})")
        try:
            plan = self.plan(processes, resume, executor, batch_size)
        except SizeLimitError as e:
            p(f"Would be refused at launch: {e}")
            return {"num_stimuli": self.num_stimuli, "refused": str(e),
                    "output_dir": str(self.output_dir)}  # fmt: skip
        p(f"System: {base.system} ({plan['num_cells']:,} cells, {plan['num_channels']} "
          f"electrodes), model {plan['model']}, {base.duration:g} ms per stimulus, device "
          f"{base.device}")  # fmt: skip
        p(f"Estimated run time: ~{estimates.human_time(plan['estimated_seconds'])} on "
          f"{plan['workers']} worker process(es) (~{plan['seconds_per_stimulus']:.1f} s per "
          f"stimulus, {estimates.STARTUP_S:.0f} s start-up)")  # fmt: skip
        p(f"Estimated disk use: ~{limits.human_bytes(plan['estimated_bytes'])} (~5 Hz per cell"
          f"{', voltages and currents every 0.1 ms' if b.save_intermediates else ''})")  # fmt: skip
        if plan["executor"] == "batched":
            size = plan["batch_size"]
            p(f"Batched: {size} stimuli per run" + (
                " (picked at launch by memory and device)" if size == "auto" else ""))  # fmt: skip
        return plan

    # ------------------------------------------------------------------ run
    def run(
        self,
        resume: str | Path | None = None,
        executor: str = "auto",
        processes: int | None = None,
        progress: Callable[[int, int, str, str], None] | None = None,
        start: Callable[[str], None] | None = None,
        stream: IO[str] | None = None,
        batch_size: int | str = "auto",
    ) -> Report:
        """Run the stimuli not yet finished and rebuild the outputs; returns the report.

        Args:
            resume: ``<output_dir>/checkpoint.json`` of an interrupted run of this batch.
            executor, processes, batch_size: As for
                :func:`livn.workflows.executors.run_units` (``batched``: ``batch_size``
                stimuli per vectorised run, in this process).
            progress, start: Controller-side callbacks (see ``run_units``).
            stream: Where status lines go (default stdout).
        """
        kind = resolve_executor(executor, BATCHED_EXECUTORS)
        from livn import limits

        size = limits.batch_size(batch_size)
        rank = 0
        if kind == "mpi":
            from livn import mpi

            rank = mpi.rank()
            # rank 0 prepares; every rank gets the result, or raises the error rank 0 raised
            prepared = mpi.root_then_bcast(lambda: self._prepare(resume, processes, kind))
        else:
            prepared = self._prepare(resume, processes, kind, size)
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
                           executor=kind, processes=processes, progress=done, start=start,
                           batch_worker="livn.workflows.sweeps.run:BATCHED",
                           batch_size=size)  # fmt: skip
        if not report.controller:
            return report
        checkpoint["failed"].update(report.failed)
        checkpoint["finished"] = _now()
        _fs.write_json(self.output_dir / CHECKPOINT, checkpoint)
        self._finalise(checkpoint, *mea_cells)
        return report

    def _prepare(self, resume: str | Path | None, processes: int | None = None,
                 executor: str = "auto", batch_size: int | str = "auto"):  # fmt: skip
        plan = self.plan(processes, resume, executor, batch_size)
        mea, n_cells = plan["mea"], plan["num_cells"]
        out = Path(plan["output_dir"])
        path = out / CHECKPOINT
        checkpoint = plan["checkpoint"]
        if checkpoint is not None:
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
                          "config_hash": self.config_hash(), "num_stimuli": self.num_stimuli,
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
                   "save_intermediates": self.config.batch.save_intermediates,
                   "stimulus_bytes": plan["stimulus_bytes"]}  # fmt: skip
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

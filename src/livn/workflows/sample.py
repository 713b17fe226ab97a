"""``sample``: simulate many trials of a system and keep each as its own shard (seed 000).

The same configuration dict drives the Python API and the CLI::

    from livn.workflows import get

    sampler = get("sample", {"system": "EI2", "duration": 5000, "samples": 1000,
                             "output_directory": "./my_dataset"})
    sampler.launch()                     # local processes (all cores), or MPI under mpiexec
    sampler.merge(include_voltage=False) # a Hugging Face dataset in ./my_dataset
    sampler.publish(repo_id="my-org/my-dataset")

Sample ``i`` runs from a cleared Env with noise seed ``seed + i`` under
``encoding(env, duration, features_i)`` and is decoded with ``decoding(duration=duration)``;
its features are drawn from ``numpy.random.default_rng(seed + i)`` (the encoding's
``sample_inputs(rng, env)`` if it has one, else uniform on the MEA's input space ``[0, 1]``
per channel; none for spontaneous activity). A sample therefore depends only on the job's
configuration and its index — never on which process, rank or launch ran it — and is written
atomically to ``<output_directory>/samples/sample_<i:06d>.npz`` (see
:mod:`livn.workflows.shards`) — by any executor, ``batched`` included (``batch_size`` samples
per vectorised run, :mod:`livn.workflows.batching`; each trial equals the single run of its
seed). ``config.json`` beside it holds the resolved configuration; a
re-launch skips the samples already written, and a launch with more ``samples`` extends the
job. A directory holding a different job is refused.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from livn import _fs, limits, mpi
from livn._config import Count, Flag, Real, validate
from livn.errors import ConfigError, did_you_mean
from livn.workflows import shards
from livn.workflows.executors import BATCHED_EXECUTORS, Report, resolve_executor, run_units
from livn.workflows.outputs import check_output_directory

__all__ = ["BATCHED", "Sample", "SampleBatches", "SampleConfig", "resolve_class", "resolve_system",
           "run_sample"]  # fmt: skip

#: Seed spellings of the default encoding/decoding, and livn's short names.
ALIASES: dict[str, str] = {
    "systems.sample.WithouInput": "livn.encoding.NoInput",
    "systems.sample.WithoutInput": "livn.encoding.NoInput",
    "WithoutInput": "livn.encoding.NoInput",
    "NoInput": "livn.encoding.NoInput",
    "ElectrodePulses": "livn.encoding.ElectrodePulses",
    "systems.sample.Raw": "livn.decoding.Raw",
    "Raw": "livn.decoding.Raw",
    "MeanFiringRate": "livn.decoding.MeanFiringRate",
    "ChannelRecording": "livn.decoding.ChannelRecording",
    "CultureStatistics": "livn.decoding.CultureStatistics",
}

#: Model names accepted by ``model`` (besides a dotted path to a model class).
MODELS: dict[str, str] = {
    "RCSD": "livn.models.rcsd.ReducedCalciumSomaDendrite",
    "LIF": "livn.models.LIF",
    "Izhikevich": "livn.models.Izhikevich",
}

#: Configuration keys that do not change what a sample contains.
RUNTIME_KEYS = ("samples", "output_directory", "nprocs_per_worker", "executor", "processes",
                "task_index", "task_count", "allow_large", "batch_size")  # fmt: skip
#: Most MPI ranks per worker group.
MAX_RANKS_PER_WORKER = 4096

CONFIG_FILE = "config.json"
SAMPLES_DIR = "samples"
RECORDINGS = ("spikes", "voltage", "membrane_current")


class SampleConfig(BaseModel):
    """Configuration of a sampling job (seed 000's table, plus livn's own options).

    Counts are integers (a float such as ``1e3`` or a boolean is refused), numbers are finite,
    flags are ``true``/``false``. Bounds that depend on the system and model (duration of at
    least one integration step, memory per sample, disk for the job, samples per job) are
    checked by :meth:`Sample.plan` before anything is written (see :mod:`livn.limits`).

    Attributes:
        system: Predefined name (``EI2``) or path/URL of a system directory.
        model: ``None`` (the system default, RCSD), ``RCSD``, ``LIF``, ``Izhikevich`` or a
            dotted path to a model class.
        duration: Simulated time per sample, ms.
        samples: Number of samples to have (indices ``0 … samples − 1``); when not given, a
            relaunch keeps the job's count (100 for a new job).
        noise: Background noise on (the system's tuned noise) or off.
        seed: Base seed; sample ``i`` uses ``seed + i`` (at most 2³² − 1).
        encoding, encoding_kwargs: Encoding class (dotted path or livn short name) and its
            keyword arguments.
        decoding, decoding_kwargs: Decoding class and keyword arguments (``duration`` is set
            from ``duration``).
        record: What the Env records (default: everything for ``Raw``, else spikes).
        output_directory: Where ``config.json`` and ``samples/`` are written.
        nprocs_per_worker: MPI ranks per simulation worker.
        executor: ``auto`` (MPI under ``mpiexec``, else local processes), ``local``,
            ``serial``, ``mpi`` or ``batched`` (this process, ``batch_size`` samples per
            vectorised run: for a GPU).
        processes: Local worker processes (default: all cores; at most 4 per core).
        batch_size: Samples per run of the ``batched`` executor: an integer >= 1, or ``auto``
            (by memory and device, :mod:`livn.workflows.batching`); refused when the batch
            would not fit the memory.
        task_index, task_count: Run only the samples ``i`` with ``i % task_count ==
            task_index`` (one task of a Slurm job array); ``task_index < task_count``.
        allow_large: Skip the overridable size bounds (samples per job, memory per sample,
            disk) for a job that really is that large.
    """

    model_config = ConfigDict(extra="forbid")

    system: str = "EI2"
    model: str | None = None
    duration: Real = Field(31000.0, gt=0)
    samples: Count = Field(100, ge=1)
    noise: Flag = True
    seed: Count = Field(0, ge=0, le=limits.MAX_SEED)
    encoding: str = "livn.encoding.NoInput"
    encoding_kwargs: dict[str, Any] = Field(default_factory=dict)
    decoding: str = "livn.decoding.Raw"
    decoding_kwargs: dict[str, Any] = Field(default_factory=dict)
    record: list[str] | None = None
    output_directory: str | None = None
    nprocs_per_worker: Count = Field(1, ge=1, le=MAX_RANKS_PER_WORKER)
    executor: str = "auto"
    processes: Count | None = Field(None, ge=1)
    batch_size: int | str = "auto"
    task_index: Count = Field(0, ge=0)
    task_count: Count = Field(1, ge=1)
    allow_large: Flag = False

    @field_validator("system", "encoding", "decoding")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip() or "\x00" in value:
            raise ValueError("must be a non-empty name or path")
        return value

    @field_validator("output_directory")
    @classmethod
    def _output(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "\x00" in value):
            raise ValueError(
                "must be a directory path, e.g. ./my_dataset (an empty value would write into "
                "the current directory)"
            )
        return value

    @field_validator("record")
    @classmethod
    def _record(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            bad = [v for v in value if v not in RECORDINGS]
            if bad:
                raise ValueError(
                    f"unknown recording {bad[0]!r}; valid: {', '.join(RECORDINGS)}"
                    f"{did_you_mean(bad[0], RECORDINGS)}"
                )
            if not value:
                raise ValueError(f"record nothing? give at least one of {', '.join(RECORDINGS)}")
        return value

    @field_validator("executor")
    @classmethod
    def _executor(cls, value: str) -> str:
        if value not in BATCHED_EXECUTORS:
            raise ValueError(
                f"valid executors: {', '.join(BATCHED_EXECUTORS)}"
                f"{did_you_mean(value, BATCHED_EXECUTORS)}"
            )
        return value

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size(cls, value: Any) -> int | str:
        try:
            return limits.batch_size(value)
        except ConfigError as e:
            raise ValueError(str(e).removeprefix("batch_size ")) from None

    @field_validator("processes")
    @classmethod
    def _processes(cls, value: int | None) -> int | None:
        try:
            return limits.processes(value)
        except ConfigError as e:
            raise ValueError(str(e).removeprefix("processes ")) from None

    @model_validator(mode="after")
    def _task(self) -> SampleConfig:
        if self.task_index >= self.task_count:
            raise ValueError(
                f"task_index={self.task_index} must be below task_count={self.task_count} "
                f"(tasks are numbered 0 … {self.task_count - 1}); this task would run nothing"
            )
        return self


def max_processes() -> int:
    """Most local worker processes a job may ask for: 4 per core (:func:`livn.limits.processes`)."""
    return 4 * limits.cores()


def resolve_class(path: str, kind: str) -> type:
    """The class named by a dotted path, a livn short name or a seed alias."""
    full = ALIASES.get(path, MODELS.get(path, path) if kind == "model" else path)
    module, _, attr = full.rpartition(".")
    if not module:
        valid = list(MODELS) if kind == "model" else [k for k in ALIASES if "." not in k]
        raise ConfigError(
            f"unknown {kind} {path!r}: give a dotted path (my_module.MyClass) or one of "
            f"{', '.join(valid)}.{did_you_mean(path, valid)}"
        )
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(
            f"cannot import {kind} {path!r} ({type(e).__name__}: {e}). Check the dotted path "
            "and that its module is importable (on PYTHONPATH)."
        ) from None
    if not isinstance(obj, type):
        raise ConfigError(f"{kind} {path!r} is not a class.")
    return obj


def resolve_system(system: str) -> str:
    """A predefined name, or an existing path; the seed's ``./systems/graphs/EI2`` falls back to
    the predefined ``EI2`` when no such directory exists."""
    from livn.system.predefined import PREDEFINED

    if system in PREDEFINED or "://" in system:
        return system
    path = Path(os.path.expanduser(system))
    if path.is_dir():
        return str(path.resolve())
    if path.name in PREDEFINED:
        return path.name
    raise ConfigError(
        f"system {system!r} is neither a predefined system ({', '.join(PREDEFINED)}) nor an "
        f"existing system directory.{did_you_mean(path.name, PREDEFINED)}"
    )


def _construct(cls: type, kind: str, kwargs: Mapping[str, Any], **fixed: Any) -> Any:
    """``cls(**fixed, **kwargs)``; a bad keyword or value is a ConfigError naming ``kind``."""
    try:
        return cls(**fixed, **kwargs)
    except ConfigError as e:
        raise ConfigError(f"{kind}_kwargs for {cls.__name__}: {e}") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(
            f"{kind}_kwargs do not fit {cls.__module__}.{cls.__name__}: {e}. Check the keyword "
            "names and values against its documentation."
        ) from None


def _read_job(path: Path) -> dict[str, Any] | None:
    """The ``config.json`` of a sampling job, ``None`` if there is none; a file that is not
    one is a ConfigError (livn never overwrites it)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(
            f"{path} exists but is not a livn sampling job's config.json ({type(e).__name__}: "
            f"{e}); livn does not overwrite it. Choose another output_directory."
        ) from None
    if not isinstance(data, dict) or data.get("workflow") != "sample" or not isinstance(
        data.get("samples"), int
    ):  # fmt: skip
        raise ConfigError(
            f"{path} is not a livn sampling job's config.json (no 'workflow': 'sample' and "
            "integer 'samples'); livn does not overwrite it. Choose another output_directory."
        )
    return data


def identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a resolved configuration that determines what samples contain."""
    return {k: v for k, v in config.items() if k not in RUNTIME_KEYS}


def _digest(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class Sample:
    """A sampling job (see the module docstring).

    Args:
        config: A dict (or :class:`SampleConfig`) with the keys of :class:`SampleConfig`.
        **overrides: Keys that override ``config``.
    """

    name = "sample"

    def __init__(self, config: Mapping[str, Any] | SampleConfig | None = None, **overrides: Any):
        if isinstance(config, SampleConfig):
            config = config.model_dump(exclude_unset=True)
        self.config: SampleConfig = validate(
            SampleConfig, {**(config or {}), **overrides}, "sample config"
        )

    # ------------------------------------------------------------------ configuration
    @property
    def output_directory(self) -> Path:
        """Absolute path of the job directory."""
        if self.config.output_directory is None:
            raise ConfigError(
                "output_directory is required: where the samples are written, e.g. "
                "output_directory=./my_dataset."
            )
        return Path(os.path.expanduser(self.config.output_directory)).resolve()

    def resolved(self) -> dict[str, Any]:
        """The configuration as saved in ``config.json`` (classes and system resolved).

        The encoding and decoding are constructed once with their keyword arguments, so bad
        ``*_kwargs`` fail here (naming the key), not in every sample.
        """
        c = self.config
        system = resolve_system(c.system)
        model = None if c.model is None else MODELS.get(c.model, c.model)
        enc = ALIASES.get(c.encoding, c.encoding)
        dec = ALIASES.get(c.decoding, c.decoding)
        enc_cls = resolve_class(enc, "encoding")
        dec_cls = resolve_class(dec, "decoding")
        if model is not None:
            resolve_class(model, "model")
        record = c.record
        if record is None:
            record = list(RECORDINGS) if dec == "livn.decoding.Raw" else ["spikes"]
        if "duration" in c.decoding_kwargs:
            raise ConfigError(
                "decoding_kwargs must not set duration; it is the job's duration "
                f"({c.duration} ms)."
            )
        made = {
            "encoding": (
                _construct(enc_cls, "encoding", c.encoding_kwargs),
                c.encoding,
                "env, duration, inputs",
            ),
            "decoding": (
                _construct(dec_cls, "decoding", c.decoding_kwargs, duration=c.duration),
                c.decoding,
                "env, it, t, iv, v",
            ),
        }
        for kind, (obj, name, args) in made.items():
            if not callable(obj):  # e.g. encoding=builtins.dict: every sample would fail
                raise ConfigError(
                    f"{kind} {name!r} is not an {kind}: its instances must be callable as ({args})."
                )
        missing = [r for r in getattr(made["decoding"][0], "needs", ()) if r not in record]
        if missing:  # e.g. MeanFiringRate with record=["voltage"]: every sample would fail
            raise ConfigError(
                f"decoding {c.decoding!r} needs {', '.join(missing)} recorded; record="
                f"{record} lacks it. Add it to record (or leave record out)."
            )
        return {
            "workflow": "sample",
            "format": shards.FORMAT,
            "system": system,
            "system_name": Path(system).name if "/" in system else system,
            "model": model,
            "duration": float(c.duration),
            "samples": int(c.samples),
            "noise": bool(c.noise),
            "seed": int(c.seed),
            "encoding": enc,
            "encoding_kwargs": dict(c.encoding_kwargs),
            "decoding": dec,
            "decoding_kwargs": dict(c.decoding_kwargs),
            "record": record,
            "nprocs_per_worker": int(c.nprocs_per_worker),
        }

    @property
    def samples_directory(self) -> Path:
        return self.output_directory / SAMPLES_DIR

    def completed(self) -> list[int]:
        """Indices of the samples already written."""
        return shards.shard_indices(self.samples_directory)

    def plan(self, processes: int | None = None, executor: str | None = None,
             batch_size: int | str | None = None) -> dict[str, Any]:  # fmt: skip
        """Validate the whole job and say what a launch would do; writes nothing.

        Checks, in order: the configuration and the classes it names (encoding and decoding
        constructed with their kwargs), the system directory (every file read and checked,
        :meth:`livn.system.System.check`) and its MEA, the model's integration step against
        ``duration``, the output directory (and a job already there: it must be this job), the
        number of samples, the memory of one sample and the disk for the job (the bounds of
        :mod:`livn.limits`; ``allow_large`` skips the overridable ones), and for the
        ``batched`` executor the memory of a batch (an integer ``batch_size``; ``auto`` and
        the GPU's memory are resolved at launch, :mod:`livn.workflows.batching`).

        Args:
            processes, executor, batch_size: Launch overrides of the configuration's.

        Returns:
            ``{"resolved": <config.json content>, "todo": indices to run (a lazy
            :class:`~livn.workflows.shards.Pending`, equal to their list), "samples",
            "done", "num_cells", "model", "bytes_per_sample", "memory_per_sample",
            "estimated_bytes", "estimated_seconds", "workers", "executor", "batch_size"}``.

        Raises:
            ConfigError: (or :class:`~livn.errors.SizeLimitError`,
                :class:`~livn.errors.SystemFormatError`) naming the problem and the fix.
        """
        from livn.workflows import estimates

        c = self.config
        resolved = self.resolved()
        out = check_output_directory(self.output_directory, CONFIG_FILE)
        old = _read_job(out / CONFIG_FILE)
        if old is not None and identity(old) != identity(resolved):
            diff = sorted(
                k for k in set(identity(old)) | set(identity(resolved))
                if old.get(k) != resolved.get(k)
            )  # fmt: skip
            raise ConfigError(
                f"{out} already holds a different sampling job (differs in "
                f"{', '.join(diff)}); choose another output_directory, or delete that job "
                "if you no longer need it."
            )
        explicit = "samples" in c.model_fields_set
        previous = int(old["samples"]) if old is not None else None
        target = c.samples if explicit or previous is None else previous
        what = f"sampling job {out.name!r} ({target:,} samples)"
        limits.check_units(target, f"sampling job {out.name!r}", "samples", "Lower samples",
                           c.allow_large)  # fmt: skip
        if c.seed + target - 1 > limits.MAX_SEED:
            raise ConfigError(
                f"seed + samples - 1 = {c.seed + target - 1} exceeds the largest seed "
                f"{limits.MAX_SEED}; lower seed or samples."
            )
        resolved["samples"] = max(target, previous or 0)

        from livn.system import make

        system = make(resolved["system"]).check()
        model_cls = resolve_class(MODELS.get(c.model, c.model) if c.model else MODELS["RCSD"],
                                  "model")  # fmt: skip
        model = _construct(model_cls, "model", {})
        dt, record_dt = float(model.dt), float(model.record_dt)
        n_steps = limits.steps(c.duration, dt, "duration", "Lower duration (ms per sample)")
        n_cells = int(system.num_neurons)
        rec = resolved["record"]
        memory = limits.run_bytes(n_cells, n_steps, dt, record_dt, "voltage" in rec,
                                  "membrane_current" in rec)  # fmt: skip
        limits.check_memory(
            memory, f"one {c.duration:g} ms sample of {n_cells:,} cells recording {'+'.join(rec)}",
            "Shorten duration or record less", c.allow_large,
        )  # fmt: skip
        traces = sum(r in rec for r in ("voltage", "membrane_current"))
        if resolved["decoding"] != "livn.decoding.Raw":
            traces = 0
        per_sample = estimates.recording_bytes(n_cells, c.duration, record_dt, traces)
        done = set(self.completed())
        # lazy: a job of any size (allow_large) is planned without enumerating its indices
        todo = shards.Pending(target, c.task_count, c.task_index, done)
        disk = per_sample * len(todo)
        limits.check_disk(disk, out, f"{what}, {len(todo):,} to run,",
                          "Lower samples or duration, record less", c.allow_large)  # fmt: skip
        processes = limits.processes(processes, "processes (launch override)")
        kind = resolve_executor(executor or c.executor, BATCHED_EXECUTORS)
        size = limits.batch_size(c.batch_size if batch_size is None else batch_size)
        if kind == "batched":
            if size != "auto" and len(todo):
                size = min(size, len(todo))
                limits.check_batch(size, memory, f"{c.duration:g} ms samples of {n_cells:,} "
                                   f"cells recording {'+'.join(rec)}", limits.memory_budget(),
                                   f"host memory ({limits.MEMORY_VAR}; default half of this "
                                   "machine's memory)", "shorten duration or record less")  # fmt: skip
            workers = 1
        else:
            workers = estimates.workers(kind, len(todo), processes or c.processes,
                                        c.nprocs_per_worker)  # fmt: skip
        seconds = (estimates.STARTUP_S if todo else 0.0) + len(todo) * estimates.run_seconds(
            getattr(model, "name", None), n_cells, c.duration
        ) / workers
        return {"resolved": resolved, "todo": todo, "samples": target, "done": len(done),
                "num_cells": n_cells, "model": getattr(model, "name", model_cls.__name__),
                "bytes_per_sample": per_sample, "memory_per_sample": memory,
                "estimated_bytes": disk, "estimated_seconds": seconds, "workers": workers,
                "executor": kind, "batch_size": size}  # fmt: skip

    def dry_run(self, stream: Any = None, processes: int | None = None) -> dict[str, Any]:
        """Print what :meth:`launch` would do, with time and disk estimates; write nothing.

        Returns:
            The :meth:`plan`.
        """
        from livn.workflows import estimates

        stream = stream or sys.stdout
        plan = self.plan(processes)
        r, todo = plan["resolved"], plan["todo"]
        p = lambda *a: print(*a, file=stream)  # noqa: E731
        p(f"Dry run of a sampling job (nothing is written): {self.output_directory}")
        p(f"Samples: {plan['samples']:,} ({plan['done']:,} already written, {len(todo):,} to run"
          f"{'' if self.config.task_count == 1 else ' in this task'})")  # fmt: skip
        p(f"System: {r['system_name']} ({plan['num_cells']:,} cells), model {plan['model']}, "
          f"{r['duration']:g} ms per sample, noise {'on' if r['noise'] else 'off'}, "
          f"seeds {r['seed']} … {r['seed'] + plan['samples'] - 1}")  # fmt: skip
        p(
            f"Encoding: {r['encoding']} {json.dumps(r['encoding_kwargs'])}; decoding: "
            f"{r['decoding']} {json.dumps(r['decoding_kwargs'])}; recording {'+'.join(r['record'])}"
        )
        p(
            f"Estimated run time: ~{estimates.human_time(plan['estimated_seconds'])} on "
            f"{plan['workers']} worker process(es) (~{estimates.run_seconds(plan['model'], plan['num_cells'], r['duration']):.1f} s "  # noqa: E501
            f"per sample on one core, {estimates.STARTUP_S:.0f} s start-up)"
        )
        p(
            f"Estimated disk use: ~{limits.human_bytes(plan['estimated_bytes'])} "
            f"(~{limits.human_bytes(plan['bytes_per_sample'])} per sample; spikes at ~5 Hz per "
            "cell)"
        )
        p(
            f"Memory per sample: ~{limits.human_bytes(plan['memory_per_sample'])} (limit "
            f"{limits.human_bytes(limits.memory_budget())}, {limits.MEMORY_VAR})"
        )
        if plan["executor"] == "batched":
            size = plan["batch_size"]
            p(
                f"Batched: {size} samples per run"
                + (
                    f" (~{limits.human_bytes(size * plan['memory_per_sample'])} at once)"
                    if size != "auto"
                    else " (picked at launch by memory and device)"
                )
            )
        return plan

    def _prepare(self, processes: int | None = None, executor: str | None = None,
                 batch_size: int | str | None = None) -> dict[str, Any]:  # fmt: skip
        """:meth:`plan`, then write ``config.json``; the context sent to the workers (with the
        indices to run under ``"todo"``)."""
        plan = self.plan(processes, executor, batch_size)
        out = self.output_directory
        _fs.write_json(out / CONFIG_FILE, plan["resolved"])
        shards.clean_partial(out / SAMPLES_DIR, "sample")
        _fs.clean_temp(out, [CONFIG_FILE])  # a killed launch's temp files (ours only)
        _fs.clean_temp(out / "slurm", ["sample.sbatch"])
        return {**plan["resolved"], "todo": plan["todo"]}

    # ------------------------------------------------------------------ running
    def launch(
        self,
        executor: str | None = None,
        processes: int | None = None,
        progress: Callable[[int, int, str, str], None] | None = None,
        start: Callable[[str], None] | None = None,
        ready: Callable[[dict[str, Any]], None] | None = None,
        batch_size: int | str | None = None,
    ) -> Report:
        """Run every sample not yet written; returns the executor's :class:`Report`.

        The whole job is validated (:meth:`plan`) before ``config.json`` is written. Under
        MPI every rank calls this; only rank 0 (the controller) writes ``config.json`` and
        gets the full report.

        Args:
            executor, processes, batch_size: Override the configuration's.
            progress, start: Controller-side callbacks (see
                :func:`livn.workflows.executors.run_units`).
            ready: Called on the controller once the job is validated and ``config.json``
                written, with the context (``"samples"``, ``"todo"``, …), before any sample
                runs.
        """
        c = self.config
        kind = resolve_executor(executor or c.executor, BATCHED_EXECUTORS)
        size = limits.batch_size(c.batch_size if batch_size is None else batch_size)
        rank = mpi.rank() if kind == "mpi" else 0
        # Rank 0 validates and writes config.json; every rank gets the context, or raises the
        # error rank 0 raised (no rank is left waiting).
        prepare = functools.partial(self._prepare, processes, kind, size)
        context = mpi.root_then_bcast(prepare) if kind == "mpi" else prepare()
        if rank == 0 and ready is not None:
            ready(context)
        todo = [(i, f"sample_{i:06d}", {}) for i in context.pop("todo")]
        context = {**context, "output_directory": str(self.output_directory)}
        return run_units(
            todo, "livn.workflows.sample:run_sample", context, executor=kind,
            processes=processes or c.processes, nprocs_per_worker=c.nprocs_per_worker,
            progress=progress, start=start, batch_worker="livn.workflows.sample:BATCHED",
            batch_size=size,
        )  # fmt: skip

    def merge(self, include_voltage: bool = False, **kwargs: Any) -> Path:
        """Merge the samples into a Hugging Face dataset (:func:`livn.workflows.dataset.merge`)."""
        from livn.workflows.dataset import merge

        return Path(merge(self.output_directory, include_voltage=include_voltage, **kwargs))

    def publish(self, repo_id: str, **kwargs: Any) -> Any:
        """Upload the merged dataset (:func:`livn.workflows.dataset.publish`)."""
        from livn.workflows.dataset import publish

        return publish(self.output_directory, repo_id=repo_id, **kwargs)

    # ------------------------------------------------------------------ scale-out
    def cli_arguments(self) -> list[str]:
        """This job's configuration as ``key=value`` arguments of ``livn systems sample``."""
        data = self.config.model_dump(exclude_unset=True)
        data.pop("executor", None)
        data["output_directory"] = str(self.output_directory)
        return [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in data.items()]

    def mpi_command(self, resources: Mapping[str, Any] | None = None) -> list[str]:
        """``mpiexec -n N python -m livn systems sample ... executor=mpi --launch``."""
        n = _ranks(resources or {})
        from livn.workflows.executors import find_mpiexec

        launcher = find_mpiexec() or "mpiexec"
        return [launcher, "-n", str(n), sys.executable, "-m", "livn", "systems", "sample",
                *self.cli_arguments(), "executor=mpi", "--launch"]  # fmt: skip

    def slurm_script(self, resources: Mapping[str, Any] | None = None) -> str:
        """An sbatch script for this job (see :meth:`submit_slurm`)."""
        from livn.workflows.slurm import sbatch_script

        return sbatch_script(self, dict(resources or {}))

    def submit_slurm(self, resources: Mapping[str, Any] | None = None, submit: bool = True):
        """Write ``<output_directory>/slurm/sample.sbatch`` and submit it with ``sbatch``."""
        from livn.workflows.slurm import require_sbatch, sbatch_script
        from livn.workflows.slurm import submit as _submit

        if submit:
            require_sbatch()
        self.plan()  # the job, then the resources: both before config.json is written
        sbatch_script(self, dict(resources or {}))
        self._prepare()
        return _submit(self, dict(resources or {}), run=submit)


def _ranks(resources: Mapping[str, Any]) -> int:
    for key in ("-n", "--n", "n", "-np", "--np", "np", "--ntasks", "ntasks"):
        if key in resources:
            value = resources[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ConfigError(
                    f"resources {key}={value!r}: the number of MPI ranks must be an integer >= 2 "
                    "(one controller and at least one worker)."
                )
            return value
    if not resources:  # the seed's `export MPI_RANKS=8; livn systems mpi ...`, else all cores
        text = os.environ.get("MPI_RANKS", "").strip()
        if not text:
            return max(2, os.cpu_count() or 1)
        try:
            ranks = int(text)
        except ValueError:
            ranks = 0
        if ranks < 2:
            raise ConfigError(
                f"MPI_RANKS={text!r}: the number of MPI ranks must be an integer >= 2 (one "
                "controller and at least one worker); e.g. export MPI_RANKS=8, or pass "
                "resources='{\"-n\": 8}'."
            )
        return ranks
    raise ConfigError(
        "resources must give the number of MPI ranks, e.g. resources='{\"-n\": 4}' (without "
        f"resources: $MPI_RANKS, else all cores); got {dict(resources)!r}."
    )


# ---------------------------------------------------------------------------- worker side
_ENVS: dict[str, Any] = {}


def _env_for(context: Mapping[str, Any]):
    """The worker process's Env for this job (built and compiled once per process)."""
    key = _digest(identity(context))
    env = _ENVS.get(key)
    if env is None:
        from livn.env import Env

        model = None
        if context["model"] is not None:
            model = resolve_class(context["model"], "model")()
        env = Env(context["system"], model=model, seed=int(context["seed"])).init()
        env.apply_model_defaults()
        if not context["noise"]:
            env.set_noise({"enabled": False})
        record = context["record"]
        if "spikes" in record:
            env.record_spikes()
        if "voltage" in record:
            env.record_voltage()
        if "membrane_current" in record:
            env.record_membrane_current()
        _ENVS.clear()
        _ENVS[key] = env
    return env


def sample_features(context: Mapping[str, Any], encoding: Any, env: Any, seed: int):
    """The inputs of one sample (see the module docstring), or None."""
    from livn.encoding import NoInput

    rng = np.random.default_rng(seed)
    draw = getattr(encoding, "sample_inputs", None)
    if draw is not None:
        return draw(rng, env)
    if isinstance(encoding, NoInput):
        return None
    return rng.uniform(0.0, 1.0, size=env.io.num_channels).astype(np.float32)


def decoded_arrays(output: Any) -> dict[str, Any]:
    """A decoding's output as named arrays for a shard."""
    fields = getattr(output, "_fields", None)
    if fields is not None:  # a NamedTuple such as Recording
        return {f: getattr(output, f) for f in fields}
    if isinstance(output, Mapping):
        return {str(k): v for k, v in output.items()}
    if isinstance(output, tuple | list):
        return {f"output_{i}": v for i, v in enumerate(output)}
    return {"output": output}


class _Trial(NamedTuple):
    """One sample ready to run: its index, seed, features and stimulus."""

    index: int
    seed: int
    features: Any
    stimulus: Any


def _begin(context: Mapping[str, Any], env: Any, index: int) -> _Trial:
    """Clear ``env`` with sample ``index``'s seed, then draw its features and encode them."""
    seed = int(context["seed"]) + index
    env.clear(seed=seed)
    encoding = resolve_class(context["encoding"], "encoding")(**context["encoding_kwargs"])
    features = sample_features(context, encoding, env, seed)
    return _Trial(index, seed, features, encoding(env, float(context["duration"]), features))


def _finish(context: Mapping[str, Any], env: Any, trial: _Trial, result: Any) -> None:
    """Decode the run of ``trial`` and write its shard (atomically)."""
    duration = float(context["duration"])
    decoding = resolve_class(context["decoding"], "decoding")(
        duration=duration, **context["decoding_kwargs"]
    )
    arrays = decoded_arrays(decoding(env, *result))
    features = trial.features
    arrays["features"] = (
        np.zeros(0, np.float32) if features is None else np.asarray(features, np.float32)
    )
    meta = {
        "kind": "sample",
        "index": trial.index,
        "seed": trial.seed,
        "t_end": duration,
        "system": context["system_name"],
        "encoding": context["encoding"],
        "decoding": context["decoding"],
    }
    path = shards.shard_path(Path(context["output_directory"]) / SAMPLES_DIR, trial.index)
    shards.write_shard(path, arrays, meta)


def run_sample(context: Mapping[str, Any], unit: tuple[int, str, dict]) -> None:
    """Simulate sample ``unit[0]`` of the job ``context`` and write its shard."""
    env = _env_for(context)
    trial = _begin(context, env, int(unit[0]))
    _finish(context, env, trial, env.run(float(context["duration"]), trial.stimulus))


class SampleBatches:
    """The sampling job's :class:`~livn.workflows.executors.BatchWorker` (``BATCHED``): samples
    whose stimuli share a signature (:func:`livn.workflows.batching.signature`) run together
    through :meth:`livn.env.Env.run_batch` from the cleared Env, each with its own seed,
    features and stimulus — the single run of :func:`run_sample`, written the same way."""

    def batch_size(self, context: dict, requested: int | str, pending: int) -> int:
        from livn.workflows import batching

        env = _env_for(context)
        rec, duration = context["record"], float(context["duration"])
        what = (f"{duration:g} ms samples of {env.system.num_neurons:,} cells recording "
                f"{'+'.join(rec)}")  # fmt: skip
        return batching.resolve(env, duration, requested, pending, what, "voltage" in rec,
                                "membrane_current" in rec)["batch_size"]  # fmt: skip

    def prepare(self, context: dict, unit: tuple[int, str, dict]) -> tuple[Any, Any]:
        from livn.workflows import batching

        env = _env_for(context)
        trial = _begin(context, env, int(unit[0]))
        stimulus = batching.normalise(trial.stimulus, int(env.system.num_neurons))
        return batching.signature(stimulus), (trial, stimulus)

    def run(self, context: dict, batch: list[Any], size: int) -> list[Callable[[], None]]:
        from livn.workflows import batching

        env = _env_for(context)
        trials = [t for t, _ in batch]
        padded = batching.pad(env, batch, size)
        env.clear(seed=trials[0].seed)  # every trial starts from the state at t = 0
        results = env.run_batch(float(context["duration"]), batching.stack([s for _, s in padded]),
                                seeds=[t.seed for t, _ in padded])  # fmt: skip
        return [functools.partial(_finish, context, env, t, r)
                for t, r in zip(trials, results[: len(trials)], strict=True)]  # fmt: skip


#: The batch worker of ``executor=batched``.
BATCHED = SampleBatches()


def _quote(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)


def run_mpi(job: Sample, resources: Mapping[str, Any]) -> int:
    """Launch ``job`` under ``mpiexec`` (the seed's ``livn systems mpi sample ... --launch``)."""
    cmd = job.mpi_command(resources)
    if not os.path.isfile(cmd[0]) and shutil.which(cmd[0]) is None:
        raise ConfigError(
            "mpiexec was not found on PATH; install the MPI extra (pip install 'livn[mpi]') or "
            f"load your cluster's MPI module. The command would be: {_quote(cmd)}"
        )
    print(f"Running: {_quote(cmd)}", flush=True)
    proc = subprocess.Popen(cmd)
    try:
        return proc.wait()
    except KeyboardInterrupt as interrupt:
        # Ctrl+C reached mpiexec too, which hands it to every rank (rank 0 prints the one
        # line); SIGTERM (executors.Terminated) reached only us: pass it on. Then wait for the
        # ranks to stop; a second interrupt, or a minute, kills mpiexec.
        if getattr(interrupt, "signum", None) is not None:
            proc.terminate()
        try:
            return proc.wait(timeout=60)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            proc.kill()
            proc.wait()
            raise interrupt from None

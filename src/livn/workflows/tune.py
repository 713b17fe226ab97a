"""``tune``: multi-objective search of a system's synaptic weights and noise (seed 001).

The same configuration dict drives the Python API and the CLI::

    from livn.workflows import get

    study = get("tune", {"system": "EI2", "weights": 1, "stimulate": 1, "trials": 100,
                         "output_directory": "./ei2_tune"})
    study.launch()                 # local processes (all cores), or MPI under mpiexec
    print(study.inspect())         # the Pareto front and the command for the noise stage
    study.promote()                # the chosen point as the system's params/RCSD.json

**Search space.** With ``weights=1`` every projection with synapses gets a factor on its
weights (all its mechanisms: AMPA and NMDA keep their ratio), searched log-uniformly in
``[1/weight_range, weight_range]`` around the system's current defaults (what
:meth:`livn.env.Env.apply_model_defaults` applies: ``params/RCSD.json``, else the derived
defaults) times the fixed ``weight_scales``. With ``noise=1`` every population gets two
factors, ``POP-e`` on its excitatory background noise (``g_e0`` and ``std_e`` together) and
``POP-i`` on its inhibitory noise (``g_i0``, ``std_i``), in ``[1/noise_range, noise_range]``
around the defaults times ``noise_scales``.

**Objectives.** A trial is one short simulation: ``warmup`` ms from a cleared Env (noise
seed ``seed + n · seeds`` for trial number ``n``), then ``seeds`` independent runs of
``duration`` ms in one :meth:`~livn.env.Env.run_batch` call (noise seeds ``seed + n · seeds +
k``), and with ``stimulate=1`` the same runs under the standard electrode stimulus. Its
statistics (mean rate, ISI CV, synchrony, network bursts — :mod:`livn.decoding` — and the
evoked response per pulse) are averaged over the seeds; each objective is the distance of one
statistic to its target (a YAML file, default ``livn/workflows/tune_targets.yml``). The search
is Optuna's NSGA-II; :meth:`Tune.inspect` ranks the Pareto front by the total distance.

**One study, many processes.** The study is an Optuna journal file in the study directory
(``journal.log``, :class:`optuna.storages.JournalStorage`), which local worker processes, MPI
ranks and Slurm tasks append to. A launch runs one unit per missing trial through
:func:`livn.workflows.executors.run_units`; each unit asks the study for a trial (under a lock,
so the study never exceeds ``trials``), simulates it and tells the result. The sampler is
reseeded from ``seed`` and the trial number before each trial, so processes never propose the
same point and a serial study is reproducible. A killed launch resumes: its unfinished trials
(RUNNING in the journal, their process gone) are marked failed and the next launch runs only
the trials still missing. ``config.json`` holds the study's identity (system, search space,
targets, durations, seeds, the defaults it searched around); a directory holding a different
study is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from livn import _fs, limits, mpi
from livn._config import Count, Flag, Real, validate
from livn.errors import ConfigError, did_you_mean
from livn.workflows.executors import Report, resolve_executor, run_units
from livn.workflows.outputs import check_output_directory

__all__ = ["STATISTICS", "Tune", "TuneConfig", "load_targets", "objective_values", "run_trial"]

CONFIG_FILE = "config.json"
JOURNAL_FILE = "journal.log"
ASK_LOCK = "ask.lock"
STUDY_NAME = "livn-tune"
FORMAT = 1

#: Statistics a target may name, in objective order.
STATISTICS: tuple[str, ...] = ("rate", "isi_cv", "synchrony", "burst_rate", "response")
#: Configuration keys that do not change what the study is.
RUNTIME_KEYS = ("trials", "output_directory", "nprocs_per_worker", "executor", "processes",
                "allow_large", "targets_file", "targets_default")  # fmt: skip
#: A RUNNING trial of another host counts as abandoned after this many estimated trial
#: durations (and at least an hour); one of this host is abandoned as soon as its process is
#: gone.
STALE_TRIALS = 20
#: Times a trial proposal that repeats an earlier point is asked again (see :func:`run_trial`).
MAX_REPEATS = 20
MAX_RANKS_PER_WORKER = 4096


def _switch(value: Any) -> Any:
    """The seed's ``weights=1 noise=0``: 0/1 or true/false (not ``1.0``, not ``"yes"``)."""
    import numpy as np

    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and int(value) in (0, 1):
        return bool(value)
    raise ValueError("must be 0 or 1 (or true/false), e.g. weights=1 noise=0")


#: A stage switch: ``0``/``1`` as the seed writes them, or ``true``/``false``.
Switch = Annotated[bool, BeforeValidator(_switch), Field(strict=True)]


# ---------------------------------------------------------------------------- targets
class Target(BaseModel):
    """The target of one statistic (see ``tune_targets.yml`` for the rules)."""

    model_config = ConfigDict(extra="forbid")

    goal: Real | None = Field(None, gt=0)
    min: Real | None = None
    max: Real | None = None
    scale: Literal["linear", "log"] = "linear"
    missing: Real = Field(1.0, ge=0)
    chance_margin: Real | None = Field(None, ge=0)
    chance_factor: Real | None = Field(None, ge=0)
    window_ms: Real | None = Field(None, gt=0)
    stimulus: dict[str, Any] | None = None


def _targets_path(path: str | None) -> Path | None:
    return None if path is None else Path(os.path.expanduser(path)).resolve()


def load_targets(source: str | os.PathLike | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The targets as a plain dict: from a YAML file, a mapping, or the shipped defaults.

    Raises:
        ConfigError: Naming the file, the key and the valid choices, for a missing or
            unreadable file, an unknown statistic or key, a target without ``goal``/``min``/
            ``max``, ``min > max``, a log scale with a bound <= 0, or a bad response stimulus.
    """
    import yaml

    where = "the shipped targets"
    if source is None:
        text = resources.files("livn.workflows").joinpath("tune_targets.yml").read_text("utf-8")
        data = yaml.safe_load(text)
    elif isinstance(source, Mapping):
        data, where = dict(source), "targets"
    else:
        path = Path(os.path.expanduser(os.fspath(source)))
        where = f"targets file {path}"
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(
                f"cannot read {where}: {getattr(e, 'strerror', None) or e}. Give a YAML file "
                "of targets (see livn/workflows/tune_targets.yml), or leave targets out for the "
                "defaults."
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{where} is not valid YAML: {e}") from None
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(
            f"{where} must be a mapping of statistics ({', '.join(STATISTICS)}) to targets; "
            f"got {type(data).__name__}."
        )
    out: dict[str, Any] = {}
    for name, spec in data.items():
        if name not in STATISTICS:
            raise ConfigError(
                f"{where}: unknown statistic {name!r}. Valid: {', '.join(STATISTICS)}."
                f"{did_you_mean(str(name), STATISTICS)}"
            )
        if not isinstance(spec, Mapping):
            raise ConfigError(
                f"{where}: target {name!r} must be a mapping (goal, min, max, scale, missing"
                f"{', window_ms, stimulus' if name == 'response' else ''}); got {spec!r}."
            )
        target = validate(Target, spec, f"target {name!r} in {where}")
        t = target.model_dump(exclude_none=True)
        if target.goal is None and target.min is None and target.max is None:
            raise ConfigError(f"{where}: target {name!r} needs a goal, a min or a max.")
        if target.min is not None and target.max is not None and target.min > target.max:
            raise ConfigError(
                f"{where}: target {name!r} has min {target.min:g} > max {target.max:g}."
            )
        if target.scale == "log" and any(v is not None and v <= 0 for v in (target.min, target.max)):
            raise ConfigError(f"{where}: target {name!r} on a log scale needs min/max > 0.")
        if target.chance_margin is not None and name != "synchrony":
            raise ConfigError(f"{where}: chance_margin applies to synchrony only, not {name!r}.")
        if target.chance_factor is not None and name != "burst_rate":
            raise ConfigError(f"{where}: chance_factor applies to burst_rate only, not {name!r}.")
        if name == "response":
            t.setdefault("window_ms", 30.0)
            t.setdefault("stimulus", {})
        elif target.window_ms is not None or target.stimulus is not None:
            raise ConfigError(
                f"{where}: window_ms and stimulus belong to the response target, not {name!r}."
            )
        out[str(name)] = t
    return {k: out[k] for k in STATISTICS if k in out}


def _bounds(name: str, target: Mapping[str, Any], stats: Mapping[str, float]) -> tuple:
    lo, hi = target.get("min"), target.get("max")
    if hi is not None and name == "synchrony" and target.get("chance_margin") is not None:
        chance = stats.get("synchrony_chance", math.nan)
        if math.isfinite(chance):
            hi = max(hi, chance + target["chance_margin"])
    if hi is not None and name == "burst_rate" and target.get("chance_factor") is not None:
        chance = stats.get("burst_rate_chance", math.nan)
        if math.isfinite(chance):
            hi = max(hi, chance * target["chance_factor"])
    return lo, hi


def distance(name: str, target: Mapping[str, Any], stats: Mapping[str, float]) -> float:
    """The objective of one statistic: its distance to ``target`` (0 on target)."""
    x = stats.get(name, math.nan)
    if x is None or not math.isfinite(x):
        return float(target.get("missing", 1.0))
    log = target.get("scale") == "log"
    lo, hi = _bounds(name, target, stats)
    ref = [v for v in (target.get("goal"), lo, hi) if v is not None and v > 0]
    floor = (min(ref) if ref else 1.0) * 1e-3

    def f(v: float) -> float:
        return math.log(max(v, floor)) if log else v

    if target.get("goal") is not None:
        return abs(f(x) - f(target["goal"]))
    d = 0.0
    if lo is not None:
        d = max(d, f(lo) - f(x))
    if hi is not None:
        d = max(d, f(x) - f(hi))
    return float(d)


def within(name: str, target: Mapping[str, Any], stats: Mapping[str, float]) -> bool:
    """Whether the statistic lies in its target range (its goal's range, or min/max)."""
    x = stats.get(name, math.nan)
    if x is None or not math.isfinite(x):
        return False
    lo, hi = _bounds(name, target, stats)
    return (lo is None or x >= lo) and (hi is None or x <= hi)


def objective_values(stats: Mapping[str, float], targets: Mapping[str, Any],
                     objectives: list[str]) -> list[float]:  # fmt: skip
    """``[distance of each objective]`` for a trial's statistics."""
    return [distance(name, targets[name], stats) for name in objectives]


# ---------------------------------------------------------------------------- configuration
class TuneConfig(BaseModel):
    """Configuration of a tuning study (see the module docstring).

    Attributes:
        system: Predefined name (``EI2``) or path of a system directory.
        weights: Search the weight of every projection (``1``/``0`` or ``true``/``false``).
        noise: Search the background noise of every population.
        stimulate: Add the response to the standard electrode stimulus as an objective.
        trials: Complete trials the study should have; a relaunch without it keeps the
            study's count, with a larger one extends the study.
        population_size: NSGA-II generation size.
        weight_range, noise_range: Factors are searched in ``[1/range, range]`` (> 1).
        weight_scales: Fixed factors per projection (``"EXC->INH": 1.3``) on the defaults,
            the centre of the search (the noise stage gets the weights stage's choice here).
        noise_scales: Fixed noise factors per population (``"EXC-e"``, ``"INH-i"``).
        targets: YAML file of targets (or a mapping); default the shipped targets.
        duration: Simulated ms per run, after the warm-up.
        warmup: Discarded ms before the runs (the cells relax from rest).
        seeds: Independent noise seeds per trial (one batched run).
        seed: Base seed of the noise and of the sampler.
        output_directory: The study directory (``config.json``, ``journal.log``).
        nprocs_per_worker, executor, processes, allow_large: As for ``livn systems sample``.
    """

    model_config = ConfigDict(extra="forbid")

    system: str | None = None
    weights: Switch = True
    noise: Switch = False
    stimulate: Switch = False
    trials: Count = Field(100, ge=1)
    population_size: Count = Field(16, ge=2, le=100_000)
    weight_range: Real = Field(4.0, gt=1, le=1e6)
    noise_range: Real = Field(2.0, gt=1, le=1e6)
    weight_scales: dict[str, Real] = Field(default_factory=dict)
    noise_scales: dict[str, Real] = Field(default_factory=dict)
    targets: str | dict[str, Any] | None = None
    duration: Real = Field(2000.0, gt=0)
    warmup: Real = Field(300.0, ge=0)
    seeds: Count = Field(2, ge=1, le=1024)
    seed: Count = Field(0, ge=0, le=limits.MAX_SEED)
    output_directory: str | None = None
    nprocs_per_worker: Count = Field(1, ge=1, le=MAX_RANKS_PER_WORKER)
    executor: str = "auto"
    processes: Count | None = Field(None, ge=1)
    allow_large: Flag = False

    @field_validator("system", "output_directory")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "\x00" in value):
            raise ValueError("must be a non-empty name or path")
        return value

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: Any) -> Any:
        if isinstance(value, str) and (not value.strip() or "\x00" in value):
            raise ValueError("must be the path of a YAML file of targets")
        return value

    @field_validator("weight_scales", "noise_scales")
    @classmethod
    def _scales(cls, value: dict[str, float]) -> dict[str, float]:
        for key, v in value.items():
            if not v > 0 or v > 1e6:
                raise ValueError(f"factor {key!r}: {v!r} must be > 0 and <= 1e6")
        return value

    @field_validator("executor")
    @classmethod
    def _executor(cls, value: str) -> str:
        from livn.workflows.executors import EXECUTORS

        if value not in EXECUTORS:
            raise ValueError(
                f"valid executors: {', '.join(EXECUTORS)}{did_you_mean(value, EXECUTORS)}"
            )
        return value

    @field_validator("processes")
    @classmethod
    def _processes(cls, value: int | None) -> int | None:
        from livn.workflows.sample import max_processes

        most = max_processes()
        if value is not None and value > most:
            raise ValueError(
                f"at most {most} local worker processes (4 per core on this machine); more only "
                "oversubscribe the cores and multiply memory use"
            )
        return value


#: Keys of config.json that rebuild a :class:`TuneConfig` (see :meth:`Tune.open`).
_CONFIG_KEYS = ("system", "weights", "noise", "stimulate", "trials", "population_size",
                "weight_range", "noise_range", "weight_scales", "noise_scales", "targets",
                "duration", "warmup", "seeds", "seed", "nprocs_per_worker")  # fmt: skip


def identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a resolved configuration that determines what the study is."""
    return {k: v for k, v in config.items() if k not in RUNTIME_KEYS}


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _read_study(path: Path) -> dict[str, Any] | None:
    """The ``config.json`` of a tuning study, ``None`` if there is none."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(
            f"{path} exists but is not a livn tuning study's config.json ({type(e).__name__}: "
            f"{e}); livn does not overwrite it. Choose another output_directory."
        ) from None
    if not isinstance(data, dict) or data.get("workflow") != "tune":
        what = data.get("workflow") if isinstance(data, dict) else None
        raise ConfigError(
            f"{path.parent} holds {'a livn ' + repr(what) + ' job' if what else 'a config.json'}"
            ", not a tuning study; livn does not overwrite it. Choose another output_directory."
        )
    return data


# ---------------------------------------------------------------------------- search space
def _projections(system) -> list[str]:
    """Projections with synapses, ``"PRE->POST"``, in graph order."""
    return [f"{p.pre}->{p.post}" for p in system.graph.projections if p.num_edges > 0]


def _noise_keys(system) -> list[str]:
    return [f"{p.name}-{k}" for p in system.graph.populations if p.count > 0 for k in "ei"]


#: Noise parameters a noise factor ``POP-e`` / ``POP-i`` scales.
NOISE_GROUPS = {"e": ("g_e0", "std_e"), "i": ("g_i0", "std_i")}


def _param(kind: str, key: str) -> str:
    return f"{'w' if kind == 'weights' else 'n'}:{key}"


def _check_keys(given: Mapping[str, Any], valid: list[str], what: str, example: str) -> None:
    bad = [k for k in given if k not in valid]
    if bad:
        raise ConfigError(
            f"{what}: unknown key {bad[0]!r}. Valid: {', '.join(valid) or 'none'} ({example})."
            f"{did_you_mean(bad[0], valid)}"
        )


def point(context: Mapping[str, Any], factors: Mapping[str, float]) -> dict[str, dict]:
    """The explicit ``{"weights", "noise"}`` of a trial: the defaults the study searched
    around, times the fixed scales, times the trial's factors (``{param name: factor}``)."""
    from livn.system.synapses import weight_name

    base = context["base"]
    weights = dict(base["weights"])
    wscale = {**{k: 1.0 for k in context["projections"]}, **context["weight_scales"]}
    for key in context["projections"]:
        f = wscale[key] * float(factors.get(_param("weights", key), 1.0))
        if f == 1.0:
            continue
        pre, post = key.split("->")
        for p in context["mechanisms"][key]:
            name = weight_name(post, pre, p[0], p[1])
            weights[name] = float(f"{base['weights'][name] * f:.6g}")
    noise = dict(base["noise"])
    for key in context["noise_keys"]:
        f = context["noise_scales"].get(key, 1.0) * float(factors.get(_param("noise", key), 1.0))
        if f == 1.0:
            continue
        pop, _, group = key.rpartition("-")
        for name in NOISE_GROUPS[group]:
            value = base["noise"].get(f"{pop}-{name}", base["noise"][name])
            noise.pop(f"{pop}-{name}", None)
            noise[f"{pop}-{name}"] = float(f"{value * f:.6g}")
    return {"weights": weights, "noise": noise}


# ---------------------------------------------------------------------------- the study
class Tune:
    """A tuning study (see the module docstring).

    Args:
        config: A dict (or :class:`TuneConfig`) with the keys of :class:`TuneConfig`.
        **overrides: Keys that override ``config``.
    """

    name = "tune"

    def __init__(self, config: Mapping[str, Any] | TuneConfig | None = None, **overrides: Any):
        if isinstance(config, TuneConfig):
            config = config.model_dump(exclude_unset=True)
        self.config: TuneConfig = validate(
            TuneConfig, {**(config or {}), **overrides}, "tune config"
        )

    @classmethod
    def open(cls, output_directory: str | os.PathLike, **overrides: Any) -> Tune:
        """The study in ``output_directory`` (its ``config.json``), with ``overrides`` (which
        must not change what the study is; :meth:`plan` refuses that)."""
        out = Path(os.path.expanduser(os.fspath(output_directory))).resolve()
        stored = _read_study(out / CONFIG_FILE)
        if stored is None:
            raise ConfigError(
                f"{out} holds no tuning study (no config.json); give the study's "
                "output_directory, or system=... and --launch to start one."
            )
        base = {k: stored[k] for k in _CONFIG_KEYS if k in stored}
        if stored.get("targets_default"):
            base.pop("targets", None)
        job = cls({**base, **overrides, "output_directory": str(out)})
        job._stored = stored
        job._overridden = bool(set(overrides) - {"trials", "executor", "processes",
                                                 "allow_large", "nprocs_per_worker"})
        return job

    # ------------------------------------------------------------------ configuration
    @property
    def output_directory(self) -> Path:
        """Absolute path of the study directory (default ``./<system name>_tune``, as the seed's
        ``livn systems mpi tune system=./systems/data/S1 ... --launch`` gives none)."""
        if self.config.output_directory is None:
            name = Path(str(self.config.system or "").rstrip("/\\")).name
            if not name:
                raise ConfigError(
                    "output_directory is required without a system: the study directory, "
                    "e.g. output_directory=./ei2_tune."
                )
            return Path(f"{name}_tune").resolve()
        return Path(os.path.expanduser(self.config.output_directory)).resolve()

    @property
    def journal(self) -> Path:
        return self.output_directory / JOURNAL_FILE

    def resolved(self) -> dict[str, Any]:
        """The study's configuration as saved in ``config.json``: the resolved system, the
        targets' content, the search space and the defaults it is centred on."""
        from livn.env import Env
        from livn.system import make
        from livn.workflows.sample import resolve_system

        c = self.config
        if c.system is None:
            raise ConfigError(
                "system is required: a predefined name (system=EI2) or a system directory "
                "(system=./my_system)."
            )
        if not c.weights and not c.noise:
            raise ConfigError(
                "weights=0 noise=0 leaves nothing to tune; set weights=1 (the synaptic weights) "
                "and/or noise=1 (the background noise)."
            )
        system_ref = resolve_system(c.system)
        targets_file = c.targets if isinstance(c.targets, str) else None
        targets = load_targets(_targets_path(targets_file) if targets_file else c.targets)
        objectives = [k for k in targets if k != "response" or c.stimulate]
        if c.stimulate and "response" not in targets:
            raise ConfigError(
                "stimulate=1 needs a 'response' target (window_ms, stimulus, min/max) in the "
                "targets; add one or set stimulate=0."
            )
        if not objectives:
            raise ConfigError("the targets leave no objective; give at least one statistic.")
        system = make(system_ref).check()
        if system.num_neurons < 1:
            raise ConfigError(f"system {c.system!r} has no cells.")
        projections = _projections(system)
        noise_keys = _noise_keys(system)
        _check_keys(c.weight_scales, projections, "weight_scales", 'e.g. {"EXC->INH": 1.5}')
        _check_keys(c.noise_scales, noise_keys, "noise_scales", 'e.g. {"EXC-e": 1.2}')
        if c.weights and not projections:
            raise ConfigError(
                f"system {c.system!r} has no synapses: weights=1 has nothing to tune; use "
                "weights=0 noise=1."
            )
        from livn.system.synapses import weight_name

        mechanisms = {f"{p.pre}->{p.post}": [[p.section, m] for m in p.mechanisms]
                      for p in system.graph.projections if p.num_edges > 0}  # fmt: skip
        base = Env(system).model_defaults()
        for key, pairs in mechanisms.items():
            pre, post = key.split("->")
            for section, m in pairs:
                if weight_name(post, pre, section, m) not in base.get("weights", {}):
                    raise ConfigError(
                        f"the defaults of {c.system!r} lack the weight "
                        f"{weight_name(post, pre, section, m)!r}; regenerate params/RCSD.json."
                    )
        from livn.models.rcsd.defaults import defaults_source

        space: dict[str, list[float]] = {}
        if c.weights:
            for key in projections:
                space[_param("weights", key)] = [1.0 / c.weight_range, float(c.weight_range)]
        if c.noise:
            for key in noise_keys:
                space[_param("noise", key)] = [1.0 / c.noise_range, float(c.noise_range)]
        return {
            "workflow": "tune",
            "format": FORMAT,
            "system": system_ref,
            "system_name": system.name,
            "defaults_source": defaults_source(system)[0],
            "weights": bool(c.weights),
            "noise": bool(c.noise),
            "stimulate": bool(c.stimulate),
            "trials": int(c.trials),
            "population_size": int(c.population_size),
            "weight_range": float(c.weight_range),
            "noise_range": float(c.noise_range),
            "weight_scales": {k: float(v) for k, v in c.weight_scales.items()},
            "noise_scales": {k: float(v) for k, v in c.noise_scales.items()},
            "targets": targets,
            "targets_default": c.targets is None,
            "targets_file": str(_targets_path(targets_file)) if targets_file else None,
            "objectives": objectives,
            "duration": float(c.duration),
            "warmup": float(c.warmup),
            "seeds": int(c.seeds),
            "seed": int(c.seed),
            "projections": projections,
            "mechanisms": mechanisms,
            "noise_keys": noise_keys,
            "space": space,
            "base": base,
            "nprocs_per_worker": int(c.nprocs_per_worker),
        }

    def plan(self, processes: int | None = None) -> dict[str, Any]:
        """Validate the whole study and say what a launch would do; writes nothing.

        Checks the configuration, the targets, the system (every file read), the search space
        against it, the integration step against ``duration``/``warmup``, the standard
        stimulus against the MEA and ``duration``, the output directory (a different study or
        foreign files there are refused), the seeds, the memory of one trial and the executor.

        Returns:
            ``{"resolved", "trials", "complete", "running", "failed", "todo", "num_cells",
            "seconds_per_trial", "estimated_seconds", "memory_per_trial", "workers"}``.
        """
        from livn.models.rcsd import ReducedCalciumSomaDendrite
        from livn.workflows import estimates

        c = self.config
        resolved = self.resolved()
        out = check_output_directory(self.output_directory, CONFIG_FILE,
                                     temporaries=(JOURNAL_FILE,))  # fmt: skip
        old = _read_study(out / CONFIG_FILE)
        if old is not None and identity(old) != identity(resolved):
            diff = sorted(
                k for k in set(identity(old)) | set(identity(resolved))
                if old.get(k) != resolved.get(k)
            )  # fmt: skip
            hint = ""
            if "base" in diff:
                hint = (
                    " (the system's defaults changed since the study began, e.g. by a "
                    "promote: start a new study around them)"
                )
            raise ConfigError(
                f"{out} already holds a different tuning study (differs in {', '.join(diff)})"
                f"{hint}; choose another output_directory, or delete that study if you no "
                "longer need it."
            )
        explicit = "trials" in c.model_fields_set
        previous = int(old["trials"]) if old is not None else None
        target = c.trials if explicit or previous is None else previous
        resolved["trials"] = target
        limits.check_units(target, f"tuning study {out.name!r}", "trials", "Lower trials",
                           c.allow_large)  # fmt: skip
        last = c.seed + (target + 1) * c.seeds - 1
        if last > limits.MAX_SEED:
            raise ConfigError(
                f"seed + trials · seeds = {last} exceeds the largest seed {limits.MAX_SEED} "
                "(2**32 - 1); lower seed, trials or seeds."
            )
        model = ReducedCalciumSomaDendrite()
        dt, record_dt = float(model.dt), float(model.record_dt)
        n_steps = limits.steps(c.duration, dt, "duration", "Lower duration (ms per run)")
        if c.warmup > 0:
            limits.steps(c.warmup, dt, "warmup", "Lower warmup")
        from livn.system import make

        system = make(resolved["system"])
        n_cells = int(system.num_neurons)
        memory = limits.run_bytes(n_cells, n_steps, dt, record_dt, batch=c.seeds)
        limits.check_memory(
            memory, f"one trial ({c.seeds} runs of {c.duration:g} ms, {n_cells:,} cells)",
            "Shorten duration or use fewer seeds", c.allow_large,
        )  # fmt: skip
        if c.stimulate:
            _standard_stimulus(resolved["targets"]["response"], system, c.duration)
        counts = _journal_counts(self.journal)
        todo = max(0, target - counts["complete"] - counts["running"])
        kind = resolve_executor(c.executor)
        if kind == "serial":
            processes = 1
        elif kind == "mpi":
            from livn.workflows.executors import mpi_world_size

            processes = max(1, (mpi_world_size() - 1) // c.nprocs_per_worker)
        workers = estimates.worker_count(todo, processes or c.processes)
        sim_ms = c.warmup + c.seeds * c.duration * (2 if c.stimulate else 1)
        per_trial = estimates.run_seconds("RCSD", n_cells, sim_ms)
        seconds = (estimates.STARTUP_S if todo else 0.0) + todo * per_trial / workers
        limits.check_disk(4096 * todo, out, f"tuning study {out.name!r}", "Lower trials",
                          c.allow_large)  # fmt: skip
        return {"resolved": resolved, "trials": resolved["trials"], **counts, "todo": todo,
                "num_cells": n_cells, "seconds_per_trial": per_trial, "simulated_ms": sim_ms,
                "estimated_seconds": seconds, "memory_per_trial": memory,
                "workers": workers}  # fmt: skip

    def dry_run(self, stream: Any = None, processes: int | None = None) -> dict[str, Any]:
        """Print what :meth:`launch` would do, with a time estimate; write nothing."""
        from livn.workflows import estimates

        stream = stream or sys.stdout
        plan = self.plan(processes)
        r = plan["resolved"]
        p = lambda *a: print(*a, file=stream)  # noqa: E731
        p(f"Dry run of a tuning study (nothing is written): {self.output_directory}")
        p(f"Trials: {plan['trials']:,} ({plan['complete']:,} complete, {plan['running']:,} "
          f"running, {plan['failed']:,} failed; {plan['todo']:,} to run)")  # fmt: skip
        p(f"System: {r['system_name']} ({plan['num_cells']:,} cells), defaults "
          f"{r['defaults_source']}")  # fmt: skip
        p(f"Search: {_describe_space(r)}; NSGA-II, population {r['population_size']}, "
          f"seed {r['seed']}")  # fmt: skip
        p(f"Objectives (distances to {'the shipped targets' if r['targets_default'] else 'targets'}"
          f"): {', '.join(r['objectives'])}")  # fmt: skip
        p(f"Each trial: {r['warmup']:g} ms warm-up, then {r['seeds']} x {r['duration']:g} ms "
          f"(one batched run){' spontaneous and stimulated' if r['stimulate'] else ''}")  # fmt: skip
        p(f"Estimated run time: ~{estimates.human_time(plan['estimated_seconds'])} on "
          f"{plan['workers']} worker process(es) (~{plan['seconds_per_trial']:.1f} s per trial "
          f"on one core, {estimates.STARTUP_S:.0f} s start-up)")  # fmt: skip
        p(f"Memory per trial: ~{limits.human_bytes(plan['memory_per_trial'])} (limit "
          f"{limits.human_bytes(limits.memory_budget())}, {limits.MEMORY_VAR})")  # fmt: skip
        return plan

    # ------------------------------------------------------------------ the journal
    def _storage(self):
        return _storage(str(self.journal))

    def study(self):
        """The Optuna study (read from the journal)."""
        from livn.errors import require

        optuna = require("optuna", "tune")
        if not self.journal.is_file():
            raise ConfigError(
                f"{self.output_directory} holds no trials yet (no {JOURNAL_FILE}); launch the "
                "study first (--launch)."
            )
        _quiet(optuna)
        return optuna.load_study(study_name=STUDY_NAME, storage=self._storage())

    def _prepare(self) -> dict[str, Any]:
        """:meth:`plan`, then write ``config.json`` and create (or resume) the study; the
        context sent to the workers."""
        from livn.errors import require

        optuna = require("optuna", "tune")
        _quiet(optuna)
        plan = self.plan()
        out = self.output_directory
        resolved = plan["resolved"]
        _fs.write_json(out / CONFIG_FILE, resolved)
        _fs.clean_temp(out, [CONFIG_FILE])
        _fs.clean_temp(out / "slurm", ["tune.sbatch"])
        _repair_journal(self.journal)
        storage = self._storage()
        optuna.create_study(study_name=STUDY_NAME, storage=storage, load_if_exists=True,
                            directions=["minimize"] * len(resolved["objectives"]))  # fmt: skip
        with _ask_lock(out):  # no trial is being asked for meanwhile
            stale = _fail_stale(optuna, storage, plan["seconds_per_trial"])
        counts = _journal_counts(self.journal)
        todo = max(0, resolved["trials"] - counts["complete"] - counts["running"])
        return {**resolved, "todo": todo, "stale": stale, **counts}

    def trials(self, states: tuple[str, ...] = ("COMPLETE",)) -> list[Any]:
        """The study's trials in the given states (``COMPLETE``, ``FAIL``, ``RUNNING``)."""
        from optuna.trial import TrialState

        wanted = tuple(TrialState[s] for s in states)
        return self.study().get_trials(deepcopy=False, states=wanted)

    # ------------------------------------------------------------------ running
    def launch(
        self,
        executor: str | None = None,
        processes: int | None = None,
        progress: Callable[[int, int, str, str], None] | None = None,
        start: Callable[[str], None] | None = None,
        ready: Callable[[dict[str, Any]], None] | None = None,
    ) -> Report:
        """Run the trials the study still misses; returns the executor's :class:`Report`.

        The study is validated (:meth:`plan`) before anything is written. Under MPI every rank
        calls this; rank 0 writes ``config.json`` and creates the study.

        Args:
            executor, processes: Override the configuration's.
            progress, start: Controller-side callbacks (see :func:`run_units`).
            ready: Called on the controller once the study is ready, with the context
                (``"trials"``, ``"todo"``, ``"complete"``, ``"stale"``, …).
        """
        c = self.config
        kind = resolve_executor(executor or c.executor)
        rank = mpi.rank() if kind == "mpi" else 0
        context = mpi.root_then_bcast(self._prepare) if kind == "mpi" else self._prepare()
        if rank == 0 and ready is not None:
            ready(context)
        todo = [(k, f"trial_{k:06d}", {}) for k in range(context.pop("todo"))]
        context = {**context, "output_directory": str(self.output_directory)}
        return run_units(
            todo, "livn.workflows.tune:run_trial", context, executor=kind,
            processes=processes or c.processes, nprocs_per_worker=c.nprocs_per_worker,
            progress=progress, start=start,
        )  # fmt: skip

    # ------------------------------------------------------------------ results
    def _context(self) -> dict[str, Any]:
        """The study's ``config.json`` (after checking that this configuration is that study)."""
        stored = getattr(self, "_stored", None)
        if stored is not None and getattr(self, "_overridden", False):
            self.plan()  # the keys given with the study directory must not make another study
            self._overridden = False
        if stored is None:
            stored = _read_study(self.output_directory / CONFIG_FILE)
            if stored is None:
                raise ConfigError(
                    f"{self.output_directory} holds no tuning study yet; launch it first."
                )
            self.plan()  # refuses a config that is not this study
            self._stored = stored
        return stored

    def pareto(self) -> list[Any]:
        """The Pareto-optimal complete trials, lowest total distance first."""
        front = self.study().best_trials
        return sorted(front, key=lambda t: (sum(t.values), t.number))

    def choose(self, trial: int | None = None):
        """Trial ``trial`` (a complete one), or the Pareto trial of lowest total distance."""
        complete = {t.number: t for t in self.trials()}
        if not complete:
            raise ConfigError(
                f"{self.output_directory} has no complete trial yet; launch the study first."
            )
        if trial is None:
            return self.pareto()[0]
        number = limits.integer(trial, "trial", 0)
        if number not in complete:
            raise ConfigError(
                f"trial {number} is not a complete trial of this study; complete trials: "
                f"{_ranges(sorted(complete))}."
            )
        return complete[number]

    def point(self, trial: int | None = None) -> dict[str, dict[str, float]]:
        """``{"weights", "noise"}`` of a trial (default: the chosen Pareto trial), in the
        format of ``params/RCSD.json``."""
        t = self.choose(trial)
        return point(self._context(), t.params)

    def continue_command(self, trial: int | None = None, output_directory: str | None = None,
                         ) -> list[str]:  # fmt: skip
        """``livn systems tune ...`` arguments for the noise stage around a trial's weights:
        ``weights=0 noise=1`` with the chosen weight factors as ``weight_scales``."""
        r = self._context()
        t = self.choose(trial)
        scales = dict(r["weight_scales"])
        for key in r["projections"]:
            f = scales.get(key, 1.0) * float(t.params.get(_param("weights", key), 1.0))
            if f != 1.0:
                scales[key] = float(f"{f:.6g}")
        out = output_directory or f"{self.output_directory}-noise"
        args = [f"system={r['system']}", "weights=0", "noise=1",
                f"stimulate={int(r['stimulate'])}", f"trials={r['trials']}",
                f"population_size={r['population_size']}", f"noise_range={r['noise_range']:g}",
                f"weight_scales={json.dumps(scales, separators=(',', ':'))}"]  # fmt: skip
        if r["noise_scales"]:
            args.append(f"noise_scales={json.dumps(r['noise_scales'], separators=(',', ':'))}")
        if not r["targets_default"]:
            path = r.get("targets_file")
            if path and Path(path).is_file() and _same_targets(path, r["targets"]):
                args.append(f"targets={path}")
            else:
                args.append(f"targets={json.dumps(r['targets'], separators=(',', ':'))}")
        args += [f"duration={r['duration']:g}", f"warmup={r['warmup']:g}",
                 f"seeds={r['seeds']}", f"seed={r['seed']}", f"output_directory={out}"]  # fmt: skip
        return ["livn", "systems", "tune", *args, "--launch"]

    def inspect(self, trial: int | None = None, limit: int = 20) -> str:
        """The study's state, its Pareto front (best total distance first) and the commands
        that continue with the noise stage and promote the chosen trial."""
        r = self._context()
        study = self.study()
        all_trials = study.get_trials(deepcopy=False)
        states: dict[str, int] = {}
        for t in all_trials:
            states[t.state.name] = states.get(t.state.name, 0) + 1
        complete = states.get("COMPLETE", 0)
        others = "".join(f", {n} {_STATE_WORDS.get(s, s.lower())}"
                         for s, n in sorted(states.items()) if s != "COMPLETE")  # fmt: skip
        lines = [
            f"Tuning study {self.output_directory}",
            f"System: {r['system_name']} ({r['system']}); searched around its "
            f"{r['defaults_source']} defaults",
            f"Search: {_describe_space(r)}",
            f"Trials: {complete}/{r['trials']} complete{others}",
            f"Objectives (distance to target, lower is better): {', '.join(r['objectives'])}",
        ]
        if not complete:
            lines.append("No complete trial yet: launch the study (--launch).")
            return "\n".join(lines)
        front = self.pareto()
        chosen = self.choose(trial)
        params = list(r["space"])
        header = ["trial", "total", *r["objectives"], *(_label(p) for p in params)]
        rows = []
        shown = front[:limit]
        if chosen.number not in {t.number for t in shown}:
            shown.append(chosen)
        for t in shown:
            stats = t.user_attrs.get("stats", {})
            mark = "*" if t.number == chosen.number else ""
            ok = t.user_attrs.get("within", {})
            row = [f"{t.number}{mark}", f"{sum(t.values):.3f}"]
            row += [f"{_fmt_stat(stats.get(s), ok.get(s))} ({v:.3f})"
                    for s, v in zip(r["objectives"], t.values, strict=True)]  # fmt: skip
            row += [f"{t.params[p]:.3g}" for p in params]
            rows.append(row)
        lines.append("")
        more = f" (first {limit})" if len(front) > limit else ""
        lines.append(f"Pareto front: {len(front)} of {complete} complete trials{more}, lowest "
                     "total distance first. Each statistic: value (distance to target), + within "
                     "the target range; factors on the defaults; * chosen:")  # fmt: skip
        lines += _table(header, rows)
        lines.append("")
        first = min((t for t in self.trials()), key=lambda t: t.number)
        lines.append(
            f"Chosen: trial {chosen.number}, total distance {sum(chosen.values):.3f} (first "
            f"trial {first.number}: {sum(first.values):.3f}); pick another with --trial N."
        )
        if r["weights"]:
            lines.append("Continue with the noise stage using these weights:")
            lines.append("  " + " ".join(shlex.quote(a) for a in self.continue_command(trial)))
        lines.append("Make it the system's defaults (params/RCSD.json):")
        promote = ["livn", "systems", "tune", f"output_directory={self.output_directory}",
                   "--promote", "--trial", str(chosen.number)]  # fmt: skip
        lines.append("  " + " ".join(shlex.quote(a) for a in promote))
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike | None = None, trial: int | None = None) -> Path:
        """Save the objectives of every complete trial, pairwise, with the Pareto front and
        the chosen trial marked (default ``<output_directory>/pareto.png``)."""
        from livn.errors import require

        require("matplotlib", "plot")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        r = self._context()
        trials = self.trials()
        if not trials:
            raise ConfigError(f"{self.output_directory} has no complete trial to plot yet.")
        front = {t.number for t in self.pareto()}
        chosen = self.choose(trial).number
        names = r["objectives"]
        values = np.array([t.values for t in trials])
        is_front = np.array([t.number in front for t in trials])
        is_chosen = np.array([t.number == chosen for t in trials])
        pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))] or [(0, 0)]
        cols = min(3, len(pairs))
        rows_n = math.ceil(len(pairs) / cols)
        fig, axes = plt.subplots(rows_n, cols, figsize=(4 * cols, 3.5 * rows_n), squeeze=False)
        for ax, (i, j) in zip(axes.flat, pairs, strict=False):
            xs = values[:, i] if i != j else np.array([t.number for t in trials])
            ys = values[:, j]
            ax.scatter(xs[~is_front], ys[~is_front], s=10, c="0.7", label="trials")
            ax.scatter(xs[is_front], ys[is_front], s=16, c="tab:red", label="Pareto front")
            ax.scatter(xs[is_chosen], ys[is_chosen], s=120, marker="*", c="k", label="chosen")
            ax.set_xlabel(names[i] if i != j else "trial")
            ax.set_ylabel(names[j])
        for ax in list(axes.flat)[len(pairs):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(f"{r['system_name']}: distances to target ({len(trials)} trials)")
        fig.tight_layout()
        target = Path(path) if path else self.output_directory / "pareto.png"
        fig.savefig(target, dpi=100)
        plt.close(fig)
        return target

    def promote(self, trial: int | None = None, overwrite: bool = False) -> dict[str, Any]:
        """Make a trial (default: the chosen Pareto trial) the system's model defaults.

        For a system directory: writes ``params/RCSD.json`` (atomically; an existing, different
        file only with ``overwrite``), which :meth:`livn.env.Env.apply_model_defaults` then
        applies. A predefined system's directory is a cache rebuilt from its shipped config,
        so for one nothing is written: the result's ``"block"`` is the ``defaults:`` block to
        paste into ``livn/system/configs/<NAME>.yml``.

        Returns:
            ``{"trial", "params", "path" (None for a predefined system), "block"}``.
        """
        import yaml

        from livn.system import make
        from livn.system.predefined import PREDEFINED, cache_dir

        r = self._context()
        t = self.choose(trial)
        params = point(r, t.params)
        system = make(r["system"])
        block = _defaults_block(params)
        text_block = yaml.safe_dump({"defaults": {"RCSD": block}}, sort_keys=False, width=100)
        location = Path(system.uri)
        cached = r["system"] in PREDEFINED or _inside(location, cache_dir())
        result = {"trial": t.number, "params": params, "path": None, "block": text_block}
        if cached:
            return result
        if "://" in str(system.uri):
            raise ConfigError(
                f"cannot write params/RCSD.json into {system.uri} (a URL); copy the system to "
                "a local directory, or write the returned params yourself."
            )
        path = location / "params" / "RCSD.json"
        if path.is_file() and not overwrite:
            try:
                same = json.loads(path.read_text("utf-8")) == params
            except (OSError, ValueError):
                same = False
            if not same:
                raise ConfigError(
                    f"{path} exists with other parameters; add --overwrite (overwrite=True) to "
                    "replace it (the current file is kept as params/RCSD.previous.json)."
                )
        if path.is_file():
            previous = path.with_name("RCSD.previous.json")
            with _fs.atomic_write(previous, "w") as f:
                f.write(path.read_text("utf-8"))
        path.parent.mkdir(exist_ok=True)
        with _fs.atomic_write(path, "w") as f:
            f.write(json.dumps(params, indent=2) + "\n")
        result["path"] = str(path)
        return result

    # ------------------------------------------------------------------ scale-out
    def cli_arguments(self) -> list[str]:
        """This study's configuration as ``key=value`` arguments of ``livn systems tune``."""
        data = self.config.model_dump(exclude_unset=True)
        data.pop("executor", None)
        data["output_directory"] = str(self.output_directory)
        out = []
        for k, v in data.items():
            if isinstance(v, bool):  # the seed's spelling: weights=1 noise=0
                text = str(int(v))
            else:
                text = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
            out.append(f"{k}={text}")
        return out

    def mpi_command(self, resources: Mapping[str, Any] | None = None) -> list[str]:
        """``mpiexec -n N python -m livn systems tune ... executor=mpi --launch``."""
        from livn.workflows.executors import find_mpiexec
        from livn.workflows.sample import _ranks

        n = _ranks(resources or {})
        launcher = find_mpiexec() or "mpiexec"
        return [launcher, "-n", str(n), sys.executable, "-m", "livn", "systems", "tune",
                *self.cli_arguments(), "executor=mpi", "--launch"]  # fmt: skip

    def submit_slurm(self, resources: Mapping[str, Any] | None = None, submit: bool = True):
        """Write ``<output_directory>/slurm/tune.sbatch`` and submit it with ``sbatch``."""
        from livn.workflows.slurm import require_sbatch
        from livn.workflows.slurm import submit as _submit

        if submit:
            require_sbatch()
        self._prepare()
        return _submit(self, dict(resources or {}), run=submit)


# ---------------------------------------------------------------------------- helpers
def _quiet(optuna) -> None:
    import warnings

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _inside(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


def _storage(journal: str):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(journal))


def _repair_journal(path: Path) -> None:
    """Cut a journal line that a killed writer left half-written (no newline at the end)."""
    if not path.is_file():
        return
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        f.truncate(data.rfind(b"\n") + 1)


def _journal_counts(path: Path) -> dict[str, int]:
    """Trials by state, read from the journal without Optuna (zeros if there is none)."""
    counts = {"complete": 0, "running": 0, "failed": 0}
    if not path.is_file():
        return counts
    from livn.errors import require

    optuna = require("optuna", "tune")
    _quiet(optuna)
    try:
        study = optuna.load_study(study_name=STUDY_NAME, storage=_storage(str(path)))
    except KeyError:  # the journal holds no study yet
        return counts
    for t in study.get_trials(deepcopy=False):
        name = {"COMPLETE": "complete", "RUNNING": "running", "FAIL": "failed"}.get(t.state.name)
        if name:
            counts[name] += 1
    return counts


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _ask_lock(directory: Path) -> Iterator[None]:
    """Hold the study's ask lock (a symlink, safe on NFS): trials are asked for one at a time.

    A lock left by a killed process is broken after Optuna's grace period (30 s). Its target
    file must exist, or Optuna's lock spins without sleeping instead of breaking a stale one.
    """
    from optuna.storages.journal import JournalFileSymlinkLock

    target = directory / ASK_LOCK
    target.touch(exist_ok=True)
    lock = JournalFileSymlinkLock(str(target))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _fail_stale(optuna, storage, seconds_per_trial: float) -> list[int]:
    """Mark RUNNING trials whose process is gone as FAIL; returns their numbers.

    Called holding :func:`_ask_lock`: a trial that has not recorded its worker yet was asked
    for by a process killed inside the lock, so it is stale. A trial of this host is stale when
    its process no longer runs; a trial of another host when it is older than
    :data:`STALE_TRIALS` estimated trial durations (at least an hour).
    """
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
    host = socket.gethostname()
    now = datetime.now()
    stale = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = t.user_attrs.get("worker") or {}
        age = (now - t.datetime_start).total_seconds() if t.datetime_start else math.inf
        if worker.get("host") == host:
            dead = not _pid_alive(int(worker.get("pid", 0)))
        elif not worker:
            dead = True
        else:
            dead = age > max(3600.0, STALE_TRIALS * seconds_per_trial)
        if dead:
            try:
                # the mark first: a finished trial can no longer be updated
                storage.set_trial_system_attr(t._trial_id, "livn_abandoned", True)
                storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            except Exception:  # finished meanwhile by its (live) process
                continue
            stale.append(t.number)
    return stale


_STATE_WORDS = {"FAIL": "failed", "RUNNING": "running",
                "PRUNED": "skipped (repeated an earlier point; asked again)"}  # fmt: skip


def _describe_space(r: Mapping[str, Any]) -> str:
    parts = []
    if r["weights"]:
        parts.append(f"weights of {len(r['projections'])} projection(s) x 1/{r['weight_range']:g}"
                     f"..{r['weight_range']:g}")  # fmt: skip
    elif r["weight_scales"]:
        parts.append(f"weights fixed at {json.dumps(r['weight_scales'])}")
    else:
        parts.append("weights fixed")
    if r["noise"]:
        parts.append(f"noise of {len(r['noise_keys'])} group(s) x 1/{r['noise_range']:g}"
                     f"..{r['noise_range']:g}")  # fmt: skip
    elif r["noise_scales"]:
        parts.append(f"noise fixed at {json.dumps(r['noise_scales'])}")
    else:
        parts.append("noise fixed")
    return ", ".join(parts) + " (factors on the defaults, log-uniform)"


def _label(param: str) -> str:
    kind, _, key = param.partition(":")
    return key if kind == "w" else f"noise {key}"


def _fmt_stat(value: Any, ok: bool | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"  # e.g. no cell fired 3 spikes, so no ISI CV (scored as `missing`)
    return f"{value:.3g}{'+' if ok else ''}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = lambda cells: "  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return [fmt(header), *(fmt(r) for r in rows)]


def _ranges(numbers: list[int]) -> str:
    if len(numbers) > 12:
        return f"{', '.join(map(str, numbers[:10]))}, … ({len(numbers)} in all)"
    return ", ".join(map(str, numbers))


def _same_targets(path: str, targets: Mapping[str, Any]) -> bool:
    try:
        return load_targets(path) == targets
    except ConfigError:
        return False


def _defaults_block(params: Mapping[str, Any]) -> dict[str, Any]:
    """A config ``defaults: RCSD:`` block that resolves to exactly ``params``
    (:func:`livn.system.predefined.resolve_defaults`): full weight keys, and the noise entries
    that differ from the SPEC §2.5 built-ins."""
    from livn.models.rcsd.model import NOISE_DEFAULTS

    noise = {k: v for k, v in params["noise"].items() if NOISE_DEFAULTS.get(k) != v}
    block: dict[str, Any] = {"weights": dict(params["weights"])}
    if noise:
        block["noise"] = noise
    return block


def _standard_stimulus(target: Mapping[str, Any], system, duration: float):
    """The response target's ElectrodePulses and its pulse onsets (ms) in a run of
    ``duration``; ConfigError if it does not fit the system's MEA or the run."""
    from livn.encoding import ElectrodePulses
    from livn.io import MEA
    from livn.workflows.sample import _construct

    enc = _construct(ElectrodePulses, "response stimulus", dict(target.get("stimulus") or {}))
    mea = MEA.from_directory(system.uri) if system.has_mea else MEA()
    channels = enc.channels or ()
    bad = [ch for ch in channels if ch >= mea.num_channels]
    if bad:
        raise ConfigError(
            f"response stimulus channel {bad[0]} does not exist: the MEA has "
            f"{mea.num_channels} channels (0 … {mea.num_channels - 1})."
        )
    try:
        onsets = enc.onsets(duration) * enc.dt
    except ConfigError as e:
        raise ConfigError(f"response stimulus in a run of duration={duration:g} ms: {e}") from None
    window = float(target["window_ms"])
    onsets = onsets[onsets + window <= duration]
    if onsets.size == 0:
        raise ConfigError(
            f"no pulse of the response stimulus and its {window:g} ms window fits in "
            f"duration={duration:g} ms; raise duration or lower the stimulus onset_ms."
        )
    return enc, onsets


# ---------------------------------------------------------------------------- worker side
_CACHE: dict[str, Any] = {}


def _env_for(context: Mapping[str, Any]):
    """The worker process's Env for this study (built and compiled once per process)."""
    key = _digest([context["system"], context["seed"]])
    env = _CACHE.get(f"env:{key}")
    if env is None:
        from livn.env import Env

        env = Env(context["system"], seed=int(context["seed"])).init().record_spikes()
        _CACHE.clear()
        _CACHE[f"env:{key}"] = env
    return env


def _study_for(context: Mapping[str, Any]):
    key = f"study:{context['output_directory']}"
    study = _CACHE.get(key)
    if study is None:
        import optuna

        _quiet(optuna)
        journal = str(Path(context["output_directory"]) / JOURNAL_FILE)
        sampler = _sampler(int(context["seed"]), int(context["population_size"]))
        study = optuna.load_study(study_name=STUDY_NAME, storage=_storage(journal),
                                  sampler=sampler)  # fmt: skip
        _CACHE[key] = study
    return study


def _sampler(seed: int, population_size: int):
    """NSGA-II whose random streams are reseeded from ``seed`` and the trial number before
    each trial: parallel processes never propose the same point, and a serial study repeats."""
    from optuna.samplers import NSGAIISampler

    class TrialSeededNSGAII(NSGAIISampler):
        def before_trial(self, study, trial):
            s = (seed * 1_000_003 + trial.number * 7_919 + 1) % 2**32
            for rng in (getattr(self, "_rng", None),
                        getattr(getattr(self, "_random_sampler", None), "_rng", None)):  # fmt: skip
                if rng is not None:
                    rng.rng.seed(s)
            super().before_trial(study, trial)

    return TrialSeededNSGAII(population_size=population_size, seed=seed)


def _shifted(it: np.ndarray, t: np.ndarray, duration: float, seed: int):
    """Surrogate trains: each cell's spikes circularly shifted by a random offset."""
    rng = np.random.default_rng(seed)
    _, inv = np.unique(it, return_inverse=True)
    shift = rng.uniform(0.0, duration, size=int(inv.max()) + 1 if inv.size else 0)
    return it, np.mod(t + shift[inv], duration) if inv.size else t


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def evaluate(env, context: Mapping[str, Any], params: Mapping[str, Any], number: int) -> dict:
    """Simulate trial ``number`` with ``params`` (``{"weights", "noise"}``) and return its
    statistics, averaged over its noise seeds (see the module docstring)."""
    from livn import decoding as D

    n = int(env.system.num_neurons)
    duration = float(context["duration"])
    first = int(context["seed"]) + number * int(context["seeds"])
    seeds = [first + k for k in range(int(context["seeds"]))]
    env.clear(seed=first)
    env.set_weights(params["weights"])
    env.set_noise(params["noise"])
    if float(context["warmup"]) > 0:
        env.run(float(context["warmup"]))
    runs = env.run_batch(duration, seeds=seeds)
    per: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        per.setdefault(name, []).append(float(value))

    spont = []
    for k, (it, t, *_) in enumerate(runs):
        it = np.asarray(it, np.int64)
        t = np.asarray(t, np.float64)
        rate = D.population_rate(it, t, n, duration)
        spont.append(rate)
        add("rate", rate)
        add("isi_cv", D.isi_cv(it, t))
        add("synchrony", D.synchrony(it, t, duration))
        add("burst_rate", D.burst_rate(it, t, n, duration))
        add("active", len(np.unique(it)) / n)
        sit, st = _shifted(it, t, duration, seeds[k])
        add("synchrony_chance", D.synchrony(sit, st, duration))
        add("burst_rate_chance", D.burst_rate(sit, st, n, duration))
        for pop, (start, count) in env.system.population_ranges.items():
            if count:
                sel = (it >= start) & (it < start + count)
                add(f"rate_{pop}", sel.sum() / (count * duration / 1000.0))
    if context["stimulate"]:
        target = context["targets"]["response"]
        enc, onsets = _standard_stimulus(target, env.system, duration)
        window = float(target["window_ms"])
        stimulated = env.run_batch(duration, enc(env, duration, None), seeds=seeds)
        for k, (_it, t, *_) in enumerate(stimulated):
            t = np.asarray(t, np.float64)
            evoked = [np.count_nonzero((t >= o) & (t < o + window)) / n for o in onsets]
            add("response", float(np.mean(evoked)) - spont[k] * window / 1000.0)
            add("rate_stimulated", len(t) / (n * duration / 1000.0))
    return {name: _mean(values) for name, values in per.items()}


def run_trial(context: Mapping[str, Any], unit: tuple[int, str, dict]) -> None:
    """Run one trial of the study ``context`` (ask, simulate, tell); nothing if the study
    already has its ``trials`` (complete or running).

    A proposal that repeats the point of a complete or running trial (NSGA-II's crossover can
    copy a parent unchanged) is recorded as PRUNED and the study is asked again, up to
    :data:`MAX_REPEATS` times, so the complete trials are distinct points.
    """
    from optuna.trial import TrialState

    study = _study_for(context)
    with _ask_lock(Path(context["output_directory"])):
        busy = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
        if len(busy) >= int(context["trials"]):
            return
        seen = {tuple(sorted(t.params.items())) for t in busy}
        for _ in range(MAX_REPEATS + 1):
            trial = study.ask()
            factors = {name: trial.suggest_float(name, lo, hi, log=True)
                       for name, (lo, hi) in context["space"].items()}  # fmt: skip
            if tuple(sorted(factors.items())) not in seen:
                break
            study.tell(trial, state=TrialState.PRUNED)  # a repeat: ask again
        trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
    try:
        t0 = time.perf_counter()
        env = _env_for(context)
        stats = evaluate(env, context, point(context, factors), trial.number)
        targets = context["targets"]
        values = objective_values(stats, targets, context["objectives"])
        trial.set_user_attr("stats", {k: (v if math.isfinite(v) else None)
                                      for k, v in stats.items()})  # fmt: skip
        trial.set_user_attr("within", {k: within(k, targets[k], stats)
                                       for k in context["objectives"]})  # fmt: skip
        trial.set_user_attr("wall_s", round(time.perf_counter() - t0, 3))
        study.tell(trial, values)
    except BaseException:
        try:
            study.tell(trial, state=TrialState.FAIL)
        except Exception:
            pass
        raise

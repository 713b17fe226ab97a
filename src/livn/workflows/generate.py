"""``generate``: build a 3D layered system from a YAML config, give it an MEA, export it (seed 002).

The same configuration drives the Python API and the CLI::

    from livn.workflows import get

    gen = get("generate", {"config": "systems/config/S1.yml"})
    gen.launch()    # builds ./systems/graphs/S1 (graph.json, cells.h5, connections.h5, ...)
    gen.mea()       # writes mea.json (the config's mea block, or a grid fitted to the area)
    gen.export()    # copies the system to ./systems/data/S1 (never overwrites)
    gen.submit_slurm({"-t": "1:00:00"})  # or all of it as one Slurm job (see submit_slurm)

``config`` is a YAML file in the seed's format (see :mod:`livn.system.layered.config`), or the
name of a config shipped with livn (``S1`` … ``S4``, ``CA1``); a path that does not exist whose
file name is a shipped config (the seed's ``systems/config/S1.yml`` in a fresh clone) falls
back to the shipped one, as sampling does for ``./systems/graphs/EI2``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from livn import _fs
from livn._config import Count, validate
from livn.errors import ConfigError, did_you_mean
from livn.system.graph import GRAPH_FILE
from livn.system.layered import LayeredConfig, from_dict, load, write_layered
from livn.system.system import System
from livn.system.writing import check_target, generator_of

__all__ = ["Generate", "GenerateJob", "resolve_config"]

#: Where ``launch`` writes a system without ``output_directory`` (``./systems/graphs/<name>``).
DEFAULT_ROOT = Path("systems") / "graphs"
#: Where ``export`` copies a system without a destination (``./systems/data/<name>``).
EXPORT_ROOT = Path("systems") / "data"
#: ``resources`` keys (without leading dashes) that set the job's task or node count; without
#: one the script asks for one task.
_TASK_KEYS = frozenset({"n", "ntasks", "ntasks-per-node", "N", "nodes"})
#: ``resources`` keys of a sampling job that make no sense for one process.
_NOT_FOR_GENERATE = frozenset({"a", "array", "launcher"})


class GenerateJob(BaseModel):
    """The keys of a ``generate`` job (``livn systems generate key=value ...``)."""

    model_config = ConfigDict(extra="forbid")

    config: str = Field(description="YAML config file, or a shipped config name (S1 … S4, CA1)")
    output_directory: str | None = Field(
        default=None, description="where the system is written (default ./systems/graphs/NAME)"
    )
    seed: Count | None = Field(default=None, ge=0, le=2**32 - 1, description="overrides the config's")

    @field_validator("config", "output_directory")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "\x00" in value):
            raise ValueError("must be a path, e.g. systems/config/S1.yml or ./my_system")
        return value


def resolve_config(value: str | os.PathLike) -> Path:
    """The config file for ``value``: an existing file, else the shipped config of that name.

    Raises:
        ConfigError: Neither an existing file nor a shipped config name.
    """
    from livn.system.predefined import LAYERED, shipped_config

    text = os.fspath(value)
    path = Path(os.path.expanduser(text))
    try:
        if path.is_file():
            return path.resolve()
        exists = path.exists()
    except (OSError, ValueError) as e:
        raise ConfigError(f"config {text!r} cannot be read: {e}.") from None
    if exists:
        raise ConfigError(f"config {text!r} is a directory; give the path of a YAML file.")
    stem = path.name
    for suffix in (".yml", ".yaml"):
        stem = stem.removesuffix(suffix)
    if stem in LAYERED and path.name in (stem, f"{stem}.yml", f"{stem}.yaml"):
        return shipped_config(stem)
    raise ConfigError(
        f"config {text!r} does not exist. Give a YAML file, or a config shipped with livn "
        f"({', '.join(LAYERED)}).{did_you_mean(stem, LAYERED)}"
    )


class Generate:
    """A 3D layered system generation job.

    Args:
        config: ``{"config": PATH or NAME, "output_directory": ..., "seed": ...}``.
        **overrides: Keys that override ``config``.

    The system config is read and checked here, so a bad file is reported before anything
    is written.
    """

    name = "generate"

    def __init__(self, config: Mapping[str, Any] | None = None, **overrides: Any):
        self.job: GenerateJob = validate(GenerateJob, {**(config or {}), **overrides},
                                         "generate config")  # fmt: skip
        self.config_path: Path = resolve_config(self.job.config)
        system = load(self.config_path)
        if self.job.seed is not None and self.job.seed != system.seed:
            from livn.system.layered.loader import load_config

            data, sources = load_config(self.config_path)
            data["seed"] = self.job.seed
            system = from_dict(data, str(self.config_path), sources, name=self.config_path.stem)
        self.system_config: LayeredConfig = system

    @property
    def output_directory(self) -> str:
        """Absolute path of the system directory."""
        out = self.job.output_directory or str(DEFAULT_ROOT / str(self.system_config.name))
        return os.path.abspath(os.path.expanduser(out))

    def launch(self, overwrite: bool = False) -> System:
        """Build the system (a no-op if the directory already holds this exact config).

        The output directory is checked like every job's
        (:func:`livn.workflows.outputs.check_location`).
        """
        from livn.workflows.outputs import check_location

        out = check_location(self.output_directory, system=True)
        return System(write_layered(self.system_config, out, overwrite=overwrite))

    def check_launch(self, overwrite: bool = False) -> Path:
        """The output directory if :meth:`launch` may write there; raises what it would raise."""
        from livn.workflows.outputs import check_location

        out = check_location(self.output_directory, system=True)
        check_target(out, self.system_config.generator_record(), overwrite)
        return out

    @property
    def system(self) -> System:
        """The generated system; raises if :meth:`launch` has not run."""
        path = self.output_directory
        if not os.path.exists(os.path.join(path, GRAPH_FILE)):
            raise ConfigError(
                f"no system at {path}; generate it first (`livn systems generate "
                f"config={self.job.config} --launch` or .launch())."
            )
        return System(path)

    def _mea(self, pitch: float | None, z: float | None, radius: float | None):
        from livn.io.mea import MEA
        from livn.system.layered.config import mea_from_spec

        bounds = self.system_config.bounds
        if pitch is None and z is None and radius is None and self.system_config.mea:
            return mea_from_spec(self.system_config.mea, bounds)
        pitch = 1000.0 if pitch is None else pitch
        return MEA.fitted(bounds[0], bounds[1], pitch=pitch, z=175.0 if z is None else z,
                          radius=radius)  # fmt: skip

    def check_mea(
        self, pitch: float | None = None, z: float | None = None, radius: float | None = None
    ):
        """The MEA :meth:`mea` would write, from the config alone; bad options raise."""
        return self._mea(pitch, z, radius)

    def mea(
        self,
        pitch: float | None = None,
        z: float | None = None,
        radius: float | None = None,
        overwrite: bool = False,
    ):
        """Write ``mea.json``.

        Without options: the config's ``mea`` block, else a grid of pitch 1000 µm fitted to the
        area (largest power of two per axis) at z = 175 µm. With ``pitch``/``z``/``radius``: a
        fitted grid with those (``radius`` default ``pitch / 4``). An existing, different
        ``mea.json`` is kept unless ``overwrite=True``.
        """
        from livn.io.mea import MEA

        system = self.system
        mea = self._mea(pitch, z, radius)
        if system.has_mea:
            old = MEA.from_directory(system.uri)
            if old.to_dict() == mea.to_dict():
                return old
            if not overwrite:
                raise ConfigError(
                    f"{system.uri}/mea.json already exists with a different layout "
                    f"({old.describe()}). Pass overwrite=True (--overwrite) to replace it."
                )
        mea.save(system.uri)
        return mea

    def export_target(self, destination: str | os.PathLike | None = None) -> Path:
        """Where :meth:`export` copies the system.

        ``None``: ``./systems/data/<name>``; a bare name (no ``/``): ``./systems/data/NAME``;
        a directory (``DIR/``, ``./DIR``, ``.``, or an existing directory that is not a
        system): ``DIR/<name>``.
        """
        name = str(self.system_config.name)
        if destination is None or os.fspath(destination) == "":
            return (EXPORT_ROOT / name).resolve()
        text = os.path.expanduser(os.fspath(destination))
        path = Path(text)
        if "/" in text or os.sep in text or text in (".", "..") or (
            path.is_dir() and not (path / GRAPH_FILE).exists()
        ):  # fmt: skip
            return (path / name).resolve()
        return (EXPORT_ROOT / text).resolve()

    def check_export(self, destination: str | os.PathLike | None = None) -> Path:
        """The export target if :meth:`export` may write there; raises otherwise."""
        from livn.workflows.outputs import check_location

        target = check_location(self.export_target(destination), system=True)
        if target.exists():
            graph = target / GRAPH_FILE
            same = graph.is_file() and generator_of(target) == self.system_config.generator_record()
            if not same:
                what = "another system" if graph.is_file() else "files"
                raise ConfigError(
                    f"export destination {target} already exists and holds {what}; livn never "
                    "overwrites it. Choose another name or directory (--export NAME or DIR/)."
                )
        return target

    def export(self, destination: str | os.PathLike | None = None) -> str:
        """Copy the generated system (with its ``mea.json`` and ``params/``) to a systems
        directory, atomically; returns the new path.

        A destination holding this same system is left as it is; any other existing
        destination is refused (nothing is overwritten).
        """
        source = self.system
        target = self.check_export(destination)
        if target.exists():
            return str(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name[:64]}.export-", dir=target.parent))
        try:
            shutil.copytree(source.uri, tmp / "system")
            os.rename(tmp / "system", target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return str(target)

    def plot(
        self,
        show_connections: bool = True,
        show_mea: bool = True,
        max_edges: int = 5000,
        ax: Any | None = None,
        path: str | os.PathLike | None = None,
    ):
        """Plot the system seen from above (see :func:`livn.system.plot.plot_system`); save to
        ``path`` if given."""
        from livn.system.plot import plot_system

        fig = plot_system(self.system, show_connections=show_connections, show_mea=show_mea,
                          max_edges=max_edges, ax=ax)  # fmt: skip
        if path is not None:
            fig.savefig(os.fspath(path), dpi=150, bbox_inches="tight")
        return fig

    def inspect(self) -> str:
        """The generated system's summary."""
        return self.system.summary()

    def cli_arguments(self) -> list[str]:
        """This job as ``livn systems generate`` arguments, with absolute paths."""
        args = [f"config={self.config_path}", f"output_directory={self.output_directory}"]
        return args + ([] if self.job.seed is None else [f"seed={self.job.seed}"])

    @property
    def script_path(self) -> Path:
        """Where :meth:`submit_slurm` writes the script: ``<output_directory>.sbatch``."""
        out = Path(self.output_directory)
        return out.with_name(f"{out.name}.sbatch")

    def sbatch_script(
        self, resources: Mapping[str, Any] | None = None, flags: Sequence[str] = ("--launch",)
    ) -> str:
        """The sbatch script that runs ``livn systems generate <this job> <flags>`` once.

        Args:
            resources: sbatch options (``{"-t": "1:00:00", "-p": "normal"}``), rendered like a
                sampling job's; ``--ntasks=1`` unless they set the task or node count.
            flags: ``livn systems generate`` flags (``--launch``, ``--mea``, ``--export=NAME``…).
        """
        from livn.workflows.slurm import _option

        resources = dict(resources or {})
        for key in resources:
            if str(key).lstrip("-") in _NOT_FOR_GENERATE:
                raise ConfigError(
                    f"resources {key}: the 3D generator is one process, run once (no job array, "
                    "no launcher); remove this key."
                )
        options = [o for k, v in resources.items() if (o := _option(str(k), v))]
        out = self.output_directory
        lines = ["#!/bin/bash", "#SBATCH --job-name=livn-generate",
                 f"#SBATCH --output={out}-%j.out"]  # fmt: skip
        if not any(str(k).lstrip("-") in _TASK_KEYS for k in resources):
            lines.append("#SBATCH --ntasks=1")
        command = [sys.executable, "-m", "livn", "systems", "generate", *self.cli_arguments(),
                   *flags]  # fmt: skip
        lines += [*options, "", "set -euo pipefail", f"cd {shlex.quote(os.getcwd())}",
                  " ".join(shlex.quote(a) for a in command)]  # fmt: skip
        return "\n".join(lines) + "\n"

    def submit_slurm(
        self,
        resources: Mapping[str, Any] | None = None,
        flags: Sequence[str] = ("--launch",),
        submit: bool = True,
        overwrite: bool = False,
    ) -> tuple[Path, str | None]:
        """Write :attr:`script_path` (see :meth:`sbatch_script`) and submit it with sbatch.

        Everything is checked before the script is written: sbatch on PATH (when ``submit``),
        the resources and, with ``--launch``, the output directory. An existing, different
        script is refused unless ``overwrite=True``, which also passes ``--overwrite`` to the
        job (replace an existing, different system or ``mea.json``).

        Returns:
            ``(script path, sbatch's output or None)``.
        """
        from livn.workflows.slurm import require_sbatch, run_sbatch

        sbatch = require_sbatch() if submit else None
        flags = [*flags, *(["--overwrite"] if overwrite and "--overwrite" not in flags else [])]
        text = self.sbatch_script(resources, flags)
        if "--launch" in flags:
            self.check_launch(overwrite="--overwrite" in flags)
        else:
            from livn.workflows.outputs import check_location

            check_location(self.output_directory, system=True)
        path = self.script_path
        if path.is_dir():
            raise ConfigError(f"{path} is a directory; choose another output_directory.")
        try:
            old = path.read_text(encoding="utf-8") if path.exists() else None
        except (OSError, UnicodeDecodeError):
            old = ""  # unreadable: never the same script
        if old is not None and old != text and not overwrite:
            raise ConfigError(
                f"{path} already exists and is not the script of this job; livn never replaces "
                "it silently. Pass --overwrite (overwrite=True) to replace it, or choose another "
                "output_directory."
            )
        if old != text:
            with _fs.atomic_write(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        return path, run_sbatch(path, sbatch) if sbatch is not None else None

    def describe(self) -> dict[str, Any]:
        """The resolved job: config file, output directory and the system's configuration."""
        return {
            "config": str(self.config_path),
            "output_directory": self.output_directory,
            "cells": self.system_config.population_counts(),
            "cells_per_layer": self.system_config.layer_counts(),
            "system": self.system_config.generator_record(),
        }

"""Slurm: an sbatch script for a sampling job (seed 000 "Running at scale") or a tuning study.

``resources`` maps sbatch options to values, as in the seed
(``{"--nodes": 2, "--ntasks-per-node": 56, "-p": "normal", "-t": "4:00:00"}``). Two layouts:

* **MPI job** (default): one allocation; ``srun`` (or ``resources["launcher"]``, e.g.
  ``"mpiexec"``) starts ``livn systems sample ... executor=mpi --launch`` on every task: one
  controller and ``(ntasks - 1) / nprocs_per_worker`` workers.
* **Job array** (``"--array": K``): K independent tasks; task ``k`` runs the samples
  ``i`` with ``i % K == k`` in local worker processes (``--cpus-per-task`` of them when set).
  For a tuning study (``livn systems tune``) every task runs trials of the one shared study
  until it has its ``trials``.

Either way every sample is written independently and atomically, so tasks can fail, be
requeued or resubmitted: a resubmission skips the samples already written.

A 3D generation job (``livn systems slurm generate``) is one process: its script is written by
:meth:`livn.workflows.generate.Generate.submit_slurm`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from livn import _fs
from livn.errors import ConfigError

__all__ = ["SCRIPT_NAME", "require_sbatch", "run_sbatch", "sbatch_script", "submit"]

SCRIPT_NAME = "sample.sbatch"
_OPTION = re.compile(r"^-{0,2}[A-Za-z][A-Za-z0-9-]*$")


def _option(key: str, value: Any) -> str:
    if not _OPTION.match(key):
        raise ConfigError(f"resources key {key!r} is not an sbatch option (e.g. --nodes, -p).")
    if isinstance(value, bool):
        if not value:
            return ""
        flag = key if key.startswith("-") else f"--{key}"
        return f"#SBATCH {flag}"
    text = str(value)
    if "\n" in text:
        raise ConfigError(f"resources {key}: value must be a single line; got {text!r}.")
    if key.startswith("--") or (not key.startswith("-") and len(key) > 1):
        return f"#SBATCH --{key.lstrip('-')}={text}"
    return f"#SBATCH -{key.lstrip('-')} {shlex.quote(text)}"


def sbatch_script(job: Any, resources: dict[str, Any]) -> str:
    """The sbatch script for ``job`` (a :class:`~livn.workflows.sample.Sample` or
    :class:`~livn.workflows.tune.Tune`: its ``name`` is the ``livn systems`` command)."""
    resources = dict(resources)
    launcher = str(resources.pop("launcher", "srun"))
    array = None
    for key in ("--array", "array"):
        if key in resources:
            array = resources.pop(key)
    out = job.output_directory
    logs = out / "slurm"
    name = getattr(job, "name", "sample")
    lines = ["#!/bin/bash", f"#SBATCH --job-name=livn-{name}"]
    pattern = "%x-%A_%a.out" if array is not None else "%x-%j.out"
    lines.append(f"#SBATCH --output={logs / pattern}")
    lines += [o for k, v in resources.items() if (o := _option(k, v))]
    python = shlex.quote(sys.executable)
    args = " ".join(shlex.quote(a) for a in job.cli_arguments())
    if array is not None:
        if isinstance(array, bool) or not isinstance(array, int) or array < 1:
            raise ConfigError(
                f"resources --array must be the number of tasks (>= 1); got {array!r}."
            )
        lines.append(f"#SBATCH --array=0-{array - 1}")
        lines.append("")
        lines.append("set -euo pipefail")
        tasks = "" if name != "sample" else (
            f"task_index=$SLURM_ARRAY_TASK_ID task_count={array} "
        )  # fmt: skip
        lines.append(
            f"{python} -m livn systems {name} {args} executor=local "
            f"{tasks}processes=${{SLURM_CPUS_PER_TASK:-1}} --launch"
        )
    else:
        lines.append("")
        lines.append("set -euo pipefail")
        lines.append(
            f"{shlex.quote(launcher)} {python} -m livn systems {name} {args} executor=mpi --launch"
        )
    return "\n".join(lines) + "\n"


def require_sbatch() -> str:
    """The path of ``sbatch``, or :class:`ConfigError` saying how to proceed without it."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise ConfigError(
            "sbatch was not found on PATH: submit from a Slurm login node, or write the script "
            "only (--no-submit / submit_slurm(..., submit=False)) and submit it there."
        )
    return sbatch


def submit(job: Any, resources: dict[str, Any], run: bool = True) -> tuple[Path, str | None]:
    """Write ``<output_directory>/slurm/<name>.sbatch`` (``sample.sbatch``, ``tune.sbatch``)
    and (``run``) submit it with sbatch.

    Returns:
        ``(script path, sbatch's output or None)``.

    Raises:
        ConfigError: When ``sbatch`` is not on PATH (checked before anything is written), or
            when it fails.
    """
    sbatch = require_sbatch() if run else None
    text = sbatch_script(job, resources)
    path = job.output_directory / "slurm" / f"{getattr(job, 'name', 'sample')}.sbatch"
    with _fs.atomic_write(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    if not run:
        return path, None
    return path, run_sbatch(path, sbatch)


def run_sbatch(path: str | os.PathLike, sbatch: str | None = None) -> str:
    """Submit the script ``path`` with ``sbatch`` (found on PATH when not given); returns
    sbatch's output (``Submitted batch job N``).

    Raises:
        ConfigError: When ``sbatch`` is not on PATH, or when it fails.
    """
    proc = subprocess.run([sbatch or require_sbatch(), os.fspath(path)], capture_output=True,
                          text=True)  # fmt: skip
    if proc.returncode != 0:
        raise ConfigError(f"sbatch failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip()

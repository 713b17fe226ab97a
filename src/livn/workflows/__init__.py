"""Workflows: jobs built on the library (system generation; later sampling and sweeps).

``get(name, config)`` returns a job object, mirroring the seeds' ``get("generate_2d", {...})``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from livn.errors import ConfigError, did_you_mean

WORKFLOWS = {
    "generate_2d": "livn.workflows.generate_2d:Generate2D",
    "generate": "livn.workflows.generate:Generate",
    "sample": "livn.workflows.sample:Sample",
    "batch": "livn.workflows.sweeps.batch:Batch",
    "tune": "livn.workflows.tune:Tune",
}


def get(name: str, config: Mapping[str, Any] | None = None, **overrides: Any):
    """Create the workflow ``name`` (e.g. ``"generate_2d"``) from a configuration dict."""
    import importlib

    if name not in WORKFLOWS:
        raise ConfigError(
            f"unknown workflow {name!r}. Valid: {', '.join(WORKFLOWS)}.{did_you_mean(name, WORKFLOWS)}"
        )
    module, _, attr = WORKFLOWS[name].partition(":")
    return getattr(importlib.import_module(module), attr)(config, **overrides)


__all__ = ["WORKFLOWS", "get"]

"""Simulation backends. A backend is the only place that imports its simulator library.

``LIVN_BACKEND`` selects the default (``jax``; ``diffrax`` is accepted as a name for it).
"""

from __future__ import annotations

import os

from livn.errors import ConfigError, did_you_mean

BACKENDS = {"jax": "jax", "diffrax": "jax"}


def default_backend() -> str:
    """The backend named by ``LIVN_BACKEND`` (default ``jax``), canonicalised."""
    return resolve(os.environ.get("LIVN_BACKEND", "jax"))


def resolve(name: str) -> str:
    """Canonical backend name; unknown names raise ConfigError listing the valid ones."""
    key = str(name).strip().lower()
    if key not in BACKENDS:
        raise ConfigError(
            f"unknown backend {name!r} (from LIVN_BACKEND or backend=). Valid: "
            f"{', '.join(BACKENDS)}.{did_you_mean(key, BACKENDS)}"
        )
    return BACKENDS[key]

"""Simulation backends. A backend is the only place that imports its simulator library.

``LIVN_BACKEND`` selects the default (``jax``; ``diffrax`` is accepted as a name for it). The
registry and the engine contract are in :mod:`livn.backends.base`.
"""

from __future__ import annotations

import os

from livn.backends.base import ALIASES, REGISTRY, load, resolve

__all__ = ["ALIASES", "BACKENDS", "REGISTRY", "default_backend", "load", "resolve"]

#: Every accepted backend name and the canonical backend it selects.
BACKENDS = {**{name: name for name in REGISTRY}, **ALIASES}


def default_backend() -> str:
    """The backend named by ``LIVN_BACKEND`` (default ``jax``), canonicalised."""
    return resolve(os.environ.get("LIVN_BACKEND", "jax"))

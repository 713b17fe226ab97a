"""Simulation backends. A backend is the only place that imports its simulator library.

``LIVN_BACKEND`` selects the default; unset, empty or ``auto`` picks ``native`` on a CPU with a C
compiler and ``jax`` where JAX has a GPU (``diffrax`` is accepted as a name for ``jax``). The
registry and the engine contract are in :mod:`livn.backends.base`.
"""

from __future__ import annotations

import os

from livn.backends.base import ALIASES, REGISTRY, auto_backend, load, resolve

__all__ = ["ALIASES", "BACKENDS", "REGISTRY", "auto_backend", "default_backend", "load", "resolve"]

#: Every accepted backend name and the canonical backend it selects.
BACKENDS = {**{name: name for name in REGISTRY}, **ALIASES}


def default_backend() -> str:
    """The backend named by ``LIVN_BACKEND``, canonicalised; unset or empty: ``auto``
    (:func:`~livn.backends.base.auto_backend`)."""
    return resolve(os.environ.get("LIVN_BACKEND", "").strip() or "auto")

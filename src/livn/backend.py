"""Compatibility with livn 2.0.0: its ``livn.backend`` module (docs/migrating.md).

2.0.0 scripts call ``livn.backend.backend()`` to learn which simulator runs. Here the backends
and their selection live in :mod:`livn.backends`; :func:`backend` asks it (no second
implementation) and imports no simulator (not JAX, not NEURON).

``LIVN_BACKEND`` values of 2.0.0 and what they select here:

=============  ==============================================================================
2.0.0          here
=============  ==============================================================================
``""``/unset   ``auto``: ``native`` on a CPU with a C compiler, ``jax`` where JAX has a GPU
               (2.0.0 autodetected too; its ``""`` after a failed detection gave an empty
               ``Run``, here a run always simulates)
``native``     ``native`` (a C kernel compiled for this CPU)
``neuron``     ``neuron``
``brian2``     ``brian2``
``diffrax``    ``jax`` (``diffrax`` is accepted as its name)
a module path  refused (ConfigError listing the valid names); register a backend with
               :func:`livn.backends.base.register` instead
=============  ==============================================================================
"""

from __future__ import annotations

from livn.backends import default_backend

__all__ = ["UPSTREAM_NAMES", "backend"]

#: livn 2.0.0's ``LIVN_BACKEND`` names and the backend each selects here.
UPSTREAM_NAMES: dict[str, str] = {
    "": "auto",
    "native": "native",
    "neuron": "neuron",
    "brian2": "brian2",
    "diffrax": "jax",
}


def backend() -> str:
    """The canonical name of the backend a new :class:`~livn.env.Env` uses now (without a
    ``backend=`` argument): ``LIVN_BACKEND`` resolved, ``auto`` when unset or empty.

    Returns:
        ``"jax"``, ``"native"``, ``"neuron"`` or ``"brian2"`` (never ``""``: see the module
        docstring).

    Raises:
        ConfigError: ``LIVN_BACKEND`` names no backend (the message lists the valid names).
    """
    return default_backend()

"""Compatibility with livn 2.0.0: its ``livn.types`` module (docs/migrating.md).

* :class:`Capability`: what a backend can do, with 2.0.0's names. The answer comes from the
  backend seam (each backend's ``capabilities`` in :data:`livn.backends.base.REGISTRY`), read by
  :func:`capabilities`; tests/test_compat_modules.py checks every claim against real runs.
* :class:`SynapticParam`: the parameters of a synaptic mechanism (those of
  :data:`livn.system.synapses.TRANSMITTERS`).
* Protocols (:class:`System`, :class:`Model`, :class:`IO`, :class:`Encoding`,
  :class:`Decoding`): what :class:`~livn.env.Env` uses of each part, for type annotations
  and ``isinstance`` checks (``runtime_checkable``: attribute names only, not signatures).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

__all__ = ["IO", "Capability", "Decoding", "Encoding", "Model", "SynapticParam", "System",
           "backends_with", "capabilities"]  # fmt: skip


class Capability(StrEnum):
    """What a backend can do (livn 2.0.0's names). Members are strings: ``"mpi"``.

    What each means here:

    * ``SIMULATION``: it runs simulations (every backend).
    * ``MPI``: ``Env(..., comm=MPI.COMM_WORLD)`` distributes the cells over MPI ranks.
    * ``PER_GID_VOLTAGE``: ``env.record_voltage(gids=[...])`` records only those cells.
    * ``NOISE``: background noise (``env.set_noise``) drives the cells.
    * ``REPLAYABLE_NOISE``: after ``env.clear()`` a run repeats the same noise exactly.
    * ``PLASTICITY``: synaptic plasticity during a run (no backend here).
    * ``DIFFERENTIABLE``: ``env.run(d, unroll="mask")`` can be differentiated (``jax.grad``).
    * ``IMMUTABLE``: a run maps a state to a new one and leaves the old one intact, so an
      earlier state can be run again (the others keep their state in the simulator).
    * ``EXTRACELLULAR_STIMULUS``: electrode currents (``env.cell_stimulus``) stimulate the
      cells through the extracellular field.
    """

    SIMULATION = "simulation"
    MPI = "mpi"
    PER_GID_VOLTAGE = "per_gid_voltage"
    NOISE = "noise"
    REPLAYABLE_NOISE = "replayable_noise"
    PLASTICITY = "plasticity"
    DIFFERENTIABLE = "differentiable"
    IMMUTABLE = "immutable"
    EXTRACELLULAR_STIMULUS = "extracellular_stimulus"


def capabilities(backend: str | None = None) -> frozenset[Capability]:
    """The :class:`Capability` set of a backend.

    Args:
        backend: A backend name (``jax``, ``diffrax``, ``native``, ``neuron``, ``brian2``,
            ``auto``); default the one a new Env uses now (:func:`livn.backend.backend`).

    Raises:
        ConfigError: Unknown backend name (the message lists the valid ones).
    """
    from livn.backends import REGISTRY, default_backend, resolve

    name = default_backend() if backend is None else resolve(backend)
    names = {c.value for c in Capability}
    return frozenset(Capability(c) for c in REGISTRY[name].capabilities if c in names)


def backends_with(capability: Capability | str) -> list[str]:
    """The registered backends (canonical names) that have ``capability``.

    Raises:
        ConfigError: ``capability`` is not a :class:`Capability` name.
    """
    from livn.backends import REGISTRY
    from livn.errors import ConfigError, did_you_mean

    valid = [c.value for c in Capability]
    if capability not in valid:
        raise ConfigError(
            f"unknown capability {capability!r}. Valid: {', '.join(valid)}."
            f"{did_you_mean(str(capability), valid)}"
        )
    return [name for name, b in REGISTRY.items() if capability in b.capabilities]


class SynapticParam(StrEnum):
    """A parameter of a synaptic mechanism (the keys of a mechanism in ``graph.json``).

    * ``E``: reversal potential, mV.
    * ``G_UNIT``: conductance of one release site, µS.
    * ``TAU_RISE``, ``TAU_DECAY``: time constants of the dual exponential, ms.
    * ``WEIGHT``: number of release sites (``env.set_weights``; the others are fixed by the
      system's graph).
    """

    E = "e"
    G_UNIT = "g_unit"
    TAU_RISE = "tau_rise"
    TAU_DECAY = "tau_decay"
    WEIGHT = "weight"


@runtime_checkable
class System(Protocol):
    """A culture's cells: :class:`livn.system.System` and ``ParallelSystem``."""

    uri: Any
    populations: Any  # population names
    population_ranges: Any  # {population: (first gid, count)}
    num_neurons: int
    neuron_coordinates: Any  # [N, 4] float64 rows (gid, x, y, z) µm


@runtime_checkable
class Model(Protocol):
    """A cell model (:mod:`livn.models`): integration and recording steps, noise defaults and
    the cells of each synapse type."""

    name: str
    dt: float  # ms
    record_dt: float  # ms
    noise: dict[str, float]

    def cell_type(self, synapse_type: str) -> Any:
        """The cell dynamics of ``"excitatory"`` or ``"inhibitory"`` cells."""

    def default_params(self, system: Any) -> dict[str, dict[str, float]]:
        """``{"weights": {...}, "noise": {...}}`` for ``system``."""


@runtime_checkable
class IO(Protocol):
    """An electrode device (:class:`livn.io.MEA`)."""

    num_channels: int
    electrode_coordinates: Any  # [C, 3] µm

    def channel_recording(self, *args: Any, **kwargs: Any) -> Any:
        """Spikes per channel."""


@runtime_checkable
class Encoding(Protocol):
    """``encoding(env, duration_ms, inputs) -> Stimulus | None`` (:mod:`livn.encoding`)."""

    def __call__(self, env: Any, duration: float, inputs: Any = None) -> Any: ...


@runtime_checkable
class Decoding(Protocol):
    """``decoding(env, it, t, iv, v, ...)`` with a ``duration`` in ms (:mod:`livn.decoding`;
    2.0.0's ``decoding(run, env)`` form differs, see docs/migrating.md)."""

    duration: float

    def __call__(self, env: Any, *recordings: Any) -> Any: ...

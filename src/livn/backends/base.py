"""The backend seam: what an engine provides to :class:`livn.env.Env`, and the registry.

A backend is registered by name with the dotted path of its engine factory and the extra that
installs its simulator. :func:`load` imports the factory only when an Env is initialised, so
``import livn`` and ``Env(...)`` import no simulator; a missing simulator raises
:class:`~livn.errors.MissingDependencyError` naming the extra.

The factory is called as ``factory(system, model, seed=..., delivery=...)`` and returns an
:class:`Engine`. Backends: ``jax`` (``diffrax`` is the seed's name for it; differentiable,
batched, GPU), ``native`` (a fused C kernel compiled for this CPU), ``neuron`` (RCSD on NEURON
with livn's NMODL mechanisms; MPI) and ``brian2``.
The stateful simulators share :class:`livn.backends.host.HostEngine`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from typing import Any, Protocol

from livn.errors import ConfigError, MissingDependencyError, did_you_mean

__all__ = ["REGISTRY", "Backend", "Engine", "auto_backend", "load", "native_available", "register",
           "resolve"]  # fmt: skip


class Engine(Protocol):
    """A built simulation of one system and model (the contract :class:`~livn.env.Env` uses).

    Attributes:
        dt: Integration step, ms.
        n_sub: Integration steps per recording interval.
        net: The connectivity/channel tables (weight keys, gid order, channel maps).
    """

    dt: float
    n_sub: int
    net: Any

    def default_params(self, noise: dict[str, float]) -> dict:
        """Engine-side parameters (weights per channel, noise) from the model's noise."""

    def initial_state(self) -> Any:
        """The state at t = 0."""

    def run(self, state: Any, params: dict, n_steps: int, **kwargs: Any) -> Any:
        """Advance ``state`` by ``n_steps`` integration steps with ``params``."""

    def run_batch(self, state: Any, params: dict, n_steps: int, **kwargs: Any) -> Any:
        """:meth:`run` over a batch of stimuli and/or noise keys."""

    # the engine's own arrays, so that the Env imports no simulator library
    def key(self, seed: int) -> Any:
        """The noise key of a run with ``seed``."""

    def keys(self, seeds: list[int]) -> Any:
        """One noise key per trial of a batch."""

    def weights_param(self, per_group: list[Any]) -> Any:
        """The ``weights`` parameter from NumPy channel weights per cell group."""

    def noise_param(self, arrays: dict[str, Any]) -> Any:
        """The ``noise`` parameter from per-cell NumPy arrays by noise name."""

    def switch(self, on: bool) -> Any:
        """The ``noise_on`` parameter."""

    def place_cells(self, array: Any, num_steps: int, cols: Any) -> Any:
        """A stimulus of the engine's own array type ``[T, k]`` placed on columns ``cols``."""

    def stack(self, arrays: list[Any]) -> Any:
        """Batch stimuli stacked along a new leading axis."""

    def mask_outputs(self, masks: Any, vs: Any, iv: Any) -> tuple[Any, Any, Any]:
        """``(mask, block end times, v)`` of a differentiable (mask-mode) run."""


@dataclass(frozen=True)
class Backend:
    """A registered backend.

    Attributes:
        name: Canonical name (``jax``).
        factory: ``"module:callable"`` building an :class:`Engine`.
        requires: The module whose absence means the simulator is not installed.
        extra: The pip extra that installs it (``pip install 'livn[extra]'``).
        capabilities: What the backend can do. livn 2.0.0's names (:class:`livn.types.Capability`,
            whose docstring says what each means here; tests/test_compat_modules.py checks
            them) and ours: ``batched`` (trials vectorised in one call), ``gpu``.
    """

    name: str
    factory: str
    requires: str
    extra: str
    capabilities: frozenset[str] = frozenset()


def _jax_engine(system: Any, model: Any, seed: int = 0, delivery: str = "auto") -> Engine:
    from livn.backends.jax.engine import Engine as JaxEngine
    from livn.backends.network import build_network

    return JaxEngine(build_network(system, model), model, seed=seed, delivery=delivery)


#: What every backend here can do (:class:`livn.types.Capability` names).
COMMON_CAPABILITIES = frozenset({"simulation", "noise", "replayable_noise", "per_gid_voltage",
                                 "extracellular_stimulus"})  # fmt: skip

#: Registered backends by canonical name; :data:`ALIASES` maps other names onto them.
REGISTRY: dict[str, Backend] = {
    "jax": Backend(
        name="jax",
        factory="livn.backends.base:_jax_engine",
        requires="jax",
        extra="jax",
        capabilities=COMMON_CAPABILITIES | {"differentiable", "immutable", "batched", "gpu"},
    ),
}
REGISTRY["native"] = Backend(
    name="native",
    factory="livn.backends.native.engine:make_engine",
    requires="numpy",  # and a C compiler, checked when the kernel is built
    extra="native",
    capabilities=COMMON_CAPABILITIES,
)
REGISTRY["neuron"] = Backend(
    name="neuron",
    factory="livn.backends.neuron.engine:make_engine",
    requires="neuron",
    extra="neuron",
    capabilities=COMMON_CAPABILITIES | {"mpi"},
)
REGISTRY["brian2"] = Backend(
    name="brian2",
    factory="livn.backends.brian2.engine:make_engine",
    requires="brian2",
    extra="brian2",
    capabilities=COMMON_CAPABILITIES,
)
ALIASES: dict[str, str] = {"diffrax": "jax"}


def register(backend: Backend, *aliases: str) -> None:
    """Register ``backend`` (replacing one of the same name) and its alias names."""
    REGISTRY[backend.name] = backend
    for alias in aliases:
        ALIASES[alias] = backend.name


def native_available() -> bool:
    """Whether the native backend can build its kernel here (a C compiler is found)."""
    return bool(os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc"))


def jax_gpu_installed() -> bool:
    """Whether JAX has a GPU plugin installed (found without importing JAX)."""
    try:
        spec = importlib.util.find_spec("jax_plugins")
    except (ImportError, ValueError):
        return False
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        if any("cuda" in n or "rocm" in n for n in names):
            return True
    return False


def auto_backend() -> str:
    """The backend ``auto`` picks: ``jax`` where JAX has a GPU plugin (batched trials on the
    device) or no C compiler is found, else ``native`` (the fastest on a CPU)."""
    if jax_gpu_installed() or not native_available():
        return "jax"
    return "native"


def resolve(name: Any) -> str:
    """Canonical backend name (``auto``: :func:`auto_backend`); unknown names raise
    ConfigError listing the valid ones."""
    key = str(name).strip().lower()
    if key == "auto":
        return auto_backend()
    key = ALIASES.get(key, key)
    if key not in REGISTRY:
        names = ["auto", *REGISTRY, *ALIASES]
        raise ConfigError(
            f"unknown backend {name!r} (from LIVN_BACKEND or backend=). Valid: "
            f"{', '.join(names)}.{did_you_mean(str(name).strip().lower(), names)}"
        )
    return key


def load(name: str):
    """The engine factory of backend ``name`` (imports its simulator now).

    Raises:
        ConfigError: Unknown name.
        MissingDependencyError: The simulator is not installed (names the extra).
    """
    backend = REGISTRY[resolve(name)]
    try:  # find, not import: importing is the engine module's job (and may have side effects)
        found = importlib.util.find_spec(backend.requires) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingDependencyError(
            f"the {backend.name!r} backend needs {backend.requires!r}, which is not installed. "
            f"Install it with: pip install 'livn[{backend.extra}]'"
        )
    module, _, attr = backend.factory.partition(":")
    return getattr(importlib.import_module(module), attr)

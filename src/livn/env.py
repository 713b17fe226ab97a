"""``Env``: a system, a model and an IO device, ready to run (seed 004).

    from livn.env import Env
    from livn.system import predefined

    env = Env(predefined("EI2"), seed=42).init()
    env.apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    it, t, iv, v = env.run(100)

``run`` returns :class:`RunResult`, a tuple ``(it, t, iv, v)`` — or ``(it, t, iv, v, im, mp)``
when membrane currents are recorded — whose fields are also available by name. Arrays are
``None`` for what was not recorded. Spike times are relative to the start of the run (ms).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from livn.errors import ConfigError, did_you_mean, positive_ms
from livn.stimulus import Stimulus


class RunResult(tuple):
    """``(it, t, iv, v[, im, mp])`` with named access: ``.it .t .iv .v .im .mp``."""

    _fields = ("it", "t", "iv", "v", "im", "mp")

    def __new__(cls, it, t, iv, v, im=None, mp=None, full: bool = False):
        items = (it, t, iv, v, im, mp) if full else (it, t, iv, v)
        self = super().__new__(cls, items)
        self._named = dict(zip(cls._fields, (it, t, iv, v, im, mp), strict=True))
        return self

    def __getattr__(self, name: str):
        try:
            return self.__dict__["_named"][name]
        except KeyError:
            raise AttributeError(name) from None


def _populations(system, population: str | Iterable[str] | None) -> list[str]:
    if population is None:
        return list(system.populations)
    pops = [population] if isinstance(population, str) else list(population)
    for p in pops:
        if p not in system.populations:
            raise ConfigError(
                f"unknown population {p!r}. Valid: {', '.join(system.populations)}."
                f"{did_you_mean(p, system.populations)}"
            )
    return pops


class Env:
    """A configured simulation environment.

    Args:
        system: A :class:`~livn.system.System`, a path, a URL or a predefined name.
        model: The cell model (default: :class:`~livn.models.rcsd.ReducedCalciumSomaDendrite`).
        io: The IO device (default: the system's ``mea.json``, else the default :class:`MEA`).
        seed: Seed of the background noise (and anything else random in a run).
        backend: Engine name; default from ``LIVN_BACKEND`` (``jax``).
    """

    def __init__(self, system: Any, model: Any | None = None, io: Any | None = None,
                 seed: int = 123, backend: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        from livn.backends import default_backend, resolve
        from livn.system import System, make

        if kwargs.get("comm") is not None:
            raise ConfigError("comm= (MPI) is not supported by the JAX backend; omit it.")
        self.system = system if isinstance(system, System) else make(os.fspath(system))
        if model is None:
            from livn.models.rcsd import ReducedCalciumSomaDendrite

            model = ReducedCalciumSomaDendrite()
        self.model = model
        if io is None:
            from livn.io import MEA

            io = MEA.from_directory(self.system.uri) if self.system.has_mea else MEA()
        self.io = io
        self.seed = int(seed)
        self.backend = resolve(backend) if backend is not None else default_backend()
        self.engine = None
        self._record = {"spikes": None, "voltage": None, "membrane_current": None}

    # ------------------------------------------------------------------ lifecycle
    def init(self) -> Env:
        """Build the engine (compiles on the first run). Returns ``self``."""
        from livn.backends.jax.engine import Engine
        from livn.backends.jax.network import build_network

        self.engine = Engine(build_network(self.system, self.model), self.model)
        self.params = self.engine.default_params(self.model.noise)
        self.clear()
        return self

    def _check_init(self) -> None:
        if self.engine is None:
            raise ConfigError("the Env is not initialised; call env.init() first.")

    def clear(self) -> Env:
        """Reset the simulation to t = 0 (state, synapses, noise stream position)."""
        self._check_init()
        import jax

        self.state = self.engine.initial_state()
        self.key = jax.random.key(self.seed)
        self.t = 0.0
        return self

    def close(self) -> None:
        """Release the engine and its compiled functions."""
        self.engine = None

    # ------------------------------------------------------------------ parameters
    def apply_model_defaults(self, weights: bool = True, noise: bool = True) -> Env:
        """Apply the tuned defaults for this system (``params/*.json``), else built-ins."""
        self._check_init()
        defaults = self.model_defaults()
        if weights:
            self.set_weights(defaults.get("weights", {}))
        if noise:
            self.set_noise(defaults.get("noise", {}))
        return self

    def model_defaults(self) -> dict[str, dict[str, float]]:
        """``{"weights": {...}, "noise": {...}}`` for this system and model."""
        import json

        from livn import _fs

        path = _fs.join(self.system.uri, f"params/{self.model.name}.json")
        if _fs.exists(path):
            return json.loads(_fs.read_text(path))
        from livn.models.rcsd.defaults import default_params

        return default_params(self.system)

    @property
    def weight_names(self) -> list[str]:
        self._check_init()
        return self.engine.net.weight_keys

    def set_weights(self, weights: dict[str, float]) -> Env:
        """Set connection weights by key ``"{post}_{pre}-{section}-{mechanism}-weight"``."""
        self._check_init()
        import jax.numpy as jnp

        keys = self.engine.net.weight_keys
        new = [np.asarray(w) for w in self.params["weights"]]
        for key, value in weights.items():
            if key not in keys:
                raise ConfigError(
                    f"unknown weight {key!r}. Valid: {', '.join(keys)}.{did_you_mean(key, keys)}"
                )
            for gi, g in enumerate(self.engine.net.groups):
                for ci, c in enumerate(g.channels):
                    if c.key == key:
                        new[gi] = new[gi].copy()
                        new[gi][ci] = float(value)
        self.params = {**self.params, "weights": [jnp.asarray(w, jnp.float32) for w in new]}
        return self

    def set_noise(self, noise: dict[str, float] | None = None, **kwargs: float) -> Env:
        """Set background noise: ``g_e0, g_i0, std_e, std_i, tau_e, tau_i`` (µS, ms).

        Keys may be population-prefixed (``"EXC-g_e0"``). ``{"enabled": False}`` switches the
        noise off (``True`` on).
        """
        self._check_init()
        import jax.numpy as jnp

        from livn.models.rcsd.model import NOISE_DEFAULTS

        items = {**(noise or {}), **kwargs}
        arrays = {k: np.asarray(v) for k, v in self.params["noise"].items()}
        noise_on = self.params["noise_on"]
        ranges = self.system.population_ranges
        gids = self.engine.net.gids
        for key, value in items.items():
            if key == "enabled":
                noise_on = jnp.asarray(1.0 if value else 0.0, jnp.float32)
                continue
            pop, _, name = key.rpartition("-")
            if name not in NOISE_DEFAULTS or (pop and pop not in ranges):
                valid = list(NOISE_DEFAULTS)
                raise ConfigError(
                    f"unknown noise parameter {key!r}. Valid: {', '.join(valid)} (optionally "
                    f"prefixed by a population, e.g. 'EXC-g_e0'), or 'enabled'."
                    f"{did_you_mean(name, valid)}"
                )
            arr = arrays[name].copy()
            if pop:
                start, count = ranges[pop]
                arr[(gids >= start) & (gids < start + count)] = float(value)
            else:
                arr[:] = float(value)
            arrays[name] = arr
        self.params = {
            **self.params,
            "noise": {k: jnp.asarray(v, jnp.float32) for k, v in arrays.items()},
            "noise_on": noise_on,
        }
        return self

    def set_params(self, params: dict[str, float]) -> Env:
        """Set ``weight-<key>`` and ``noise-<key>`` entries."""
        weights, noise = {}, {}
        for key, value in params.items():
            kind, _, rest = key.partition("-")
            if kind == "weight":
                weights[rest] = value
            elif kind == "noise":
                noise[rest] = value
            else:
                raise ConfigError(f"parameter {key!r} must start with 'weight-' or 'noise-'.")
        return self.set_weights(weights).set_noise(noise)

    # ------------------------------------------------------------------ recording
    def record_spikes(self, population: str | Iterable[str] | None = None) -> Env:
        """Record spikes of the given population(s) (default all)."""
        self._record["spikes"] = _populations(self.system, population)
        return self

    def record_voltage(self, population: str | Iterable[str] | None = None) -> Env:
        """Record somatic voltage every ``model.record_dt`` ms."""
        self._record["voltage"] = _populations(self.system, population)
        return self

    def record_membrane_current(self, population: str | Iterable[str] | None = None) -> Env:
        """Record somatic membrane current (nA, outward positive) every ``model.record_dt``."""
        self._record["membrane_current"] = _populations(self.system, population)
        return self

    def _gid_mask(self, pops: list[str]) -> np.ndarray:
        mask = np.zeros(self.system.num_neurons, dtype=bool)
        for p in pops:
            start, count = self.system.population_ranges[p]
            mask[start : start + count] = True
        return mask

    # ------------------------------------------------------------------ running
    def run(self, duration: float, stimulus: Stimulus | Any | None = None, **kwargs: Any):
        """Advance the simulation by ``duration`` ms, optionally under a stimulus.

        Args:
            duration: ms; rounded to whole integration steps.
            stimulus: :class:`Stimulus` of somatic currents (nA), ``[T, n_cells]``.

        Returns:
            :class:`RunResult`.
        """
        self._check_init()
        if kwargs:
            raise ConfigError(f"unsupported run() arguments: {', '.join(kwargs)}.")
        dt = self.engine.dt
        duration = positive_ms(duration, "duration")
        n_steps = round(duration / dt)
        stim = Stimulus.from_arg(stimulus)
        stim_arr, stim_dt = None, 1.0
        if stim is not None:
            stim.check_cells(self.system.num_neurons)
            n = self.system.num_neurons
            gids = stim.gids if stim.gids is not None else np.arange(n)
            arr = np.zeros((stim.num_steps, n), dtype=np.float32)
            arr[:, self.engine.net.engine_index[gids]] = np.asarray(stim.array, dtype=np.float32)
            stim_arr, stim_dt = arr, stim.dt
        rec = self._record
        state, (idx, valid, tc), vs, ims = self.engine.run(
            self.state, self.params, n_steps, stim_arr, stim_dt, self.key,
            rec["voltage"] is not None, rec["membrane_current"] is not None,
        )  # fmt: skip
        self.state = state
        t0 = self.t
        self.t = t0 + n_steps * dt
        it = t = iv = v = im = mp = None
        gids = self.engine.net.gids
        if rec["spikes"] is not None:
            idx, valid, tc = np.asarray(idx), np.asarray(valid), np.asarray(tc)
            sel = valid.reshape(-1)
            it = gids[idx.reshape(-1)[sel]]
            t = tc.reshape(-1)[sel].astype(np.float64) - t0
            keep = self._gid_mask(rec["spikes"])[it]
            order = np.argsort(t[keep], kind="stable")
            it, t = it[keep][order], t[keep][order]
        for name, blocks in (("voltage", vs), ("membrane_current", ims)):
            if rec[name] is None:
                continue
            arr = np.asarray(blocks).T  # [N engine, blocks]
            ids = np.flatnonzero(self._gid_mask(rec[name]))
            rows = arr[self.engine.net.engine_index[ids]]
            if name == "voltage":
                iv, v = ids, rows
            else:
                im, mp = ids, rows
        if int(self.state["overflow"]) > 0:
            import warnings

            warnings.warn(
                f"{int(self.state['overflow'])} spikes exceeded the per-step recording capacity "
                f"({self.engine.k}) and were not recorded (they were delivered).",
                RuntimeWarning,
                stacklevel=2,
            )
        return RunResult(it, t, iv, v, im, mp, full=rec["membrane_current"] is not None)

    def __call__(self, decoding: Any, inputs: Any = None, encoding: Any = None, **kwargs: Any):
        """``decoding(env, *env.run(decoding.duration, encoding(env, duration, inputs)))``."""
        duration = getattr(decoding, "duration", None)
        if duration is None:
            raise ConfigError("the decoding must define a duration (ms).")
        stimulus = encoding(self, duration, inputs) if encoding is not None else None
        return decoding(self, *self.run(duration, stimulus, **kwargs))


def make(name: str, **kwargs: Any) -> Env:
    """A ready Env for a predefined system (or path): initialised, defaults applied."""
    return Env(name, **kwargs).init().apply_model_defaults()

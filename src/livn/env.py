"""``Env``: a system, a model and an IO device, ready to run (seed 004).

    from livn.env import Env
    from livn.system import predefined

    env = Env(predefined("EI2"), seed=42).init()
    env.apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    it, t, iv, v = env.run(100)

``run`` returns :class:`RunResult`, a tuple ``(it, t, iv, v)`` — or ``(it, t, iv, v, im, mp)``
when membrane currents are recorded — whose fields are also available by name (ours and livn
2.0.0's, docs/migrating.md). Arrays are ``None`` for what was not recorded. Spike times are
relative to the start of the run (ms).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from livn import limits
from livn.batch import BatchState, seeds_arg
from livn.errors import ConfigError, did_you_mean, positive_ms
from livn.result import RunResult
from livn.stimulus import Stimulus

__all__ = ["Env", "RunResult", "make"]


#: What :meth:`Env.record` records, and the method it calls.
RECORDABLE = {"spikes": "record_spikes", "voltage": "record_voltage",
              "membrane_current": "record_membrane_current"}  # fmt: skip
#: Parameters ``set_params`` sets on the IO device as ``io-<name>``, and their units.
IO_PARAMS = {"input_radius": "µm", "output_radius": "µm", "max_input_current": "µA"}
#: livn 2.0.0's noise reversal potentials (mV), and the cell attribute that holds ours.
FIXED_REVERSALS = {"E_e": "noise_e_rev", "E_i": "noise_i_rev"}


def _group_type(system, group) -> str:
    """Synapse type of the populations whose cells form an engine group."""
    gid = int(group.gids[0])
    return system.graph.populations[int(system.gid_population([gid])[0])].synapse_type


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
        system: A :class:`~livn.system.System`, a path, a URL or a predefined name; or a
            number of unconnected cells (``10``) or ``{"EXC": n, "INH": m}``, which build a
            :class:`~livn.system.ParallelSystem` (no synapses, no electrodes).
        model: The cell model (default: :class:`~livn.models.rcsd.ReducedCalciumSomaDendrite`).
        io: The IO device (default: the system's ``mea.json``, else the default :class:`MEA`;
            none for a ParallelSystem).
        seed: Seed of the background noise (and anything else random in a run).
        backend: (keyword only) Engine name (``auto``, ``jax``, ``diffrax``, ``native``, ``neuron``,
            ``brian2``); default from ``LIVN_BACKEND``, else ``auto``: ``native`` on a CPU
            with a C compiler, ``jax`` where JAX has a GPU (see :mod:`livn.backends`).
        comm: (neuron backend) ``MPI.COMM_WORLD`` to distribute the cells over the ranks
            under ``mpiexec``; every rank receives the whole result.
        subworld_size: (neuron backend, with ``comm``) ranks per independent simulation.
        delivery: (keyword only) Spike delivery of the JAX engine (``auto``, see
            :mod:`livn.backends.jax`).
    """

    def __init__(self, system: Any, model: Any | None = None, io: Any | None = None,
                 seed: int = 123, comm: Any = None, subworld_size: int | None = None, *,
                 backend: str | None = None, delivery: str = "auto") -> None:  # fmt: skip
        from livn.backends import default_backend, resolve
        from livn.system import ParallelSystem, System, make

        if isinstance(system, int | np.integer | Mapping) and not isinstance(system, bool):
            system = ParallelSystem(system)
        if not isinstance(system, System | str | os.PathLike):
            raise ConfigError(
                f"system must be a System, a predefined name (e.g. 'EI2'), a path, a number of "
                f"unconnected cells (e.g. 10) or {{'EXC': n, 'INH': m}}; got {system!r} "
                f"({type(system).__name__})."
            )
        self.system = system if isinstance(system, System) else make(os.fspath(system))
        if model is None:
            from livn.models.rcsd import ReducedCalciumSomaDendrite

            model = ReducedCalciumSomaDendrite()
        self.model = model
        if io is None:
            io = self.system.default_io()  # mea.json, else the default MEA; None: no electrodes
        #: The IO device; None for a :class:`~livn.system.ParallelSystem` (no electrodes).
        self.io = io
        self.seed = limits.seed(seed, "Env seed")
        self._delivery = delivery
        #: MPI communicator and ranks per simulation (neuron backend), or None.
        self.comm, self.subworld_size = comm, subworld_size
        self._mpi = {k: v for k, v in (("comm", comm), ("subworld_size", subworld_size))
                     if v is not None}  # fmt: skip
        self.backend = resolve(backend) if backend is not None else default_backend()
        if self._mpi:
            from livn.backends.base import REGISTRY

            if "mpi" not in REGISTRY[self.backend].capabilities:
                able = [n for n, b in REGISTRY.items() if "mpi" in b.capabilities]
                raise ConfigError(
                    f"comm=/subworld_size= (MPI) are not supported by the {self.backend} "
                    f"backend; omit them, or use backend={able[0]!r} "
                    f"(backends with MPI: {', '.join(able)})."
                )
        self.engine = None
        self._record = {"spikes": None, "voltage": None, "membrane_current": None,
                        "voltage_gids": None}  # fmt: skip
        self._ran = False

    # ------------------------------------------------------------------ lifecycle
    def init(self) -> Env:
        """Build the engine (compiles on the first run). Returns ``self``."""
        from livn.backends import load

        factory = load(self.backend)  # imports the simulator; names its extra if missing
        self.engine = factory(self.system, self.model, seed=self.seed, delivery=self._delivery,
                              **self._mpi)  # fmt: skip
        self.params = self.engine.default_params(self.model.noise)
        self.clear()
        return self

    def _check_init(self) -> None:
        if self.engine is None:
            raise ConfigError("the Env is not initialised; call env.init() first.")

    def clear(self, seed: int | None = None, reseed: bool = False) -> Env:
        """Reset the simulation to t = 0 (state, synapses, noise stream position).

        Args:
            seed: A new seed for the noise from now on (default: keep :attr:`seed`); a
                cleared Env with seed ``s`` runs exactly like a new ``Env(..., seed=s)``.
            reseed: livn 2.0.0's ``clear(reseed=True)``: the next run is a new noise
                realisation. The new seed is derived from the current one (the same Env
                seed gives the same sequence of seeds) and becomes :attr:`seed`. Default
                False: the runs after ``clear()`` replay the same noise (2.0.0's default was
                True; see docs/migrating.md).
        """
        self._check_init()
        if not isinstance(reseed, bool | np.bool_):
            raise ConfigError(f"clear(reseed=) must be True or False; got {reseed!r}.")
        if seed is not None and reseed:
            raise ConfigError(
                f"clear(seed={seed!r}, reseed=True) asks for two seeds; give seed= (that seed) "
                "or reseed=True (a new seed derived from the current one), not both."
            )
        if seed is not None:
            self.seed = limits.seed(seed)
        elif reseed:
            self.seed = self._next_seed()
        self.state = self.engine.initial_state()
        self.key = self.engine.key(self.seed)
        self.t = 0.0
        self._ran = False  # dt may change until the next run
        return self

    def _next_seed(self) -> int:
        """The seed after :attr:`seed` in this Env's sequence of noise seeds (``clear(reseed=
        True)``, :meth:`reseed_noise`): the same seed always gives the same next one."""
        return int(np.random.SeedSequence(self.seed).generate_state(1)[0])

    def close(self) -> Env:
        """Release the engine (its compiled functions, or the simulator's cells). Returns
        ``self`` (as in livn 2.0.0): ``init()`` builds it again."""
        closer = getattr(self.engine, "close", None)
        if callable(closer):
            closer()
        self.engine = None
        return self

    # ------------------------------------------------------------------ parameters
    def apply_model_defaults(self, weights: bool = True, noise: bool = True) -> Env:
        """Apply this system's defaults (:meth:`model_defaults`): tuned (``params/*.json``),
        else derived from its degrees (RCSD), else the templates."""
        self._check_init()
        defaults = self.model_defaults()
        if weights:
            self.set_weights(defaults.get("weights", {}))
        if noise:
            self.set_noise(defaults.get("noise", {}))
        return self

    def apply_default_params(self, group: str | None = None, strict: bool = False) -> Env:
        """livn 2.0.0's defaults: the system's parameter file, else the model's defaults.

        Args:
            group: A parameter group of the system's 2.0.0 ``params/default.json``
                (``{"ReducedCalciumSomaDendrite": {group: {"params": {...}}}}``); default:
                the tuned parameters :meth:`apply_model_defaults` uses.
            strict: Refuse (instead of falling back to the model's defaults, or from a
                missing group to the file's ``default`` group) when the file or the group is
                missing.

        Returns:
            ``self``.
        """
        self._check_init()
        from livn.models.params import tuned_params
        from livn.system import upstream

        if group is None:
            tuned = tuned_params(self.system, str(getattr(self.model, "name", "")))
            if tuned is None and strict:
                raise ConfigError(
                    f"apply_default_params(strict=True): the system {self.system.name!r} has no "
                    "parameter file (params/<model>.json or 2.0.0's params/default.json); use "
                    "strict=False for the model's defaults, or tune the system."
                )
            return self.apply_model_defaults()
        if not isinstance(group, str):
            raise ConfigError(f"apply_default_params group must be a string; got {group!r}.")
        data = self._upstream_params_file()
        groups = list(data.get(upstream.MODEL_CLASS, {})) if data else []
        if group not in groups:
            if strict:
                raise ConfigError(
                    f"apply_default_params: no parameter group {group!r} in the system's "
                    f"params/{upstream.DEFAULT_PARAMS}.json. Valid: {', '.join(groups) or 'none'}"
                    f".{did_you_mean(group, groups)}"
                )
            if "default" not in groups:
                return self.apply_model_defaults()
        location = f"{self.system.uri}/params/{upstream.DEFAULT_PARAMS}.json"
        params = upstream.params_from_upstream(data, location, group)
        before = self.params
        try:
            return self.set_weights(params["weights"]).set_noise(params["noise"])
        except ConfigError:
            self.params = before
            raise

    def _upstream_params_file(self) -> dict[str, Any] | None:
        """The content of the system's 2.0.0 ``params/default.json``, or None."""
        from livn import _fs
        from livn.system import upstream
        from livn.system.graph import read_json

        if getattr(self.system, "uri", None) is None:
            return None
        location = _fs.join(self.system.uri, f"params/{upstream.DEFAULT_PARAMS}.json")
        return read_json(location) if _fs.exists(location) else None

    def model_defaults(self) -> dict[str, dict[str, float]]:
        """``{"weights": {...}, "noise": {...}}`` for this system and model: the model's
        ``default_params(system)`` — the system's ``params/<model>.json`` (tuned) if it has
        one, else the model's rule (RCSD: weights derived from the realised in-degrees and
        transmitters; LIF, Izhikevich: the template weights) — or, for a model without that
        method, the tuned file or the templates (:mod:`livn.models.params`).
        """
        rule = getattr(self.model, "default_params", None)
        if callable(rule):
            return rule(self.system)
        from livn.models.params import template_params, tuned_params

        name = str(getattr(self.model, "name", ""))
        noise = getattr(self.model, "noise", None)
        return tuned_params(self.system, name) or template_params(self.system, noise)

    @property
    def weight_names(self) -> list[str]:
        self._check_init()
        return self.engine.net.weight_keys

    def set_weights(self, weights: dict[str, float]) -> Env:
        """Set connection weights by key ``"{post}_{pre}-{section}-{mechanism}-weight"``.

        A key may leave parts out (livn 2.0.0's wildcards: ``"EXC_EXC"`` sets every EXC→EXC
        mechanism, ``"INH-GABA_A"`` every GABA_A weight onto INH) and may spell the section
        ``dend`` (2.0.0) or ``hillock`` (seed 004: any section); see
        :func:`livn.system.synapses.resolve_weight_key`. Unknown keys are refused, naming the
        valid ones (2.0.0 ignored them). Nothing changes if any entry is refused.
        """
        from livn.system.synapses import resolve_weight_key

        self._check_init()
        net = self.engine.net
        new = [np.asarray(w) for w in self.params["weights"]]
        if not isinstance(weights, Mapping):
            raise ConfigError(
                f"set_weights takes a mapping {{weight key: value}}; got {type(weights).__name__}."
            )
        signed = bool(getattr(self.model, "signed_weights", False))
        known = [*net.weight_keys, *net.unused_keys]
        for key, value in weights.items():
            targets = [k for k in resolve_weight_key(key, known, self.system.populations)
                       if k not in net.unused_keys]  # fmt: skip
            if not targets:
                continue  # mechanisms this model does not simulate (e.g. NMDA on LIF)
            value = limits.float32(limits.number(value, f"weight {key!r}", None if signed else 0.0),
                                   f"weight {key!r}")  # fmt: skip
            for gi, g in enumerate(net.groups):
                for ci, c in enumerate(g.channels):
                    if c.key in targets:
                        new[gi] = new[gi].copy()
                        new[gi][ci] = float(value)
        self.params = {**self.params, "weights": self.engine.weights_param(new)}
        return self

    def set_noise(self, noise: dict[str, float] | None = None, **kwargs: float) -> Env:
        """Set background noise: ``g_e0, g_i0, std_e, std_i, tau_e, tau_i`` (µS, ms).

        Keys may be population-prefixed (``"EXC-g_e0"``). ``{"enabled": False}`` switches the
        noise off (``True`` on). livn 2.0.0's reversal potentials ``E_e``, ``E_i`` (mV) are
        accepted at the values the model is built with (0 and -75 mV for RCSD) and refused
        otherwise: here they are fixed by the model.
        """
        self._check_init()
        NOISE_DEFAULTS = self.model.noise

        if noise is not None and not isinstance(noise, Mapping):
            raise ConfigError(
                f"set_noise takes a mapping {{name: value}}; got {type(noise).__name__}."
            )
        items = {**(noise or {}), **kwargs}
        arrays = {k: np.asarray(v) for k, v in self.params["noise"].items()}
        noise_on = self.params["noise_on"]
        ranges = self.system.population_ranges
        gids = self.engine.net.gids
        for key, value in items.items():
            pop, _, name = key.rpartition("-") if isinstance(key, str) else ("", "", key)
            if name in FIXED_REVERSALS and (not pop or pop in ranges):
                self._check_reversal(key, name, value, pop)
                continue
            if key == "enabled":
                if not isinstance(value, bool | np.bool_):
                    raise ConfigError(f"noise 'enabled' must be True or False; got {value!r}.")
                noise_on = self.engine.switch(bool(value))
                continue
            if name not in NOISE_DEFAULTS or (pop and pop not in ranges):
                valid = [*NOISE_DEFAULTS, *FIXED_REVERSALS]
                raise ConfigError(
                    f"unknown noise parameter {key!r}. Valid: {', '.join(valid)} (optionally "
                    f"prefixed by a population, e.g. 'EXC-g_e0'), or 'enabled'."
                    f"{did_you_mean(name, valid)}"
                )
            value = limits.number(
                value, f"noise {key!r}", 0.0, exclusive_minimum=name.startswith("tau"),
                unit="ms" if name.startswith("tau") else "µS",
            )  # fmt: skip
            limits.float32(value, f"noise {key!r}")
            arr = arrays[name].copy()
            if pop:
                start, count = ranges[pop]
                arr[(gids >= start) & (gids < start + count)] = float(value)
            else:
                arr[:] = float(value)
            arrays[name] = arr
        self.params = {
            **self.params,
            "noise": self.engine.noise_param(arrays),
            "noise_on": noise_on,
        }
        return self

    def _check_reversal(self, key: str, name: str, value: Any, pop: str) -> None:
        """livn 2.0.0's ``E_e``/``E_i``: accepted at the value the cells are built with."""
        attr = FIXED_REVERSALS[name]
        groups = [g for g in self.engine.net.groups
                  if not pop or self.system.population_info[pop].synapse_type
                  == _group_type(self.system, g)]  # fmt: skip
        fixed = {float(getattr(g.cell, attr)) for g in groups}
        value = limits.number(value, f"noise {key!r}", unit="mV")
        if fixed and fixed != {value}:
            raise ConfigError(
                f"noise {key!r} = {value:g} mV: the background noise reversal potentials are "
                f"fixed by the model in this livn ({name} = "
                f"{', '.join(f'{f:g}' for f in sorted(fixed))} mV; SPEC §2.5); livn 2.0.0 could "
                f"change them. Leave {name!r} out, or give it that value."
            )

    def set_params(self, params: dict[str, float]) -> Env:
        """Set parameters by prefixed key, all or nothing.

        ``weight-<key>`` (:meth:`set_weights`), ``noise-<key>`` (:meth:`set_noise`),
        ``io-<name>`` (the IO device's ``input_radius``, ``output_radius`` (µm) or
        ``max_input_current`` (µA)); as in livn 2.0.0, a key without one of these prefixes is a
        weight key. ``cells-`` (2.0.0's per-cell parameters) is refused: cell parameters are
        fixed by the model here.
        """
        if not isinstance(params, Mapping):
            raise ConfigError(
                f"set_params takes a mapping {{'weight-<key>', 'noise-<key>' or 'io-<name>': "
                f"value}}; got {type(params).__name__}."
            )
        weights, noise, io = {}, {}, {}
        for key, value in params.items():
            if not isinstance(key, str):
                raise ConfigError(
                    f"parameter {key!r} must be a string: 'weight-<key>', 'noise-<key>', "
                    "'io-<name>' or a weight key."
                )
            kind, _, rest = key.partition("-")
            if kind == "noise":
                noise[rest] = value
            elif kind == "io":
                io[rest] = value
            elif kind == "cells":
                raise ConfigError(
                    f"parameter {key!r}: cell parameters ('cells-' in livn 2.0.0) are fixed by "
                    "the model in this livn; choose them through the model's arguments."
                )
            elif kind != "weight" and key.rpartition("-")[2] in (*self.model.noise,
                                                                   *FIXED_REVERSALS):
                raise ConfigError(
                    f"parameter {key!r} must start with 'weight-' or 'noise-': it names a noise "
                    f"parameter, so write 'noise-{key}' (a key without a prefix is a weight key, "
                    "as in livn 2.0.0)."
                )
            else:
                weights[rest if kind == "weight" else key] = value
        before = self.params, self._io_values()
        try:
            return self.set_weights(weights).set_noise(noise)._set_io(io)
        except ConfigError:
            self.params = before[0]  # all or nothing: nothing stays if one entry is refused
            self._set_io(before[1])
            raise

    def _io_values(self) -> dict[str, float]:
        return {n: getattr(self.io, n) for n in IO_PARAMS if hasattr(self.io, n)}

    def _set_io(self, values: Mapping[str, Any]) -> Env:
        valid = list(self._io_values())
        checked = {}
        for name, value in values.items():
            if name not in valid:
                raise ConfigError(
                    f"parameter 'io-{name}': the IO device ({type(self.io).__name__}) has no "
                    f"parameter {name!r}. Valid: {', '.join(valid) or 'none'}."
                    f"{did_you_mean(name, valid)}"
                )
            checked[name] = limits.number(value, f"io-{name}", 0.0, exclusive_minimum=True,
                                          unit=IO_PARAMS[name])  # fmt: skip
        for name, value in checked.items():
            setattr(self.io, name, value)
        return self

    # ------------------------------------------------------------------ recording
    def record_spikes(self, population: str | Iterable[str] | None = None) -> Env:
        """Record spikes of the given population(s) (default all)."""
        self._record["spikes"] = _populations(self.system, population)
        return self

    def record_voltage(self, population: str | Iterable[str] | None = None,
                       dt: float | None = None, gids: Iterable[int] | None = None,
                       sections: str | Iterable[str] | None = None) -> Env:  # fmt: skip
        """Record somatic voltage every ``model.record_dt`` ms.

        Args:
            population: Population(s) to record (default all).
            dt: livn 2.0.0's recording interval (ms); here it is the model's ``record_dt``, so
                only that value is accepted (build the model with another ``record_dt``).
            gids: Record only these cells (of the populations).
            sections: ``None`` or ``"soma"``: the voltage is somatic, one row per cell
                (livn 2.0.0 recorded a row per section by default).
        """
        if sections is not None:
            names = [sections] if isinstance(sections, str) else sections
            if not isinstance(names, list | tuple) or list(names) != ["soma"]:
                raise ConfigError(
                    f"record_voltage sections={sections!r}: this livn records the somatic "
                    "voltage only (one row per cell); omit sections= or pass 'soma'."
                )
        if dt is not None:
            rdt = float(self.model.record_dt)
            value = limits.number(dt, "record_voltage dt", 0.0, exclusive_minimum=True,
                                  unit="ms")  # fmt: skip
            if not np.isclose(value, rdt):
                raise ConfigError(
                    f"record_voltage dt={value:g} ms: voltage is recorded every record_dt = "
                    f"{rdt:g} ms of the model; omit dt, or build the model with record_dt="
                    f"{value:g} (e.g. ReducedCalciumSomaDendrite(record_dt={value:g}))."
                )
        pops = _populations(self.system, population)
        chosen = None if gids is None else self._check_gids(gids)
        self._record["voltage"], self._record["voltage_gids"] = pops, chosen  # both or neither
        return self

    def _check_gids(self, gids: Iterable[int]) -> np.ndarray:
        try:
            if isinstance(gids, str | bytes | Mapping):
                raise TypeError
            arr = np.asarray(list(gids) if not isinstance(gids, np.ndarray) else gids)
        except (TypeError, ValueError):
            raise ConfigError(f"gids must be a list of cell ids; got {gids!r}.") from None
        n = self.system.num_neurons
        if arr.dtype == bool or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ConfigError(f"gids must be integers 0 … {n - 1}; got {gids!r}.")
        arr = arr.astype(np.int64).reshape(-1)
        bad = arr[(arr < 0) | (arr >= n)]
        if len(bad):
            raise ConfigError(f"gids {bad[:5].tolist()} are not cells of this system (0 … {n - 1}).")
        return np.unique(arr)

    def record_membrane_current(self, population: str | Iterable[str] | None = None) -> Env:
        """Record somatic membrane current (nA, outward positive) every ``model.record_dt``."""
        self._record["membrane_current"] = _populations(self.system, population)
        return self

    def recordable(self) -> list[str]:
        """What :meth:`record` accepts: ``spikes``, ``voltage``, ``membrane_current``."""
        return list(RECORDABLE)

    def record(self, what: str, population: str | Iterable[str] | None = None,
               **kwargs: Any) -> Env:  # fmt: skip
        """livn 2.0.0's ``record(what, population, **kw)``: ``record_<what>(population, **kw)``."""
        import inspect

        method = RECORDABLE.get(what) if isinstance(what, str) else None
        if method is None:
            raise ConfigError(
                f"cannot record {what!r}. Valid: {', '.join(RECORDABLE)}."
                f"{did_you_mean(str(what), RECORDABLE)}"
            )
        recorder = getattr(self, method)
        valid = [p for p in inspect.signature(recorder).parameters if p != "population"]
        unknown = [k for k in kwargs if k not in valid]
        if unknown:
            raise ConfigError(
                f"record({what!r}) takes no argument {', '.join(map(repr, unknown))}. Valid: "
                f"population{''.join(', ' + p for p in valid)}."
            )
        return recorder(population, **kwargs)

    def _gid_mask(self, pops: list[str]) -> np.ndarray:
        mask = np.zeros(self.system.num_neurons, dtype=bool)
        for p in pops:
            start, count = self.system.population_ranges[p]
            mask[start : start + count] = True
        return mask

    # ------------------------------------------------------------------ running
    @property
    def run_key(self):
        """The JAX PRNG key that drives the background noise of this Env's runs."""
        self._check_init()
        return self.key

    def cell_stimulus(self, channel_inputs: Any, dt: float = 1.0) -> Stimulus:
        """Electrode currents ``[T, n_channels]`` (µA, one row per ``dt`` ms) as a Stimulus.

        The model receives them as per-compartment currents through the activating function
        of the electrodes' extracellular field (SPEC §3; :mod:`livn.io.stimulation`). JAX
        arrays pass through unconverted, so gradients flow back to the electrode inputs.
        """
        self._check_init()
        self._require_io("cell_stimulus (electrode inputs)")
        shape = tuple(getattr(channel_inputs, "shape", np.shape(channel_inputs)))
        n_ch = self.io.num_channels
        if len(shape) != 2 or shape[1] != n_ch:
            raise ConfigError(
                f"channel inputs must have shape [T, {n_ch}] (µA per electrode); got {shape}."
            )
        return Stimulus(channel_inputs, dt=dt, space="channels")

    def _require_io(self, what: str) -> Any:
        if self.io is None:
            raise ConfigError(
                f"{what} needs an IO device, and this Env has none ({self.system.name} has no "
                "electrodes); pass io=MEA(...) to Env."
            )
        return self.io

    def channel_recording(self, ii: np.ndarray, *recs: np.ndarray) -> Any:
        """Spikes as the electrodes see them (livn 2.0.0's ``env.channel_recording``).

        Args:
            ii: ``[S]`` gids of the spikes (``it`` of a run).
            *recs: ``[S]`` arrays of the same spikes (e.g. their times ``t``).

        Returns:
            ``cit`` (per channel id, the gids it records) without ``recs``, else ``(cit,
            *per-channel recs)``; every channel is present (2.0.0 left out channels with no
            cell in reach). See :meth:`livn.io.MEA.channel_recording`.
        """
        io = self._require_io("channel_recording")
        coords = self.system.neuron_coordinates
        if not recs:
            return io.channel_recording(coords, ii, np.zeros(np.shape(ii)))[0]
        out = []
        for rec in recs:
            cit, crec = io.channel_recording(coords, ii, rec)
            out.append(crec)
        return (cit, *out)

    def potential_recording(self, currents: np.ndarray, gids: Iterable[int] | None = None
                            ) -> np.ndarray:  # fmt: skip
        """``[n_channels, T]`` extracellular potential (µV) of membrane currents
        (livn 2.0.0's ``env.potential_recording``; :meth:`livn.io.MEA.lfp`).

        Args:
            currents: ``[n, T]`` membrane currents, nA (``mp`` of a run with
                :meth:`record_membrane_current`).
            gids: ``[n]`` gids of the rows (``im``); default all cells in gid order.
        """
        io = self._require_io("potential_recording")
        ids = np.arange(self.system.num_neurons) if gids is None else np.asarray(list(gids))
        return io.lfp(self.system.neuron_coordinates, ids, currents)

    # ------------------------------------------------------------------ livn 2.0.0 names
    # Compatibility with livn 2.0.0 scripts (UPSTREAM-API.md §1, docs/migrating.md): thin
    # views of the recording requests, the model, the system and the IO device above.
    def clear_recordings(self) -> Env:
        """Drop every recording request (spikes, voltage, membrane current); the state, the
        clock and the parameters are kept. Returns ``self``."""
        self._record = {k: None for k in self._record}
        return self

    def reseed_noise(self, stream: int | None = None) -> Env:
        """A new background-noise realisation from now on, without resetting the state or
        :attr:`t` (``clear(reseed=True)`` without the reset).

        The runs after this call continue the same culture under other noise, reproducibly
        (the same calls on the same Env give the same runs): the native and JAX engines draw
        each step's noise from the seed and the step's index; neuron and brian2 restart their
        noise streams from the new seed at this point.

        Args:
            stream: The noise seed from now on (0 … 2³²−1; livn 2.0.0's stream number, used
                here as the seed); default: the next seed of this Env's sequence (as
                ``clear(reseed=True)`` derives it). It becomes :attr:`seed`.

        Returns:
            ``self``.
        """
        self._check_init()
        self.seed = self._next_seed() if stream is None else limits.seed(
            stream, "reseed_noise stream")  # fmt: skip
        self.key = self.engine.key(self.seed)
        return self

    @property
    def voltage_recording_dt(self) -> float:
        """Interval of the voltage and membrane-current samples, ms (the model's
        ``record_dt``)."""
        return float(self.model.record_dt)

    @property
    def v_init(self) -> float:
        """Initial somatic voltage of the cells (mV) at ``t = 0`` (after :meth:`init` and
        :meth:`clear`), from the model's cell types (RCSD: -75 mV).

        Raises:
            ConfigError: The model starts cells at different voltages (e.g. LIF with
                ``v_init="uniform"``), so there is no one value.
        """
        values = set()
        for pop in self.system.graph.populations:
            if not pop.count:
                continue
            cell = self.model.cell_type(pop.synapse_type)
            for draw in (0, 1):  # two seeds: a random initial voltage shows as two values
                try:
                    state = cell.initial_state(2, np, np.float64, rng=np.random.default_rng(draw))
                except TypeError:
                    state = cell.initial_state(2, np, np.float64)
                values.update(float(v) for v in np.asarray(cell.soma_voltage(state)))
        if len(values) != 1:
            shown = ", ".join(f"{v:g}" for v in sorted(values)[:4])
            raise ConfigError(
                f"v_init: the model {type(self.model).__name__} starts its cells at different "
                f"somatic voltages ({shown} … mV), so there is no single v_init; build the "
                "model with one initial voltage (e.g. LIF(v_init=-60.0)) or read the voltage "
                "of a short run (record_voltage)."
            )
        return values.pop()

    def simulated_gids(self) -> np.ndarray:
        """``[N]`` int64 gids of the cells this Env simulates, ascending: every cell of the
        system (this livn simulates whole systems, on one process or spread over MPI ranks
        with each rank receiving every result)."""
        return np.arange(self.system.num_neurons, dtype=np.int64)

    def active_populations(self) -> list[str]:
        """Populations a run reports anything of (spikes, voltage or membrane current, per
        the recording requests), in gid order; empty when nothing is recorded."""
        asked = {p for name in RECORDABLE for p in (self._record[name] or [])}
        return [p for p in self.system.populations if p in asked]

    def active_gids(self) -> np.ndarray:
        """``[n]`` int64 gids whose spikes, voltage or membrane current a run reports,
        ascending (the recorded populations, the voltage restricted to
        ``record_voltage(gids=)``)."""
        mask = np.zeros(self.system.num_neurons, dtype=bool)
        for name in RECORDABLE:
            pops = self._record[name]
            if pops is None:
                continue
            chosen = self._gid_mask(pops)
            if name == "voltage" and self._record["voltage_gids"] is not None:
                keep = np.zeros_like(chosen)
                keep[self._record["voltage_gids"]] = True
                chosen &= keep
            mask |= chosen
        return np.flatnonzero(mask).astype(np.int64)

    def admissible_params(self) -> list[str]:
        """The keys :meth:`set_params` accepts: ``weight-<key>`` per :attr:`weight_names`,
        ``noise-<name>`` and ``noise-<POP>-<name>`` per noise parameter, ``noise-enabled``,
        and ``io-<name>`` per IO parameter of the device. (The noise reversal potentials
        ``E_e``/``E_i`` are accepted only at the model's values, so they are not listed.)"""
        self._check_init()
        names = list(self.model.noise)
        noise = [f"noise-{n}" for n in names]
        noise += [f"noise-{p}-{n}" for p in self.system.populations for n in names]
        return [*(f"weight-{k}" for k in self.weight_names), *noise, "noise-enabled",
                *(f"io-{n}" for n in self._io_values())]  # fmt: skip

    def stimulus_coordinates(self) -> np.ndarray:
        """``[C, 4]`` rows ``[id, x, y, z]`` (µm) of the stimulating electrodes."""
        io = self._require_io("stimulus_coordinates")
        return np.array(io.electrode_coordinates, dtype=np.float64)

    def recording_coordinates(self) -> np.ndarray:
        """``[C, 4]`` rows ``[id, x, y, z]`` (µm) of the recording electrodes (those of a
        :class:`~livn.io.ComposedIO`'s outputs; else the same as
        :meth:`stimulus_coordinates`)."""
        io = self._require_io("recording_coordinates")
        return np.array(getattr(io, "outputs", io).electrode_coordinates, dtype=np.float64)

    def _soma_xyz(self) -> np.ndarray:
        return np.asarray(self.system.neuron_coordinates, dtype=np.float64)[:, 1:4]

    def channel_reach(self) -> np.ndarray:
        """``[C, N]`` extracellular potential (mV) at each soma per µA on each electrode, gid
        order: ``1000 · 3.5 / (4π · sqrt(d² + 52.2²))`` (SPEC §3, :meth:`livn.io.MEA.field`;
        the same point-source rule and constants as livn 2.0.0's reach)."""
        io = self._require_io("channel_reach")
        return np.asarray(io.field(self._soma_xyz()), dtype=np.float64).T

    def source_gain(self) -> np.ndarray:
        """``[C, N]`` potential (µV) at each recording electrode per nA of each cell's membrane
        current, gid order: the weights of :meth:`potential_recording`
        (:meth:`livn.io.MEA.lfp`: ``1 / (4π σ r)``, σ = 0.3 S/m, r = d + 5 µm, 0 beyond
        ``output_radius``)."""
        rec = getattr(self._require_io("source_gain"), "outputs", self.io)  # the recording side
        n = self.system.num_neurons
        coords = self.system.neuron_coordinates
        out = np.zeros((len(rec.electrode_coordinates), n))
        block = 1024
        for a in range(0, n, block):
            ids = np.arange(a, min(a + block, n))
            out[:, ids] = rec.lfp(coords, ids, np.eye(len(ids)))  # one unit current per column
        return out

    def neuron_gain(self) -> np.ndarray:
        """``[C, N]`` current (nA, inward positive) into each cell's soma compartment per µA on
        each electrode, gid order: the activating function of the electrodes' field along
        the cell (SPEC §3, :mod:`livn.io.stimulation`), what :meth:`cell_stimulus` inputs
        drive. Needs :meth:`init`."""
        self._check_init()
        self._require_io("neuron_gain")
        net = self.engine.net
        out = np.zeros((self.io.num_channels, self.system.num_neurons))
        for group, per in zip(net.groups, self._field_maps(net), strict=True):
            out[:, group.gids] = per[:, :, group.cell.soma]
        return out

    def selection(self, select: Any, method: str = "first", bounds: Any = None) -> Env:
        """livn 2.0.0's sub-culture of selected cells: not available here (always refused).

        A :class:`~livn.system.System` is a whole system directory: its gids, synapses and
        tuned weights are those of all its cells, and this livn has no cheap representation
        of a subset of them.

        Raises:
            ConfigError: Always, naming the alternatives.
        """
        raise ConfigError(
            f"env.selection({select!r}, method={method!r}, bounds={bounds!r}): this livn does "
            "not simulate a subset of a system's cells. Record a subset instead "
            "(env.record_voltage(gids=...), env.record_spikes(population)), build a smaller "
            "system (livn systems generate_2d ..., or a predefined one such as 'EI1'), or use "
            "Env({'EXC': n, 'INH': m}) for unconnected cells."
        )

    def _no_plasticity(self, name: str) -> ConfigError:
        return ConfigError(
            f"env.{name}: this livn has no synaptic plasticity; weights are fixed parameters. "
            "Set them with env.set_weights / env.set_params / env.apply_model_defaults (keys: "
            "env.weight_names)."
        )

    def enable_plasticity(self, config: Any = None) -> Env:
        """Refused: there is no synaptic plasticity in this livn (ConfigError)."""
        raise self._no_plasticity("enable_plasticity()")

    def disable_plasticity(self) -> Env:
        """Nothing to do: synapses are never plastic here. Returns ``self``."""
        return self

    def get_weights(self) -> Any:
        """Refused: per-synapse plastic weights do not exist here (ConfigError)."""
        raise self._no_plasticity("get_weights()")

    def normalize_weights(self, *args: Any, **kwargs: Any) -> Env:
        """Refused: there is no synaptic plasticity in this livn (ConfigError)."""
        raise self._no_plasticity("normalize_weights()")

    def record_weights(self, dt: Any = None) -> Env:
        """Refused: weights do not change during a run here (ConfigError)."""
        raise self._no_plasticity("record_weights()")

    def _field_maps(self, net) -> list[np.ndarray]:
        from livn.io.stimulation import channel_maps, orientations

        coords = np.zeros((self.system.num_neurons, 3))
        nc = np.asarray(self.system.neuron_coordinates)
        coords[nc[:, 0].astype(np.int64)] = nc[:, 1:4]
        groups = [(g.gids, g.cell) for g in net.groups]
        return channel_maps(self.io, coords, groups, orientations(self.system.num_neurons))

    def _stimulus_args(self, stimulus: Any, duration: float | None = None) -> dict:
        stim = Stimulus.from_arg(stimulus, duration=duration, env=self)
        if stim is None:
            return {}
        if stim.space == "channels":
            maps = self.engine.channel_maps(self._field_maps)
            return {"stim": stim.array, "stim_dt": stim.dt, "stim_kind": "channels",
                    "maps": maps}  # fmt: skip
        stim.check_cells(self.system.num_neurons)
        n = self.system.num_neurons
        gids = stim.gids if stim.gids is not None else np.arange(n)
        cols = self.engine.net.engine_index[gids]
        if isinstance(stim.array, np.ndarray):
            from livn.io.stimulus_size import check_stimulus_bytes

            check_stimulus_bytes(stim.num_steps * n * 4,
                                 f"a cell stimulus of {stim.num_steps:,} rows × {n:,} cells")  # fmt: skip
            arr = np.zeros((stim.num_steps, n), dtype=np.float32)
            arr[:, cols] = np.asarray(stim.array, dtype=np.float32)
        else:  # a JAX array (possibly traced): stay differentiable
            arr = self.engine.place_cells(stim.array, stim.num_steps, cols)
        return {"stim": arr, "stim_dt": stim.dt, "stim_kind": "cells"}

    def run(self, duration: float, stimulus: Stimulus | Any | None = None,
            dt: float | None = None, unroll: str | None = None, key: Any = None,
            **kwargs: Any):  # fmt: skip
        """Advance the simulation by ``duration`` ms, optionally under a stimulus.

        Args:
            duration: ms; rounded to whole integration steps.
            stimulus: :class:`Stimulus` of somatic currents (nA, ``[T, n_cells]``) or from
                :meth:`cell_stimulus` (electrode currents).
            dt: Integration step (ms; default the model's ``dt``, 0.025 for RCSD). It can
                change until the first run after :meth:`init` or :meth:`clear` (the engine is
                rebuilt, the parameters kept); after that, another value is refused until
                :meth:`clear` (as in livn 2.0.0).
            unroll: ``None`` (default) or ``"mask"``: the differentiable mode. It returns
                JAX arrays ``(mask, t, iv, v)`` — ``mask [N, blocks]`` spike counts per
                recording interval (gid order, surrogate gradients at the threshold), ``t``
                the interval end times (ms), ``iv``/``v`` as usual (all cells when voltage is
                not restricted) — and does not advance the Env's state, so it can run inside
                ``jax.jit``/``jax.grad``.
            key: PRNG key for the noise (default :attr:`run_key`).

        Returns:
            :class:`RunResult` (or the mask tuple above).
        """
        self._check_init()
        if kwargs:
            raise ConfigError(
                f"unsupported run() arguments: {', '.join(kwargs)}. Valid: duration, stimulus, "
                "dt, unroll, key."
            )
        if unroll not in (None, "mask"):
            raise ConfigError(f"unknown unroll {unroll!r}. Valid: None, 'mask'.")
        if dt is not None:
            self._set_dt(dt)
        dt = self.engine.dt
        duration = positive_ms(duration, "duration")
        n_steps = limits.steps(duration, dt)
        rec = self._record
        self._check_memory(duration, n_steps, 1)
        args = self._stimulus_args(stimulus, duration)
        key = self.key if key is None else key
        if unroll == "mask":
            return self._run_mask(n_steps, args, key)
        state, buf, vs, ims, _ = self.engine.run(
            self.state, self.params, n_steps, key=key, record_v=rec["voltage"] is not None,
            record_im=rec["membrane_current"] is not None, **args,
        )  # fmt: skip
        self.state = state
        t0 = self.t
        self.t = self.t + n_steps * dt
        self._ran = True
        return self._result(buf, vs, ims, t0=t0, duration=n_steps * dt)

    def _set_dt(self, dt: Any) -> None:
        """Rebuild the engine with a model of integration step ``dt`` ms (before a run)."""
        import dataclasses

        value = limits.number(dt, "run dt", 0.0, exclusive_minimum=True, unit="ms")
        if np.isclose(value, self.engine.dt, rtol=1e-9, atol=0.0):
            return
        if self._ran:
            raise ConfigError(
                f"run dt={value:g} ms: this Env integrates with dt = {self.engine.dt:g} ms since "
                "its first run; dt can change only before the first run after env.clear(). "
                "Call env.clear() first, or omit dt."
            )
        rdt = float(self.model.record_dt)
        ratio = rdt / value
        if value > rdt or not np.isclose(ratio, round(ratio), rtol=1e-6, atol=0.0):
            raise ConfigError(
                f"run dt={value:g} ms must divide the model's recording interval record_dt = "
                f"{rdt:g} ms (e.g. {rdt / 4:g}, {rdt / 2:g} or {rdt:g} ms)."
            )
        if not dataclasses.is_dataclass(self.model) or "dt" not in {
                f.name for f in dataclasses.fields(self.model)}:  # fmt: skip
            raise ConfigError(
                f"run dt={value:g}: the model {type(self.model).__name__} has no dt field to "
                "change; build it with the integration step you need."
            )
        weights = [np.asarray(w) for w in self.params["weights"]]
        noise = {k: np.asarray(v) for k, v in self.params["noise"].items()}
        noise_on = bool(np.asarray(self.params["noise_on"]) > 0)
        t, seed, key = self.t, self.seed, self.key
        self.model = dataclasses.replace(self.model, dt=value)
        self.close()
        self.init()
        self.params = {"weights": self.engine.weights_param(weights),
                       "noise": self.engine.noise_param(noise),
                       "noise_on": self.engine.switch(noise_on)}  # fmt: skip
        self.seed, self.t, self.key = seed, t, key

    def _check_memory(self, duration: float, n_steps: int, batch: int) -> None:
        """Refuse a run whose recording would not fit :func:`livn.limits.memory_budget`."""
        rec = self._record
        n = self.system.num_neurons
        need = limits.run_bytes(n, n_steps, self.engine.dt, self.model.record_dt,
                                rec["voltage"] is not None, rec["membrane_current"] is not None,
                                batch)  # fmt: skip
        trials = f"{batch} trials of " if batch > 1 else "a "
        limits.check_memory(need, f"{trials}{duration:g} ms run of {n:,} cells",
                            "Run shorter durations (the Env keeps its state between runs), "
                            "fewer trials at once, or record less")  # fmt: skip

    def _run_mask(self, n_steps: int, args: dict, key: Any):
        _, _, vs, _, masks = self.engine.run(
            self.state, self.params, n_steps, key=key, record_v=True, mode="mask", **args
        )
        pops = self._record["voltage"] or list(self.system.populations)
        iv = np.flatnonzero(self._gid_mask(pops))
        mask, t, v = self.engine.mask_outputs(masks, vs, iv)
        return mask, t, iv, v

    def _result(self, buf, vs, ims, rec=None, t0: float = 0.0,
                duration: float | None = None) -> RunResult:  # fmt: skip
        rec = rec or self._record
        buf_i, buf_t, count, overflow = (np.asarray(b) for b in buf)
        gids = self.engine.net.gids
        it = t = iv = v = im = mp = None
        if rec["spikes"] is not None:
            it = gids[buf_i[: int(count)]]
            t = buf_t[: int(count)].astype(np.float64)
            keep = self._gid_mask(rec["spikes"])[it]
            order = np.lexsort((it[keep], t[keep]))
            it, t = it[keep][order], t[keep][order]
        for name, blocks in (("voltage", vs), ("membrane_current", ims)):
            if rec[name] is None:
                continue
            arr = np.asarray(blocks).T  # [N engine, blocks]
            ids = np.flatnonzero(self._gid_mask(rec[name]))
            if name == "voltage" and rec.get("voltage_gids") is not None:
                ids = ids[np.isin(ids, rec["voltage_gids"])]
            rows = arr[self.engine.net.engine_index[ids]]
            if name == "voltage":
                iv, v = ids, rows
            else:
                im, mp = ids, rows
        if int(overflow) > 0:
            import warnings

            warnings.warn(
                f"{int(overflow)} spikes exceeded the spike buffer of this run and were not "
                "recorded (they were delivered); run shorter durations.",
                RuntimeWarning,
                stacklevel=3,
            )
        return RunResult(it, t, iv, v, im, mp, full=rec["membrane_current"] is not None,
                         t0=t0, duration=duration, record_dt=float(self.model.record_dt))

    def batch_state(self, seeds: Iterable[int] | int, initial: bool = False) -> BatchState:
        """Independent copies of this Env's culture for :meth:`run_batch` ``states=``.

        Args:
            seeds: One noise seed per culture, or a number of cultures ``n`` (seeds
                ``seed, seed + 1, …``).
            initial: Start every culture at t = 0 (as after :meth:`clear`) instead of at the
                Env's current state.

        Returns:
            A :class:`livn.batch.BatchState` (see there for an example).
        """
        self._check_init()
        seeds = seeds_arg(seeds, self.seed, "batch_state seeds")
        if initial:
            states = self.engine.initial_states(len(seeds))
        else:
            states = self.engine.stack_states(self.state, len(seeds))
        return BatchState(self.engine, states, seeds)

    def _batch_stimulus(self, stimulus: Any, duration: float) -> tuple[dict, bool]:
        """``(engine stimulus arguments, whether they have a leading trial axis)``."""
        if stimulus is None:
            return {}, False
        if isinstance(stimulus, list | tuple) and stimulus and all(
                isinstance(x, Stimulus) for x in stimulus):  # fmt: skip
            return self._stimulus_list(list(stimulus)), True
        stim = stimulus if isinstance(stimulus, Stimulus) else None
        arr = stim.array if stim is not None else stimulus
        if getattr(arr, "ndim", 0) != 3:
            return self._stimulus_args(stimulus, duration), False
        space = stim.space if stim is not None else "cells"
        dt = stim.dt if stim is not None else 1.0
        return self._stimulus_list([Stimulus(a, dt=dt, space=space) for a in arr]), True

    def _stimulus_list(self, stims: list[Stimulus]) -> dict:
        """Engine arguments of one :class:`Stimulus` per trial (same space, dt and shape)."""
        first = stims[0]
        for i, x in enumerate(stims):
            same_gids = (x.gids is None and first.gids is None) or (
                x.gids is not None and first.gids is not None
                and np.array_equal(x.gids, first.gids))  # fmt: skip
            if (x.space, x.dt, tuple(x.array.shape)) != (
                    first.space, first.dt, tuple(first.array.shape)) or not same_gids:  # fmt: skip
                raise ConfigError(
                    f"run_batch stimuli must share space, dt, shape and gids: trial {i} has "
                    f"{x.space} {tuple(x.array.shape)} at {x.dt:g} ms, trial 0 {first.space} "
                    f"{tuple(first.array.shape)} at {first.dt:g} ms."
                )
        args = self._stimulus_args(first)
        if first.space == "channels":
            arrays = [x.array for x in stims]
            stacked = (np.stack([np.asarray(a, np.float32) for a in arrays])
                       if all(isinstance(a, np.ndarray) for a in arrays)
                       else self.engine.stack(arrays))  # fmt: skip
            return {**args, "stim": stacked}
        per = [args] + [self._stimulus_args(x) for x in stims[1:]]
        return {**args, "stim": self.engine.stack([p["stim"] for p in per])}

    def run_batch(self, duration: float, stimulus: Stimulus | Any | None = None,
                  seeds: Iterable[int] | None = None, batch_size: int | None = None, *,
                  states: BatchState | None = None):  # fmt: skip
        """Run independent trials in one vectorised call (``jax.vmap``; fast on GPUs).

        Every trial starts from the current state and differs in its noise seed (``seeds``,
        default ``seed, seed + 1, …``) and, if the stimulus array has a leading batch axis
        ``[B, T, n]``, in its stimulus. The Env's own state does not advance.

        With ``states`` (from :meth:`batch_state`), trial ``i`` continues culture ``i`` of
        ``states`` instead — its state, clock and seed — and ``states`` advances by the run
        (the cultures of a vector RL environment; see :mod:`livn.batch`).

        Args:
            duration: ms; rounded to whole integration steps.
            stimulus: As for :meth:`run` (the same for every trial), or one per trial: a
                list of :class:`Stimulus` (same space, dt, shape and gids), or a bare
                ``[B, T, n]`` array of somatic currents (nA).
            seeds: Noise seed per trial (not with ``states``, which carry their own).
            batch_size: Number of trials when neither ``seeds`` nor a batched stimulus say.
            states: Cultures to continue (their number is the number of trials).

        Returns:
            A list of :class:`RunResult`, one per trial (``t0``: the trial's start time).
        """
        self._check_init()
        duration = positive_ms(duration, "duration")
        n_steps = limits.steps(duration, self.engine.dt)
        args, batched_stim = self._batch_stimulus(stimulus, duration)
        if states is not None:
            if not isinstance(states, BatchState):
                raise ConfigError(
                    f"run_batch states must be a BatchState from env.batch_state(seeds); got "
                    f"{type(states).__name__}."
                )
            states.check(self.engine)
            if seeds is not None or batch_size is not None:
                raise ConfigError(
                    "run_batch(states=...) takes its trials and seeds from the states; drop "
                    "seeds= and batch_size= (BatchState.reset(i, seed) changes a seed)."
                )
            seeds = states.seeds
        elif seeds is None:
            b = batch_size if batch_size is not None else (
                args["stim"].shape[0] if batched_stim else 1)  # fmt: skip  (0 is not 1)
            b = limits.integer(b, "batch_size", 1)
            seeds = [self.seed + i for i in range(b)]
        else:
            seeds = seeds_arg(seeds, self.seed, "run_batch seeds", count=False)
        if batched_stim and args["stim"].shape[0] != len(seeds):
            raise ConfigError(
                f"the stimulus has {args['stim'].shape[0]} trials (leading axis) but the batch "
                f"has {len(seeds)} ({'cultures in states' if states is not None else 'seeds'}); "
                "give one stimulus per trial, or one [T, n] stimulus for all."
            )
        self._check_memory(duration, n_steps, len(seeds))
        rec = self._record
        if states is not None:
            t0s = states.t
            keys = states.keys()
            extra = {"states": states._states}
        else:
            t0s = np.full(len(seeds), self.t)
            keys = self.engine.keys(seeds)
            extra = {}
        try:
            finals, buf, vs, ims, _ = self.engine.run_batch(
                self.state, self.params, n_steps, keys, batched_stim=batched_stim,
                record_v=rec["voltage"] is not None,
                record_im=rec["membrane_current"] is not None, **args, **extra,
            )  # fmt: skip
        except BaseException:
            if states is not None:  # the cultures may have advanced in place, some of them
                states._interrupted()
            raise
        if states is not None:
            states._advance(finals)
        buf = [np.asarray(b) for b in buf]
        vs = None if vs is None else np.asarray(vs)
        ims = None if ims is None else np.asarray(ims)
        return [
            self._result(
                tuple(b[i] for b in buf),
                None if vs is None else vs[i],
                None if ims is None else ims[i],
                t0=float(t0s[i]), duration=n_steps * self.engine.dt,
            )
            for i in range(len(seeds))
        ]

    @property
    def capabilities(self) -> frozenset:
        """livn 2.0.0's ``env.capabilities``: the :class:`livn.types.Capability` set of this
        Env's backend."""
        from livn.types import capabilities

        return capabilities(self.backend)

    def __call__(self, decoding: Any, inputs: Any = None, encoding: Any = None, **kwargs: Any):
        """``decoding(env, *env.run(decoding.duration, encoding(env, duration, inputs)))``.

        As in livn 2.0.0, a number instead of a decoding is a duration (ms): ``env(100)`` runs
        100 ms (under ``encoding(env, 100, inputs)`` if given) and returns the
        :class:`RunResult`.
        """
        raw = isinstance(decoding, int | float | np.integer | np.floating) and not isinstance(
            decoding, bool)  # fmt: skip
        duration = decoding if raw else getattr(decoding, "duration", None)
        if duration is None:
            raise ConfigError(
                "the decoding must define a duration (ms); or call env(duration_ms) for the "
                "raw result."
            )
        setup = None if raw else getattr(decoding, "setup", None)
        if callable(setup):
            setup(self)  # livn 2.0.0's hook (LFP records membrane currents here)
        stimulus = encoding(self, duration, inputs) if encoding is not None else None
        result = self.run(duration, stimulus, **kwargs)
        return result if raw else decoding(self, *result)


def make(system: Any, **kwargs: Any) -> Env:
    """A ready Env for a predefined system (or a path, a System, a number of cells):
    initialised, defaults applied. ``livn.make(system="EI2")`` as in livn 2.0.0."""
    return Env(system, **kwargs).init().apply_model_defaults()

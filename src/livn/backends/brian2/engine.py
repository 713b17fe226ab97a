"""The Brian2 engine: one ``NeuronGroup`` per cell group, ``Synapses`` per channel.

Design (and why):

* **Cells.** One ``NeuronGroup`` row per cell, holding every compartment's state as its own
  variable (``v_0 … v_6``, gates, ion pools). One integration step is a ``run_regularly``
  code block (slot ``groups``) rendered by :mod:`livn.backends.brian2.codegen` from the
  model's own functions (no equation or number is copied here). For RCSD it is backward Euler
  with the axial coupling implicit — the chain's tridiagonal system solved per cell,
  unrolled — then the gates at the new voltage and the pools forward Euler, as
  :func:`livn.models.rcsd.dynamics.step`. Explicit integration of the coupling is unstable
  (axon segments have C/g ≪ dt); ``SpatialNeuron`` has an implicit cable solver but models
  *one* neuron per object (a culture would be hundreds of objects, each with its own code)
  and splits the step differently (channel states before the voltage, currents linearised
  by sympy), so it would neither scale nor match the JAX engine step for step. LIF and
  Izhikevich run the models' own ``advance`` rendered the same way.
* **Synapses.** One ``Synapses`` object per (presynaptic group, postsynaptic group), one
  synapse per network entry (its channel ``ch``), with delay ``(entry_delay − 1)·dt``:
  Brian2 delivers in the ``synapses`` slot after the step, so the arrival enters the next
  step, ``entry_delay`` steps after the spike, as in the JAX engine. ``on_pre`` adds the
  release to the target's ``inc<ch>`` (the step moves it into the dual-exponential pair
  ``A, B``). AMPA short-term
  depression is kept per synapse and updated at arrival: every synapse of a presynaptic cell
  sees its spike train shifted by a constant delay, so the interval since the last arrival
  equals the interval since the last spike and the ``R`` sequence is the JAX engine's
  per-cell one.
* **Inputs without recompiling.** Background-noise normals and the injected current are
  read from ``TimedArray`` tables of fixed shape (``livn_z<g>`` ``[chunk, 2n]``,
  ``livn_inj<g>`` ``[rows, n·n_comp]`` addressed through ``livn_row``) that are overwritten
  in place before each chunk of at most ``chunk`` steps (a run with neither noise nor a
  stimulus reads only their zero rows and is one Brian2 run). A new stimulus, new weights or new
  noise levels change data only: the generated code (and Cython's compiled module, cached
  by Brian2 on disk) stays the same. All objects have fixed names, so the code of a system
  is the same in every process.
* **Noise streams.** Brian2's ``seed()`` is global, so the normals come from NumPy: the
  steps ``[b·1024, (b+1)·1024)`` use ``default_rng([seed, b])``. A run is reproducible from
  the Env seed and the step, and continues across ``run()`` calls and chunk boundaries.
* **Reset.** The network is stored right after it is built (``Network.store``); ``clear()``
  restores it — every variable, the spike queues *and the time* — so a second identical run
  after ``clear()`` gives identical output. ``run_batch`` snapshots the same way.
* **Code generation target.** ``cython`` (compiled C; the first build of a system takes
  tens of seconds, later ones load from Brian2's cache) when a compiler works, else
  ``numpy``; ``LIVN_BRIAN2_TARGET=numpy|cython`` overrides. ``cpp_standalone`` is not
  offered: a standalone build bakes the run's inputs and duration into one binary, so every
  new stimulus or ``clear()`` would rebuild — the opposite of what this engine promises.
"""

from __future__ import annotations

import os
from typing import Any

import brian2 as b2
import numpy as np

from livn.backends.brian2.codegen import group_code
from livn.backends.host import HostEngine, Injection, NoiseStreams
from livn.backends.network import Network, build_network
from livn.errors import ConfigError
from livn.models.base import synapse_physics

__all__ = ["Brian2Engine", "make_engine"]

TARGETS = ("cython", "numpy")
DELIVERY = ("auto", "gather", "scatter")
_INIT = "livn_init"


def _code_object_class(target: str | None):
    """The Brian2 code object class of ``target`` (None: cython if it works, else numpy)."""
    target = target or os.environ.get("LIVN_BRIAN2_TARGET") or None
    if target is not None and target not in TARGETS:
        extra = (" (cpp_standalone would rebuild for every new stimulus and clear(); it is "
                 "not offered)" if target == "cpp_standalone" else "")  # fmt: skip
        raise ConfigError(
            f"unknown Brian2 target {target!r} (LIVN_BRIAN2_TARGET). Valid: "
            f"{', '.join(TARGETS)}.{extra}"
        )
    from brian2.codegen.runtime.numpy_rt import NumpyCodeObject

    if target == "numpy":
        return NumpyCodeObject
    from brian2.codegen.runtime.cython_rt import CythonCodeObject

    if target == "cython" or CythonCodeObject.is_available():
        return CythonCodeObject
    return NumpyCodeObject


class Brian2Engine(HostEngine):
    """Runs a :class:`Network` of one model's cells in Brian2 (see the module docstring).

    Args:
        network: From :func:`livn.backends.network.build_network`.
        model: The model (RCSD, LIF or Izhikevich).
        seed: The Env seed (initial state where random, initial noise streams).
        target: ``"cython"`` or ``"numpy"`` (default: ``LIVN_BRIAN2_TARGET``, else cython
            when a compiler works).
        chunk: Steps per Brian2 run at most (size of the input tables); default from the
            network size.
    """

    backend = "brian2"

    def __init__(self, network: Network, model: Any, seed: int = 0, target: str | None = None,
                 chunk: int | None = None) -> None:  # fmt: skip
        super().__init__(network, model, seed)
        self.physics = synapse_physics(model)
        self.codeobj_class = _code_object_class(target)
        self.target = "numpy" if self.codeobj_class.__name__.startswith("Numpy") else "cython"
        n = max(network.num_neurons, 1)
        n_comp = sum(g.n * g.cell.n_comp for g in network.groups) or 1
        # steps per Brian2 run while noise or a stimulus is read from the tables (32 MB of
        # normals at most), and while voltage/current are recorded (every step, 32 MB)
        self.chunk = int(chunk) if chunk else max(256, min(20_000, 4_000_000 // (2 * n)))
        self.rec_steps = max(256, 4_000_000 // n)
        self.rows = max(8, min(512, 2_000_000 // n_comp))  # injection rows per chunk (+ zero)
        self.noise = NoiseStreams(network.num_neurons, self.seed)
        self._noise_active = False
        self._inj_dirty = [False] * len(network.groups)
        self._z_dirty = [False] * len(network.groups)
        self._snapshots: list[str] = []
        self._build()

    # ------------------------------------------------------------------ construction
    def _build(self) -> None:
        net, dt, cls = self.net, self.dt, self.codeobj_class
        ms = b2.ms
        self.clock = b2.Clock(dt=dt * ms, name="livn_clock")
        self.row_table = b2.TimedArray(np.full(self.chunk, float(self.rows - 1)), dt=dt * ms,
                                       name="livn_row")  # fmt: skip
        self.groups, self.codes, self.z_tables, self.inj_tables = [], [], [], []
        self.spike_mons, self.v_mons, self.im_mons, objects = [], [], [], []
        for gi, g in enumerate(net.groups):
            if g.cell.n_comp > 1 and not hasattr(getattr(g.cell, "cell", None), "g_axial"):
                raise ConfigError(
                    f"the brian2 backend runs RCSD, LIF and Izhikevich cells; "
                    f"{type(g.cell).__name__} is not one of them. Use backend='jax'."
                )
            code = group_code(g.cell, g.channels, self.physics, dt, gi)
            z = b2.TimedArray(np.zeros((self.chunk, 2 * g.n)), dt=dt * ms, name=f"livn_z{gi}")
            inj = b2.TimedArray(np.zeros((self.rows, g.n * g.cell.n_comp)), dt=dt * ms,
                                name=f"livn_inj{gi}")  # fmt: skip
            namespace = {f"livn_z{gi}": z, f"livn_inj{gi}": inj, "livn_row": self.row_table}
            group = b2.NeuronGroup(g.n, "\n".join(code.decls), threshold="spk > 0.5",
                                   reset="", namespace=namespace, clock=self.clock,
                                   name=f"livn_group{gi}", codeobj_class=cls)  # fmt: skip
            group.run_regularly("\n".join(code.step), when="groups", name=f"livn_step{gi}",
                                codeobj_class=cls)  # fmt: skip
            self.spike_mons.append(b2.SpikeMonitor(group, variables="tcross", record=True,
                                                   name=f"livn_spikes{gi}", codeobj_class=cls))  # fmt: skip
            self.v_mons.append(b2.StateMonitor(group, code.soma_v, record=True, when="end",
                                               clock=self.clock, name=f"livn_v{gi}",
                                               codeobj_class=cls))  # fmt: skip
            self.im_mons.append(b2.StateMonitor(group, code.soma_im, record=True, when="end",
                                                clock=self.clock, name=f"livn_im{gi}",
                                                codeobj_class=cls))  # fmt: skip
            self.groups.append(group)
            self.codes.append(code)
            self.z_tables.append(z)
            self.inj_tables.append(inj)
        objects += self.groups + self.spike_mons + self.v_mons + self.im_mons
        self.synapses = self._build_synapses()
        self.network = b2.Network(*objects, *self.synapses, name="livn_network")
        self._initialise()
        self.network.store(_INIT)

    def _build_synapses(self) -> list:
        """One ``Synapses`` per (presynaptic group, postsynaptic group): each synapse knows
        its channel (``ch``) and whether it depresses (``std``); fewer objects, fewer
        per-step calls."""
        net, dt, cls = self.net, self.dt, self.codeobj_class
        u, tau = float(self.physics.std_u), float(self.physics.std_tau_rec)
        out = []
        for gi, g in enumerate(net.groups):
            n_ch = len(g.channels)
            if not n_ch:
                continue
            local = net.entry_slot.astype(np.int64) - g.slot_offset
            mine = (local >= 0) & (local < g.n * n_ch)
            for pg, pre in enumerate(net.groups):
                pre_idx = net.entry_pre.astype(np.int64) - pre.offset
                s = mine & (pre_idx >= 0) & (pre_idx < pre.n)
                if not np.any(s):
                    continue
                ch = (local[s] % n_ch).astype(np.int32)
                std = np.array([c.kinetics.depression for c in g.channels])[ch]
                model = ["ch : integer (constant)"]
                code = []
                if np.any(std):  # AMPA depression, updated at arrival (see module docstring)
                    model += ["std : 1 (constant)", "R : 1", "tlast : second"]
                    code += [f"q_reff = 1 - (1 - R) * exp(-(t - tlast) / ({tau!r} * ms))",
                             f"q_rel = std * q_reff * {u!r} + (1 - std)"]  # fmt: skip
                    rel = "q_rel * "
                else:
                    rel = ""
                used = sorted(set(ch.tolist()))
                code += [f"inc{ci}_post += {rel}int(ch == {ci})" for ci in used]
                if np.any(std):
                    code += [f"R = q_reff * (1 - {u!r})", "tlast = t"]
                syn = b2.Synapses(self.groups[pg], self.groups[gi], model="\n".join(model),
                                  on_pre="\n".join(code), clock=self.clock,
                                  name=f"livn_syn{pg}_{gi}", codeobj_class=cls)  # fmt: skip
                syn.connect(i=pre_idx[s].astype(np.int32), j=(local[s] // n_ch).astype(np.int32))
                syn.delay = (net.entry_delay[s].astype(np.float64) - 1.0) * dt * b2.ms
                syn.ch = ch
                if np.any(std):
                    syn.std = std.astype(np.float64)
                    syn.R = 1.0
                    syn.tlast = -1e9 * b2.ms
                out.append(syn)
        return out

    def _initialise(self) -> None:
        """Initial state (the JAX engine's: model initial state, zero synapses and noise)."""
        for gi, (g, group) in enumerate(zip(self.net.groups, self.groups, strict=True)):
            rng = np.random.default_rng([self.seed, gi])
            try:
                s = g.cell.initial_state(g.n, np, np.float64, rng=rng)
            except TypeError:
                s = g.cell.initial_state(g.n, np, np.float64)
            for key, arr in s.items():
                arr = np.asarray(arr, np.float64).reshape(g.n, -1)
                for j in range(arr.shape[1]):
                    if f"{key}_{j}" in group.variables:
                        setattr(group, f"{key}_{j}", arr[:, j])
            group.tspike = -1e9 * b2.ms

    # ------------------------------------------------------------------ HostEngine hooks
    def _reset(self) -> None:
        self.network.restore(_INIT)

    keeps_snapshots = False  # _save keeps one snapshot besides the initial state

    def _save(self) -> str:
        for old in self._snapshots:  # keep one snapshot besides the initial state
            self.network._stored_state.pop(old, None)
        name = f"livn_snapshot{self._token}"
        self.network.store(name)
        self._snapshots = [name]
        return name

    def _restore(self, snapshot: str) -> None:
        self.network.restore(snapshot)

    def _seed_noise(self, seed: int) -> None:
        self.noise.reseed(seed)

    def _apply(self, params: dict) -> None:
        dt = self.dt
        noise = {k: np.asarray(v, np.float64) for k, v in params["noise"].items()}
        on = float(np.asarray(params["noise_on"]))
        for gi, (g, group) in enumerate(zip(self.net.groups, self.groups, strict=True)):
            for ci, w in enumerate(self.channel_scale(gi, params["weights"][gi])):
                setattr(group, f"w{ci}", float(w))
            sl = slice(g.offset, g.offset + g.n)
            for kind in ("e", "i"):
                a = np.exp(-dt / noise[f"tau_{kind}"][sl])
                setattr(group, f"a_{kind}", a)
                setattr(group, f"b_{kind}", noise[f"std_{kind}"][sl] * np.sqrt(1.0 - a * a))
                setattr(group, f"g_{kind}0", noise[f"g_{kind}0"][sl])
            group.noise_on = on
        self._noise_active = on != 0.0 and bool(
            np.any(noise["std_e"] != 0) or np.any(noise["std_i"] != 0)
        )

    # ------------------------------------------------------------------ inputs of a chunk
    def _fill(self, first: int, k: int, inj: Injection | None, step: int) -> int:
        """Write the input tables for local steps ``[first, first + k)`` (absolute ``step``
        of the first); returns the steps that fit (injection rows may shorten the chunk)."""
        zero_row = self.rows - 1
        rows = np.full(self.chunk, float(zero_row))
        if inj is not None and any(c is not None for c in inj.currents):
            n_rows = max(c.shape[0] for c in inj.currents if c is not None)
            local = first + np.arange(k)
            ti = np.floor(local * self.dt / inj.dt + 1e-4).astype(np.int64)
            valid = ti < n_rows
            if np.any(valid):
                lo = int(ti[valid][0])
                fits = ~valid | (ti - lo < zero_row)
                if not np.all(fits):
                    k = int(np.argmin(fits))
                    ti, valid = ti[:k], valid[:k]
                hi = int(ti[valid].max()) + 1 if np.any(valid) else lo
                rows[:k] = np.where(valid, ti - lo, zero_row)
                for gi, (g, cur) in enumerate(zip(self.net.groups, inj.currents, strict=True)):
                    table = self.inj_tables[gi].values
                    if cur is None:
                        if self._inj_dirty[gi]:
                            table[:zero_row] = 0.0
                            self._inj_dirty[gi] = False
                        continue
                    block = np.zeros((hi - lo, g.n * g.cell.n_comp))
                    part = np.asarray(cur[lo:hi], np.float64).reshape(-1, g.n * g.cell.n_comp)
                    block[: len(part)] = part
                    table[: hi - lo] = block
                    self._inj_dirty[gi] = True
        self.row_table.values[:] = rows
        if self._noise_active:
            z = self.noise.normals(step, k)
            for gi, g in enumerate(self.net.groups):
                self.z_tables[gi].values[:k] = z[:, g.offset : g.offset + g.n].reshape(k, -1)
                self._z_dirty[gi] = True
        else:
            for gi in range(len(self.net.groups)):
                if self._z_dirty[gi]:
                    self.z_tables[gi].values[:] = 0.0
                    self._z_dirty[gi] = False
        return k

    # ------------------------------------------------------------------ runs
    def _simulate(self, n_steps: int, inj: Injection | None, record_v: bool, record_im: bool):
        net, dt = self.net, self.dt
        n_blocks = n_steps // self.n_sub
        step0 = round(self._t / dt)
        t_start = float(self.network.t_)
        for mon in self.v_mons:
            mon.active = record_v
        for mon in self.im_mons:
            mon.active = record_im
        ids, times, vs, ims = [], [], [], []
        done = 0
        tables = self._noise_active or inj is not None
        while done < n_steps:
            k = n_steps - done  # beyond the tables' rows Brian2 reads their last (zero) row
            if tables:
                k = min(k, self.chunk)
            if record_v or record_im:
                k = min(k, self.rec_steps)
            k = self._fill(done, k, inj, step0 + done)
            t_chunk = float(self.network.t_)
            for group in self.groups:
                group.t0 = t_chunk * b2.second
            self.network.run(k * dt * b2.ms, namespace={})
            # spikes of the chunk
            for g, mon in zip(net.groups, self.spike_mons, strict=True):
                if mon.num_spikes:
                    ids.append(np.asarray(mon.i[:], np.int64) + g.offset)
                    times.append((np.asarray(mon.tcross_[:]) - t_start) * 1e3)
                    mon.resize(0)
                    mon.variables["N"].set_value(0)  # resize() leaves the count to the template
            # block ends within the chunk: local steps L with (L + 1) % n_sub == 0
            local = done + np.arange(k)
            keep = ((local + 1) % self.n_sub == 0) & (local < n_blocks * self.n_sub)
            for flag, mons, out in ((record_v, self.v_mons, vs), (record_im, self.im_mons, ims)):
                if not flag:
                    continue
                cols = []
                for mon, code in zip(mons, self.codes, strict=True):
                    name = code.soma_v if mons is self.v_mons else code.soma_im
                    rec = np.asarray(mon.variables[name].get_value())
                    if rec.shape[0] != k:
                        raise RuntimeError(f"brian2 recorded {rec.shape[0]} steps of {k}")
                    cols.append(rec[keep])
                    mon.resize(0)
                out.append(np.concatenate(cols, axis=1))
            done += k
        n = net.num_neurons

        def blocks(parts: list, flag: bool):
            if not flag:
                return None
            if not parts:
                return np.zeros((n_blocks, n), np.float32)
            return np.concatenate(parts, axis=0).astype(np.float32)

        ids_ = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        times_ = np.concatenate(times) if times else np.zeros(0)
        return ids_, times_, blocks(vs, record_v), blocks(ims, record_im)

    def close(self) -> None:
        """Drop the Brian2 objects."""
        self.network = None
        self.groups = self.synapses = []
        self.spike_mons = self.v_mons = self.im_mons = []


def make_engine(system: Any, model: Any, seed: int = 0, delivery: str = "auto",
                **kwargs: Any) -> Brian2Engine:  # fmt: skip
    """The registry's factory: a :class:`Brian2Engine` for ``system`` and ``model``.

    ``delivery`` (the JAX engine's spike-delivery choice) is accepted and ignored: Brian2
    delivers spikes through its own event queues.
    """
    if delivery not in DELIVERY:
        raise ConfigError(f"unknown delivery {delivery!r}. Valid: {', '.join(DELIVERY)}.")
    return Brian2Engine(build_network(system, model), model, seed=seed, **kwargs)

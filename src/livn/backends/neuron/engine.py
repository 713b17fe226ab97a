"""The NEURON backend: RCSD cells as NEURON sections with livn's own NMODL mechanisms.

Each RCSD cell is an unbranched chain of one-segment sections (EXC: dendrite, soma, five axon
segments; INH: soma, five axon segments) with the areas, capacitances, conductances and axial
conductances of :class:`~livn.models.rcsd.cells.CellType`: a section's length and diameter
give its area, and its axial resistivity is chosen so that the two half-sections between
neighbouring nodes add up to exactly the template's axial conductance. Channels and ion pools
are the mechanisms in ``mod/`` (SPEC §2.3), written from the SPEC, not from our JAX code:
NEURON computes the Na/K reversal potentials from the pool concentrations (Nernst at 36 °C)
and integrates with its fixed-step backward Euler (``dt`` of the model).

Synapses are one :mod:`LivnSyn <livn.backends.neuron.mechanisms>` point process per cell and
channel (projection × mechanism), fed by one NetCon per connection with the conduction delay
of :func:`~livn.backends.network.build_network` (NMDA Mg block and per-connection AMPA
depression in the mechanism). Background noise is two ``LivnOU`` point processes per cell
(excitatory and inhibitory conductance) drawing from Random123 streams with ids
``(seed, gid, 0|1)``: reproducible from the Env seed and independent of the number of MPI
ranks. Injected and extracellular stimuli are per-compartment currents (the activating
function of :mod:`livn.io.stimulation`, the same field sample points as the JAX engine)
played into IClamps.

NEURON holds one simulation per process: initialising a second NEURON Env closes the first.
``run_batch`` and ``batch_state`` restore snapshots of the simulator: ``SaveState`` plus what
it leaves out (see :meth:`Engine._save`), so a trial runs exactly as a run from the same
state would.
"""

from __future__ import annotations

import math
import os
import sys
import weakref
from typing import Any

import numpy as np

from livn.backends.host import HostEngine, Injection
from livn.errors import ConfigError

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")

_ACTIVE: weakref.ref | None = None  # the process's live NEURON engine
_PROCESS = {"mpi": False, "subworlds": None}  # NEURON's once-per-process MPI set-up


def mpi_library() -> str | None:
    """The real MPI library for NEURON's dynamic MPI loading, when MPI comes from the ``mpich``
    wheel (its ``libmpi.so`` is a linker script NEURON cannot load): ``<prefix>/lib/libmpi.so.12``."""
    for prefix in (sys.prefix, sys.base_prefix):
        lib = os.path.join(prefix, "lib", "libmpi.so.12")
        if os.path.exists(lib):
            return lib
    return None


def _neuron(mpi: bool = False):
    if mpi and "MPI_LIB_NRN_PATH" not in os.environ and mpi_library() is not None:
        os.environ["MPI_LIB_NRN_PATH"] = mpi_library()
    from neuron import h

    from livn.backends.neuron.mechanisms import load_mechanisms

    if mpi and not _PROCESS["mpi"]:
        from mpi4py import MPI  # noqa: F401  (MPI is initialised before NEURON attaches)

        h.nrnmpi_init()
        _PROCESS["mpi"] = True
    load_mechanisms(h)
    return h


def _check_mpi(comm: Any, subworld_size: Any) -> tuple[Any, int | None]:
    """``(comm or None, subworld size or None)``; refuses what NEURON cannot do."""
    from livn import limits

    if comm is None:
        if subworld_size is not None:
            raise ConfigError("subworld_size needs comm= (an MPI communicator); pass both.")
        return None, None
    size = getattr(comm, "size", None)
    if size is None:
        raise ConfigError(f"comm must be an mpi4py communicator (MPI.COMM_WORLD); got {comm!r}.")
    from mpi4py import MPI

    if size != MPI.COMM_WORLD.size:
        raise ConfigError(
            f"the neuron backend distributes over MPI.COMM_WORLD ({MPI.COMM_WORLD.size} ranks); "
            f"got a communicator of {size}. To run independent simulations on groups of ranks, "
            "pass comm=MPI.COMM_WORLD and subworld_size=<ranks per simulation>."
        )
    if subworld_size is not None:
        subworld_size = limits.integer(subworld_size, "subworld_size", 1, size)
        if size % subworld_size:
            raise ConfigError(
                f"subworld_size {subworld_size} does not divide the {size} MPI ranks; choose a "
                f"divisor of {size}."
            )
    if size == 1 and subworld_size in (None, 1):
        return None, None
    return comm, subworld_size


def half_resistances(g_axial: np.ndarray) -> np.ndarray:
    """Half-section resistances (MΩ) of a chain whose neighbours are coupled by ``g_axial``
    (µS): ``R_j + R_{j+1} = 1 / g_j``, the far end's two halves equal.

    Raises:
        ConfigError: When the chain cannot be built from positive half-sections.
    """
    g = np.asarray(g_axial, np.float64)
    n = len(g) + 1
    r = np.zeros(n)
    r[-1] = 0.5 / g[-1] if len(g) else 1.0
    for j in range(n - 2, -1, -1):
        r[j] = 1.0 / g[j] - r[j + 1]
    if np.any(r <= 0):
        raise ConfigError(f"axial conductances {g.tolist()} µS cannot be built from sections.")
    return r


#: Density-mechanism ASSIGNED variables computed with the gates in the state update and used
#: by the next step's current: the instantaneous Na activation and the Ca channels' GHK drive.
_CARRIED = (("livn_nas", "m"), ("livn_cal", "drive"), ("livn_can", "drive"))


class _Cell:
    """One RCSD cell: sections, synaptic channels, noise, spike source and recorders."""

    def __init__(self, h, cell: Any, index: int, channels: list, physics: Any) -> None:
        from livn.models.rcsd.dynamics import rest_currents

        ct = cell.cell
        p = ct.params
        i_hold, irest = rest_currents(ct)
        r_half = half_resistances(ct.g_axial)  # MΩ
        self.secs = []
        for j, name in enumerate(ct.sections):
            sec = h.Section(name=f"c{index}_{name}")
            sec.nseg = 1
            area_um2 = float(p["area"][j]) * 1e8
            side = math.sqrt(area_um2 / math.pi)  # L = diam: π d L = area
            sec.L = sec.diam = side
            # R_half = Ra (L/2) / (π (d/2)²) with lengths in cm, Ra in Ω·cm
            r_cm = side / 2 * 1e-4
            sec.Ra = r_half[j] * 1e6 * math.pi * r_cm * r_cm / (side / 2 * 1e-4)
            sec.cm = float(p["cm"][j])
            sec.insert("pas")
            sec.insert("livn_hold")
            seg = sec(0.5)
            seg.pas.g = float(p["g_pas"][j])
            seg.pas.e = float(p["e_pas"][j])
            seg.livn_hold.ihold = float(i_hold[j]) / (float(p["area"][j]) * 1e6)
            for mech, key in (("livn_nas", "g_na"), ("livn_kdr", "g_kdr"), ("livn_ka", "g_ka"),
                              ("livn_kca", "g_kca"), ("livn_can", "g_can"),
                              ("livn_cal", "g_cal")):  # fmt: skip
                if p[key][j] != 0:
                    sec.insert(mech)
                    getattr(seg, mech).gbar = float(p[key][j])
            if p["ca_f"][j] != 0:
                sec.insert("livn_capool")
                pool = seg.livn_capool
                pool.f, pool.alpha, pool.kk = (float(p[k][j]) for k in ("ca_f", "ca_alpha", "ca_k"))
                pool.irest = float(irest[j])
            if p["na_pool"][j]:
                sec.insert("livn_napool")
            if p["k_pool"][j]:
                sec.insert("livn_kpool")
            if j:
                sec.connect(self.secs[j - 1](1), 0)
            self.secs.append(sec)
        self.soma = self.secs[ct.soma]
        self.area = float(p["area"][ct.soma]) * 1e8  # µm²
        self.syns = []
        for ch in channels:
            k = ch.kinetics
            syn = h.LivnSyn(self.secs[k.target](0.5))
            syn.tau1 = k.tau_rise if k.tau_rise > 0 else 1.0
            syn.rise = 1.0 if k.tau_rise > 0 else 0.0
            syn.tau2, syn.e = k.tau_decay, k.e
            syn.nmda, syn.mg = float(k.nmda), physics.nmda_mg
            syn.depress, syn.U = float(k.depression), physics.std_u
            syn.tau_rec = physics.std_tau_rec
            self.syns.append(syn)
        self.ou_e = h.LivnOU(self.secs[cell.noise_e_comp](0.5))
        self.ou_e.e = cell.noise_e_rev
        self.ou_i = h.LivnOU(self.secs[cell.noise_i_comp](0.5))
        self.ou_i.e = cell.noise_i_rev
        self.detector = h.LivnSpike(self.soma(0.5))
        self.detector.vthresh = self.threshold = cell.v_threshold
        self.detector.refractory = cell.refractory
        self.source = h.NetCon(self.detector, None)
        seg = self.soma(0.5)
        self.refs = {"v": seg._ref_v, "pas": seg._ref_i_pas, "hold": seg.livn_hold._ref_i}
        # ASSIGNED variables that carry over from one step to the next (set in the state
        # update, read by the next step's current or event) and that SaveState leaves out
        self.carried = [self.ou_e._ref_g1, self.ou_i._ref_g1, self.detector._ref_tlast]
        for sec in self.secs:
            seg = sec(0.5)
            for mech, var in _CARRIED:
                if hasattr(seg, mech):  # the mechanisms declare these RANGE (see _CARRIED)
                    self.carried.append(getattr(getattr(seg, mech), f"_ref_{var}"))
        for ion in ("ina", "ik", "ica"):
            if hasattr(seg, ion):
                self.refs[ion] = getattr(seg, f"_ref_{ion}")


class Engine(HostEngine):
    """RCSD on NEURON (see the module docstring).

    Args:
        network: From :func:`~livn.backends.network.build_network`.
        model: :class:`~livn.models.rcsd.ReducedCalciumSomaDendrite`.
        seed: The Env seed.
        comm: An MPI communicator spanning all ranks (``MPI.COMM_WORLD``) to distribute the
            cells over (round-robin by engine index); ``None``: this process alone.
        subworld_size: Ranks per independent simulation (``pc.subworlds``): each group of
            ``subworld_size`` ranks runs its own copy of the network (default: all ranks
            run one).
    """

    backend = "neuron"

    def __init__(self, network: Any, model: Any, seed: int = 0, comm: Any = None,
                 subworld_size: int | None = None) -> None:  # fmt: skip
        super().__init__(network, model, seed)
        self.comm, self.subworld_size = _check_mpi(comm, subworld_size)
        for g in network.groups:
            if not hasattr(g.cell, "cell") or not hasattr(g.cell.cell, "g_axial"):
                raise ConfigError(
                    f"the neuron backend runs the RCSD model only; "
                    f"{getattr(model, 'name', type(model).__name__)!r} runs on the jax and "
                    "brian2 backends (Env(..., backend='jax'))."
                )
        self._closed = True
        self._build()

    def _build(self) -> None:
        """Create the cells, synapses, connections and recorders (closing the process's other
        NEURON engine: NEURON holds one simulation per process)."""
        global _ACTIVE
        network, model = self.net, self.model
        from livn.models.base import synapse_physics
        from livn.models.rcsd.cells import KI0, KO0, NAI0, NAO0
        from livn.models.rcsd.dynamics import V_INIT
        from livn.models.rcsd.kinetics import CAI0, CELSIUS

        previous = _ACTIVE() if _ACTIVE is not None else None
        if previous is not None:
            previous.close()
        h = self.h = _neuron(mpi=self.comm is not None)
        self.pc = h.ParallelContext()
        if self.subworld_size is not None:
            if _PROCESS["subworlds"] is None:  # once per process, before anything else
                self.pc.subworlds(self.subworld_size)
                _PROCESS["subworlds"] = self.subworld_size
            elif _PROCESS["subworlds"] != self.subworld_size:
                raise ConfigError(
                    f"NEURON's subworlds are set once per process ({_PROCESS['subworlds']} "
                    f"ranks each); subworld_size={self.subworld_size} cannot change them."
                )
        self.rank, self.nhost = int(self.pc.id()), int(self.pc.nhost())
        h.celsius = CELSIUS
        h.nai0_na_ion, h.nao0_na_ion = NAI0, NAO0
        h.ki0_k_ion, h.ko0_k_ion = KI0, KO0
        h.cai0_ca_ion = CAI0
        h.dt = self.dt
        h.secondorder = 0
        self.v_init = V_INIT
        self.pc.gid_clear()
        physics = synapse_physics(model)
        self.cells: dict[int, _Cell] = {}  # this rank's cells by engine index (round-robin)
        for g in network.groups:
            for local in range(g.n):
                index = g.offset + local
                if index % self.nhost != self.rank:
                    continue
                cell = _Cell(h, g.cell, index, g.channels, physics)
                self.pc.set_gid2node(index, self.rank)
                self.pc.cell(index, cell.source)
                self.cells[index] = cell
        self.netcons = []
        slot_cell = np.empty(network.n_slots, np.int64)
        slot_chan = np.empty(network.n_slots, np.int64)
        for g in network.groups:
            n_ch = len(g.channels)
            for local in range(g.n):
                base = g.slot_offset + local * n_ch
                slot_cell[base : base + n_ch] = g.offset + local
                slot_chan[base : base + n_ch] = np.arange(n_ch)
        for pre, slot, delay in zip(network.entry_pre.tolist(), network.entry_slot.tolist(),
                                    network.entry_delay.tolist(), strict=True):  # fmt: skip
            target = self.cells.get(int(slot_cell[slot]))
            if target is None:  # the post cell lives on another rank
                continue
            syn = target.syns[slot_chan[slot]]
            nc = self.pc.gid_connect(pre, syn)
            # the JAX engine applies a spike of step k at the start of step k + d; NEURON's
            # NetCon sends it at the end of step k, (k + 1)·dt, and delivers it at the start of
            # the step that begins at the event time (plus a thousandth of a step: under MPI
            # NEURON refuses a minimum delay of exactly one step)
            nc.delay = (delay - 1 + 1e-3) * self.dt
            nc.weight[0] = 1.0
            self.netcons.append(nc)
        refs = [ref for c in self.cells.values() for ref in c.carried]
        self.carried = h.PtrVector(len(refs))
        for k, ref in enumerate(refs):
            self.carried.pset(k, ref)
        self.pc.set_maxstep(10)
        self.spike_t = h.Vector()
        self.spike_id = h.Vector()
        self.pc.spike_record(-1, self.spike_t, self.spike_id)
        self._build_recorders()
        self.clamps: dict[tuple[int, int], Any] = {}
        self._applied: tuple | None = None
        self._closed = False
        _ACTIVE = weakref.ref(self)

    # ------------------------------------------------------------------ HostEngine
    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError(
                "this NEURON Env was closed: NEURON holds one simulation per process and "
                "another NEURON Env was initialised since. env.clear() starts this one again "
                "from t = 0 (and closes the other); the jax backend runs several Envs at once."
            )

    def _reset(self) -> None:
        if self._closed:  # closed by another NEURON Env: a fresh start rebuilds this one
            self._build()
        self.h.dt = self.dt
        self.h.finitialize(self.v_init)
        self._noise_seed = None  # the streams restart from the next run's key
        self._clear_records()

    def _clear_records(self) -> None:
        self.spike_t.resize(0)
        self.spike_id.resize(0)
        for vecs in (self.recorders or {}).values():
            for vec in vecs.values():
                vec.resize(0)

    def _apply(self, params: dict) -> None:
        weights = [np.asarray(w, np.float64) for w in params["weights"]]
        noise = {k: np.asarray(v, np.float64) for k, v in params["noise"].items()}
        on = float(params["noise_on"])
        sig = (tuple(w.tobytes() for w in weights),
               tuple((k, v.tobytes()) for k, v in sorted(noise.items())), on)  # fmt: skip
        if sig == self._applied:
            return
        for gi, g in enumerate(self.net.groups):
            scale = self.channel_scale(gi, weights[gi])
            for local in range(g.n):
                cell = self.cells.get(g.offset + local)
                if cell is None:
                    continue
                for syn, s in zip(cell.syns, scale, strict=True):
                    syn.gmax = float(s)
        for i, cell in self.cells.items():
            for ou, x in ((cell.ou_e, "e"), (cell.ou_i, "i")):
                ou.g0 = float(noise[f"g_{x}0"][i])
                ou.std = float(noise[f"std_{x}"][i])
                ou.tau = float(noise[f"tau_{x}"][i])
                ou.on = on
        self._applied = sig

    def _seed_noise(self, seed: int) -> None:
        for i, cell in self.cells.items():
            cell.ou_e.rng.set_ids(seed, i, 0)
            cell.ou_e.rng.set_seq(0)
            cell.ou_i.rng.set_ids(seed, i, 1)
            cell.ou_i.rng.set_seq(0)

    def _build_recorders(self) -> None:
        """Soma voltage and current densities of every cell, every step (by name per cell)."""
        self.recorders = {}
        for i, cell in self.cells.items():
            self.recorders[i] = {}
            for name, ref in cell.refs.items():
                vec = self.h.Vector()
                vec.record(ref)
                self.recorders[i][name] = vec

    def _clamp_rows(self, inj: Injection | None):
        """The IClamps of a run's stimulus and their amplitudes ``[T, k]`` (nA)."""
        h = self.h
        clamps, columns = [], []
        if inj is None:
            return clamps, None
        for gi, g in enumerate(self.net.groups):
            cur = inj.currents[gi]
            if cur is None:
                continue
            active = np.argwhere(np.any(cur != 0, axis=0))  # [k, 2] (cell, compartment)
            for local, comp in active.tolist():
                index = g.offset + local
                if index not in self.cells:  # on another rank
                    continue
                clamp = self.clamps.get((index, comp))
                if clamp is None:
                    clamp = h.IClamp(self.cells[index].secs[comp](0.5))
                    clamp.delay, clamp.dur, clamp.amp = 0.0, 1e12, 0.0
                    self.clamps[(index, comp)] = clamp
                clamps.append(clamp)
                columns.append(cur[:, local, comp])
        if not clamps:
            return clamps, None
        return clamps, np.stack(columns, axis=1)

    def _advance(self, t0: float, n_steps: int, inj: Injection | None) -> None:
        """Run ``n_steps`` from ``t0``, setting the clamps at each change of the stimulus
        (row ``r`` acts on the steps that start in ``[r·dt_stim, (r+1)·dt_stim)``)."""
        clamps, amps = self._clamp_rows(inj)
        end = n_steps
        if amps is None:
            self.pc.psolve(t0 + end * self.dt)
            return
        dt, sd = self.dt, inj.dt
        rows = amps.shape[0]
        # first step of each row (the JAX engine's floor(i·dt/sd + 1e-4) == r)
        first = np.ceil((np.arange(rows + 1) * sd - 1e-4 * sd) / dt - 1e-9).astype(np.int64)
        r = 0
        try:
            while r < rows and first[r] < end:
                # run the steps of row r and of the following identical rows at once
                nxt = r + 1
                while nxt < rows and first[nxt] < end and np.array_equal(amps[nxt], amps[r]):
                    nxt += 1
                hi = int(min(first[nxt], end))
                if hi > first[r]:
                    for clamp, a in zip(clamps, amps[r].tolist(), strict=True):
                        clamp.amp = a
                    self.pc.psolve(t0 + hi * dt)
                r = nxt
        finally:
            for clamp in clamps:
                clamp.amp = 0.0
        if self.h.t < t0 + (end - 0.5) * dt:
            self.pc.psolve(t0 + end * dt)

    def _simulate(self, n_steps: int, inj: Injection | None, record_v: bool, record_im: bool):
        self._check_open()
        h = self.h
        t0 = h.t
        v_start = {i: c.soma(0.5).v for i, c in self.cells.items()}
        self._clear_records()
        self._advance(t0, n_steps, inj)
        times = self.spike_t.as_numpy() - t0
        ids = self.spike_id.as_numpy().astype(np.int64)
        times = self._interpolate(ids, times, v_start, n_steps)
        v = im = None
        n_blocks = n_steps // self.n_sub
        if record_v or record_im:
            v_rows, im_rows = [], []
            for i, cell in self.cells.items():
                data = {k: vec.as_numpy() for k, vec in self.recorders[i].items()}
                # one sample per step (and one at t = 0 after an initialisation): the end of
                # each recording block is every n_sub-th sample of this run
                start = len(data["v"]) - n_steps + self.n_sub - 1
                sel = slice(start, start + n_blocks * self.n_sub, self.n_sub)
                if record_v:
                    v_rows.append(data["v"][sel])
                if record_im:
                    dens = data["pas"] + data["hold"]
                    for ion in ("ina", "ik", "ica"):
                        if ion in data:
                            dens = dens + data[ion]
                    im_rows.append((dens * cell.area * 1e-2)[sel])
            v = np.stack(v_rows, axis=1) if record_v and v_rows else None
            im = np.stack(im_rows, axis=1) if record_im and im_rows else None
        ids, times = ids.copy(), times.copy()
        if self.nhost > 1:
            return self._gather(ids, times, v, im, n_blocks, record_v, record_im)
        return ids, times, v, im

    def _gather(self, ids, times, v, im, n_blocks: int, record_v: bool, record_im: bool):
        """Every rank's spikes and recordings, on every rank of the (sub)world."""
        parts = self.pc.py_allgather((ids, times, sorted(self.cells), v, im))
        n = self.net.num_neurons
        all_ids = np.concatenate([p[0] for p in parts])
        all_t = np.concatenate([p[1] for p in parts])
        out = []
        for k, wanted in ((3, record_v), (4, record_im)):
            if not wanted:
                out.append(None)
                continue
            full = np.zeros((n_blocks, n))
            for p in parts:
                if p[2]:
                    full[:, p[2]] = p[k]
            out.append(full)
        return all_ids, all_t, out[0], out[1]

    def _interpolate(self, ids: np.ndarray, times: np.ndarray, v_start: np.ndarray,
                     n_steps: int) -> np.ndarray:  # fmt: skip
        """Spike times at the threshold crossing, interpolated linearly within the step.

        NEURON's fixed-step NetCon reports the end of the step in which the soma crossed the
        threshold; the recorded soma voltage of that step and the one before place the
        crossing as the JAX engine and the float64 reference do.
        """
        dt = self.dt
        k = np.rint(times / dt).astype(np.int64)  # the step (1 … n_steps) that crossed
        out = times.copy()
        for j, (cell_index, step) in enumerate(zip(ids.tolist(), k.tolist(), strict=True)):
            v = self.recorders[cell_index]["v"].as_numpy()  # soma voltage, one sample per step
            off = len(v) - n_steps
            if not 1 <= step <= n_steps or off + step - 1 >= len(v):
                continue
            v1 = v[off + step - 1]
            v0 = v[off + step - 2] if step >= 2 else v_start[cell_index]
            thr = self.cells[cell_index].threshold
            frac = (thr - v0) / (v1 - v0) if v1 != v0 else 1.0
            out[j] = (step - 1 + min(max(frac, 0.0), 1.0)) * dt
        return out

    #: A snapshot holds the noise streams' positions (see :meth:`_save`).
    snapshots_hold_streams = True

    def _save(self):
        """The whole state: ``SaveState`` (voltages, STATE variables, ion concentrations,
        NetCon weight vectors with the depression's ``R``/``tlast``, the event queue), the
        time, and what ``SaveState`` leaves out: the ASSIGNED variables that carry over from
        one step to the next (each noise process's conductance ``g1``, each spike detector's
        last spike ``tlast``, the Na activation ``m`` and the Ca channels' drive — see
        ``_CARRIED``) and the noise streams, their seed and Random123 sequence numbers:
        NEURON's streams are sequential, so a trial continues a stream where the snapshot
        left it, as a run would."""
        ss = self.h.SaveState()
        ss.save()
        carried = self.h.Vector(int(self.carried.size()))
        self.carried.gather(carried)
        seqs = {i: (c.ou_e.rng.get_seq(), c.ou_i.rng.get_seq()) for i, c in self.cells.items()}
        return ss, self.h.t, carried, seqs, self._noise_seed

    def _restore(self, snapshot) -> None:
        ss, t, carried, seqs, seed = snapshot
        ss.restore()
        self.h.t = t
        self._rearm_detectors()
        ss.restore()  # undo the re-arming step
        self.h.t = t
        self.carried.scatter(carried)
        for i, (seq_e, seq_i) in seqs.items():
            c = self.cells[i]
            if seed is not None:
                c.ou_e.rng.set_ids(seed, i, 0)
                c.ou_i.rng.set_ids(seed, i, 1)
            c.ou_e.rng.set_seq(seq_e)
            c.ou_i.rng.set_seq(seq_i)
        self._noise_seed = seed  # None: the next run seeds the streams from its key
        # SaveState keeps every parameter of a point process with a NET_RECEIVE block (the
        # synapses' gmax among them): the next run sets the Env's parameters again
        self._applied = None
        self._clear_records()

    def _rearm_detectors(self) -> None:
        """Set every spike detector's WATCH flag to its restored soma voltage.

        A WATCH remembers whether its condition held at the last check (the end of the last
        step); ``SaveState`` does not keep that flag, so after a restore it still describes the
        state left behind, and a soma above threshold in one but not the other would fire or
        miss a spike. One step with each threshold moved far to the side the restored voltage
        is on (and no spike allowed: an infinite refractory period) makes every flag what the
        check at the end of the snapshot's last step left; the caller then restores the
        snapshot again, undoing everything else the step did.
        """
        saved = []
        for c in self.cells.values():
            det = c.detector
            saved.append((det, det.vthresh, det.refractory))
            det.vthresh = -1e9 if c.soma(0.5).v > det.vthresh else 1e9
            det.refractory = 1e300
        try:
            self.h.fadvance()
        finally:
            for det, vthresh, refractory in saved:
                det.vthresh, det.refractory = vthresh, refractory

    def close(self) -> None:
        """Free the sections and gids (another NEURON Env can then be built)."""
        if self._closed:
            return
        self._closed = True
        self.pc.gid_clear()
        self.netcons = []
        self.clamps = {}
        self.recorders = None
        self.cells = {}


def make_engine(system: Any, model: Any, seed: int = 0, delivery: str = "auto",
                comm: Any = None, subworld_size: int | None = None) -> Engine:  # fmt: skip
    """The NEURON engine of ``system`` and ``model`` (``delivery`` is a JAX option; ignored)."""
    from livn.backends.network import build_network

    return Engine(build_network(system, model), model, seed=seed, comm=comm,
                  subworld_size=subworld_size)  # fmt: skip

"""Static network structure for the JAX engine, built once per system (NumPy, float64 setup).

Cells are grouped by cell type (one vectorised compartment solve per group). "Engine order"
is the concatenation of the groups; ``gids[engine_index]`` maps back to global gids.

Synapses are aggregated per *channel*: one (projection, mechanism) pair on a post cell. All
synapses of a channel share kinetics, so their dual-exponential conductances add into one
pair of state variables per post cell. Each edge × mechanism is an *entry* (pre cell, delay,
slot). The engine keeps a ring of the last ``D`` steps of presynaptic spikes (one row written
per step, in place); each step an entry reads the row ``delay`` steps back and adds ``1`` (or
the depressed release ``R·U`` for AMPA) to its channel's slot, which the channel weight
scales.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from livn.models.rcsd.model import CONDUCTION_VELOCITY


@dataclass(frozen=True)
class Channel:
    """One synaptic (projection, mechanism) on the cells of a group."""

    key: str  # weight key, e.g. "EXC_INH-soma-GABA_A-weight"
    projection: str  # "PRE->POST"
    mechanism: str
    e: float
    g_unit: float
    tau_rise: float
    tau_decay: float
    weight: float
    target: int  # compartment index
    nmda: bool
    std: bool

    @property
    def peak_factor(self) -> float:
        """Peak normalisation of the dual exponential (SPEC §2.4)."""
        tr, td = self.tau_rise, self.tau_decay
        tp = tr * td / (td - tr) * math.log(td / tr)
        return 1.0 / (math.exp(-tp / td) - math.exp(-tp / tr))


@dataclass
class Group:
    """Cells of one type, in engine order ``[offset, offset + n)``."""

    cell: object  # CellType
    gids: np.ndarray
    offset: int
    channels: list[Channel]
    slot_offset: int
    noise_e_comp: int

    @property
    def n(self) -> int:
        return len(self.gids)


@dataclass
class Network:
    groups: list[Group]
    gids: np.ndarray  # [N] engine order -> gid
    engine_index: np.ndarray  # [N] gid -> engine order
    entry_pre: np.ndarray  # [E'] int32 presynaptic cell (engine order)
    entry_slot: np.ndarray  # [E'] int32 channel slot
    entry_delay: np.ndarray  # [E'] int32 delay in steps (>= 2)
    entry_std: np.ndarray  # [E'] bool: AMPA short-term depression applies
    n_slots: int
    ring: int  # D
    dt: float

    @property
    def num_neurons(self) -> int:
        return len(self.gids)

    @property
    def weight_keys(self) -> list[str]:
        return [c.key for g in self.groups for c in g.channels]


def build_network(system, model) -> Network:
    """Assemble groups, channels and the event tables from a System and a model."""
    from livn.system.synapses import weight_name

    dt = float(model.dt)
    info = system.population_info
    by_type: dict[str, list[str]] = {}
    for pop in system.populations:
        by_type.setdefault(info[pop].synapse_type, []).append(pop)

    groups: list[Group] = []
    offset = 0
    slot_offset = 0
    pop_group: dict[str, int] = {}
    for syn_type, pops in by_type.items():
        cell = model.cell_type(syn_type)
        gids = np.concatenate(
            [np.arange(info[p].start, info[p].start + info[p].count) for p in pops]
        ).astype(np.int64)
        channels: list[Channel] = []
        for proj in system.graph.projections:
            if proj.post not in pops:
                continue
            target = cell.dendrite if proj.section == "dendrite" else cell.soma
            for mech, m in proj.mechanisms.items():
                channels.append(
                    Channel(
                        key=weight_name(proj.post, proj.pre, proj.section, mech),
                        projection=f"{proj.pre}->{proj.post}",
                        mechanism=mech,
                        e=m.e,
                        g_unit=m.g_unit,
                        tau_rise=m.tau_rise,
                        tau_decay=m.tau_decay,
                        weight=m.weight,
                        target=target,
                        nmda=mech.upper().startswith("NMDA"),
                        std=mech.upper().startswith("AMPA"),
                    )
                )
        g = Group(cell=cell, gids=gids, offset=offset, channels=channels, slot_offset=slot_offset,
                  noise_e_comp=cell.dendrite)  # fmt: skip
        for p in pops:
            pop_group[p] = len(groups)
        groups.append(g)
        offset += len(gids)
        slot_offset += len(gids) * len(channels)

    gids = np.concatenate([g.gids for g in groups]) if groups else np.zeros(0, np.int64)
    engine_index = np.empty(system.num_neurons, dtype=np.int64)
    engine_index[gids] = np.arange(len(gids))

    slots, delays, stds, pres = [], [], [], []
    for name, proj in system.projections.items():
        g = groups[pop_group[proj.post]]
        local_post = engine_index[proj.post_gids] - g.offset
        d_steps = np.maximum(
            np.round(proj.distances.astype(np.float64) / CONDUCTION_VELOCITY / dt), 2
        ).astype(np.int64)
        for ci, ch in enumerate(g.channels):
            if ch.projection != name:
                continue
            slots.append(g.slot_offset + local_post * len(g.channels) + ci)
            delays.append(d_steps)
            stds.append(np.full(proj.num_edges, ch.std))
            pres.append(engine_index[proj.pre_gids])
    cat = lambda xs, dt_: np.concatenate(xs).astype(dt_) if xs else np.zeros(0, dt_)  # noqa: E731
    entry_slot, entry_delay = cat(slots, np.int32), cat(delays, np.int32)
    entry_std, entry_pre = cat(stds, bool), cat(pres, np.int64)

    ring = int(entry_delay.max()) + 1 if len(entry_delay) else 3
    return Network(groups=groups, gids=gids, engine_index=engine_index,
                   entry_pre=entry_pre.astype(np.int32), entry_slot=entry_slot,
                   entry_delay=entry_delay, entry_std=entry_std, n_slots=slot_offset, ring=ring,
                   dt=dt)  # fmt: skip

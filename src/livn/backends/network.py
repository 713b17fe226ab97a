"""Static network structure of a system and model, built once (plain NumPy, backend-neutral).

Every backend can reuse these tables (the JAX engine does; a NEURON or Brian2 backend reads the
same groups, channels, weight keys, delays and gid order, so all backends agree on them).

Cells are grouped by cell type (one vectorised update per group). "Engine order" is the
concatenation of the groups; ``gids[engine_index]`` maps back to global gids.

Synapses are aggregated per *channel*: one (projection, mechanism) pair on a post cell. All
synapses of a channel share kinetics, so their conductances add into one pair of state
variables per post cell (a *slot*). Each edge × mechanism is an *entry* (pre cell, delay,
slot). Two delivery tables are built from the entries:

* by slot (``in_*``, ``[n_slots, max_in]``): each step a slot sums what its entries read from
  a ring of the last ``D`` steps of presynaptic spikes — dense, fast for small networks and
  differentiable;
* by presynaptic cell (``out_*``, ``[N + 1, max_out]``, last row padding): each spike adds
  to a ring of future inputs at ``t + delay`` — event driven, for large networks.

Neither is ever a dense N × N matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livn.models.base import SynapseKinetics, synapse_physics


@dataclass(frozen=True)
class Channel:
    """One synaptic (projection, mechanism) on the cells of a group."""

    key: str  # weight key, e.g. "EXC_INH-soma-GABA_A-weight"
    projection: str  # "PRE->POST"
    mechanism: str
    kinetics: SynapseKinetics
    weight: float


@dataclass
class Group:
    """Cells of one type, in engine order ``[offset, offset + n)``."""

    cell: Any  # CellDynamics
    gids: np.ndarray
    offset: int
    channels: list[Channel]
    slot_offset: int

    @property
    def n(self) -> int:
        return len(self.gids)


def _padded(keys: np.ndarray, n_rows: int, columns: dict[str, np.ndarray], fill: dict):
    """Group entries by ``keys`` into ``[n_rows, width]`` tables (``fill`` pads)."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    counts = np.bincount(k, minlength=n_rows) if len(k) else np.zeros(n_rows, np.int64)
    width = max(1, int(counts.max()) if len(counts) else 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(k)) - np.repeat(starts, counts)
    out = {}
    for name, col in columns.items():
        table = np.full((n_rows, width), fill[name], dtype=col.dtype)
        table[k, pos] = col[order]
        out[name] = table
    return out, width


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
    unused_keys: list[str] = field(default_factory=list)  # weights the model ignores

    @property
    def num_neurons(self) -> int:
        return len(self.gids)

    @property
    def num_entries(self) -> int:
        return len(self.entry_pre)

    @property
    def weight_keys(self) -> list[str]:
        return [c.key for g in self.groups for c in g.channels]

    def by_slot(self) -> tuple[dict[str, np.ndarray], int]:
        """``in_pre, in_delay, in_std, in_valid`` tables ``[n_slots, max_in]``."""
        cols = {"pre": self.entry_pre, "delay": self.entry_delay, "std": self.entry_std,
                "valid": np.ones(self.num_entries, bool)}  # fmt: skip
        fill = {"pre": 0, "delay": 2, "std": False, "valid": False}
        return _padded(self.entry_slot.astype(np.int64), self.n_slots, cols, fill)

    def by_pre(self) -> tuple[dict[str, np.ndarray], int]:
        """``out_slot, out_delay, out_std`` tables ``[N + 1, max_out]``; pads hit slot n_slots."""
        cols = {"slot": self.entry_slot, "delay": self.entry_delay, "std": self.entry_std}
        fill = {"slot": self.n_slots, "delay": 2, "std": False}
        return _padded(self.entry_pre.astype(np.int64), self.num_neurons + 1, cols, fill)


def build_network(system, model) -> Network:
    """Assemble groups, channels and the event tables from a System and a model."""
    from livn.system.synapses import weight_name

    dt = float(model.dt)
    velocity = synapse_physics(model).conduction_velocity  # µm/ms
    info = system.population_info
    by_type: dict[str, list[str]] = {}
    for pop in system.populations:
        by_type.setdefault(info[pop].synapse_type, []).append(pop)

    groups: list[Group] = []
    offset = 0
    slot_offset = 0
    pop_group: dict[str, int] = {}
    unused: list[str] = []
    for syn_type, pops in by_type.items():
        cell = model.cell_type(syn_type)
        gids = np.concatenate(
            [np.arange(info[p].start, info[p].start + info[p].count) for p in pops]
        ).astype(np.int64)
        channels: list[Channel] = []
        for proj in system.graph.projections:
            if proj.post not in pops:
                continue
            for mech, m in proj.mechanisms.items():
                key = weight_name(proj.post, proj.pre, proj.section, mech)
                kin = model.synapse(cell, proj.section, mech, m)
                if kin is None:
                    unused.append(key)
                    continue
                channels.append(Channel(key=key, projection=f"{proj.pre}->{proj.post}",
                                        mechanism=mech, kinetics=kin, weight=float(m.weight)))  # fmt: skip
        for p in pops:
            pop_group[p] = len(groups)
        groups.append(Group(cell=cell, gids=gids, offset=offset, channels=channels,
                            slot_offset=slot_offset))  # fmt: skip
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
            np.round(proj.distances.astype(np.float64) / velocity / dt), 2
        ).astype(np.int64)
        for ci, ch in enumerate(g.channels):
            if ch.projection != name:
                continue
            slots.append(g.slot_offset + local_post * len(g.channels) + ci)
            delays.append(d_steps)
            stds.append(np.full(proj.num_edges, ch.kinetics.depression))
            pres.append(engine_index[proj.pre_gids])
    cat = lambda xs, dt_: np.concatenate(xs).astype(dt_) if xs else np.zeros(0, dt_)  # noqa: E731
    entry_slot, entry_delay = cat(slots, np.int32), cat(delays, np.int32)
    entry_std, entry_pre = cat(stds, bool), cat(pres, np.int32)

    ring = int(entry_delay.max()) + 1 if len(entry_delay) else 3
    return Network(groups=groups, gids=gids, engine_index=engine_index, entry_pre=entry_pre,
                   entry_slot=entry_slot, entry_delay=entry_delay, entry_std=entry_std,
                   n_slots=slot_offset, ring=ring, dt=dt, unused_keys=unused)  # fmt: skip

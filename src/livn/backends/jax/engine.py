"""The JAX engine: one compiled step per system shape, scanned over recording blocks.

State and parameters are pytrees of float32 arrays; parameters (weights, noise) are traced
arguments, so changing them never recompiles. Background noise for a block of steps is drawn
from ``fold_in(key(seed), first step of the block)``, so a run is reproducible from the seed
and continues across ``run()`` calls.

Spike delivery (see :mod:`livn.backends.network`) is ``"gather"`` (a ring of past spikes
read by every synapse entry; dense over entries) or ``"scatter"`` (each spike adds to a ring
of future inputs; event driven — in mask mode every cell's entries are added, so that it is
differentiable too). ``"auto"`` picks scatter on CPUs, and elsewhere for networks with many
synapses per cell step.

Two run modes:

* ``"events"``: spikes are compacted into a buffer of (cell, time) pairs — the normal mode;
* ``"mask"``: spikes are returned as a dense ``[blocks, N]`` count per recording block, with
  surrogate gradients at the threshold — for differentiating through a run.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from livn.backends.jax import cache
from livn.backends.network import Network
from livn.models.base import step_heaviside, synapse_physics

F32 = jnp.float32
DELIVERY = ("auto", "gather", "scatter")

#: XLA:CPU options for the compiled runs (per compilation, no process-wide flags). Region
#: analysis lets copy insertion see that the delivery ring is read before it is updated in
#: place; without it XLA copies the whole ring (twice) on every step. Only dots go to the
#: YNNPACK library: its calls cost more than XLA's own code for our tiny reductions.
CPU_COMPILER_OPTIONS = {
    "xla_cpu_copy_insertion_use_region_analysis": True,
    "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT",
}


def _dev(x, dtype=None):
    """Host data as a device array. Unlike ``jnp.asarray``/``jnp.zeros`` this compiles
    nothing (each of those small programs costs ~15 ms of start-up on a CPU)."""
    return jax.device_put(np.asarray(x, dtype=dtype))


def _f32(x):
    """A float32 argument of a compiled run: host data stays NumPy (no conversion program)."""
    if isinstance(x, jax.Array):
        return x if x.dtype == F32 else jnp.asarray(x, F32)
    return np.asarray(x, np.float32)


def _dev_tree(tree):
    """:func:`_dev` on every NumPy array of a pytree (other leaves unchanged)."""
    return jax.tree_util.tree_map(lambda a: _dev(a) if isinstance(a, np.ndarray) else a, tree)


def _traced(tree) -> bool:
    """Whether any leaf of ``tree`` is a JAX tracer (inside a user's jit/grad/vmap)."""
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(tree))


class _Compiled:
    """``jax.jit(fn)``, compiled with :data:`CPU_COMPILER_OPTIONS` when called at top level
    on the CPU; inside a user's ``jax.jit``/``jax.grad`` trace (where compiler options are
    not allowed) the plain ``jax.jit`` is used and inlined."""

    def __init__(self, fn) -> None:
        self.plain = jax.jit(fn)
        self.tuned = (jax.jit(fn, compiler_options=CPU_COMPILER_OPTIONS)
                      if jax.default_backend() == "cpu" else None)  # fmt: skip
        self.fresh = True

    def __call__(self, *args):
        if not self.fresh:
            return self._call(*args)
        # the first call compiles, or loads from the persistent cache: an entry JAX cannot
        # read there is removed before JAX compiles the program and writes it again
        self.fresh = False
        with cache.watching():
            return self._call(*args)

    def _call(self, *args):
        if self.tuned is not None and not any(
            isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(args)
        ):
            try:
                return self.tuned(*args)
            except ValueError as e:  # traced from an enclosing transformation after all
                if "compiler_options" not in str(e):
                    raise
        return self.plain(*args)


@jax.custom_jvp
def surrogate_heaviside(x):
    """Heaviside step with the derivative of a fast sigmoid (slope 1 per mV) as its gradient."""
    return (x >= 0).astype(x.dtype)


@surrogate_heaviside.defjvp
def _surrogate_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return surrogate_heaviside(x), dx / (1.0 + jnp.abs(x)) ** 2


def for_each_chunk(mask, k: int, body, carry):
    """Apply ``body(indices [k], valid [k], carry)`` to the set entries of ``mask``, ``k`` at
    a time.

    Indices come from ``top_k`` (much cheaper than ``nonzero`` on CPU), so the set entries of
    a chunk come first. When fewer than ``k`` remain, the chunk is filled with other indices,
    possibly ones already visited: ``valid`` is false for those, and ``body`` must make them
    a no-op. Runs zero iterations when nothing is set.
    """
    key = mask.astype(F32)

    def cond(c):
        return jnp.any(c[0] > 0)

    def step(c):
        key, carry = c
        top, idx = jax.lax.top_k(key, k)
        carry = body(idx, top > 0, carry)
        return key.at[idx].set(0.0), carry

    return jax.lax.while_loop(cond, step, (key, carry))[1]


class Engine:
    """Runs a :class:`Network` of one model's cells.

    Args:
        network: Static structure from :func:`~livn.backends.network.build_network`.
        model: The model (``dt``, ``record_dt``, cell dynamics).
        seed: Seed of anything random in the initial state (e.g. LIF ``v_init="uniform"``).
        delivery: ``"auto"``, ``"gather"`` or ``"scatter"`` (see the module docstring).
        chunk: Spikes delivered per scatter chunk.
    """

    def __init__(self, network: Network, model: Any, seed: int = 0, delivery: str = "auto",
                 chunk: int = 8):  # fmt: skip
        from livn.errors import ConfigError

        if delivery not in DELIVERY:
            raise ConfigError(f"unknown delivery {delivery!r}. Valid: {', '.join(DELIVERY)}.")
        cache.configure()  # the persistent compilation cache (once per process)
        self.net = network
        self.model = model
        self.physics = synapse_physics(model)
        self.seed = int(seed)
        self.dt = float(model.dt)
        self.n_sub = max(1, round(model.record_dt / model.dt))
        n = network.num_neurons
        if delivery == "auto":  # on CPUs event-driven delivery wins at every size we measured
            many = network.num_entries > 20 * max(n, 1) + 20_000
            delivery = "scatter" if many or jax.default_backend() == "cpu" else "gather"
        self.delivery = delivery
        self.chunk = int(chunk)
        self.any_std = bool(np.any(network.entry_std))  # any depressing (AMPA) synapse
        self.consts = [_dev_tree(g.cell.constants(np, np.float32)) for g in network.groups]
        if delivery == "gather":
            tab, _ = network.by_slot()
            self.tables = {
                "base": _dev(tab["std"].astype(np.int64) * n + tab["pre"], np.int32),
                "delay": _dev(tab["delay"], np.int32),
                "valid": _dev(tab["valid"], np.float32),
            }
        else:
            tab, _ = network.by_pre()
            self.tables = {k: _dev(v) for k, v in tab.items()}
        self.chan = []
        for g in network.groups:
            kins = [c.kinetics for c in g.channels]
            target = np.zeros((len(kins), g.cell.n_comp), dtype=np.float32)
            for i, k in enumerate(kins):
                target[i, k.target] = 1.0
            rise = np.array([k.tau_rise > 0 for k in kins], dtype=np.float32)
            f32 = np.float32
            self.chan.append({
                "target": _dev(target),
                "target_idx": _dev([k.target for k in kins], np.int32),
                "e": _dev([k.e for k in kins], f32),
                "scale": _dev([k.g_unit * k.peak_factor for k in kins], f32),
                "decay_r": _dev(
                    [np.exp(-self.dt / k.tau_rise) if k.tau_rise > 0 else 0.0 for k in kins], f32),
                "decay_d": _dev([np.exp(-self.dt / k.tau_decay) for k in kins], f32),
                "rise": _dev(rise),
                "nmda": np.array([k.nmda for k in kins], bool),
            })  # fmt: skip
        self._compiled: dict[tuple, Any] = {}
        self._stim_maps: dict[int, list] = {}

    # ------------------------------------------------------------------ state and params
    @cache.watched
    def initial_state(self) -> dict:
        groups = []
        for gi, g in enumerate(self.net.groups):
            rng = np.random.default_rng([self.seed, gi])
            try:
                s = g.cell.initial_state(g.n, np, np.float32, rng=rng)
            except TypeError:
                s = g.cell.initial_state(g.n, np, np.float32)
            s = dict(s)
            s["A"] = np.zeros((g.n, len(g.channels)), np.float32)
            s["B"] = np.zeros((g.n, len(g.channels)), np.float32)
            s["noise"] = np.zeros((g.n, 2), np.float32)
            groups.append(s)
        n = self.net.num_neurons
        state = {
            "step": np.asarray(0, np.int32),
            "groups": groups,
            "R": np.ones(n, np.float32),
            "t_pre": np.full(n, -1e9, np.float32),
            "t_spike": np.full(n, -1e9, np.float32),
        }
        if self.delivery == "gather":
            state["hist"] = np.zeros((self.net.ring, 2 * n), np.float32)
        else:
            state["fut"] = np.zeros((self.net.ring, self.net.n_slots + 1), np.float32)
        return _dev_tree(state)

    def stack_states(self, state, n: int):
        """``n`` copies of ``state`` (one per trial; :meth:`run_batch` ``states=``)."""
        return jax.tree_util.tree_map(
            lambda x: _dev(np.broadcast_to(np.asarray(x), (int(n), *np.shape(x))).copy()), state)

    def initial_states(self, n: int):
        """``n`` copies of :meth:`initial_state`."""
        return self.stack_states(self.initial_state(), n)

    def set_trial(self, states, index: int, source, row: int):
        """``states`` with trial ``index`` replaced by trial ``row`` of ``source``."""
        return jax.tree_util.tree_map(lambda s, x: s.at[int(index)].set(x[int(row)]),
                                      states, source)  # fmt: skip

    def trial_steps(self, states) -> np.ndarray:
        """``[B]`` integration steps done by each trial of ``states``."""
        return np.asarray(states["step"]).reshape(-1).astype(np.int64)

    # ------------------------------------------------ arrays for the Env (it imports no JAX)
    @cache.watched
    def key(self, seed: int):
        """The PRNG key of the noise of a run with ``seed``."""
        return jax.random.key(seed)

    @cache.watched
    def keys(self, seeds: list[int]):
        """One PRNG key per trial of a batch, ``[B]``."""
        return jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))

    @cache.watched
    def weights_param(self, per_group: list[np.ndarray]) -> list:
        """The ``weights`` parameter: one float32 array of channel weights per cell group."""
        return [jnp.asarray(w, jnp.float32) for w in per_group]

    @cache.watched
    def noise_param(self, arrays: dict[str, np.ndarray]) -> dict:
        """The ``noise`` parameter: per-cell float32 arrays (engine order) by noise name."""
        return {k: jnp.asarray(v, jnp.float32) for k, v in arrays.items()}

    @cache.watched
    def switch(self, on: bool):
        """The ``noise_on`` parameter."""
        return jnp.asarray(1.0 if on else 0.0, jnp.float32)

    def place_cells(self, array: Any, num_steps: int, cols: np.ndarray):
        """A JAX (possibly traced) stimulus ``[T, k]`` as ``[T, N]`` engine columns ``cols``;
        stays differentiable."""
        n = self.net.num_neurons
        return jnp.zeros((num_steps, n), jnp.float32).at[:, cols].set(array)

    def stack(self, arrays: list[Any]):
        """Stimuli of a batch stacked along a new leading axis."""
        return jnp.stack([jnp.asarray(a) for a in arrays])

    def mask_outputs(self, masks: Any, vs: Any, iv: np.ndarray) -> tuple[Any, Any, Any]:
        """``(mask [N, blocks] in gid order, block end times ms, v [len(iv), blocks])`` of a
        mask-mode run (JAX arrays, differentiable)."""
        order = jnp.asarray(self.net.engine_index)
        t = (jnp.arange(masks.shape[0]) + 1) * self.n_sub * self.dt
        return masks.T[order], t, vs.T[order[iv]]

    @cache.watched
    def default_params(self, noise: dict[str, float]) -> dict:
        n = self.net.num_neurons
        return _dev_tree({
            "weights": [np.asarray([c.weight for c in g.channels], np.float32)
                        for g in self.net.groups],
            "noise": {k: np.full(n, v, np.float32) for k, v in noise.items()},
            "noise_on": np.asarray(1.0, np.float32),
        })  # fmt: skip

    def channel_maps(self, field_fn) -> list:
        """Per group ``[n_channels, n, n_comp]`` nA per µA of electrode current (cached)."""
        key = id(field_fn)
        if key not in self._stim_maps:
            self._stim_maps[key] = [jnp.asarray(m, F32) for m in field_fn(self.net)]
        return self._stim_maps[key]

    def _derived(self, params) -> list[dict]:
        """Per-group quantities of the parameters that stay fixed during a run."""
        out = []
        dt = self.dt
        for gi, g in enumerate(self.net.groups):
            sl = slice(g.offset, g.offset + g.n)
            p = {k: v[sl] for k, v in params["noise"].items()}
            tau = jnp.stack([p["tau_e"], p["tau_i"]], axis=1)
            std = jnp.stack([p["std_e"], p["std_i"]], axis=1)
            a = jnp.exp(-dt / tau)
            out.append({
                "w": params["weights"][gi] * self.chan[gi]["scale"],
                "a": a,
                "b": std * jnp.sqrt(1.0 - a * a),
                "g0": jnp.stack([p["g_e0"], p["g_i0"]], axis=1),
            })  # fmt: skip
        return out

    # ------------------------------------------------------------------ one step
    def _arrivals(self, state):
        net, tb = self.net, self.tables
        t_step = state["step"]
        if self.delivery == "gather":
            back = (t_step - tb["delay"]) % net.ring
            flat = back * (2 * net.num_neurons) + tb["base"]
            vals = state["hist"].reshape(-1)[flat]
            return (vals * tb["valid"]).sum(axis=1), state
        r = t_step % net.ring
        row = jax.lax.dynamic_slice_in_dim(state["fut"], r, 1)[0, : net.n_slots]
        # the barrier orders the read before the in-place clear (else XLA copies the ring)
        row, fut = jax.lax.optimization_barrier((row, state["fut"]))
        return row, {**state, "fut": fut.at[r].set(0.0)}

    def _deliver(self, state, spk, rel, dense: bool = False, rec=None):
        """Record this step's spikes (``spk`` [N]) and depressed releases (``rel`` [N]).

        ``dense``: scatter every cell's entries (no loop over the spiking ones), for mask mode.
        ``rec``: ``(buffer, t_cross, t0, capacity)`` to also append the spikes (scatter only,
        in the same loop over spiking cells) to the spike buffer; returns the new buffer.
        """
        net, tb = self.net, self.tables
        t_step = state["step"]
        if self.delivery == "gather":
            row = jnp.concatenate([spk, rel])
            return {**state, "hist": state["hist"].at[t_step % net.ring].set(row)}, None
        k = min(self.chunk, net.num_neurons)
        std = self.any_std

        def body(pres, valid, c):
            fut, buf = c
            rows = (t_step + tb["delay"][pres]) % net.ring
            on = valid.astype(F32)[:, None]
            if std:
                vals = jnp.where(tb["std"][pres], rel[pres][:, None], spk[pres][:, None]) * on
            else:
                vals = jnp.broadcast_to(spk[pres][:, None] * on, rows.shape)
            fut = fut.at[rows, tb["slot"][pres]].add(vals, mode="promise_in_bounds")
            if buf is not None:
                # the spiking cells of a chunk come first: write the whole chunk and advance
                # by their number (the buffer has a chunk of slack at its end)
                (bi, bt, p, over), t_cross, t0, cap = buf, *rec[1:]
                count = jnp.sum(valid).astype(jnp.int32)
                fits = p + count <= cap
                bi = jax.lax.dynamic_update_slice(bi, pres.astype(jnp.int32), (p,))
                bt = jax.lax.dynamic_update_slice(bt, t_cross[pres] - t0, (p,))
                buf = (bi, bt, p + jnp.where(fits, count, 0), over + jnp.where(fits, 0, count))
            return fut, buf

        buf = None if rec is None else rec[0]
        if dense:  # every cell at once, no loop: differentiable in reverse mode
            every = jnp.arange(net.num_neurons)
            fut, buf = body(every, jnp.ones(net.num_neurons, bool), (state["fut"], buf))
        else:
            fut, buf = for_each_chunk(spk > 0, k, body, (state["fut"], buf))
        return {**state, "fut": fut}, buf

    def _step(self, state, params, inj, z, heaviside, dense: bool = False, rec=None):
        """Advance one dt. ``inj``: per-group ``[n, n_comp]`` injected current (nA).

        ``rec``: ``(spike buffer, t0, capacity)`` to record spikes while delivering them
        (:meth:`_deliver`). Returns ``(state, spikes, crossing times, spike buffer)``.
        """
        dt = self.dt
        net = self.net
        t = state["step"].astype(F32) * dt
        row, state = self._arrivals(state)

        new_groups, spiked, t_cross = [], [], []
        for gi, (g, s, c, ch, dp) in enumerate(
            zip(net.groups, state["groups"], self.consts, self.chan, params["derived"], strict=True)
        ):
            sl = slice(g.offset, g.offset + g.n)
            cell = g.cell
            n_ch = len(g.channels)
            inc = row[g.slot_offset : g.slot_offset + g.n * n_ch].reshape(g.n, n_ch)
            inc = inc * dp["w"][None, :]
            A = s["A"] * ch["decay_r"] + inc * ch["rise"]
            B = s["B"] * ch["decay_d"] + inc
            g_syn = B - A
            kins = [k.kinetics for k in g.channels]
            if any(k.nmda for k in kins):
                v_t = s["v"][:, ch["target_idx"]]
                mg = self.physics.mg_block(jnp, v_t)
                g_syn = jnp.where(jnp.asarray(ch["nmda"])[None, :], g_syn * mg, g_syn)

            # point-conductance noise (exact OU update, coefficients hoisted per run)
            g1 = dp["a"] * s["noise"] + dp["b"] * z[sl]
            gn = jnp.maximum(0.0, dp["g0"] + g1) * params["noise_on"]
            # conductances and Σ g·E per compartment, assembled column by column (static)
            cols_g = [[] for _ in range(cell.n_comp)]
            cols_ge = [[] for _ in range(cell.n_comp)]
            for i, k in enumerate(kins):
                cols_g[k.target].append(g_syn[:, i])
                cols_ge[k.target].append(g_syn[:, i] * k.e)
            cols_g[cell.noise_e_comp].append(gn[:, 0])
            cols_ge[cell.noise_e_comp].append(gn[:, 0] * cell.noise_e_rev)
            cols_g[cell.noise_i_comp].append(gn[:, 1])
            cols_ge[cell.noise_i_comp].append(gn[:, 1] * cell.noise_i_rev)
            zero = jnp.zeros(g.n, F32)
            g_in = jnp.stack([sum(cl[1:], cl[0]) if cl else zero for cl in cols_g], axis=1)
            ge_in = jnp.stack([sum(cl[1:], cl[0]) if cl else zero for cl in cols_ge], axis=1)

            cell_state = {k: v for k, v in s.items() if k not in ("A", "B", "noise")}
            since = t - state["t_spike"][sl]
            new, spk, frac = cell.advance(jnp, c, cell_state, dt, g_in, ge_in, inj[gi], since,
                                          heaviside)  # fmt: skip
            new = {**new, "A": A, "B": B, "noise": g1}
            new_groups.append(new)
            spiked.append(spk.astype(F32))
            t_cross.append(t + dt * frac)

        spk = jnp.concatenate(spiked)
        t_cross = jnp.concatenate(t_cross)
        fired = spk > 0
        rec = None if rec is None else (rec[0], t_cross, *rec[1:])
        if self.any_std:  # presynaptic bookkeeping: AMPA depression, then delivery
            u, tau_rec = self.physics.std_u, self.physics.std_tau_rec
            r_eff = 1.0 - (1.0 - state["R"]) * jnp.exp(-(t + dt - state["t_pre"]) / tau_rec)
            state, buf = self._deliver(state, spk, spk * r_eff * u, dense, rec)
            state = {**state, "R": jnp.where(fired, r_eff * (1.0 - u), state["R"]),
                     "t_pre": jnp.where(fired, t + dt, state["t_pre"])}  # fmt: skip
        else:  # no depressing synapse: releases are never read
            state, buf = self._deliver(state, spk, spk, dense, rec)
        new_state = {
            **state,
            "step": state["step"] + 1,
            "groups": new_groups,
            "t_spike": jnp.where(fired, t_cross, state["t_spike"]),
        }
        return new_state, spk, t_cross, buf

    def _soma_outputs(self, state, with_v: bool, with_current: bool):
        """``[N]`` soma voltage (mV) and soma membrane current (nA, outward positive)."""
        vs, ims = [], []
        for g, s, c in zip(self.net.groups, state["groups"], self.consts, strict=True):
            if with_v:
                vs.append(g.cell.soma_voltage(s))
            if with_current:
                ims.append(g.cell.soma_current(jnp, c, s))
        return (jnp.concatenate(vs) if with_v else None,
                jnp.concatenate(ims) if with_current else None)  # fmt: skip

    # ------------------------------------------------------------------ runs
    def _injection(self, stim_kind, stim, stim_dt, local, maps, row0=0):
        """Per-group ``[n, n_comp]`` injected current at local step ``local`` (``stim`` holds
        the stimulus rows from ``row0`` on)."""
        ti = jnp.floor(local.astype(F32) * self.dt / stim_dt + 1e-4).astype(jnp.int32) - row0
        inside = (ti >= 0) & (ti < stim.shape[0])
        x = jnp.where(inside, stim[jnp.clip(ti, 0, stim.shape[0] - 1)], 0.0)
        out = []
        for gi, g in enumerate(self.net.groups):
            if stim_kind == "cells":
                cur = x[g.offset : g.offset + g.n]
                zero = jnp.zeros_like(cur)
                cols = [cur if j == g.cell.soma else zero for j in range(g.cell.n_comp)]
                out.append(jnp.stack(cols, axis=1))
            else:  # electrode currents [n_channels] through the field maps; an explicit
                # product and sum (not tensordot, which vmap turns into a matrix product
                # summing in another order), so a batch trial equals its single run bit for bit
                out.append(jnp.sum(x[:, None, None] * maps[gi], axis=0))
        return out

    def _run_impl(self, cfg, state, params, stim, stim_dt, key, maps, pos=None):
        """A run of ``n_blocks`` recording blocks and ``n_rem`` steps (``pos`` None), or one
        chunk of a longer run: ``pos = (t0, local0, row0, nb, rem)`` — the run's start time
        and the chunk's first step relative to it, the first stimulus row in ``stim``, then
        ``nb ≤ n_blocks`` blocks and (if ``n_rem``, then a flag) ``rem < n_sub`` steps, all
        traced (so one program serves every duration; outputs are ``[n_blocks, N]`` buffers
        filled up to ``nb``)."""
        n_blocks, n_rem, record_v, record_im, mode, stim_kind, cap, noise = cfg
        n = self.net.num_neurons
        row0 = 0 if pos is None else pos[2]
        params = {**params, "derived": self._derived(params)}
        heaviside = surrogate_heaviside if mode == "mask" else step_heaviside
        # events with scatter delivery: spikes are recorded in the delivery loop, step by
        # step; otherwise once per recording block (the last spike of each cell in it)
        inline = mode == "events" and self.delivery == "scatter"
        k_rec = min(n, 64) if n else 1
        slack = max(k_rec, min(self.chunk, n)) if n else 1

        def steps(carry, length, tag, count=None):
            """``length`` steps (static), or the first ``count`` (traced) of ``length``."""
            st, local, buf = carry
            if noise:
                k = jax.random.fold_in(jax.random.fold_in(key, tag), st["step"])
                z = jax.random.normal(k, (length, n, 2), F32)
            else:  # no noise: skip the random numbers (the OU state decays deterministically)
                z = jnp.zeros((length, n, 2), F32)

            def one(c, zi):
                st, local, blk_t, blk_m, buf = c
                inj = self._injection(stim_kind, stim, stim_dt, local, maps, row0)
                rec = (buf, t0, cap) if inline else None
                st, spk, tc, new_buf = self._step(st, params, inj, zi, heaviside, mode == "mask",
                                                  rec)  # fmt: skip
                if inline:
                    return (st, local + 1, blk_t, blk_m, new_buf), None
                blk_t = jnp.where(spk > 0, tc - t0, blk_t)
                return (st, local + 1, blk_t, blk_m + spk, buf), None

            init = (st, local, jnp.full(n, -1.0, F32), jnp.zeros(n, F32), buf)
            if count is not None:
                (st, local, blk_t, blk_m, buf) = jax.lax.fori_loop(
                    0, count, lambda i, c: one(c, z[i])[0], init)
            elif length == 1:  # no inner loop (its carry boundary would copy the delivery ring)
                (st, local, blk_t, blk_m, buf), _ = one(init, z[0])
            else:
                (st, local, blk_t, blk_m, buf), _ = jax.lax.scan(one, init, z)
            if mode == "events" and not inline:
                buf = record_spikes(buf, blk_t)
            return (st, local, buf), blk_m

        def record_spikes(buf, blk_t):
            buf_i, buf_t, ptr, over = buf
            m = blk_t >= 0
            count = jnp.sum(m).astype(jnp.int32)
            fits = ptr + count <= cap

            def write(sel, valid, c):
                bi, bt, p = c
                # the set entries come first, so advancing by their number keeps it dense
                bi = jax.lax.dynamic_update_slice(bi, sel.astype(jnp.int32), (p,))
                bt = jax.lax.dynamic_update_slice(bt, blk_t[sel], (p,))
                return bi, bt, p + jnp.sum(valid).astype(jnp.int32)

            buf_i, buf_t, new_ptr = for_each_chunk(m & fits, k_rec, write, (buf_i, buf_t, ptr))
            return buf_i, buf_t, new_ptr, over + jnp.where(fits, 0, count)

        t0 = state["step"].astype(F32) * self.dt if pos is None else pos[0]

        def block(carry, _):
            carry, blk_m = steps(carry, self.n_sub, 0)
            v, im = self._soma_outputs(carry[0], record_v, record_im)
            if mode == "events":
                return carry, (v, im)
            return carry, (v, im, blk_m)

        buf = (jnp.zeros(cap + slack, jnp.int32), jnp.zeros(cap + slack, F32),
               jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32))  # fmt: skip
        if pos is not None:  # a chunk: nb blocks (traced) into [n_blocks, N] buffers, then rem
            carry = (state, jnp.asarray(pos[1], jnp.int32), buf)
            outs = [jnp.zeros((n_blocks, n), F32) if on else None for on in (record_v, record_im)]

            def fill(b, c):
                carry, outs = c
                carry, (v, im) = block(carry, None)
                outs = [None if o is None else jax.lax.dynamic_update_index_in_dim(o, x, b, 0)
                        for o, x in zip(outs, (v, im), strict=True)]  # fmt: skip
                return carry, outs

            carry, outs = jax.lax.fori_loop(0, pos[3], fill, (carry, outs))
            if n_rem:  # the program of a run's last chunk when it ends inside a block
                carry, _ = steps(carry, self.n_sub, 1, count=pos[4])
            return carry[0], carry[2], outs[0], outs[1], None
        carry = (state, jnp.asarray(0, jnp.int32), buf)
        carry, outs = jax.lax.scan(block, carry, None, length=n_blocks)
        masks = outs[2] if mode == "mask" else None
        if n_rem:
            carry, blk_m = steps(carry, n_rem, 1)
            if mode == "mask":
                masks = jnp.concatenate([masks, blk_m[None]])
        return carry[0], carry[2], outs[0], outs[1], masks

    def run(self, state, params, n_steps: int, stim=None, stim_dt: float = 1.0, key=None, *,
            record_v: bool = False, record_im: bool = False, mode: str = "events",
            stim_kind: str = "cells", maps=None, capacity: int = 0):  # fmt: skip
        """Advance ``n_steps`` from ``state``.

        Returns:
            ``(state, (ids, times, count, overflow), v_blocks, im_blocks, masks)``: spike
            buffer (engine-order ids and run-relative times, valid up to ``count``), voltage
            and current ``[blocks, N]`` (or ``None``) and, in mask mode, ``[blocks, N]``
            spike counts.
        """
        n_blocks, n_rem = divmod(int(n_steps), self.n_sub)
        if stim is None:
            stim = np.zeros((1, self.net.num_neurons), np.float32)
            stim_dt, stim_kind = 1e9, "cells"
        if mode == "events" and not _traced((state, params, stim, stim_dt, key)):
            return self._run_chunks(state, params, int(n_steps), np.asarray(stim, np.float32),
                                    float(stim_dt), key, bool(record_v), bool(record_im),
                                    stim_kind, maps or [], int(capacity))  # fmt: skip
        cap = int(capacity) if capacity else self.default_capacity(n_steps)
        cfg = (n_blocks, n_rem, bool(record_v), bool(record_im), mode, stim_kind, cap,
               self.noise_active(params))  # fmt: skip
        sig = (*cfg, tuple(stim.shape))
        fn = self._compiled.get(sig)
        if fn is None:
            fn = _Compiled(functools.partial(self._run_impl, cfg))
            self._compiled[sig] = fn
        state, buf, v, im, masks = fn(state, params, _f32(stim), _f32(stim_dt), key,
                                      maps or [])  # fmt: skip
        return state, buf, v, im, masks

    def chunk_blocks(self, batch: int = 1) -> int:
        """Recording blocks per compiled chunk of a run (of ``batch`` trials): 200 ms, fewer
        for large networks and batches so that a chunk's voltage and current buffers stay near
        64 MB."""
        per_block = 8 * max(1, self.net.num_neurons) * max(1, batch)  # voltage + current, f32
        return int(max(1, min(round(200.0 / (self.n_sub * self.dt)), 64e6 // per_block)))

    def _run_chunks(self, state, params, n_steps: int, stim: np.ndarray, stim_dt: float, key,
                    record_v: bool, record_im: bool, stim_kind: str, maps, capacity: int,
                    batch: int = 0, batched_stim: bool = False,
                    batched_state: bool = False):  # fmt: skip
        """:meth:`run` (``batch`` 0) or :meth:`run_batch` (``batch`` trials, ``key`` one per
        trial; ``batched_state``: each from its own row of ``state``) in chunks of
        :meth:`chunk_blocks` blocks by one compiled program per system: durations, stimulus
        lengths, weights and noise levels never recompile."""
        k = self.chunk_blocks(max(1, batch))
        chunk_steps = k * self.n_sub
        cap = int(capacity) if capacity else self.default_capacity(chunk_steps)
        # stimulus rows a chunk can touch (a row of margin each side for rounding)
        rows = int(np.ceil(chunk_steps * self.dt / stim_dt)) + 3
        noise = self.noise_active(params)
        cols = stim.shape[-1]  # stim is [T, cols], or [B, T, cols] with batched_stim
        if batch and not batched_state:  # every trial starts from the same state
            state = jax.tree_util.tree_map(
                lambda x: _dev(np.broadcast_to(np.asarray(x), (batch, *np.shape(x))).copy()),
                state)  # fmt: skip

        def program(tail: bool):
            # tail: the last chunk of a run that ends inside a recording block
            cfg = (k, int(tail), record_v, record_im, "events", stim_kind, cap, noise)
            sig = ("chunk", batch, batched_stim, batched_state, *cfg, rows, cols)
            if sig not in self._compiled:
                fn = functools.partial(self._run_impl, cfg)
                if batch:
                    # trials from their own states start at their own times (pos[0])
                    pos_axes = (0, None, None, None, None) if batched_state else None
                    axes = (0, None, 0 if batched_stim else None, None, 0, None, pos_axes)
                    fn = jax.vmap(fn, in_axes=axes)
                self._compiled[sig] = _Compiled(fn)
            return self._compiled[sig]

        n_blocks, n_rem = divmod(n_steps, self.n_sub)
        steps0 = np.asarray(state["step"]).reshape(-1)
        t0 = (steps0.astype(np.float32) * np.float32(self.dt) if batched_state
              else np.float32(steps0[0]) * np.float32(self.dt))  # fmt: skip
        trials = max(1, batch)
        ids = [[] for _ in range(trials)]
        times = [[] for _ in range(trials)]
        vs, ims = [], []
        over = np.zeros(trials, np.int64)
        first = 0
        while True:
            nb = min(k, n_blocks - first)
            last = first + nb >= n_blocks
            local0 = first * self.n_sub
            row0 = max(0, int(np.floor(np.float32(local0) * np.float32(self.dt)
                                       / np.float32(stim_dt) + 1e-4)) - 1)  # fmt: skip
            part = stim[..., row0 : row0 + rows, :]  # zero-padded to ``rows`` (time: axis -2)
            window = np.zeros((*stim.shape[:-2], rows, cols), np.float32)
            window[..., : part.shape[-2], :] = part
            pos = (t0, np.int32(local0), np.int32(row0), np.int32(nb),
                   np.int32(n_rem if last else 0))  # fmt: skip
            fn = program(bool(last and n_rem))
            state, buf, v, im, _ = fn(state, params, window, np.float32(stim_dt), key, maps, pos)
            bi, bt = np.asarray(buf[0]), np.asarray(buf[1])
            counts, overs = np.asarray(buf[2]).reshape(-1), np.asarray(buf[3]).reshape(-1)
            for b in range(trials):
                row_i, row_t = (bi[b], bt[b]) if batch else (bi, bt)
                ids[b].append(row_i[: int(counts[b])])
                times[b].append(row_t[: int(counts[b])])
            over += overs
            if record_v:
                vs.append(np.asarray(v)[..., :nb, :])
            if record_im:
                ims.append(np.asarray(im)[..., :nb, :])
            first += nb
            if last:
                break
        axis = 1 if batch else 0
        v_out = np.concatenate(vs, axis=axis) if record_v else None
        im_out = np.concatenate(ims, axis=axis) if record_im else None
        ids = [np.concatenate(x) for x in ids]
        times = [np.concatenate(x) for x in times]
        if not batch:
            buf = (ids[0], times[0], np.asarray(len(ids[0])), np.asarray(over[0]))
            return state, buf, v_out, im_out, None
        width = max(1, max(len(x) for x in ids))
        bi = np.zeros((batch, width), np.int32)
        bt = np.zeros((batch, width), np.float32)
        for b in range(batch):
            bi[b, : len(ids[b])], bt[b, : len(times[b])] = ids[b], times[b]
        counts = np.asarray([len(x) for x in ids])
        return state, (bi, bt, counts, over), v_out, im_out, None

    def run_batch(self, state, params, n_steps: int, keys, *, batched_stim: bool = False,
                  stim=None, stim_dt: float = 1.0, record_v: bool = False,
                  record_im: bool = False, stim_kind: str = "cells", maps=None,
                  capacity: int = 0, states=None):  # fmt: skip
        """:meth:`run` for a batch of trials (``jax.vmap`` over ``keys`` and, if
        ``batched_stim``, over the leading axis of ``stim``) from one shared ``state``, or
        each from its own row of ``states`` (:meth:`stack_states`). The first result is the
        trials' final states."""
        n_blocks, n_rem = divmod(int(n_steps), self.n_sub)
        batched_state = states is not None
        if batched_state:
            state = states
        if stim is None:
            stim = np.zeros((1, self.net.num_neurons), np.float32)
            stim_dt, stim_kind, batched_stim = 1e9, "cells", False
        if not _traced((state, params, stim, stim_dt, keys)):
            return self._run_chunks(state, params, int(n_steps), np.asarray(stim, np.float32),
                                    float(stim_dt), keys, bool(record_v), bool(record_im),
                                    stim_kind, maps or [], int(capacity),
                                    batch=int(keys.shape[0]), batched_stim=batched_stim,
                                    batched_state=batched_state)  # fmt: skip
        cap = int(capacity) if capacity else self.default_capacity(n_steps)
        cfg = (n_blocks, n_rem, bool(record_v), bool(record_im), "events", stim_kind, cap,
               self.noise_active(params))  # fmt: skip
        sig = ("batch", *cfg, tuple(stim.shape), batched_stim, batched_state)
        fn = self._compiled.get(sig)
        if fn is None:
            axes = (0 if batched_state else None, None, 0 if batched_stim else None, None, 0,
                    None)  # fmt: skip
            fn = _Compiled(jax.vmap(functools.partial(self._run_impl, cfg), in_axes=axes))
            self._compiled[sig] = fn
        return fn(state, params, _f32(stim), _f32(stim_dt), keys,
                  maps or [])  # fmt: skip

    @staticmethod
    def noise_active(params) -> bool:
        """Whether any cell has a random background conductance (part of the compile key:
        switching noise on or off recompiles once; changing its level does not)."""
        try:
            on = float(params["noise_on"]) != 0.0
            std = params["noise"]
            return on and bool(np.any(np.asarray(std["std_e"]) != 0) or
                               np.any(np.asarray(std["std_i"]) != 0))  # fmt: skip
        except (TypeError, jax.errors.ConcretizationTypeError):
            return True  # traced parameters: keep the noise

    def default_capacity(self, n_steps: int) -> int:
        """Spike buffer size: every cell at 200 Hz on average, rounded up to a power of two."""
        seconds = n_steps * self.dt / 1000.0
        need = max(1024, int(self.net.num_neurons * seconds * 200.0))
        return 1 << (need - 1).bit_length()

"""The JAX engine: one compiled step per system shape, scanned over recording blocks.

State and parameters are pytrees of float32 arrays; parameters (weights, noise) are traced
arguments, so changing them never recompiles. Noise is drawn from
``fold_in(key(seed), step)``, so a run is reproducible from the seed and continues seamlessly
across ``run()`` calls.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from livn.backends.jax.network import Network
from livn.models.rcsd import dynamics as D
from livn.models.rcsd.model import NMDA_MG, NOISE_E_E, NOISE_E_I, STD_TAU_REC, STD_U

F32 = jnp.float32


class Engine:
    """Runs a :class:`Network` of RCSD cells.

    Args:
        network: Static structure from :func:`~livn.backends.jax.network.build_network`.
        model: The model (``dt``, ``record_dt``, ``refractory``).
        max_spikes_per_step: Spikes *recorded* per step (``top_k``); delivery is unaffected.
            Extra spikes in a step are counted in ``state["overflow"]``. Default: all cells up
            to 256.
    """

    def __init__(self, network: Network, model: Any, max_spikes_per_step: int | None = None):
        self.net = network
        self.model = model
        self.dt = float(model.dt)
        self.n_sub = max(1, round(model.record_dt / model.dt))
        n = network.num_neurons
        self.k = int(max_spikes_per_step or min(n, 256)) if n else 1
        self.cell_arrays = [D.cell_arrays(g.cell, jnp, F32) for g in network.groups]
        self.tables = {
            "pre": jnp.asarray(network.entry_pre),
            "slot": jnp.asarray(network.entry_slot),
            "delay": jnp.asarray(network.entry_delay),
            "std": jnp.asarray(network.entry_std),
        }
        self.chan = []
        for g in network.groups:
            chs = g.channels
            target = np.zeros((len(chs), g.cell.n_comp), dtype=np.float32)
            for i, c in enumerate(chs):
                target[i, c.target] = 1.0
            self.chan.append({
                "target": jnp.asarray(target),
                "target_idx": jnp.asarray([c.target for c in chs], dtype=jnp.int32),
                "e": jnp.asarray([c.e for c in chs], F32),
                "scale": jnp.asarray([c.g_unit * c.peak_factor for c in chs], F32),
                "decay_r": jnp.asarray([math.exp(-self.dt / c.tau_rise) for c in chs], F32),
                "decay_d": jnp.asarray([math.exp(-self.dt / c.tau_decay) for c in chs], F32),
                "nmda": jnp.asarray([c.nmda for c in chs]),
            })  # fmt: skip
        self._compiled: dict[tuple, Any] = {}

    # ------------------------------------------------------------------ state and params
    def initial_state(self) -> dict:
        groups = []
        for g in self.net.groups:
            s = D.initial_state(g.cell, g.n, jnp, F32)
            s["A"] = jnp.zeros((g.n, len(g.channels)), F32)
            s["B"] = jnp.zeros((g.n, len(g.channels)), F32)
            s["noise"] = jnp.zeros((g.n, 2), F32)
            groups.append(s)
        n = self.net.num_neurons
        return {
            "step": jnp.asarray(0, jnp.int32),
            "groups": groups,
            "hist_spk": jnp.zeros((self.net.ring, n), F32),
            "hist_rel": jnp.zeros((self.net.ring, n), F32),
            "R": jnp.ones(n, F32),
            "t_pre": jnp.full(n, -1e9, F32),
            "t_spike": jnp.full(n, -1e9, F32),
            "overflow": jnp.asarray(0, jnp.int32),
        }

    def default_params(self, noise: dict[str, float]) -> dict:
        n = self.net.num_neurons
        return {
            "weights": [jnp.asarray([c.weight for c in g.channels], F32) for g in self.net.groups],
            "noise": {k: jnp.full(n, v, F32) for k, v in noise.items()},
            "noise_on": jnp.asarray(1.0, F32),
        }

    # ------------------------------------------------------------------ one step
    def _step(self, state, params, i_soma, key):
        """Advance one dt. ``i_soma``: [N] injected somatic current (nA, engine order)."""
        dt = self.dt
        net = self.net
        t_step = state["step"]
        t = t_step.astype(F32) * dt
        # arrivals: each synapse entry reads the presynaptic spike ring `delay` steps back
        tb = self.tables
        back = (t_step - tb["delay"]) % net.ring
        arrived = jnp.where(tb["std"], state["hist_rel"][back, tb["pre"]],
                            state["hist_spk"][back, tb["pre"]])  # fmt: skip
        row = jnp.zeros(net.n_slots, F32).at[tb["slot"]].add(arrived)
        noise_key = jax.random.fold_in(key, t_step)

        new_groups, spiked, t_cross = [], [], []
        for gi, (g, s, ca, ch) in enumerate(
            zip(net.groups, state["groups"], self.cell_arrays, self.chan, strict=True)
        ):
            sl = slice(g.offset, g.offset + g.n)
            n_ch = len(g.channels)
            inc = row[g.slot_offset : g.slot_offset + g.n * n_ch].reshape(g.n, n_ch)
            inc = inc * (params["weights"][gi] * ch["scale"])[None, :]
            A = s["A"] * ch["decay_r"] + inc
            B = s["B"] * ch["decay_d"] + inc
            g_syn = B - A
            v_t = s["v"][:, ch["target_idx"]] if n_ch else s["v"][:, :0]
            mg = 1.0 / (1.0 + jnp.exp(-0.062 * v_t) * (NMDA_MG / 3.57))
            g_eff = jnp.where(ch["nmda"][None, :], g_syn * mg, g_syn)
            g_in = g_eff @ ch["target"]
            ge_in = (g_eff * ch["e"][None, :]) @ ch["target"]

            # point-conductance noise (exact OU update)
            p = {k: v[sl] for k, v in params["noise"].items()}
            z = jax.random.normal(jax.random.fold_in(noise_key, gi), (g.n, 2), F32)
            tau = jnp.stack([p["tau_e"], p["tau_i"]], axis=1)
            std = jnp.stack([p["std_e"], p["std_i"]], axis=1)
            a = jnp.exp(-dt / tau)
            g1 = a * s["noise"] + std * jnp.sqrt(1.0 - a * a) * z
            ge = jnp.maximum(0.0, p["g_e0"] + g1[:, 0]) * params["noise_on"]
            gi_ = jnp.maximum(0.0, p["g_i0"] + g1[:, 1]) * params["noise_on"]
            soma, ecomp = g.cell.soma, g.noise_e_comp
            g_in = g_in.at[:, ecomp].add(ge).at[:, soma].add(gi_)
            ge_in = ge_in.at[:, ecomp].add(ge * NOISE_E_E).at[:, soma].add(gi_ * NOISE_E_I)

            i_inj = jnp.zeros_like(s["v"]).at[:, soma].set(i_soma[sl])
            cell_state = {k: s[k] for k in D.STATE_KEYS}
            new = D.step(jnp, ca, cell_state, dt, g_in, ge_in, i_inj)
            v0, v1 = s["v"][:, soma], new["v"][:, soma]
            thr = g.cell.v_threshold
            frac = jnp.clip((thr - v0) / jnp.where(v1 != v0, v1 - v0, 1.0), 0.0, 1.0)
            tc = t + dt * frac
            cross = (v0 < thr) & (v1 >= thr) & (tc - state["t_spike"][sl] > self.model.refractory)
            new.update(A=A, B=B, noise=g1)
            new_groups.append(new)
            spiked.append(cross)
            t_cross.append(tc)

        spiked = jnp.concatenate(spiked)
        t_cross = jnp.concatenate(t_cross)
        t_spike = jnp.where(spiked, t_cross, state["t_spike"])

        # presynaptic bookkeeping: AMPA depression, then write this step's row of the ring
        r_eff = 1.0 - (1.0 - state["R"]) * jnp.exp(-(t + dt - state["t_pre"]) / STD_TAU_REC)
        spk = spiked.astype(F32)
        row_w = t_step % net.ring
        hist_spk = state["hist_spk"].at[row_w].set(spk)
        hist_rel = state["hist_rel"].at[row_w].set(spk * r_eff * STD_U)
        R = jnp.where(spiked, r_eff * (1.0 - STD_U), state["R"])
        t_pre = jnp.where(spiked, t + dt, state["t_pre"])
        # recording: the (at most k) cells that spiked this step
        vals, idx = jax.lax.top_k(spk, self.k)
        valid = vals > 0
        overflow = state["overflow"] + jnp.sum(spiked) - jnp.sum(valid)

        new_state = {
            "step": t_step + 1,
            "groups": new_groups,
            "hist_spk": hist_spk,
            "hist_rel": hist_rel,
            "R": R,
            "t_pre": t_pre,
            "t_spike": t_spike,
            "overflow": overflow,
        }
        events = (idx.astype(jnp.int32), valid, t_cross[idx])
        return new_state, events

    def _soma_outputs(self, state, with_current: bool):
        """[N] soma voltage (mV) and, if asked, soma membrane current (nA, outward positive)."""
        vs, ims = [], []
        for g, s, ca in zip(self.net.groups, state["groups"], self.cell_arrays, strict=True):
            soma = g.cell.soma
            vs.append(s["v"][:, soma])
            if with_current:
                c = D.currents(jnp, ca["params"], {k: s[k] for k in D.STATE_KEYS},
                               active=ca["active"])  # fmt: skip
                ims.append(c["i"][:, soma] * ca["params"]["area"][soma] * 1e6 - ca["i_hold"][soma])
        return jnp.concatenate(vs), (jnp.concatenate(ims) if with_current else None)

    # ------------------------------------------------------------------ runs
    def _run_impl(self, n_blocks, n_rem, record_v, record_im, state, params, stim, stim_dt, key):
        def one(carry, _):
            st, local = carry
            ti = jnp.floor(local.astype(F32) * self.dt / stim_dt + 1e-4).astype(jnp.int32)
            i_soma = jnp.where(ti < stim.shape[0], stim[jnp.minimum(ti, stim.shape[0] - 1)], 0.0)
            st, ev = self._step(st, params, i_soma, key)
            return (st, local + 1), ev

        def block(carry, _):
            carry, ev = jax.lax.scan(one, carry, None, length=self.n_sub)
            v, im = self._soma_outputs(carry[0], record_im)
            out = (ev, v if record_v else None, im)
            return carry, out

        carry = (state, jnp.asarray(0, jnp.int32))
        carry, (ev, vs, ims) = jax.lax.scan(block, carry, None, length=n_blocks)
        ev = tuple(e.reshape((-1, *e.shape[2:])) for e in ev)
        if n_rem:
            carry, ev2 = jax.lax.scan(one, carry, None, length=n_rem)
            ev = tuple(jnp.concatenate([a, b]) for a, b in zip(ev, ev2, strict=True))
        return carry[0], ev, vs, ims

    def run(self, state, params, n_steps: int, stim: np.ndarray | None, stim_dt: float, key,
            record_v: bool, record_im: bool):  # fmt: skip
        """Advance ``n_steps``; returns ``(state, events, v_blocks, im_blocks)``."""
        n_blocks, n_rem = divmod(int(n_steps), self.n_sub)
        if stim is None:
            stim = jnp.zeros((1, self.net.num_neurons), F32)
            stim_dt = 1e9
        sig = (n_blocks, n_rem, bool(record_v), bool(record_im), tuple(stim.shape))
        fn = self._compiled.get(sig)
        if fn is None:
            fn = jax.jit(functools.partial(self._run_impl, *sig[:4]))
            self._compiled[sig] = fn
        return fn(state, params, jnp.asarray(stim, F32), jnp.asarray(stim_dt, F32), key)

"""The native engine: the fused, compiled CPU kernel behind the Env contract.

:class:`NativeEngine` is a :class:`~livn.backends.host.HostEngine`: its state is a set of
NumPy tables (one ``[n_vars, n]`` float64 table per cell group, the ring of future synaptic
inputs, the presynaptic depression state) that the kernel of :mod:`livn.backends.native.kernel`
advances in place, a chunk of steps per call. It runs the event path of ``run()`` and
``run_batch()`` (trials one after another from one snapshot); ``unroll="mask"`` and GPUs stay
with the JAX engine.

* **Numerics**: the model's own step (RCSD: backward Euler with implicit axial coupling,
  gates at the new voltage, pools forward Euler; LIF/Izhikevich: their ``advance``), float64.
* **Noise**: the kernel draws the standard normals itself, counter-based (a hash of the
  seed's key, the step and the cell, then Box–Muller; ``kernel.NORMALS_C``): reproducible
  from the Env seed and the absolute step, the same however a run is split into ``run()``
  calls and chunks, with no stream state to save or restore.
* **Delivery**: the JAX engine's event path (a ring of future inputs, delay ≥ 2 steps), so
  spikes arrive on the same step; AMPA depression per presynaptic cell at its spike.
* **Chunks**: a run is advanced in chunks of whole recording blocks, sized so the chunk's
  spike buffers stay near 32 MB; the spike buffer of a chunk holds one spike per
  cell and step, so it can never overflow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from livn.backends.host import HostEngine, Injection
from livn.backends.native.kernel import NOISE_ROWS, build, kernel_source
from livn.backends.network import Network, build_network
from livn.errors import ConfigError

__all__ = ["NativeEngine", "make_engine", "noise_key"]

DELIVERY = ("auto", "gather", "scatter")


class NativeEngine(HostEngine):
    """Runs a :class:`Network` with the fused Numba kernel (see the module docstring).

    Args:
        network: From :func:`livn.backends.network.build_network`.
        model: The model (RCSD, LIF or Izhikevich).
        seed: The Env seed (initial state where random, initial noise streams).
    """

    backend = "native"

    def __init__(self, network: Network, model: Any, seed: int = 0, precision: int = 32) -> None:
        super().__init__(network, model, seed)
        for g in network.groups:
            if g.cell.n_comp > 1 and not hasattr(getattr(g.cell, "cell", None), "g_axial"):
                raise ConfigError(
                    f"the native backend runs RCSD, LIF and Izhikevich cells; "
                    f"{type(g.cell).__name__} is not one of them. Use backend='jax'."
                )
        self.src = kernel_source(network, model, precision)
        self.real = self.src.dtype
        self.kernel = build(self.src)
        n = max(network.num_neurons, 1)
        # steps per kernel call: whole recording blocks, ~32 MB of spike buffers
        self.chunk = max(self.n_sub, (2_000_000 // n) // self.n_sub * self.n_sub)
        tab, _ = network.by_pre()
        valid = tab["slot"] < network.n_slots
        counts = valid.sum(axis=1)
        self.out_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # the kernel numbers a group's slots channel-major (unit stride over its cells)
        remap = np.arange(network.n_slots + 1)
        for g in network.groups:
            n_ch = len(g.channels)
            local = np.arange(g.n * n_ch)
            remap[g.slot_offset + local] = g.slot_offset + (local % n_ch) * g.n + local // n_ch
        self.out_slot = remap[tab["slot"][valid]].astype(np.int64)
        self.out_delay = tab["delay"][valid].astype(np.int64)
        self.out_std = tab["std"][valid].astype(np.uint8)
        self._key = noise_key(self.seed)
        self._noise_active = False
        self._zero_inj = [np.zeros((1, g.cell.n_comp, g.n), self.real) for g in network.groups]
        self._reset()

    # ------------------------------------------------------------------ state
    def _initial_tables(self) -> dict:
        tables, spikes = [], []
        for gi, (g, names) in enumerate(zip(self.net.groups, self.src.state_vars, strict=True)):
            rng = np.random.default_rng([self.seed, gi])
            try:
                s = g.cell.initial_state(g.n, np, np.float64, rng=rng)
            except TypeError:
                s = g.cell.initial_state(g.n, np, np.float64)
            table = np.zeros((len(names), g.n), self.real)
            for key, arr in s.items():
                arr = np.asarray(arr, np.float64).reshape(g.n, -1)
                for j in range(arr.shape[1]):
                    if f"{key}_{j}" in names:
                        table[names.index(f"{key}_{j}")] = arr[:, j]
            tables.append(table)
            spikes.append(np.full(g.n, -1e9))
        n = self.net.num_neurons
        return {
            "groups": tables,
            "tspike": spikes,
            "ring": np.zeros((self.net.ring, self.net.n_slots + 1), self.real),
            "R": np.ones(n),
            "tpre": np.full(n, -1e9),
        }

    def _reset(self) -> None:
        self.state = self._initial_tables()

    def _save(self) -> dict:
        return _copy(self.state)

    def _restore(self, snapshot: dict) -> None:
        self.state = _copy(snapshot)

    def _adopt(self, snapshot: dict) -> None:  # the trial's own arrays become the live state
        self.state = snapshot

    def _release(self) -> dict:
        return self.state

    def _duplicate(self, snapshot: dict) -> dict:
        return _copy(snapshot)

    def _seed_noise(self, seed: int) -> None:
        self._key = noise_key(seed)

    def _apply(self, params: dict) -> None:
        dt = self.dt
        noise = {k: np.asarray(v, np.float64) for k, v in params["noise"].items()}
        self._on = float(np.asarray(params["noise_on"]))
        self._P, self._W = [], []
        for gi, g in enumerate(self.net.groups):
            sl = slice(g.offset, g.offset + g.n)
            rows = {}
            for kind in ("e", "i"):
                a = np.exp(-dt / noise[f"tau_{kind}"][sl])
                rows[f"a_{kind}"] = a
                rows[f"b_{kind}"] = noise[f"std_{kind}"][sl] * np.sqrt(1.0 - a * a)
                rows[f"g_{kind}0"] = noise[f"g_{kind}0"][sl]
            self._P.append(np.ascontiguousarray(np.stack([rows[r] for r in NOISE_ROWS]), self.real))
            w = self.channel_scale(gi, params["weights"][gi]) if g.channels else np.zeros(1)
            self._W.append(np.ascontiguousarray(w, self.real))
        self._noise_active = self._on != 0.0 and bool(
            np.any(noise["std_e"] != 0) or np.any(noise["std_i"] != 0)
        )

    # ------------------------------------------------------------------ inputs
    def _inj_tables(self, inj: Injection | None) -> tuple[list[np.ndarray], float]:
        """Per group ``[rows + 1, n_comp, n]`` injection (a zero row last), and its row dt."""
        if inj is None:
            return self._zero_inj, 1.0
        out = []
        for gi, (g, cur) in enumerate(zip(self.net.groups, inj.currents, strict=True)):
            if cur is None:
                out.append(self._zero_inj[gi])
                continue
            table = np.zeros((cur.shape[0] + 1, g.cell.n_comp, g.n), self.real)
            table[:-1] = np.swapaxes(cur, 1, 2)
            out.append(table)
        return out, float(inj.dt)

    # ------------------------------------------------------------------ runs
    def _simulate(self, n_steps: int, inj: Injection | None, record_v: bool, record_im: bool):
        net, st = self.net, self.state
        n = net.num_neurons
        n_blocks = n_steps // self.n_sub
        step0 = round(self._t / self.dt)
        injs, inj_dt = self._inj_tables(inj)
        V = np.zeros((max(n_blocks, 1) if record_v else 1, n), np.float32)
        IM = np.zeros((max(n_blocks, 1) if record_im else 1, n), np.float32)
        width = max(n, 1)
        fired = np.zeros(width, np.int64)
        spk_ids = np.empty(self.chunk * width, np.int64)
        spk_t = np.empty(self.chunk * width)
        SPK = np.zeros(width, self.real)
        TC = np.zeros(width)
        ids, times = [], []
        done = 0
        while done < n_steps:
            k = min(self.chunk, n_steps - done)
            b0 = done // self.n_sub
            arrays = []
            for gi in range(len(net.groups)):
                arrays += [st["groups"][gi], st["tspike"][gi], self._P[gi], self._W[gi], injs[gi]]
            v_out = V[b0:] if record_v else V  # not recording: a one-row placeholder
            im_out = IM[b0:] if record_im else IM
            arrays += [st["ring"], self.out_ptr, self.out_slot, self.out_delay, self.out_std,
                       st["R"], st["tpre"], v_out, im_out, spk_ids, spk_t, fired, SPK, TC]  # fmt: skip
            ptrs = np.array([a.ctypes.data for a in arrays], np.uintp)
            ints = np.array([step0 + done, k, int(self._noise_active), self.n_sub, record_v,
                             record_im, done, net.ring, net.n_slots + 1, n, self._key,
                             *(t.shape[0] for t in injs)], np.int64)  # fmt: skip
            floats = np.array([inj_dt, self._t, self._on], np.float64)
            ns = self.kernel(ptrs.ctypes.data, ints.ctypes.data, floats.ctypes.data)
            ids.append(spk_ids[:ns].copy())
            times.append(spk_t[:ns].copy())
            done += k
        return (np.concatenate(ids), np.concatenate(times), V[:n_blocks] if record_v else None,
                IM[:n_blocks] if record_im else None)  # fmt: skip


def noise_key(seed: int) -> int:
    """The kernel's 32-bit noise key of an Env seed (NumPy's seed hashing, so nearby seeds
    give unrelated keys)."""
    return int(np.random.SeedSequence(int(seed)).generate_state(1, np.uint32)[0])


def _copy(state: dict) -> dict:
    return {k: ([a.copy() for a in v] if isinstance(v, list) else v.copy())
            for k, v in state.items()}  # fmt: skip


def make_engine(system: Any, model: Any, seed: int = 0, delivery: str = "auto",
                **kwargs: Any) -> NativeEngine:  # fmt: skip
    """The registry's factory: a :class:`NativeEngine` for ``system`` and ``model``.

    ``delivery`` (the JAX engine's spike-delivery choice) is accepted and ignored: the kernel
    always delivers event by event.
    """
    if delivery not in DELIVERY:
        raise ConfigError(f"unknown delivery {delivery!r}. Valid: {', '.join(DELIVERY)}.")
    return NativeEngine(build_network(system, model), model, seed=seed, **kwargs)

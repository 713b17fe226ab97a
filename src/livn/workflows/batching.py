"""Device-batched runs of a job's units: how many trials run at once, and which can share a run.

The ``batched`` executor (:mod:`livn.workflows.executors`) runs ``batch_size`` units of a job
(samples, sweep stimuli) through one :meth:`livn.env.Env.run_batch`: a vectorised program over
the trials, each with its own noise seed and stimulus, from the state of a cleared Env. Every
trial equals the single run of its seed, so the batched executor writes what the others write.

* :func:`resolve` turns ``batch_size`` (an integer, or ``"auto"``) into the trials of one run,
  refusing a size whose estimate does not fit the memory (:func:`livn.limits.check_batch`).
* :func:`signature` says which stimuli can share a run (same space, step and shape; no
  stimulus at all is its own group), and :func:`stack` puts them together.
* :func:`pad` fills a last, partial batch up to the batch size on a GPU (the extra trials
  repeat the last one and are dropped), so that it reuses the program compiled for the full
  batch instead of compiling one of its own; on a CPU the padding would cost more than
  the compilation.

Memory of a batch (the estimates the refusals quote):

* host: the recordings of every trial of the batch, as :meth:`~livn.env.Env.run_batch` checks
  them (:func:`livn.limits.run_bytes` × trials), plus what the job keeps per trial;
* GPU (JAX on a GPU): per trial, the simulation state (four copies: the chunk program's carry
  in and out, and XLA's buffers) and the spike buffer of one chunk, against the device's free
  memory; a chunk's recording buffers (~64 MB whatever the batch) are counted once.

``batch_size=auto``: on a GPU the largest batch that fits both, at most :data:`AUTO_GPU`; on a
CPU :data:`AUTO_CPU`, the best measured there (EI2, one pinned core, CPU seconds per trial and
simulated second: single runs 0.88, batches of 2: 0.79, 4: 0.72, 8: 0.76, 16: 1.04); never
more than the units to run.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from livn import limits
from livn.stimulus import Stimulus

__all__ = ["AUTO_CPU", "AUTO_GPU", "device_memory", "normalise", "pad", "resolve", "signature",
           "stack"]  # fmt: skip

#: ``batch_size=auto`` on a CPU.
AUTO_CPU = 4
#: Largest ``batch_size=auto`` on a GPU.
AUTO_GPU = 256
#: Share of a GPU's free memory a batch may plan to use (XLA needs headroom of its own).
GPU_SHARE = 0.8
#: Bytes of a chunk's recording buffers (the JAX engine keeps them near 64 MB), in and out.
CHUNK_BYTES = 2 * 64e6


def device_memory(env: Any) -> tuple[str, float | None]:
    """``(platform, free bytes)`` of the device the Env's engine runs on: ``("cpu", None)`` for
    a CPU (its memory is the host's) or a backend without devices, else e.g. ``("gpu",
    6.1e10)`` from the device's memory statistics (``None`` when it reports none)."""
    if getattr(env, "backend", "jax") not in ("jax", "diffrax"):
        return "cpu", None
    import jax

    device = jax.config.jax_default_device
    if device is None or isinstance(device, str):
        device = jax.devices(device)[0] if device else jax.devices()[0]
    platform = str(device.platform)
    if platform == "cpu":
        return "cpu", None
    stats = device.memory_stats() or {}
    limit = stats.get("bytes_limit")
    if limit is None:
        return platform, None
    return platform, float(limit) - float(stats.get("bytes_in_use", 0))


def _nbytes(tree: Any) -> int:
    if isinstance(tree, dict):
        return sum(_nbytes(v) for v in tree.values())
    if isinstance(tree, list | tuple):
        return sum(_nbytes(v) for v in tree)
    return int(getattr(tree, "nbytes", 0))


def resolve(env: Any, duration: float, requested: int | str, pending: int, what: str,
            record_v: bool, record_im: bool, extra_host: float = 0.0,
            fix: str = "shorten duration or record less") -> dict[str, Any]:  # fmt: skip
    """The trials per run for ``requested`` (an int >= 1 or ``"auto"``) and ``pending`` units.

    Args:
        env: The initialised Env the runs use.
        duration: ms per trial.
        requested: ``batch_size`` as the user gave it.
        pending: Units still to run (a batch is never larger).
        what: The trials, plural, for messages (``"5000 ms samples of 100 cells"``).
        record_v, record_im: Whether the runs record voltage and membrane current.
        extra_host: Host bytes the job keeps per trial besides the recordings (stimuli).
        fix: How to make one trial smaller, for a refusal.

    Raises:
        SizeLimitError: When ``requested`` (at most ``pending``) does not fit the host memory
            (:func:`livn.limits.memory_budget`) or the GPU's free memory; the message names
            the estimate, the memory available and the largest batch that fits.

    Returns:
        ``{"batch_size", "platform", "per_trial_host", "per_trial_device"}`` (bytes; the
        device's are 0 on a CPU).
    """
    requested = limits.batch_size(requested)
    n = int(env.system.num_neurons)
    dt, record_dt = float(env.engine.dt), float(env.model.record_dt)
    steps = limits.steps(duration, dt)
    host = limits.run_bytes(n, steps, dt, record_dt, record_v, record_im) + float(extra_host)
    budget = limits.memory_budget()
    host_where = f"host memory ({limits.MEMORY_VAR}; default half of this machine's memory)"
    platform, free = device_memory(env)
    chunk_steps = max(1, round(200.0 / dt))
    device = 4 * _nbytes(env.state) + 16 * limits.spike_capacity(n, chunk_steps, dt)
    room = None if free is None else GPU_SHARE * free - CHUNK_BYTES
    if requested == "auto":
        fits = [int(budget // host) if host > 0 else pending]
        if room is not None:
            fits.append(int(room // device) if device > 0 else pending)
        cap = AUTO_CPU if platform == "cpu" else AUTO_GPU
        size = max(1, min(cap, pending, *fits))
    else:
        size = max(1, min(int(requested), pending))
    limits.check_batch(size, host, what, budget, host_where, fix)
    if room is not None:
        limits.check_batch(size, device, what, max(0.0, room),
                           f"{platform.upper()} memory (its free memory, less headroom)", fix)  # fmt: skip
    return {
        "batch_size": size,
        "platform": platform,
        "per_trial_host": host,
        "per_trial_device": device if room is not None else 0,
    }


def signature(stimulus: Stimulus | None) -> Hashable:
    """What stimuli must share to run in one batch: ``None``, or (space, step, shape)."""
    if stimulus is None:
        return None
    return (stimulus.space, float(stimulus.dt), tuple(int(x) for x in stimulus.array.shape))


def normalise(stimulus: Any, num_neurons: int) -> Stimulus | None:
    """An encoding's output as a host :class:`Stimulus` of all columns (``gids`` spread onto
    every cell with zeros elsewhere, which is how a run places them), or ``None``."""
    stim = Stimulus.from_arg(stimulus)
    if stim is None:
        return None
    array = np.asarray(stim.array, dtype=np.float32)
    if stim.gids is not None and stim.space == "cells":
        stim.check_cells(num_neurons)
        full = np.zeros((array.shape[0], num_neurons), np.float32)
        full[:, stim.gids] = array
        array = full
    return Stimulus(array, dt=stim.dt, space=stim.space)


def stack(stimuli: Sequence[Stimulus | None]) -> Stimulus | None:
    """The stimuli of one batch (equal :func:`signature`) as one stimulus with a leading trial
    axis ``[B, T, n]``, which :meth:`livn.env.Env.run_batch` gives one per trial; ``None`` when
    the trials have none."""
    first = stimuli[0]
    if first is None:
        return None
    if any(signature(s) != signature(first) for s in stimuli):
        raise ValueError("stimuli of one batch must have the same space, step and shape")
    batch = Stimulus(first.array, dt=first.dt, space=first.space)
    batch.array = np.stack([np.asarray(s.array, np.float32) for s in stimuli])  # [B, T, n]
    return batch


def pad(env: Any, batch: list[Any], size: int) -> list[Any]:
    """``batch`` filled up to ``size`` items with copies of its last one on an accelerator
    (see the module docstring); unchanged on a CPU."""
    if len(batch) >= size or device_memory(env)[0] == "cpu":
        return list(batch)
    return [*batch, *[batch[-1]] * (size - len(batch))]

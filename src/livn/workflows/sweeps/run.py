"""The worker side of a batch: run one stimulus and write its shard (:func:`run_stimulus`), or
several at once through one vectorised run (:data:`BATCHED`, the ``batched`` executor).

A shard ``responses/stim_XXXX.npz`` (see :mod:`livn.workflows.shards`) holds ``spike_ids``
``[S]`` and ``spike_times`` ``[S]`` (ms), and with ``save_intermediates`` also
``voltage_ids``/``voltage`` ``[R, T]`` (mV every 0.1 ms), ``current_ids``/``membrane_current``
``[M, T]`` (nA) and ``stimulus`` ``[T, n_channels]`` (µA); ``meta`` holds the stimulus
configuration. Both write the same shard for a stimulus: it runs from a cleared Env with its
own seed either way (:mod:`livn.workflows.batching`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from livn.errors import ConfigError
from livn.workflows import shards

__all__ = ["BATCHED", "RESPONSES_DIR", "StimulusBatches", "run_stimulus"]

RESPONSES_DIR = "responses"

_ENVS: dict[str, Any] = {}


def _env(context: Mapping[str, Any]):
    base = context["base_config"]
    key = hashlib.sha256(json.dumps([base, context["save_intermediates"]],
                                    sort_keys=True).encode()).hexdigest()  # fmt: skip
    env = _ENVS.get(key)
    if env is None:
        from livn.env import Env
        from livn.workflows.sample import MODELS, resolve_class

        model = None
        if base["model"] is not None:
            model = resolve_class(MODELS.get(base["model"], base["model"]), "model")()
        env = Env(base["system"], model=model, seed=int(base["seed"])).init()
        env.apply_model_defaults()
        if not base["noise"]:
            env.set_noise({"enabled": False})
        env.record_spikes()
        if context["save_intermediates"]:
            env.record_voltage()
            env.record_membrane_current()
        _ENVS.clear()
        _ENVS[key] = env
    return env


def _device(name: str):
    import contextlib

    import jax

    try:
        devices = jax.devices("gpu" if name == "cuda" else "cpu")
    except RuntimeError:
        devices = []
    if not devices:
        raise ConfigError(
            f"device {name!r} was requested but JAX sees none; use device: cpu, or install "
            "JAX with CUDA support on a GPU machine."
        )
    return jax.default_device(devices[0]) if devices else contextlib.nullcontext()


class _Trial(NamedTuple):
    """One stimulus ready to run: its unit, electrode currents and stimulus."""

    index: int
    key: str
    spec: dict
    currents: np.ndarray
    stimulus: Any


def _begin(context: Mapping[str, Any], env: Any, unit: tuple[int, str, dict]) -> _Trial:
    """Clear ``env`` with the stimulus's seed and build its electrode currents."""
    from livn.workflows.sweeps.patterns import get_pattern

    index, key, spec = unit
    env.clear(seed=int(spec["seed"]))
    params = dict(spec["params"])
    duration = float(context["base_config"]["duration"])
    currents = get_pattern(spec["type"]).channel_inputs(env.io, duration, params)
    stimulus = env.cell_stimulus(currents, dt=float(params["dt"]))
    return _Trial(int(index), key, spec, currents, stimulus)


def _finish(context: Mapping[str, Any], trial: _Trial, result: Any) -> None:
    """Write the shard of ``trial``'s run (atomically)."""
    it, t, iv, v, *rest = result
    arrays: dict[str, Any] = {"spike_ids": np.asarray(it, np.int64),
                              "spike_times": np.asarray(t, np.float64)}  # fmt: skip
    if context["save_intermediates"]:
        im, mp = rest
        arrays.update(voltage_ids=iv, voltage=v, current_ids=im, membrane_current=mp,
                      stimulus=trial.currents)  # fmt: skip
    meta = {"kind": "stimulus", "index": trial.index, "stimulus_key": trial.key, **trial.spec}
    path = Path(context["output_dir"]) / RESPONSES_DIR / f"{trial.key}.npz"
    shards.write_shard(path, arrays, meta)


def run_stimulus(context: Mapping[str, Any], unit: tuple[int, str, dict]) -> None:
    """Run stimulus ``unit`` of the batch ``context`` and write its shard."""
    base = context["base_config"]
    with _device(base["device"]):
        env = _env(context)
        trial = _begin(context, env, unit)
        result = env.run(float(base["duration"]), trial.stimulus)
    _finish(context, trial, result)


class StimulusBatches:
    """The sweeps' :class:`~livn.workflows.executors.BatchWorker` (``BATCHED``): stimuli of
    the same electrode-current shape and step run together through
    :meth:`livn.env.Env.run_batch` from the cleared Env, each with its own seed — the single
    run of :func:`run_stimulus`, written the same way."""

    def batch_size(self, context: dict, requested: int | str, pending: int) -> int:
        from livn.workflows import batching

        base = context["base_config"]
        duration, si = float(base["duration"]), bool(context["save_intermediates"])
        fix = "shorten base_config.duration" + (" or drop save_intermediates" if si else "")
        with _device(base["device"]):
            env = _env(context)
            # a stimulus's electrode currents (Batch.plan: at the sweeps' smallest step), three
            # times: kept for its shard, stacked with the batch, and placed by the run
            currents = 3 * float(context.get("stimulus_bytes", 0.0))
            what = (f"{duration:g} ms stimuli of {env.system.num_neurons:,} cells"
                    f"{' with intermediates' if si else ''}")  # fmt: skip
            info = batching.resolve(env, duration, requested, pending, what, si, si, currents,
                                    fix)  # fmt: skip
        return info["batch_size"]

    def prepare(self, context: dict, unit: tuple[int, str, dict]) -> tuple[Any, Any]:
        from livn.workflows import batching

        with _device(context["base_config"]["device"]):
            trial = _begin(context, _env(context), unit)
        return batching.signature(trial.stimulus), trial

    def run(self, context: dict, batch: list[Any], size: int) -> list[Callable[[], None]]:
        from livn.workflows import batching

        base = context["base_config"]
        with _device(base["device"]):
            env = _env(context)
            padded = batching.pad(env, batch, size)
            env.clear(seed=int(batch[0].spec["seed"]))  # every trial starts from t = 0
            results = env.run_batch(float(base["duration"]),
                                    batching.stack([t.stimulus for t in padded]),
                                    seeds=[int(t.spec["seed"]) for t in padded])  # fmt: skip
        return [functools.partial(_finish, context, t, r)
                for t, r in zip(batch, results[: len(batch)], strict=True)]  # fmt: skip


#: The batch worker of ``executor=batched``.
BATCHED = StimulusBatches()

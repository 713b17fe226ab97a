"""The worker side of a batch: run one stimulus and write its shard.

A shard ``responses/stim_XXXX.npz`` (see :mod:`livn.workflows.shards`) holds ``spike_ids``
``[S]`` and ``spike_times`` ``[S]`` (ms), and with ``save_intermediates`` also
``voltage_ids``/``voltage`` ``[R, T]`` (mV every 0.1 ms), ``current_ids``/``membrane_current``
``[M, T]`` (nA) and ``stimulus`` ``[T, n_channels]`` (µA); ``meta`` holds the stimulus
configuration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from livn.errors import ConfigError
from livn.workflows import shards

__all__ = ["RESPONSES_DIR", "run_stimulus"]

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


def run_stimulus(context: Mapping[str, Any], unit: tuple[int, str, dict]) -> None:
    """Run stimulus ``unit`` of the batch ``context`` and write its shard."""
    from livn.workflows.sweeps.patterns import get_pattern

    index, key, spec = unit
    base = context["base_config"]
    duration = float(base["duration"])
    with _device(base["device"]):
        env = _env(context)
        env.clear(seed=int(spec["seed"]))
        params = dict(spec["params"])
        currents = get_pattern(spec["type"]).channel_inputs(env.io, duration, params)
        stimulus = env.cell_stimulus(currents, dt=float(params["dt"]))
        it, t, iv, v, *rest = env.run(duration, stimulus)
    arrays: dict[str, Any] = {"spike_ids": np.asarray(it, np.int64),
                              "spike_times": np.asarray(t, np.float64)}  # fmt: skip
    if context["save_intermediates"]:
        im, mp = rest
        arrays.update(voltage_ids=iv, voltage=v, current_ids=im, membrane_current=mp,
                      stimulus=currents)  # fmt: skip
    meta = {"kind": "stimulus", "index": int(index), "stimulus_key": key, **spec}
    path = Path(context["output_dir"]) / RESPONSES_DIR / f"{key}.npz"
    shards.write_shard(path, arrays, meta)

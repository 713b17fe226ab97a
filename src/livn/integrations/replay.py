"""A sampling dataset as reinforcement-learning transitions (seed 000's "RL replay buffer").

A dataset made by ``livn systems sample`` holds, per sample, the encoding's inputs
(``features``) and the spikes they caused (``trial_it``, ``trial_t``). Sampled with
:class:`StepPulses`, a sample *is* an episode of :class:`~livn.integrations.gym.LivnGym` in the
actuator role with a random agent: ``features`` are the agent's actions (one vector of electrode
amplitudes per step) and the spikes are the culture's response. The task's part of the loop is
cheap and deterministic, so it is recomputed; the culture's part — the expensive simulation — is
read from the dataset. :func:`dataset_transitions` turns the rows into
``(obs, action, reward, next_obs, terminated, truncated)``, exactly as implemented:

* **Columns read:** ``seed``, ``t_end`` (ms), ``features``, ``trial_it``, ``trial_t`` (ms)
  (:data:`REQUIRED_COLUMNS`; other columns are ignored).
* **Steps.** A row of ``t_end = K · step_ms`` is ``K`` agent steps; ``C`` is the number of
  electrodes of the system's MEA and ``features`` holds ``K · C`` amplitudes in ``[0, 1]``,
  step-major: ``a_k = features[k·C : (k+1)·C]`` is the agent's action at step ``k`` (a value of
  the actuator role's action space ``Box(0, 1, (C,))``).
* **The culture's output.** The spikes of the first trial with ``k · step_ms ≤ t < (k+1) ·
  step_ms``, their times shifted by ``−k · step_ms``, are decoded by ``decoding`` (default
  :class:`~livn.integrations.gym.RateDecoding` ``(duration=step_ms,
  space=task.action_space)``, LivnGym's default): ``y_k``, the task's action at step ``k``.
* **The task's part.** ``o_0 = task.reset(seed=seed)``; ``o_{k+1}, r_k, term_k, trunc_k =
  task.step(y_k)``. Transition ``k`` is ``(o_k, a_k, r_k, o_{k+1}, term_k, trunc_k)``, with
  ``trunc`` also set on the row's last step (the sample ended, not the task). A row stops at
  the first ``term`` or ``trunc`` (later spikes ran on without a reset; they are not used), so
  a row gives ``min(K, the task's episode length)`` transitions.

Why this equals LivnGym: a sample runs the cleared culture (noise seed ``seed``) for ``K ·
step_ms`` ms under :class:`StepPulses`, whose electrode currents are the concatenation of the
``K`` per-step currents of :class:`~livn.integrations.gym.SpaceEncoding` for the actions
``a_k``; LivnGym runs the same currents one step at a time, and a culture run in pieces equals
the run in one piece (tests/test_rl_benchmark.py checks a converted sample against a LivnGym
episode spike for spike).

Needs gymnasium (``pip install 'livn[gym]'``) to convert; :class:`StepPulses` itself (used by
the sampling workers) needs only NumPy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from livn.encoding import ElectrodePulses, Encoding
from livn.errors import ConfigError, positive_ms

__all__ = [
    "REQUIRED_COLUMNS",
    "StepPulses",
    "Transitions",
    "check_columns",
    "dataset_transitions",
    "load_dataset",
]

#: Columns of a sampling dataset that :func:`dataset_transitions` reads.
REQUIRED_COLUMNS: tuple[str, ...] = ("seed", "t_end", "features", "trial_it", "trial_t")

#: How to make a dataset that has them (quoted in errors).
HOW_TO_SAMPLE = (
    "livn systems sample system=EI2 duration=4000 samples=20 "
    "encoding=livn.integrations.replay.StepPulses encoding_kwargs='{\"steps\": 200}' "
    "record='[\"spikes\"]' output_directory=./rl_dataset --launch --merge"
)


@dataclass(frozen=True)
class StepPulses(Encoding):
    """A random agent's stimulation over ``steps`` LivnGym steps, for sampling datasets.

    The inputs are ``[steps, C]`` electrode amplitudes in ``[0, 1]`` (or the same ``steps · C``
    values flattened, step-major); step ``k`` gets the pulses of
    :class:`~livn.integrations.gym.SpaceEncoding` ``(amplitude_uA, period_ms, pulse_ms, dt)``
    for ``a_k`` during ``[k · step_ms, (k+1) · step_ms)`` — biphasic pulses (cathodic first,
    ``pulse_ms`` per phase) every ``period_ms`` from the start of each step, of ``a_k[c] ·
    amplitude_uA`` µA on electrode ``c``.

    :meth:`sample_inputs` (what ``livn systems sample`` draws for sample ``i`` from
    ``numpy.random.default_rng(seed + i)``) is a random agent: every ``hold`` steps a level
    ``u ~ U(0, 1)``, and each electrode's amplitude is ``clip(u + spread · U(−½, ½), 0, 1)``
    (so the culture's mean response, and the decoded action, covers its whole range; iid
    amplitudes per electrode would average out near 0.5).

    Args:
        steps: Agent steps per sample; the sample's ``duration`` must be ``steps · step_ms``.
        step_ms: Culture time per agent step, ms (LivnGym's decoding ``duration``).
        amplitude_uA, period_ms, pulse_ms, dt: As :class:`SpaceEncoding`.
        spread: Width of the per-electrode jitter around the step's level (``≥ 0``).
        hold: Steps that share one level (``≥ 1``).
    """

    steps: int = 200
    step_ms: float = 20.0
    amplitude_uA: float = 20.0
    period_ms: float = 5.0
    pulse_ms: float = 0.2
    dt: float = 0.025
    spread: float = 0.5
    hold: int = 1
    pulses: ElectrodePulses = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("steps", "hold"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ConfigError(f"StepPulses {name} must be an integer >= 1; got {v!r}.")
        object.__setattr__(self, "step_ms", positive_ms(self.step_ms, "step_ms"))
        spread = float(self.spread)
        if not np.isfinite(spread) or spread < 0:
            raise ConfigError(f"StepPulses spread must be a number >= 0; got {self.spread!r}.")
        pulses = ElectrodePulses(amplitude_uA=self.amplitude_uA, pulse_ms=self.pulse_ms,
                                 period_ms=self.period_ms, dt=self.dt)  # fmt: skip
        object.__setattr__(self, "pulses", pulses)

    def sample_inputs(self, rng: np.random.Generator, env: Any) -> np.ndarray:
        """``[steps, C]`` float32 amplitudes of a random agent (see the class docs)."""
        n_ch = int(env.io.num_channels)
        levels = rng.uniform(0.0, 1.0, size=-(-self.steps // self.hold))
        level = np.repeat(levels, self.hold)[: self.steps, None]
        jitter = self.spread * rng.uniform(-0.5, 0.5, size=(self.steps, n_ch))
        return np.clip(level + jitter, 0.0, 1.0).astype(np.float32)

    def actions(self, env: Any, inputs: Any) -> np.ndarray:
        """``inputs`` as ``[steps, C]`` float64 amplitudes clipped to ``[0, 1]``."""
        n_ch = int(env.io.num_channels)
        a = np.asarray(inputs, dtype=np.float64)
        if a.size != self.steps * n_ch:
            raise ConfigError(
                f"StepPulses inputs must be [steps={self.steps}, {n_ch} electrodes] amplitudes "
                f"({self.steps * n_ch} values); got shape {a.shape}."
            )
        if not np.all(np.isfinite(a)):
            raise ConfigError("StepPulses inputs contain NaN or infinite values.")
        return np.clip(a.reshape(self.steps, n_ch), 0.0, 1.0)

    def __call__(self, env: Any, duration: float, inputs: Any = None) -> Any:
        """``env.cell_stimulus`` of the ``steps`` per-step pulse trains, one after another."""
        duration = positive_ms(duration, "duration")
        want = self.steps * self.step_ms
        if abs(duration - want) > 1e-9 * max(1.0, want):
            raise ConfigError(
                f"StepPulses(steps={self.steps}, step_ms={self.step_ms:g}) stimulates "
                f"{want:g} ms, but the run is {duration:g} ms; sample with duration={want:g} or "
                f"steps={duration / self.step_ms:g}."
            )
        n_ch = int(env.io.num_channels)
        a = np.zeros((self.steps, n_ch)) if inputs is None else self.actions(env, inputs)
        rows = [self.pulses.channel_inputs(env, self.step_ms, a[k]) for k in range(self.steps)]
        return env.cell_stimulus(np.concatenate(rows, axis=0), dt=self.dt)


class Transitions(NamedTuple):
    """``M`` transitions (module rules); arrays share their first dimension."""

    obs: np.ndarray  # [M, *obs_shape] the task's observation before the step
    actions: np.ndarray  # [M, C] float32 the agent's electrode amplitudes in [0, 1]
    rewards: np.ndarray  # [M] float64 the task's reward
    next_obs: np.ndarray  # [M, *obs_shape] the task's observation after the step
    terminated: np.ndarray  # [M] bool
    truncated: np.ndarray  # [M] bool (the task's time limit, or the end of the sample)
    task_actions: np.ndarray  # [M, *task_action_shape] what the culture's spikes decoded to
    sample: np.ndarray  # [M] int64 row of the dataset
    step: np.ndarray  # [M] int64 step within the row


def check_columns(columns: Iterable[str], where: str = "the dataset") -> None:
    """Raise :class:`ConfigError` naming the :data:`REQUIRED_COLUMNS` missing from ``columns``."""
    have = list(columns)
    missing = [c for c in REQUIRED_COLUMNS if c not in have]
    if missing:
        raise ConfigError(
            f"{where} lacks the column(s) {', '.join(missing)} that the replay needs (it needs "
            f"{', '.join(REQUIRED_COLUMNS)}; it has {', '.join(have) or 'none'}). Use a dataset "
            f"merged from `livn systems sample` with spike recording, e.g. `{HOW_TO_SAMPLE}`."
        )


def _rows(data: Any) -> tuple[list[str], Iterator[Mapping[str, Any]], int]:
    """Column names, an iterator over row dicts and the row count of ``data``: a Hugging Face
    ``Dataset``, a mapping of columns, or a sequence of row mappings."""
    names = getattr(data, "column_names", None)
    if isinstance(names, dict):  # a DatasetDict
        raise ConfigError(
            f"got a dataset with splits {', '.join(map(str, names))}; pass one split, e.g. "
            "dataset['train'] (or load_dataset(path) for all of a merged directory's samples)."
        )
    if isinstance(names, list) and hasattr(data, "__iter__") and not isinstance(data, Mapping):
        return list(names), iter(data), len(data)
    if isinstance(data, Mapping):
        if isinstance(next(iter(data.values()), None), Mapping):
            raise ConfigError(
                f"got a dataset with splits {', '.join(map(str, data))}; pass one split, e.g. "
                "dataset['train']."
            )
        names = [str(k) for k in data]
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise ConfigError(f"the dataset's columns differ in length: {sorted(lengths)}.")
        n = lengths.pop() if lengths else 0
        return names, ({k: data[k][i] for k in names} for i in range(n)), n
    if isinstance(data, list | tuple) and all(isinstance(r, Mapping) for r in data):
        names = list(data[0]) if data else []
        return names, iter(data), len(data)
    raise ConfigError(
        f"expected a datasets.Dataset, a dict of columns or a list of rows; got "
        f"{type(data).__name__}."
    )


def dataset_transitions(data: Any, task: Any = "Pendulum-v1", system: Any = "EI2",
                        step_ms: float = 20.0, decoding: Any = None) -> Transitions:  # fmt: skip
    """The transitions of every row of a sampling dataset (module rules).

    Args:
        data: One split of the dataset (``datasets.Dataset``), a dict of columns, or a list of
            rows; it needs the :data:`REQUIRED_COLUMNS`.
        task: The Gymnasium task: an id, an env (reset here) or a callable returning one.
        system: The sampled system: a predefined name, a path, a System or an Env (its MEA
            gives ``C`` and the electrodes' cells).
        step_ms: Culture time per agent step, ms (the sampling encoding's ``step_ms``).
        decoding: The culture's output → the task's action; default
            ``RateDecoding(duration=step_ms, space=task.action_space)``.

    Raises:
        ConfigError: Missing columns (named), a row whose ``t_end`` is not a whole number of
            steps, or ``features`` that are not ``K · C`` amplitudes.
    """
    from livn.env import Env
    from livn.integrations.gym import RateDecoding
    from livn.integrations.gym.env import make_task

    step_ms = positive_ms(step_ms, "step_ms")
    names, rows, _ = _rows(data)
    check_columns(names)
    culture = system if isinstance(system, Env) else Env(system)
    n_ch, n_cells = int(culture.io.num_channels), int(culture.system.num_neurons)
    task = make_task(task)
    if decoding is None:
        decoding = RateDecoding(duration=step_ms, space=task.action_space)
    out: dict[str, list[Any]] = {k: [] for k in Transitions._fields}
    for r, row in enumerate(rows):
        t_end = float(row["t_end"])
        k_steps = round(t_end / step_ms)
        if k_steps < 1 or abs(k_steps * step_ms - t_end) > 1e-6 * max(1.0, t_end):
            raise ConfigError(
                f"row {r}: t_end={t_end:g} ms is not a whole number of {step_ms:g}-ms steps; "
                "sample with duration = steps · step_ms (StepPulses), or pass its step_ms."
            )
        features = np.asarray(row["features"], dtype=np.float32).reshape(-1)
        if features.size != k_steps * n_ch:
            raise ConfigError(
                f"row {r}: features has {features.size} values; {t_end:g} ms of {step_ms:g}-ms "
                f"steps on {n_ch} electrodes needs {k_steps} × {n_ch} = {k_steps * n_ch} "
                "amplitudes (the agent's action per step). Sample with "
                "encoding=livn.integrations.replay.StepPulses (a spontaneous-activity dataset "
                "has no actions)."
            )
        actions = np.clip(features.reshape(k_steps, n_ch), 0.0, 1.0)
        trials_it, trials_t = row["trial_it"], row["trial_t"]
        if len(trials_it) < 1 or len(trials_t) < 1:
            raise ConfigError(f"row {r}: trial_it/trial_t hold no trial.")
        it = np.asarray(trials_it[0], dtype=np.int64).reshape(-1)
        t = np.asarray(trials_t[0], dtype=np.float64).reshape(-1)
        if it.shape != t.shape:
            raise ConfigError(f"row {r}: trial_it and trial_t differ in length ({it.size}, {t.size}).")
        if it.size and (it.min() < 0 or it.max() >= n_cells):
            raise ConfigError(
                f"row {r}: spike gids up to {it.max()} do not fit the system's {n_cells} cells; "
                "pass the system the dataset was sampled from."
            )
        window = np.floor(t / step_ms).astype(np.int64)
        obs, _ = task.reset(seed=int(row["seed"]))
        for k in range(k_steps):
            sel = window == k
            y = decoding(culture, it[sel], t[sel] - k * step_ms)
            nxt, reward, term, trunc, _ = task.step(y)
            trunc = bool(trunc) or k == k_steps - 1
            for name, value in (("obs", obs), ("actions", actions[k]), ("rewards", float(reward)),
                                ("next_obs", nxt), ("terminated", bool(term)),
                                ("truncated", trunc), ("task_actions", y), ("sample", r),
                                ("step", k)):  # fmt: skip
                out[name].append(value)
            obs = nxt
            if term or trunc:
                break
    dtypes = {"actions": np.float32, "rewards": np.float64, "terminated": bool, "truncated": bool,
              "sample": np.int64, "step": np.int64}  # fmt: skip
    arrays = {}
    for name in Transitions._fields:
        values = out[name]
        if values:
            arrays[name] = np.asarray(values, dtype=dtypes.get(name))
        elif name == "obs" or name == "next_obs":
            arrays[name] = np.zeros((0, *task.observation_space.shape), np.float32)
        elif name == "actions":
            arrays[name] = np.zeros((0, n_ch), np.float32)
        else:
            arrays[name] = np.zeros(0, dtypes.get(name, np.float32))
    return Transitions(**arrays)


def load_dataset(source: str | os.PathLike, split: str | None = None,
                 name: str | None = None) -> Any:  # fmt: skip
    """A sampling dataset as one ``datasets.Dataset``: a directory merged by ``livn systems
    sample --merge`` (config name and splits read from its ``merge.json``; ``split=None`` joins
    all of them, ``train+test``) or a Hugging Face dataset id (needs ``name``, the system, e.g.
    ``EI2``; ``split=None`` reads ``train``). Needs ``livn[datasets]``."""
    from livn.errors import require

    datasets = require("datasets", "datasets")
    source = os.fspath(source)
    path = Path(os.path.expanduser(source))
    if path.is_dir():
        record_path = path / "merge.json"
        if not record_path.is_file():
            hint = (" It holds a sampling job: merge it with `livn systems sample "
                    f"output_directory={path} --merge`." if (path / "config.json").is_file()
                    else "")  # fmt: skip
            raise ConfigError(f"{path} is not a merged livn dataset (no merge.json).{hint}")
        record = json.loads(record_path.read_text("utf-8"))
        name = name or record["system_name"]
        if split is None:
            split = "+".join(s for s in ("train", "test")
                             if record.get("splits", {}).get(name, {}).get(s))  # fmt: skip
            split = split or "train"
        source = str(path)
    elif name is None:
        raise ConfigError(
            f"{source!r} is not a directory; for a Hugging Face dataset id pass the config name "
            "(the system, e.g. name='EI2')."
        )
    try:
        return datasets.load_dataset(str(source), name=name, split=split or "train")
    except ValueError as e:  # an unknown split or config
        raise ConfigError(f"cannot load split {split!r} of {source} (config {name!r}): {e}") from None
    except OSError as e:  # not on the Hub, offline, or no such directory
        raise ConfigError(
            f"cannot load the dataset {source!r} ({type(e).__name__}: {e}); pass the directory "
            "of a merged `livn systems sample` job, or a Hugging Face dataset id you can reach."
        ) from None

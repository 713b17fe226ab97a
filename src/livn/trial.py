"""``Trial``: the recordings of one run with the system, MEA, seed and stimulus that made it.

The exporters (:mod:`livn.integrations.nwb`, :mod:`livn.integrations.spikeinterface`) and the
plots (:mod:`livn.plot`) read trials, whichever way they were made::

    from livn.trial import Trial, load_trials

    trial = Trial.from_run(env, env.run(1000, stimulus), duration=1000, stimulus=stimulus)
    trials = list(load_trials("./my_dataset"))  # every sample of a sampling job

:func:`load_trials` reads

* a sample shard ``samples/sample_<i:06d>.npz`` of ``livn systems sample`` (the job's
  ``config.json`` beside ``samples/`` names the system, the model and the encoding; an
  encoding with a ``channel_inputs`` method, such as :class:`livn.encoding.ElectrodePulses`,
  gives back the electrode currents of the sample from its stored ``features``);
* a sweep shard ``responses/<key>.npz`` of ``livn batch`` (``batch_metadata.json`` beside
  ``responses/`` names the system; the shard holds the electrode currents when the batch
  saved intermediates);
* a sampling job directory or a sweep output directory: every shard in it, in index order.

Extracellular potentials (:meth:`Trial.potentials`) are computed from the somatic membrane
currents with the MEA's point-source rule (SPEC §3, :meth:`livn.io.MEA.lfp`), so a trial needs
recorded membrane currents for them: ``env.record_membrane_current()`` before ``env.run``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from livn.errors import ConfigError, SystemFormatError, did_you_mean, positive_ms

__all__ = ["SAMPLE_CONFIG", "SWEEP_METADATA", "UNITS", "Trial", "load_trials", "output_directory",
           "refuse_existing", "selected_paths", "trial_paths"]  # fmt: skip

#: The file beside ``samples/`` that describes a sampling job.
SAMPLE_CONFIG = "config.json"
#: The file beside ``responses/`` that describes a finished sweep.
SWEEP_METADATA = "batch_metadata.json"
#: Which cells an export writes as units: every cell, or those an electrode observes.
UNITS: tuple[str, ...] = ("all", "observed")
#: Recording interval of stored samples when a shard has no traces to tell it, ms.
DEFAULT_RECORD_DT = 0.1

_MISSING_CURRENTS = (
    "{what} has no membrane currents, and the extracellular potentials at the electrodes are "
    "computed from them. Record them: env.record_membrane_current() before env.run(...) (a "
    "sampling job: record='[spikes,membrane_current]' or the default decoding Raw; a sweep: "
    "save_intermediates: true){alternative}."
)


@dataclasses.dataclass
class Trial:
    """One run's recordings and what produced them.

    Attributes:
        system: The :class:`~livn.system.System` that was simulated.
        mea: The :class:`~livn.io.MEA` that recorded (and stimulated) it.
        duration: Length of the run, ms.
        it: ``[S]`` int64 gids of the spikes.
        t: ``[S]`` float64 spike times, ms from the start of the run.
        iv, v: ``[R]`` gids and ``[R, T]`` somatic voltage (mV), or None.
        im, mp: ``[M]`` gids and ``[M, T]`` somatic membrane current (nA), or None.
        record_dt: Interval of the traces, ms (``T = duration / record_dt``).
        seed: Noise seed of the run, or None if unknown.
        stimulus: The :class:`~livn.stimulus.Stimulus` the run received (electrode currents in
            µA for ``space="channels"``, somatic currents in nA for ``"cells"``), or None.
        features: ``[F]`` the encoding's inputs of a sample, or None.
        name: A short name for files (``sample_000042``, ``run``).
        metadata: What else is known: ``kind``, ``index``, ``model``, ``encoding``, …
    """

    system: Any
    mea: Any
    duration: float
    it: np.ndarray
    t: np.ndarray
    iv: np.ndarray | None = None
    v: np.ndarray | None = None
    im: np.ndarray | None = None
    mp: np.ndarray | None = None
    record_dt: float = DEFAULT_RECORD_DT
    seed: int | None = None
    stimulus: Any = None
    features: np.ndarray | None = None
    name: str = "run"
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_run(cls, env: Any, result: Sequence[Any], duration: float, stimulus: Any = None,
                 name: str = "run", seed: int | None = None) -> Trial:  # fmt: skip
        """The trial of ``result = env.run(duration, stimulus)``.

        Args:
            env: The :class:`~livn.env.Env` that ran.
            result: What ``env.run`` returned: ``(it, t, iv, v[, im, mp])``.
            duration: The run's length, ms.
            stimulus: The stimulus given to the run (a :class:`~livn.stimulus.Stimulus`, e.g.
                from ``env.cell_stimulus``), or None.
            name: Name of the trial's files.
            seed: The run's noise seed; default ``env.seed`` (give it for a trial of
                ``env.run_batch(..., seeds=...)``).
        """
        from livn import limits
        from livn.stimulus import Stimulus

        duration = positive_ms(duration, "duration")
        items = tuple(result)
        if len(items) not in (4, 6):
            raise ConfigError(
                f"result must be what env.run returns, (it, t, iv, v) or (it, t, iv, v, im, mp); "
                f"got a sequence of {len(items)} items."
            )
        it, t, iv, v, im, mp = (*items, None, None)[:6]
        if it is None or t is None:
            raise ConfigError(
                "the run recorded no spikes; call env.record_spikes() before env.run(...)."
            )
        record_dt = float(getattr(env.model, "record_dt", DEFAULT_RECORD_DT))
        return cls(
            system=env.system, mea=env.io, duration=duration,
            it=np.asarray(it, np.int64).reshape(-1), t=np.asarray(t, np.float64).reshape(-1),
            iv=_opt(iv, np.int64), v=_opt(v, np.float32), im=_opt(im, np.int64),
            mp=_opt(mp, np.float32), record_dt=record_dt,
            seed=int(env.seed) if seed is None else limits.seed(seed, "seed"),
            stimulus=Stimulus.from_arg(stimulus), name=name,
            metadata={"kind": "run", "model": type(env.model).__name__,
                      "backend": str(env.backend)},
        )  # fmt: skip

    @classmethod
    def from_shard(cls, path: str | os.PathLike, voltage: bool = True) -> Trial:
        """The trial stored in a sample shard or a sweep shard (see the module docstring).

        Args:
            path: The ``.npz`` shard.
            voltage: Read the voltage traces too (``False`` skips them: faster when they are
                not needed).
        """
        path = Path(path)
        meta, arrays = _read_shard(path, () if voltage else ("v", "iv", "voltage",
                                                                 "voltage_ids"))  # fmt: skip
        kind = meta.get("kind")
        if kind == "sample":
            return _sample_trial(path, meta, arrays)
        if kind == "stimulus":
            return _sweep_trial(path, meta, arrays)
        raise ConfigError(
            f"{path}: a shard of kind {kind!r}; livn reads sample shards (samples/sample_*.npz "
            "of `livn systems sample`) and sweep shards (responses/*.npz of `livn batch`)."
        )

    # ------------------------------------------------------------------ derived
    @property
    def num_samples(self) -> int:
        """Number of trace samples ``T`` (``round(duration / record_dt)``)."""
        for traces in (self.mp, self.v):
            if traces is not None:
                return int(traces.shape[1])
        return round(self.duration / self.record_dt)

    @property
    def has_currents(self) -> bool:
        """True if membrane currents were recorded (so :meth:`potentials` works)."""
        return self.im is not None and self.mp is not None

    def require_currents(self, alternative: str = "") -> None:
        """Raise a ConfigError asking for ``record_membrane_current()`` if there are none."""
        if not self.has_currents:
            what = f"{self.name} ({self.metadata['source']})" if "source" in self.metadata else (
                f"trial {self.name!r}")  # fmt: skip
            raise ConfigError(_MISSING_CURRENTS.format(what=what, alternative=alternative))

    def potentials(self) -> np.ndarray:
        """``[n_channels, T]`` float32 extracellular potential at each electrode, µV.

        The MEA's point-source rule over the somatic membrane currents of the cells within its
        ``output_radius`` (:meth:`livn.io.MEA.lfp`).
        """
        self.require_currents()
        gids, _, distance = self.nearest_electrodes()
        near = np.isin(self.im, gids[distance <= self.mea.output_radius])  # the only sources
        return np.asarray(self.mea.lfp(self.system.neuron_coordinates, self.im[near],
                                       self.mp[near]), dtype=np.float32)  # fmt: skip

    def populations(self) -> list[tuple[str, int, int]]:
        """``[(population, first gid, count)]`` in gid order."""
        ranges = self.system.population_ranges
        return sorted(((p, int(s), int(c)) for p, (s, c) in ranges.items()), key=lambda x: x[1])

    def population_of(self, gids: np.ndarray) -> np.ndarray:
        """``[n]`` population name of each gid."""
        gids = np.asarray(gids, np.int64)
        out = np.empty(len(gids), dtype=object)
        for pop, start, count in self.populations():
            out[(gids >= start) & (gids < start + count)] = pop
        return out

    def nearest_electrodes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every cell: ``(gids [n], electrode row [n], distance [n] µm)`` of the nearest
        electrode (rows index :attr:`mea`'s ``electrode_coordinates``)."""
        nc = np.asarray(self.system.neuron_coordinates, np.float64)
        d = self.mea.distances(nc[:, 1:4])
        row = np.argmin(d, axis=1)
        return nc[:, 0].astype(np.int64), row, d[np.arange(len(row)), row]

    def cells(self, units: str = "all") -> dict[str, np.ndarray]:
        """The cells exported as units, in gid order: ``gid``, ``nearest`` (electrode row),
        ``distance`` to it (µm), ``observed`` (within the MEA's ``output_radius``), ``x``,
        ``y``, ``z`` (µm) and ``population``.

        Args:
            units: ``"all"`` cells, or only the ``"observed"`` ones (:data:`UNITS`).
        """
        if units not in UNITS:
            raise ConfigError(
                f"unknown units {units!r}. Valid: {', '.join(UNITS)} (every cell, or only the "
                f"cells within an electrode's output_radius).{did_you_mean(str(units), UNITS)}"
            )
        gids, nearest, distance = self.nearest_electrodes()
        coords = np.asarray(self.system.neuron_coordinates, np.float64)
        observed = distance <= self.mea.output_radius
        order = np.argsort(gids, kind="stable")
        if units == "observed":
            order = order[observed[order]]
        out = {"gid": gids[order], "nearest": nearest[order], "distance": distance[order],
               "observed": observed[order], "x": coords[order, 1], "y": coords[order, 2],
               "z": coords[order, 3]}  # fmt: skip
        out["population"] = self.population_of(out["gid"]).astype(str)
        return out

    def describe(self) -> str:
        """One line: name, system, seed, duration, spikes and what was recorded."""
        rec = [n for n, a in (("voltage", self.v), ("membrane current", self.mp)) if a is not None]
        stim = "" if self.stimulus is None else f", {self.stimulus.space} stimulus"
        return (f"{self.name}: {self.system.name} ({self.system.num_neurons:,} cells), seed "
                f"{self.seed}, {self.duration:g} ms, {len(self.t):,} spikes"
                f"{', ' + ' and '.join(rec) if rec else ''}{stim}")  # fmt: skip


def _opt(value: Any, dtype: Any) -> np.ndarray | None:
    return None if value is None else np.asarray(value, dtype)


# ---------------------------------------------------------------------- reading shards
def _read_shard(path: Path, skip: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such file.")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in z.files if k != "meta" and k not in skip}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise SystemFormatError(
            f"{path}: not a livn shard (a .npz with a 'meta' entry) ({type(e).__name__}: {e})."
        ) from None
    if not isinstance(meta, dict):
        raise SystemFormatError(f"{path}: its 'meta' entry is not a JSON object.")
    return meta, arrays


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing; {what}") from None
    except (OSError, ValueError) as e:
        raise SystemFormatError(f"{path}: not valid JSON ({e}).") from None
    if not isinstance(data, dict):
        raise SystemFormatError(f"{path}: expected a JSON object.")
    return data


def _system_and_mea(name: Any, path: Path):
    from livn.io import MEA
    from livn.system import make

    if not isinstance(name, str) or not name:
        raise SystemFormatError(f"{path}: names no system (got {name!r}).")
    system = make(name)
    mea = MEA.from_directory(system.uri) if system.has_mea else MEA()
    return system, mea


def _record_dt(arrays: dict[str, np.ndarray], keys: tuple[str, str], duration: float) -> float:
    for key in keys:
        a = arrays.get(key)
        if a is not None and a.ndim == 2 and a.shape[1] > 0:
            return duration / a.shape[1]
    return DEFAULT_RECORD_DT


def _sample_trial(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Trial:
    job = path.parent.parent
    config = _read_json(job / SAMPLE_CONFIG, "a sample shard is read with its job's "
                        "config.json (keep samples/ inside the job directory).")  # fmt: skip
    if "it" not in arrays or "t" not in arrays:
        raise ConfigError(
            f"{path} has no spike arrays ('it', 't'): its decoding "
            f"({meta.get('decoding', config.get('decoding'))!r}) did not return raw spikes. "
            "Sample with decoding=Raw (the default) to export or plot samples."
        )
    system, mea = _system_and_mea(config.get("system"), job / SAMPLE_CONFIG)
    duration = float(meta.get("t_end", config.get("duration", 0.0)))
    features = arrays.get("features")
    features = None if features is None or features.size == 0 else features.astype(np.float32)
    encoding = meta.get("encoding", config.get("encoding"))
    stimulus = _sample_stimulus(encoding, config.get("encoding_kwargs") or {}, mea, duration,
                                features)  # fmt: skip
    return Trial(
        system=system, mea=mea, duration=duration,
        it=arrays["it"].astype(np.int64).reshape(-1), t=arrays["t"].astype(np.float64).reshape(-1),
        iv=arrays.get("iv"), v=arrays.get("v"), im=arrays.get("im"), mp=arrays.get("mp"),
        record_dt=_record_dt(arrays, ("mp", "v"), duration), seed=meta.get("seed"),
        stimulus=stimulus, features=features, name=path.stem,
        metadata={"kind": "sample", "index": meta.get("index"), "source": str(path),
                  "model": config.get("model") or "RCSD", "encoding": encoding,
                  "encoding_kwargs": config.get("encoding_kwargs") or {},
                  "decoding": meta.get("decoding", config.get("decoding")),
                  "noise": config.get("noise", True)},
    )  # fmt: skip


def _sample_stimulus(encoding: Any, kwargs: dict[str, Any], mea: Any, duration: float,
                     features: np.ndarray | None):  # fmt: skip
    """The electrode currents of a sample, for encodings that compute them from the MEA alone."""
    from livn.stimulus import Stimulus

    if not isinstance(encoding, str) or "." not in encoding:
        return None
    module, _, name = encoding.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    make = getattr(cls, "channel_inputs", None)
    if make is None:
        return None
    enc = cls(**kwargs)
    array = enc.channel_inputs(mea, duration, features)
    return Stimulus(array, dt=float(enc.dt), space="channels")


def _sweep_trial(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Trial:
    from livn.stimulus import Stimulus

    out = path.parent.parent
    metadata = _read_json(out / SWEEP_METADATA, "it is written when a batch finishes; finish "
                          "it first (livn batch CONFIG --resume <output_dir>/checkpoint.json).")
    base = (metadata.get("config") or {}).get("base_config") or {}
    system, mea = _system_and_mea(base.get("system"), out / SWEEP_METADATA)
    duration = float(metadata.get("duration_ms", base.get("duration", 0.0)))
    stimulus = None
    if "stimulus" in arrays:
        dt = float((meta.get("params") or {}).get("dt", duration / len(arrays["stimulus"])))
        stimulus = Stimulus(arrays["stimulus"].astype(np.float32), dt=dt, space="channels")
    return Trial(
        system=system, mea=mea, duration=duration,
        it=arrays["spike_ids"].astype(np.int64), t=arrays["spike_times"].astype(np.float64),
        iv=arrays.get("voltage_ids"), v=arrays.get("voltage"), im=arrays.get("current_ids"),
        mp=arrays.get("membrane_current"),
        record_dt=_record_dt(arrays, ("membrane_current", "voltage"), duration),
        seed=meta.get("seed"), stimulus=stimulus, name=path.stem,
        metadata={"kind": "stimulus", "index": meta.get("index"), "source": str(path),
                  "stimulus_key": meta.get("stimulus_key"), "type": meta.get("type"),
                  "params": meta.get("params"), "model": base.get("model") or "RCSD",
                  "noise": base.get("noise", True)},
    )  # fmt: skip


# ---------------------------------------------------------------------- sources
def trial_paths(source: str | os.PathLike) -> list[Path]:
    """The shards a source holds, in index order: a shard file, a sampling job directory
    (``samples/*.npz``) or a sweep output directory (``responses/*.npz``).

    Raises:
        ConfigError: For a path that does not exist, or a directory holding no shards.
    """
    path = Path(source)
    if path.is_file():
        if path.suffix != ".npz":
            raise ConfigError(
                f"{path}: not a shard; give a sample or sweep shard (.npz), a sampling job "
                "directory or a sweep output directory."
            )
        return [path]
    if not path.is_dir():
        raise ConfigError(
            f"{path}: no such file or directory; give a sample or sweep shard (.npz), a "
            "sampling job directory or a sweep output directory."
        )
    for sub in ("samples", "responses"):
        d = path / sub
        if d.is_dir():
            shards = [p for p in d.iterdir() if p.suffix == ".npz" and not p.name.startswith(".")]
            if shards:
                return sorted(shards, key=_index_order)
    raise ConfigError(
        f"{path}: holds no shards (samples/*.npz of a sampling job, responses/*.npz of a "
        "sweep); launch the job first, or give the shard file."
    )



def _index_order(path: Path) -> tuple[int, str]:
    """``sample_000042`` and ``stim_0042`` by their number (``stim_10000`` after ``stim_9999``)."""
    digits = re.search(r"(\d+)$", path.stem)
    return (int(digits.group(1)) if digits else -1, path.name)


def load_trials(source: str | os.PathLike, limit: int | None = None) -> Iterator[Trial]:
    """The trials of a source (see :func:`trial_paths`), read one at a time.

    Args:
        source: A shard, a sampling job directory or a sweep output directory.
        limit: At most this many trials (the first in index order); default all.
    """
    for path in selected_paths(source, limit):
        yield Trial.from_shard(path)


def selected_paths(source: str | os.PathLike, limit: int | None = None) -> list[Path]:
    """:func:`trial_paths`, the first ``limit`` of them (default all)."""
    from livn import limits

    paths = trial_paths(source)
    if limit is not None:
        paths = paths[: limits.integer(limit, "limit", 1)]
    return paths


def refuse_existing(targets: Sequence[Path], overwrite: bool) -> None:
    """Raise a ConfigError naming the first of ``targets`` that exists, unless ``overwrite``
    (exports check every target before writing any)."""
    taken = [t for t in targets if t.exists()]
    if taken and not overwrite:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        raise ConfigError(
            f"{taken[0]}{more} exists; pass --overwrite (overwrite=True) to replace, or choose "
            "another --output directory."
        )


def output_directory(path: str | os.PathLike, is_own: Any, what: str) -> Path:
    """The resolved directory an export or a plot writes into, or a ConfigError.

    The rules of job outputs apply (:func:`livn.workflows.outputs.check_location`: inside
    ``LIVN_OUTPUT_ROOT`` if set, not inside livn's package, cache or a system directory,
    creatable), and an existing directory may hold only what ``is_own(entry)`` accepts (the
    files such exports write) and livn's temporary files: livn never writes beside files it
    did not make.

    Args:
        path: The requested directory.
        is_own: ``is_own(entry: Path) -> bool`` for entries an earlier export of this kind wrote.
        what: What is written there, for the message (``NWB files``).
    """
    # the job-output policy lives with the workflows; imported here, where it is needed
    from livn.workflows.outputs import check_location

    out = check_location(path)
    if out.is_dir():
        foreign = sorted(e.name for e in out.iterdir()
                         if not (is_own(e) or (e.name.startswith(".") and e.name.endswith(".tmp"))))
        if foreign:
            more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
            raise ConfigError(
                f"output directory {out} already holds files that are not {what}: "
                f"{', '.join(foreign[:5])}{more}. livn does not write beside them; choose a new "
                "or empty directory (--output)."
            )
    return out

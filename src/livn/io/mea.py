"""Multi-electrode array (SPEC §3): electrode layouts, recording, stimulation field, LFP.

Rules, exactly as implemented here:

* **Layout.** Electrodes are rows ``[id, x, y, z]`` (µm). The default array is a 4 × 4 grid with
  pitch 1000 µm, offset 500 µm from the origin, at z = 175 µm. A grid *fitted* to an area uses,
  per axis, the largest power of two ``n`` with ``n · pitch ≤ extent`` (at least 1) and centres
  the grid in the area. Ids are row-major: ``id = iy · nx + ix`` (x varies fastest).
* **Distance** between an electrode and a point is the 3D euclidean distance.
* **Recording.** A neuron is observed by every electrode within ``output_radius`` (≤, µm) of its
  soma; a spike of an observed neuron appears on each such channel. Neurons out of reach of all
  electrodes are not observed.
* **Stimulation field.** A point source in a medium of resistivity ρ = 3.5 Ω·m with effective
  height h = 52.2 µm: ``V = 1000 · ρ · I / (4π · sqrt(d² + h²))`` mV for I in µA and d in µm
  (5.336 mV/µA at d = 0). Fields of several electrodes add linearly.
* **LFP.** From membrane currents I (nA) of cells within ``output_radius`` of an electrode:
  ``V = Σ I / (4π σ r)`` with σ = 0.3 S/m and r = (d + 5 µm) in mm, giving µV.
* **Input space.** ``Box(0, 1, (n_channels,))``; :meth:`MEA.scale_inputs` maps it linearly to
  ``[0, max_input_current]`` µA.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from livn import _fs
from livn.errors import ConfigError, SystemFormatError, did_you_mean, require
from livn.system.graph import MEA_FILE

RESISTIVITY = 3.5  # Ω·m, medium resistivity for the stimulation field
EFFECTIVE_HEIGHT = 52.2  # µm, effective electrode-to-cell height
CONDUCTIVITY = 0.3  # S/m, extracellular conductivity for the LFP
LFP_OFFSET = 5.0  # µm added to the distance for the LFP
#: Most electrodes an MEA may have (high-density arrays have a few thousand).
MAX_CHANNELS = 65_536


def grid_coordinates(
    nx: int, ny: int, pitch: float, offset: tuple[float, float], z: float
) -> np.ndarray:
    """``[nx·ny, 4]`` electrode rows of a regular grid, ids row-major (x fastest)."""
    from livn import limits

    nx = limits.integer(nx, "MEA grid nx", 1, MAX_CHANNELS)
    ny = limits.integer(ny, "MEA grid ny", 1, MAX_CHANNELS)
    if nx * ny > MAX_CHANNELS:
        raise ConfigError(
            f"MEA grid {nx} × {ny} has {nx * ny:,} electrodes, above the limit of {MAX_CHANNELS:,}."
        )
    pitch = limits.number(pitch, "MEA pitch", 0.0, exclusive_minimum=True, unit="µm")
    z = limits.number(z, "MEA z", unit="µm")
    offset = tuple(limits.number(o, "MEA offset", unit="µm") for o in offset)
    iy, ix = np.divmod(np.arange(nx * ny), nx)
    return np.column_stack(
        [np.arange(nx * ny), offset[0] + ix * pitch, offset[1] + iy * pitch, np.full(nx * ny, z)]
    ).astype(np.float64)


def fitted_grid_shape(extent: float, pitch: float) -> int:
    """Largest power of two ``n`` with ``n · pitch <= extent`` (at least 1)."""
    n = 1
    while 2 * n * pitch <= extent + 1e-9 and 2 * n <= MAX_CHANNELS:
        n *= 2
    return n


def electrode_array_coordinates(
    pitch: float = 1000.0,
    xs: int = 4,
    ys: int = 4,
    xoffset: float = 500.0,
    yoffset: float = 500.0,
    z: float = 175.0,
) -> np.ndarray:
    """``[xs·ys, 4]`` rows ``[id, x, y, z]`` (µm) of an ``xs × ys`` grid (livn 2.0.0's name;
    :func:`grid_coordinates`): electrode ``(ix, iy)`` at ``(xoffset + ix·pitch, yoffset +
    iy·pitch, z)``, ids row-major (x fastest). The defaults are the default MEA's grid."""
    return grid_coordinates(xs, ys, pitch, (xoffset, yoffset), z)


def upstream_grid_shape(extent: float, pitch: float) -> int:
    """livn 2.0.0's electrodes per axis: the largest power of two ``n <= extent // pitch + 1``
    (at least 1), i.e. ``n`` electrodes ``(n − 1)·pitch`` apart fit in ``extent``.

    :meth:`MEA.fitted` differs: it asks ``n · pitch <= extent`` (e.g. 600 µm at pitch 200:
    4 here, 2 there).
    """
    ratio = extent / pitch
    m = MAX_CHANNELS if ratio >= MAX_CHANNELS else max(1, math.floor(ratio + 1e-9) + 1)
    return 1 << (m.bit_length() - 1)


def electrode_array_coordinates_for_area(pitch: float, area: Any, z: float = 0.0) -> np.ndarray:
    """``[nx·ny, 4]`` rows ``[id, x, y, z]`` (µm) of a grid fitted to ``area`` as livn 2.0.0
    sizes it: per axis ``n`` = :func:`upstream_grid_shape` (largest power of two ``<= extent
    // pitch + 1``), centred in the area; ids row-major (x fastest).

    Args:
        pitch: Electrode spacing, µm (> 0).
        area: ``[[x0, y0], [x1, y1]]`` (µm), ``x1 >= x0`` and ``y1 >= y0``.
        z: Height of the electrodes, µm.

    Raises:
        ConfigError: A bad pitch, an area that is not two corners, or a grid above
            :data:`MAX_CHANNELS` electrodes.
    """
    from livn import limits

    pitch = limits.number(pitch, "pitch", 0.0, exclusive_minimum=True, unit="µm")
    try:
        corners = np.asarray(area, dtype=np.float64)
    except (TypeError, ValueError):
        corners = None
    if corners is None or corners.shape != (2, 2) or not np.all(np.isfinite(corners)):
        raise ConfigError(
            f"area must be two corners [[x0, y0], [x1, y1]] (finite, µm); got {area!r}."
        )
    extent = corners[1] - corners[0]
    if np.any(extent < 0) or not np.all(np.isfinite(extent)):
        raise ConfigError(f"area {corners.tolist()} must have x1 >= x0 and y1 >= y0 (µm).")
    n = [upstream_grid_shape(float(e), pitch) for e in extent]
    offset = [float(lo + (e - (k - 1) * pitch) / 2) for lo, e, k in zip(corners[0], extent, n,
                                                                       strict=True)]  # fmt: skip
    return grid_coordinates(n[0], n[1], pitch, (offset[0], offset[1]), z)


class MEA:
    """A multi-electrode array that records spikes and potentials and stimulates cells.

    Args:
        electrode_coordinates: ``[n_channels, 4]`` rows ``[id, x, y, z]`` in µm; default: the
            4 × 4 grid of SPEC §3 (pitch 1000 µm, offset 500 µm, z 175 µm).
        input_radius: Reach of an electrode for stimulation target selection, µm.
        output_radius: Reach of an electrode for recording, µm.
        max_input_current: Current (µA) that an input of 1 in :attr:`input_space` stands for.
    """

    def __init__(
        self,
        electrode_coordinates: np.ndarray | None = None,
        input_radius: float = 250.0,
        output_radius: float = 250.0,
        max_input_current: float = 1.0,
    ) -> None:
        if electrode_coordinates is None:
            electrode_coordinates = grid_coordinates(4, 4, 1000.0, (500.0, 500.0), 175.0)
        from livn import limits

        try:
            coords = np.asarray(electrode_coordinates, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ConfigError(
                f"electrode_coordinates must be numeric rows [id, x, y, z] (µm); got {e}."
            ) from None
        if coords.ndim != 2 or coords.shape[1] != 4 or len(coords) == 0:
            raise ConfigError(
                f"electrode_coordinates must have shape [n_channels, 4] with rows [id, x, y, z]; "
                f"got shape {coords.shape}."
            )
        if len(coords) > MAX_CHANNELS:
            raise ConfigError(
                f"an MEA has at most {MAX_CHANNELS:,} electrodes; got {len(coords):,}."
            )
        limits.finite_array(coords, "electrode_coordinates")
        ids = coords[:, 0]
        if len(np.unique(ids)) != len(ids) or np.any(ids != np.round(ids)):
            raise ConfigError("electrode ids (column 0) must be unique integers.")
        for name, value in (
            ("input_radius", input_radius),
            ("output_radius", output_radius),
            ("max_input_current", max_input_current),
        ):
            limits.number(value, name, 0.0, exclusive_minimum=True,
                          unit="µA" if name == "max_input_current" else "µm")  # fmt: skip
        self.electrode_coordinates = coords
        self.input_radius = float(input_radius)
        self.output_radius = float(output_radius)
        self.max_input_current = float(max_input_current)

    # ------------------------------------------------------------------ construction
    @classmethod
    def grid(
        cls,
        nx: int = 4,
        ny: int = 4,
        pitch: float = 1000.0,
        offset: tuple[float, float] = (500.0, 500.0),
        z: float = 175.0,
        **kwargs: Any,
    ) -> MEA:
        """A regular ``nx × ny`` grid (µm)."""
        return cls(grid_coordinates(nx, ny, pitch, offset, z), **kwargs)

    @classmethod
    def fitted(
        cls,
        lower: tuple[float, float],
        upper: tuple[float, float],
        pitch: float = 1000.0,
        z: float = 0.0,
        radius: float | None = None,
        **kwargs: Any,
    ) -> MEA:
        """A grid fitted to the area ``[lower, upper]`` (x, y in µm), centred.

        Per axis the grid has the largest power of two of electrodes that fits at this pitch.
        ``radius`` (default ``pitch / 4``) sets both input and output radius unless given.
        """
        from livn import limits

        pitch = limits.number(pitch, "pitch", 0.0, exclusive_minimum=True, unit="µm")
        z = limits.number(z, "z", unit="µm")
        if radius is not None:
            radius = limits.number(radius, "radius", 0.0, exclusive_minimum=True, unit="µm")
        corners = []
        for name, corner in (("lower", lower), ("upper", upper)):
            if (
                isinstance(corner, str | bytes)
                or not hasattr(corner, "__len__")
                or len(corner) != 2
            ):
                raise ConfigError(
                    f"MEA.fitted {name} must be two numbers (x, y in µm); got {corner!r}."
                )
            corners.append([limits.number(c, f"MEA.fitted {name}", unit="µm") for c in corner])
        lower, upper = corners
        extent = np.asarray(upper, dtype=float) - np.asarray(lower, dtype=float)
        if not np.all(np.isfinite(extent)):
            raise ConfigError(f"MEA.fitted area {lower} … {upper} is too large (µm).")
        n = [fitted_grid_shape(e, pitch) for e in extent]
        offset = tuple(
            float(lo + (e - (k - 1) * pitch) / 2) for lo, e, k in zip(lower, extent, n, strict=True)
        )
        r = pitch / 4 if radius is None else radius
        kwargs.setdefault("input_radius", r)
        kwargs.setdefault("output_radius", r)
        return cls(grid_coordinates(n[0], n[1], pitch, offset, z), **kwargs)

    @classmethod
    def from_json(cls, location: str | os.PathLike) -> MEA:
        """Read an ``mea.json`` file (local or fsspec URL)."""
        location = _fs.normalize(location)
        if not _fs.exists(location):
            raise SystemFormatError(
                f"{location}: missing. Create it with `livn systems generate_2d "
                "output_directory=<dir> --mea` or MEA(...).save(<dir>)."
            )
        try:
            data = json.loads(_fs.read_text(location))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SystemFormatError(f"{location}: not valid JSON ({e}).") from e
        if isinstance(data, list):
            data = {"electrode_coordinates": data}
        if not isinstance(data, dict) or "electrode_coordinates" not in data:
            raise SystemFormatError(f"{location}: expected an object with 'electrode_coordinates'.")
        try:
            return cls(
                np.asarray(data["electrode_coordinates"], dtype=np.float64),
                input_radius=data.get("input_radius", 250.0),
                output_radius=data.get("output_radius", 250.0),
                max_input_current=data.get("max_input_current", 1.0),
            )
        except (ConfigError, ValueError, TypeError) as e:
            raise SystemFormatError(f"{location}: invalid electrode layout ({e}).") from e

    @classmethod
    def from_directory(cls, directory: str | os.PathLike) -> MEA:
        """Read ``mea.json`` from a system directory."""
        return cls.from_json(_fs.join(_fs.normalize(directory), MEA_FILE))

    def to_dict(self, upstream: bool = False) -> dict[str, Any]:
        """The ``mea.json`` content.

        ``max_input_current`` is written only when it differs from 1 µA: livn 2.0.0 reads
        ``mea.json`` as ``MEA`` keyword arguments and silently falls back to an electrode-less
        IO on any other key, so a default array stays readable by both.

        Args:
            upstream: Leave ``max_input_current`` out in any case (what 2.0.0 reads).
        """
        rows = [
            [int(r[0]), float(r[1]), float(r[2]), float(r[3])] for r in self.electrode_coordinates
        ]
        out: dict[str, Any] = {
            "electrode_coordinates": rows,
            "input_radius": self.input_radius,
            "output_radius": self.output_radius,
        }
        if self.max_input_current != 1.0 and not upstream:
            out["max_input_current"] = self.max_input_current
        return out

    def save(self, directory: str | os.PathLike, upstream: bool = False) -> str:
        """Write ``mea.json`` into ``directory`` atomically; returns the file path.

        Args:
            upstream: Write only what livn 2.0.0 reads (see :meth:`to_dict`).
        """
        path = os.path.join(os.fspath(directory), MEA_FILE)
        _fs.write_json(path, self.to_dict(upstream=upstream))
        return path

    # ------------------------------------------------------------------ geometry
    @property
    def num_channels(self) -> int:
        """Number of electrodes."""
        return len(self.electrode_coordinates)

    @property
    def channel_ids(self) -> np.ndarray:
        """``[n_channels]`` int electrode ids."""
        return self.electrode_coordinates[:, 0].astype(np.int64)

    def distances(self, points: np.ndarray) -> np.ndarray:
        """``[n_points, n_channels]`` euclidean distance (µm) from points ``[n, 3]``."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 3:
            raise ConfigError(f"points must have shape [n, 3] (x, y, z in µm); got {p.shape}.")
        diff = p[:, None, :] - self.electrode_coordinates[None, :, 1:]
        return np.sqrt(np.sum(diff * diff, axis=-1))

    def _channel_members(self, neuron_coordinates: np.ndarray, radius: float):
        nc = np.asarray(neuron_coordinates, dtype=np.float64)
        if nc.ndim != 2 or nc.shape[1] != 4:
            raise ConfigError(
                f"neuron_coordinates must have shape [n, 4] with rows [gid, x, y, z]; got {nc.shape}."
            )
        within = self.distances(nc[:, 1:]) <= radius  # [n, C]
        return nc[:, 0].astype(np.int64), within

    def observed_neurons(self, neuron_coordinates: np.ndarray) -> dict[int, np.ndarray]:
        """``{channel: gids}`` of the neurons within ``output_radius`` of each electrode."""
        gids, within = self._channel_members(neuron_coordinates, self.output_radius)
        return {int(c): gids[within[:, k]] for k, c in enumerate(self.channel_ids)}

    def input_neurons(self, neuron_coordinates: np.ndarray) -> dict[int, np.ndarray]:
        """``{channel: gids}`` of the neurons within ``input_radius`` of each electrode."""
        gids, within = self._channel_members(neuron_coordinates, self.input_radius)
        return {int(c): gids[within[:, k]] for k, c in enumerate(self.channel_ids)}

    # ------------------------------------------------------------------ recording
    def channel_recording(
        self,
        neuron_coordinates: np.ndarray,
        ids: np.ndarray,
        times: np.ndarray,
        output_radius: float | None = None,
    ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Spikes as the electrodes see them.

        Args:
            neuron_coordinates: ``[n, 4]`` rows ``[gid, x, y, z]`` (e.g. ``system.neuron_coordinates``).
            ids: ``[S]`` gids of the spikes.
            times: ``[S]`` spike times (ms).
            output_radius: Overrides :attr:`output_radius` (µm).

        Returns:
            ``(cit, ct)``: per channel id, the gids and times of the spikes it records, in input
            order. Every channel is present (empty arrays if it saw nothing).
        """
        ids = np.asarray(ids).astype(np.int64).reshape(-1)
        times = np.asarray(times).reshape(-1)
        if len(ids) != len(times):
            raise ConfigError(
                f"ids and times must have equal length; got {len(ids)} and {len(times)}."
            )
        radius = self.output_radius if output_radius is None else float(output_radius)
        gids, within = self._channel_members(neuron_coordinates, radius)
        order = np.argsort(gids)
        pos = np.searchsorted(gids[order], ids)
        pos = np.clip(pos, 0, max(len(gids) - 1, 0))
        known = (
            (len(gids) > 0) & (gids[order][pos] == ids) if len(gids) else np.zeros(len(ids), bool)
        )
        if not np.all(known):
            missing = np.unique(ids[~known])[:5].tolist()
            raise ConfigError(
                f"spike ids {missing} are not in neuron_coordinates; pass the coordinates of the "
                "system that produced the spikes."
            )
        rows = order[pos]
        cit, ct = {}, {}
        for k, c in enumerate(self.channel_ids):
            mask = within[rows, k]
            cit[int(c)] = ids[mask]
            ct[int(c)] = times[mask]
        return cit, ct

    # ------------------------------------------------------------------ stimulation
    def field(self, points: np.ndarray) -> np.ndarray:
        """``[n_points, n_channels]`` extracellular potential (mV) per µA of electrode current."""
        d = self.distances(points)
        return 1000.0 * RESISTIVITY / (4.0 * np.pi * np.sqrt(d * d + EFFECTIVE_HEIGHT**2))

    def potential(self, points: np.ndarray, channel_inputs: np.ndarray) -> np.ndarray:
        """``[T, n_points]`` extracellular potential (mV) for electrode currents ``[T, n_channels]`` (µA)."""
        inputs = np.asarray(channel_inputs, dtype=np.float64)
        if inputs.ndim != 2 or inputs.shape[1] != self.num_channels:
            raise ConfigError(
                f"channel_inputs must have shape [T, {self.num_channels}] (µA); got {inputs.shape}."
            )
        return inputs @ self.field(points).T

    def lfp(
        self, neuron_coordinates: np.ndarray, ids: np.ndarray, membrane_currents: np.ndarray
    ) -> np.ndarray:
        """``[n_channels, T]`` local field potential (µV) from membrane currents.

        Args:
            neuron_coordinates: ``[n, 4]`` rows ``[gid, x, y, z]``.
            ids: ``[m]`` gids of the current sources.
            membrane_currents: ``[m, T]`` net membrane current of each source (nA).
        """
        nc = np.asarray(neuron_coordinates, dtype=np.float64)
        ids = np.asarray(ids).astype(np.int64)
        currents = np.asarray(membrane_currents, dtype=np.float64)
        if currents.ndim != 2 or currents.shape[0] != len(ids):
            raise ConfigError(
                f"membrane_currents must have shape [len(ids)={len(ids)}, T]; got {currents.shape}."
            )
        lookup = {int(g): i for i, g in enumerate(nc[:, 0])}
        try:
            rows = np.array([lookup[int(g)] for g in ids], dtype=np.int64)
        except KeyError as e:
            raise ConfigError(f"gid {e} is not in neuron_coordinates.") from None
        d = self.distances(nc[rows, 1:]) if len(rows) else np.zeros((0, self.num_channels))
        r_mm = (d + LFP_OFFSET) / 1000.0
        weights = np.where(d <= self.output_radius, 1.0 / (4.0 * np.pi * CONDUCTIVITY * r_mm), 0.0)
        return weights.T @ currents

    # ------------------------------------------------------------------ learning interface
    @property
    def input_space(self):
        """``gymnasium.spaces.Box(0, 1, (n_channels,), float32)``; needs ``livn[gym]``."""
        spaces = require("gymnasium.spaces", "gym")
        return spaces.Box(low=0.0, high=1.0, shape=(self.num_channels,), dtype=np.float32)

    def scale_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """Map inputs in ``[0, 1]`` (from :attr:`input_space`) to electrode currents in µA."""
        return np.asarray(inputs) * self.max_input_current

    def set_params(self, params: dict[str, Any]) -> MEA:
        """Change parameters by name, all or nothing (livn 2.0.0's ``MEA.set_params``).

        Keys: ``input_radius``, ``output_radius`` (µm), ``max_input_current`` (µA),
        ``electrode_coordinates`` (rows ``[id, x, y, z]``), checked as in the constructor.
        livn 2.0.0's ``volume_conductor-<param>`` keys are refused: the volume conductor here
        is the fixed point-source model of SPEC §3 (module constants).

        Returns:
            ``self``.

        Raises:
            ConfigError: A key that is not one of these (the message lists them) or a bad
                value; nothing changes then.
        """
        valid = ("electrode_coordinates", "input_radius", "output_radius", "max_input_current")
        if not isinstance(params, dict):
            raise ConfigError(
                f"MEA.set_params takes a dict {{name: value}}; got {type(params).__name__}. "
                f"Valid names: {', '.join(valid)}."
            )
        for key in params:
            if isinstance(key, str) and key.startswith("volume_conductor-"):
                raise ConfigError(
                    f"MEA parameter {key!r}: this MEA's volume conductor is the fixed point-source "
                    f"model (resistivity {RESISTIVITY} Ω·m, height {EFFECTIVE_HEIGHT} µm, "
                    f"conductivity {CONDUCTIVITY} S/m) and has no parameters. Valid names: "
                    f"{', '.join(valid)}."
                )
            if key not in valid:
                raise ConfigError(
                    f"unknown MEA parameter {key!r}. Valid: {', '.join(valid)}."
                    f"{did_you_mean(str(key), valid)}"
                )
        current = {name: getattr(self, name) for name in valid}
        updated = type(self)(**{**current, **params})
        self.__dict__.update({name: getattr(updated, name) for name in valid})
        return self

    def describe(self) -> str:
        """One line: channel count, extent and radii."""
        c = self.electrode_coordinates
        return (
            f"{self.num_channels} electrodes, x [{c[:, 1].min():.0f}, {c[:, 1].max():.0f}] "
            f"y [{c[:, 2].min():.0f}, {c[:, 2].max():.0f}] z {c[:, 3].min():.0f}..{c[:, 3].max():.0f} µm, "
            f"input/output radius {self.input_radius:g}/{self.output_radius:g} µm"
        )

    def __repr__(self) -> str:
        return f"MEA({self.describe()})"

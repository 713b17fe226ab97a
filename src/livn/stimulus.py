"""``Stimulus``: a time-discretised input to the cells of a system (seed 004).

A stimulus is an array ``[T, n]`` of values held constant for ``dt`` ms each. Two kinds reach
the engine:

* ``space="cells"`` (the default): somatic current injection, nA, one column per cell. Columns
  are the cells named by ``gids``; without ``gids`` they are the first ``n`` cells in gid order
  (all cells when ``n`` equals the cell count; seed 004's ``Stimulus(np.random.randn(100, 10))``
  on a larger system drives gids 0–9).
* ``space="channels"``: MEA electrode currents, µA, one column per electrode (see
  ``Env.cell_stimulus``; the field acts on every compartment, SPEC §3).

Arrays may be NumPy arrays or JAX arrays (so gradients can flow through them).

livn 2.0.0 compatibility (``input_mode=``, ``units=``, ``sections=``, the ``from_*``
constructors, ``to_array``, ``align_gids``, ``resample``, ``len``, policies): a bare array
stays a current injection (seed 004 wins over 2.0.0's extracellular default). The input modes
map onto the engine as follows: ``current`` (nA) is ``space="cells"``; ``current_density``
(mA/cm²) becomes nA through each cell's somatic membrane area (:meth:`Stimulus.to_current`);
``extracellular``, ``conductance`` and ``irradiance`` have no counterpart in this engine and
are refused with the alternative (electrode currents, ``space="channels"``).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from livn import limits
from livn.errors import ConfigError, did_you_mean, positive_ms

#: livn 2.0.0 input modes (``Stimulus(input_mode=...)``); see :data:`SUPPORTED_MODES`.
INPUT_MODES: tuple[str, ...] = ("current", "current_density", "conductance", "extracellular",
                                "irradiance")  # fmt: skip

#: The input modes this engine runs (somatic current injection).
SUPPORTED_MODES: tuple[str, ...] = ("current", "current_density")

#: Canonical unit of each input mode (livn 2.0.0); the only unit each mode accepts here
#: (irradiance also ``"photon_flux"``). Electrode currents (``space="channels"``) are ``"uA"``.
CANONICAL_UNITS: dict[str, str] = {"conductance": "uS", "current": "nA",
                                   "current_density": "mA/cm2", "extracellular": "mV",
                                   "irradiance": "mW/mm2"}  # fmt: skip
_UNITS = {**{m: (u,) for m, u in CANONICAL_UNITS.items()}, "irradiance": ("mW/mm2", "photon_flux"),
          "electrode": ("uA", "µA")}  # fmt: skip

_UNSUPPORTED = {
    "extracellular": "the engine drives cells with extracellular fields only from MEA electrode "
    "currents (the activating function over each cell's compartments, SPEC §3); a potential per "
    "cell section has no counterpart. Give electrode currents in µA instead: "
    "env.cell_stimulus(array[T, n_channels]) or Stimulus(array, space='channels'), or a "
    "livn.policy pulse policy",
    "conductance": "the engine has no injected-conductance input; use somatic current (nA, "
    "input_mode='current') or electrode currents (space='channels')",
    "irradiance": "the models here have no light-gated channels (optogenetics); use somatic "
    "current (nA, input_mode='current') or electrode currents (space='channels')",
}


class Stimulus:
    """Time-discretised input.

    Args:
        array: ``[T, n]`` values (nA for current injection); each row lasts ``dt`` ms.
        dt: Duration of one row, ms (> 0).
        gids: ``[n]`` gids the columns refer to; default: the first ``n`` cells in gid order.
        space: ``"cells"`` (columns are cells, values nA into the soma; the default) or
            ``"channels"`` (columns are MEA electrodes, values µA; see ``Env.cell_stimulus``).
        input_mode: livn 2.0.0 input mode (cells only): ``"current"`` (nA, the default) or
            ``"current_density"`` (mA/cm² of somatic membrane); the others of
            :data:`INPUT_MODES` are refused (see the module docstring).
        units: The unit of the values; must be the mode's :data:`CANONICAL_UNITS` entry
            (``"uA"`` for channels). Default: that unit.
        sections: Cell section of every column: ``None`` or ``"soma"`` (current is injected
            into the soma), or a list of ``"soma"`` per column.

    Raises:
        ConfigError: For arrays that are not 2D, non-finite values, a non-positive ``dt``,
            ``gids`` whose length does not match the columns, an unknown or unsupported input
            mode, a unit other than the mode's, or a section other than the soma.
    """

    def __init__(self, array: Any = None, dt: float = 1.0, gids: Any | None = None,
                 space: str | None = None, input_mode: str | None = None,
                 units: str | None = None, sections: Any = None) -> None:  # fmt: skip
        if space is not None and space not in ("cells", "channels"):
            hint = (f" For the livn 2.0.0 input mode pass input_mode={space!r}."
                    if space in INPUT_MODES else "")  # fmt: skip
            raise ConfigError(f"Stimulus space must be 'cells' or 'channels'; got {space!r}.{hint}")
        space = space or "cells"
        mode = self._mode(input_mode, space)
        units = self._units(units, mode)
        if array is None:
            raise ConfigError(
                "Stimulus needs an array [timesteps, columns]; deferred stimuli (livn 2.0.0 "
                "source=/extent=) are not supported: build the array first."
            )
        from_list = not hasattr(array, "ndim")
        if from_list:
            try:
                array = np.asarray(array)  # not yet float32: '0.5' strings must not parse
            except (TypeError, ValueError) as e:
                raise ConfigError(
                    f"Stimulus array must be numeric [timesteps, cells]; got {e}."
                ) from None
        if array.ndim == 1:
            raise ConfigError(
                f"Stimulus array must be 2D [timesteps, cells]; got shape {tuple(array.shape)}. "
                "For a single cell use array[:, None]."
            )
        if array.ndim != 2:
            raise ConfigError(
                f"Stimulus array must be 2D [timesteps, cells]; got shape {tuple(array.shape)}."
            )
        if isinstance(array, np.ndarray) and not np.issubdtype(array.dtype, np.number):
            raise ConfigError(f"Stimulus array must be numeric; got dtype {array.dtype}.")
        kind = str(getattr(array, "dtype", ""))
        if "complex" in kind or "bool" in kind:  # any array library
            raise ConfigError(
                f"Stimulus array must hold real numbers (currents); got dtype {kind}."
            )
        # NumPy, JAX, torch, … (not traced values); the engine computes in float32
        limits.finite_array(array, "Stimulus array", float32=True)
        if from_list:
            array = array.astype(np.float32)
        elif type(array).__module__.split(".")[0] == "torch":
            # JAX reads tensors through NumPy, which refuses one that requires grad; gradients
            # do not flow from JAX back into torch anyway
            array = array.detach().cpu().numpy()
        dt = positive_ms(dt, "Stimulus dt")
        if gids is not None:
            if space == "channels":
                raise ConfigError(
                    "Stimulus gids apply to space='cells' only; the columns of a "
                    "space='channels' stimulus are the MEA's electrodes. Drop gids."
                )
            try:
                raw = np.asarray(gids).reshape(-1)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"Stimulus gids must be integers (cell ids); got {e}.") from None
            if raw.dtype == bool or not np.issubdtype(raw.dtype, np.integer):
                raise ConfigError(
                    f"Stimulus gids must be integers (cell ids); got dtype {raw.dtype}."
                )
            gids = raw.astype(np.int64)
            if len(gids) != array.shape[1]:
                raise ConfigError(
                    f"Stimulus gids has {len(gids)} entries but the array has {array.shape[1]} columns."
                )
            if len(np.unique(gids)) != len(gids) or np.any(gids < 0):
                raise ConfigError("Stimulus gids must be unique non-negative integers.")
        self.array = array
        self.dt = dt
        self.gids = gids
        self.space = space
        self.input_mode = mode
        self.units = units
        self.sections = self._sections(sections, space, int(array.shape[1]))

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _mode(input_mode: Any, space: str) -> str:
        """The input mode (``"electrode"`` for channels), else ConfigError."""
        if space == "channels":
            if input_mode is not None:
                raise ConfigError(
                    f"input_mode={input_mode!r} applies to space='cells'; a space='channels' "
                    "stimulus is MEA electrode currents in µA. Drop input_mode."
                )
            return "electrode"
        if input_mode is None:
            return "current"
        if not isinstance(input_mode, str) or input_mode not in INPUT_MODES:
            valid = ", ".join(repr(m) for m in INPUT_MODES)
            raise ConfigError(
                f"Stimulus input_mode must be one of {valid}; got {input_mode!r}."
                f"{did_you_mean(str(input_mode), INPUT_MODES)}"
            )
        if input_mode not in SUPPORTED_MODES:
            raise ConfigError(
                f"Stimulus input_mode={input_mode!r} is not supported: {_UNSUPPORTED[input_mode]}. "
                f"Supported input modes: {', '.join(repr(m) for m in SUPPORTED_MODES)}."
            )
        return input_mode

    @staticmethod
    def _units(units: Any, mode: str) -> str:
        valid = _UNITS[mode]
        if units is None:
            return valid[0]
        if not isinstance(units, str) or units not in valid:
            what = "electrode currents" if mode == "electrode" else f"input_mode={mode!r}"
            raise ConfigError(
                f"Stimulus units {units!r} do not fit {what}; valid: "
                f"{', '.join(repr(u) for u in valid)}. Convert the values to that unit."
            )
        return "uA" if mode == "electrode" else units

    @staticmethod
    def _sections(sections: Any, space: str, n: int) -> str | None:
        if sections is None:
            return None
        if space == "channels":
            raise ConfigError(
                "Stimulus sections apply to space='cells' only (electrode currents act on "
                "every compartment through the field); drop sections."
            )
        items = [sections] if isinstance(sections, str) else sections
        try:
            items = list(items)
        except TypeError:
            items = [sections]
        bad = [x for x in items if x != "soma"]
        if bad or not items or (not isinstance(sections, str) and len(items) != n):
            if bad:
                why = f"got section {bad[0]!r}"
            elif not items:
                why = "got an empty list"
            else:
                why = f"got {len(items)} sections for {n} columns"
            raise ConfigError(
                f"Stimulus sections: current is injected into the soma only, so sections must "
                f"be None, 'soma' or one 'soma' per column; {why}. For input to other "
                "compartments use electrode currents (space='channels')."
            )
        return "soma"

    # ------------------------------------------------------------------ construction
    @classmethod
    def _build(cls, mode: str, x: Any, dt: float, gids: Any, extra: dict) -> Stimulus:
        unknown = sorted(set(extra) - {"units", "sections"})
        if unknown:
            raise ConfigError(
                f"unsupported Stimulus.from_{mode} arguments: {', '.join(unknown)}. Valid: x, "
                "dt, gids, units, sections."
            )
        return cls(x, dt=dt, gids=gids, input_mode=mode, **extra)

    @classmethod
    def from_current(cls, x: Any, dt: float = 0.1, gids: Any | None = None,
                     **extra: Any) -> Stimulus:  # fmt: skip
        """Somatic current injection ``[T, n]`` nA (livn 2.0.0; note ``dt`` defaults to 0.1 ms)."""
        return cls._build("current", x, dt, gids, extra)

    @classmethod
    def from_current_density(cls, x: Any, dt: float = 0.1, gids: Any | None = None,
                             **extra: Any) -> Stimulus:  # fmt: skip
        """Somatic current density ``[T, n]`` mA/cm² (see :meth:`to_current`)."""
        return cls._build("current_density", x, dt, gids, extra)

    @classmethod
    def from_conductance(cls, x: Any, dt: float = 0.1, gids: Any | None = None,
                         **extra: Any) -> Stimulus:  # fmt: skip
        """Refused: this engine has no injected-conductance input (ConfigError says why)."""
        return cls._build("conductance", x, dt, gids, extra)

    @classmethod
    def from_extracellular(cls, x: Any, dt: float = 0.1, gids: Any | None = None,
                           **extra: Any) -> Stimulus:  # fmt: skip
        """Refused: give electrode currents (``space="channels"``) instead (ConfigError)."""
        return cls._build("extracellular", x, dt, gids, extra)

    @classmethod
    def from_irradiance(cls, x: Any, dt: float = 0.1, gids: Any | None = None,
                        **extra: Any) -> Stimulus:  # fmt: skip
        """Refused: the models have no light-gated channels (ConfigError)."""
        return cls._build("irradiance", x, dt, gids, extra)

    @classmethod
    def from_policy(cls, policy: Any, duration: float | None = None) -> Stimulus:
        """Electrode currents of a :mod:`livn.policy` policy over ``duration`` ms.

        Args:
            policy: An :class:`livn.policy.ElectrodePolicy`.
            duration: ms the stimulus covers (the run's length); default the policy's
                ``extent_ms``.

        Raises:
            ConfigError: If the policy's pulses last longer than ``duration``.
        """
        extent = float(policy.extent_ms)
        if duration is None:
            duration = max(extent, float(policy.dt))
        duration = positive_ms(duration, "duration")
        if extent > duration * (1 + 1e-9):
            raise ConfigError(
                f"the stimulus policy lasts {extent:g} ms (extent_ms) but the run is "
                f"{duration:g} ms; run for at least {extent:g} ms, or split the policy."
            )
        return cls(policy(duration), dt=policy.dt, space="channels")

    @classmethod
    def from_arg(cls, stimulus: Stimulus | Any | None, dt: float = 1.0,
                 duration: float | None = None, env: Any = None) -> Stimulus | None:  # fmt: skip
        """Accept ``None``, a :class:`Stimulus`, a bare ``[T, n]`` array (with ``dt``; nA into
        cells) or a :mod:`livn.policy` policy (electrode currents covering ``duration`` ms).

        With ``env``, a ``current_density`` stimulus is converted to nA (:meth:`to_current`)
        and an electrode stimulus is checked against the MEA's channel count.
        """
        if stimulus is None:
            return None
        if isinstance(stimulus, Stimulus):
            stim = stimulus
        elif _is_policy(stimulus):
            stim = cls.from_policy(stimulus, duration)
        else:
            stim = cls(stimulus, dt=dt)
        if env is not None and stim.input_mode == "current_density":
            stim = stim.to_current(env)
        io = getattr(env, "io", None)
        if stim.space == "channels" and io is not None:
            stim.check_channels(int(io.num_channels))
        return stim

    def to_current(self, env: Any) -> Stimulus:
        """This stimulus as somatic current in nA for ``env`` (an initialised Env).

        ``current_density`` (mA/cm²) is multiplied by each cell's somatic membrane area
        (cm², from the model's compartments): ``I[nA] = J[mA/cm²] · A[cm²] · 10⁶``.

        Raises:
            ConfigError: If the model exposes no somatic area (point-neuron models).
        """
        if self.input_mode != "current_density":
            return self
        area = soma_area_cm2(env)
        gids = self.gids if self.gids is not None else np.arange(self.num_inputs)
        if len(gids) and int(gids.max()) >= len(area):
            raise ConfigError(
                f"Stimulus column for gid {int(gids.max())} is out of range for {len(area)} "
                "cells; pass at most one column per cell, or name the cells with gids=[...]."
            )
        factor = (area[gids] * 1e6).astype(np.float32)
        return Stimulus(self.array * factor[None, :], dt=self.dt, gids=self.gids,
                        sections=self.sections)  # fmt: skip

    # ------------------------------------------------------------------ views
    @property
    def num_steps(self) -> int:
        """Number of rows ``T``."""
        return int(self.array.shape[0])

    @property
    def num_inputs(self) -> int:
        """Number of columns ``n``."""
        return int(self.array.shape[1])

    def __len__(self) -> int:
        """Number of columns ``n`` (livn 2.0.0)."""
        return self.num_inputs

    @property
    def duration(self) -> float:
        """Covered time ``T · dt`` in ms."""
        return self.num_steps * self.dt

    def to_array(self, duration: float, dt: float) -> np.ndarray:
        """Samples every ``dt`` ms: ``[int(duration / dt) + 1, n]`` float32.

        Row ``i`` is the value at ``t = i·dt``, linearly interpolated between this
        stimulus's rows (taken at ``k·self.dt``); past the last row the last value holds.
        """
        duration = limits.number(duration, "to_array duration", 0.0, unit="ms")
        dt = positive_ms(dt, "to_array dt")
        return _interpolate(self, _count(duration / dt, "to_array", lambda r: int(r) + 1), dt)

    @staticmethod
    def resample(s: Stimulus, target_dt: float, duration: float) -> Stimulus:
        """``s`` on a grid of ``target_dt`` ms: ``round(duration / target_dt)`` rows, linearly
        interpolated (as :meth:`to_array`); gids, space and mode kept."""
        target_dt = positive_ms(target_dt, "resample target_dt")
        duration = positive_ms(duration, "resample duration")
        rows = _count(duration / target_dt, "resample", round)
        if rows < 1:
            raise ConfigError(
                f"resample duration {duration:g} ms is shorter than half a row of "
                f"target_dt={target_dt:g} ms; give a longer duration."
            )
        return s._like(_interpolate(s, rows, target_dt), target_dt, s.gids)

    @staticmethod
    def align_gids(s: Stimulus, all_gids: Any) -> Stimulus:
        """``s`` with one column per gid of ``all_gids`` (in that order), zeros elsewhere.

        Columns of ``s`` that name the same gid are summed. A gid of ``s`` missing from
        ``all_gids`` is a ConfigError (a ValueError).
        """
        if s.space != "cells":
            raise ConfigError(
                "align_gids applies to space='cells' stimuli; the columns of a "
                "space='channels' stimulus are electrodes."
            )
        try:
            target = np.asarray(all_gids).reshape(-1)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"align_gids all_gids must be integers; got {e}.") from None
        if target.dtype == bool or not np.issubdtype(target.dtype, np.integer):
            raise ConfigError(f"align_gids all_gids must be integers; got dtype {target.dtype}.")
        target = target.astype(np.int64)
        if len(np.unique(target)) != len(target):
            raise ConfigError("align_gids all_gids must not repeat a gid.")
        own = s.gids if s.gids is not None else np.arange(s.num_inputs)
        where = {int(g): i for i, g in enumerate(target)}
        missing = [int(g) for g in own if int(g) not in where]
        if missing:
            raise ConfigError(
                f"align_gids: stimulus gid {missing[0]} is not in all_gids "
                f"({len(target)} gids); add it or drop that column."
            )
        out = np.zeros((s.num_steps, len(target)), dtype=np.float32)
        np.add.at(out.T, [where[int(g)] for g in own], np.asarray(s.array, np.float32).T)
        return s._like(out, s.dt, target)

    def _like(self, array: np.ndarray, dt: float, gids: Any) -> Stimulus:
        if self.space == "channels":
            return Stimulus(array, dt=dt, space="channels")
        return Stimulus(array, dt=dt, gids=gids, input_mode=self.input_mode, units=self.units,
                        sections=self.sections)  # fmt: skip

    def check_cells(self, num_neurons: int) -> None:
        """Raise ConfigError unless the stimulus fits a system of ``num_neurons`` cells.

        Without ``gids``, ``n <= num_neurons`` columns are the first ``n`` cells; this call
        then records them in :attr:`gids` (``0 … n-1``, the same meaning made explicit).
        """
        if self.space != "cells":
            return
        if self.input_mode == "current_density":
            raise ConfigError(
                "a current_density Stimulus (mA/cm²) must be converted to nA with the model's "
                "somatic areas first: stimulus.to_current(env), or Stimulus.from_arg(stimulus, "
                "env=env)."
            )
        if self.gids is None and self.num_inputs > num_neurons:
            raise ConfigError(
                f"Stimulus has {self.num_inputs} columns but the system has {num_neurons} cells; "
                "pass at most one column per cell, or name the target cells with gids=[...]."
            )
        if self.gids is not None and len(self.gids) and int(self.gids.max()) >= num_neurons:
            raise ConfigError(
                f"Stimulus gid {int(self.gids.max())} is out of range for {num_neurons} cells."
            )
        if self.gids is None and self.num_inputs < num_neurons:
            self.gids = np.arange(self.num_inputs, dtype=np.int64)

    def check_channels(self, num_channels: int) -> None:
        """Raise ConfigError unless an electrode stimulus has one column per MEA channel."""
        if self.space == "channels" and self.num_inputs != num_channels:
            raise ConfigError(
                f"electrode Stimulus has {self.num_inputs} columns but the MEA has "
                f"{num_channels} channels; give [T, {num_channels}] currents in µA (a policy: "
                f"n_channels={num_channels})."
            )

    def __repr__(self) -> str:
        mode = "" if self.input_mode == "current" else f", {self.input_mode} ({self.units})"
        return (f"Stimulus(shape={tuple(self.array.shape)}, dt={self.dt} ms, "
                f"duration={self.duration} ms{mode})")  # fmt: skip


def _is_policy(obj: Any) -> bool:
    """Whether ``obj`` is a :mod:`livn.policy` policy (only possible once it is imported)."""
    mod = sys.modules.get("livn.policy")
    return mod is not None and isinstance(obj, mod.ElectrodePolicy)


def _count(ratio: float, what: str, rounding: Any) -> int:
    """``rounding(ratio)`` rows, refusing more than :data:`livn.limits.MAX_STEPS`."""
    if not ratio <= limits.MAX_STEPS:  # also inf/NaN: 1e9 ms / 1e-308 ms
        raise ConfigError(
            f"{what} would make {ratio:.3g} rows; at most {limits.MAX_STEPS:,}. Use a larger dt "
            "or a shorter duration."
        )
    return int(rounding(ratio))


def _interpolate(s: Stimulus, rows: int, dt: float) -> np.ndarray:
    """``[rows, n]`` float32: ``s`` at ``t = i·dt``, linear between its rows, held at the end."""
    limits.check_memory(4.0 * rows * s.num_inputs, f"{rows:,} resampled rows of {s.num_inputs} "
                        "columns", "Use a larger dt or a shorter duration")  # fmt: skip
    src = np.asarray(s.array, dtype=np.float64)
    pos = np.arange(rows, dtype=np.float64) * (dt / s.dt)
    last = s.num_steps - 1
    i0 = np.minimum(np.floor(pos).astype(np.int64), last)
    i1 = np.minimum(i0 + 1, last)
    frac = np.clip(pos - i0, 0.0, 1.0)[:, None]
    return (src[i0] * (1.0 - frac) + src[i1] * frac).astype(np.float32)


def soma_area_cm2(env: Any) -> np.ndarray:
    """``[N]`` somatic membrane area (cm²) of every cell of an initialised Env, gid order.

    Raises:
        ConfigError: If the Env is not initialised or its model has no compartment areas.
    """
    engine = getattr(env, "engine", None)
    net = getattr(engine, "net", None)
    if net is None:
        raise ConfigError("current_density needs an initialised Env (call env.init() first).")
    area = np.zeros(int(env.system.num_neurons))
    for g in net.groups:
        template = getattr(g.cell, "cell", None)
        params = getattr(template, "params", None)
        if not isinstance(params, dict) or "area" not in params:
            raise ConfigError(
                f"input_mode='current_density' needs the model's somatic membrane area, and "
                f"{type(env.model).__name__} ({g.cell.name} cells) has none; give somatic "
                "current in nA instead (Stimulus.from_current / input_mode='current')."
            )
        area[np.asarray(g.gids)] = float(np.asarray(params["area"])[g.cell.soma])
    return area

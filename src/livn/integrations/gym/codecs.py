"""Default encodings and decodings between Gymnasium spaces and the culture's electrodes.

An encoding turns a value of a space into electrode stimulation, a decoding turns a step's
spikes into a value of a space. Both follow livn's contracts (:mod:`livn.encoding`,
:mod:`livn.decoding`) and add the space they read or write, so that
:class:`~livn.integrations.gym.LivnGym` can declare its spaces.

Rules, exactly as implemented:

* **To the unit interval.** A :class:`~gymnasium.spaces.Box` value ``x`` (``d`` numbers after
  flattening) becomes ``u = (x − low) / (high − low)`` per dimension with finite bounds, and
  ``u = (1 + tanh(x / scale)) / 2`` for a dimension with an infinite bound; ``u`` is clipped
  to ``[0, 1]``. A :class:`~gymnasium.spaces.Discrete` value ``k`` of ``n`` is one-hot
  (``d = n``). A :class:`~gymnasium.spaces.MultiBinary` value is its bits.
* **Features and electrodes.** The ``C`` electrodes (the MEA's column order) are split into
  ``d`` contiguous groups (``numpy.array_split``; sizes differ by at most one): group ``j``
  carries feature ``j``. ``d`` must not exceed ``C``.
* **Stimulation** (:class:`SpaceEncoding`). Electrode ``c`` of group ``j`` is driven by a train
  of biphasic pulses (``pulse_ms`` per phase, cathodic first) every ``period_ms`` from the start
  of the step, of amplitude ``u_j · amplitude_uA``: the value is coded in the amplitude, the
  train's rate is fixed (:class:`livn.encoding.ElectrodePulses`).
* **Rates** (:class:`RateDecoding`). ``r_c`` is the number of spikes in the step
  (``0 ≤ t ≤ duration``) of the cells electrode ``c`` observes (within the MEA's
  ``output_radius``), divided by the step's length in s: Hz per channel.
* **Affine map out.** A Box target gets ``y = clip(W · r + b, low, high)`` cast to its dtype.
  By default ``W[j, c] = (high_j − low_j) / (|G_j| · rate_scale_hz)`` for ``c`` in group
  ``G_j`` (the group's mean rate, ``rate_scale_hz`` mapping to the top of the range) and
  ``b = low`` — for a dimension with an infinite bound ``W[j, c] = 1 / (|G_j| ·
  rate_scale_hz)`` and ``b_j = 0``. A Discrete target of ``n`` gets
  ``start + argmax(W · r + b)`` over ``n`` scores (default: the groups' mean rates; ties go to
  the lowest action, so a silent culture chooses ``start``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from livn.decoding import Decoding
from livn.encoding import ElectrodePulses, Encoding
from livn.errors import ConfigError, require

__all__ = ["RateDecoding", "SpaceEncoding", "channel_groups", "channel_membership", "channel_rates",
           "to_unit"]


def _spaces():
    return require("gymnasium.spaces", "gym")


def _positive(value: Any, name: str, unit: str = "") -> float:
    from livn.limits import number

    return number(value, name, 0.0, exclusive_minimum=True, unit=unit or None)


def feature_count(space: Any) -> int:
    """``d``: the numbers a value of ``space`` becomes on the unit interval."""
    spaces = _spaces()
    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape, dtype=np.int64))
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiBinary):
        return int(np.prod(space.shape, dtype=np.int64))
    raise ConfigError(
        f"the default encoding reads Box, Discrete and MultiBinary spaces; got {space!r}. Pass "
        "your own encoding=callable(env, duration, inputs) -> Stimulus."
    )


def to_unit(space: Any, value: ArrayLike, scale: float = 1.0) -> np.ndarray:
    """``[d]`` float64 in ``[0, 1]``: ``value`` of ``space`` on the unit interval (module rules)."""
    spaces = _spaces()
    if isinstance(space, spaces.Discrete):
        k = int(np.asarray(value).reshape(-1)[0]) - int(space.start)
        u = np.zeros(int(space.n))
        if 0 <= k < space.n:
            u[k] = 1.0
        return u
    d = feature_count(space)
    try:
        x = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a value of {space!r}; got {value!r}.") from None
    if x.size != d:
        raise ConfigError(
            f"expected a value of {space!r} ({d} numbers); got shape {np.shape(value)}."
        )
    if isinstance(space, spaces.MultiBinary):
        return np.clip(x, 0.0, 1.0)
    lo = np.asarray(space.low, np.float64).reshape(-1)
    hi = np.asarray(space.high, np.float64).reshape(-1)
    finite = np.isfinite(lo) & np.isfinite(hi)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        width = np.where(finite & (hi > lo), hi - lo, 1.0)
        u = np.where(finite, (x - np.where(finite, lo, 0.0)) / width,
                     0.5 * (1.0 + np.tanh(x / scale)))  # fmt: skip
    return np.clip(np.nan_to_num(u, nan=0.0), 0.0, 1.0)


def channel_groups(n_features: int, n_channels: int) -> list[np.ndarray]:
    """The electrode columns of each feature: ``n_channels`` split into ``n_features``
    contiguous groups (sizes differ by at most one)."""
    if n_features > n_channels:
        raise ConfigError(
            f"{n_features} features do not fit {n_channels} electrodes (one group of electrodes "
            "per feature). Use a smaller space, an MEA with more electrodes, or your own "
            "encoding/decoding (or weights=[d, n_channels] for RateDecoding)."
        )
    return np.array_split(np.arange(n_channels), n_features)


def channel_membership(env: Any) -> np.ndarray:
    """``[C, N]`` 1 where electrode ``c`` (the MEA's column order) observes cell ``gid``
    (within the MEA's ``output_radius``), else 0."""
    io, nc = env.io, env.system.neuron_coordinates
    members = io.observed_neurons(nc)
    m = np.zeros((io.num_channels, int(env.system.num_neurons)))
    for row, c in enumerate(np.asarray(io.channel_ids)):
        gids = np.asarray(members.get(int(c), []), dtype=np.int64)
        m[row, gids] = 1.0
    return m


def channel_rates(env: Any, it: ArrayLike | None, t: ArrayLike | None, duration: float,
                  membership: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """``[C]`` float64 spikes per second seen by each electrode of ``env.io`` in a run of
    ``duration`` ms (spikes with ``0 <= t <= duration``; Hz). ``membership`` is
    :func:`channel_membership` of ``env`` if the caller keeps it."""
    n = int(env.system.num_neurons)
    if it is None or t is None:
        raise ConfigError(
            "the decoding needs spikes, but the run recorded none; call env.record_spikes()."
        )
    ids = np.asarray(it, dtype=np.int64).reshape(-1)
    times = np.asarray(t, dtype=np.float64).reshape(-1)
    keep = (times >= 0.0) & (times <= duration) & (ids >= 0) & (ids < n)
    counts = np.bincount(ids[keep], minlength=n).astype(np.float64)
    m = channel_membership(env) if membership is None else membership
    return m @ counts / (duration / 1000.0)


@dataclass(frozen=True)
class SpaceEncoding(Encoding):
    """A value of a Gymnasium space as electrode pulse amplitudes (see the module rules).

    Args:
        space: The space of the inputs; None for the MEA's ``input_space``
            (``Box(0, 1, (C,))``: one amplitude per electrode).
        amplitude_uA: Pulse amplitude for a unit value of 1, µA (> 0).
        period_ms: Onset-to-onset interval of the pulse train, ms.
        pulse_ms: Width of one phase, ms (a multiple of ``dt``).
        scale: Scale of ``tanh`` for dimensions with an infinite bound.
        dt: Rows of the electrode-current array, ms.

    Raises:
        ConfigError: For bad numbers, a space that is not Box/Discrete/MultiBinary, or more
            features than electrodes.
    """

    space: Any = None
    amplitude_uA: float = 20.0
    period_ms: float = 5.0
    pulse_ms: float = 0.2
    scale: float = 1.0
    dt: float = 0.025
    pulses: ElectrodePulses = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.space is not None:
            feature_count(self.space)
        object.__setattr__(self, "scale", _positive(self.scale, "scale"))
        pulses = ElectrodePulses(amplitude_uA=self.amplitude_uA, pulse_ms=self.pulse_ms,
                                 period_ms=self.period_ms, dt=self.dt)  # fmt: skip
        object.__setattr__(self, "pulses", pulses)

    def input_space(self, env: Any) -> Any:
        """The space of ``inputs``: :attr:`space`, or the MEA's ``input_space``."""
        return self.space if self.space is not None else env.io.input_space

    def amplitudes(self, env: Any, inputs: ArrayLike) -> np.ndarray:
        """``[C]`` values in ``[0, 1]``: each electrode's share of ``amplitude_uA``."""
        space = self.input_space(env)
        u = to_unit(space, inputs, self.scale)
        out = np.zeros(int(env.io.num_channels))
        for j, cols in enumerate(channel_groups(len(u), len(out))):
            out[cols] = u[j]
        return out

    def __call__(self, env: Any, duration: float, inputs: Any = None) -> Any:
        """``env.cell_stimulus`` of ``[ceil(duration / dt), C]`` electrode currents (µA)."""
        if inputs is None:  # no value: no current (an array of zeros keeps the shape)
            amps = np.zeros(int(env.io.num_channels))
        else:
            amps = self.amplitudes(env, inputs)
        array = self.pulses.channel_inputs(env, duration, amps)
        return env.cell_stimulus(array, dt=self.dt)


@dataclass
class RateDecoding(Decoding):
    """Per-electrode spike rates, mapped affinely into a Gymnasium space (module rules).

    Args:
        duration: Length of the step the decoding reads, ms (the culture's step).
        space: The target space (Box or Discrete); None for ``Box(0, 1, (C,))`` (each
            electrode's rate over ``rate_scale_hz``, clipped).
        weights: ``[d, C]`` map from rates (Hz) to the target's units (Box: ``d`` its size;
            Discrete: ``d = n`` scores); default the group means (module rules).
        bias: ``[d]`` offset; default ``low`` (Box with finite bounds), else 0.
        rate_scale_hz: The rate that maps to the top of a Box's range, Hz (> 0).

    Returns (when called):
        A value of the target space: an array of its dtype and shape, or an ``int`` action.
    """

    needs: ClassVar[tuple[str, ...]] = ("spikes",)
    duration: float = 20.0
    space: Any = None
    weights: Any = None
    bias: Any = None
    rate_scale_hz: float = 100.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.rate_scale_hz = _positive(self.rate_scale_hz, "rate_scale_hz", "Hz")
        if self.space is not None:
            spaces = _spaces()
            if not isinstance(self.space, spaces.Box | spaces.Discrete):
                raise ConfigError(
                    f"RateDecoding maps into Box and Discrete spaces; got {self.space!r}. Pass "
                    "your own decoding=callable(env, it, t, iv, v, im, mp) with a duration."
                )
        # per MEA (keyed by id, kept with the MEA): the affine map and the electrode membership
        self._maps: dict[int, tuple[Any, np.ndarray, np.ndarray]] = {}
        self._members: dict[int, tuple[Any, Any, np.ndarray]] = {}

    def output_space(self, env: Any) -> Any:
        """The space of the decoded values."""
        if self.space is not None:
            return self.space
        return _spaces().Box(0.0, 1.0, (int(env.io.num_channels),), np.float32)

    def affine(self, env: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(W [d, C], b [d])`` of the map from rates (Hz) to the target (module rules)."""
        n_ch = int(env.io.num_channels)
        cached = self._maps.get(id(env.io))
        if cached is not None and cached[0] is env.io:
            return cached[1], cached[2]
        space = self.output_space(env)
        spaces = _spaces()
        discrete = isinstance(space, spaces.Discrete)
        d = int(space.n) if discrete else int(np.prod(space.shape, dtype=np.int64))
        if discrete:
            lo = np.zeros(d)
            width = np.ones(d)
        else:
            lo = np.asarray(space.low, np.float64).reshape(-1)
            hi = np.asarray(space.high, np.float64).reshape(-1)
            finite = np.isfinite(lo) & np.isfinite(hi)
            width = np.where(finite, hi - lo, 1.0)
            lo = np.where(finite, lo, 0.0)
        if self.weights is None:
            w = np.zeros((d, n_ch))
            for j, cols in enumerate(channel_groups(d, n_ch)):
                w[j, cols] = width[j] / (len(cols) * (1.0 if discrete else self.rate_scale_hz))
        else:
            w = _matrix(self.weights, "weights", (d, n_ch))
        b = lo.copy() if self.bias is None else _matrix(self.bias, "bias", (d,))
        self._maps[id(env.io)] = (env.io, w, b)
        return w, b

    def __call__(self, env: Any, it: ArrayLike | None, t: ArrayLike | None,
                 iv: ArrayLike | None = None, v: ArrayLike | None = None,
                 im: ArrayLike | None = None, mp: ArrayLike | None = None) -> Any:  # fmt: skip
        key = id(env.io)
        hit = self._members.get(key)
        if hit is None or hit[0] is not env.io or hit[1] is not env.system:
            hit = (env.io, env.system, channel_membership(env))
            self._members[key] = hit
        rates = channel_rates(env, it, t, self.duration, hit[2])
        return self.from_rates(env, rates)

    def from_rates(self, env: Any, rates: np.ndarray) -> Any:
        """The value of the target space for ``[C]`` channel rates (Hz)."""
        w, b = self.affine(env)
        y = w @ rates + b
        space = self.output_space(env)
        if isinstance(space, _spaces().Discrete):
            return int(space.start) + int(np.argmax(y))  # ties: the lowest action
        lo = np.asarray(space.low, np.float64).reshape(-1)
        hi = np.asarray(space.high, np.float64).reshape(-1)
        return np.clip(y, lo, hi).astype(space.dtype).reshape(space.shape)


def _matrix(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"RateDecoding {name} must be numbers of shape {shape}; got {value!r}.") from None
    if a.shape != shape:
        raise ConfigError(
            f"RateDecoding {name} must have shape {shape} for this space and MEA; got {a.shape}."
        )
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"RateDecoding {name} contains NaN or infinite values.")
    return a


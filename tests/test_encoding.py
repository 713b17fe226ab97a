"""Tests of livn.encoding: NoInput and ElectrodePulses (electrode current arrays).

Expected arrays are built here from row times ``k · dt`` (not from row-index arithmetic), charges
are summed in float64, and amplitudes are checked against :meth:`MEA.scale_inputs`.
"""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

from livn.encoding import PHASES, POLARITIES, ElectrodePulses, Encoding, NoInput
from livn.errors import ConfigError
from livn.io.mea import MEA

DT = 0.025  # ms


def rows_in(start_ms: float, stop_ms: float, n_rows: int, dt: float = DT) -> np.ndarray:
    """Mask of the rows whose time k·dt lies in [start, stop) (half a row of tolerance)."""
    times = np.arange(n_rows) * dt
    return (times >= start_ms - dt / 2) & (times < stop_ms - dt / 2)


def pulse_starts(column: np.ndarray) -> np.ndarray:
    """Row indices where a column turns non-zero after a zero row (or at row 0)."""
    nonzero = column != 0
    return np.flatnonzero(nonzero & ~np.concatenate([[False], nonzero[:-1]]))


# --------------------------------------------------------------------------- NoInput / base


def test_no_input_returns_none():
    assert NoInput()(None, 100.0, None) is None
    assert NoInput()(None, 100.0, np.ones(16)) is None  # inputs are ignored
    with pytest.raises(ConfigError, match="duration"):
        NoInput()(None, 0.0, None)


def test_encoding_base_is_abstract():
    with pytest.raises(NotImplementedError):
        Encoding()(None, 10.0, None)


# --------------------------------------------------------------------------- waveforms


def test_monophasic_cathodic_pulse_shape_and_timing():
    enc = ElectrodePulses(amplitude_uA=3.0, pulse_ms=0.1, phase="mono", onset_ms=1.0)
    arr = enc.channel_inputs(4, duration=5.0)
    assert arr.shape == (200, 4) and arr.dtype == np.float32
    expected = np.where(rows_in(1.0, 1.1, 200), -3.0, 0.0)
    for c in range(4):
        np.testing.assert_array_equal(arr[:, c], expected)
    # charge = current x time: -3 µA x 0.1 ms = -0.3 nC per channel
    np.testing.assert_allclose(arr.astype(np.float64).sum(axis=0) * DT, -0.3, rtol=1e-6)


def test_monophasic_anodic_pulse_is_positive():
    enc = ElectrodePulses(amplitude_uA=2.0, pulse_ms=0.05, phase="mono", polarity="anodic")
    arr = enc.channel_inputs(1, duration=1.0)
    np.testing.assert_array_equal(arr[:, 0], np.where(rows_in(0.0, 0.05, 40), 2.0, 0.0))


def test_biphasic_is_cathodic_first_and_charge_balanced():
    enc = ElectrodePulses(amplitude_uA=1.5, pulse_ms=0.2, onset_ms=2.0)
    assert enc.phase == "biphasic" and enc.polarity == "cathodic"
    arr = enc.channel_inputs(3, duration=10.0).astype(np.float64)
    expected = np.zeros(400)
    expected[rows_in(2.0, 2.2, 400)] = -1.5
    expected[rows_in(2.2, 2.4, 400)] = +1.5
    np.testing.assert_array_equal(arr[:, 0], expected)
    column = arr[:, 0]
    first = column[np.flatnonzero(column)[0]]
    assert first < 0  # cathodic first
    # net charge zero exactly; each phase carries 1.5 µA x 0.2 ms = 0.3 nC
    np.testing.assert_array_equal(arr.sum(axis=0), np.zeros(3))
    assert column[column < 0].sum() * DT == pytest.approx(-0.3, rel=1e-9)
    assert column[column > 0].sum() * DT == pytest.approx(0.3, rel=1e-9)


@pytest.mark.parametrize("amplitude", [0.1, 0.37, 7.3])
@pytest.mark.parametrize("polarity", POLARITIES)
def test_biphasic_charge_balance_with_interphase_gap(amplitude, polarity):
    enc = ElectrodePulses(
        amplitude_uA=amplitude, pulse_ms=0.15, interphase_ms=0.1, polarity=polarity
    )
    arr = enc.channel_inputs(2, duration=1.0).astype(np.float64)
    column = arr[:, 0]
    lead = -1.0 if polarity == "cathodic" else 1.0
    expected = np.zeros(40)
    expected[rows_in(0.0, 0.15, 40)] = lead * np.float32(amplitude)
    expected[rows_in(0.25, 0.40, 40)] = -lead * np.float32(amplitude)
    np.testing.assert_array_equal(column, expected)
    assert np.all(column[rows_in(0.15, 0.25, 40)] == 0)  # the gap carries no current
    assert column.sum() == 0.0
    assert enc.pulse_steps == 6 + 4 + 6
    assert enc.waveform().sum() == 0.0


def test_pulse_train_with_period_fills_the_run():
    # onsets 2, 12, 22, 32, 42 ms; a biphasic 0.2 ms pulse lasts 0.4 ms, so 42.4 <= 50 fits
    enc = ElectrodePulses(amplitude_uA=1.0, pulse_ms=0.2, onset_ms=2.0, period_ms=10.0)
    arr = enc.channel_inputs(2, duration=50.0)
    starts = pulse_starts(arr[:, 0]) * DT
    np.testing.assert_allclose(starts, [2.0, 12.0, 22.0, 32.0, 42.0], atol=1e-9)
    np.testing.assert_allclose(enc.onsets(50.0) * DT, starts, atol=1e-9)
    # a pulse that would end after the run is left out
    short = ElectrodePulses(amplitude_uA=1.0, pulse_ms=0.2, onset_ms=2.0, period_ms=10.0)
    assert len(pulse_starts(short.channel_inputs(1, duration=42.3)[:, 0])) == 4


def test_pulse_count_limits_the_train():
    enc = ElectrodePulses(amplitude_uA=1.0, pulse_ms=0.1, period_ms=5.0, count=3, onset_ms=1.0)
    arr = enc.channel_inputs(1, duration=100.0)
    np.testing.assert_allclose(pulse_starts(arr[:, 0]) * DT, [1.0, 6.0, 11.0], atol=1e-9)
    assert np.count_nonzero(arr) == 3 * 8


def test_rows_cover_the_duration():
    enc = ElectrodePulses(amplitude_uA=1.0, pulse_ms=0.1)
    assert enc.channel_inputs(1, 10.0).shape == (400, 1)
    assert enc.channel_inputs(1, 10.01).shape == (401, 1)  # ceil(10.01 / 0.025)
    coarse = ElectrodePulses(amplitude_uA=1.0, pulse_ms=1.0, dt=1.0, phase="mono")
    np.testing.assert_array_equal(coarse.channel_inputs(1, 5.0)[:, 0], [-1.0, 0, 0, 0, 0])


# --------------------------------------------------------------------------- channels and amplitudes


def test_selected_channels_only():
    enc = ElectrodePulses(channels=[0, 5, 15], amplitude_uA=2.0, pulse_ms=0.1)
    arr = enc.channel_inputs(MEA(), duration=1.0)
    assert arr.shape == (40, 16)
    driven = np.flatnonzero(np.any(arr != 0, axis=0))
    np.testing.assert_array_equal(driven, [0, 5, 15])
    np.testing.assert_array_equal(arr[:, 0], arr[:, 5])
    assert ElectrodePulses(channels=3, amplitude_uA=1.0).channels == (3,)


def test_inputs_scale_like_mea_scale_inputs():
    mea = MEA.grid(nx=2, ny=2, max_input_current=2.5)
    env = types.SimpleNamespace(io=mea)
    inputs = np.array([0.0, 0.2, 0.5, 1.0])
    enc = ElectrodePulses(pulse_ms=0.1, phase="mono", polarity="anodic")
    arr = enc.channel_inputs(env, duration=1.0, inputs=inputs)
    np.testing.assert_allclose(arr.max(axis=0), mea.scale_inputs(inputs), rtol=1e-6)
    # no inputs: every channel at max_input_current; the MEA itself works as the target too
    np.testing.assert_allclose(enc.channel_inputs(mea, 1.0).max(axis=0), np.full(4, 2.5))
    # amplitude_uA replaces max_input_current as the scale
    scaled = ElectrodePulses(amplitude_uA=4.0, pulse_ms=0.1, phase="mono", polarity="anodic")
    np.testing.assert_allclose(
        scaled.channel_inputs(env, 1.0, inputs).max(axis=0), 4.0 * inputs, rtol=1e-6
    )


def test_inputs_and_channels_combine():
    enc = ElectrodePulses(channels=[1, 2], amplitude_uA=1.0, pulse_ms=0.1, phase="mono")
    arr = enc.channel_inputs(4, duration=1.0, inputs=[1.0, 0.5, 0.25, 1.0])
    np.testing.assert_allclose(arr.min(axis=0), [0.0, -0.5, -0.25, 0.0])


def test_call_passes_the_array_to_cell_stimulus():
    calls = []

    def cell_stimulus(array, dt=1.0):
        calls.append((array, dt))
        return "stimulus"

    env = types.SimpleNamespace(io=MEA(), cell_stimulus=cell_stimulus)
    enc = ElectrodePulses(channels=[2], amplitude_uA=1.0, pulse_ms=0.1, onset_ms=0.5)
    inputs = np.linspace(0.0, 1.0, 16)
    assert enc(env, 3.0, inputs) == "stimulus"
    (array, dt), *_ = calls
    assert dt == DT
    np.testing.assert_array_equal(array, enc.channel_inputs(env, 3.0, inputs))
    with pytest.raises(ConfigError, match="cell_stimulus"):
        enc(types.SimpleNamespace(io=MEA()), 3.0, None)


# --------------------------------------------------------------------------- errors


def test_bad_phase_names_choices():
    with pytest.raises(ConfigError) as info:
        ElectrodePulses(phase="bi")
    message = str(info.value)
    assert "'mono', 'biphasic'" in message and "Did you mean 'biphasic'?" in message
    assert PHASES == ("mono", "biphasic")
    with pytest.raises(ConfigError, match="Did you mean 'cathodic'"):
        ElectrodePulses(polarity="cathode")
    with pytest.raises(ConfigError, match="Did you mean 'mono'"):
        ElectrodePulses(phase="mon")
    assert ElectrodePulses(phase="monophasic").phase == "mono"


def test_channel_out_of_range_names_valid_range():
    enc = ElectrodePulses(channels=[3, 16], amplitude_uA=1.0)
    with pytest.raises(ConfigError, match=r"channel index 16 .* 16 channels \(valid: 0\.\.15\)"):
        enc.channel_inputs(MEA(), 1.0)


@pytest.mark.parametrize("channels", [[-1], [1, 1], [], [0.5], [True]])
def test_bad_channels(channels):
    with pytest.raises(ConfigError, match="channels"):
        ElectrodePulses(channels=channels)


def test_times_must_be_whole_rows():
    with pytest.raises(ConfigError, match=r"pulse_ms=0\.03 .* use 0\.025 or 0\.05 ms"):
        ElectrodePulses(pulse_ms=0.03)
    with pytest.raises(ConfigError, match="onset_ms"):
        ElectrodePulses(onset_ms=1.01)
    with pytest.raises(ConfigError, match="period_ms"):
        ElectrodePulses(period_ms=10.01)
    with pytest.raises(ConfigError, match="interphase_ms"):
        ElectrodePulses(interphase_ms=0.01)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"amplitude_uA": -1.0}, "amplitude_uA"),
        ({"amplitude_uA": float("nan")}, "amplitude_uA"),
        ({"amplitude_uA": "1"}, "amplitude_uA"),
        ({"pulse_ms": 0.0}, "pulse_ms"),
        ({"onset_ms": -1.0}, "onset_ms"),
        ({"dt": 0.0}, "dt"),
        ({"count": 0}, "count"),
        ({"count": 2}, "period_ms"),
        ({"period_ms": 0.3, "pulse_ms": 0.2}, "shorter than one pulse"),
        ({"phase": "mono", "interphase_ms": 0.1}, "biphasic pulses only"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ElectrodePulses(**kwargs)


def test_pulses_that_do_not_fit_raise():
    with pytest.raises(ConfigError, match=r"do not fit in a run of 10 ms \(0 fit\)"):
        ElectrodePulses(amplitude_uA=1.0, onset_ms=20.0).channel_inputs(1, 10.0)
    with pytest.raises(ConfigError, match=r"\(2 fit\)"):
        ElectrodePulses(amplitude_uA=1.0, period_ms=4.0, count=5).channel_inputs(1, 6.0)


def test_bad_targets_and_inputs():
    enc = ElectrodePulses(pulse_ms=0.1)
    with pytest.raises(ConfigError, match="amplitude_uA is needed"):
        enc.channel_inputs(16, 1.0)
    with pytest.raises(ConfigError, match="channel count"):
        ElectrodePulses(amplitude_uA=1.0).channel_inputs(0, 1.0)
    with pytest.raises(ConfigError, match="Env, an MEA or a channel count"):
        enc.channel_inputs("MEA", 1.0)
    with pytest.raises(ConfigError, match=r"shape \[n_channels\] = \(16,\)"):
        enc.channel_inputs(MEA(), 1.0, inputs=np.ones(4))
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        enc.channel_inputs(MEA(), 1.0, inputs=np.full(16, 1.5))
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        enc.channel_inputs(MEA(), 1.0, inputs=np.full(16, math.nan))
    with pytest.raises(ConfigError, match="duration"):
        enc.channel_inputs(MEA(), -1.0)


# --------------------------------------------------------------------------- with a real Env


@pytest.mark.slow
def test_env_call_with_electrode_pulses():
    pytest.importorskip("jax")
    from livn.decoding import MeanFiringRate
    from livn.env import Env
    from livn.system import predefined

    if not hasattr(Env, "cell_stimulus"):
        pytest.skip("Env.cell_stimulus is not available in this version")
    env = Env(predefined("EI1"), seed=1).init()
    env.apply_model_defaults()
    env.record_spikes()
    enc = ElectrodePulses(amplitude_uA=1.0, pulse_ms=0.2, period_ms=10.0)
    inputs = np.full(env.io.num_channels, 0.5)
    rates = env(decoding=MeanFiringRate(duration=50.0), inputs=inputs, encoding=enc)
    assert rates.shape == (10,) and np.all(np.isfinite(rates))

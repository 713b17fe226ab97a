"""Tests of livn.stimulus.Stimulus: validation, shape properties, from_arg, check_cells."""

from __future__ import annotations

import numpy as np
import pytest

from livn.errors import ConfigError
from livn.stimulus import Stimulus


def test_valid_stimulus_properties():
    rng = np.random.default_rng(0)
    array = rng.standard_normal((100, 10)) * 0.1
    s = Stimulus(array=array, dt=1.0)
    assert s.array is array
    assert s.dt == 1.0
    assert s.gids is None
    assert s.num_steps == 100
    assert s.num_inputs == 10
    assert s.duration == 100.0


def test_duration_is_steps_times_dt():
    s = Stimulus(np.zeros((40, 3)), dt=0.25)
    assert s.duration == pytest.approx(40 * 0.25, rel=1e-12)
    assert isinstance(s.dt, float)


def test_list_input_is_converted():
    s = Stimulus([[1, 2], [3, 4], [5, 6]], dt=2)
    assert isinstance(s.array, np.ndarray)
    np.testing.assert_array_equal(s.array, [[1, 2], [3, 4], [5, 6]])
    assert (s.num_steps, s.num_inputs, s.duration) == (3, 2, 6.0)


def test_1d_array_raises_mentioning_2d():
    with pytest.raises(ConfigError, match="2D") as info:
        Stimulus(np.zeros(100), dt=1.0)
    assert "(100,)" in str(info.value)


@pytest.mark.parametrize("shape", [(2, 3, 4), ()])
def test_non_2d_array_raises(shape):
    with pytest.raises(ConfigError, match="2D"):
        Stimulus(np.zeros(shape), dt=1.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_raise(bad):
    array = np.zeros((5, 2))
    array[3, 1] = bad
    with pytest.raises(ConfigError, match="NaN or infinite"):
        Stimulus(array, dt=1.0)


def test_nan_in_list_input_raises():
    with pytest.raises(ConfigError):
        Stimulus([[0.0, float("nan")]], dt=1.0)


def test_non_numeric_array_raises():
    with pytest.raises(ConfigError, match="numeric"):
        Stimulus(np.array([["a", "b"]]), dt=1.0)


@pytest.mark.parametrize("dt", [0.0, -1.0, float("nan"), float("inf")])
def test_non_positive_dt_raises(dt):
    with pytest.raises(ConfigError, match="dt"):
        Stimulus(np.zeros((5, 2)), dt=dt)


@pytest.mark.parametrize("dt", ["fast", None, [1.0, 2.0], object()])
def test_non_numeric_dt_raises(dt):
    with pytest.raises(ConfigError, match="dt"):
        Stimulus(np.zeros((5, 2)), dt=dt)


def test_gids_are_stored_as_int_array():
    s = Stimulus(np.zeros((5, 3)), dt=1.0, gids=[7, 2, 4])
    assert s.gids.dtype == np.int64
    np.testing.assert_array_equal(s.gids, [7, 2, 4])


def test_gids_length_mismatch_raises():
    with pytest.raises(ConfigError, match="columns"):
        Stimulus(np.zeros((5, 3)), dt=1.0, gids=[0, 1])
    with pytest.raises(ConfigError):
        Stimulus(np.zeros((5, 3)), dt=1.0, gids=[0, 1, 2, 3])


def test_duplicate_gids_raise():
    with pytest.raises(ConfigError, match="unique"):
        Stimulus(np.zeros((5, 3)), dt=1.0, gids=[0, 1, 1])


def test_negative_gids_raise():
    with pytest.raises(ConfigError):
        Stimulus(np.zeros((5, 2)), dt=1.0, gids=[0, -1])


def test_check_cells_without_gids():
    s = Stimulus(np.zeros((5, 10)), dt=1.0)
    s.check_cells(10)  # matching: no error
    assert s.gids is None
    with pytest.raises(ConfigError, match="10 columns"):
        s.check_cells(9)
    s.check_cells(11)  # fewer columns than cells: the first 10 cells (seed 004)
    np.testing.assert_array_equal(s.gids, np.arange(10))


def test_check_cells_with_gids():
    s = Stimulus(np.zeros((5, 2)), dt=1.0, gids=[3, 8])
    s.check_cells(9)  # fewer columns than cells is fine when gids name them
    s.check_cells(100)
    with pytest.raises(ConfigError, match="8"):
        s.check_cells(8)


def test_from_arg_none_is_none():
    assert Stimulus.from_arg(None) is None


def test_from_arg_stimulus_returns_same_object():
    s = Stimulus(np.zeros((5, 2)), dt=0.5)
    assert Stimulus.from_arg(s) is s
    assert Stimulus.from_arg(s, dt=3.0) is s
    assert s.dt == 0.5


def test_from_arg_array_wraps_with_dt():
    array = np.ones((8, 4))
    s = Stimulus.from_arg(array, dt=0.5)
    assert isinstance(s, Stimulus)
    assert s.array is array
    assert s.dt == 0.5
    assert s.duration == 4.0
    assert Stimulus.from_arg(array).dt == 1.0


def test_from_arg_validates():
    with pytest.raises(ConfigError):
        Stimulus.from_arg(np.zeros(4), dt=1.0)
    with pytest.raises(ConfigError):
        Stimulus.from_arg(np.zeros((4, 2)), dt=-1.0)


def test_non_numeric_list_raises_config_error():
    with pytest.raises(ConfigError, match="numeric"):
        Stimulus([["a", "b"]])

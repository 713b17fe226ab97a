"""Tests of livn 2.0.0's IO names: ``electrode_array_coordinates(_for_area)`` (2.0.0's grid
sizing), ``MEA.set_params``, ``ComposedIO`` and ``MAX_STIMULUS_GB_ENV``.

Expected layouts are written out by hand from the sizing rule "n = largest power of 2 <=
extent // pitch + 1, centred".
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from livn.errors import ConfigError
from livn.io import (
    MAX_STIMULUS_GB_ENV,
    MEA,
    ComposedIO,
    electrode_array_coordinates,
    electrode_array_coordinates_for_area,
)

# --------------------------------------------------------------------------- layouts


def test_electrode_array_coordinates_default_is_the_default_mea():
    np.testing.assert_array_equal(electrode_array_coordinates(), MEA().electrode_coordinates)


def test_electrode_array_coordinates_custom_grid_row_major():
    rows = electrode_array_coordinates(pitch=50, xs=3, ys=2, xoffset=10, yoffset=-20, z=7)
    expected = [[0, 10, -20, 7], [1, 60, -20, 7], [2, 110, -20, 7],
                [3, 10, 30, 7], [4, 60, 30, 7], [5, 110, 30, 7]]  # fmt: skip
    np.testing.assert_array_equal(rows, expected)


@pytest.mark.parametrize(
    ("extent", "n", "first"),
    [
        (600.0, 4, 0.0),  # 600 // 200 + 1 = 4 → 4 electrodes spanning 600 (MEA.fitted: 2)
        (700.0, 4, 50.0),  # 4 → 4, span 600 centred in 700
        (1000.0, 4, 200.0),  # 6 → 4
        (1400.0, 8, 0.0),  # 8 → 8
        (100.0, 1, 50.0),  # 1 → 1, at the centre
        (0.0, 1, 0.0),
    ],
)
def test_for_area_uses_upstream_sizing_and_centres(extent, n, first):
    rows = electrode_array_coordinates_for_area(200.0, [[0.0, 1000.0], [extent, 1000.0 + extent]])
    assert len(rows) == n * n
    xs = np.unique(rows[:, 1])
    np.testing.assert_allclose(xs, first + 200.0 * np.arange(n))
    np.testing.assert_allclose(np.unique(rows[:, 2]), 1000.0 + first + 200.0 * np.arange(n))
    assert np.all(rows[:, 3] == 0.0)
    np.testing.assert_array_equal(rows[:, 0], np.arange(n * n))


def test_for_area_differs_from_mea_fitted_where_documented():
    rows = electrode_array_coordinates_for_area(200.0, [[0, 0], [600, 600]], z=30.0)
    fitted = MEA.fitted((0, 0), (600, 600), pitch=200.0)
    assert len(rows) == 16 and fitted.num_channels == 4
    assert np.all(rows[:, 3] == 30.0)


def test_for_area_non_square():
    rows = electrode_array_coordinates_for_area(1000.0, [[0, 0], [4000, 2000]])
    assert len(rows) == 4 * 2  # 5 → 4 across, 3 → 2 down
    np.testing.assert_allclose(np.unique(rows[:, 1]), [500, 1500, 2500, 3500])
    np.testing.assert_allclose(np.unique(rows[:, 2]), [500, 1500])


@pytest.mark.parametrize("area", [None, "abc", [[0, 0]], [[0, 0], [1, 2], [3, 4]],
                                  [[0, 0], [math.nan, 1]], [[10, 0], [0, 10]]])  # fmt: skip
def test_for_area_bad_area_is_refused(area):
    with pytest.raises(ConfigError, match="area"):
        electrode_array_coordinates_for_area(100.0, area)


@pytest.mark.parametrize("pitch", [0, -1.0, math.inf, "1"])
def test_for_area_bad_pitch_is_refused(pitch):
    with pytest.raises(ConfigError, match="pitch"):
        electrode_array_coordinates_for_area(pitch, [[0, 0], [100, 100]])


# --------------------------------------------------------------------------- set_params


def test_mea_set_params_sets_checked_attributes():
    mea = MEA()
    assert mea.set_params({"input_radius": 100, "output_radius": 300.5,
                           "max_input_current": 2}) is mea  # fmt: skip
    assert (mea.input_radius, mea.output_radius, mea.max_input_current) == (100.0, 300.5, 2.0)
    coords = electrode_array_coordinates(xs=2, ys=1)
    mea.set_params({"electrode_coordinates": coords})
    assert mea.num_channels == 2 and mea.input_radius == 100.0


def test_mea_set_params_is_all_or_nothing():
    mea = MEA()
    with pytest.raises(ConfigError, match="output_radius"):
        mea.set_params({"input_radius": 10.0, "output_radius": -1.0})
    assert mea.input_radius == 250.0 and mea.output_radius == 250.0


def test_mea_set_params_unknown_key_names_the_valid_ones():
    with pytest.raises(ConfigError) as info:
        MEA().set_params({"output_radus": 1.0})
    message = str(info.value)
    assert "output_radus" in message and "input_radius" in message
    assert "max_input_current" in message and "Did you mean 'output_radius'" in message


def test_mea_set_params_volume_conductor_is_fixed():
    with pytest.raises(ConfigError, match="volume conductor"):
        MEA().set_params({"volume_conductor-sigma": 0.5})
    with pytest.raises(ConfigError, match="dict"):
        MEA().set_params([("input_radius", 1.0)])


# --------------------------------------------------------------------------- ComposedIO


def test_composed_io_stimulates_with_inputs_and_records_with_outputs():
    inputs = MEA()
    outputs = MEA(np.array([[7, 0.0, 0.0, 0.0], [9, 100.0, 0.0, 0.0]]), output_radius=60.0)
    io = ComposedIO(inputs, outputs)
    assert io.num_channels == 16 and io.input_radius == 250.0
    np.testing.assert_array_equal(io.channel_ids, [7, 9])
    assert io.output_radius == 60.0
    points = np.array([[500.0, 500.0, 0.0]])
    np.testing.assert_array_equal(io.field(points), inputs.field(points))
    coords = np.array([[0, 0.0, 50.0, 0.0], [1, 100.0, 0.0, 0.0]])
    cit, _ = io.channel_recording(coords, np.array([0, 1]), np.array([1.0, 2.0]))
    assert {k: v.tolist() for k, v in cit.items()} == {7: [0], 9: [1]}
    with pytest.raises(AttributeError):
        io.not_a_member  # noqa: B018


def test_composed_io_parameters_go_to_their_side():
    inputs, outputs = MEA(), MEA()
    io = ComposedIO(inputs, outputs)
    io.output_radius = 10.0
    io.max_input_current = 3.0
    assert outputs.output_radius == 10.0 and inputs.output_radius == 250.0
    assert inputs.max_input_current == 3.0 and outputs.max_input_current == 1.0
    io.set_params({"input_radius": 20.0, "outputs-input_radius": 30.0})
    assert inputs.input_radius == 20.0 and outputs.input_radius == 30.0
    with pytest.raises(ConfigError, match="Valid"):
        io.set_params({"pitch": 1.0})
    with pytest.raises(ConfigError, match="outputs"):
        ComposedIO(MEA(), object())


# --------------------------------------------------------------------------- stimulus size


def test_max_stimulus_gb(monkeypatch):
    from livn.errors import SizeLimitError
    from livn.io.stimulus_size import (
        StimulusTooLargeError,
        check_stimulus_bytes,
        max_stimulus_bytes,
    )

    assert MAX_STIMULUS_GB_ENV == "LIVN_MAX_STIMULUS_GB"
    monkeypatch.delenv(MAX_STIMULUS_GB_ENV, raising=False)
    assert max_stimulus_bytes() == 5 * 2**30
    check_stimulus_bytes(5 * 2**30)  # at the limit: fine
    with pytest.raises(MemoryError) as info:
        check_stimulus_bytes(5 * 2**30 + 1)
    assert isinstance(info.value, StimulusTooLargeError | SizeLimitError)
    assert isinstance(info.value, ConfigError) and MAX_STIMULUS_GB_ENV in str(info.value)
    monkeypatch.setenv(MAX_STIMULUS_GB_ENV, "0.5")
    with pytest.raises(StimulusTooLargeError):
        check_stimulus_bytes(2**29 + 1)
    monkeypatch.setenv(MAX_STIMULUS_GB_ENV, "0")
    assert max_stimulus_bytes() == math.inf
    check_stimulus_bytes(1e30)
    monkeypatch.setenv(MAX_STIMULUS_GB_ENV, "lots")
    with pytest.raises(ConfigError, match="LIVN_MAX_STIMULUS_GB"):
        max_stimulus_bytes()

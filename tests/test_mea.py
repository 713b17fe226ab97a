"""Tests of livn.io.mea.MEA: layouts, recording, stimulation field, LFP, files, input space.

Numerical expectations are computed by hand in SI units in each test, independent of the
module's constants.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from livn.errors import ConfigError, SystemFormatError
from livn.io.mea import MEA

# --------------------------------------------------------------------------- helpers


def hand_field_mv_per_ua(d_um: float) -> float:
    """Point source potential in mV for 1 µA at lateral distance d µm, height 52.2 µm.

    V = rho * I / (4 pi r) with rho = 3.5 Ohm m, I = 1e-6 A, r = sqrt(d^2 + h^2) in metres.
    """
    rho = 3.5  # Ohm m
    current = 1e-6  # A
    r_m = math.sqrt(d_um**2 + 52.2**2) * 1e-6  # m
    volts = rho * current / (4.0 * math.pi * r_m)
    return volts * 1e3  # mV


def hand_lfp_uv(current_na: float, d_um: float) -> float:
    """LFP in µV of a current I nA at distance d µm: V = I / (4 pi sigma r), r = d + 5 µm."""
    sigma = 0.3  # S/m
    r_m = (d_um + 5.0) * 1e-6  # m
    volts = current_na * 1e-9 / (4.0 * math.pi * sigma * r_m)
    return volts * 1e6  # µV


def single_electrode(eid: int = 0, xyz=(0.0, 0.0, 0.0), **kwargs) -> MEA:
    return MEA(np.array([[eid, *xyz]], dtype=float), **kwargs)


# --------------------------------------------------------------------------- layout


def test_default_layout_is_4x4_grid_pitch_1000_row_major():
    mea = MEA()
    c = mea.electrode_coordinates
    assert c.shape == (16, 4)
    assert mea.num_channels == 16
    np.testing.assert_array_equal(mea.channel_ids, np.arange(16))
    assert set(c[:, 1].tolist()) == {500.0, 1500.0, 2500.0, 3500.0}
    assert set(c[:, 2].tolist()) == {500.0, 1500.0, 2500.0, 3500.0}
    np.testing.assert_array_equal(c[:, 3], np.full(16, 175.0))
    for row in c:
        eid = int(row[0])
        iy, ix = divmod(eid, 4)
        assert row[1] == 500.0 + 1000.0 * ix
        assert row[2] == 500.0 + 1000.0 * iy
    # x varies fastest: the first four electrodes share y = 500
    np.testing.assert_array_equal(c[:4, 2], np.full(4, 500.0))
    np.testing.assert_array_equal(c[:4, 1], [500.0, 1500.0, 2500.0, 3500.0])
    # neighbouring electrodes are one pitch apart
    assert np.linalg.norm(c[1, 1:] - c[0, 1:]) == pytest.approx(1000.0, rel=1e-12)
    assert np.linalg.norm(c[4, 1:] - c[0, 1:]) == pytest.approx(1000.0, rel=1e-12)


def test_default_radii_and_current():
    mea = MEA()
    assert mea.input_radius == 250.0
    assert mea.output_radius == 250.0
    assert mea.max_input_current == 1.0


def test_grid_non_square_is_row_major_with_x_fastest():
    mea = MEA.grid(nx=3, ny=2, pitch=200.0, offset=(10.0, 20.0), z=5.0)
    expected = np.array(
        [
            [0, 10.0, 20.0, 5.0],
            [1, 210.0, 20.0, 5.0],
            [2, 410.0, 20.0, 5.0],
            [3, 10.0, 220.0, 5.0],
            [4, 210.0, 220.0, 5.0],
            [5, 410.0, 220.0, 5.0],
        ]
    )
    np.testing.assert_array_equal(mea.electrode_coordinates, expected)


def test_grid_forwards_kwargs():
    mea = MEA.grid(nx=2, ny=2, input_radius=10.0, output_radius=20.0, max_input_current=3.0)
    assert (mea.input_radius, mea.output_radius, mea.max_input_current) == (10.0, 20.0, 3.0)


@pytest.mark.parametrize("nx, ny, pitch", [(0, 2, 100.0), (2, 0, 100.0), (2, 2, 0.0)])
def test_grid_invalid_arguments_raise(nx, ny, pitch):
    with pytest.raises(ConfigError):
        MEA.grid(nx=nx, ny=ny, pitch=pitch)


def test_fitted_grid_4x8_centred():
    mea = MEA.fitted(lower=(0.0, 0.0), upper=(1600.0, 3200.0), pitch=400.0)
    c = mea.electrode_coordinates
    assert mea.num_channels == 32
    xs = np.unique(c[:, 1])
    ys = np.unique(c[:, 2])
    np.testing.assert_allclose(xs, [200.0, 600.0, 1000.0, 1400.0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ys, 200.0 + 400.0 * np.arange(8), rtol=0, atol=1e-9)
    # centred in the area
    assert c[:, 1].mean() == pytest.approx(800.0, abs=1e-9)
    assert c[:, 2].mean() == pytest.approx(1600.0, abs=1e-9)
    np.testing.assert_array_equal(c[:, 3], np.zeros(32))
    # row-major with nx = 4: id 5 -> ix 1, iy 1
    row = c[c[:, 0] == 5][0]
    np.testing.assert_allclose(row[1:3], [600.0, 600.0], rtol=0, atol=1e-9)
    # default radius pitch / 4 for both input and output
    assert mea.input_radius == pytest.approx(100.0, rel=1e-12)
    assert mea.output_radius == pytest.approx(100.0, rel=1e-12)


def test_fitted_uses_largest_power_of_two_not_largest_count():
    # extent 2500 at pitch 400 holds 6 electrodes, but the largest power of two is 4
    mea = MEA.fitted(lower=(0.0, 0.0), upper=(2500.0, 400.0), pitch=400.0)
    xs = np.unique(mea.electrode_coordinates[:, 1])
    ys = np.unique(mea.electrode_coordinates[:, 2])
    assert len(xs) == 4
    assert len(ys) == 1
    # centred: offset = (2500 - 3 * 400) / 2 = 650
    np.testing.assert_allclose(xs, [650.0, 1050.0, 1450.0, 1850.0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ys, [200.0], rtol=0, atol=1e-9)


def test_fitted_extent_smaller_than_pitch_gives_one_centred_electrode():
    mea = MEA.fitted(lower=(100.0, 100.0), upper=(400.0, 300.0), pitch=1000.0, z=7.0)
    assert mea.num_channels == 1
    np.testing.assert_allclose(
        mea.electrode_coordinates[0], [0.0, 250.0, 200.0, 7.0], rtol=0, atol=1e-9
    )
    assert mea.output_radius == pytest.approx(250.0, rel=1e-12)


def test_fitted_explicit_radius_and_kwargs_override():
    mea = MEA.fitted(lower=(0.0, 0.0), upper=(800.0, 800.0), pitch=400.0, radius=55.0)
    assert (mea.input_radius, mea.output_radius) == (55.0, 55.0)
    mea = MEA.fitted(
        lower=(0.0, 0.0), upper=(800.0, 800.0), pitch=400.0, radius=55.0, output_radius=70.0
    )
    assert (mea.input_radius, mea.output_radius) == (55.0, 70.0)


def test_fitted_non_positive_pitch_raises():
    with pytest.raises(ConfigError):
        MEA.fitted(lower=(0.0, 0.0), upper=(800.0, 800.0), pitch=0.0)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "coords",
    [
        np.zeros((3, 3)),
        np.zeros((3, 5)),
        np.zeros(4),
        np.zeros((0, 4)),
        np.zeros((2, 2, 4)),
    ],
)
def test_bad_shape_electrode_coordinates_raise_config_error(coords):
    with pytest.raises(ConfigError, match="shape"):
        MEA(coords)


def test_duplicate_or_non_integer_electrode_ids_raise():
    with pytest.raises(ConfigError):
        MEA([[0, 0, 0, 0], [0, 1, 1, 1]])
    with pytest.raises(ConfigError):
        MEA([[0.5, 0, 0, 0]])


@pytest.mark.parametrize("name", ["input_radius", "output_radius", "max_input_current"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_non_positive_or_non_finite_radius_raise(name, value):
    with pytest.raises(ConfigError, match=name):
        MEA(**{name: value})


# --------------------------------------------------------------------------- recording


@pytest.fixture
def two_electrode_mea():
    """Electrodes with ids 7 and 3 (not positions) at x = 0 and x = 400, output radius 250."""
    return MEA(
        np.array([[7, 0.0, 0.0, 0.0], [3, 400.0, 0.0, 0.0]]),
        output_radius=250.0,
    )


@pytest.fixture
def neurons():
    """Neurons with gids that are not row indices, rows in non-sorted gid order.

    gid 13: (30, 40, 0)   -> 50 from e7, 370.1 from e3       -> e7 only
    gid 10: (250, 0, 0)   -> exactly 250 from e7, 150 from e3 -> both (<=)
    gid 12: (-250.001, 0, 0) -> just beyond 250 from e7      -> nowhere
    gid 11: (400, 0, 250) -> exactly 250 from e3             -> e3 only
    gid 14: (200, 1000, 0) -> far from both                  -> nowhere
    """
    return np.array(
        [
            [13, 30.0, 40.0, 0.0],
            [10, 250.0, 0.0, 0.0],
            [12, -250.001, 0.0, 0.0],
            [11, 400.0, 0.0, 250.0],
            [14, 200.0, 1000.0, 0.0],
        ]
    )


def test_channel_recording_membership_and_order(two_electrode_mea, neurons):
    ids = np.array([10, 13, 11, 12, 10, 14, 13])
    times = np.array([9.0, 1.0, 5.0, 2.0, 0.5, 3.0, 7.5])
    cit, ct = two_electrode_mea.channel_recording(neurons, ids, times)

    assert set(cit) == {7, 3}
    assert set(ct) == {7, 3}
    # e7 sees gid 13 (50 um) and gid 10 (exactly 250 um); input order preserved
    np.testing.assert_array_equal(cit[7], [10, 13, 10, 13])
    np.testing.assert_array_equal(ct[7], [9.0, 1.0, 0.5, 7.5])
    # e3 sees gid 10 (150 um) and gid 11 (exactly 250 um in z)
    np.testing.assert_array_equal(cit[3], [10, 11, 10])
    np.testing.assert_array_equal(ct[3], [9.0, 5.0, 0.5])
    # neuron 12 (just beyond) and 14 (far) are not observed anywhere
    for c in (7, 3):
        assert 12 not in cit[c]
        assert 14 not in cit[c]
    # spike times belong to the right gids
    for c in (7, 3):
        for gid, t in zip(cit[c], ct[c], strict=True):
            assert t in times[ids == gid]


def test_channel_recording_boundary_is_inclusive():
    mea = single_electrode(output_radius=50.0)
    nc = np.array([[20, 30.0, 40.0, 0.0], [21, 30.0, 40.0, 1e-3]])  # 50 exactly, 50 + tiny
    cit, ct = mea.channel_recording(nc, [20, 21], [1.0, 2.0])
    np.testing.assert_array_equal(cit[0], [20])
    np.testing.assert_array_equal(ct[0], [1.0])


def test_channel_recording_all_channels_present_when_empty(neurons):
    mea = MEA()  # default grid; the shifted neurons are far from every electrode
    far = neurons.copy()
    far[:, 1:3] += 100000.0
    cit, ct = mea.channel_recording(far, [10, 11], [1.0, 2.0])
    assert sorted(cit) == list(range(16))
    assert sorted(ct) == list(range(16))
    for c in range(16):
        assert len(cit[c]) == 0
        assert len(ct[c]) == 0


def test_channel_recording_no_spikes(two_electrode_mea, neurons):
    cit, ct = two_electrode_mea.channel_recording(neurons, np.array([], int), np.array([]))
    assert set(cit) == {7, 3}
    assert all(len(v) == 0 for v in cit.values())
    assert all(len(v) == 0 for v in ct.values())


def test_channel_recording_output_radius_override(two_electrode_mea, neurons):
    ids = np.array([13, 12])
    times = np.array([1.0, 2.0])
    # default 250: gid 12 at 250.001 from e7 is not seen
    cit, _ = two_electrode_mea.channel_recording(neurons, ids, times)
    np.testing.assert_array_equal(cit[7], [13])
    # larger override: gid 12 seen
    cit, ct = two_electrode_mea.channel_recording(neurons, ids, times, output_radius=251.0)
    np.testing.assert_array_equal(cit[7], [13, 12])
    np.testing.assert_array_equal(ct[7], [1.0, 2.0])
    # smaller override: gid 13 at 50 um drops out with radius 49
    cit, _ = two_electrode_mea.channel_recording(neurons, ids, times, output_radius=49.0)
    assert len(cit[7]) == 0
    # the attribute itself is unchanged
    assert two_electrode_mea.output_radius == 250.0


def test_channel_recording_accepts_float_ids(two_electrode_mea, neurons):
    cit, _ = two_electrode_mea.channel_recording(neurons, np.array([13.0, 11.0]), [1.0, 2.0])
    np.testing.assert_array_equal(cit[7], [13])
    np.testing.assert_array_equal(cit[3], [11])


def test_channel_recording_unknown_spike_ids_raise(two_electrode_mea, neurons):
    with pytest.raises(ConfigError, match="99"):
        two_electrode_mea.channel_recording(neurons, [10, 99], [1.0, 2.0])
    # an id smaller than every gid, and any id when there are no neurons at all
    with pytest.raises(ConfigError):
        two_electrode_mea.channel_recording(neurons, [0], [1.0])
    with pytest.raises(ConfigError):
        two_electrode_mea.channel_recording(np.zeros((0, 4)), [10], [1.0])


def test_channel_recording_length_mismatch_raises(two_electrode_mea, neurons):
    with pytest.raises(ConfigError, match="equal length"):
        two_electrode_mea.channel_recording(neurons, [10, 11], [1.0])


def test_channel_recording_bad_coordinate_shape_raises(two_electrode_mea):
    with pytest.raises(ConfigError):
        two_electrode_mea.channel_recording(np.zeros((3, 3)), [0], [1.0])


def test_observed_and_input_neurons_use_their_radius(neurons):
    mea = MEA(np.array([[7, 0.0, 0.0, 0.0]]), input_radius=60.0, output_radius=250.0)
    np.testing.assert_array_equal(np.sort(mea.observed_neurons(neurons)[7]), [10, 13])
    np.testing.assert_array_equal(mea.input_neurons(neurons)[7], [13])


# --------------------------------------------------------------------------- field


def test_field_at_zero_distance_matches_point_source_formula():
    mea = single_electrode(xyz=(120.0, -40.0, 175.0))
    v = mea.field(np.array([[120.0, -40.0, 175.0]]))
    assert v.shape == (1, 1)
    # SI: rho [Ohm m] * I [A] / (4 pi r [m]), I = 1 uA, r = 52.2 um, in mV
    expected = 3.5 * 1e-6 / (4.0 * math.pi * 52.2e-6) * 1e3
    np.testing.assert_allclose(v[0, 0], expected, rtol=1e-9)
    np.testing.assert_allclose(v[0, 0], 1000.0 * 3.5 / (4.0 * math.pi * 52.2), rtol=1e-9)
    assert v[0, 0] == pytest.approx(5.336, abs=5e-4)
    assert v[0, 0] == pytest.approx(5.34, abs=5e-3)


def test_field_at_3d_offset_matches_hand_value():
    mea = single_electrode(xyz=(100.0, 200.0, 10.0))
    pts = np.array([[130.0, 240.0, 10.0], [100.0, 200.0, 130.0], [103.0, 204.0, 22.0]])
    v = mea.field(pts)
    assert v.shape == (3, 1)
    # d = 50 (3-4-5 in xy), d = 120 (z only), d = 13 (3-4-12 in 3D)
    for k, d in enumerate([50.0, 120.0, 13.0]):
        np.testing.assert_allclose(v[k, 0], hand_field_mv_per_ua(d), rtol=1e-9)
    # at d = 50: r = sqrt(50^2 + 52.2^2) um
    r_m = math.sqrt(50.0**2 + 52.2**2) * 1e-6
    np.testing.assert_allclose(v[0, 0], 1e3 * 3.5 * 1e-6 / (4 * math.pi * r_m), rtol=1e-9)
    # falls off with distance
    assert v[2, 0] > v[0, 0] > v[1, 0]


def test_field_shape_points_by_channels():
    mea = MEA()
    v = mea.field(np.zeros((5, 3)))
    assert v.shape == (5, 16)
    assert np.all(v > 0)


def test_field_bad_points_shape_raises():
    with pytest.raises(ConfigError):
        MEA().field(np.zeros((5, 2)))


def test_potential_superposes_two_electrodes():
    mea = MEA(np.array([[0, 0.0, 0.0, 0.0], [1, 300.0, 0.0, 0.0]]))
    pts = np.array([[0.0, 0.0, 0.0], [300.0, 400.0, 0.0], [150.0, 0.0, 0.0]])
    currents = np.array([[1.0, 0.0], [0.0, 2.0], [1.5, -0.5], [0.0, 0.0]])  # [T=4, C=2] uA
    v = mea.potential(pts, currents)
    assert v.shape == (4, 3)
    e = np.array([[0.0, 0.0, 0.0], [300.0, 0.0, 0.0]])
    for t in range(4):
        for p in range(3):
            expected = 0.0
            for c in range(2):
                d = math.dist(pts[p], e[c])
                expected += currents[t, c] * hand_field_mv_per_ua(d)
            np.testing.assert_allclose(v[t, p], expected, rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(v[3], np.zeros(3))
    # linearity: doubling the currents doubles the potential
    np.testing.assert_allclose(mea.potential(pts, 2 * currents), 2 * v, rtol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3), (4, 1), (2,), (1, 2, 2)])
def test_potential_wrong_channel_count_raises(shape):
    mea = MEA(np.array([[0, 0.0, 0.0, 0.0], [1, 300.0, 0.0, 0.0]]))
    with pytest.raises(ConfigError):
        mea.potential(np.zeros((1, 3)), np.zeros(shape))


# --------------------------------------------------------------------------- LFP


def test_lfp_single_source_matches_hand_value():
    mea = single_electrode(eid=5, output_radius=250.0)
    nc = np.array([[40, 60.0, 80.0, 0.0]])  # d = 100 um
    currents = np.array([[2.0, -1.0, 0.5, 0.0]])  # nA, T = 4
    v = mea.lfp(nc, [40], currents)
    assert v.shape == (1, 4)
    expected = [hand_lfp_uv(i, 100.0) for i in currents[0]]
    np.testing.assert_allclose(v[0], expected, rtol=1e-9, atol=1e-15)
    # spelled out: 2 nA at r = 105 um
    np.testing.assert_allclose(v[0, 0], 2e-9 / (4 * math.pi * 0.3 * 105e-6) * 1e6, rtol=1e-9)


def test_lfp_sources_beyond_output_radius_contribute_nothing():
    mea = MEA(np.array([[0, 0.0, 0.0, 0.0], [1, 1000.0, 0.0, 0.0]]), output_radius=250.0)
    nc = np.array(
        [
            [12, 30.0, 40.0, 0.0],  # 50 from e0, 970.8 from e1
            [10, 250.0, 0.0, 0.0],  # exactly 250 from e0, 750 from e1
            [11, 0.0, 250.001, 0.0],  # just beyond e0
            [13, 1000.0, 0.0, 120.0],  # 120 from e1
        ]
    )
    ids = [11, 12, 10, 13]
    currents = np.array([[5.0, 5.0], [1.0, -2.0], [3.0, 0.5], [0.25, 4.0]])  # [m=4, T=2] nA
    v = mea.lfp(nc, ids, currents)
    assert v.shape == (2, 2)
    expected_e0 = [
        hand_lfp_uv(1.0, 50.0) + hand_lfp_uv(3.0, 250.0),
        hand_lfp_uv(-2.0, 50.0) + hand_lfp_uv(0.5, 250.0),
    ]
    expected_e1 = [hand_lfp_uv(0.25, 120.0), hand_lfp_uv(4.0, 120.0)]
    np.testing.assert_allclose(v[0], expected_e0, rtol=1e-9)
    np.testing.assert_allclose(v[1], expected_e1, rtol=1e-9)


def test_lfp_all_sources_out_of_reach_gives_zeros():
    mea = MEA()
    nc = np.array([[3, -5000.0, -5000.0, 0.0]])
    v = mea.lfp(nc, [3], np.ones((1, 7)))
    assert v.shape == (16, 7)
    np.testing.assert_array_equal(v, np.zeros((16, 7)))


def test_lfp_errors():
    mea = single_electrode()
    nc = np.array([[40, 60.0, 80.0, 0.0]])
    with pytest.raises(ConfigError):
        mea.lfp(nc, [41], np.ones((1, 3)))
    with pytest.raises(ConfigError):
        mea.lfp(nc, [40], np.ones((2, 3)))
    with pytest.raises(ConfigError):
        mea.lfp(nc, [40], np.ones(3))


# --------------------------------------------------------------------------- files


def test_save_and_from_directory_round_trip(tmp_path):
    mea = MEA(
        np.array([[4, 10.5, -20.25, 175.0], [9, 1234.125, 0.1, 3.3]]),
        input_radius=123.5,
        output_radius=77.25,
        max_input_current=2.5,
    )
    path = mea.save(tmp_path)
    assert (tmp_path / "mea.json").is_file()
    assert str(path) == str(tmp_path / "mea.json")
    back = MEA.from_directory(tmp_path)
    assert back.to_dict() == mea.to_dict()
    np.testing.assert_array_equal(back.electrode_coordinates, mea.electrode_coordinates)
    assert (back.input_radius, back.output_radius, back.max_input_current) == (
        123.5,
        77.25,
        2.5,
    )
    # the file is plain JSON with integer ids
    data = json.loads((tmp_path / "mea.json").read_text())
    assert data["electrode_coordinates"][1] == [9, 1234.125, 0.1, 3.3]


def test_from_json_accepts_bare_list(tmp_path):
    f = tmp_path / "layout.json"
    f.write_text(json.dumps([[0, 1.0, 2.0, 3.0], [1, 4.0, 5.0, 6.0]]))
    mea = MEA.from_json(f)
    np.testing.assert_array_equal(
        mea.electrode_coordinates, [[0, 1.0, 2.0, 3.0], [1, 4.0, 5.0, 6.0]]
    )
    assert mea.input_radius == 250.0
    assert mea.output_radius == 250.0
    assert mea.max_input_current == 1.0
    # also as a string path
    assert MEA.from_json(str(f)).to_dict() == mea.to_dict()


def test_from_json_missing_file_names_path(tmp_path):
    missing = tmp_path / "nothere" / "mea.json"
    with pytest.raises(SystemFormatError) as info:
        MEA.from_json(missing)
    assert str(missing) in str(info.value)


def test_from_directory_missing_file_names_path(tmp_path):
    with pytest.raises(SystemFormatError) as info:
        MEA.from_directory(tmp_path)
    assert str(tmp_path / "mea.json") in str(info.value)


def test_from_json_invalid_json(tmp_path):
    f = tmp_path / "mea.json"
    f.write_text("{not json")
    with pytest.raises(SystemFormatError, match="JSON"):
        MEA.from_json(f)


@pytest.mark.parametrize(
    "content",
    [
        {"electrode_coordinates": [[0, 1.0, 2.0]]},
        {"electrode_coordinates": [[0, 1.0, 2.0, 3.0], [1, 2.0]]},
        {"electrode_coordinates": [[0, 1.0, 2.0, 3.0]], "output_radius": -1.0},
        {"something_else": []},
        "a string",
    ],
)
def test_from_json_bad_content_raises_system_format_error(tmp_path, content):
    f = tmp_path / "mea.json"
    f.write_text(json.dumps(content))
    with pytest.raises(SystemFormatError) as info:
        MEA.from_json(f)
    assert str(f) in str(info.value)


# --------------------------------------------------------------------------- learning interface


def test_input_space_is_unit_box():
    gym_spaces = pytest.importorskip("gymnasium.spaces")
    mea = MEA.grid(nx=3, ny=2)
    space = mea.input_space
    assert isinstance(space, gym_spaces.Box)
    assert space.shape == (6,)
    np.testing.assert_array_equal(space.low, np.zeros(6))
    np.testing.assert_array_equal(space.high, np.ones(6))
    assert space.contains(np.full(6, 0.5, dtype=np.float32))
    assert not space.contains(np.full(6, 1.5, dtype=np.float32))


def test_scale_inputs_maps_unit_interval_to_max_current():
    mea = MEA.grid(nx=2, ny=1, max_input_current=2.5)
    np.testing.assert_allclose(mea.scale_inputs(np.array([1.0, 1.0])), [2.5, 2.5], rtol=1e-12)
    np.testing.assert_allclose(mea.scale_inputs(np.array([0.0, 0.5])), [0.0, 1.25], rtol=1e-12)
    np.testing.assert_allclose(
        mea.scale_inputs(np.array([[0.2, 0.4], [1.0, 0.0]])), [[0.5, 1.0], [2.5, 0.0]], rtol=1e-12
    )

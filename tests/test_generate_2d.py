"""2D culture generator: placement, populations, degree statistics, kernel, determinism."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest

from livn.errors import ConfigError, ConnectivityWarning
from livn.system import System
from livn.system.culture import CultureConfig, write_culture
from livn.workflows import get
from livn.workflows.generate_2d import Generate2D


def _build(tmp_path, name="sys", **config) -> System:
    return System(write_culture(CultureConfig(**config), tmp_path / name))


def _xy_dist(system, p):
    xy = system.neuron_coordinates[:, 1:3]
    return np.linalg.norm(xy[p.pre_gids] - xy[p.post_gids], axis=1)


# ---------------------------------------------------------------- populations and placement
def test_largest_remainder_rounding():
    c = CultureConfig(
        total_cells=10,
        populations={"A": {"ratio": 0.45}, "B": {"ratio": 0.35}, "C": {"ratio": 0.2}},
    )
    # exact 4.5 / 3.5 / 2.0 -> floors 4/3/2 (9); one left goes to the largest remainder (A first)
    assert c.population_counts() == {"A": 5, "B": 3, "C": 2}
    assert sum(CultureConfig(total_cells=7).population_counts().values()) == 7


def test_counts_and_total_must_agree():
    c = CultureConfig(
        populations={"EXC": {"count": 30}, "INH": {"count": 5, "synapse_type": "inhibitory"}}
    )
    assert c.total_cells == 35
    with pytest.raises(ValueError, match=r"population counts sum to 35"):
        CultureConfig(total_cells=40, populations={"EXC": {"count": 30}, "INH": {"count": 5}})
    with pytest.raises(ValueError, match=r"not a mix"):
        CultureConfig(populations={"EXC": {"count": 30}, "INH": {"ratio": 0.2}})
    with pytest.raises(ValueError, match=r"sum to 1"):
        CultureConfig(populations={"EXC": {"ratio": 0.7}, "INH": {"ratio": 0.2}})


def test_rectangle_area(tmp_path):
    s = _build(
        tmp_path,
        total_cells=300,
        area="rectangle",
        area_kwargs={"x_range": [100, 600], "y_range": [-50, 50]},
        z_range=[2, 4],
    )
    xyz = s.neuron_coordinates[:, 1:]
    assert xyz[:, 0].min() >= 100 and xyz[:, 0].max() <= 600
    assert xyz[:, 1].min() >= -50 and xyz[:, 1].max() <= 50
    assert xyz[:, 2].min() >= 2 and xyz[:, 2].max() <= 4
    # uniform: the four x-quarters hold similar numbers of cells (each ~75 ± 4 sigma)
    counts = np.histogram(xyz[:, 0], bins=4, range=(100, 600))[0]
    assert np.all(np.abs(counts - 75) < 4 * np.sqrt(75 * 0.75))


def test_disk_and_annulus(tmp_path):
    s = _build(
        tmp_path,
        total_cells=500,
        area="systems.generate_2d.disk",
        area_kwargs={"center": [1000, -200], "radius": 400, "inner_radius": 250},
    )
    xy = s.neuron_coordinates[:, 1:3]
    r = np.linalg.norm(xy - [1000, -200], axis=1)
    assert r.min() >= 250 - 1e-3 and r.max() <= 400 + 1e-3
    # uniform in area: the fraction inside radius 325 is (325²-250²)/(400²-250²) = 0.4419
    frac = np.mean(r < 325)
    assert abs(frac - (325**2 - 250**2) / (400**2 - 250**2)) < 4 * np.sqrt(0.25 / 500)
    assert s.graph.area["bounds"] == [[600.0, -600.0], [1400.0, 200.0]]


def line_placement(count, rng, length=1000.0):
    xs = np.sort(rng.uniform(0, length, size=count))
    return xs, np.zeros(count)


def test_custom_placement_callable_and_dotted_path(tmp_path):
    s = _build(
        tmp_path,
        total_cells=40,
        area=line_placement,
        area_kwargs={"length": 300.0},
        connectivity={"mean_degree": 2},
    )
    xy = s.neuron_coordinates[:, 1:3]
    assert np.all(xy[:, 1] == 0) and xy[:, 0].max() <= 300
    assert s.graph.generator["area"].endswith("line_placement")
    s2 = _build(
        tmp_path,
        "dotted",
        total_cells=40,
        area="test_generate_2d.line_placement",
        area_kwargs={"length": 300.0},
        connectivity={"mean_degree": 2},
    )
    np.testing.assert_array_equal(s2.neuron_coordinates, s.neuron_coordinates)


def test_bad_area_configs():
    with pytest.raises(ConfigError, match=r"unknown area 'disc'.*Did you mean 'disk'"):
        Generate2D({"area": "disc"})
    with pytest.raises(ConfigError, match=r"area_kwargs.radus.*Did you mean 'radius'"):
        Generate2D({"area": "disk", "area_kwargs": {"radus": 3}})
    with pytest.raises(ConfigError, match=r"cannot be imported"):
        Generate2D({"area": "no_such_module.place"})
    with pytest.raises(ConfigError, match=r"inner_radius"):  # checked with the config
        Generate2D({"area": "disk", "area_kwargs": {"radius": 10, "inner_radius": 20},
                    "output_directory": "/tmp/never-written-livn"}).launch()  # fmt: skip
    assert not Path("/tmp/never-written-livn").exists()


# ---------------------------------------------------------------- connectivity statistics
DEGREES = {"EXC->EXC": 12.0, "EXC->INH": 8.0, "INH->EXC": 6.0, "INH->INH": 3.0}


@pytest.fixture(scope="module")
def stats_system(tmp_path_factory):
    return _build(
        tmp_path_factory.mktemp("stats"),
        total_cells=2000,
        area_kwargs={"x_range": [0, 2000], "y_range": [0, 2000]},
        connectivity={"sigma": 150.0, "cutoff": 3.0, "mean_degree": DEGREES},
        seed=11,
    )


def test_realised_mean_in_degree_matches_request(stats_system):
    # Expected edge count is exactly k·N_post; its variance is Σp(1-p) <= k·N_post, so a
    # 5-sigma band is 5·sqrt(k·N_post) edges.
    for name, k in DEGREES.items():
        p = stats_system.projections[name]
        n_post = stats_system.population_ranges[p.post][1]
        assert abs(p.num_edges - k * n_post) < 5 * np.sqrt(k * n_post), name


def test_no_self_connections_and_cutoff(stats_system):
    for p in stats_system.projections.values():
        if p.pre == p.post:
            assert not np.any(p.pre_gids == p.post_gids)
        assert _xy_dist(stats_system, p).max() <= 3.0 * 150.0 + 1e-3
        pairs = p.post_gids * 10**6 + p.pre_gids
        assert len(np.unique(pairs)) == len(pairs)  # no multi-edges


@pytest.mark.parametrize("kind", ["gaussian", "exponential"])
def test_connection_probability_follows_kernel(tmp_path, kind):
    """Chi-square test of edge counts per distance bin against P = A·kernel(d).

    The reference is computed here by brute force over all pairs, independently of the
    generator's KD-tree, and A is estimated from the total edge count.
    """
    sigma = 120.0
    s = _build(
        tmp_path,
        total_cells=1200,
        populations={"EXC": {"ratio": 1.0}},
        area_kwargs={"x_range": [0, 1500], "y_range": [0, 1500]},
        connectivity={"kernel": kind, "sigma": sigma, "cutoff": 3.0, "mean_degree": 15},
        seed=5,
    )
    p = s.projections["EXC->EXC"]
    xy = s.neuron_coordinates[:, 1:3]
    d_all = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1)
    np.fill_diagonal(d_all, np.inf)
    d_all = d_all[d_all <= 3 * sigma]
    w = np.exp(-(d_all**2) / (2 * sigma**2)) if kind == "gaussian" else np.exp(-d_all / sigma)
    a = p.num_edges / w.sum()
    assert a * w.max() < 1  # no saturation, so P = A·w throughout
    bins = np.linspace(0, 3 * sigma, 13)
    observed = np.histogram(_xy_dist(s, p), bins=bins)[0]
    expected = np.histogram(d_all, bins=bins, weights=a * w)[0]
    keep = expected > 5
    chi2 = np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep])
    dof = keep.sum() - 1
    assert chi2 < dof + 5 * np.sqrt(2 * dof), (chi2, dof, observed, expected.round())


def test_allow_self_connections(tmp_path):
    s = _build(
        tmp_path,
        total_cells=50,
        populations={"EXC": {"ratio": 1.0}},
        area_kwargs={"x_range": [0, 100], "y_range": [0, 100]},
        connectivity={"sigma": 1000.0, "mean_degree": 49.5, "allow_self_connections": True},
    )
    p = s.projections["EXC->EXC"]
    assert np.any(p.pre_gids == p.post_gids)


def test_unreachable_degree_saturates_with_warning(tmp_path):
    with pytest.warns(ConnectivityWarning, match=r"INH->EXC cannot be reached.*every candidate"):
        s = _build(
            tmp_path,
            total_cells=20,
            populations={
                "EXC": {"ratio": 0.9},
                "INH": {"ratio": 0.1, "synapse_type": "inhibitory"},
            },
            area_kwargs={"x_range": [0, 50], "y_range": [0, 50]},
            connectivity={"sigma": 500.0, "mean_degree": {"INH->EXC": 5}},
        )
    # all 2 INH cells reach all 18 EXC cells: saturated at degree 2
    assert s.projections["INH->EXC"].num_edges == 36
    assert list(s.projections) == ["INH->EXC"]


def test_mean_degree_map_validation():
    with pytest.raises(ValueError, match=r"unknown population 'IN'"):
        CultureConfig(connectivity={"mean_degree": {"EXC->IN": 3}})
    with pytest.raises(ValueError, match=r"PRE->POST"):
        CultureConfig(connectivity={"mean_degree": {"EXC-INH": 3}})
    with pytest.raises(ValueError, match=r">= 0"):
        CultureConfig(connectivity={"mean_degree": -1})


# ---------------------------------------------------------------- determinism and safety
def _digest(directory):
    return {
        f: hashlib.sha256((Path(directory) / f).read_bytes()).hexdigest()
        for f in ("cells.h5", "connections.h5")
    }


def test_deterministic_for_a_seed(tmp_path):
    cfg = {"total_cells": 300, "seed": 9, "connectivity": {"sigma": 700.0}}
    a = write_culture(CultureConfig(**cfg), tmp_path / "a")
    b = write_culture(CultureConfig(**cfg), tmp_path / "b")
    c = write_culture(CultureConfig(**{**cfg, "seed": 10}), tmp_path / "c")
    assert _digest(a) == _digest(b)
    assert not np.array_equal(System(a).neuron_coordinates, System(c).neuron_coordinates)


def test_changing_one_projection_leaves_others(tmp_path):
    base = {
        "total_cells": 300,
        "seed": 2,
        "connectivity": {"sigma": 700.0, "mean_degree": {"EXC->EXC": 5, "INH->EXC": 3}},
    }
    a = _build(tmp_path, "a", **base)
    base["connectivity"]["mean_degree"]["EXC->EXC"] = 7
    b = _build(tmp_path, "b", **base)
    np.testing.assert_array_equal(
        a.projections["INH->EXC"].pre_gids, b.projections["INH->EXC"].pre_gids
    )


def test_existing_directory_protection(tmp_path):
    cfg = CultureConfig(total_cells=30, connectivity={"sigma": 2000.0, "mean_degree": 3})
    path = write_culture(cfg, tmp_path / "s")
    before = _digest(path)
    assert write_culture(cfg, tmp_path / "s") == path  # same config: no-op
    other = CultureConfig(total_cells=31, connectivity={"sigma": 2000.0, "mean_degree": 3})
    with pytest.raises(ConfigError, match=r"different configuration.*overwrite"):
        write_culture(other, tmp_path / "s")
    assert _digest(path) == before
    write_culture(other, tmp_path / "s", overwrite=True)
    assert System(path).num_neurons == 31
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"not a livn system"):
        write_culture(cfg, foreign)
    assert (foreign / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_failed_build_leaves_nothing(tmp_path):
    def broken(count, rng):
        return np.zeros(count), np.zeros(count - 1)

    with pytest.raises(ConfigError, match=r"area function for population EXC must return"):
        write_culture(CultureConfig(area=broken), tmp_path / "s")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- Python API (seed 002)
def test_python_api_launch_mea_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    generated = get(
        "generate_2d",
        {
            "total_cells": 50,
            "populations": {
                "EXC": {"ratio": 0.8, "synapse_type": "excitatory"},
                "INH": {"ratio": 0.2, "synapse_type": "inhibitory"},
            },
            "connectivity": {"sigma": 1500.0, "mean_degree": 4.0},
            "output_directory": str(tmp_path / "my_system"),
        },
    )
    assert isinstance(generated, Generate2D)
    system = generated.launch()
    assert system.num_neurons == 50 and system.populations == ["EXC", "INH"]
    assert system.population_ranges == {"EXC": (0, 40), "INH": (40, 10)}
    mea = generated.mea(pitch=1000)
    assert mea.num_channels == 16 and (tmp_path / "my_system" / "mea.json").exists()
    assert generated.mea(pitch=1000).to_dict() == mea.to_dict()  # same layout: no-op
    with pytest.raises(ConfigError, match=r"already exists with a different layout"):
        generated.mea(pitch=500)
    assert generated.mea(pitch=500, overwrite=True).num_channels == 64
    fig = generated.plot(
        show_connections=True, show_mea=True, max_edges=100, path=tmp_path / "plot.png"
    )
    ax = fig.axes[0]
    assert sum(len(c.get_segments()) for c in ax.collections if hasattr(c, "get_segments")) == 100
    assert (tmp_path / "plot.png").stat().st_size > 1000


def test_mea_before_launch_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"no system at .*--launch"):
        Generate2D({"output_directory": str(tmp_path / "x")}).mea()


def test_config_errors_name_key_and_fix():
    with pytest.raises(ConfigError) as e:
        get("generate_2d", {"totl_cells": 5, "connectivity": {"sigma": -1}})
    msg = str(e.value)
    assert "unknown key 'totl_cells'" in msg and "Did you mean 'total_cells'" in msg
    assert "'connectivity.sigma': -1" in msg and "greater than or equal to 0.001" in msg
    with pytest.raises(ConfigError, match=r"unknown workflow 'generate2d'.*generate_2d"):
        get("generate2d", {})


def test_no_warnings_for_predefined_like_config(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _build(tmp_path, total_cells=400, connectivity={"sigma": 600.0, "mean_degree": 5})

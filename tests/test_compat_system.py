"""livn 2.0.0's ``System`` names on our System and ParallelSystem (UPSTREAM-API.md §4):
each checked against our own accessors or an independent computation of its stated rule."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from livn.errors import ConfigError
from livn.io import MEA
from livn.models.rcsd import ReducedCalciumSomaDendrite
from livn.system import ParallelSystem, make


@pytest.fixture(scope="module")
def ei1():
    return make("EI1")


# ---------------------------------------------------------------------------- cells
def test_coordinate_array_is_the_populations_rows_of_the_coordinates(ei1):
    for pop, (start, count) in ei1.population_ranges.items():
        rows = ei1.coordinate_array(pop)
        assert rows.shape == (count, 4) and rows.dtype == np.float64
        np.testing.assert_array_equal(rows[:, 0], np.arange(start, start + count))
        np.testing.assert_array_equal(rows[:, 1:], ei1.coordinates[pop].astype(np.float64))
        rows[:, 1] = -1.0  # a copy: the system's read-only coordinates stay as they are
    assert np.all(ei1.neuron_coordinates[:, 1] >= 0)


def test_coordinates_is_still_a_dict_and_called_yields_the_rows(ei1):
    assert set(ei1.coordinates) == {"EXC", "INH"}
    assert ei1.coordinates["INH"].shape == (2, 3)
    rows = list(ei1.coordinates("INH"))
    assert len(rows) == 2
    np.testing.assert_array_equal(np.stack(rows), ei1.neuron_coordinates[8:10])
    with pytest.raises(ConfigError, match=r"unknown population 'PYR'\. Valid: EXC, INH"):
        list(ei1.coordinates("PYR"))


def test_gids_population_count_and_cells_meta_data(ei1):
    np.testing.assert_array_equal(ei1.gids, np.arange(10))
    assert ei1.population_count == 10 == ei1.num_neurons
    meta = ei1.cells_meta_data
    assert meta["population_names"] == ["EXC", "INH"]
    assert meta["population_ranges"] == {"EXC": (0, 8), "INH": (8, 2)}
    assert meta["cell_count"] == 10
    assert meta["synapse_types"] == {"EXC": "excitatory", "INH": "inhibitory"}


def test_center_point_is_half_the_extent_of_the_cell_positions(ei1):
    xyz = np.asarray(ei1.neuron_coordinates)[:, 1:]
    expected = (xyz.max(axis=0) - xyz.min(axis=0)) / 2
    np.testing.assert_allclose(ei1.center_point, expected, rtol=0, atol=1e-9)
    s = ParallelSystem(3, coordinates=100.0)  # x at 0, 100, 200
    np.testing.assert_array_equal(s.center_point, [100.0, 0.0, 0.0])


# ---------------------------------------------------------------------------- connectivity
def test_connections_config_mirrors_the_projections(ei1):
    cfg = ei1.connections_config["synapses"]
    for pr in ei1.graph.projections:
        entry = cfg[pr.post][pr.pre]
        assert entry["type"] == pr.type and entry["sections"] == [pr.section]
        mechs = entry["mechanisms"]["default"]
        assert set(mechs) == set(pr.mechanisms)
        for name, m in pr.mechanisms.items():
            assert mechs[name]["tau_decay"] == m.tau_decay and mechs[name]["e"] == m.e
    assert cfg["EXC"]["INH"]["type"] == "inhibitory"  # INH -> EXC is GABAergic


def test_synapse_projections_are_sorted_and_name_every_weight(ei1):
    entries = ei1.synapse_projections()
    assert entries == sorted(entries)
    names = {f"{post}_{pre}-{sec}-{mech}-weight" for post, pre, sec, mech, _ in entries}
    assert names == set(ei1.weight_names)
    assert ("EXC", "INH", "soma", "GABA_A", "inhibitory") in entries


def test_projection_array_holds_every_edge_of_the_projection(ei1):
    adj = ei1.adjacency().toarray()  # A[post, pre] = number of synapses
    for key, proj in ei1.projections.items():
        rows = ei1.projection_array(proj.pre, proj.post)
        counts = np.zeros_like(adj)
        posts = [r[0] for r in rows]
        assert posts == sorted(set(posts))
        for post, (pre_gids, attrs) in rows:
            assert pre_gids.dtype == np.uint32
            assert len(attrs["Synapses"]["syn_id"]) == len(pre_gids)
            assert len(attrs["Connections"]["distance"]) == len(pre_gids)
            np.add.at(counts, (post, pre_gids.astype(np.int64)), 1)
        start, count = ei1.population_ranges[proj.pre]
        pre_range = slice(start, start + count)
        start, count = ei1.population_ranges[proj.post]
        post_range = slice(start, start + count)
        np.testing.assert_array_equal(
            counts[post_range, pre_range], adj[post_range, pre_range], err_msg=key
        )
    with pytest.raises(ConfigError, match="no projection EXC->PYR"):
        ei1.projection_array("EXC", "PYR")


def _reference_matrix(system, seed, scale):
    """The stated rule, independently: one U(0,1) per connected (pre, post) pair in
    ascending (pre, post) order; negative for an inhibitory pre; times the pair's scale."""
    adj = system.adjacency().toarray()
    pre, post = np.nonzero(adj.T)  # row-major over [pre, post]: ascending (pre, post)
    draws = np.random.default_rng(seed).uniform(0, 1, len(pre))
    ranges = system.population_ranges
    types = {p.name: p.synapse_type for p in system.graph.populations}

    def pop(g):
        return next(p for p, (s, c) in ranges.items() if s <= g < s + c)

    w = np.zeros(adj.shape, np.float32)
    for a, b, u in zip(pre, post, draws, strict=True):
        sign = -1.0 if types[pop(a)] == "inhibitory" else 1.0
        w[a, b] = sign * u * scale.get(f"{pop(b)}_{pop(a)}", 1.0)
    return w


def test_connectivity_matrix_follows_the_stated_rule(ei1):
    w = ei1.connectivity_matrix()
    assert w.shape == (10, 10) and w.dtype == np.float32
    np.testing.assert_allclose(w, _reference_matrix(ei1, 123, {}), rtol=1e-6, atol=0)
    assert np.all(w[8:] <= 0) and np.all(w[:8] >= 0)  # INH rows negative
    assert np.array_equal(w != 0, ei1.adjacency().toarray().T > 0)
    scaled = ei1.connectivity_matrix({"EXC_INH": 2.5}, seed=7)
    np.testing.assert_allclose(scaled, _reference_matrix(ei1, 7, {"EXC_INH": 2.5}), rtol=1e-6)
    plain = ei1.connectivity_matrix(seed=7)
    np.testing.assert_allclose(scaled[8:, :8], 2.5 * plain[8:, :8], rtol=1e-6)
    np.testing.assert_array_equal(scaled[:8], plain[:8])
    assert not np.array_equal(plain, w)  # another seed, other draws


def test_connectivity_matrix_gids_take_rows_and_columns_in_order(ei1):
    full = ei1.connectivity_matrix()
    g = [9, 0, 3, 8]
    np.testing.assert_array_equal(ei1.connectivity_matrix(gids=g), full[np.ix_(g, g)])


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"weights": {"EXC-INH": 1.0}}, ["'EXC-INH'", "EXC_INH"]),
        ({"weights": {"EXC_INH": float("nan")}}, ["EXC_INH"]),
        ({"weights": [1.0]}, ["weights", "dict"]),
        ({"seed": -1}, ["seed"]),
        ({"gids": [0, 10]}, ["[10]", "0 … 9"]),
        ({"gids": [1, 1]}, ["distinct"]),
        ({"gids": [0.5]}, ["integer"]),
    ],
)
def test_connectivity_matrix_refuses_bad_arguments(ei1, kwargs, words):
    with pytest.raises(ConfigError) as e:
        ei1.connectivity_matrix(**kwargs)
    for w in words:
        assert w in str(e.value)


# ---------------------------------------------------------------------------- summary
def test_summary_is_the_text_and_reads_as_the_2_0_0_dict(ei1):
    s = ei1.summary()
    assert isinstance(s, str) and s.startswith("System 'EI1'") and "EXC->INH" in s
    assert s[:6] == "System"  # indices and slices are the text's
    assert s["num_neurons"] == 10
    assert s["num_projections"] == len(ei1.graph.projections)
    assert s["population_counts"] == {"EXC": 8, "INH": 2}
    assert dict(s) == ei1.summary_dict() and s.get("missing", 3) == 3
    assert s["num_synapses"] == int(ei1.adjacency().sum())
    with pytest.raises(KeyError, match="num_neurons"):
        s["neurons"]
    again = pickle.loads(pickle.dumps(s))
    assert again == s and again["num_neurons"] == 10


def test_parallel_system_names():
    s = ParallelSystem({"EXC": 2, "INH": 1}, coordinates=10.0)
    np.testing.assert_array_equal(s.connectivity_matrix(), np.zeros((3, 3), np.float32))
    assert s.synapse_projections() == [] and s.connections_config == {"synapses": {}}
    assert s.summary()["population_counts"] == {"EXC": 2, "INH": 1}
    assert s.summary().splitlines()[0].startswith("ParallelSystem")
    np.testing.assert_array_equal(
        np.stack(list(s.coordinates("EXC"))), [[0, 0, 0, 0], [1, 10, 0, 0]]
    )
    with pytest.raises(ConfigError, match="none: this system has no synapses"):
        s.projection_array("EXC", "EXC")
    assert s.default_io() is None


def test_default_io_and_model(ei1):
    io = ei1.default_io()
    assert isinstance(io, MEA) and ei1.has_mea
    np.testing.assert_array_equal(
        io.electrode_coordinates, MEA.from_directory(ei1.uri).electrode_coordinates
    )
    assert isinstance(ei1.default_model(), ReducedCalciumSomaDendrite)

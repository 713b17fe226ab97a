"""System directories: round-trip write/read, format version, corrupt and partial files."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from livn.errors import SystemFormatError
from livn.system import System, neuroh5
from livn.system.graph import FORMAT_VERSION, GraphInfo, PopulationInfo, ProjectionInfo, write_graph
from livn.system.synapses import projection_synapse


def _write_handmade(directory):
    """A 5-cell system written with explicit coordinates and edges, independent of the generator."""
    pops = [
        PopulationInfo(name="EXC", index=0, start=0, count=3, synapse_type="excitatory"),
        PopulationInfo(name="INH", index=1, start=3, count=2, synapse_type="inhibitory"),
    ]
    coords = {
        "EXC": np.array([[0, 0, 1], [100, 0, 2], [0, 100, 3]], dtype=np.float32),
        "INH": np.array([[50, 50, 4], [200, 200, 5]], dtype=np.float32),
    }
    # EXC->INH: INH gid 3 <- EXC 0, 1 ; INH gid 4 <- EXC 2
    # INH->EXC: EXC 0 <- INH 3 ; EXC 1 <- (none) ; EXC 2 <- INH 3, 4
    blocks = {
        ("INH", "EXC"): neuroh5.EdgeBlock(
            indptr=np.array([0, 2, 3]),
            sources=np.array([0, 1, 2]),
            attributes={
                "Connections": {"distance": np.array([1.5, 2.5, 3.5], np.float32)},
                "Synapses": {"syn_id": np.array([0, 1, 0], np.uint32)},
            },
        ),
        ("EXC", "INH"): neuroh5.EdgeBlock(
            indptr=np.array([0, 1, 1, 3]),
            sources=np.array([3, 3, 4]),
            attributes={
                "Connections": {"distance": np.array([7.0, 8.0, 9.0], np.float32)},
                "Synapses": {"syn_id": np.array([0, 0, 1], np.uint32)},
            },
        ),
    }
    neuroh5.write_cells(str(directory / "cells.h5"), pops, coords)
    neuroh5.write_connections(str(directory / "connections.h5"), pops, blocks)
    projs = [
        ProjectionInfo(
            pre="EXC", post="INH", num_edges=3, **projection_synapse("excitatory", "inhibitory")
        ),
        ProjectionInfo(
            pre="INH", post="EXC", num_edges=3, **projection_synapse("inhibitory", "excitatory")
        ),
    ]
    write_graph(
        str(directory),
        GraphInfo(format_version=FORMAT_VERSION, name="hand", populations=pops, projections=projs),
    )
    return coords


def test_round_trip_handmade(tmp_path):
    coords = _write_handmade(tmp_path)
    s = System(tmp_path)
    assert s.name == "hand" and s.num_neurons == 5
    assert s.populations == ["EXC", "INH"]
    assert s.population_ranges == {"EXC": (0, 3), "INH": (3, 2)}
    nc = s.neuron_coordinates
    assert nc.shape == (5, 4)
    np.testing.assert_array_equal(nc[:, 0], np.arange(5))
    np.testing.assert_array_equal(nc[:, 1:], np.concatenate([coords["EXC"], coords["INH"]]))
    np.testing.assert_array_equal(s.bounding_box, [[0, 0, 1], [200, 200, 5]])

    ei = s.projections["EXC->INH"]
    np.testing.assert_array_equal(ei.post_gids, [3, 3, 4])
    np.testing.assert_array_equal(ei.pre_gids, [0, 1, 2])
    np.testing.assert_array_equal(ei.in_degree(), [2, 1])
    np.testing.assert_allclose(ei.distances, [1.5, 2.5, 3.5])
    ie = s.projections["INH->EXC"]
    np.testing.assert_array_equal(ie.post_gids, [0, 2, 2])
    np.testing.assert_array_equal(ie.pre_gids, [3, 3, 4])
    assert ie.weight_names == ["EXC_INH-soma-GABA_A-weight"]
    assert s.weight_names == [
        "INH_EXC-soma-AMPA-weight",
        "INH_EXC-soma-NMDA-weight",
        "EXC_INH-soma-GABA_A-weight",
    ]
    a = s.adjacency().toarray()
    expected = np.zeros((5, 5), int)
    for post, pre in [(3, 0), (3, 1), (4, 2), (0, 3), (2, 3), (2, 4)]:
        expected[post, pre] = 1
    np.testing.assert_array_equal(a, expected)
    assert "EXC->INH" in s.summary() and "hand" in s.summary()


def test_neuroh5_layout(tmp_path):
    """The 2.0.0 NeuroH5 layout: indices relative to the population, rows alphabetical,
    ``Generated Coordinates``, per-edge namespaces in the projection's group."""
    _write_handmade(tmp_path)
    with h5py.File(tmp_path / "cells.h5") as f:
        table = f["H5Types/Populations"][()]
        assert [(int(r[0]), int(r[1]), int(r[2])) for r in table] == [(0, 3, 0), (3, 2, 1)]
        assert h5py.check_enum_dtype(f["H5Types/Population labels"].dtype) == {"EXC": 0, "INH": 1}
        g = f["Populations/EXC/Generated Coordinates/X Coordinate"]
        np.testing.assert_array_equal(g["Cell Index"][()], [0, 1, 2])
        np.testing.assert_array_equal(g["Attribute Pointer"][()], [0, 1, 2, 3])
        assert g["Attribute Value"].dtype == np.float32
        g = f["Populations/INH/Generated Coordinates/Z Coordinate"]
        np.testing.assert_array_equal(g["Cell Index"][()], [0, 1])  # not the gids 3, 4
    with h5py.File(tmp_path / "connections.h5") as f:
        e = f["Projections/INH/EXC/Edges"]
        np.testing.assert_array_equal(e["Destination Block Index"][()], [0])
        np.testing.assert_array_equal(e["Destination Block Pointer"][()], [0, 3])
        np.testing.assert_array_equal(e["Destination Pointer"][()], [0, 2, 3])
        np.testing.assert_array_equal(e["Source Index"][()], [0, 1, 2])
        np.testing.assert_array_equal(f["Projections/EXC/INH/Edges/Source Index"][()], [0, 0, 1])
        np.testing.assert_allclose(f["Projections/EXC/INH/Connections/distance"][()], [7, 8, 9])
        np.testing.assert_array_equal(f["Projections/EXC/INH/Synapses/syn_id"][()], [0, 0, 1])


def test_population_rows_are_alphabetical(tmp_path):
    """2.0.0 names row i after the i-th population group in alphabetical order, so a system
    whose gid order is not alphabetical writes its rows by name."""
    pops = [
        PopulationInfo(name="PYR", index=0, start=0, count=2, synapse_type="excitatory"),
        PopulationInfo(name="BC", index=1, start=2, count=1, synapse_type="inhibitory"),
    ]
    coords = {"PYR": np.zeros((2, 3), np.float32), "BC": np.ones((1, 3), np.float32)}
    neuroh5.write_cells(str(tmp_path / "cells.h5"), pops, coords)
    with h5py.File(tmp_path / "cells.h5") as f:
        rows = [(int(r[0]), int(r[1]), int(r[2])) for r in f["H5Types/Populations"][()]]
        assert rows == [(2, 1, 1), (0, 2, 0)]
        assert sorted(f["Populations"]) == ["BC", "PYR"]
        assert neuroh5.read_population_table(f, "x") == [("PYR", 0, 2), ("BC", 2, 1)]


def test_generated_round_trip(small_system):
    s = System(small_system)
    total = 0
    for name, p in s.projections.items():
        assert name == f"{p.pre}->{p.post}"
        assert np.all(np.diff(p.post_gids) >= 0)
        _, count = s.population_ranges[p.post]
        assert len(p.indptr) == count + 1 and p.indptr[-1] == p.num_edges
        # stored distance equals the 3D distance between the coordinates read back
        xyz = s.neuron_coordinates[:, 1:]
        d = np.linalg.norm(xyz[p.pre_gids] - xyz[p.post_gids], axis=1)
        np.testing.assert_allclose(p.distances, d, rtol=1e-5, atol=1e-3)
        total += p.num_edges
    assert s.num_edges == total == len(s.edges()["pre"])


def test_synapse_ids_are_dense_per_cell(small_system):
    s = System(small_system)
    for pop in s.populations:
        ids = [(p.post_gids, p.syn_ids) for p in s.projections.values() if p.post == pop]
        post = np.concatenate([a for a, _ in ids])
        syn = np.concatenate([b for _, b in ids])
        for gid in np.unique(post)[:20]:
            assert sorted(syn[post == gid].tolist()) == list(range(int(np.sum(post == gid))))
    with h5py.File(s.uri + "/cells.h5") as f:
        g = f["Populations/EXC/Synapse Attributes/syn_type"]
        ptr = g["Attribute Pointer"][()]
        exc_in = sum(p.num_edges for p in s.projections.values() if p.post == "EXC")
        assert ptr[-1] == exc_in


@pytest.fixture
def copy_of(small_system, tmp_path):
    dst = tmp_path / "sys"
    shutil.copytree(small_system, dst)
    return dst


def test_missing_file(copy_of):
    (copy_of / "connections.h5").unlink()
    with pytest.raises(SystemFormatError, match=r"connections\.h5.*missing"):
        System(copy_of)


def test_missing_graph(copy_of):
    (copy_of / "graph.json").unlink()
    with pytest.raises(SystemFormatError, match=r"graph\.json: missing"):
        System(copy_of)


def test_not_a_directory(tmp_path):
    with pytest.raises(SystemFormatError, match=r"not a directory"):
        System(tmp_path / "nope")


def test_corrupt_graph_json(copy_of):
    (copy_of / "graph.json").write_text("{ not json")
    with pytest.raises(SystemFormatError, match=r"graph\.json: not valid JSON"):
        System(copy_of)


def test_format_version_checked(copy_of):
    data = json.loads((copy_of / "graph.json").read_text())
    data["livn"]["config"]["format_version"] = FORMAT_VERSION + 1
    (copy_of / "graph.json").write_text(json.dumps(data))
    with pytest.raises(SystemFormatError, match=r"format_version 3; this livn reads 2"):
        System(copy_of)
    data["version"] = 2  # 2.0.0's own version key: above 1 is refused, as 2.0.0 does
    (copy_of / "graph.json").write_text(json.dumps(data))
    with pytest.raises(SystemFormatError, match=r"version is 2; this livn reads 2\.0\.0"):
        System(copy_of)


def test_graph_json_bad_content(copy_of):
    data = json.loads((copy_of / "graph.json").read_text())
    data["livn"]["config"]["populations"][1]["start"] = 7
    (copy_of / "graph.json").write_text(json.dumps(data))
    with pytest.raises(
        SystemFormatError, match=r"graph\.json: invalid livn element.*starts at gid 7"
    ):
        System(copy_of)


def test_truncated_cells_h5(copy_of):
    path = copy_of / "cells.h5"
    path.write_bytes(path.read_bytes()[:300])
    s = System(copy_of)  # metadata still reads; the corrupt file is reported on access
    with pytest.raises(SystemFormatError, match=r"cells\.h5: not a readable HDF5 file"):
        _ = s.neuron_coordinates


def test_cells_h5_missing_dataset(copy_of):
    with h5py.File(copy_of / "cells.h5", "a") as f:
        del f["Populations/INH/Generated Coordinates/Y Coordinate"]
    with pytest.raises(SystemFormatError, match=r"cells\.h5: missing HDF5 object"):
        _ = System(copy_of).neuron_coordinates


def test_connections_inconsistent_pointer(copy_of):
    with h5py.File(copy_of / "connections.h5", "a") as f:
        ds = f["Projections/EXC/EXC/Edges/Destination Pointer"]
        ptr = ds[()]
        ptr[-1] += 5
        ds[...] = ptr
    with pytest.raises(SystemFormatError, match=r"inconsistent edge pointers"):
        _ = System(copy_of).projections


def test_cells_population_mismatch(copy_of, small_system):
    data = json.loads((copy_of / "graph.json").read_text())
    data["livn"]["config"]["populations"][0]["count"] -= 1
    data["livn"]["config"]["populations"][1]["start"] -= 1
    (copy_of / "graph.json").write_text(json.dumps(data))
    with pytest.raises(SystemFormatError, match=r"do not match graph.json"):
        _ = System(copy_of).neuron_coordinates


def test_fsspec_memory_url(small_system):
    import fsspec

    fs = fsspec.filesystem("memory")
    for name in ("graph.json", "cells.h5", "connections.h5"):
        with open(f"{small_system}/{name}", "rb") as src, fs.open(f"/sysA/{name}", "wb") as dst:
            dst.write(src.read())
    s = System("memory://sysA")
    local = System(small_system)
    assert s.uri == "memory://sysA" and s.num_neurons == local.num_neurons
    np.testing.assert_array_equal(s.neuron_coordinates, local.neuron_coordinates)
    np.testing.assert_array_equal(
        s.projections["EXC->INH"].pre_gids, local.projections["EXC->INH"].pre_gids
    )


def test_neuron_coordinates_are_cached_and_read_only(small_system):
    s = System(small_system)
    nc = s.neuron_coordinates
    assert s.neuron_coordinates is nc
    with pytest.raises(ValueError, match="read-only"):
        nc[0, 1] = 5.0

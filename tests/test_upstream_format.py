"""The livn 2.0.0 system format, both ways (issue 14 part 1; docs/system-format.md).

Directories in the 2.0.0 layout come from ``tests/upstream_writer.py``, an independent writer
made from the format facts (no livn code). Checked here: our reader on them (separate files,
one ``graph.h5``, several destination blocks), the files our writer produces against the
facts (read back with plain h5py/json), the round trip ours -> 2.0.0 -> ours, identical
simulations of one culture in both formats, parameter files, selections, and bad input.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from upstream_writer import tiny_culture, write_upstream

from livn.errors import ConfigError, SystemFormatError
from livn.system import System
from livn.system.convert import convert

MEA_KWARGS = {
    "electrode_coordinates": [[0, 500.0, 500.0, 0.0], [1, 1500.0, 1500.0, 0.0]],
    "input_radius": 300.0,
    "output_radius": 400.0,
}


@pytest.fixture(scope="module")
def culture():
    return tiny_culture(seed=4)


@pytest.fixture
def upstream_dir(tmp_path, culture):
    params = {
        "ReducedCalciumSomaDendrite": {
            "default": {
                "params": {
                    "EXC_EXC-dend-AMPA-weight": 30.0,
                    "weight-INH_EXC-soma-AMPA-weight": 20.0,
                    "EXC_INH-soma-GABA_A-weight": 40.0,
                    "noise-g_e0": 0.02,
                }
            }
        }
    }
    return write_upstream(tmp_path / "up", culture, mea=MEA_KWARGS, params=params)


def _expected_edges(culture, pre, post):
    """(post gids, pre gids) of a projection sorted by post gid (stable), from the writer's
    input."""
    proj = next(p for p in culture["projections"] if p["pre"] == pre and p["post"] == post)
    order = np.argsort(proj["post_gids"], kind="stable")
    return proj["post_gids"][order], proj["pre_gids"][order]


def test_reads_a_2_0_0_directory(upstream_dir, culture):
    s = System(upstream_dir)
    assert s.layout.source == "2.0.0" and s.name == "up"
    assert s.populations == ["EXC", "INH"]
    assert s.population_ranges == {"EXC": (0, 8), "INH": (8, 4)}
    xyz = np.concatenate([culture["coordinates"]["EXC"], culture["coordinates"]["INH"]])
    np.testing.assert_array_equal(s.neuron_coordinates[:, 1:], xyz.astype(np.float64))
    np.testing.assert_array_equal(s.neuron_coordinates[:, 0], np.arange(12))
    for p in culture["projections"]:
        got = s.projections[f"{p['pre']}->{p['post']}"]
        post, pre = _expected_edges(culture, p["pre"], p["post"])
        np.testing.assert_array_equal(got.post_gids, post)
        np.testing.assert_array_equal(got.pre_gids, pre)
        d = np.linalg.norm(xyz[pre].astype(np.float64) - xyz[post], axis=1)
        np.testing.assert_allclose(got.distances, d, rtol=1e-6)
        # syn ids: each post cell's synapses numbered 0..k-1 over its incoming projections
        assert got.info.type == p["type"]
    for pop in s.populations:
        post = np.concatenate([q.post_gids for q in s.projections.values() if q.post == pop])
        syn = np.concatenate([q.syn_ids for q in s.projections.values() if q.post == pop])
        for gid in np.unique(post):
            assert sorted(syn[post == gid]) == list(range(int(np.sum(post == gid))))
    ee = s.projections["EXC->EXC"].info
    assert ee.section == "dendrite" and set(ee.mechanisms) == {"AMPA", "NMDA"}
    assert ee.transmitter == "glutamatergic"
    assert s.projections["INH->EXC"].info.transmitter == "gabaergic"
    assert "EXC_EXC-dendrite-AMPA-weight" in s.weight_names
    assert {p.name: p.synapse_type for p in s.graph.populations} == {
        "EXC": "excitatory",
        "INH": "inhibitory",
    }
    assert s.graph.area["bounds"] == [[0.0, 0.0], [2000.0, 2000.0]]
    s.check()


def test_single_graph_h5_and_several_blocks_read_the_same(tmp_path, culture, upstream_dir):
    a = System(upstream_dir)
    b = System(write_upstream(tmp_path / "one", culture, single_file=True, blocks=3))
    assert b.layout.cells_file == b.layout.connections_file == "graph.h5"
    np.testing.assert_array_equal(a.neuron_coordinates[:, 1:], b.neuron_coordinates[:, 1:])
    for key, p in a.projections.items():
        q = b.projections[key]
        for name in ("pre_gids", "post_gids", "distances", "syn_ids", "indptr"):
            np.testing.assert_array_equal(getattr(p, name), getattr(q, name), err_msg=key)


def test_mea_and_params_of_a_2_0_0_directory(upstream_dir):
    from livn.io.mea import MEA

    mea = MEA.from_directory(upstream_dir)
    assert mea.num_channels == 2 and (mea.input_radius, mea.output_radius) == (300.0, 400.0)
    params = System(upstream_dir).model_params()
    assert params == {
        "weights": {
            "EXC_EXC-dendrite-AMPA-weight": 30.0,
            "INH_EXC-soma-AMPA-weight": 20.0,
            "EXC_INH-soma-GABA_A-weight": 40.0,
        },
        "noise": {"g_e0": 0.02},
    }


def _upstream_facts(directory: Path) -> dict:
    """Read a directory with plain json/h5py by the 2.0.0 format facts (not livn's reader):
    populations from the alphabetical rows, relative indices, per-edge groups."""
    graph = json.loads((directory / "graph.json").read_text())
    assert isinstance(graph["version"], int) and graph["version"] <= 1
    for key, value in graph.items():
        if key == "version":
            continue
        assert isinstance(value, dict), key  # 2.0.0 calls .items() on every other value
        leaves = [value] if "config" in value else list(value.values())
        assert all("uuid" in leaf and isinstance(leaf["config"], dict) for leaf in leaves), key
    conn = next(iter(graph["connections"].values()))["config"]
    out = {"graph": graph, "coords": {}, "edges": {}}
    ns = graph["architecture"]["config"]["coordinate_namespace"]
    with h5py.File(directory / "cells.h5") as f:
        rows = f["H5Types/Populations"][()]
        names = sorted(f["Populations"])
        starts = {n: int(r[0]) for n, r in zip(names, rows, strict=True)}
        for n in names:
            cols = []
            for axis in "XYZ":
                g = f[f"Populations/{n}/{ns}/{axis} Coordinate"]
                idx = g["Cell Index"][()]
                cols.append(g["Attribute Value"][()][np.argsort(idx)])
                assert idx.min() == 0  # relative
            out["coords"][n] = np.column_stack(cols)
    with h5py.File(directory / "connections.h5") as f:
        for post, by_pre in conn["synapses"].items():
            for pre in by_pre:
                g = f[f"Projections/{post}/{pre}"]
                e = g["Edges"]
                bi = e["Destination Block Index"][()].astype(np.int64)
                bp = e["Destination Block Pointer"][()]
                ptr = e["Destination Pointer"][()].astype(np.int64)
                src = e["Source Index"][()]
                assert len(bi) == 1 and bp[-1] == len(ptr)  # one block, sentinel included
                dst = np.repeat(bi[0] + np.arange(len(ptr) - 1), np.diff(ptr)) + starts[post]
                out["edges"][(pre, post)] = (
                    dst,
                    src.astype(np.int64) + starts[pre],
                    g["Connections/distance"][()],
                    g["Synapses/syn_id"][()],
                )
    return out


def test_our_files_follow_the_2_0_0_facts(small_system, tmp_path):
    ours = System(small_system)
    assert ours.layout.source == "livn"
    facts = _upstream_facts(Path(small_system))
    assert facts["graph"]["livn"]["config"]["name"] == ours.name
    for pop in ours.populations:
        np.testing.assert_array_equal(facts["coords"][pop], ours.coordinates[pop])
    for key, p in ours.projections.items():
        dst, src, dist, syn = facts["edges"][(p.pre, p.post)]
        np.testing.assert_array_equal(dst, p.post_gids, err_msg=key)
        np.testing.assert_array_equal(src, p.pre_gids, err_msg=key)
        np.testing.assert_array_equal(dist, p.distances, err_msg=key)
        np.testing.assert_array_equal(syn, p.syn_ids, err_msg=key)
        spec = next(iter(facts["graph"]["connections"].values()))["config"]["synapses"]
        section = spec[p.post][p.pre]["sections"]
        assert section == [{"dendrite": "dend"}.get(p.info.section, p.info.section)]


def _same_system(a: System, b: System) -> None:
    assert a.populations == b.populations and a.population_ranges == b.population_ranges
    np.testing.assert_array_equal(a.neuron_coordinates, b.neuron_coordinates)
    assert list(a.projections) == list(b.projections)
    assert a.weight_names == b.weight_names
    for key, p in a.projections.items():
        q = b.projections[key]
        for name in ("pre_gids", "post_gids", "distances", "syn_ids", "indptr"):
            np.testing.assert_array_equal(getattr(p, name), getattr(q, name), err_msg=key)
        assert p.info.model_dump() == q.info.model_dump()
    assert [p.model_dump() for p in a.graph.populations] == [
        p.model_dump() for p in b.graph.populations
    ]
    for pop in a.populations:
        sa, sb = a.synapse_attributes(pop), b.synapse_attributes(pop)
        for name in ("syn_ids", "swc_types"):
            if name not in sa:  # a legacy source without synapse attributes
                continue
            np.testing.assert_array_equal(sa[name][0], sb[name][0])
            np.testing.assert_array_equal(sa[name][1], sb[name][1])


def test_round_trip_ours_to_2_0_0_to_ours(small_system, tmp_path):
    from livn.io.mea import MEA
    from livn.system.predefined import write_model_defaults

    src = tmp_path / "src"
    shutil.copytree(small_system, src)
    MEA.grid(nx=2, ny=2, pitch=800.0, max_input_current=2.5).save(src)
    write_model_defaults({"RCSD": {"weights": {"excitatory": 3.0}, "noise": {"EXC-g_e0": 0.02}}},
                         src)  # fmt: skip
    original = System(src)

    with pytest.warns(UserWarning, match="max_input_current 2.5"):
        up = Path(convert(src, tmp_path / "up", format="2.0.0"))
    graph = json.loads((up / "graph.json").read_text())
    assert "livn" not in graph and graph["version"] == 1
    assert "max_input_current" not in json.loads((up / "mea.json").read_text())
    default = json.loads((up / "params/default.json").read_text())
    flat = default["ReducedCalciumSomaDendrite"]["default"]["params"]
    assert flat["EXC_EXC-dend-AMPA-weight"] == pytest.approx(3.0)
    assert "noise-EXC-g_e0" not in flat  # 2.0.0's set_params cannot apply it
    mid = System(up)
    assert mid.layout.source == "2.0.0" and mid.name == "up"
    _same_system(original, mid)

    back = System(convert(up, tmp_path / "back"))
    assert back.layout.source == "livn"
    _same_system(original, back)
    assert back.model_params() == original.model_params()
    mea, mea0 = MEA.from_directory(back.uri), MEA.from_directory(src)
    np.testing.assert_array_equal(mea.electrode_coordinates, mea0.electrode_coordinates)
    assert (mea.input_radius, mea.output_radius) == (mea0.input_radius, mea0.output_radius)
    assert mea.max_input_current == 1.0  # left out of the 2.0.0 directory (warned above)
    # the converted files are byte-identical to a second conversion (deterministic ids)
    again = Path(convert(up, tmp_path / "again"))
    for name in ("graph.json", "cells.h5", "connections.h5"):
        assert (again / name).read_bytes() == (Path(back.uri) / name).read_bytes(), name


def test_convert_keeps_2_0_0_elements_and_files(upstream_dir, tmp_path):
    (upstream_dir / "selection").mkdir()
    arch = json.loads((upstream_dir / "graph.json").read_text())["architecture"]["uuid"]
    sel = {"gids": {"EXC": [0, 3], "INH": [9]}, "meta": {"graph": arch}}
    (upstream_dir / "selection" / "patch.json").write_text(json.dumps(sel))
    (upstream_dir / "model.json").write_text(
        json.dumps({"cls": "livn.models.rcsd.X", "kwargs": {}})
    )
    s = System(upstream_dir)
    np.testing.assert_array_equal(s.selections["patch"], [0, 3, 9])
    assert s.model_config["cls"] == "livn.models.rcsd.X"
    out = System(convert(upstream_dir, tmp_path / "conv"))
    graph = json.loads((Path(out.uri) / "graph.json").read_text())
    assert graph["architecture"]["uuid"] == arch  # selections still refer to it
    np.testing.assert_array_equal(out.selections["patch"], [0, 3, 9])
    assert out.model_config == s.model_config
    _same_system(s, out)


def _run(path, duration=300.0):
    from livn.env import Env

    env = Env(path, seed=7).init()
    env.set_weights({k: 20.0 for k in env.weight_names})
    env.set_noise({"g_e0": 0.03, "std_e": 0.006})
    env.record_spikes()
    env.record_voltage()
    it, t, _, v = env.run(duration)
    env.close()
    return np.asarray(it), np.asarray(t), np.asarray(v)


def test_same_culture_in_both_formats_simulates_identically(upstream_dir, tmp_path):
    ours = convert(upstream_dir, tmp_path / "ours")
    it_a, t_a, v_a = _run(upstream_dir)
    it_b, t_b, v_b = _run(ours)
    assert len(it_a) > 5  # a run with spikes, or the comparison says little
    np.testing.assert_array_equal(it_a, it_b)
    np.testing.assert_array_equal(t_a, t_b)
    np.testing.assert_array_equal(v_a, v_b)


def test_legacy_format_1_is_read_and_converted(tmp_path, culture):
    """Directories written by earlier livn versions (global indices, ``Coordinates``,
    ``Attributes/<namespace>``, top-level ``format_version`` 1), written here by hand."""
    d = tmp_path / "legacy"
    d.mkdir()
    starts = {"EXC": 0, "INH": 8}
    enum = h5py.enum_dtype({"EXC": 0, "INH": 1}, basetype=np.uint16)
    table = np.array([(0, 8, 0), (8, 4, 1)],
                     dtype=[("Start", "<u8"), ("Count", "<u4"), ("Population", enum)])  # fmt: skip
    with h5py.File(d / "cells.h5", "w") as f:
        f["H5Types/Populations"] = table
        for pop, n in (("EXC", 8), ("INH", 4)):
            for k, axis in enumerate("XYZ"):
                g = f.create_group(f"Populations/{pop}/Coordinates/{axis} Coordinate")
                g["Cell Index"] = np.arange(starts[pop], starts[pop] + n, dtype=np.uint32)
                g["Attribute Pointer"] = np.arange(n + 1, dtype=np.uint64)
                g["Attribute Value"] = culture["coordinates"][pop][:, k]
    projections = []
    with h5py.File(d / "connections.h5", "w") as f:
        f["H5Types/Populations"] = table
        for p in culture["projections"]:
            post, pre = _expected_edges(culture, p["pre"], p["post"])
            n_post = 8 if p["post"] == "EXC" else 4
            ptr = np.concatenate([[0], np.cumsum(np.bincount(post - starts[p["post"]],
                                                             minlength=n_post))])  # fmt: skip
            e = f.create_group(f"Projections/{p['post']}/{p['pre']}/Edges")
            e["Destination Block Index"] = np.array([starts[p["post"]]], np.uint32)
            e["Destination Block Pointer"] = np.array([0, n_post + 1], np.uint64)
            e["Destination Pointer"] = ptr.astype(np.uint64)
            e["Source Index"] = pre.astype(np.uint32)
            a = f.create_group(f"Projections/{p['post']}/{p['pre']}/Attributes")
            a["Connections/distance"] = np.full(len(pre), 5.0, np.float32)
            a["Synapses/syn_id"] = np.zeros(len(pre), np.uint32)
            section = {"dend": "dendrite"}.get(p["section"], p["section"])
            projections.append({"pre": p["pre"], "post": p["post"], "type": p["type"],
                                "transmitter": "glutamatergic" if p["type"] == "excitatory"
                                else "gabaergic", "section": section,
                                "mechanisms": p["mechanisms"], "num_edges": len(pre)})  # fmt: skip
    pops = [{"name": "EXC", "index": 0, "start": 0, "count": 8, "synapse_type": "excitatory"},
            {"name": "INH", "index": 1, "start": 8, "count": 4, "synapse_type": "inhibitory"}]  # fmt: skip
    (d / "graph.json").write_text(json.dumps({"format_version": 1, "name": "old",
                                              "populations": pops, "projections": projections}))  # fmt: skip
    old = System(d)
    assert old.layout.source == "livn-1" and old.name == "old"
    for p in culture["projections"]:
        post, pre = _expected_edges(culture, p["pre"], p["post"])
        got = old.projections[f"{p['pre']}->{p['post']}"]
        np.testing.assert_array_equal(got.post_gids, post)
        np.testing.assert_array_equal(got.pre_gids, pre)
    new = System(convert(d, tmp_path / "new"))
    assert new.layout.source == "livn" and new.name == "old"
    _same_system(old, new)


def test_neither_format_is_refused(tmp_path):
    d = tmp_path / "other"
    d.mkdir()
    (d / "graph.json").write_text(json.dumps({"nodes": [], "edges": []}))
    with pytest.raises(SystemFormatError, match=r"neither a livn nor a livn 2\.0\.0.*'version'.*"
                       r"'architecture'.*'format_version'"):  # fmt: skip
        System(d)
    (d / "graph.json").write_text(json.dumps({"version": 1, "architecture": {"uuid": "x"}}))
    with pytest.raises(SystemFormatError, match=r"element 'architecture' is missing or has no"):
        System(d)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s["EXC"]["EXC"].update(sections=["dend", "soma"]), r"one section"),
        (lambda s: s["EXC"]["EXC"].update(sections=["apical_tuft"]), r"unknown section"),
        (lambda s: s["EXC"]["INH"].update(type="modulatory"), r"type 'modulatory'; valid"),
        (lambda s: s.setdefault("EXC", {}).update(GLIA=s["EXC"]["EXC"]), r"population 'GLIA'"),
    ],
)
def test_bad_2_0_0_synapse_definitions(upstream_dir, edit, message):
    graph = json.loads((upstream_dir / "graph.json").read_text())
    edit(next(iter(graph["connections"].values()))["config"]["synapses"])
    (upstream_dir / "graph.json").write_text(json.dumps(graph))
    with pytest.raises(SystemFormatError, match=message):
        System(upstream_dir)


def test_bad_selection_names_the_gids(upstream_dir):
    (upstream_dir / "selection").mkdir()
    (upstream_dir / "selection" / "s.json").write_text(json.dumps({"gids": {"INH": [2]}}))
    with pytest.raises(SystemFormatError, match=r"gids \[2\] are not in population INH \[8, 12\)"):
        _ = System(upstream_dir).selections


def test_convert_refuses_bad_format_and_nonempty_target(upstream_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"format '2\.0' .*valid: livn, 2\.0\.0.*Did you mean"):
        convert(upstream_dir, tmp_path / "x", format="2.0")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"not empty; choose a new or empty directory"):
        convert(upstream_dir, tmp_path / "full")
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"
    out = convert(upstream_dir, tmp_path / "sys")
    with pytest.raises(ConfigError, match=r"holds a system; pass overwrite=True"):
        convert(upstream_dir, tmp_path / "sys")
    assert convert(upstream_dir, tmp_path / "sys", overwrite=True) == out


def test_cli_convert(upstream_dir, tmp_path):
    from livn.cli.main import main

    assert main(["systems", "convert", str(upstream_dir), str(tmp_path / "c")]) == 0
    assert System(tmp_path / "c").layout.source == "livn"
    assert main(["systems", "convert", str(tmp_path / "nope"), str(tmp_path / "d")]) == 2


LIVN200 = os.environ.get("LIVN200_PYTHON")


@pytest.mark.skipif(not LIVN200, reason="set LIVN200_PYTHON to a Python with livn 2.0.0")
def test_published_2_0_0_reads_our_directory(small_system, tmp_path):
    """Black-box check with the published package (a subprocess using its public API)."""
    script = textwrap.dedent(
        """
        import json, sys
        from livn.system import System
        s = System(sys.argv[1])
        edges = {f"{pre}->{post}": sum(len(r[1][0]) for r in s.projection_array(pre, post))
                 for pre in s.populations for post in s.populations}
        print(json.dumps({"ranges": {k: list(v) for k, v in s.population_ranges.items()},
                          "edges": edges, "weights": s.weight_names,
                          "xyz": s.neuron_coordinates.tolist()}))
        """
    )
    out = subprocess.run([LIVN200, "-c", script, small_system], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    theirs = json.loads(out.stdout.strip().splitlines()[-1])
    ours = System(small_system)
    assert theirs["ranges"] == {k: list(v) for k, v in ours.population_ranges.items()}
    for key, p in ours.projections.items():
        assert theirs["edges"][key] == p.num_edges
    assert sorted(theirs["weights"]) == sorted(w.replace("-dendrite-", "-dend-")
                                               for w in ours.weight_names)  # fmt: skip
    np.testing.assert_allclose(theirs["xyz"], ours.neuron_coordinates, rtol=1e-6)

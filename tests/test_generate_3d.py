"""3D layered generator: layers and spacing, degree statistics and kernel, determinism,
``!include``, transmitters, bad input, the ``generate`` job and CLI, predefined S systems."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.spatial import cKDTree

from livn.cli.main import main as cli
from livn.errors import ConfigError, ConnectivityWarning, SizeLimitError
from livn.system import System, make, predefined
from livn.system.layered import from_dict, load, write_layered
from livn.system.predefined import shipped_config
from livn.workflows import get
from livn.workflows.generate import Generate


def _config(exc=800, inh=200, degrees=(20, 20, 1.2, 1.2), seed=1, **geometry) -> dict:
    """An S3-like config (EXC in SP, INH over SO/SP/SR, 4 x 4 mm)."""
    ee, ei, ie, ii = degrees
    return {
        "name": "T",
        "seed": seed,
        "Cell Types": {"EXC": {"synapse_type": "excitatory"},
                       "INH": {"synapse_type": "inhibitory"}},
        "Synapses": {"EXC": {"EXC": {"degree": ee}, "INH": {"degree": ie}},
                     "INH": {"EXC": {"degree": ei}, "INH": {"degree": ii}}},
        "Geometry": {"Cell Distribution": {"EXC": {"Layer": "SP", "Count": exc},
                                           "INH": {"Layer": "SO, SP, SR", "Count": inh}},
                     "Axon Extent": {"EXC": 1000.0, "INH": 500.0}, **geometry},
    }  # fmt: skip


def _write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def _build(tmp_path, data, name="sys") -> System:
    return System(write_layered(from_dict(data, name="T"), tmp_path / name))


@pytest.fixture(scope="module")
def s3_like(tmp_path_factory) -> System:
    return _build(tmp_path_factory.mktemp("l3"), _config())


# ------------------------------------------------------------------- placement and spacing
def test_cells_lie_in_their_layers_split_by_volume(s3_like):
    s = s3_like
    area = s.graph.area
    assert s.graph.kind == "layered-3d" and area["type"] == "layered"
    # INH over SO (100 µm), SP (50 µm), SR (200 µm): 200 split 57/29/114 by volume
    assert area["cells_per_layer"] == {"EXC": {"SP": 800}, "INH": {"SO": 57, "SP": 29, "SR": 114}}
    coords = s.neuron_coordinates
    assert np.all((coords[:, 1:3] >= 0) & (coords[:, 1:3] <= 4000))
    layers = area["layers"]
    for pop, per_layer in area["cells_per_layer"].items():
        start, _ = s.population_ranges[pop]
        for layer, n in per_layer.items():  # cells are ordered by layer within a population
            z = coords[start : start + n, 3]
            assert np.all((z >= layers[layer][0]) & (z <= layers[layer][1])), (pop, layer)
            assert n < 5 or np.ptp(z) > 0.5 * (layers[layer][1] - layers[layer][0])
            start += n


def test_minimum_spacing_holds_in_stored_coordinates(tmp_path):
    # 1,000 cells in an 800 x 800 µm patch (800 in the 50 µm SP) with 20 µm spacing: uniform
    # placement would put hundreds of pairs closer than that
    data = _config(exc=800, inh=200, degrees=(5, 5, 2, 2))
    data["Geometry"].update({"Area": {"x": [0, 800], "y": [0, 800]}, "Minimum Spacing": 20.0})
    s = _build(tmp_path, data)
    xyz = s.neuron_coordinates[:, 1:].astype(np.float64)
    assert len(cKDTree(xyz).query_pairs(np.nextafter(20.0, 0))) == 0
    rng = np.random.default_rng(0)
    uniform = np.column_stack([rng.uniform(0, 800, (800, 2)), rng.uniform(100, 150, 800)])
    assert len(cKDTree(uniform).query_pairs(20.0)) > 100


def test_per_layer_counts_and_custom_layers(tmp_path):
    data = _config(exc=10, inh=10, degrees=(1, 1, 1, 1))
    data["Geometry"]["Area"] = {"x": [0, 300], "y": [0, 300]}  # every pair within reach
    data["Definitions"] = {"Layers": {"L1": [0, 20], "L2": [20, 200]}}
    data["Geometry"]["Cell Distribution"] = {
        "EXC": {"Layer": "L2", "Count": 10},
        "INH": {"Count": {"L1": 7, "L2": 3}},  # per layer: Layer may be left out
    }
    c = from_dict(data, name="T")
    assert c.layer_counts() == {"EXC": {"L2": 10}, "INH": {"L1": 7, "L2": 3}}
    s = System(write_layered(c, tmp_path / "s"))
    z = s.neuron_coordinates[10:, 3]
    assert np.all(z[:7] <= 20) and np.all(z[7:] >= 20)


# ------------------------------------------------------------------- connectivity
def test_in_degree_matches_config_within_5_percent(s3_like):
    counts = {p: c for p, (_, c) in s3_like.population_ranges.items()}
    want = {"EXC->EXC": 20, "EXC->INH": 20, "INH->EXC": 1.2, "INH->INH": 1.2}
    for name, p in s3_like.projections.items():
        expected = want[name] * counts[p.post]
        assert abs(p.num_edges - expected) < 5 * np.sqrt(expected), name
        if expected > 1000:
            assert abs(p.num_edges / expected - 1) < 0.05, name


def test_reach_is_the_axon_square_and_probability_gaussian(s3_like):
    xy = s3_like.neuron_coordinates[:, 1:3].astype(np.float64)
    p = s3_like.projections["EXC->EXC"]
    d = xy[p.post_gids] - xy[p.pre_gids]
    assert np.all(np.abs(d) < 500) and np.all(p.pre_gids != p.post_gids)
    # connection probability vs planar distance: ratio of edges to candidate pairs per bin
    exc = xy[:800]
    pairs = cKDTree(exc).sparse_distance_matrix(cKDTree(exc), 500, p=np.inf, output_type="ndarray")
    pairs = pairs[(pairs["v"] < 500) & (pairs["i"] != pairs["j"])]
    dist = np.linalg.norm(exc[pairs["i"]] - exc[pairs["j"]], axis=1)
    bins = np.array([0, 150, 300, 450, 600])
    cand = np.histogram(dist, bins)[0]
    edges = np.histogram(np.linalg.norm(d, axis=1), bins)[0]
    ratio = edges / cand
    sigma = 1000 / 3
    mid = 0.5 * (bins[1:] + bins[:-1])
    kernel = np.exp(-(mid**2) / (2 * sigma**2))
    np.testing.assert_allclose(ratio / ratio[0], kernel / kernel[0], rtol=0.2)


def test_small_system_degrees_within_5_sigma(tmp_path):
    s = _build(tmp_path, _config(exc=80, inh=20, degrees=(2, 2, 0.1, 0.1)))
    counts = {p: c for p, (_, c) in s.population_ranges.items()}
    want = {"EXC->EXC": 2, "EXC->INH": 2, "INH->EXC": 0.1, "INH->INH": 0.1}
    for name, p in s.projections.items():
        expected = want[name] * counts[p.post]
        assert abs(p.num_edges - expected) <= 5 * np.sqrt(expected) + 1, name


def test_contacts_allow_several_synapses_per_pair(tmp_path):
    data = _config(exc=200, inh=50, degrees=(5, 5, 1, 1))
    data["Synapses"]["EXC"]["EXC"] = {"contacts": 30, "section": "dendrite"}
    data["Geometry"]["Area"] = {"x": [0, 1000], "y": [0, 1000]}
    s = _build(tmp_path, data)
    p = s.projections["EXC->EXC"]
    assert abs(p.num_edges - 30 * 200) < 5 * np.sqrt(30 * 200)
    pairs = np.unique(np.column_stack([p.post_gids, p.pre_gids]), axis=0)
    assert len(pairs) < p.num_edges  # multapses exist
    for post in range(5):  # syn ids on a post cell are distinct 0..k-1 over its projections
        ids = np.concatenate([q.syn_ids[q.post_gids == post] for q in s.projections.values()])
        assert sorted(ids.tolist()) == list(range(len(ids)))


def test_unreachable_degree_warns(tmp_path):
    with pytest.warns(ConnectivityWarning, match=r"INH->EXC cannot be reached"):
        _build(tmp_path, _config(exc=80, inh=20, degrees=(2, 2, 20, 0.1)))


def test_shipped_configs_build_without_warnings(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("S1", "S2", "S3"):
            write_layered(load(shipped_config(name)), tmp_path / name)


# ------------------------------------------------------------------- determinism
def _digests(path) -> dict[str, str]:
    return {f: hashlib.sha256((Path(path) / f).read_bytes()).hexdigest()
            for f in ("cells.h5", "connections.h5", "graph.json")}  # fmt: skip


def test_rebuilds_are_byte_identical(tmp_path):
    data = _config(exc=400, inh=100, degrees=(10, 10, 1, 1))
    a = write_layered(from_dict(copy.deepcopy(data), name="T"), tmp_path / "a")
    b = write_layered(from_dict(copy.deepcopy(data), name="T"), tmp_path / "deeper" / "b")
    assert _digests(a) == _digests(b)
    data["seed"] = 2
    c = write_layered(from_dict(data, name="T"), tmp_path / "c")
    assert _digests(c)["cells.h5"] != _digests(a)["cells.h5"]


def test_relaunch_is_a_noop_and_a_different_config_is_refused(tmp_path):
    out = tmp_path / "s"
    small = {"degrees": (1, 1, 0.05, 0.05)}
    write_layered(from_dict(_config(exc=40, inh=10, **small), name="T"), out)
    before = _digests(out)
    write_layered(from_dict(_config(exc=40, inh=10, **small), name="T"), out)
    assert _digests(out) == before
    with pytest.raises(ConfigError, match=r"different configuration"):
        write_layered(from_dict(_config(exc=40, inh=11, **small), name="T"), out)
    assert _digests(out) == before


# ------------------------------------------------------------------- !include
def _main_yaml(includes: dict[str, str]) -> str:
    data = _config(exc=20, inh=5, degrees=(1, 1, 0.1, 0.1))
    lines = ["name: T\nseed: 1\n"]
    for key, target in includes.items():
        lines.append(f"{key}: !include {target}\n")
        data.pop(key, None)
    data.pop("name"), data.pop("seed")
    return "".join(lines) + yaml.safe_dump(data, sort_keys=False)


def test_include_relative_and_nested(tmp_path):
    cfg = tmp_path / "configs" / "main.yml"
    _write(cfg, _main_yaml({"Cell Types": "shared/types.yml", "Definitions": "shared/defs.yml"}))
    _write(tmp_path / "configs/shared/types.yml", "EXC: !include exc.yml\nINH: {synapse_type: "
           "inhibitory}\n")  # nested: relative to shared/  # fmt: skip
    _write(tmp_path / "configs/shared/exc.yml", "{synapse_type: excitatory, transmitter: cholinergic}")
    _write(tmp_path / "configs/shared/defs.yml", "Layers: {SO: [0, 100], SP: [100, 150], SR: [150, 350]}")
    os.chdir(tmp_path)  # not the config's directory: includes resolve from the including file
    c = load(Path("configs/main.yml"))
    assert c.cell_types["EXC"].transmitter == "cholinergic" and list(c.layers) == ["SO", "SP", "SR"]
    assert c.name == "T"


def test_include_cycle_and_missing_file(tmp_path):
    _write(tmp_path / "a.yml", _main_yaml({"Cell Types": "b.yml"}))
    _write(tmp_path / "b.yml", "EXC: !include c.yml\n")
    _write(tmp_path / "c.yml", "x: !include b.yml\n")
    with pytest.raises(ConfigError, match=r"include cycle \(b.yml -> c.yml -> b.yml\)") as e:
        load(tmp_path / "a.yml")
    assert "c.yml, line 1" in str(e.value)
    _write(tmp_path / "a.yml", _main_yaml({"Synapses": "nothere.yml"}))
    with pytest.raises(ConfigError, match=r"nothere.yml.*included from .*a.yml, line \d+ \(key "
                       r"Synapses\).*does not exist"):  # fmt: skip
        load(tmp_path / "a.yml")
    _write(tmp_path / "self.yml", "Geometry: !include self.yml\n")
    with pytest.raises(ConfigError, match=r"include cycle \(self.yml -> self.yml\)"):
        load(tmp_path / "self.yml")


def test_yaml_is_read_safely(tmp_path):
    _write(tmp_path / "x.yml", "Cell Types: !!python/object/apply:os.system [echo hi]\n")
    with pytest.raises(ConfigError, match=r"invalid YAML"):
        load(tmp_path / "x.yml")


# ------------------------------------------------------------------- transmitters
def test_transmitter_reaches_graph_and_engine(tmp_path):
    data = _config(exc=40, inh=10, degrees=(3, 3, 1, 1))
    data["Geometry"]["Area"] = {"x": [0, 1000], "y": [0, 1000]}
    data["Cell Types"]["EXC"]["transmitter"] = "cholinergic"
    data["Cell Types"]["INH"]["transmitter"] = "glycinergic"
    s = _build(tmp_path, data)
    graph = json.loads((Path(s.uri) / "graph.json").read_text())
    populations = graph["livn"]["config"]["populations"]  # livn's element of graph.json
    assert [p["transmitter"] for p in populations] == ["cholinergic", "glycinergic"]
    ee = {f"{p.pre}->{p.post}": p for p in s.graph.projections}
    assert set(ee["EXC->EXC"].mechanisms) == {"AMPA"}  # no NMDA
    ampa = ee["EXC->EXC"].mechanisms["AMPA"]
    assert (ampa.tau_decay, ampa.weight, ampa.e) == (7.0, 7.0, 0.0)
    gly = ee["INH->EXC"].mechanisms["GABA_A"]
    assert (gly.e, gly.g_unit, gly.tau_decay, gly.weight) == (-70.0, 2.5e-4, 5.0, 5.0)

    from livn.env import Env

    env = Env(s).init()
    channels = {c.key: c for g in env.engine.net.groups for c in g.channels}
    ch = channels["EXC_EXC-dendrite-AMPA-weight"]
    assert (ch.kinetics.tau_decay, ch.kinetics.e, ch.weight) == (7.0, 0.0, 7.0)
    assert ch.kinetics.depression and not ch.kinetics.nmda
    g = channels["EXC_INH-soma-GABA_A-weight"]
    assert (g.kinetics.e, g.kinetics.g_unit, g.kinetics.tau_decay) == (-70.0, 2.5e-4, 5.0)
    from livn.system.predefined import resolve_defaults

    template = resolve_defaults(s.graph, None)["weights"]  # defaults' factors scale this
    assert template["EXC_EXC-dendrite-AMPA-weight"] == 7.0
    assert template["EXC_INH-soma-GABA_A-weight"] == 5.0


def test_transmitter_in_2d_cultures(tmp_path):
    from livn.env import Env

    generated = get("generate_2d", {
        "total_cells": 40,
        "populations": {"EXC": {"ratio": 0.8, "synapse_type": "excitatory",
                                "transmitter": "cholinergic"},
                        "INH": {"ratio": 0.2, "synapse_type": "inhibitory"}},
        "connectivity": {"mean_degree": 2.0},
        "output_directory": str(tmp_path / "c"),
    })  # fmt: skip
    s = generated.launch()
    info = {p.name: p for p in s.graph.populations}
    assert info["EXC"].transmitter == "cholinergic" and info["INH"].transmitter == "gabaergic"
    projections = {f"{p.pre}->{p.post}": p for p in s.graph.projections}
    assert projections["EXC->INH"].transmitter == "cholinergic"
    assert projections["EXC->INH"].mechanisms["AMPA"].tau_decay == 7.0
    env = Env(s).init()
    kin = [c.kinetics for g in env.engine.net.groups for c in g.channels if c.mechanism == "AMPA"]
    assert kin and all(k.tau_decay == 7.0 for k in kin)
    # the 2,600-cell cultures are cholinergic
    e3i = {f"{p.pre}->{p.post}": p for p in make("E3I").graph.projections}
    assert e3i["EXC->INH"].transmitter == "cholinergic" and "NMDA" not in e3i["EXC->INH"].mechanisms


@pytest.mark.parametrize(
    ("transmitter", "sign", "match"),
    [
        ("dopaminergic", "excitatory", r"unknown transmitter 'dopaminergic'; valid for excitatory "
                                       r"cells: glutamatergic, cholinergic"),
        ("gabaergic", "excitatory", r"'gabaergic' is inhibitory.*valid for excitatory cells: "
                                    r"glutamatergic, cholinergic"),
        ("cholinergc", "excitatory", r"Did you mean 'cholinergic'"),
        ("glutamatergic", "inhibitory", r"valid for inhibitory cells: gabaergic, glycinergic"),
    ],
)
def test_bad_transmitters(tmp_path, transmitter, sign, match):
    from livn.system.culture import CultureConfig

    with pytest.raises(ConfigError, match=match):
        from livn._config import validate

        validate(CultureConfig, {"populations": {"P": {"ratio": 1.0, "synapse_type": sign,
                                                       "transmitter": transmitter}}})  # fmt: skip
    data = _config(exc=10, inh=2)
    pop = "EXC" if sign == "excitatory" else "INH"
    data["Cell Types"][pop]["transmitter"] = transmitter
    with pytest.raises(ConfigError, match=rf"Cell Types.{pop}.transmitter: .*{match}"):
        from_dict(data, "cfg.yml", name="T")


# ------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d["Geometry"].update({"Axon Extnt": {}}),
         r"unknown key 'Geometry.Axon Extnt'.*Did you mean 'Axon Extent'"),
        (lambda d: d["Geometry"]["Cell Distribution"]["INH"].update({"Layr": "SO"}),
         r"unknown key 'Geometry.Cell Distribution.INH.Layr'.*Valid keys here: Layer, Count"),
        (lambda d: d["Geometry"]["Cell Distribution"]["INH"].update({"Layer": "SO, SX"}),
         r"Geometry.Cell Distribution.INH.Layer: unknown layer 'SX'; defined layers.*SO, SP, SR, "
         r"SLM"),
        (lambda d: d["Geometry"]["Cell Distribution"]["EXC"].update({"Count": 0}),
         r"Geometry.Cell Distribution.EXC.Count: 0 must be an integer >= 1"),
        (lambda d: d["Geometry"]["Cell Distribution"]["EXC"].update({"Count": 5.0}),
         r"'Geometry.Cell Distribution.EXC.Count'.*must be an integer"),
        (lambda d: d["Geometry"]["Axon Extent"].update({"INH": 0}),
         r"Geometry.Axon Extent.INH: 0(\.0)? must be a positive length"),
        (lambda d: d["Geometry"]["Axon Extent"].update({"INH": -5.0}),
         r"Geometry.Axon Extent.INH: -5.0 must be a positive length"),
        (lambda d: d["Geometry"]["Axon Extent"].update({"INH": float("nan")}),
         r"Axon Extent.INH.*finite"),
        (lambda d: d["Geometry"]["Axon Extent"].pop("INH"),
         r"Geometry.Axon Extent: population 'INH' projects"),
        (lambda d: d["Synapses"]["EXC"].update({"IHN": {"degree": 1}}),
         r"Synapses.EXC.IHN: unknown pre population 'IHN'.*Did you mean 'INH'"),
        (lambda d: d["Synapses"]["INH"]["EXC"].update({"section": "dendrite"}),
         r"Synapses.INH.EXC.section: INH cells are inhibitory.*valid: soma"),
        (lambda d: d["Synapses"]["INH"]["EXC"].update({"contacts": 3}),
         r"exactly one of 'degree'"),
        (lambda d: d["Geometry"]["Cell Distribution"]["EXC"].update({"Count": 900_000}),
         r"layer SP .* cannot hold 900,\d+ cells at least 10 µm apart"),
        (lambda d: d.update({"Definitions": {"Layers": {"A": [0, 10], "B": [5, 20]}}}),
         r"Definitions.Layers.B: \[5, 20\] overlaps layer A"),
    ],
)
def test_bad_input_names_file_and_key_and_writes_nothing(tmp_path, edit, match):
    data = _config(exc=20, inh=5)
    edit(data)
    path = _write(tmp_path / "cfg" / "bad.yml", data)
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=match) as e:
        Generate({"config": str(path), "output_directory": str(out)}).launch()
    assert str(path) in str(e.value)
    rc = cli(["systems", "generate", f"config={path}", f"output_directory={out}", "--launch"])
    assert rc == 2 and not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cfg"]


def test_error_in_an_included_file_names_that_file(tmp_path):
    _write(tmp_path / "main.yml", _main_yaml({"Synapses": "syn.yml"}))
    _write(tmp_path / "syn.yml", "EXC: {EXC: {degre: 1}}\n")
    with pytest.raises(ConfigError, match=r"main.yml:\n  unknown key 'Synapses.EXC.EXC.degre'.*"
                       r"Did you mean 'degree'\?.*\(in .*syn.yml\)"):  # fmt: skip
        load(tmp_path / "main.yml")


def test_flow_mapping_layer_list_hint():
    data = yaml.safe_load("{Layer: SO, SP, SR, Count: 5}")  # a natural slip in a flow mapping
    assert data == {"Layer": "SO", "SP": None, "SR": None, "Count": 5}
    cfg = _config(exc=10, inh=5)
    cfg["Geometry"]["Cell Distribution"]["INH"] = data
    with pytest.raises(ConfigError, match=r"must be quoted"):
        from_dict(cfg, name="T")


def test_memory_bound_is_checked_before_building(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVN_MAX_MEMORY", "50MB")
    path = _write(tmp_path / "big.yml", _config(exc=80_000, inh=20_000, degrees=(40, 40, 12, 10)))
    with pytest.raises(SizeLimitError, match=r"needs about .* above the limit of .*LIVN_MAX_MEMORY"):
        Generate({"config": str(path), "output_directory": str(tmp_path / "o")})
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------- the job and the CLI
def test_seed_002_cli_from_a_fresh_clone(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no systems/config/S1.yml here: the shipped S1 is used
    assert cli(["systems", "generate", "config=systems/config/S1.yml", "--launch", "--mea",
                "--export"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "Generated S1: 10 cells" in out and "Exported S1" in out
    built, exported = tmp_path / "systems/graphs/S1", tmp_path / "systems/data/S1"
    assert _digests(built) == _digests(exported) and (exported / "mea.json").is_file()
    assert (exported / "params" / "RCSD.json").is_file()
    assert System(str(exported)).num_neurons == 10
    # the seed's separate steps: each is a no-op now
    for flag in ("--launch", "--mea", "--export"):
        assert cli(["systems", "generate", "config=systems/config/S1.yml", flag]) == 0
    # another system at the export destination is never overwritten
    assert cli(["systems", "generate", "config=S2", "--launch"]) == 0
    capsys.readouterr()
    assert cli(["systems", "generate", "config=S2", "--export", "S1"]) == 2
    assert "never overwrites" in capsys.readouterr().err
    assert _digests(exported) == _digests(built)
    assert cli(["systems", "generate", "config=S2", "--export", "mine/"]) == 0
    assert System(str(tmp_path / "mine/S2")).num_neurons == 100


def test_python_api_and_config_resolution(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gen = get("generate", {"config": "systems/config/S1.yml", "output_directory": "./s1",
                           "seed": 7})  # fmt: skip
    assert gen.system_config.seed == 7 and gen.config_path == shipped_config("S1")
    with pytest.warns(ConnectivityWarning):  # S1's degrees connect all pairs in reach at seed 1
        system = gen.launch()
    assert system.graph.generator["seed"] == 7 and gen.mea().num_channels == 16
    assert gen.export() == str(tmp_path / "systems/data/S1")
    _write(tmp_path / "systems/config/S1.yml", _config(exc=12, inh=3))  # a local file wins
    assert Generate({"config": "systems/config/S1.yml"}).system_config.population_counts() == {
        "EXC": 12, "INH": 3}  # fmt: skip
    with pytest.raises(ConfigError, match=r"does not exist.*S1, S2, S3, S4, CA1.*Did you mean 'S2'"):
        Generate({"config": "systems/config/S22.yml"})
    with pytest.raises(ConfigError, match=r"unknown key 'confg'.*Did you mean 'config'"):
        Generate({"confg": "S1"})


def test_inspect_plot_and_describe(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "s2"
    assert cli(["systems", "generate", "config=S2", f"output_directory={out}", "--launch",
                "--inspect", "--plot"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "EXC->EXC" in text and "mea: 16 electrodes" in text and (out / "plot.png").is_file()
    assert cli(["systems", "generate", "config=S2", f"output_directory={out}"]) == 0
    resolved = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert resolved["cells_per_layer"]["INH"] == {"SO": 6, "SP": 3, "SR": 11}


# ------------------------------------------------------------------- predefined
def test_env_on_s1_runs():
    from livn.env import Env

    env = Env(predefined("S1")).init()
    env.apply_model_defaults()
    env.record_spikes()
    env.record_voltage()
    _it, _t, _iv, v = env.run(20)
    assert v.shape[0] == 10 and np.all(np.isfinite(v))


_DIGEST = """
import hashlib, json, sys
from livn.system import make
s = make(sys.argv[1])
h = hashlib.sha256(s.neuron_coordinates.tobytes())
for p in s.projections.values():
    h.update(p.pre_gids.tobytes()); h.update(p.post_gids.tobytes())
print(json.dumps({"uri": s.uri, "digest": h.hexdigest()}))
"""


def test_concurrent_first_use_of_s3(tmp_path):
    env = {**os.environ, "LIVN_CACHE_DIR": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", _DIGEST, "S3"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]  # fmt: skip
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    assert len({r["uri"] for r in results}) == 1 and len({r["digest"] for r in results}) == 1
    entries = sorted(p.name for p in (tmp_path / "cache/systems").iterdir()
                     if not p.name.endswith(".lock"))  # fmt: skip
    assert entries == [os.path.basename(results[0]["uri"])]


def test_definition_hash_covers_included_files(tmp_path, monkeypatch):
    import importlib

    pd = importlib.import_module("livn.system.predefined")

    h = pd._definition_hash("S2")
    original = pd.definition

    def changed(name):
        d = copy.deepcopy(original(name))
        d["Cell Types"]["EXC"]["transmitter"] = "cholinergic"  # as if _cell_types.yml changed
        return d

    monkeypatch.setattr(pd, "definition", changed)
    assert pd._definition_hash("S2") != h


@pytest.mark.slow
@pytest.mark.parametrize("name", ["S4", "CA1"])
def test_large_layered_builds(name):
    from livn.system.predefined import definition

    s = make(name)
    synapses = definition(name)["Synapses"]
    counts = {p: c for p, (_, c) in s.population_ranges.items()}
    for p in s.projections.values():
        expected = synapses[p.post][p.pre]["degree"] * counts[p.post]
        assert abs(p.num_edges - expected) < 5 * np.sqrt(expected), p.name
        if expected > 10_000:
            assert abs(p.num_edges / expected - 1) < 0.05, p.name

"""The ``livn`` command line: seed 002 examples, inspect, list, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from livn.cli.kv import parse_kv
from livn.cli.main import main
from livn.errors import ConfigError
from livn.system import System


def test_parse_kv_nesting_and_json():
    assert parse_kv(
        [
            "total_cells=50",
            "connectivity.sigma=300",
            "area=disk",
            "area_kwargs.center=[1, 2]",
            'populations={"EXC": {"count": 4}}',
            "flag=true",
            "name=null",
        ]
    ) == {
        "total_cells": 50,
        "connectivity": {"sigma": 300},
        "area": "disk",
        "area_kwargs": {"center": [1, 2]},
        "populations": {"EXC": {"count": 4}},
        "flag": True,
        "name": None,
    }
    with pytest.raises(ConfigError, match=r"expected key=value"):
        parse_kv(["total_cells"])
    with pytest.raises(ConfigError, match=r"already has a value"):
        parse_kv(["a=1", "a.b=2"])


def test_version_and_help_subprocess():
    exe = [sys.executable, "-m", "livn.cli.main"]
    out = subprocess.run([*exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("livn ")
    out = subprocess.run([*exe, "--help"], capture_output=True, text=True, check=True)
    assert "systems" in out.stdout


def test_seed_002_cli_examples(tmp_path, capsys, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            ["systems", "generate_2d", "total_cells=50", "output_directory=./my_system", "--launch"]
        )
        == 0
    )
    assert main(["systems", "generate_2d", "output_directory=./my_system", "--mea"]) == 0
    assert main(["systems", "generate_2d", "output_directory=./my_system", "--plot"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    # the seed's default connectivity is too sparse for 50 cells: said clearly, not a failure
    assert "livn: warning: mean_degree 10 for INH->EXC cannot be reached" in captured.err
    assert "Generated my_system: 50 cells" in out and "mea.json" in out and "plot.png" in out
    system = System("./my_system")
    assert system.num_neurons == 50 and system.populations == ["EXC", "INH"]
    assert system.has_mea and (tmp_path / "my_system" / "plot.png").stat().st_size > 1000
    assert main(["systems", "inspect", "./my_system", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["num_neurons"] == 50 and data["populations"] == {"EXC": [0, 40], "INH": [40, 10]}


def test_nested_keys_reach_the_config(tmp_path):
    out = tmp_path / "disk"
    assert (
        main(
            [
                "systems",
                "generate_2d",
                "total_cells=60",
                f"output_directory={out}",
                "area=disk",
                "area_kwargs.radius=300",
                "connectivity.sigma=200",
                "connectivity.mean_degree=3",
                "seed=4",
                "--launch",
            ]
        )
        == 0
    )
    s = System(out)
    assert s.graph.generator["area"] == "disk" and s.graph.generator["seed"] == 4
    assert s.graph.generator["connectivity"]["sigma"] == 200
    r = ((s.neuron_coordinates[:, 1:3]) ** 2).sum(axis=1) ** 0.5
    assert r.max() <= 300


def test_bad_key_and_value_errors(tmp_path, capsys):
    code = main(
        ["systems", "generate_2d", "totl_cells=5", f"output_directory={tmp_path}/x", "--launch"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "unknown key 'totl_cells'" in err and "Did you mean 'total_cells'" in err
    assert "Traceback" not in err and not (tmp_path / "x").exists()
    code = main(["systems", "generate_2d", "connectivity.kernel=gauss", "--launch"])
    err = capsys.readouterr().err
    assert code == 2 and "'connectivity.kernel': 'gauss'" in err and "'gaussian'" in err
    code = main(["systems", "generate_2d", "total_cells=-3"])
    assert code == 2 and "'total_cells': -3" in capsys.readouterr().err


def test_without_action_prints_resolved_config(tmp_path, capsys):
    assert main(["systems", "generate_2d", "total_cells=7", f"output_directory={tmp_path}/y"]) == 0
    out = capsys.readouterr().out
    assert '"total_cells": 7' in out and "--launch" in out
    assert not (tmp_path / "y").exists()


def test_inspect_and_list(capsys):
    assert main(["systems", "inspect", "EI1"]) == 0
    out = capsys.readouterr().out
    assert "System 'EI1'" in out and "mea: 16 electrodes" in out
    assert main(["systems", "list"]) == 0
    out = capsys.readouterr().out
    assert "EI4" in out and "S1" in out
    assert main(["systems", "inspect", "EI9"]) == 2
    assert "Did you mean" in capsys.readouterr().err


def test_console_script_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "livn")
    if not os.path.exists(exe):
        pytest.skip("livn console script not installed in this environment")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("livn")

"""System directories in the livn 2.0.0 layout (``System(path)``, ``livn systems convert``)
against the input contract: a damaged ``graph.json``, edge table, selection or parameter file
is read or refused with a SystemFormatError naming the file, never another exception."""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
from typing import Any

import h5py
import numpy as np
from fuzz_contract import ANY, budget, outcome
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from upstream_writer import tiny_culture, write_upstream

_BASE: dict[str, Any] = {}

VALUES = st.sampled_from(
    [None, 0, -1, 2, 1.5, "", "x", "dend", [], [1, 2], {}, {"uuid": "u"}, True, 1e308, ["soma"]]
)
GRAPH_PATHS = st.sampled_from(
    [
        ("version",),
        ("architecture",),
        ("architecture", "config"),
        ("architecture", "config", "coordinate_namespace"),
        ("architecture", "config", "area"),
        ("architecture", "config", "layer_extents"),
        ("connections",),
        ("connections", "culture", "config", "population_definitions"),
        ("connections", "culture", "config", "population_definitions", "INH"),
        ("connections", "culture", "config", "synapses"),
        ("connections", "culture", "config", "synapses", "EXC"),
        ("connections", "culture", "config", "synapses", "EXC", "INH"),
        ("connections", "culture", "config", "synapses", "EXC", "INH", "type"),
        ("connections", "culture", "config", "synapses", "EXC", "EXC", "sections"),
        ("connections", "culture", "config", "synapses", "INH", "EXC", "mechanisms"),
        ("connections", "culture", "config", "synapses", "INH", "EXC", "mechanisms", "default"),
        (
            "connections",
            "culture",
            "config",
            "synapses",
            "EXC",
            "EXC",
            "mechanisms",
            "default",
            "AMPA",
            "tau_rise",
        ),
        ("connections", "culture", "config", "connections_filepath"),
        ("livn",),
    ]
)
H5_EDITS = st.sampled_from(
    [
        None,
        ("Projections/EXC/INH/Edges/Destination Pointer", "shift"),
        ("Projections/EXC/INH/Edges/Destination Block Pointer", "shift"),
        ("Projections/EXC/INH/Edges/Destination Block Index", "shift"),
        ("Projections/EXC/INH/Edges/Source Index", "shift"),
        ("Projections/EXC/INH/Connections/distance", "truncate"),
        ("Projections/INH/EXC/Synapses/syn_id", "truncate"),
        ("Populations/INH/Generated Coordinates/X Coordinate/Cell Index", "shift"),
        ("Populations/EXC/Generated Coordinates/Y Coordinate/Attribute Pointer", "truncate"),
        ("H5Types/Populations", "delete"),
        ("Projections/INH/INH", "delete"),
    ]
)


def _base(root) -> str:
    if "dir" not in _BASE:
        _BASE["dir"] = str(write_upstream(root / "base", tiny_culture(seed=2)))
    return _BASE["dir"]


def _set(data: dict, path: tuple, value: Any, delete: bool) -> None:
    node = data
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        node = node[key]
    if isinstance(node, dict):
        if delete:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value


def _edit_h5(path: str, edit: tuple[str, str]) -> None:
    name, how = edit
    file = "cells.h5" if name.startswith("Populations") else "connections.h5"
    with h5py.File(os.path.join(path, file), "a") as f:
        if name not in f:
            return
        if how == "delete":
            del f[name]
            return
        data = f[name][()]
        del f[name]
        if how == "shift" and data.dtype.names is None:
            data = data.astype(np.int64) + 1
        elif how == "truncate":
            data = data[:-1]
        f[name] = data


def _read_all(path: str) -> None:
    from livn.system import System

    s = System(path)
    _ = s.neuron_coordinates, s.projections, s.selections, s.model_params()
    s.check()


@settings(max_examples=budget(80))
@given(path=GRAPH_PATHS, value=VALUES, delete=st.booleans(), h5=H5_EDITS)
def test_damaged_2_0_0_directory(fuzz_base, path, value, delete, h5):
    base = _base(fuzz_base)
    case = fuzz_base / "case"
    shutil.rmtree(case, ignore_errors=True)
    shutil.copytree(base, case)
    graph = json.loads((case / "graph.json").read_text())
    damaged = copy.deepcopy(graph)
    _set(damaged, path, value, delete)
    (case / "graph.json").write_text(json.dumps(damaged))
    if h5 is not None:
        _edit_h5(str(case), h5)
    suspects = ["graph.json", "cells.h5", "connections.h5", *map(str, path)]
    outcome(
        lambda: _read_all(str(case)), surface="System(2.0.0 dir)", verdict=ANY, suspects=suspects
    )


@settings(max_examples=budget(40))
@given(
    selection=st.one_of(
        st.sampled_from(
            [
                None,
                [],
                "x",
                {"gids": None},
                {"gids": {"GLIA": [0]}},
                {"gids": {"EXC": [0, 99]}},
                {"gids": {"INH": ["a"]}},
                {"gids": {"EXC": [0, 1], "INH": [8]}},
            ]
        ),
        st.dictionaries(
            st.sampled_from(["EXC", "INH"]), st.lists(st.integers(-5, 20), max_size=5)
        ).map(lambda d: {"gids": d}),
    ),
    params=st.sampled_from(
        [
            None,
            [],
            {"ReducedCalciumSomaDendrite": 1},
            {
                "ReducedCalciumSomaDendrite": {
                    "default": {"params": {"noise-g_e0": 0.1, "EXC_EXC-dend-AMPA-weight": 2.0}}
                }
            },
            {"ReducedCalciumSomaDendrite": {"default": {"cells-EXC:soma.cm": 1}}},
            {"ReducedCalciumSomaDendrite": {"default": {"noise-bogus": 1}}},
            {"Other": {}},
        ]
    ),
)
def test_selection_and_params_files(fuzz_base, selection, params):
    base = _base(fuzz_base)
    case = fuzz_base / "case2"
    shutil.rmtree(case, ignore_errors=True)
    shutil.copytree(base, case)
    if selection is not None:
        (case / "selection").mkdir()
        (case / "selection" / "s.json").write_text(json.dumps(selection))
    if params is not None:
        (case / "params").mkdir()
        (case / "params" / "default.json").write_text(json.dumps(params))
    suspects = ["selection", "gids", "params", "default.json", "noise", "cells-", "population"]
    outcome(
        lambda: _read_all(str(case)),
        surface="System(selection, params)",
        verdict=ANY,
        suspects=suspects,
    )

"""Predefined systems: offline build, cache, determinism across processes, concurrency, names."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from livn.errors import UnknownSystemError
from livn.io import MEA
from livn.system import PREDEFINED, System, make, predefined
from livn.system.predefined import definition

_DIGEST = """
import hashlib, json, sys
from livn.system import make
s = make(sys.argv[1])
h = hashlib.sha256(s.neuron_coordinates.tobytes())
for p in s.projections.values():
    h.update(p.pre_gids.tobytes()); h.update(p.post_gids.tobytes()); h.update(p.distances.tobytes())
print(json.dumps({"uri": s.uri, "digest": h.hexdigest()}))
"""


def _run_digest(name, cache, extra_env=None):
    env = {**os.environ, "LIVN_CACHE_DIR": str(cache), **(extra_env or {})}
    return subprocess.Popen(
        [sys.executable, "-c", _DIGEST, name],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out)


def test_ei2_builds_offline_with_mea():
    path = predefined("EI2")
    s = System(path)
    assert s.name == "EI2" and s.num_neurons == 100
    assert s.population_ranges == {"EXC": (0, 80), "INH": (80, 20)}
    mea = MEA.from_directory(s.uri)
    assert mea.num_channels == 16 and mea.output_radius == 250
    np.testing.assert_array_equal(
        np.unique(mea.electrode_coordinates[:, 1]), [500, 1500, 2500, 3500]
    )
    assert predefined("EI2") == path  # cached
    assert make("EI2").uri == path


def test_same_name_is_byte_identical_in_two_processes(tmp_path):
    a = _run_digest("EI2", tmp_path / "a")
    b = _run_digest("EI2", tmp_path / "b", {"PYTHONHASHSEED": "123"})
    ra, rb = _result(a), _result(b)
    assert ra["uri"] != rb["uri"] and ra["digest"] == rb["digest"]
    for f in ("cells.h5", "connections.h5", "graph.json", "mea.json"):
        assert (
            hashlib.sha256(open(os.path.join(ra["uri"], f), "rb").read()).digest()
            == hashlib.sha256(open(os.path.join(rb["uri"], f), "rb").read()).digest()
        ), f


def test_concurrent_first_use_is_safe(tmp_path):
    cache = tmp_path / "shared"
    procs = [_run_digest("EI3", cache) for _ in range(3)]
    results = [_result(p) for p in procs]
    assert len({r["uri"] for r in results}) == 1 and len({r["digest"] for r in results}) == 1
    entries = sorted(p.name for p in (cache / "systems").iterdir() if not p.name.endswith(".lock"))
    assert entries == [os.path.basename(results[0]["uri"])]  # no staging leftovers


def test_unknown_name_lists_valid_ones():
    with pytest.raises(UnknownSystemError, match=r"Unknown system 'EI5'.*EI1, EI2.*Did you mean"):
        predefined("EI5")
    with pytest.raises(UnknownSystemError, match=r"Did you mean 'EI2'"):
        predefined("ei2")


def test_s1_builds_offline_as_a_3d_layered_system():
    s = make("S1")
    assert s.graph.kind == "layered-3d" and s.population_ranges == {"EXC": (0, 8), "INH": (8, 2)}
    z = s.neuron_coordinates[:, 3]
    assert np.all((z[:8] >= 100) & (z[:8] <= 150))  # EXC in SP
    assert np.all((z[8:] >= 0) & (z[8:] <= 350))  # INH over SO, SP, SR
    mea = MEA.from_directory(s.uri)
    assert mea.num_channels == 16 and mea.input_radius == mea.output_radius == 250
    np.testing.assert_array_equal(np.unique(mea.electrode_coordinates[:, 1]), [500, 1500, 2500, 3500])
    assert predefined("S1") == s.uri


def test_paths_pass_through(tmp_path):
    path = predefined("EI1")
    assert predefined(path) == path
    assert make(path).num_neurons == 10
    with pytest.raises(UnknownSystemError, match=r"no such system directory"):
        predefined(str(tmp_path / "missing" / "sys"))


def test_definitions_match_spec_sizes():
    sizes = {
        "EI1": (8, 2),
        "EI2": (80, 20),
        "EI3": (800, 200),
        "EI4": (8000, 2000),
        "E": (2600, 0),
        "E5I": (2167, 433),
        "E3I": (1950, 650),
        "EI": (1300, 1300),
        "S1": (8, 2),
        "S2": (80, 20),
        "S3": (800, 200),
        "S4": (8000, 2000),
    }
    from livn.system.predefined import population_sizes

    assert set(sizes) | {"CA1"} == set(PREDEFINED)
    for name, (e, i) in sizes.items():
        counts = population_sizes(name)
        assert (counts.get("EXC", 0), counts.get("INH", 0)) == (e, i), name
    ca1 = population_sizes("CA1")
    assert {"PYR", "PVBC", "OLM", "IVY", "BS"} <= set(ca1) and 1000 < sum(ca1.values()) < 5000


def test_2600_cell_culture_spec():
    d = definition("E3I")["culture"]
    assert d["area_kwargs"] == {"x_range": [0.0, 1600.0], "y_range": [0.0, 3200.0]}
    assert d["connectivity"]["kernel"] == "exponential" and d["connectivity"]["sigma"] == 600.0
    assert d["connectivity"]["mean_degree"] == {"EXC->EXC": 20, "EXC->INH": 4, "INH->EXC": 40}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["EI4", "E", "E5I", "E3I", "EI"])
def test_large_predefined_build(name):
    s = make(name)
    for p in s.projections.values():
        k = definition(name)["culture"]["connectivity"]["mean_degree"][p.name]
        n = s.population_ranges[p.post][1]
        assert abs(p.num_edges - k * n) < 5 * np.sqrt(k * n)

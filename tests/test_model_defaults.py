"""Tuned default weights and noise of the predefined systems (``params/RCSD.json``).

The configs in ``livn/system/configs`` carry a ``defaults: RCSD:`` block (tuned with
``tools/tune_defaults.py``, see docs/systems.md); the offline build resolves it into explicit
weight keys and noise parameters. ``Env.apply_model_defaults()`` should then give sustained,
irregular, asynchronous activity of a few Hz per cell.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from livn import decoding as D
from livn.errors import ConfigError
from livn.models.rcsd.model import NOISE_DEFAULTS
from livn.system import PREDEFINED, System, predefined
from livn.system.predefined import NOISE_NAMES, definition, resolve_defaults
from livn.system.synapses import weight_name


def _params(name: str) -> tuple[System, dict]:
    system = System(predefined(name))
    with open(os.path.join(system.uri, "params", "RCSD.json")) as f:
        return system, json.load(f)


# --------------------------------------------------------------------------- shipped files
#: Predefined systems whose config ships a defaults block (CA1 uses the derived defaults).
TUNED = [n for n in PREDEFINED if n != "CA1"]


@pytest.mark.parametrize("name", TUNED)
def test_params_file_matches_the_system(name):
    system, params = _params(name)
    assert set(params) == {"weights", "noise"}
    expected = {
        weight_name(p.post, p.pre, p.section, m)
        for p in system.graph.projections
        for m in p.mechanisms
    }
    assert set(params["weights"]) == expected == set(system.weight_names)
    assert all(math.isfinite(w) and w > 0 for w in params["weights"].values())
    populations = set(system.populations)
    for key, value in params["noise"].items():
        pop, _, noise_name = key.rpartition("-")
        assert noise_name in NOISE_DEFAULTS and (not pop or pop in populations), key
        assert math.isfinite(value) and value >= 0, key
    assert set(NOISE_NAMES) == set(NOISE_DEFAULTS) <= set(params["noise"])
    # prefixed entries come after the global ones, so set_noise applies them last
    prefixed = ["-" in k for k in params["noise"]]
    assert prefixed == sorted(prefixed)


@pytest.mark.parametrize("name", TUNED)
def test_env_model_defaults_read_the_shipped_file(name):
    from livn.env import Env

    system, params = _params(name)
    assert Env(system).model_defaults() == params
    assert definition(name)["defaults"]["RCSD"]  # every predefined config but CA1 is tuned


def test_ca1_uses_the_derived_defaults():
    from livn.env import Env
    from livn.models.rcsd.defaults import defaults_source, derived_params

    system = System(predefined("CA1"))
    assert "defaults" not in definition("CA1")
    assert not os.path.exists(os.path.join(system.uri, "params", "RCSD.json"))
    assert defaults_source(system)[0] == "derived"
    assert Env(system).model_defaults() == derived_params(system)


def _drive(system: System, params: dict) -> dict[tuple[str, str], float]:
    """Synaptic charge per post cell per presynaptic spike of every input (µS·ms: Σ over the
    projections of the charge of one synapse at its weights × synapses per post cell), by post
    population and input type; NMDA at its Mg block at rest (livn.models.rcsd.defaults)."""
    from livn.models.rcsd.defaults import synapse_charge

    out: dict[tuple[str, str], float] = {}
    counts = {p: c for p, (_, c) in system.population_ranges.items()}
    for p in system.graph.projections:
        if p.num_edges == 0:
            continue
        charge = sum(
            synapse_charge(m, info, params["weights"][weight_name(p.post, p.pre, p.section, m)])
            for m, info in p.mechanisms.items()
        )
        key = (p.post, p.type)
        out[key] = out.get(key, 0.0) + charge * p.num_edges / counts[p.post]
    return out


@pytest.mark.parametrize("name", ["EI3", "EI4", "E", "E5I", "E3I", "EI"])
def test_larger_systems_keep_the_tuned_drive_per_cell(name):
    """In-degree normalisation: per-synapse weights shrink as the in-degree grows, so every
    post population receives EI2's tuned synaptic charge per cell. The 2,600-cell cultures
    are cholinergic (7 release sites, τd 7 ms, no NMDA): their factors are the glutamatergic
    ones divided by the charge ratio of the two transmitters (within 1 %)."""
    ref = _drive(*_params("EI2"))
    system, params = _params(name)
    for key, drive in _drive(system, params).items():
        assert drive == pytest.approx(ref[key], rel=0.01), key
    ref_noise = _params("EI2")[1]["noise"]
    assert params["noise"] == ref_noise


# --------------------------------------------------------------------------- the rule block


def test_resolve_defaults_rules(small_system):
    graph = System(small_system).graph
    block = {
        "weights": {
            "excitatory": 10.0,
            "inhibitory": 4.0,
            "EXC->INH": 20.0,
            "NMDA": 0.5,
            "INH_INH-soma-GABA_A-weight": 7.5,
        },
        "noise": {"EXC-g_e0": 0.02, "std_i": 0.01},
    }
    r = resolve_defaults(graph, block)
    assert r["weights"] == {
        "EXC_EXC-dendrite-AMPA-weight": 10.0,
        "EXC_EXC-dendrite-NMDA-weight": 5.0,
        "INH_EXC-soma-AMPA-weight": 20.0,
        "INH_EXC-soma-NMDA-weight": 10.0,
        "EXC_INH-soma-GABA_A-weight": 4.0,
        "INH_INH-soma-GABA_A-weight": 7.5,
    }
    assert r["noise"] == {**NOISE_DEFAULTS, "std_i": 0.01, "EXC-g_e0": 0.02}
    assert list(r["noise"])[-1] == "EXC-g_e0"
    template = resolve_defaults(graph, None)
    assert set(template["weights"].values()) == {1.0} and template["noise"] == NOISE_DEFAULTS


@pytest.mark.parametrize(
    ("block", "match"),
    [
        ({"weights": {"AMPPA": 2.0}}, r"unknown weight rule.*AMPPA.*Valid: excitatory"),
        ({"weights": {"EXC->GLIA": 2.0}}, r"unknown weight rule"),
        ({"noise": {"g_e": 0.1}}, r"unknown noise parameter 'g_e'"),
        ({"noise": {"GLIA-g_e0": 0.1}}, r"unknown noise parameter 'GLIA-g_e0'"),
        ({"noise": {"g_e0": -1}}, r"must be >= 0"),
        ({"weight": {}}, r"unknown entries \['weight'\]"),
    ],
)
def test_resolve_defaults_rejects_bad_blocks(small_system, block, match):
    with pytest.raises(ConfigError, match=match):
        resolve_defaults(System(small_system).graph, block)


# --------------------------------------------------------------------------- behaviour


def _culture_stats(env, warmup: float = 300.0, duration: float = 1000.0) -> dict[str, float]:
    env.clear()
    env.run(warmup)
    it, t, *_ = env.run(duration)
    it, t = np.asarray(it), np.asarray(t)
    n = env.system.num_neurons
    return {
        "rate": D.population_rate(it, t, n, duration),
        "active": len(np.unique(it)) / n,
        "cv": D.isi_cv(it, t),
        "chi": D.synchrony(it, t, duration),
        "burst": D.burst_rate(it, t, n, duration),
    }


def _check_culture(stats: dict[str, float], chi_max: float = 0.3, burst_max: float = 1.0) -> None:
    # sustained: a few Hz per cell, most cells take part
    assert 0.5 <= stats["rate"] <= 20.0, stats
    assert stats["active"] >= 0.8, stats
    # irregular: Poisson-like inter-spike intervals (regular firing would give CV ~ 0)
    assert stats["cv"] > 0.4, stats
    # not seizure-like: no population bursts, synchrony near the independent level
    assert stats["burst"] <= burst_max and stats["chi"] < chi_max, stats


def test_ei2_defaults_give_sustained_irregular_activity():
    """Measured (seed 1, JAX CPU): template 0.32 Hz; defaults 4.5 Hz, CV 0.60, χ 0.11."""
    from livn.env import Env

    env = Env(predefined("EI2"), seed=1).init().record_spikes()
    template = resolve_defaults(env.system.graph, None)
    env.set_weights(template["weights"]).set_noise(template["noise"])
    baseline = _culture_stats(env)
    env.apply_model_defaults()
    tuned = _culture_stats(env)
    _check_culture(tuned)
    assert tuned["rate"] > 2 * baseline["rate"], (baseline, tuned)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["EI1", "EI3", "E5I", "S3", "CA1"])
def test_defaults_give_sustained_irregular_activity(name):
    """EI1: 3.3 Hz, CV 0.85; EI3: 3.5 Hz, CV 0.8, χ 0.035; E5I (cholinergic) 2.6 Hz; S3
    3.9 Hz, CV 0.81; CA1 (derived) 3.3 Hz, CV 0.56 (docs/systems.md)."""
    from livn.env import Env

    env = Env(predefined(name), seed=1).init().record_spikes().apply_model_defaults()
    stats = _culture_stats(env, duration=2000.0)
    if name == "EI1":  # 10 independent cells already give χ ~ 1/sqrt(10), chance "bursts"
        _check_culture(stats, chi_max=0.5, burst_max=3.0)
    else:
        _check_culture(stats)


def test_s2_tuned_defaults_give_a_living_culture():
    """S2's tuned defaults (docs/systems.md). Measured (seeds 1, 2, JAX CPU, 4 s after 300 ms):
    3.7 Hz/cell, CV 0.80-0.84, χ 0.10 (chance 0.10), no bursts."""
    from livn.env import Env

    env = Env(predefined("S2"), seed=1).init().record_spikes().apply_model_defaults()
    stats = _culture_stats(env)
    _check_culture(stats)
    assert 2.0 <= stats["rate"] <= 8.0, stats

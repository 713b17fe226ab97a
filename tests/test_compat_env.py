"""livn 2.0.0 scripts on our Env: the names and call forms they use (UPSTREAM-API.md §1, §4),
checked for what each does, not only that it exists (docs/migrating.md)."""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

from livn.env import Env
from livn.errors import ConfigError
from livn.stimulus import Stimulus
from livn.system import ParallelSystem

DURATION = 20.0  # ms


def _backend(name: str):
    module = {"native": "numpy", "jax": "jax", "neuron": "neuron", "brian2": "brian2"}[name]
    marks = []
    if importlib.util.find_spec(module) is None:
        marks.append(pytest.mark.skip(reason=f"the {name} simulator is not installed"))
    if name == "native" and not (shutil.which("cc") or shutil.which("gcc")):
        marks.append(pytest.mark.skip(reason="the native backend needs a C compiler"))
    return pytest.param(name, marks=marks, id=name)


NETWORK_BACKENDS = [_backend(b) for b in ("native", "jax", "neuron", "brian2")]


# ---------------------------------------------------------------------------- ParallelSystem
def test_parallel_system_int_is_that_many_unconnected_exc_cells():
    s = ParallelSystem(4, coordinates=30.0)
    assert s.populations == ["EXC"] and s.num_neurons == 4
    assert s.population_ranges == {"EXC": (0, 4)}
    assert s.projections == {} and s.num_edges == 0 and s.weight_names == []
    np.testing.assert_array_equal(s.neuron_coordinates,
                                  [[0, 0, 0, 0], [1, 30, 0, 0], [2, 60, 0, 0], [3, 90, 0, 0]])
    assert not s.has_mea and s.default_io() is None
    text = s.summary()
    assert text.splitlines()[0] == "ParallelSystem 'ParallelSystem' (in memory: unconnected cells)"
    assert "synapses: 0" in text and "x [0.0, 90.0]" in text and "no electrodes" in text


def test_parallel_system_mapping_orders_gids_by_the_mapping():
    s = ParallelSystem({"INH": 1, "EXC": 2})
    assert s.population_ranges == {"INH": (0, 1), "EXC": (1, 2)}
    assert [p.synapse_type for p in s.graph.populations] == ["inhibitory", "excitatory"]


def test_parallel_system_coordinates_array_and_callable():
    xyz = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(ParallelSystem(3, coordinates=xyz).neuron_coordinates[:, 1:], xyz)
    with_gid = np.column_stack([np.arange(3), xyz])
    np.testing.assert_array_equal(
        ParallelSystem(3, coordinates=with_gid).neuron_coordinates[:, 1:], xyz)
    s = ParallelSystem(2, coordinates=lambda n: np.ones((n, 3)) * 7)
    np.testing.assert_array_equal(s.neuron_coordinates[:, 1:], np.full((2, 3), 7.0))


@pytest.mark.parametrize("bad, words", [
    (0, ["number of cells", "0"]),
    (-3, ["number of cells", "-3"]),
    (2.0, ["number of cells", "integer (2)"]),
    (True, ["number of cells", "True"]),
    ({}, ["at least one population", "{'EXC': 1}"]),
    ({"EXC": 1, "PYR": 2}, ["'PYR'", "EXC, INH"]),
    ({"EXC": 0}, ["number of EXC cells", "0"]),
    ({"INH": "2"}, ["number of INH cells", "'2'"]),
])
def test_parallel_system_refuses_bad_counts_naming_them(bad, words):
    with pytest.raises(ConfigError) as e:
        ParallelSystem(bad)
    for w in words:
        assert w in str(e.value)


def test_parallel_system_refuses_coordinates_of_the_wrong_shape():
    with pytest.raises(ConfigError, match=r"shape \[3, 3\].*got shape \(2, 3\)"):
        ParallelSystem(3, coordinates=np.zeros((2, 3)))
    with pytest.raises(ConfigError, match="spacing"):
        ParallelSystem(3, coordinates=float("nan"))


# ---------------------------------------------------------------------------- Env(int | dict)
def test_env_int_and_mapping_build_a_parallel_system_without_io():
    env = Env(10)
    assert isinstance(env.system, ParallelSystem) and env.system.num_neurons == 10
    assert env.io is None and env.seed == 123
    env = Env({"EXC": 2, "INH": 1}, seed=7)
    assert env.system.population_ranges == {"EXC": (0, 2), "INH": (2, 1)}
    assert env.seed == 7


def test_env_positional_arguments_follow_2_0_0():
    """``Env(system, model, io, seed, comm, subworld_size)``: the fifth is the communicator."""
    from livn.models.rcsd import ReducedCalciumSomaDendrite

    model = ReducedCalciumSomaDendrite()
    env = Env(3, model, None, 9, None, None)
    assert env.model is model and env.seed == 9
    assert env.comm is None and env.subworld_size is None
    with pytest.raises(ConfigError, match=r"MPI.*not supported by the jax backend"):
        Env(3, model, None, 9, object(), None, backend="jax")


@pytest.mark.parametrize("backend", NETWORK_BACKENDS)
def test_single_cells_run_on_every_network_backend(backend):
    """The usual way to test one cell: stimulated cells fire, an unstimulated one does not,
    and the populations get their own cell types (INH: one compartment, fast spiking)."""
    env = Env({"EXC": 2, "INH": 1}, backend=backend, seed=3).init()
    env.set_noise({"enabled": False})
    env.record_spikes()
    env.record_voltage()
    stim = Stimulus(np.tile([0.0, 0.6, 0.6], (int(DURATION), 1)), dt=1.0)  # nA per cell
    it, _t, iv, v = env.run(DURATION, stim)
    np.testing.assert_array_equal(iv, [0, 1, 2])
    assert v.shape == (3, int(DURATION / env.model.record_dt))
    assert 0 not in it  # no synapses, no noise, no current: cell 0 stays quiet
    assert {1, 2} <= set(it.tolist())
    assert np.all(np.abs(v[0] - v[0, 0]) < 15)  # and stays near rest
    # the inhibitory cell fires more often than the excitatory one under the same current
    assert np.sum(it == 2) >= np.sum(it == 1)


def test_env_on_a_parallel_system_has_no_electrodes():
    env = Env(2, backend="native").init()
    with pytest.raises(ConfigError, match=r"cell_stimulus.*needs an IO device.*io=MEA"):
        env.cell_stimulus(np.zeros((5, 16)))
    with pytest.raises(ConfigError, match=r"channel_recording needs an IO device"):
        env.channel_recording(np.array([0]), np.array([1.0]))
    with pytest.raises(ConfigError, match=r"potential_recording needs an IO device"):
        env.potential_recording(np.zeros((2, 3)))


# ---------------------------------------------------------------------------- parameters
@pytest.fixture(scope="module")
def ei1():
    """EI1 on the native backend, defaults applied (nothing here runs it)."""
    env = Env("EI1", backend="native", seed=1).init()
    return env.apply_model_defaults()


def weights_of(env) -> dict[str, float]:
    """``{full weight key: value}`` as the engine holds it."""
    out = {}
    for gi, g in enumerate(env.engine.net.groups):
        for ci, c in enumerate(g.channels):
            out[c.key] = float(np.asarray(env.params["weights"][gi])[ci])
    return out


@pytest.mark.parametrize("key, targets", [
    ("EXC_EXC-dend-AMPA-weight", ["EXC_EXC-dendrite-AMPA-weight"]),         # 2.0.0
    ("EXC_EXC-hillock-AMPA-weight", ["EXC_EXC-dendrite-AMPA-weight"]),      # seed 004
    ("EXC_EXC", ["EXC_EXC-dendrite-AMPA-weight", "EXC_EXC-dendrite-NMDA-weight"]),
    ("INH_EXC-soma-weight", ["INH_EXC-soma-AMPA-weight", "INH_EXC-soma-NMDA-weight"]),
    ("EXC-GABA_A", ["EXC_INH-soma-GABA_A-weight"]),
    ("INH", ["INH_EXC-soma-AMPA-weight", "INH_EXC-soma-NMDA-weight",
             "INH_INH-soma-GABA_A-weight"]),
])
def test_weight_keys_in_2_0_0_and_seed_spellings_set_exactly_their_weights(ei1, key, targets):
    ei1.apply_model_defaults()
    before = weights_of(ei1)
    ei1.set_weights({key: 0.123})
    after = weights_of(ei1)
    for k in after:
        if k in targets:
            assert after[k] == pytest.approx(0.123)
        else:
            assert after[k] == before[k], f"{key} changed {k}"
    assert all(before[k] != pytest.approx(0.123) for k in targets)


@pytest.mark.parametrize("key, words", [
    ("EXC_EXC-soma-AMPA-weight", ["matches no weight", "'dend' for 'dendrite'",
                                  "EXC_EXC-dendrite-AMPA-weight"]),
    ("EXC-dend-AMPA-tau_decay", ["'tau_decay'", "only weights"]),
    ("PYR_EXC-soma-AMPA-weight", ["'PYR_EXC'", "EXC_EXC, EXC_INH"]),
    ("EXC_EXC-AMPA-gain", ["'gain'", "a mechanism (AMPA, GABA_A, NMDA)"]),
])
def test_unknown_weight_keys_are_refused_naming_the_spellings(ei1, key, words):
    """2.0.0 ignored these silently; here nothing changes and the message says what to use."""
    before = weights_of(ei1)
    with pytest.raises(ConfigError) as e:
        ei1.set_weights({"EXC_EXC": 0.5, key: 1.0})
    for w in words:
        assert w in str(e.value)
    assert weights_of(ei1) == before


def test_dend_and_dendrite_keys_give_the_same_simulation():
    def voltages(key, value):
        env = Env("EI1", backend="native", seed=2).init().apply_model_defaults()
        env.set_weights({key: value})
        env.record_voltage()
        drive = Stimulus(np.full((int(DURATION), 10), 0.8), dt=1.0)  # every cell fires
        return env.run(DURATION, drive).v

    a = voltages("EXC_EXC-dend-AMPA-weight", 4.0)
    np.testing.assert_array_equal(a, voltages("EXC_EXC-dendrite-AMPA-weight", 4.0))
    assert not np.array_equal(a, voltages("EXC_EXC-dendrite-AMPA-weight", 0.0))


def test_set_params_prefixes_of_2_0_0(ei1):
    ei1.apply_model_defaults()
    ei1.set_params({"EXC_EXC-dend-NMDA-weight": 0.25,           # bare key: a weight
                    "weight-INH_INH": 0.5, "noise-g_e0": 0.02, "io-output_radius": 120.0})
    w = weights_of(ei1)
    assert w["EXC_EXC-dendrite-NMDA-weight"] == pytest.approx(0.25)
    assert w["INH_INH-soma-GABA_A-weight"] == pytest.approx(0.5)
    np.testing.assert_allclose(np.asarray(ei1.params["noise"]["g_e0"]), 0.02, rtol=1e-6)
    assert ei1.io.output_radius == 120.0
    before = weights_of(ei1)
    with pytest.raises(ConfigError, match=r"cell parameters.*fixed by the model"):
        ei1.set_params({"weight-EXC_EXC": 9.0, "cells-EXC:soma.cm": 2.0})
    with pytest.raises(ConfigError, match=r"'io-radius'.*Valid: input_radius, output_radius"):
        ei1.set_params({"weight-EXC_EXC": 9.0, "io-output_radius": 50.0, "io-radius": 1.0})
    assert weights_of(ei1) == before and ei1.io.output_radius == 120.0  # all or nothing
    ei1.set_params({"io-output_radius": 250.0})


def test_set_noise_accepts_2_0_0_reversal_potentials_at_the_model_values(ei1):
    before = {k: np.asarray(v).copy() for k, v in ei1.params["noise"].items()}
    ei1.set_noise({"E_e": 0.0, "E_i": -75.0, "EXC-E_i": -75})  # 2.0.0 defaults: accepted
    for k, v in ei1.params["noise"].items():
        np.testing.assert_array_equal(np.asarray(v), before[k])
    with pytest.raises(ConfigError, match=r"'E_i' = -80 mV.*fixed by the model.*E_i = -75"):
        ei1.set_noise({"E_i": -80.0})
    with pytest.raises(ConfigError, match=r"unknown noise parameter 'e_e'.*E_e, E_i"):
        ei1.set_noise({"e_e": 0.0})


# ---------------------------------------------------------------------------- run, clear, record
def test_run_dt_rebuilds_before_the_first_run_and_is_fixed_after():
    """``run(d, dt=0.05)`` integrates exactly like a model built with ``dt=0.05`` and keeps
    the weights set before; another dt is refused until ``clear()``."""
    from livn.models.rcsd import ReducedCalciumSomaDendrite

    def prepared(env):
        env.init().apply_model_defaults().set_weights({"EXC_EXC": 3.0})
        env.record_voltage()
        return env

    drive = Stimulus(np.full((int(DURATION), 10), 0.8), dt=1.0)
    env = prepared(Env("EI1", backend="native", seed=4))
    a = env.run(DURATION, drive, dt=0.05)
    assert env.engine.dt == 0.05 and env.model.dt == 0.05 and env.t == DURATION
    reference = prepared(Env("EI1", ReducedCalciumSomaDendrite(dt=0.05), backend="native", seed=4))
    np.testing.assert_array_equal(a.v, reference.run(DURATION, drive).v)
    default = prepared(Env("EI1", backend="native", seed=4)).run(DURATION, drive)
    assert not np.array_equal(a.v, default.v)  # the step matters
    env.run(5.0, dt=0.05)  # the same dt: fine
    with pytest.raises(ConfigError, match=r"dt=0.025 ms.*since its first run.*env.clear\(\)"):
        env.run(5.0, dt=0.025)
    env.clear()
    env.run(5.0, dt=0.025)
    assert env.engine.dt == 0.025
    with pytest.raises(ConfigError, match=r"must divide.*record_dt = 0.1"):
        env.clear().run(5.0, dt=0.03)


def test_clear_reseed_is_a_new_noise_realisation_that_replays_by_seed():
    def env_of(seed):
        env = Env(3, backend="native", seed=seed).init()
        env.record_voltage()
        return env

    env = env_of(11)
    first = env.run(DURATION).v
    env.clear()
    np.testing.assert_array_equal(env.run(DURATION).v, first)  # our default: replay
    env.clear(reseed=True)
    new_seed = env.seed
    second = env.run(DURATION).v
    assert new_seed != 11 and not np.array_equal(second, first)
    np.testing.assert_array_equal(env_of(new_seed).run(DURATION).v, second)
    other = env_of(11).clear(reseed=True)
    assert other.seed == new_seed  # derived from the seed, not from the clock
    with pytest.raises(ConfigError, match="two seeds"):
        env.clear(seed=3, reseed=True)
    with pytest.raises(ConfigError, match=r"reseed=\) must be True or False; got 'yes'"):
        env.clear(reseed="yes")


def test_record_what_and_record_voltage_gids_and_dt():
    env = Env({"EXC": 3, "INH": 2}, backend="native", seed=1).init()
    assert env.recordable() == ["spikes", "voltage", "membrane_current"]
    env.record("spikes", "INH").record("voltage", dt=0.1, gids=[4, 1, 1])
    env.record("membrane_current", ["EXC"])
    result = env.run(DURATION, Stimulus(np.full((int(DURATION), 5), 0.8), dt=1.0))
    it, _, iv, v, im, mp = result
    assert mp.shape == (3, v.shape[1])
    assert set(it.tolist()) == {3, 4}  # all five fire; only INH is recorded
    np.testing.assert_array_equal(iv, [1, 4])
    assert v.shape == (2, int(DURATION / 0.1))
    np.testing.assert_array_equal(im, [0, 1, 2])
    with pytest.raises(ConfigError, match=r"cannot record 'voltages'.*Did you mean 'voltage'"):
        env.record("voltages")
    with pytest.raises(ConfigError, match=r"dt=0.5 ms.*record_dt = 0.1.*record_dt=0.5"):
        env.record_voltage(dt=0.5)
    with pytest.raises(ConfigError, match=r"gids \[7\] are not cells.*0 … 4"):
        env.record_voltage(gids=[1, 7])


def test_apply_default_params_reads_2_0_0_parameter_groups(tmp_path):
    import json
    import shutil

    from livn.system import System, make

    directory = tmp_path / "EI1"
    shutil.copytree(make("EI1").uri, directory)
    (directory / "params").mkdir(exist_ok=True)
    (directory / "params" / "default.json").write_text(json.dumps({
        "ReducedCalciumSomaDendrite": {
            "default": {"params": {"EXC_EXC-dend-AMPA-weight": 2.5, "noise-g_e0": 0.02}},
            "strong": {"weight-INH_INH-soma-GABA_A-weight": 7.0},  # a flat group
        }}))
    env = Env(System(directory), backend="native").init()
    env.apply_default_params("strong")
    assert weights_of(env)["INH_INH-soma-GABA_A-weight"] == pytest.approx(7.0)
    env.apply_default_params("missing")  # not strict: the file's default group
    assert weights_of(env)["EXC_EXC-dendrite-AMPA-weight"] == pytest.approx(2.5)
    np.testing.assert_allclose(np.asarray(env.params["noise"]["g_e0"]), 0.02, rtol=1e-6)
    with pytest.raises(ConfigError, match=r"no parameter group 'strng'.*default, strong.*'strong'"):
        env.apply_default_params("strng", strict=True)
    env.apply_default_params()  # no group: the tuned defaults, as apply_model_defaults
    assert weights_of(env) == weights_of(Env("EI1", backend="native").init().apply_model_defaults())


def test_apply_default_params_on_a_parallel_system_uses_the_model_defaults():
    env = Env(2, backend="native").init()
    env.set_noise({"g_e0": 0.5})
    env.apply_default_params()
    assert float(np.asarray(env.params["noise"]["g_e0"])[0]) != 0.5
    with pytest.raises(ConfigError, match=r"has no parameter file.*strict=False"):
        env.apply_default_params(strict=True)


# ---------------------------------------------------------------------------- results
@pytest.fixture(scope="module")
def driven():
    """Five single cells (3 EXC, 2 INH) under a current step; spikes and voltage recorded."""
    env = Env({"EXC": 3, "INH": 2}, backend="native", seed=1).init()
    env.set_noise({"enabled": False})
    env.record_spikes()
    env.record_voltage()
    env.run(5.0)
    return env, env.run(DURATION, Stimulus(np.full((int(DURATION), 5), 0.8), dt=1.0))


def test_seed_001_unpacks_four_and_the_star_form_works_everywhere(driven):
    _, result = driven
    it, t, iv, v = result                   # seed 001 (no membrane current recorded)
    spike_ids, spike_times, *_ = result     # the form that also runs on 2.0.0
    assert spike_ids is it and spike_times is t and iv is result.iv and v is result.v
    with pytest.raises(ValueError, match="expected 6, got 4"):
        _a, _b, _c, _d, _e, _f = result     # 2.0.0's six needs record_membrane_current()


def test_result_has_the_2_0_0_run_properties(driven):
    _, r = driven
    assert r.spike_ids is r.it and r.spike_times is r.t
    assert r.voltage_ids is r.iv and r.voltage is r.v
    assert r.current_ids is None and r.current is None and r.current_dt is None
    assert r.voltage_dt == 0.1
    assert (r.t0, r.duration, r.t1) == (5.0, DURATION, 5.0 + DURATION)
    assert len(r.it) > 5 and np.all((r.t >= 0) & (r.t < DURATION))


def test_slice_is_a_window_relative_to_the_run(driven):
    _, r = driven
    part = r.slice(5.0, 12.0)
    inside = (r.t >= 5.0) & (r.t < 12.0)
    np.testing.assert_array_equal(part.it, r.it[inside])
    np.testing.assert_allclose(part.t, r.t[inside] - 5.0)
    np.testing.assert_array_equal(part.v, r.v[:, 50:120])
    assert (part.t0, part.duration, part.t1) == (10.0, 7.0, 17.0)
    assert len(part) == 4 and part.slice(0.0).duration == 7.0
    with pytest.raises(ConfigError, match=r"slice stop must be .*<= 20.*got 30"):
        r.slice(0.0, 30.0)


def test_select_keeps_the_cells_of_gids_or_a_population(driven):
    env, r = driven
    inh = r.select(population="INH", population_ranges=env.system.population_ranges)
    assert set(inh.it.tolist()) == {3, 4} and np.array_equal(inh.iv, [3, 4])
    np.testing.assert_array_equal(inh.v, r.v[3:])
    np.testing.assert_array_equal(inh.t, r.t[np.isin(r.it, [3, 4])])
    one = r.select(gids=[4, 0], population="INH",
                   population_ranges=env.system.population_ranges)
    np.testing.assert_array_equal(one.iv, [4])
    with pytest.raises(ConfigError, match=r"population 'INH'.*population_ranges="):
        r.select(population="INH")


def test_results_pickle_with_their_shape_and_times(driven):
    import pickle

    env, r = driven
    env.record_membrane_current()
    six = env.run(5.0)
    for original in (r, six):
        copy = pickle.loads(pickle.dumps(original))
        assert len(copy) == len(original) and copy.t0 == original.t0
        np.testing.assert_array_equal(copy.v, original.v)
    assert len(six) == 6 and six.current_dt == 0.1


# ---------------------------------------------------------------------------- electrodes
def test_channel_and_potential_recording_on_the_env():
    """2.0.0's ``env.channel_recording(it, t)`` / ``env.potential_recording(mp, im)``: the
    MEA's recording of this system's cells (an electrode sees only cells in its radius)."""
    from livn.io import MEA

    xyz = np.array([[0.0, 0, 0], [40, 0, 0], [1000, 0, 0]])  # cells 0, 1 near electrode 0
    mea = MEA(np.array([[0, 0.0, 0, 10], [1, 1000, 0, 10]]), output_radius=100.0)
    env = Env(ParallelSystem(3, coordinates=xyz), io=mea, backend="native", seed=1).init()
    env.record_spikes()
    env.record_membrane_current()
    it, t, _, _, im, mp = env.run(DURATION, Stimulus(np.full((int(DURATION), 3), 0.8), dt=1.0))
    cit, ct = env.channel_recording(it, t)
    assert set(cit) == {0, 1}
    assert set(cit[0].tolist()) == {0, 1} and set(cit[1].tolist()) == {2}
    np.testing.assert_array_equal(ct[1], t[it == 2])
    only = env.channel_recording(it)
    np.testing.assert_array_equal(only[0], cit[0])
    lfp = env.potential_recording(mp, im)
    assert lfp.shape == (2, mp.shape[1])
    near = 1.0 / (4 * np.pi * 0.3 * (10.0 + 5.0) / 1000)  # µV per nA at 10 µm (+5 µm)
    np.testing.assert_allclose(lfp[1], near * mp[2], rtol=1e-5)
    np.testing.assert_allclose(env.potential_recording(mp), lfp)  # rows in gid order
    assert env.close() is env and env.engine is None


def test_calling_the_env_with_a_duration_runs_it():
    env = Env(2, backend="native", seed=5).init()
    env.record_voltage(sections="soma")
    a = env(10)
    env.clear()
    np.testing.assert_array_equal(a.v, env.run(10).v)
    assert a.duration == 10.0 and len(a) == 4
    with pytest.raises(ConfigError, match=r"sections=\['soma', 'axon'\].*somatic voltage only"):
        env.record_voltage(sections=["soma", "axon"])


def test_livn_run_names_our_result_class():
    from livn.env import RunResult
    from livn.run import Run

    assert Run is RunResult
    env = Env(1, backend="native").init()
    env.record_spikes()
    assert isinstance(env.run(1.0), Run)


def test_weight_keys_of_populations_whose_names_hold_underscores():
    from livn.system.synapses import resolve_weight_key

    pops = ["L2_3", "INH"]
    keys = ["L2_3_L2_3-dendrite-AMPA-weight", "INH_L2_3-soma-AMPA-weight",
            "L2_3_INH-soma-GABA_A-weight"]
    assert resolve_weight_key("L2_3", keys, pops) == [keys[0], keys[2]]  # post L2_3
    assert resolve_weight_key("L2_3_INH", keys, pops) == [keys[2]]
    assert resolve_weight_key("INH_L2_3-AMPA", keys, pops) == [keys[1]]
    assert resolve_weight_key("L2_3_L2_3-dend-AMPA-weight", keys, pops) == [keys[0]]
    with pytest.raises(ConfigError, match=r"'L2' names no projection"):
        resolve_weight_key("L2-AMPA", keys, pops)


def test_livn_make_takes_system_as_in_2_0_0():
    import livn

    env = livn.make(system={"EXC": 2}, backend="native", seed=4)
    assert env.engine is not None and env.system.num_neurons == 2 and env.seed == 4
    defaults = Env({"EXC": 2}, backend="native").init().model_defaults()["noise"]
    np.testing.assert_allclose(np.asarray(env.params["noise"]["g_e0"]), defaults["EXC-g_e0"],
                               rtol=1e-6)

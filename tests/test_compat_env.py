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


def test_env_on_a_parallel_system_has_no_channel_inputs():
    env = Env(2, backend="native").init()
    with pytest.raises(ConfigError, match=r"no IO device.*io=MEA"):
        env.cell_stimulus(np.zeros((5, 16)))

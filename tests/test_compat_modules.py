"""livn 2.0.0's ``livn.backend``, ``livn.types`` and ``livn.utils`` on our API.

Every capability a backend declares (``livn.types.Capability``) is checked against real runs
of each installed backend that claims it, and the refusals of those that do not.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from livn.backends import REGISTRY, auto_backend
from livn.backends.base import native_available
from livn.env import Env
from livn.errors import ConfigError
from livn.types import Capability, backends_with, capabilities

UPSTREAM_CAPABILITIES = {"simulation", "mpi", "per_gid_voltage", "noise", "replayable_noise",
                         "plasticity", "differentiable", "immutable", "extracellular_stimulus"}  # fmt: skip


def installed(name: str) -> bool:
    if name == "native":
        return native_available()
    return importlib.util.find_spec(REGISTRY[name].requires) is not None


def claiming(cap: str, claims: bool = True) -> list:
    """The backends that claim (or do not claim) ``cap``, skipped where not installed."""
    names = [n for n in REGISTRY if (cap in REGISTRY[n].capabilities) == claims]
    return [pytest.param(n, marks=pytest.mark.skipif(not installed(n), reason=f"{n} missing"))
            for n in names]  # fmt: skip


def small_env(backend: str, seed: int = 3, **kw) -> Env:
    env = Env({"EXC": 1, "INH": 1}, seed=seed, backend=backend, **kw).init()
    env.record_spikes()
    env.record_voltage()
    return env


# ------------------------------------------------------------------------------ livn.backend
@pytest.mark.parametrize(("value", "expected"), [("diffrax", "jax"), ("jax", "jax"),
                                                 ("native", "native"), ("neuron", "neuron"),
                                                 ("brian2", "brian2"), (" NEURON ", "neuron")])  # fmt: skip
def test_backend_names_what_an_env_would_use(monkeypatch, value, expected):
    from livn.backend import backend

    monkeypatch.setenv("LIVN_BACKEND", value)
    assert backend() == expected
    assert Env(2).backend == expected


@pytest.mark.parametrize("value", [None, "", "auto"])
def test_backend_unset_or_empty_is_auto(monkeypatch, value):
    from livn.backend import UPSTREAM_NAMES, backend

    if value is None:
        monkeypatch.delenv("LIVN_BACKEND", raising=False)
    else:
        monkeypatch.setenv("LIVN_BACKEND", value)
    assert backend() == auto_backend() == Env(2).backend
    assert UPSTREAM_NAMES[""] == "auto" and UPSTREAM_NAMES["diffrax"] == "jax"


def test_backend_refuses_an_unknown_name(monkeypatch):
    from livn.backend import backend

    monkeypatch.setenv("LIVN_BACKEND", "my.module")
    with pytest.raises(ConfigError, match=r"unknown backend 'my.module'.*Valid: auto, jax"):
        backend()


def test_backend_and_capabilities_import_no_simulator():
    code = ("import sys, livn.backend, livn.types; livn.backend.backend(); "
            "livn.types.capabilities('diffrax'); livn.types.capabilities(); "
            "heavy = ('jax', 'neuron', 'brian2', 'mpi4py'); "
            "print(sorted(m for m in heavy if m in sys.modules))")  # fmt: skip
    env = {**os.environ, "LIVN_BACKEND": "diffrax"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)  # fmt: skip
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------ Capability
def test_capability_has_the_upstream_members_as_strings():
    assert {c.value for c in Capability} == UPSTREAM_CAPABILITIES
    assert Capability.MPI == "mpi" and Capability("differentiable") is Capability.DIFFERENTIABLE


def test_capabilities_come_from_the_registry():
    for name, backend in REGISTRY.items():
        caps = capabilities(name)
        assert caps == {Capability(c) for c in backend.capabilities if c in UPSTREAM_CAPABILITIES}
        assert Capability.SIMULATION in caps
    assert capabilities("diffrax") == capabilities("jax")
    assert backends_with("mpi") == ["neuron"]
    assert backends_with(Capability.DIFFERENTIABLE) == ["jax"]
    assert backends_with("plasticity") == []  # no backend here has plasticity
    with pytest.raises(ConfigError, match=r"unknown capability 'diferentiable'.*Did you mean"):
        backends_with("diferentiable")
    with pytest.raises(ConfigError, match=r"unknown backend 'nope'"):
        capabilities("nope")


def test_capabilities_default_to_the_backend_in_use(monkeypatch):
    monkeypatch.setenv("LIVN_BACKEND", "neuron")
    assert Capability.MPI in capabilities()
    monkeypatch.setenv("LIVN_BACKEND", "diffrax")
    assert Capability.MPI not in capabilities() and Capability.DIFFERENTIABLE in capabilities()


@pytest.mark.parametrize("backend", claiming("differentiable"))
def test_differentiable_backends_take_gradients_through_a_run(backend):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    from livn.stimulus import Stimulus

    env = small_env(backend)
    env.set_noise({"enabled": False})

    def loss(x):
        _, _, _, v = env.run(5.0, Stimulus(x, dt=1.0), unroll="mask")
        return jnp.mean(v)

    x = jnp.zeros((5, 2), jnp.float32)
    g = np.asarray(jax.grad(loss)(x))
    assert g.shape == (5, 2) and np.all(np.isfinite(g))
    # inward current raises the mean voltage: the derivative is positive for both cells
    assert np.all(g[:4].sum(axis=0) > 0), g


@pytest.mark.parametrize("backend", claiming("differentiable", claims=False))
def test_other_backends_refuse_a_differentiable_run(backend):
    env = small_env(backend)
    with pytest.raises(ConfigError, match=r"unroll='mask'.*differentiable backend"):
        env.run(1.0, unroll="mask")


@pytest.mark.parametrize("backend", claiming("replayable_noise"))
def test_replayable_noise_repeats_after_clear(backend):
    env = small_env(backend, seed=11)
    first = env.run(20.0)
    env.clear()
    again = env.run(20.0)
    np.testing.assert_array_equal(first.v, again.v)
    np.testing.assert_array_equal(first.it, again.it)
    env.clear(seed=12)  # the noise is what made the trace: another seed, another trace
    assert not np.allclose(first.v, env.run(20.0).v)


@pytest.mark.parametrize("backend", claiming("noise"))
def test_noise_drives_the_cells(backend):
    def trace(seed: int, noise: bool) -> np.ndarray:
        env = small_env(backend, seed=seed)
        env.set_noise({"enabled": noise})
        return env.run(10.0).v

    # with noise the seed changes the trace; without, nothing random is left
    assert np.max(np.abs(trace(1, True) - trace(2, True))) > 0.1  # mV
    np.testing.assert_array_equal(trace(1, False), trace(2, False))


@pytest.mark.parametrize("backend", claiming("per_gid_voltage"))
def test_per_gid_voltage_records_only_those_cells(backend):
    env = Env(3, backend=backend).init()
    env.record_voltage(gids=[1])
    result = env.run(1.0)
    assert result.iv.tolist() == [1] and result.v.shape == (1, 10)


@pytest.mark.parametrize("backend", claiming("immutable"))
def test_immutable_backends_rerun_an_earlier_state(backend):
    env = small_env(backend)
    saved = env.state
    a = env.run(5.0)
    env.state = saved
    np.testing.assert_array_equal(a.v, env.run(5.0).v)


@pytest.mark.parametrize("backend", claiming("immutable", claims=False))
def test_other_backends_refuse_an_earlier_state(backend):
    env = small_env(backend)
    saved = env.state
    env.run(1.0)
    env.state = saved
    with pytest.raises(ConfigError, match=r"cannot be resumed"):
        env.run(1.0)


@pytest.mark.parametrize("backend", claiming("extracellular_stimulus"))
def test_extracellular_stimulus_reaches_the_cells(backend):
    env = Env("EI1", seed=2, backend=backend).init()
    env.set_noise({"enabled": False})
    env.record_voltage()
    quiet = env.run(5.0).v
    env.clear()
    currents = np.zeros((5, env.io.num_channels), np.float32)
    currents[1:3] = 5.0  # µA on every electrode for 2 ms
    driven = env.run(5.0, env.cell_stimulus(currents, dt=1.0)).v
    assert np.max(np.abs(driven - quiet)) > 0.1  # mV


@pytest.mark.parametrize("backend", claiming("mpi", claims=False))
def test_backends_without_mpi_refuse_a_communicator(backend):
    with pytest.raises(ConfigError, match=r"not supported by the .* backend.*'neuron'"):
        Env(2, backend=backend, comm=object())


# ------------------------------------------------------------------------------ other types
def test_synaptic_params_are_the_mechanism_keys():
    from livn.system.synapses import TRANSMITTERS
    from livn.types import SynapticParam

    keys = {k for mechs in TRANSMITTERS.values() for mech in mechs.values() for k in mech}
    assert {p.value for p in SynapticParam} == keys


def test_protocols_describe_our_parts():
    from livn import types
    from livn.decoding import MeanFiringRate
    from livn.encoding import NoInput
    from livn.io import MEA
    from livn.models import LIF, Izhikevich, ReducedCalciumSomaDendrite
    from livn.system import ParallelSystem, make

    assert isinstance(make("EI1"), types.System) and isinstance(ParallelSystem(2), types.System)
    assert all(isinstance(m(), types.Model) for m in (ReducedCalciumSomaDendrite, LIF, Izhikevich))
    assert isinstance(MEA(), types.IO) and isinstance(NoInput(), types.Encoding)
    assert isinstance(MeanFiringRate(duration=10.0), types.Decoding)
    for proto in (types.System, types.Model, types.IO, types.Decoding):
        assert not isinstance(object(), proto)


# ------------------------------------------------------------------------------ livn.utils
class FakeComm:
    """The four mpi4py calls P makes, as rank ``rank`` of ``size`` with fixed peers' values."""

    def __init__(self, rank: int, peers: list) -> None:
        self.rank, self.peers = rank, peers

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return len(self.peers)

    def gather(self, value, root=0):
        return [value if i == self.rank else p for i, p in enumerate(self.peers)] \
            if self.rank == root else None  # fmt: skip

    def bcast(self, value, root=0):
        return self.peers[root]

    def allreduce(self, value):
        return sum(value if i == self.rank else p for i, p in enumerate(self.peers))


def test_p_acts_as_the_only_rank_without_mpi():
    from livn.utils import P

    # no communicator, or (once another test imported mpi4py) COMM_WORLD of a single process
    comm = P.comm()
    assert comm is None or comm.Get_size() == 1
    assert P.rank() == 0 and P.size() == 1 and P.is_root()
    assert P.gather(5) == [5] and P.broadcast(5) == 5 and P.reduce_sum(5) == 5
    assert P.merge({"a": 1}) == {"a": 1}


def test_p_uses_the_communicator():
    from livn.utils import P

    root, other = FakeComm(0, [None, {"b": 2}]), FakeComm(1, [{"a": 1}, None])
    assert P.is_root(root) and not P.is_root(other) and P.size(other) == 2
    assert P.gather(1, comm=root) == [1, {"b": 2}] and P.gather(1, comm=other) is None
    assert P.broadcast("mine", comm=other) == {"a": 1}
    assert P.reduce_sum(np.ones(2), comm=FakeComm(0, [None, np.ones(2)])).tolist() == [2, 2]
    assert P.merge({"a": 1}, comm=root) == {"a": 1, "b": 2}
    assert P.merge({"b": 2}, comm=other) is None


def test_p_and_run_gather_under_mpiexec(tmp_path):
    from livn.workflows.executors import find_mpiexec

    mpiexec = find_mpiexec()
    if mpiexec is None:
        pytest.skip("mpiexec not found")
    script = tmp_path / "gather.py"
    script.write_text(
        "import json, sys\n"
        "import numpy as np\n"
        "from livn.run import Run\n"
        "from livn.utils import P\n"
        "r = P.rank()\n"
        "run = Run({'spikes': ([r], [1.0 - r / 4]), 'voltage': ([r], np.full((1, 4), r), 0.5)}, 2.0)\n"
        "merged = run.gather()\n"
        "out = None if merged is None else [merged.spike_ids.tolist(), merged.voltage.tolist()]\n"
        "report = [out, P.reduce_sum(r + 1), P.size(), P.is_root(), P.broadcast(r * 10)]\n"
        "with open(f'{sys.argv[1]}/rank{r}.json', 'w') as f:\n"
        "    json.dump(report, f)\n"
    )  # fmt: skip
    out = subprocess.run([mpiexec, "-n", "2", sys.executable, str(script), str(tmp_path)],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    rank0 = json.loads((tmp_path / "rank0.json").read_text())
    rank1 = json.loads((tmp_path / "rank1.json").read_text())
    # rank 1's spike is earlier (0.75 ms): merged spikes sorted by time; voltage rows by gid
    assert rank0 == [[[1, 0], [[0.0] * 4, [1.0] * 4]], 3, 2, True, 0]
    assert rank1 == [None, 3, 2, False, 0]


def test_merge_joins_dicts_and_runs():
    from livn.run import Run
    from livn.utils import merge

    assert merge({"a": {"x": 1}, "b": 1}, None, {"a": {"y": 2}, "b": 3}) == \
        {"a": {"x": 1, "y": 2}, "b": 3}  # fmt: skip
    assert merge(None, None) is None
    a = Run({"spikes": ([0], [2.0])}, 0, 5)
    b = Run({"spikes": ([1], [1.0])}, 0, 5)
    assert merge(a, b).spike_ids.tolist() == [1, 0]
    with pytest.raises(ConfigError, match=r"all of one kind.*RunResult, dict"):
        merge(a, {"a": 1})


def test_import_instance_builds_our_classes():
    from livn.decoding import MeanFiringRate
    from livn.models import LIF
    from livn.utils import import_instance

    model = import_instance({"cls": "livn.models.LIF", "kwargs": {"dt": 0.05}})
    assert isinstance(model, LIF) and model.dt == 0.05
    assert isinstance(import_instance("LIF"), LIF)
    assert import_instance("MeanFiringRate", duration=5.0) == MeanFiringRate(duration=5.0)
    assert import_instance(model) is model
    with pytest.raises(ConfigError, match=r"cannot import class 'nowhere.Thing'"):
        import_instance("nowhere.Thing")
    with pytest.raises(ConfigError, match=r"cannot build LIF:.*bogus"):
        import_instance({"cls": "livn.models.LIF", "kwargs": {"bogus": 1}})
    with pytest.raises(ConfigError, match=r"keys cls, args"):
        import_instance({"cls": "livn.models.LIF", "args": [1]})


def test_load_file_reads_json_and_yaml(tmp_path):
    from livn.utils import load_file

    (tmp_path / "a.json").write_text(json.dumps({"x": [1, 2.5], "y": None}))
    (tmp_path / "b.yml").write_text("x: 1e3\ny: [a, b]\n")
    assert load_file(tmp_path / "a.json") == {"x": [1, 2.5], "y": None}
    assert load_file(str(tmp_path / "b.yml")) == {"x": 1000.0, "y": ["a", "b"]}
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match=r"bad.json: not valid JSON"):
        load_file(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match=r"missing.json: cannot be read"):
        load_file(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match=r"reads .json, .yml or .yaml files; got .*c.txt"):
        load_file(tmp_path / "c.txt")

"""What only the Brian2 backend has: no recompilation, lazy import, its code targets.

The Env contract and the parity with the JAX engine, shared with the native backend, are in
``test_host_backends.py``.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("brian2", reason="the Brian2 backend needs brian2 (pip install 'livn[brian2]')")
pytest.importorskip("jax", reason="parity against the JAX engine needs jax")

from livn.env import Env
from livn.errors import ConfigError
from livn.stimulus import Stimulus
from livn.system import predefined


def _env(backend: str, seed: int = 1) -> Env:
    env = Env(predefined("EI1"), backend=backend, seed=seed).init()
    env.apply_model_defaults()
    return env


def test_new_inputs_do_not_recompile():
    """A new stimulus, new weights, new noise and clear() change data, never the code."""
    from brian2.codegen.runtime.cython_rt.extension_manager import cython_extension_manager

    env = _env("brian2")
    env.record_spikes()
    env.run(5)
    cache = cython_extension_manager._code_cache
    before = len(cache)
    n = env.system.num_neurons
    env.run(5, Stimulus(np.full((5, n), 0.3, np.float32), dt=1.0))
    env.set_weights({k: 0.5 for k in env.weight_names})
    env.set_noise(std_e=0.01)
    env.clear()
    env.run(7, Stimulus(np.full((28, n), 0.1, np.float32), dt=0.25))
    assert len(cache) == before


def test_import_livn_does_not_import_brian2():
    code = "import sys, livn, livn.backends.brian2; assert 'brian2' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_target_is_refused():
    from livn.backends.brian2.engine import _code_object_class

    with pytest.raises(ConfigError, match="cpp_standalone"):
        _code_object_class("cpp_standalone")

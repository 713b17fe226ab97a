"""The backend registry (``livn.backends``): names, aliases, clear errors, lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from livn.backends import BACKENDS, default_backend, load, resolve
from livn.backends.base import REGISTRY, Backend, register
from livn.errors import ConfigError, MissingDependencyError


def test_names_aliases_and_the_environment_default(monkeypatch):
    assert resolve("jax") == resolve("diffrax") == resolve(" JAX ") == "jax"
    assert BACKENDS == {"jax": "jax", "neuron": "neuron", "brian2": "brian2", "diffrax": "jax"}
    monkeypatch.setenv("LIVN_BACKEND", "diffrax")
    assert default_backend() == "jax"
    monkeypatch.setenv("LIVN_BACKEND", "brian3")
    with pytest.raises(ConfigError, match=r"unknown backend 'brian3'.*Valid: jax, neuron, brian2, diffrax"):
        default_backend()


def test_env_builds_through_the_registry():
    from livn.backends.jax.engine import Engine
    from livn.env import Env

    env = Env("EI1", backend="diffrax").init()
    assert env.backend == "jax" and isinstance(env.engine, Engine)
    with pytest.raises(ConfigError, match="unknown backend 'nest'"):
        Env("EI1", backend="nest")


def test_a_missing_simulator_names_its_extra(monkeypatch):
    fake = Backend("fake", "livn.backends.base:_jax_engine", "livn_no_such_simulator", "fake")
    monkeypatch.setitem(REGISTRY, "fake", fake)
    with pytest.raises(MissingDependencyError, match=r"pip install 'livn\[fake\]'"):
        load("fake")
    from livn.env import Env

    with pytest.raises(MissingDependencyError, match="livn_no_such_simulator"):
        Env("EI1", backend="fake").init()


def test_register_adds_a_backend_and_its_aliases(monkeypatch):
    from livn.backends import base

    monkeypatch.setattr(base, "REGISTRY", dict(base.REGISTRY))
    monkeypatch.setattr(base, "ALIASES", dict(base.ALIASES))
    register(Backend("other", "livn.backends.base:_jax_engine", "numpy", "jax"), "alt")
    assert base.resolve("alt") == "other"
    assert base.load("other") is base._jax_engine


def test_importing_the_registry_imports_no_simulator():
    code = ("import sys, livn.backends, livn.env; "
            "print(sorted(m for m in ('jax', 'neuron', 'brian2') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_env_module_imports_no_simulator():
    """Env reaches the simulator only through its engine (the seam of livn.backends.base)."""
    import ast
    from pathlib import Path

    import livn.env

    tree = ast.parse(Path(livn.env.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"jax", "jaxlib", "neuron", "brian2", "torch"}, imported

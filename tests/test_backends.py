"""The backend registry (``livn.backends``): names, aliases, clear errors, lazy imports."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from livn.backends import BACKENDS, default_backend, load, resolve
from livn.backends.base import REGISTRY, Backend, register
from livn.errors import ConfigError, MissingDependencyError


def test_names_aliases_and_the_environment_default(monkeypatch):
    assert resolve("jax") == resolve("diffrax") == resolve(" JAX ") == "jax"
    assert BACKENDS == {"jax": "jax", "native": "native", "neuron": "neuron", "brian2": "brian2",
                        "diffrax": "jax"}  # fmt: skip
    monkeypatch.setenv("LIVN_BACKEND", "diffrax")
    assert default_backend() == "jax"
    monkeypatch.setenv("LIVN_BACKEND", "brian3")
    with pytest.raises(ConfigError,
                       match=r"unknown backend 'brian3'.*Valid: auto, jax, native, neuron, brian2, "
                             r"diffrax"):  # fmt: skip
        default_backend()


def test_auto_picks_native_on_a_cpu_with_a_compiler_else_jax(monkeypatch, tmp_path):
    from livn.backends import base

    monkeypatch.delenv("LIVN_BACKEND", raising=False)
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(base, "jax_gpu_installed", lambda: False)
    monkeypatch.setattr(base.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert default_backend() == resolve("auto") == resolve(" Auto ") == "native"
    monkeypatch.setenv("LIVN_BACKEND", "")
    assert default_backend() == "native"
    monkeypatch.setattr(base.shutil, "which", lambda name: None)  # no C compiler
    assert default_backend() == "jax"
    monkeypatch.setenv("CC", "clang")
    assert default_backend() == "native"
    monkeypatch.setattr(base, "jax_gpu_installed", lambda: True)  # batched trials on the GPU
    assert default_backend() == "jax"


def test_a_jax_gpu_plugin_is_found_without_importing_jax(monkeypatch, tmp_path):
    from livn.backends import base

    plugins = tmp_path / "jax_plugins"
    plugins.mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not base.jax_gpu_installed() or any(
        "cuda" in n or "rocm" in n for p in sys.path if os.path.isdir(os.path.join(p, "jax_plugins"))
        for n in os.listdir(os.path.join(p, "jax_plugins"))
    )  # fmt: skip
    (plugins / "xla_cuda12").mkdir()
    assert base.jax_gpu_installed()


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

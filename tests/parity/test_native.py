"""What only the native backend has: one build per kernel, a clear compile error, the
process's floating-point mode left alone, the differentiable mode refused.

The Env contract and the parity with the JAX engine, shared with Brian2, are in
``test_host_backends.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("jax", reason="parity against the JAX engine needs jax")
if shutil.which("cc") is None and shutil.which("gcc") is None:
    pytest.skip("the native backend needs a C compiler", allow_module_level=True)

from livn.env import Env
from livn.errors import ConfigError
from livn.stimulus import Stimulus
from livn.system import predefined


def _env(backend: str, seed: int = 1) -> Env:
    env = Env(predefined("EI1"), backend=backend, seed=seed).init()
    env.apply_model_defaults()
    return env


def test_new_inputs_do_not_recompile(tmp_path, monkeypatch):
    """A new stimulus, new weights, new noise and clear() change data, never the kernel: one
    library is built per system and model, and a second Env (a second process alike) loads it."""
    from livn.backends.native import kernel

    monkeypatch.setenv("LIVN_CACHE_DIR", str(tmp_path))
    builds = []
    real_run = kernel.subprocess.run
    monkeypatch.setattr(kernel.subprocess, "run",
                        lambda cmd, **k: builds.append(cmd) or real_run(cmd, **k))  # fmt: skip
    env = _env("native")
    env.record_spikes()
    env.run(5)
    n = env.system.num_neurons
    env.run(5, Stimulus(np.full((5, n), 0.3, np.float32), dt=1.0))
    env.set_weights({k: 0.5 for k in env.weight_names})
    env.set_noise(std_e=0.01)
    env.clear()
    env.run(7, Stimulus(np.full((28, n), 0.1, np.float32), dt=0.25))
    _env("native").run(3)
    assert sum("-c" in cmd for cmd in builds) == 1  # one compile (and its link)
    assert len(list((tmp_path / "native").glob("*.so"))) == 1


def test_concurrent_first_uses_build_once(tmp_path):
    """Three processes start on an empty cache: one compiles (under the lock), all run."""
    code = textwrap.dedent("""
        from livn.env import Env
        env = Env("EI1", backend="native", seed=1).init()
        env.record_spikes()
        print(len(env.run(20).it))
    """)
    env = {**os.environ, "LIVN_CACHE_DIR": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(3)]  # fmt: skip
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    assert len({o[0].strip() for o in outs}) == 1  # the same run in every process
    names = sorted(p.name for p in (tmp_path / "native").iterdir() if not p.name.startswith("."))
    assert len(names) == 2 and names[0].endswith(".c") and names[1].endswith(".so"), names


def test_import_livn_does_not_compile_or_load_the_kernel():
    code = ("import sys, livn, livn.backends.native.kernel; "
            "assert not any(m.startswith('livn.backends.native.engine') for m in sys.modules)")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_failed_compile_says_why_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "false")
    with pytest.raises(ConfigError, match=r"compiling the native kernel with false failed"):
        _env("native")
    assert not list((tmp_path / "native").glob("*.so"))


def test_the_kernel_leaves_the_process_floating_point_mode_alone():
    """Fast math is for the kernel's own code: after loading and running it, subnormal
    numbers still exist in this process (no flush-to-zero left behind)."""
    env = _env("native")
    env.record_spikes()
    env.run(20)
    tiny = np.array([1e-310, 1e-40], np.float64) * np.array([1.0, 1.0])
    assert tiny[0] > 0.0 and np.float32(1e-40) * np.float32(1.0) > 0.0
    assert np.nextafter(np.float64(0.0), 1.0) > 0.0


def test_the_noise_normals_are_standard_normal_and_independent():
    """The kernel's counter-based normals (hash of seed key, step and cell, then Box–Muller),
    drawn by the library itself: moments, shape (KS against N(0, 1)), no correlation between
    the excitatory and inhibitory draw, across steps, across cells or between seeds; the same
    numbers for the same (key, step)."""
    from scipy import stats

    from livn.backends.native.engine import noise_key
    from livn.backends.native.kernel import sample_normals

    env = _env("native")
    run = env.engine.kernel
    z = sample_normals(run, noise_key(1), 0, 2000, 100).astype(np.float64)  # [steps, cells, 2]
    flat = z.ravel()
    assert abs(flat.mean()) < 0.005 and abs(flat.var() - 1.0) < 0.01  # 4e5 draws: 5 sigma
    assert stats.kstest(flat, "norm").pvalue > 1e-3
    assert abs(stats.kurtosis(flat)) < 0.05 and abs(stats.skew(flat)) < 0.02
    corr = lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1])  # noqa: E731
    assert abs(corr(z[..., 0], z[..., 1])) < 0.01  # excitatory vs inhibitory
    assert abs(corr(z[1:], z[:-1])) < 0.01  # consecutive steps
    assert abs(corr(z[:, 1:], z[:, :-1])) < 0.01  # neighbouring cells
    other = sample_normals(run, noise_key(2), 0, 2000, 100)
    assert abs(corr(z, other)) < 0.01  # another seed
    np.testing.assert_array_equal(sample_normals(run, noise_key(1), 1500, 500, 100), z[1500:])


def test_unroll_mask_is_refused_with_the_backend_that_has_it():
    env = _env("native")
    env.record_spikes()
    with pytest.raises(ConfigError, match=r"needs a differentiable backend.*backend='jax'"):
        env.run(10, unroll="mask")

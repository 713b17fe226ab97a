"""The persistent compilation cache (livn.backends.jax.cache): on by default, shared by
processes, off with LIVN_COMPILE_CACHE=0, a warning when unwritable, corrupt entries rewritten.

Each case runs fresh processes (the cache is process-wide JAX configuration) and counts JAX's
own cache events (``jax.monitoring``): hits, misses and compile requests — not time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("jax")

SCRIPT = textwrap.dedent("""
    import json, os, sys, warnings
    from collections import Counter
    import jax.monitoring
    events = Counter()
    jax.monitoring.register_event_listener(lambda name, **kw: events.update([name]))
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        from livn.env import Env
        env = Env(os.environ.get("LIVN_TEST_SYSTEM", "EI1"), seed=3, backend="jax").init()
        env.apply_model_defaults()
        env.record_voltage()
        v = env.run(10.0).v
    print(json.dumps({
        "hits": events["/jax/compilation_cache/cache_hits"],
        "misses": events["/jax/compilation_cache/cache_misses"],
        "v": float(v.sum()),
        "warnings": [str(w.message) for w in caught],
    }))
""")


def _run(cache_dir, **env) -> dict:
    environ = {**os.environ, "LIVN_CACHE_DIR": str(cache_dir), **env}
    environ.pop("JAX_COMPILATION_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=environ, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _entries(cache_dir):
    d = cache_dir / "jax-compile"
    return sorted(p for p in d.glob("*-cache")) if d.exists() else []


def test_a_second_process_loads_the_programs_instead_of_compiling(tmp_path):
    first = _run(tmp_path)
    assert first["hits"] == 0 and first["misses"] > 0
    entries = _entries(tmp_path)
    assert any("run_impl" in p.name for p in entries)
    second = _run(tmp_path)
    assert second["hits"] >= first["misses"] and second["misses"] == 0
    assert second["v"] == first["v"]  # a cached program computes the same


def test_livn_compile_cache_0_turns_it_off(tmp_path):
    out = _run(tmp_path, LIVN_COMPILE_CACHE="0")
    assert out["hits"] == 0 and not (tmp_path / "jax-compile").exists()


def test_an_unwritable_cache_warns_once_and_runs(tmp_path):
    from livn.system import make

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = _run(blocker / "cache", LIVN_TEST_SYSTEM=make("EI1").uri)
    notes = [w for w in out["warnings"] if "compilation cache" in w]
    assert len(notes) == 1 and "not writable" in notes[0] and "LIVN_COMPILE_CACHE=0" in notes[0]
    assert out["hits"] == 0


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_entries_are_ignored_and_rewritten(tmp_path, damage):
    good = _run(tmp_path)
    for entry in _entries(tmp_path):
        data = entry.read_bytes()
        entry.write_bytes(b"garbage" if damage == "garbage" else data[: len(data) // 2])
    repaired = _run(tmp_path)
    assert repaired["v"] == good["v"]
    assert not [w for w in repaired["warnings"] if "cache entry" in w]  # handled, not shown
    sizes = {p.name: p.stat().st_size for p in _entries(tmp_path)}
    assert all(size > 100 for size in sizes.values()), sizes  # rewritten in that process
    again = _run(tmp_path)
    assert again["misses"] == 0 and again["hits"] > 0 and again["v"] == good["v"]

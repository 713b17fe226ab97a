"""livn's NMODL mechanisms: compiled once into the cache, safely under concurrent first use,
and a failed build explains itself and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip(
    "neuron", reason="the NEURON simulator is not installed (pip install 'livn[neuron]')"
)

from livn.backends.neuron import mechanisms


def test_concurrent_first_uses_build_once(tmp_path):
    code = textwrap.dedent("""
        from livn.backends.neuron.mechanisms import library_path
        print(library_path())
    """)
    env = {**os.environ, "LIVN_CACHE_DIR": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(3)]  # fmt: skip
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    paths = {o[0].strip() for o in outs}
    assert len(paths) == 1  # every process got the same library
    builds = [p for p in (tmp_path / "neuron").iterdir() if not p.name.startswith(".")]
    assert len(builds) == 1 and str(builds[0]) in paths.pop()  # one build, no staging left


def test_a_failed_build_names_the_compiler_error_and_leaves_nothing(tmp_path, monkeypatch):
    broken = {"livn_broken.mod": b"NEURON { SUFFIX livn_broken }\nBREAKPOINT { x = }\n"}
    monkeypatch.setenv("LIVN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(mechanisms, "_sources", lambda: broken)
    with pytest.raises(mechanisms.MechanismBuildError) as info:
        mechanisms.library_path()
    message = str(info.value)
    assert str(tmp_path / "neuron") in message and "nrnivmodl" in message
    assert "livn_broken" in message  # the compiler's own output
    assert [p.name for p in (tmp_path / "neuron").iterdir() if not p.name.startswith(".")] == []
    assert not any(p.name.startswith(".staging") for p in (tmp_path / "neuron").iterdir())

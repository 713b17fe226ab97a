"""livn's NMODL mechanisms: compiled once per installation, on first use, into the user cache.

The ``.mod`` files shipped in ``livn/backends/neuron/mod`` are compiled with ``nrnivmodl`` into
``<cache>/neuron/<hash>/`` where ``<hash>`` covers the sources, the NEURON version and the
platform, so an upgrade rebuilds and two installations never share a stale library. The
build runs in a staging directory under a file lock and is renamed into place when it is
complete: concurrent first uses (processes, MPI ranks) wait for one build, and a failed build
leaves nothing behind but raises the compiler's message and the cache path. Nothing is
compiled at import.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

from livn.errors import LivnError

__all__ = ["MECHANISMS", "MechanismBuildError", "library_path", "load_mechanisms"]

#: Point processes and density mechanisms this backend needs (checked after loading).
MECHANISMS = ("LivnSyn", "LivnOU", "LivnSpike", "livn_nas", "livn_kdr", "livn_ka", "livn_kca", "livn_can",
              "livn_cal", "livn_capool", "livn_napool", "livn_kpool", "livn_hold")  # fmt: skip


class MechanismBuildError(LivnError):
    """``nrnivmodl`` failed; the message holds its output and the cache path."""


def _sources() -> dict[str, bytes]:
    root = resources.files("livn.backends.neuron") / "mod"
    return {p.name: p.read_bytes() for p in sorted(root.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".mod")}  # fmt: skip


def _digest(sources: dict[str, bytes]) -> str:
    import neuron

    h = hashlib.sha256()
    for name, text in sources.items():
        h.update(name.encode() + b"\0" + text + b"\0")
    h.update(f"{neuron.__version__}|{platform.machine()}|{sys.version_info[:2]}".encode())
    return h.hexdigest()[:16]


def _find_library(build: Path) -> Path | None:
    for pattern in ("*/libnrnmech.so", "*/.libs/libnrnmech.so", "*/libnrnmech.dylib",
                    "*/.libs/libnrnmech.dylib"):  # fmt: skip
        found = sorted(build.glob(pattern))
        if found:
            return found[0]
    return None


def _nrnivmodl() -> str:
    here = Path(sys.executable).parent / "nrnivmodl"
    if here.exists():
        return str(here)
    found = shutil.which("nrnivmodl")
    if found is None:
        raise MechanismBuildError(
            "nrnivmodl (NEURON's mechanism compiler) was not found next to this Python or on "
            "PATH. Install NEURON with: pip install 'livn[neuron]'"
        )
    return found


def library_path() -> Path:
    """The compiled mechanism library, building it first if needed (see module docstring).

    Raises:
        MechanismBuildError: ``nrnivmodl`` failed or is missing (message: its output and the
            cache directory).
    """
    from livn.system.predefined import _lock, cache_dir

    sources = _sources()
    root = cache_dir() / "neuron"
    target = root / _digest(sources)
    lib = _find_library(target)
    if lib is not None:
        return lib
    root.mkdir(parents=True, exist_ok=True)
    with _lock(root / f".{target.name}.lock"):
        lib = _find_library(target)
        if lib is not None:  # another process built it while we waited
            return lib
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{target.name}-", dir=root))
        try:
            for name, text in sources.items():
                (staging / name).write_bytes(text)
            proc = subprocess.run([_nrnivmodl(), "."], cwd=staging, capture_output=True,
                                  text=True, env={**os.environ})  # fmt: skip
            if proc.returncode != 0 or _find_library(staging) is None:
                out = (proc.stdout + proc.stderr).strip().splitlines()
                raise MechanismBuildError(
                    f"compiling livn's NEURON mechanisms failed (nrnivmodl exit "
                    f"{proc.returncode}); nothing was installed in {target}. Compiler output "
                    f"(last lines):\n" + "\n".join(out[-25:])
                )
            staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    lib = _find_library(target)
    assert lib is not None
    return lib


def load_mechanisms(h) -> None:
    """Load the mechanisms into NEURON (once per process; a no-op when already loaded)."""
    if all(hasattr(h, m) for m in MECHANISMS[:3]):
        return
    lib = library_path()
    h.nrn_load_dll(str(lib))
    missing = [m for m in MECHANISMS[:3] if not hasattr(h, m)]
    if missing:  # pragma: no cover - a library without our mechanisms
        raise MechanismBuildError(f"{lib} does not define {', '.join(missing)}; delete it.")

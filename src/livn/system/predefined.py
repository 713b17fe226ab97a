"""Predefined systems, built offline from configs shipped in the package (SPEC §1.2).

The original distributes these systems from a hub. Here each one is a generator config in
``livn/system/configs/<NAME>.yml``, built deterministically on first use and cached under
``$LIVN_CACHE_DIR`` (default: the user cache directory, e.g. ``~/.cache/livn``) in
``systems/<NAME>-<hash>``. The hash covers the config, the directory format version and the
generator version, so a changed definition never reuses a stale build. Concurrent first uses
are safe: builders serialise on a file lock (``systems/.<NAME>-<hash>.lock``), build in a
staging directory ``systems/.<NAME>-<hash>.staging-<random>`` and publish it with an atomic
rename. A build that was killed leaves its staging directory; the next use of that name removes
it under the same lock (and the staging directories of other builds of the name whose lock is
free), and nothing else in the cache.

A config may carry tuned model defaults (``defaults: {RCSD: {weights: ..., noise: ...}}``, see
:func:`resolve_defaults`); the build resolves them into explicit keys and writes
``params/<MODEL>.json``, which :meth:`livn.env.Env.apply_model_defaults` applies.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from livn import _fs
from livn.errors import ConfigError, UnknownSystemError, did_you_mean
from livn.system.graph import FORMAT_VERSION
from livn.system.synapses import TRANSMITTERS, weight_name

#: Bump when a generator's algorithm changes what a config produces
#: (3: ``params/RCSD.json`` from the config's tuned ``defaults``; 4: a transmitter per
#: population, recorded in graph.json, the 2,600-cell cultures cholinergic, 3D layered systems).
GENERATOR_VERSION = 4

#: Background-noise parameter names (SPEC §2.5), valid in a ``defaults`` noise block.
NOISE_NAMES: tuple[str, ...] = ("g_e0", "g_i0", "std_e", "std_i", "tau_e", "tau_i")

#: 2D cultures (``configs/<NAME>.yml`` with a ``culture:`` block, see :mod:`livn.system.culture`).
CULTURES: tuple[str, ...] = ("EI1", "EI2", "EI3", "EI4", "E", "E5I", "E3I", "EI")

#: 3D layered systems (``configs/<NAME>.yml`` in the seed's format, see
#: :mod:`livn.system.layered`; they ``!include`` the ``configs/_*.yml`` files).
LAYERED: tuple[str, ...] = ("S1", "S2", "S3", "S4", "CA1")
THREE_D = LAYERED  # the name of earlier versions

#: Names of the predefined systems that can be built offline.
PREDEFINED: tuple[str, ...] = (*CULTURES, *LAYERED)


def cache_dir() -> Path:
    """Root of livn's cache: ``$LIVN_CACHE_DIR`` if set, else the user cache directory."""
    env = os.environ.get("LIVN_CACHE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_cache_dir("livn"))


def shipped_config(name: str) -> Path:
    """Path of the config file shipped for a predefined system (``configs/<NAME>.yml``)."""
    _check_name(name)
    path = resources.files("livn.system").joinpath("configs", f"{name}.yml")
    return Path(str(path))


def definition(name: str) -> dict[str, Any]:
    """The shipped definition of a predefined system: for a 2D culture ``{"name", "culture",
    "mea", "defaults"}``; for a 3D layered system its config with every ``!include``
    resolved (``Definitions``, ``Cell Types``, ``Synapses``, ``Geometry``, ``name``, ``seed``,
    ``mea``, ``defaults``)."""
    _check_name(name)
    if name in LAYERED:
        from livn.system.layered.loader import load_config

        return load_config(shipped_config(name))[0]
    text = resources.files("livn.system").joinpath("configs", f"{name}.yml").read_text("utf-8")
    return yaml.safe_load(text)


def population_sizes(name: str) -> dict[str, int]:
    """Cells per population of a predefined system, from its definition (nothing is built)."""
    if name in LAYERED:
        from livn.system.layered import load

        return load(shipped_config(name)).population_counts()
    from livn.system.culture import CultureConfig

    return CultureConfig.model_validate(definition(name)["culture"]).population_counts()


def _noise_defaults() -> dict[str, float]:
    from livn.models.rcsd.model import NOISE_DEFAULTS

    return dict(NOISE_DEFAULTS)


def resolve_defaults(graph, block: dict[str, Any] | None) -> dict[str, dict[str, float]]:
    """Explicit ``{"weights": {key: value}, "noise": {name: value}}`` from a rule block.

    ``block["weights"]`` holds scale factors on each mechanism's template weight (number of
    release sites), looked up per weight key: an entry for the full key (e.g.
    ``EXC_INH-soma-GABA_A-weight``) is the weight itself; otherwise the weight is
    ``template × S × M`` with ``S`` the entry for the projection (``"EXC->INH"``) or else for
    its synapse type (``excitatory`` / ``inhibitory``; 1 if absent) and ``M`` the entry for the
    mechanism name (``AMPA``, ``NMDA``, ``GABA_A``; 1 if absent). ``block["noise"]`` overrides
    the SPEC §2.5 built-in noise; names may be population-prefixed (``EXC-g_e0``). Every weight
    key of the system appears in the result, and every noise name (prefixed ones last).

    Args:
        graph: The system's :class:`~livn.system.graph.GraphInfo`.
        block: The ``defaults: RCSD:`` mapping of a config, or ``None`` for the built-ins.

    Raises:
        ConfigError: For an unknown key in the block.
    """
    block = dict(block or {})
    unknown = set(block) - {"weights", "noise"}
    if unknown:
        raise ConfigError(f"defaults: unknown entries {sorted(unknown)}; valid: weights, noise.")
    rules = {str(k): float(v) for k, v in (block.get("weights") or {}).items()}
    keys = [weight_name(p.post, p.pre, p.section, m) for p in graph.projections
            for m in p.mechanisms]  # fmt: skip
    mechanisms = {m for t in TRANSMITTERS.values() for m in t}
    projections = {f"{p.pre}->{p.post}" for p in graph.projections}
    valid = {"excitatory", "inhibitory", *mechanisms, *projections, *keys}
    bad = sorted(set(rules) - valid)
    if bad:
        raise ConfigError(
            f"defaults: unknown weight rule(s) {bad}. Valid: excitatory, inhibitory, a "
            f"mechanism ({', '.join(sorted(mechanisms))}), a projection "
            f"({', '.join(sorted(projections))}) or a weight key."
        )
    weights: dict[str, float] = {}
    for p in graph.projections:
        scale = rules.get(f"{p.pre}->{p.post}", rules.get(p.type, 1.0))
        for mech, info in p.mechanisms.items():
            key = weight_name(p.post, p.pre, p.section, mech)
            value = rules.get(key, info.weight * scale * rules.get(mech, 1.0))
            weights[key] = round(float(value), 6)

    noise = _noise_defaults()
    populations = {p.name for p in graph.populations}
    prefixed: dict[str, float] = {}
    for key, value in (block.get("noise") or {}).items():
        pop, _, name = str(key).rpartition("-")
        if name not in NOISE_NAMES or (pop and pop not in populations):
            raise ConfigError(
                f"defaults: unknown noise parameter {key!r}. Valid: {', '.join(NOISE_NAMES)}, "
                "optionally prefixed by a population ('EXC-g_e0')."
            )
        if float(value) < 0:
            raise ConfigError(f"defaults: noise parameter {key!r} must be >= 0, got {value}.")
        (prefixed if pop else noise)[str(key)] = float(value)
    return {"weights": weights, "noise": {**noise, **prefixed}}


def _write_model_defaults(spec: dict[str, Any], directory: Path) -> None:
    write_model_defaults(spec.get("defaults") or {}, directory)


def write_model_defaults(models: dict[str, Any], directory: Path) -> None:
    """Resolve a config's ``defaults:`` block (``{"RCSD": {...}}``) against the system in
    ``directory`` and write ``params/<MODEL>.json`` (see :func:`resolve_defaults`), and the same
    values as livn 2.0.0's ``params/default.json`` (read by its ``apply_default_params``)."""
    from livn.system.graph import read_graph
    from livn.system.upstream import DEFAULT_PARAMS, params_to_upstream

    if not models:
        return
    if set(models) != {"RCSD"}:
        raise ConfigError(
            f"defaults: only the RCSD model has tuned defaults, got {sorted(models)}."
        )
    graph = read_graph(str(directory))
    (directory / "params").mkdir(exist_ok=True)
    for model, block in models.items():
        resolved = resolve_defaults(graph, block)
        text = json.dumps(resolved, indent=2, sort_keys=False) + "\n"
        (directory / "params" / f"{model}.json").write_text(text, encoding="utf-8")
        text = json.dumps(params_to_upstream(resolved), indent=2) + "\n"
        (directory / "params" / f"{DEFAULT_PARAMS}.json").write_text(text, encoding="utf-8")


def _definition_hash(name: str) -> str:
    if name in LAYERED:  # the resolved config: a change in an included file counts too
        text = json.dumps(definition(name), sort_keys=True).encode()
    else:
        text = resources.files("livn.system").joinpath("configs", f"{name}.yml").read_bytes()
    h = hashlib.sha256(text + f"|format={FORMAT_VERSION}|gen={GENERATOR_VERSION}".encode())
    return h.hexdigest()[:12]


def _check_name(name: str) -> None:
    if name in PREDEFINED:
        return
    folded = {n.casefold(): n for n in PREDEFINED}
    suggestion = (
        f" Did you mean '{folded[name.casefold()]}'?"
        if name.casefold() in folded
        else did_you_mean(name, PREDEFINED)
    )
    raise UnknownSystemError(
        f"Unknown system {name!r}: not a predefined name and not an existing system directory. "
        f"Predefined systems: {', '.join(PREDEFINED)}.{suggestion}"
    )


@contextlib.contextmanager
def _lock(path: Path, blocking: bool = True):
    """Hold an exclusive lock on ``path`` (created if missing); yields False if ``blocking``
    is off and another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - non-POSIX: the atomic rename still protects us
            yield True
            return
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


_STAGING = ".staging-"


def _staging_dirs(root: Path, name: str) -> dict[str, list[Path]]:
    """Staging directories of builds of ``name`` in ``root``, by build (``NAME-<hash>``)."""
    pattern = re.compile(rf"^\.(?P<build>{re.escape(name)}-[0-9a-f]{{12}})\.staging-[a-z0-9_]+$")
    out: dict[str, list[Path]] = {}
    if not root.is_dir():
        return out
    for entry in root.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_dir() and not entry.is_symlink():
            out.setdefault(match.group("build"), []).append(entry)
    return out


def _clean_staging(root: Path, name: str, held: str) -> int:
    """Remove staging directories that killed builds of ``name`` left; returns the count.

    Must be called holding the lock of the build ``held`` (``NAME-<hash>``), whose staging
    directories are therefore stale. Those of other builds of the name (another livn version)
    are removed only if their lock file exists and is free.
    """
    n = 0
    for build, dirs in sorted(_staging_dirs(root, name).items()):
        lock = root / f".{build}.lock"
        if build != held and not lock.is_file():
            continue  # not made by predefined(): not ours to remove
        with contextlib.nullcontext(True) if build == held else _lock(lock, False) as free:
            if not free:
                continue  # that build is running
            for d in dirs:
                shutil.rmtree(d, ignore_errors=True)
                n += 1
    return n


def _build(name: str, target: Path) -> None:
    if name in LAYERED:
        return _build_layered(name, target)
    from livn.io.mea import MEA
    from livn.system.culture import CultureConfig, write_culture

    spec = definition(name)
    config = CultureConfig.model_validate({**spec["culture"], "name": spec["name"]})
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{_STAGING}", dir=target.parent))
    try:
        built = Path(write_culture(config, staging / "system"))
        mea_spec = dict(spec.get("mea") or {})
        radii = {k: mea_spec.pop(k) for k in ("input_radius", "output_radius") if k in mea_spec}
        if "grid" in mea_spec:
            grid = dict(mea_spec["grid"])
            grid["offset"] = tuple(grid.get("offset", (500.0, 500.0)))
            mea = MEA.grid(**grid, **radii)
        elif "fitted" in mea_spec:
            lower, upper = _area_bounds(built)
            mea = MEA.fitted(lower, upper, **mea_spec["fitted"], **radii)
        else:
            mea = None
        if mea is not None:
            mea.save(built)
        _write_model_defaults(spec, built)
        _publish(built, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _build_layered(name: str, target: Path) -> None:
    """Build a 3D layered system (its ``mea`` and ``defaults`` blocks are part of the build)."""
    from livn.system.layered import load, write_layered

    config = load(shipped_config(name))
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{_STAGING}", dir=target.parent))
    try:
        built = Path(write_layered(config, staging / "system"))
        _publish(built, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(built: Path, target: Path) -> None:
    """Move a finished build into place atomically; a concurrent builder that won is fine."""
    try:
        os.rename(built, target)
    except OSError:
        if not (target / "graph.json").exists():  # pragma: no cover - unexpected
            raise


def _area_bounds(directory: Path) -> tuple[list[float], list[float]]:
    from livn.system.graph import read_graph

    lower, upper = read_graph(str(directory)).area["bounds"]
    return lower, upper


def predefined(name: str) -> str:
    """Local path of a predefined system, built offline and cached on first use.

    Args:
        name: One of :data:`PREDEFINED` (2D cultures ``"EI1"`` … ``"EI4"``, ``"E"``,
            ``"E5I"``, ``"E3I"``, ``"EI"``; 3D layered ``"S1"`` … ``"S4"``, ``"CA1"``), or a
            path / fsspec URL of an existing system directory (returned as is).

    Raises:
        UnknownSystemError: For an unknown name (the message lists the valid ones).
    """
    name = os.fspath(name)
    if name not in PREDEFINED and (
        _fs.is_url(name) or os.sep in name or "/" in name or os.path.isdir(name)
    ):
        location = _fs.normalize(name)
        if not _fs.isdir(location):
            raise UnknownSystemError(f"{location}: no such system directory.")
        return location
    _check_name(name)
    root = cache_dir() / "systems"
    target = root / f"{name}-{_definition_hash(name)}"
    if (target / "graph.json").exists() and target.name not in _staging_dirs(root, name):
        return str(target)
    with _lock(root / f".{target.name}.lock"):
        _clean_staging(root, name, target.name)
        if not (target / "graph.json").exists():
            _build(name, target)
    return str(target)


def make(name: str):
    """A :class:`~livn.system.System` for a predefined name, path or fsspec URL."""
    from livn.system.system import System

    return System(predefined(name))

"""The livn 2.0.0 system description, both ways (docs/system-format.md).

livn 2.0.0 reads a ``graph.json`` with an integer ``version`` (1) and top-level *elements*
(``{"uuid", "config"}``) or name → element maps: ``architecture`` (area, layer extents, cell
counts, the coordinate namespace of ``cells.h5``), ``distances``, ``synapse_forest``,
``synapses`` and ``connections`` (whose first element's config holds the population enum ids
and every projection's synapse definition). It accepts further elements, so this livn writes
one more, ``livn``, holding its own :class:`~livn.system.graph.GraphInfo` (name, kind,
populations with synapse type and transmitter, projections with edge counts, the generator
record). One ``graph.json`` thereby satisfies both readers.

This module translates between :class:`~livn.system.graph.GraphInfo` and those elements
(:func:`graph_json`, :func:`read_graph_json`), and between the tuned defaults of
``params/RCSD.json`` and 2.0.0's ``params/default.json`` (:func:`params_to_upstream`,
:func:`params_from_upstream`). Names that differ: 2.0.0 calls the dendrite ``dend`` (in section
lists and weight keys), the model ``ReducedCalciumSomaDendrite``, and prefixes noise keys with
``noise-`` in a parameter file.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from livn import _fs
from livn.errors import SystemFormatError
from livn.system.graph import (
    FORMAT_VERSION,
    GraphInfo,
    Layout,
    MechanismInfo,
    PopulationInfo,
    ProjectionInfo,
    h5_files,
    validation_details,
)
from livn.system.synapses import TRANSMITTER_SIGN, TRANSMITTERS

#: ``graph.json`` ``version`` written (2.0.0 refuses versions above 1 and warns without one).
UPSTREAM_VERSION = 1
#: The element of ``graph.json`` that carries this livn's :class:`GraphInfo`.
LIVN_ELEMENT = "livn"
#: Coordinate group written under ``/Populations/<pop>`` (2.0.0's generators' name).
COORDINATE_NAMESPACE = "Generated Coordinates"
#: 2.0.0's name of the RCSD model (the key of ``params/<name>.json``).
MODEL_CLASS = "ReducedCalciumSomaDendrite"
#: 2.0.0's default parameter file, ``params/default.json``.
DEFAULT_PARAMS = "default"

#: Section names: this livn → 2.0.0, and 2.0.0 (or SWC type codes) → this livn.
SECTIONS_TO_UPSTREAM = {"soma": "soma", "dendrite": "dend", "axon": "axon"}
SECTIONS_FROM_UPSTREAM = {
    "soma": "soma",
    "dend": "dendrite",
    "dendrite": "dendrite",
    "apical": "dendrite",
    "basal": "dendrite",
    "axon": "axon",
}
#: SWC type of each section (1 soma, 2 axon, 3 basal and 4 apical dendrite).
SWC_TYPES = {"soma": 1, "axon": 2, "dendrite": 4}
SWC_SECTIONS = {1: "soma", 2: "axon", 3: "dendrite", 4: "dendrite"}

_NOISE_NAMES = ("g_e0", "g_i0", "std_e", "std_i", "tau_e", "tau_i", "E_e", "E_i")


def _uuid(*parts: Any) -> str:
    """A deterministic element id (the same system always gets the same ids)."""
    text = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(text).hexdigest()[:32]


def _element(kind: str, config: dict[str, Any], seed: Any) -> dict[str, Any]:
    return {"uuid": _uuid(kind, seed, config), "config": config}


def upstream_weight_name(key: str) -> str:
    """A weight key in 2.0.0's spelling (``EXC_EXC-dendrite-AMPA-weight`` → ``…-dend-…``)."""
    parts = key.split("-")
    if len(parts) >= 2:
        parts[1] = SECTIONS_TO_UPSTREAM.get(parts[1], parts[1])
    return "-".join(parts)


def livn_weight_name(key: str) -> str:
    """A weight key in this livn's spelling (``…-dend-…`` → ``…-dendrite-…``)."""
    parts = key.split("-")
    if len(parts) >= 2:
        parts[1] = SECTIONS_FROM_UPSTREAM.get(parts[1], parts[1])
    return "-".join(parts)


# ----------------------------------------------------------------------------------- writing


def _extents(graph: GraphInfo) -> tuple[list, list, dict, dict]:
    """``(area, z_range, layer_extents, cell_distributions)`` of the architecture element."""
    area = graph.area or {}
    bounds = area.get("bounds") or [[0.0, 0.0], [0.0, 0.0]]
    (x0, y0), (x1, y1) = bounds
    layers = area.get("layers")
    counts = {p.name: p.count for p in graph.populations}
    if isinstance(layers, dict) and layers and all(len(v) == 2 for v in layers.values()):
        extents = {k: [[x0, y0, float(v[0])], [x1, y1, float(v[1])]] for k, v in layers.items()}
        z_range = [min(v[0][2] for v in extents.values()), max(v[1][2] for v in extents.values())]
        per_layer = area.get("cells_per_layer")
        distributions = (
            {p: {k: int(n) for k, n in c.items()} for p, c in per_layer.items()}
            if isinstance(per_layer, dict)
            else {p: {next(iter(layers)): n} for p, n in counts.items()}
        )
    else:
        z = graph.generator.get("z_range") or [0.0, 0.0]
        z_range = [float(z[0]), float(z[1])]
        extents = {"default": [[x0, y0, z_range[0]], [x1, y1, z_range[1]]]}
        distributions = {p: {"default": n} for p, n in counts.items()}
    return [[x0, y0], [x1, y1]], z_range, extents, distributions


def graph_json(graph: GraphInfo, livn: bool = True) -> dict[str, Any]:
    """The ``graph.json`` content of the shared layout for ``graph``.

    Args:
        graph: The system description.
        livn: Add the ``livn`` element (this livn's metadata); without it the file holds only
            what 2.0.0 writes.
    """
    area, z_range, extents, distributions = _extents(graph)
    seed = [graph.name, graph.generator]
    architecture = {
        "coordinate_namespace": COORDINATE_NAMESPACE,
        "area": area,
        "z_range": z_range,
        "cell_distributions": distributions,
        "layer_extents": extents,
        "cell_counts": {p.name: p.count for p in graph.populations},
    }
    synapses: dict[str, dict[str, Any]] = {}
    for pr in graph.projections:
        section = SECTIONS_TO_UPSTREAM.get(pr.section, pr.section)
        synapses.setdefault(pr.post, {})[pr.pre] = {
            "type": pr.type,
            "contacts": 1,
            "layers": list(extents)[:1],
            "sections": [section],
            "proportions": [1.0],
            "mechanisms": {"default": {m: i.model_dump() for m, i in pr.mechanisms.items()}},
            "kernel": str((graph.generator.get("connectivity") or {}).get("kernel", "gaussian")),
        }
    connections = {
        "population_definitions": {p.name: p.index for p in graph.populations},
        "connections_filepath": "connections.h5",
        "synapses": synapses,
    }
    data: dict[str, Any] = {
        "version": UPSTREAM_VERSION,
        "architecture": _element("architecture", architecture, seed),
        "distances": _element("distances", {}, seed),
        "synapse_forest": {},
        "synapses": _element("synapses", {}, seed),
        "connections": {graph.name or "connections": _element("connections", connections, seed)},
    }
    if livn:
        config = graph.model_dump(mode="json")
        config["format_version"] = FORMAT_VERSION
        data[LIVN_ELEMENT] = _element(LIVN_ELEMENT, config, seed)
    return data


# ----------------------------------------------------------------------------------- reading


def _config(data: dict[str, Any], key: str, location: str, first: bool = False) -> dict[str, Any]:
    """The ``config`` of element ``key`` (the first of a name → element map if ``first``)."""
    item = data.get(key)
    if first and isinstance(item, dict) and "config" not in item and item:
        item = next(iter(item.values()))
    if not isinstance(item, dict) or not isinstance(item.get("config"), dict):
        raise SystemFormatError(
            f"{location}: the 2.0.0 element {key!r} is missing or has no 'config' object. A "
            "2.0.0 graph.json holds {'uuid': ..., 'config': {...}} elements 'architecture' and "
            "'connections' (a name -> element map); the directory is incomplete."
        )
    return item["config"]


def _section(value: Any, where: str, location: str) -> str:
    if isinstance(value, int) and value in SWC_SECTIONS:
        return SWC_SECTIONS[value]
    if isinstance(value, str) and value in SECTIONS_FROM_UPSTREAM:
        return SECTIONS_FROM_UPSTREAM[value]
    raise SystemFormatError(
        f"{location}: {where}: unknown section {value!r}; valid: "
        f"{', '.join(SECTIONS_FROM_UPSTREAM)} or an SWC type {sorted(SWC_SECTIONS)}."
    )


def _mechanisms(raw: Any, section: str, where: str, location: str) -> dict[str, MechanismInfo]:
    if not isinstance(raw, dict) or not raw:
        raise SystemFormatError(f"{location}: {where}: 'mechanisms' must be a non-empty object.")
    table = raw.get("default")
    if table is None:
        table = raw.get(str(SWC_TYPES.get(section)), raw.get(SWC_TYPES.get(section)))
    if table is None and len(raw) == 1:
        table = next(iter(raw.values()))
    if not isinstance(table, dict):
        raise SystemFormatError(
            f"{location}: {where}: no mechanisms for section {section!r} (keys {sorted(raw)}); "
            f"expected 'default' or the SWC type {SWC_TYPES.get(section)}."
        )
    out: dict[str, MechanismInfo] = {}
    for name, params in table.items():
        if not isinstance(params, dict) or "tau_decay" not in params:
            continue  # 2.0.0 skips a mechanism without tau_decay
        try:
            out[str(name)] = MechanismInfo.model_validate(params)
        except Exception as e:
            raise SystemFormatError(
                f"{location}: {where}: mechanism {name!r} needs numeric e, g_unit, tau_rise, "
                f"tau_decay and weight ({e})."
            ) from None
    return out


def _transmitter(mechanisms: dict[str, MechanismInfo], synapse_type: str) -> str:
    """The template whose mechanisms these are (same names and kinetics), else ``custom``."""
    keys = ("e", "g_unit", "tau_rise", "tau_decay")
    for name, template in TRANSMITTERS.items():
        if TRANSMITTER_SIGN[name] != synapse_type or set(template) != set(mechanisms):
            continue
        if all(
            abs(float(getattr(mechanisms[m], k)) - float(v[k])) <= 1e-12 * max(1.0, abs(v[k]))
            for m, v in template.items()
            for k in keys
        ):
            return name
    return "custom"


def _edge_counts(directory: str, connections_file: str) -> dict[tuple[str, str], int]:
    from livn.system import neuroh5

    location = _fs.join(directory, connections_file)
    with neuroh5.open_h5(location) as f:
        return neuroh5.edge_counts(f)


def population_ids(data: dict[str, Any], location: str) -> dict[int, str]:
    """``{enum id: population}`` from ``connections.<first>.config.population_definitions``
    (empty if there is none)."""
    conn = data.get("connections")
    first = next(iter(conn.values()), None) if isinstance(conn, dict) and conn else None
    config = first.get("config") if isinstance(first, dict) else None
    definitions = config.get("population_definitions") if isinstance(config, dict) else None
    if definitions is None:
        return {}
    ok = isinstance(definitions, dict) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in definitions.values()
    )
    if not ok:
        raise SystemFormatError(
            f"{location}: population_definitions must map each population to an integer id "
            f"(>= 0), e.g. {{'EXC': 0, 'INH': 1}}; got {definitions!r}."
        )
    return {int(v): str(k) for k, v in definitions.items()}


def read_graph_json(
    directory: str, location: str, data: dict[str, Any]
) -> tuple[GraphInfo, Layout]:
    """``(graph, layout)`` of a directory whose ``graph.json`` has the 2.0.0 schema.

    With a ``livn`` element its :class:`GraphInfo` is used; otherwise it is derived from the
    2.0.0 elements and the population table of the cells file (see the module docstring).
    """
    from livn.system import neuroh5

    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > UPSTREAM_VERSION:
        raise SystemFormatError(
            f"{location}: version is {version!r}; this livn reads 2.0.0 system directories of "
            f"version {UPSTREAM_VERSION} or below (an integer). Convert the system with the "
            "livn version that wrote it."
        )
    architecture = _config(data, "architecture", location)
    conn = _config(data, "connections", location, first=True)
    namespace = str(architecture.get("coordinate_namespace") or COORDINATE_NAMESPACE)
    cells_file, connections_file = h5_files(directory)
    filepath = conn.get("connections_filepath")
    if cells_file != "graph.h5" and isinstance(filepath, str):
        named = os.path.basename(filepath)
        if named and named != connections_file and _fs.exists(_fs.join(directory, named)):
            connections_file = named

    livn = data.get(LIVN_ELEMENT)
    if isinstance(livn, dict) and isinstance(livn.get("config"), dict):
        config = dict(livn["config"])
        if config.get("format_version") != FORMAT_VERSION:
            raise SystemFormatError(
                f"{location}: the livn element has format_version "
                f"{config.get('format_version')!r}; this livn reads {FORMAT_VERSION}. "
                "Regenerate the system with this livn version."
            )
        try:
            graph = GraphInfo.model_validate(config)
        except Exception as e:
            details = validation_details(e) if hasattr(e, "errors") else str(e)
            raise SystemFormatError(f"{location}: invalid livn element ({details}).") from e
        layout = Layout(FORMAT_VERSION, cells_file, connections_file, namespace, "livn", data)
        return graph, layout

    # a directory written by livn 2.0.0: populations from the cells file's table
    cells_location = _fs.join(directory, cells_file)
    with neuroh5.open_h5(cells_location) as f:
        table = neuroh5.read_population_table(f, cells_location, population_ids(data, location))
    synapses = conn.get("synapses") or {}
    if not isinstance(synapses, dict):
        raise SystemFormatError(f"{location}: connections config 'synapses' must be an object.")
    names = [name for name, _, _ in table]
    order = {name: i for i, name in enumerate(names)}
    counts = _edge_counts(directory, connections_file)
    raw: list[tuple[str, str, dict[str, Any]]] = []
    for post, by_pre in synapses.items():
        if not isinstance(by_pre, dict):
            raise SystemFormatError(f"{location}: synapses[{post!r}] must be an object.")
        for pre, spec in by_pre.items():
            for end in (pre, post):
                if end not in order:
                    raise SystemFormatError(
                        f"{location}: synapses {pre}->{post} names population {end!r}, which "
                        f"is not in the cells file (populations: {', '.join(names)})."
                    )
            raw.append((str(pre), str(post), spec))
    raw.sort(key=lambda r: (order[r[0]], order[r[1]]))
    projections: list[ProjectionInfo] = []
    types: dict[str, str] = {}
    transmitters: dict[str, set[str]] = {}
    for pre, post, spec in raw:
        where = f"synapses {pre}->{post}"
        if not isinstance(spec, dict):
            raise SystemFormatError(f"{location}: {where} must be an object.")
        kind = spec.get("type")
        if kind not in ("excitatory", "inhibitory"):
            raise SystemFormatError(
                f"{location}: {where}: type {kind!r}; valid: excitatory, inhibitory."
            )
        sections = spec.get("sections") or ["soma"]
        if not isinstance(sections, list) or len({*map(str, sections)}) != 1:
            raise SystemFormatError(
                f"{location}: {where}: sections {sections!r}; this livn places a projection's "
                "synapses on one section (soma, dend or axon)."
            )
        section = _section(sections[0], where, location)
        mechanisms = _mechanisms(spec.get("mechanisms"), section, where, location)
        if types.setdefault(pre, kind) != kind:
            raise SystemFormatError(
                f"{location}: population {pre} has both excitatory and inhibitory outgoing "
                "synapses; a population has one synapse type."
            )
        transmitter = _transmitter(mechanisms, kind)
        transmitters.setdefault(pre, set()).add(transmitter)
        if (post, pre) not in counts:
            raise SystemFormatError(
                f"{_fs.join(directory, connections_file)}: no /Projections/{post}/{pre} for the "
                f"projection {pre}->{post} of graph.json; the files do not belong together."
            )
        projections.append(
            ProjectionInfo(
                pre=pre,
                post=post,
                type=kind,
                transmitter=transmitter,
                section=section,
                mechanisms=mechanisms,
                num_edges=counts[(post, pre)],
            )
        )
    populations = []
    for i, (name, start, count) in enumerate(table):
        kind = types.get(name) or ("inhibitory" if name.upper().startswith("INH") else "excitatory")
        known = transmitters.get(name, set()) - {"custom"}
        populations.append(
            PopulationInfo(
                name=name,
                index=i,
                start=start,
                count=count,
                synapse_type=kind,
                transmitter=known.pop() if len(known) == 1 else None,
            )
        )
    area = architecture.get("area")
    area_record: dict[str, Any] = {}
    if isinstance(area, list) and len(area) == 2:
        (x0, y0), (x1, y1) = area
        area_record = {"type": "rectangle", "x_range": [x0, x1], "y_range": [y0, y1],
                       "bounds": [[x0, y0], [x1, y1]]}  # fmt: skip
    extents = architecture.get("layer_extents") or {}
    try:
        graph = GraphInfo(
            format_version=FORMAT_VERSION,
            name=os.path.basename(directory.rstrip("/")) or "system",
            kind="layered-3d" if len(extents) > 1 else "culture-2d",
            populations=populations,
            projections=projections,
            area=area_record,
            generator={},
        )
    except Exception as e:
        details = validation_details(e) if hasattr(e, "errors") else str(e)
        raise SystemFormatError(f"{location}: inconsistent 2.0.0 system ({details}).") from e
    return graph, Layout(FORMAT_VERSION, cells_file, connections_file, namespace, "2.0.0", data)


# ----------------------------------------------------------------------------------- params


def params_to_upstream(resolved: dict[str, dict[str, float]]) -> dict[str, Any]:
    """2.0.0's ``params/default.json`` content for this livn's ``params/RCSD.json`` content.

    ``{"weights": {key: v}, "noise": {name: v}}`` becomes
    ``{"ReducedCalciumSomaDendrite": {"default": {"params": {"<weight key>": v,
    "noise-<name>": v}}}}`` with weight keys in 2.0.0's spelling (``dend``). Population-prefixed
    noise (``EXC-g_e0``) is left out: 2.0.0's ``set_params`` cannot apply it (it drops
    ``noise-EXC-g_e0`` with a warning); it stays in ``params/RCSD.json`` and 2.0.0 users apply
    it with ``env.set_noise({"EXC-g_e0": ...})``.
    """
    params: dict[str, float] = {}
    for key, value in (resolved.get("weights") or {}).items():
        params[upstream_weight_name(str(key))] = float(value)
    for key, value in (resolved.get("noise") or {}).items():
        if "-" not in str(key):
            params[f"noise-{key}"] = float(value)
    return {MODEL_CLASS: {"default": {"params": params}}}


def params_from_upstream(data: Any, location: str, group: str = "default") -> dict[str, Any]:
    """This livn's ``{"weights", "noise"}`` from a 2.0.0 parameter file's content.

    The file is ``{model class: {group: {"params": {...}} or {...}}}``; keys prefixed
    ``weight-`` or bare are weights, ``noise-`` noise; ``cells-`` and ``io-`` keys have no
    counterpart here and are refused.
    """
    if not isinstance(data, dict) or not isinstance(data.get(MODEL_CLASS), dict):
        raise SystemFormatError(
            f"{location}: expected {{{MODEL_CLASS!r}: {{{group!r}: {{'params': {{...}}}}}}}} "
            f"(2.0.0's parameter file), got keys {sorted(data) if isinstance(data, dict) else data!r}."
        )
    block = data[MODEL_CLASS].get(group, data[MODEL_CLASS].get("default"))
    if isinstance(block, dict) and isinstance(block.get("params"), dict):
        block = block["params"]
    if not isinstance(block, dict):
        raise SystemFormatError(f"{location}: no parameter group {group!r} for {MODEL_CLASS}.")
    weights: dict[str, float] = {}
    noise: dict[str, float] = {}
    for key, value in block.items():
        key = str(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SystemFormatError(
                f"{location}: parameter {key!r} must be a number; got {value!r}."
            )
        if key.startswith("noise-"):
            name = key[len("noise-") :]
            if name.rpartition("-")[2] not in _NOISE_NAMES:
                raise SystemFormatError(
                    f"{location}: unknown noise parameter {key!r}; valid: "
                    f"{', '.join(_NOISE_NAMES)}, optionally population-prefixed."
                )
            noise[name] = float(value)
        elif key.startswith(("cells-", "io-")):
            raise SystemFormatError(
                f"{location}: parameter {key!r} (cell or IO parameters) has no counterpart in "
                "this livn; remove it from the file."
            )
        else:
            weights[livn_weight_name(key.removeprefix("weight-"))] = float(value)
    return {"weights": weights, "noise": noise}

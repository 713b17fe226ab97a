"""Read and write ``cells.h5`` / ``connections.h5`` in the NeuroH5 layout with plain h5py.

Layout written (SPEC §1; the layout livn 2.0.0 reads, docs/system-format.md)::

    /H5Types/Population labels           committed enum type: population name -> index
    /H5Types/Populations                 rows (Start, Count, Population), alphabetical by name
    /Populations/<pop>/Generated Coordinates/{X,Y,Z} Coordinate/
        Cell Index         uint32 [n]      cell index relative to the population's first gid
        Attribute Pointer  uint64 [n + 1]  offsets into Attribute Value, per cell
        Attribute Value    [m]             the values, concatenated over cells
    /Populations/<pop>/Synapse Attributes/{syn_ids, swc_types, syn_locs, syn_type}/...
    /Projections/<post>/<pre>/Edges/
        Destination Block Index    uint32 [b]      first destination of each block (relative)
        Destination Block Pointer  uint64 [b + 1]  offsets into Destination Pointer per block;
                                                   the last one is one past the sentinel
        Destination Pointer        uint64 [n + 1]  CSR row pointer: edges of each destination
        Source Index               uint32 [E]      source index relative to the pre population
    /Projections/<post>/<pre>/<namespace>/<attribute>   [E] per-edge values
        (Connections/distance, Synapses/syn_id)

livn writes one destination block per projection covering the whole post population; readers
accept any number of blocks. The legacy layout of earlier livn versions (``layout=1``: global
indices, ``Coordinates``, edge attributes under ``Attributes/<namespace>``) is read as well.
The root attribute ``livn_format_version`` records the layout version.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import h5py
import numpy as np

from livn import _fs
from livn.errors import SystemFormatError
from livn.system.graph import FORMAT_VERSION, LEGACY_FORMAT_VERSION, PopulationInfo

#: Coordinate namespace written (2.0.0's name); the legacy layout used ``Coordinates``.
COORDINATES = "Generated Coordinates"
LEGACY_COORDINATES = "Coordinates"
COORDINATE_NAMES = ("X Coordinate", "Y Coordinate", "Z Coordinate")


def _population_dtype(populations: Sequence[PopulationInfo]) -> tuple[np.dtype, np.dtype]:
    enum = h5py.enum_dtype({p.name: p.index for p in populations}, basetype=np.uint16)
    table = np.dtype([("Start", "<u8"), ("Count", "<u4"), ("Population", enum)])
    return enum, table


def _write_types(f: h5py.File, populations: Sequence[PopulationInfo]) -> None:
    enum, table = _population_dtype(populations)
    types = f.create_group("H5Types")
    types["Population labels"] = enum
    # row i belongs to the i-th population in alphabetical order (how 2.0.0 names the rows)
    ordered = sorted(populations, key=lambda p: p.name)
    rows = np.array([(p.start, p.count, p.index) for p in ordered], dtype=table)
    types.create_dataset("Populations", data=rows, track_times=False)
    f.attrs["livn_format_version"] = FORMAT_VERSION


def _ds(group: h5py.Group, name: str, data: np.ndarray) -> None:
    group.create_dataset(name, data=data, track_times=False)


def write_cell_attribute(
    group: h5py.Group, gids: np.ndarray, pointer: np.ndarray, values: np.ndarray
) -> None:
    """Write one attribute of a population in the (Cell Index, Pointer, Value) layout."""
    _ds(group, "Cell Index", np.asarray(gids, dtype=np.uint32))
    _ds(group, "Attribute Pointer", np.asarray(pointer, dtype=np.uint64))
    _ds(group, "Attribute Value", np.asarray(values))


def write_cells(
    path: str,
    populations: Sequence[PopulationInfo],
    coordinates: Mapping[str, np.ndarray],
    synapse_attributes: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]] | None = None,
) -> None:
    """Write ``cells.h5``.

    Args:
        path: Local file path.
        populations: Populations in gid order.
        coordinates: Per population, ``[count, 3]`` cell coordinates (x, y, z) in µm.
        synapse_attributes: Per population, attribute name -> ``(pointer [count+1], values)``
            (``syn_ids``, ``swc_types``, ``syn_locs``, ...).
    """
    with h5py.File(path, "w") as f:
        _write_types(f, populations)
        root = f.create_group("Populations")
        for p in populations:
            xyz = np.asarray(coordinates[p.name], dtype=np.float32).reshape(p.count, 3)
            gids = np.arange(p.count)  # relative to the population's first gid
            pointer = np.arange(p.count + 1)
            ns = root.create_group(p.name).create_group(COORDINATES)
            for k, name in enumerate(COORDINATE_NAMES):
                write_cell_attribute(ns.create_group(name), gids, pointer, xyz[:, k])
            attrs = (synapse_attributes or {}).get(p.name)
            if attrs:
                sa = root[p.name].create_group("Synapse Attributes")
                for name, (ptr, values) in attrs.items():
                    write_cell_attribute(sa.create_group(name), gids, ptr, values)


@dataclass(frozen=True)
class EdgeBlock:
    """Edges of one projection in CSR form over the post population (local post index).

    Attributes:
        indptr: ``[n_post + 1]`` offsets of each post cell's edges.
        sources: ``[E]`` global gid of the presynaptic cell of each edge.
        attributes: ``{namespace: {name: [E] values}}``.
    """

    indptr: np.ndarray
    sources: np.ndarray
    attributes: Mapping[str, Mapping[str, np.ndarray]]


def write_connections(
    path: str,
    populations: Sequence[PopulationInfo],
    projections: Mapping[tuple[str, str], EdgeBlock],
) -> None:
    """Write ``connections.h5``; ``projections`` is keyed by ``(post, pre)``.

    ``EdgeBlock.sources`` hold global gids; the file stores them relative to the pre
    population, and one destination block over the whole post population.
    """
    starts = {p.name: p.start for p in populations}
    with h5py.File(path, "w") as f:
        _write_types(f, populations)
        root = f.create_group("Projections")
        for (post, pre), block in projections.items():
            g = root.require_group(post).create_group(pre)
            edges = g.create_group("Edges")
            _ds(edges, "Destination Block Index", np.array([0], dtype=np.uint32))
            n_post = len(block.indptr) - 1
            _ds(edges, "Destination Block Pointer", np.array([0, n_post + 1], dtype=np.uint64))
            _ds(edges, "Destination Pointer", np.asarray(block.indptr, dtype=np.uint64))
            sources = np.asarray(block.sources, dtype=np.int64) - starts[pre]
            _ds(edges, "Source Index", sources.astype(np.uint32))
            for namespace, values in block.attributes.items():
                ns = g.create_group(namespace)
                for name, arr in values.items():
                    _ds(ns, name, np.asarray(arr))


# ----------------------------------------------------------------------------------- reading


@contextlib.contextmanager
def open_h5(location: str) -> Iterator[h5py.File]:
    """Open an HDF5 file (local or fsspec URL) for reading; bad files raise SystemFormatError."""
    if not _fs.exists(location):
        raise SystemFormatError(f"{location}: missing from the system directory.")
    with contextlib.ExitStack() as stack:
        try:
            if _fs.is_url(location):
                fobj = stack.enter_context(_fs.open_binary(location))
                f = stack.enter_context(h5py.File(fobj, "r"))
            else:
                f = stack.enter_context(h5py.File(location, "r"))
        except OSError as e:
            raise SystemFormatError(
                f"{location}: not a readable HDF5 file ({e}). The file is corrupt or truncated; "
                "regenerate the system."
            ) from e
        try:
            yield f
        except KeyError as e:
            raise SystemFormatError(
                f"{location}: missing HDF5 object ({e}). The file is incomplete or was not "
                "written by a NeuroH5-compatible tool."
            ) from e


def read_all(f: h5py.File, location: str) -> int:
    """Read every dataset of an open file, slab by slab (a truncated or corrupt file fails
    here; memory stays at one slab); returns the number of bytes read."""
    total = 0
    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    for name in names:
        try:
            ds = f[name]
            if ds.shape is None or ds.ndim == 0:
                total += np.asarray(ds[()]).nbytes
                continue
            # slab by slab (HDF5 chunks, or 4 MiB of rows), so memory stays small for any size
            if ds.chunks is not None:
                slabs = ds.iter_chunks()
            else:
                row = max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:], dtype=np.int64)))
                step = max(1, (4 << 20) // row)
                slabs = (slice(i, i + step) for i in range(0, ds.shape[0], step))
            for slab in slabs:
                total += np.asarray(ds[slab]).nbytes
        except (OSError, RuntimeError, ValueError, KeyError) as e:
            raise SystemFormatError(
                f"{location}: dataset /{name} cannot be read ({type(e).__name__}: {e}). The file "
                "is corrupt or truncated; regenerate the system."
            ) from e
    return total


def read_population_table(
    f: h5py.File, location: str, id_names: Mapping[int, str] | None = None
) -> list[tuple[str, int, int]]:
    """The ``(name, start, count)`` rows of ``/H5Types/Populations`` in gid order.

    A row's name is its enum label when the ``Population`` column is an enum; otherwise
    ``id_names[population id]`` when given (2.0.0's ``population_definitions``); otherwise,
    as 2.0.0 reads it, row ``i`` is the ``i``-th ``/Populations`` group in alphabetical order.
    """
    table = f["H5Types/Populations"]
    fields = table.dtype.names or ()
    if not {"Start", "Count", "Population"} <= set(fields):
        raise SystemFormatError(
            f"{location}: /H5Types/Populations has columns {list(fields)}; expected Start, "
            "Count, Population."
        )
    mapping = h5py.check_enum_dtype(table.dtype["Population"])
    rows = [(int(r[0]), int(r[1]), int(r[2])) for r in table[("Start", "Count", "Population")]]
    if mapping is not None:
        labels = {v: k for k, v in mapping.items()}
        names = [labels.get(pop) for _, _, pop in rows]
    elif id_names:
        names = [id_names.get(pop) for _, _, pop in rows]
    elif "Populations" in f:
        groups = sorted(f["Populations"])
        names = groups if len(groups) == len(rows) else [None] * len(rows)
    else:
        names = [None] * len(rows)
    if any(n is None for n in names):
        raise SystemFormatError(
            f"{location}: cannot name the rows of /H5Types/Populations (population ids "
            f"{[pop for _, _, pop in rows]}); expected an enum column, population_definitions in "
            "graph.json, or one /Populations group per row."
        )
    out = sorted(((str(n), start, count) for n, (start, count, _) in zip(names, rows, strict=True)),
                 key=lambda r: (r[1], r[0]))  # fmt: skip
    return out


def read_cell_attribute(
    group: h5py.Group, location: str, label: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read ``(Cell Index, Attribute Pointer, Attribute Value)`` and check their consistency."""
    gids = group["Cell Index"][()]
    pointer = group["Attribute Pointer"][()].astype(np.int64)
    values = group["Attribute Value"][()]
    if (
        len(pointer) != len(gids) + 1
        or pointer[0] != 0
        or pointer[-1] != len(values)
        or np.any(np.diff(pointer) < 0)
    ):
        raise SystemFormatError(
            f"{location}: attribute {label} is inconsistent ({len(gids)} cells, pointer of "
            f"length {len(pointer)} ending at {pointer[-1] if len(pointer) else None}, "
            f"{len(values)} values). The file is corrupt; regenerate the system."
        )
    return gids.astype(np.int64), pointer, values


def _check_layout(layout: int) -> None:
    if layout not in (FORMAT_VERSION, LEGACY_FORMAT_VERSION):
        raise ValueError(
            f"layout must be {FORMAT_VERSION} or {LEGACY_FORMAT_VERSION}, got {layout!r}"
        )


def read_coordinates(
    f: h5py.File,
    location: str,
    population: PopulationInfo,
    layout: int = FORMAT_VERSION,
    namespace: str | None = None,
) -> np.ndarray:
    """``[count, 3]`` float32 coordinates of a population, ordered by gid.

    Args:
        layout: :data:`FORMAT_VERSION` (cell indices relative to the population) or
            :data:`LEGACY_FORMAT_VERSION` (global gids).
        namespace: Coordinate group (default: ``Generated Coordinates``, legacy ``Coordinates``).
    """
    _check_layout(layout)
    if namespace is None:
        namespace = COORDINATES if layout == FORMAT_VERSION else LEGACY_COORDINATES
    ns = f[f"Populations/{population.name}/{namespace}"]
    first = population.start if layout == LEGACY_FORMAT_VERSION else 0
    columns = []
    for name in COORDINATE_NAMES:
        gids, pointer, values = read_cell_attribute(ns[name], location, f"{population.name}/{name}")
        if len(gids) != population.count or np.any(np.diff(pointer) != 1):
            raise SystemFormatError(
                f"{location}: {population.name}/{name} holds {len(gids)} cells, graph.json says "
                f"{population.count}. The files do not belong together; regenerate the system."
            )
        order = np.argsort(gids, kind="stable")
        if not np.array_equal(gids[order], np.arange(first, first + population.count)):
            raise SystemFormatError(
                f"{location}: {population.name}/{name} has cell indices outside "
                f"[{first}, {first + population.count})."
            )
        columns.append(values[order])
    return np.stack(columns, axis=1).astype(np.float32)


def read_synapse_attributes(
    f: h5py.File, location: str, population: PopulationInfo
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{name: (cell index, pointer, values)}`` of ``/Populations/<pop>/Synapse Attributes``
    (empty if the file has none), as stored."""
    path = f"Populations/{population.name}/Synapse Attributes"
    if path not in f:
        return {}
    return {
        name: read_cell_attribute(g, location, f"{population.name}/Synapse Attributes/{name}")
        for name, g in f[path].items()
        if isinstance(g, h5py.Group)
    }


def edge_counts(f: h5py.File) -> dict[tuple[str, str], int]:
    """``{(post, pre): number of edges}`` of every projection in an open connections file."""
    out = {}
    for post, g in f.get("Projections", {}).items():
        for pre, h in g.items():
            if "Edges/Source Index" in h:
                out[(str(post), str(pre))] = int(h["Edges/Source Index"].shape[0])
    return out


def _edge_attributes(g: h5py.Group) -> dict[str, h5py.Group]:
    """Per-edge attribute namespaces of a projection group: its child groups other than
    ``Edges`` (2.0.0), or those under ``Attributes`` and ``Attributes/Edge`` (legacy, NeuroH5)."""
    out = {
        k: v for k, v in g.items() if k not in ("Edges", "Attributes") and isinstance(v, h5py.Group)
    }
    if "Attributes" in g:
        attrs = g["Attributes"]
        if "Edge" in attrs:
            out.update(attrs["Edge"].items())
        out.update((k, v) for k, v in attrs.items() if k != "Edge")
    return out


def read_edges(
    f: h5py.File,
    location: str,
    post: PopulationInfo,
    pre: PopulationInfo,
    layout: int = FORMAT_VERSION,
) -> tuple[np.ndarray, np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Edges of ``pre -> post`` as ``(post_gids [E], pre_gids [E], attributes)`` (global gids).

    Destination blocks follow NeuroH5: block ``b`` holds the destinations
    ``Destination Block Index[b] + k`` for ``k < n_b``, whose pointers are
    ``Destination Pointer[bp[b] + k]`` with ``n_b = bp[b+1] - bp[b]`` (one less for the last
    block, whose range also covers the final sentinel).
    """
    _check_layout(layout)
    g = f[f"Projections/{post.name}/{pre.name}"]
    e = g["Edges"]
    block_index = e["Destination Block Index"][()].astype(np.int64)
    block_ptr = e["Destination Block Pointer"][()].astype(np.int64)
    dst_ptr = e["Destination Pointer"][()].astype(np.int64)
    sources = e["Source Index"][()].astype(np.int64)
    label = f"projection {pre.name}->{post.name}"
    if layout == FORMAT_VERSION:
        block_index = block_index + post.start
        sources = sources + pre.start
    nb = len(block_index)
    if (
        len(block_ptr) != nb + 1
        or (nb and (block_ptr[0] != 0 or block_ptr[-1] != len(dst_ptr)))
        or np.any(np.diff(block_ptr) < 0)
        or (len(dst_ptr) and (dst_ptr[0] != 0 or dst_ptr[-1] != len(sources)))
        or (not len(dst_ptr) and len(sources))
    ):
        raise SystemFormatError(
            f"{location}: {label} has inconsistent edge pointers; the file is corrupt."
        )
    if np.any(np.diff(dst_ptr) < 0):
        raise SystemFormatError(f"{location}: {label} has a decreasing destination pointer.")
    post_gids = np.empty(len(sources), dtype=np.int64)
    for b in range(nb):
        lo = block_ptr[b]
        n = block_ptr[b + 1] - lo - (1 if b == nb - 1 else 0)
        counts = dst_ptr[lo + 1 : lo + n + 1] - dst_ptr[lo : lo + n]
        post_gids[dst_ptr[lo] : dst_ptr[lo + n]] = np.repeat(block_index[b] + np.arange(n), counts)
    bad_post = (post_gids < post.start) | (post_gids >= post.start + post.count)
    bad_pre = (sources < pre.start) | (sources >= pre.start + pre.count)
    if np.any(bad_post) or np.any(bad_pre):
        raise SystemFormatError(f"{location}: {label} refers to gids outside its populations.")
    attributes: dict[str, dict[str, np.ndarray]] = {}
    for namespace, ns in _edge_attributes(g).items():
        attributes[namespace] = {}
        for name, ds in ns.items():
            if not isinstance(ds, h5py.Dataset):
                continue
            values = ds[()]
            if len(values) != len(sources):
                raise SystemFormatError(
                    f"{location}: {label} attribute {namespace}/{name} has {len(values)} "
                    f"values for {len(sources)} edges."
                )
            attributes[namespace][name] = values
    return post_gids, sources, attributes

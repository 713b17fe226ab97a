"""Read and write ``cells.h5`` / ``connections.h5`` in the NeuroH5 layout with plain h5py.

Layout (SPEC §1)::

    /H5Types/Population labels           committed enum type: population name -> index
    /H5Types/Populations                 table of (Start, Count, Population) in gid order
    /Populations/<pop>/<namespace>/<attribute>/
        Cell Index         uint32 [n]      global gids of the cells that have the attribute
        Attribute Pointer  uint64 [n + 1]  offsets into Attribute Value, per cell
        Attribute Value    [m]             the values, concatenated over cells
    /Projections/<post>/<pre>/Edges/
        Destination Block Index    uint32 [b]      first destination gid (global) of each block
        Destination Block Pointer  uint64 [b + 1]  offsets into Destination Pointer per block
        Destination Pointer        uint64 [n + 1]  CSR row pointer: edges of each destination
        Source Index               uint32 [E]      global source gid of each edge
    /Projections/<post>/<pre>/Attributes/<namespace>/<attribute>   [E] per-edge values

livn writes one destination block per projection covering the whole post population, so the
Destination Pointer is an ordinary CSR pointer over the post cells. Readers here accept any
number of blocks. The root attribute ``livn_format_version`` records the layout version.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import h5py
import numpy as np

from livn import _fs
from livn.errors import SystemFormatError
from livn.system.graph import FORMAT_VERSION, PopulationInfo

COORDINATES = "Coordinates"
COORDINATE_NAMES = ("X Coordinate", "Y Coordinate", "Z Coordinate")


def _population_dtype(populations: Sequence[PopulationInfo]) -> tuple[np.dtype, np.dtype]:
    enum = h5py.enum_dtype({p.name: p.index for p in populations}, basetype=np.uint16)
    table = np.dtype([("Start", "<u8"), ("Count", "<u4"), ("Population", enum)])
    return enum, table


def _write_types(f: h5py.File, populations: Sequence[PopulationInfo]) -> None:
    enum, table = _population_dtype(populations)
    types = f.create_group("H5Types")
    types["Population labels"] = enum
    rows = np.array([(p.start, p.count, p.index) for p in populations], dtype=table)
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
        synapse_attributes: Per population, attribute name -> ``(pointer [count+1], values)``.
    """
    with h5py.File(path, "w", track_order=True) as f:
        _write_types(f, populations)
        root = f.create_group("Populations", track_order=True)
        for p in populations:
            xyz = np.asarray(coordinates[p.name], dtype=np.float32).reshape(p.count, 3)
            gids = np.arange(p.start, p.start + p.count)
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
    """Write ``connections.h5``; ``projections`` is keyed by ``(post, pre)``."""
    starts = {p.name: p.start for p in populations}
    with h5py.File(path, "w", track_order=True) as f:
        _write_types(f, populations)
        root = f.create_group("Projections", track_order=True)
        for (post, pre), block in projections.items():
            g = root.require_group(post).create_group(pre)
            edges = g.create_group("Edges")
            _ds(edges, "Destination Block Index", np.array([starts[post]], dtype=np.uint32))
            n_post = len(block.indptr) - 1
            _ds(edges, "Destination Block Pointer", np.array([0, n_post + 1], dtype=np.uint64))
            _ds(edges, "Destination Pointer", np.asarray(block.indptr, dtype=np.uint64))
            _ds(edges, "Source Index", np.asarray(block.sources, dtype=np.uint32))
            attrs = g.create_group("Attributes")
            for namespace, values in block.attributes.items():
                ns = attrs.create_group(namespace)
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


def read_population_table(f: h5py.File, location: str) -> list[tuple[str, int, int]]:
    """The ``(name, start, count)`` rows of ``/H5Types/Populations`` in gid order."""
    table = f["H5Types/Populations"]
    mapping = h5py.check_enum_dtype(table.dtype["Population"])
    if mapping is None:
        raise SystemFormatError(f"{location}: /H5Types/Populations has no population enum.")
    names = {v: k for k, v in mapping.items()}
    rows = sorted(table[()].tolist(), key=lambda r: int(r[2]))
    return [(names[int(pop)], int(start), int(count)) for start, count, pop in rows]


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


def read_coordinates(f: h5py.File, location: str, population: PopulationInfo) -> np.ndarray:
    """``[count, 3]`` float32 coordinates of a population, ordered by gid."""
    ns = f[f"Populations/{population.name}/{COORDINATES}"]
    columns = []
    for name in COORDINATE_NAMES:
        gids, pointer, values = read_cell_attribute(ns[name], location, f"{population.name}/{name}")
        if len(gids) != population.count or np.any(np.diff(pointer) != 1):
            raise SystemFormatError(
                f"{location}: {population.name}/{name} holds {len(gids)} cells, graph.json says "
                f"{population.count}. The files do not belong together; regenerate the system."
            )
        order = np.argsort(gids, kind="stable")
        if not np.array_equal(
            gids[order], np.arange(population.start, population.start + population.count)
        ):
            raise SystemFormatError(
                f"{location}: {population.name}/{name} has gids outside "
                f"[{population.start}, {population.start + population.count})."
            )
        columns.append(values[order])
    return np.stack(columns, axis=1).astype(np.float32)


def read_edges(
    f: h5py.File, location: str, post: PopulationInfo, pre: PopulationInfo
) -> tuple[np.ndarray, np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Edges of ``pre -> post`` as ``(post_gids [E], pre_gids [E], attributes)``."""
    g = f[f"Projections/{post.name}/{pre.name}"]
    e = g["Edges"]
    block_index = e["Destination Block Index"][()].astype(np.int64)
    block_ptr = e["Destination Block Pointer"][()].astype(np.int64)
    dst_ptr = e["Destination Pointer"][()].astype(np.int64)
    sources = e["Source Index"][()].astype(np.int64)
    label = f"projection {pre.name}->{post.name}"
    if len(block_ptr) != len(block_index) + 1 or (len(dst_ptr) and dst_ptr[-1] != len(sources)):
        raise SystemFormatError(
            f"{location}: {label} has inconsistent edge pointers; the file is corrupt."
        )
    post_gids = np.empty(len(sources), dtype=np.int64)
    for b, first in enumerate(block_index):
        ptr = dst_ptr[block_ptr[b] : block_ptr[b + 1]]
        counts = np.diff(ptr)
        if np.any(counts < 0):
            raise SystemFormatError(f"{location}: {label} has a decreasing destination pointer.")
        post_gids[ptr[0] : ptr[-1]] = np.repeat(first + np.arange(len(counts)), counts)
    bad_post = (post_gids < post.start) | (post_gids >= post.start + post.count)
    bad_pre = (sources < pre.start) | (sources >= pre.start + pre.count)
    if np.any(bad_post) or np.any(bad_pre):
        raise SystemFormatError(f"{location}: {label} refers to gids outside its populations.")
    attributes: dict[str, dict[str, np.ndarray]] = {}
    if "Attributes" in g:
        for namespace, ns in g["Attributes"].items():
            attributes[namespace] = {}
            for name, ds in ns.items():
                values = ds[()]
                if len(values) != len(sources):
                    raise SystemFormatError(
                        f"{location}: {label} attribute {namespace}/{name} has {len(values)} "
                        f"values for {len(sources)} edges."
                    )
                attributes[namespace][name] = values
    return post_gids, sources, attributes

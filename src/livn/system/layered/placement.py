"""Cell placement in layers with a minimum spacing.

Each population's cells of each layer are drawn uniformly in the area × the layer's depth slab,
from a stream of their own (population, layer). Then, while two somata (of any populations)
lie closer than ``Minimum Spacing``, the cell with the larger gid of each such pair is drawn
again inside its own slab (random sequential placement with rejection, from one more stream).
Positions are rounded to float32, as stored, before distances are checked, so the stored
coordinates keep the spacing exactly. The result depends only on the config and its seed.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from livn.errors import ConfigError
from livn.system.culture.build import rng_stream
from livn.system.layered.config import LayeredConfig

#: Most rounds of re-drawing conflicting cells (converges in a few below MAX_PACKING).
MAX_ROUNDS = 200


def _draw(rng: np.random.Generator, n: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``n`` uniform points in the boxes ``[lo, hi]`` (``[n, 3]`` or ``[3]``), float32-exact."""
    xyz = lo + rng.random((n, 3)) * (hi - lo)
    return xyz.astype(np.float32).astype(np.float64)


def place(config: LayeredConfig) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Positions of every population's cells.

    Returns:
        ``(coords, layer)``: per population ``[n, 3]`` float32 x, y, z (µm; z is depth) and
        ``[n]`` int16 index of each cell's layer in ``config.layers`` (cells are ordered by
        layer within a population).

    Raises:
        ConfigError: If the spacing cannot be reached in :data:`MAX_ROUNDS` rounds.
    """
    (x0, y0), (x1, y1) = config.bounds
    layers = config.layers
    names = list(layers)
    boxes_lo, boxes_hi, chunks, owners, layer_ids = [], [], [], [], []
    for pop, per_layer in config.layer_counts().items():
        for layer, n in per_layer.items():
            z0, z1 = layers[layer]
            lo, hi = np.array([x0, y0, z0]), np.array([x1, y1, z1])
            chunks.append(_draw(rng_stream(config.seed, "placement", pop, layer), n, lo, hi))
            boxes_lo.append(np.repeat(lo[None], n, axis=0))
            boxes_hi.append(np.repeat(hi[None], n, axis=0))
            owners.append(np.full(n, config.populations.index(pop)))
            layer_ids.append(np.full(n, names.index(layer), dtype=np.int16))
    xyz = np.concatenate(chunks) if chunks else np.zeros((0, 3))
    lo, hi = np.concatenate(boxes_lo), np.concatenate(boxes_hi)
    owner, layer_id = np.concatenate(owners), np.concatenate(layer_ids)

    spacing = float(config.geometry.minimum_spacing)
    if spacing > 0 and len(xyz) > 1:
        rng = rng_stream(config.seed, "spacing")
        radius = float(np.nextafter(spacing, 0.0))  # pairs closer than the spacing
        for _ in range(MAX_ROUNDS):
            pairs = cKDTree(xyz).query_pairs(radius, output_type="ndarray")
            if len(pairs) == 0:
                break
            redraw = np.unique(pairs.max(axis=1))
            xyz[redraw] = _draw(rng, len(redraw), lo[redraw], hi[redraw])
        else:
            raise ConfigError(
                f"{config.source}: Geometry.Minimum Spacing: could not place the cells "
                f"{spacing:g} µm apart in {MAX_ROUNDS} rounds; lower the spacing or the counts, "
                "or widen the layers or the area."
            )
    coords = {p: xyz[owner == i].astype(np.float32) for i, p in enumerate(config.populations)}
    layer = {p: layer_id[owner == i] for i, p in enumerate(config.populations)}
    return coords, layer

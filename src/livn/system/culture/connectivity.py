"""Distance-dependent random connectivity between two populations (SPEC §1.1)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.spatial import cKDTree

from livn.errors import ConfigError, ConnectivityWarning


def kernel(distance: np.ndarray, sigma: float, kind: str) -> np.ndarray:
    """Connection kernel: ``exp(-d²/(2σ²))`` (gaussian) or ``exp(-d/σ)`` (exponential)."""
    if kind == "gaussian":
        return np.exp(-(distance * distance) / (2.0 * sigma * sigma))
    if kind == "exponential":
        return np.exp(-distance / sigma)
    raise ConfigError(f"unknown kernel {kind!r}; valid: 'gaussian', 'exponential'.")


def candidate_pairs(
    post_xy: np.ndarray,
    pre_xy: np.ndarray,
    radius: float,
    exclude_self: bool,
    block_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ``(post, pre, distance)`` pairs with xy distance ``<= radius`` (local indices).

    The search runs over blocks of ``block_size`` post cells so that only compact arrays
    (int32 indices, float32 distances: 12 bytes per pair) are kept for the whole projection.
    Pairs come out ordered by block, then as the KD-tree returns them (deterministic).
    """
    if len(post_xy) == 0 or len(pre_xy) == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32)
    pre_tree = cKDTree(pre_xy)
    posts, pres, dists = [], [], []
    for start in range(0, len(post_xy), block_size):
        block = cKDTree(post_xy[start : start + block_size])
        pairs = block.sparse_distance_matrix(pre_tree, max_distance=radius, output_type="ndarray")
        post = pairs["i"].astype(np.int32) + np.int32(start)
        pre = pairs["j"].astype(np.int32)
        dist = pairs["v"].astype(np.float32)
        if exclude_self:
            keep = post != pre
            post, pre, dist = post[keep], pre[keep], dist[keep]
        posts.append(post)
        pres.append(pre)
        dists.append(dist)
    return np.concatenate(posts), np.concatenate(pres), np.concatenate(dists)


def connection_scale(w: np.ndarray, target: float) -> float:
    """The ``A`` with ``Σ min(1, A·w) = target`` (expected number of edges), by bisection.

    Without saturation this is ``target / Σw`` (SPEC §1.1); when some ``A·w`` would exceed 1,
    the scale grows so the expected edge count still equals ``target``.
    """
    total = float(np.sum(w, dtype=np.float64))
    if target <= 0 or total <= 0:
        return 0.0
    a = target / total
    if a * float(np.max(w)) <= 1.0:
        return a
    lo, hi = a, 1.0 / float(np.min(w[w > 0]))
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if float(np.sum(np.minimum(1.0, mid * w), dtype=np.float64)) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return hi


def _check_memory(post_xy: np.ndarray, pre_xy: np.ndarray, radius: float, label: str) -> None:
    """Refuse a projection whose candidate pairs would not fit the memory budget, counted on
    up to 4,096 post cells spread over the population (no random draw: the result of the
    build does not change)."""
    from livn import limits
    from livn.system.culture.config import BYTES_PER_PAIR

    if len(post_xy) == 0 or len(pre_xy) == 0:
        return
    k = min(len(post_xy), 4096)
    sample = post_xy[np.linspace(0, len(post_xy) - 1, k).astype(np.int64)]
    pairs = cKDTree(sample).count_neighbors(cKDTree(pre_xy), radius) * len(post_xy) / k
    limits.check_memory(
        pairs * BYTES_PER_PAIR,
        f"projection {label} (~{pairs:,.0f} candidate pairs within cutoff·sigma = {radius:g} µm)",
        "Generate fewer cells, or lower connectivity.sigma or connectivity.cutoff",
    )


def connect(
    post_xy: np.ndarray,
    pre_xy: np.ndarray,
    mean_degree: float,
    sigma: float,
    cutoff: float,
    kind: str,
    same_population: bool,
    allow_self_connections: bool,
    rng: np.random.Generator,
    label: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample the edges of one projection.

    Args:
        post_xy: ``[n_post, 2]`` positions of the post cells (µm).
        pre_xy: ``[n_pre, 2]`` positions of the pre cells (µm).
        mean_degree: Target mean in-degree ``k`` (expected edges = ``k · n_post``).
        same_population: True if pre and post are the same population (self-connections).
        label: ``"PRE->POST"`` for error messages.

    Returns:
        ``(post, pre)`` local indices of the edges, sorted by post then pre.
    """
    exclude = same_population and not allow_self_connections
    _check_memory(post_xy, pre_xy, cutoff * sigma, label)
    post, pre, dist = candidate_pairs(post_xy, pre_xy, cutoff * sigma, exclude)
    target = mean_degree * len(post_xy)
    if target > len(post) + 1e-9:
        warnings.warn(
            f"mean_degree {mean_degree:g} for {label} cannot be reached: post cells have only "
            f"{len(post) / max(len(post_xy), 1):.2f} candidate inputs within cutoff·sigma = "
            f"{cutoff * sigma:g} µm on average, so every candidate is connected (realised mean "
            "in-degree {:.2f}). Lower mean_degree, raise sigma/cutoff, or add cells.".format(
                len(post) / max(len(post_xy), 1)
            ),
            ConnectivityWarning,
            stacklevel=2,
        )
        target = float(len(post))
    w = kernel(dist, np.float32(sigma), kind)  # float32: 4 bytes per candidate pair
    del dist
    scale = connection_scale(w, target)
    keep = np.empty(len(w), dtype=bool)
    chunk = 1 << 20  # draw uniforms in chunks: same stream as one draw, less memory
    for i in range(0, len(w), chunk):
        p = np.minimum(1.0, scale * w[i : i + chunk].astype(np.float64))
        keep[i : i + chunk] = rng.random(len(p)) < p
    post, pre = post[keep].astype(np.int64), pre[keep].astype(np.int64)
    order = np.lexsort((pre, post))
    return post[order], pre[order]

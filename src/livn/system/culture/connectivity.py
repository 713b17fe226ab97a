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
    post_xy: np.ndarray, pre_xy: np.ndarray, radius: float, exclude_self: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ``(post, pre, distance)`` pairs with xy distance ``<= radius`` (local indices)."""
    if len(post_xy) == 0 or len(pre_xy) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    pairs = cKDTree(post_xy).sparse_distance_matrix(
        cKDTree(pre_xy), max_distance=radius, output_type="ndarray"
    )
    post, pre, dist = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64), pairs["v"]
    if exclude_self:
        keep = post != pre
        post, pre, dist = post[keep], pre[keep], dist[keep]
    return post, pre, np.asarray(dist, dtype=np.float64)


def connection_scale(w: np.ndarray, target: float) -> float:
    """The ``A`` with ``Σ min(1, A·w) = target`` (expected number of edges), by bisection.

    Without saturation this is ``target / Σw`` (SPEC §1.1); when some ``A·w`` would exceed 1,
    the scale grows so the expected edge count still equals ``target``.
    """
    total = float(np.sum(w))
    if target <= 0 or total <= 0:
        return 0.0
    a = target / total
    if a * float(np.max(w)) <= 1.0:
        return a
    lo, hi = a, 1.0 / float(np.min(w[w > 0]))
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if float(np.sum(np.minimum(1.0, mid * w))) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return hi


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
    w = kernel(dist, sigma, kind)
    scale = connection_scale(w, target)
    keep = rng.random(len(w)) < np.minimum(1.0, scale * w)
    post, pre = post[keep], pre[keep]
    order = np.lexsort((pre, post))
    return post[order], pre[order]

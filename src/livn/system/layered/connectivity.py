"""Axon-extent connectivity of 3D layered systems.

A presynaptic cell reaches a post cell when the post cell lies inside the square of side
``extent`` centred on it in the plane (``|Δx| < extent/2`` and ``|Δy| < extent/2``; depth does
not matter). A reachable pair has kernel weight ``w = exp(-d²/(2σ²))`` on the planar distance
``d``, with ``σ = extent / 3``. For a projection with target ``k`` (mean in-degree, or mean
``contacts`` per post cell) and ``N`` post cells, a scale ``A`` makes the expected number of
synapses ``k·N``:

* ``degree``: the pair is connected with probability ``min(1, A·w)`` (at most one synapse);
  ``Σ min(1, A·w) = k·N`` (``A = k·N / Σw`` unless some ``A·w`` saturate at 1);
* ``contacts``: the pair gets ``Poisson(A·w)`` synapses, ``A = k·N / Σw``.

The candidate pairs are never held for the whole projection: they are enumerated block by
block of post cells with a KD-tree, twice (first to sum the kernel, then to draw), so memory
grows with the number of synapses and the block, not with N × N.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
from scipy.spatial import cKDTree

from livn.errors import ConnectivityWarning
from livn.system.culture.connectivity import connection_scale

#: The kernel's smallest value inside the reach: at the corner of the square,
#: d² / (2σ²) = 2 · (3/2)² / 2 = 9/4.
W_MIN = float(np.exp(-9.0 / 4.0))


def candidate_blocks(
    post_xy: np.ndarray,
    pre_xy: np.ndarray,
    half: float,
    exclude_self: bool,
    block_size: int,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Blocks of ``(post, pre, d²)`` for all pairs with ``|Δx|, |Δy| < half``.

    Args:
        post_xy, pre_xy: ``[n, 2]`` planar positions (µm, float64).
        half: Half the axon extent, µm.
        exclude_self: Skip ``post == pre`` (same population, no self-connections).
        block_size: Post cells per block.

    Yields:
        Local int32 indices and the float64 squared planar distance, per block of post
        cells in order; within a block in the KD-tree's (deterministic) order.
    """
    if len(post_xy) == 0 or len(pre_xy) == 0:
        return
    pre_tree = cKDTree(pre_xy)
    for start in range(0, len(post_xy), block_size):
        block = cKDTree(post_xy[start : start + block_size])
        pairs = block.sparse_distance_matrix(pre_tree, half, p=np.inf, output_type="ndarray")
        keep = pairs["v"] < half
        post = pairs["i"][keep].astype(np.int32) + np.int32(start)
        pre = pairs["j"][keep].astype(np.int32)
        del pairs, keep
        if exclude_self:
            keep = post != pre
            post, pre = post[keep], pre[keep]
        delta = post_xy[post] - pre_xy[pre]
        d2 = np.einsum("ij,ij->i", delta, delta)
        yield post, pre, d2


def connect(
    post_xy: np.ndarray,
    pre_xy: np.ndarray,
    extent: float,
    target: float,
    contacts: bool,
    same_population: bool,
    block_size: int,
    rng: np.random.Generator,
    label: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample the synapses of one projection.

    Args:
        post_xy: ``[n_post, 2]`` planar positions of the post cells (µm).
        pre_xy: ``[n_pre, 2]`` planar positions of the pre cells (µm).
        extent: The pre population's axon extent (side of the square reach), µm.
        target: Mean in-degree (or contacts) per post cell.
        contacts: Poisson contacts per pair (several synapses per pair possible) instead of
            at most one synapse per pair.
        same_population: Pre and post are the same population (no self-connections).
        block_size: Post cells per search block (from the config: the result depends on it).
        rng: The projection's random stream.
        label: ``"PRE->POST"`` for messages.

    Returns:
        ``(post, pre)`` local int64 indices of the synapses, sorted by post then pre.
    """
    half = extent / 2.0
    sigma = extent / 3.0
    inv = 1.0 / (2.0 * sigma * sigma)
    want = target * len(post_xy)
    empty = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if want <= 0 or len(post_xy) == 0 or len(pre_xy) == 0:
        return empty

    # pass 1: the kernel's sum (and the weights themselves while few enough to matter for
    # saturation: with n pairs, Σw >= W_MIN·n, so n > want / W_MIN means A·w <= 1 for all)
    total, n_pairs, kept, keep_all = 0.0, 0, [], True
    for _, _, d2 in candidate_blocks(post_xy, pre_xy, half, same_population, block_size):
        w = np.exp(-d2 * inv)
        total += float(w.sum())
        n_pairs += len(w)
        if keep_all and not contacts:
            if n_pairs <= want / W_MIN + 1:
                kept.append(w.astype(np.float32))
            else:
                keep_all, kept = False, []
    # a shortfall of less than one synapse over the whole projection is not reported (the
    # realised count is an integer; e.g. a 10-cell system whose few pairs are all connected)
    if n_pairs == 0 or total <= 0:
        if want < 1.0:
            return empty
        warnings.warn(
            f"projection {label}: no post cell lies within any pre cell's axon extent "
            f"({extent:g} µm); it has no synapses. Raise the axon extent or add cells.",
            ConnectivityWarning,
            stacklevel=3,
        )
        return empty
    if contacts:
        scale = want / total
    else:
        if want >= n_pairs + 1.0:
            warnings.warn(
                f"degree {target:g} of {label} cannot be reached: post cells have only "
                f"{n_pairs / len(post_xy):.2f} pre cells within reach (axon extent {extent:g} "
                f"µm) on average, so every one is connected (realised mean in-degree "
                f"{n_pairs / len(post_xy):.2f}). Lower the degree, raise the axon extent, or "
                "add cells.",
                ConnectivityWarning,
                stacklevel=3,
            )
        want = min(want, float(n_pairs))
        scale = want / total
        if scale > 1.0 and keep_all:  # some A·w would exceed 1: solve Σ min(1, A·w) = want
            scale = connection_scale(np.concatenate(kept), want)
    del kept

    # pass 2: the same pairs in the same order, drawn from the projection's stream
    posts, pres = [], []
    for post, pre, d2 in candidate_blocks(post_xy, pre_xy, half, same_population, block_size):
        p = scale * np.exp(-d2 * inv)
        if contacts:
            n = rng.poisson(p)
            sel = n > 0
            posts.append(np.repeat(post[sel], n[sel]))
            pres.append(np.repeat(pre[sel], n[sel]))
        else:
            sel = rng.random(len(p)) < np.minimum(p, 1.0)
            posts.append(post[sel])
            pres.append(pre[sel])
    post = np.concatenate(posts).astype(np.int64)
    pre = np.concatenate(pres).astype(np.int64)
    order = np.lexsort((pre, post))
    return post[order], pre[order]

"""``semantic``: k-means (faiss) on the embeddings, then uniform over clusters.

The default k follows the paper's reading in docs/selection.md: clusters should hold about ten times the
per-cluster quota, so k = size / 10, clamped to [8, 1024] (k = 1,000 for 10k, as in the paper). k-means trains
on at most ``max_points_per_centroid`` x k rows sampled with the seed, starting from greedy k-means++ centroids
(faiss starts from random points, which often splits one big cluster and merges two small ones), then every row is
assigned to its nearest centroid in blocks, so a million 384-d vectors cluster in under two minutes on two cores.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
from pydantic import Field

from naturalthoughts.config import StrictModel
from naturalthoughts.select.base import Context, Inner, Method, Rows, is_shuffle, round_robin

ASSIGN_BLOCK = 65536
SMALL_JOB_FLOPS = 2e9  # below this many multiply-adds, one thread is faster than two that wait on each other
MIN_TRAINING_POINTS = 32768  # small k trains cheaply, so train on more points than k x max_points_per_centroid


class SemanticParams(StrictModel):
    k: int | None = Field(None, ge=1, description="number of clusters; default size/10 clamped to [8, 1024]")
    niter: int = Field(20, ge=1, description="k-means iterations")
    max_points_per_centroid: int = Field(40, ge=1, description="training sample size per centroid")


def default_k(size: int) -> int:
    return int(min(max(round(size / 10), 8), 1024))


def kmeans_plus_plus(points: np.ndarray, k: int, rng: np.random.Generator, per_centroid: int = 8) -> np.ndarray:
    """Greedy k-means++ seeding on at most max(per_centroid x k, 4096) of ``points``.

    Each next centre is the best (lowest total squared distance) of ``2 + log k`` candidates drawn with
    probability proportional to squared distance, as scikit-learn does; written with one small matrix product
    per step because scikit-learn's version takes minutes for k = 1,000 on a busy 2-core machine.
    """
    budget = max(per_centroid * k, 4096)
    if len(points) > budget:
        points = points[np.sort(rng.choice(len(points), size=budget, replace=False))]
    points = points.astype(np.float32, copy=False)
    trials = 2 + int(np.log(k))
    norms = np.einsum("ij,ij->i", points, points)

    def squared_distances(candidates: np.ndarray) -> np.ndarray:
        d = norms[:, None] - 2 * (points @ points[candidates].T) + norms[candidates][None, :]
        return np.maximum(d, 0, out=d)

    chosen = [int(rng.integers(len(points)))]
    closest = squared_distances(np.array(chosen))[:, 0]
    for _ in range(1, k):
        cumulative = np.cumsum(closest, dtype=np.float64)
        if cumulative[-1] <= 0:  # fewer distinct points than k: any point will do
            candidates = rng.integers(len(points), size=1)
        else:
            candidates = np.minimum(np.searchsorted(cumulative, rng.random(trials) * cumulative[-1]), len(points) - 1)
        merged = np.minimum(closest[:, None], squared_distances(candidates))
        best = int(merged.sum(axis=0).argmin())
        chosen.append(int(candidates[best]))
        closest = merged[:, best]
    return np.ascontiguousarray(points[chosen])


@contextlib.contextmanager
def faiss_threads(work: float) -> Iterator[None]:
    """One OpenMP thread for small jobs: on a busy machine faiss's threads spin-wait on each other and a
    k-means that needs 20 ms with one thread takes seconds with two."""
    import faiss  # heavy: imported when a semantic selection actually runs

    before = faiss.omp_get_max_threads()
    if work < SMALL_JOB_FLOPS:
        faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def cluster(matrix: np.ndarray, rows: Rows, k: int, params: SemanticParams, ctx: Context) -> np.ndarray:
    """Cluster label of each of ``rows`` (deterministic for a given seed)."""
    k = min(k, len(rows))
    if k <= 1:
        return np.zeros(len(rows), dtype=np.int64)
    budget = max(k * params.max_points_per_centroid, MIN_TRAINING_POINTS)
    train_rows = rows if len(rows) <= budget else np.sort(ctx.rng.choice(rows, size=budget, replace=False))
    import faiss

    kmeans = faiss.Kmeans(
        matrix.shape[1], k, niter=params.niter, seed=ctx.seed, spherical=True, verbose=False,
        max_points_per_centroid=len(train_rows) // k + 1, min_points_per_centroid=1,  # sampled above
    )  # fmt: skip
    sample = np.ascontiguousarray(matrix[train_rows])
    labels = np.empty(len(rows), dtype=np.int64)
    with faiss_threads(float(len(sample)) * params.niter * k * matrix.shape[1]):
        kmeans.train(sample, init_centroids=kmeans_plus_plus(sample, k, ctx.rng))
    with faiss_threads(float(len(rows)) * k * matrix.shape[1]):
        for start in range(0, len(rows), ASSIGN_BLOCK):
            block = rows[start : start + ASSIGN_BLOCK]
            _, nearest = kmeans.index.search(np.ascontiguousarray(matrix[block]), 1)
            labels[start : start + len(block)] = nearest[:, 0]
    return labels


def _order(ctx: Context, rows: Rows, params: SemanticParams, inner: Inner) -> Rows:
    matrix, _ = ctx.pool.embeddings()
    k = params.k or default_k(ctx.size)
    labels = cluster(matrix, rows, k, params, ctx)
    ctx.notes.setdefault("semantic_k", int(min(k, len(rows))))
    return round_robin(ctx.rng, rows, labels, inner, random_inner=is_shuffle(inner))


METHOD = Method(
    name="semantic",
    summary="uniform over k-means clusters (k=size/10 in [8,1024])",
    params=SemanticParams,
    order=_order,
    columns=lambda params: ["embedding"],
)

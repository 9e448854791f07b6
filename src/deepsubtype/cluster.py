"""k-means in torch (on the model's device) and cluster assignment of embeddings.

DeepType re-clusters the representation of every patient between rounds of
joint training, so k-means runs inside the training loop on the same device as
the network; scikit-learn's k-means would force a copy to the CPU each round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

__all__ = ["KMeansResult", "kmeans", "squared_distances", "match_labels", "relabel_by_size", "score_n_clusters"]


@dataclass(frozen=True)
class KMeansResult:
    """Outcome of :func:`kmeans`: ``centers`` (k, d), ``labels`` (n,), ``inertia`` (sum of squared distances)."""

    centers: torch.Tensor
    labels: torch.Tensor
    inertia: float


def squared_distances(points: torch.Tensor, centers: torch.Tensor, point_norms: torch.Tensor | None = None
                      ) -> torch.Tensor:
    """Squared Euclidean distances, (n, d) x (k, d) -> (n, k), clamped at 0.

    ``point_norms`` (n, 1), the squared norms of ``points``, can be passed when known.
    """
    if point_norms is None:
        point_norms = points.square().sum(1, keepdim=True)
    distances = point_norms - 2.0 * points @ centers.T + centers.square().sum(1)[None, :]
    return distances.clamp_min_(0.0)


def _kmeans_plus_plus(points: torch.Tensor, n_clusters: int, generator: torch.Generator,
                      point_norms: torch.Tensor) -> torch.Tensor:
    n = points.shape[0]
    first = torch.randint(n, (1,), generator=generator, device=points.device)
    centers = [points[first[0]]]
    closest = squared_distances(points, centers[0][None, :], point_norms)[:, 0]
    for _ in range(1, n_clusters):
        total = closest.sum()
        if total <= 0:  # fewer distinct points than clusters; pick uniformly
            index = torch.randint(n, (1,), generator=generator, device=points.device)[0]
        else:
            index = torch.multinomial(closest / total, 1, generator=generator)[0]
        centers.append(points[index])
        closest = torch.minimum(closest, squared_distances(points, points[index][None, :], point_norms)[:, 0])
    return torch.stack(centers)


def _lloyd(points: torch.Tensor, centers: torch.Tensor, max_iter: int, tol: float,
           point_norms: torch.Tensor) -> KMeansResult:
    """Lloyd iterations until no label changes (or the centres move less than ``tol``, or ``max_iter``)."""
    n_clusters = centers.shape[0]
    labels: torch.Tensor | None = None
    for _ in range(max_iter):
        distances = squared_distances(points, centers, point_norms)
        new_labels = distances.argmin(1)
        if labels is not None and torch.equal(new_labels, labels):
            break
        labels = new_labels
        # Cluster sums as one (k, n) x (n, d) product: a BLAS call, much faster on CPU than index_add_.
        membership = torch.nn.functional.one_hot(labels, n_clusters).T.to(points.dtype)
        counts = membership.sum(1)
        new_centers = (membership @ points) / counts.clamp_min(1.0)[:, None]
        empty = counts == 0
        if empty.any():  # move empty clusters onto the points farthest from their centre
            farthest = distances.gather(1, labels[:, None])[:, 0].argsort(descending=True)
            new_centers[empty] = points[farthest[: int(empty.sum())]]
        shift = (new_centers - centers).square().sum()
        centers = new_centers
        if shift <= tol:
            break
    distances = squared_distances(points, centers, point_norms)
    inertia, labels = distances.min(1)
    return KMeansResult(centers=centers, labels=labels, inertia=float(inertia.sum()))


def kmeans(points: torch.Tensor, n_clusters: int, *, n_init: int = 10, max_iter: int = 300,
           tol: float = 1e-8, generator: torch.Generator, init: torch.Tensor | None = None) -> KMeansResult:
    """Lloyd's k-means with k-means++ seeding; the best of ``n_init`` starts (plus ``init`` if given).

    ``points`` (n, d) on any device; ``init`` (k, d) optional extra starting centres,
    e.g. the previous round's, so that settled clusters can stay put.
    """
    if not 1 <= n_clusters <= points.shape[0]:
        raise ValueError(f"n_clusters={n_clusters} must be between 1 and the number of samples ({points.shape[0]})")
    point_norms = points.square().sum(1, keepdim=True)
    starts = [_kmeans_plus_plus(points, n_clusters, generator, point_norms) for _ in range(n_init)]
    if init is not None:
        starts.append(init.to(points))
    results = [_lloyd(points, start, max_iter, tol, point_norms) for start in starts]
    return min(results, key=lambda result: result.inertia)


def match_labels(labels: np.ndarray, reference: np.ndarray, n_clusters: int, n_reference: int | None = None
                 ) -> np.ndarray:
    """Mapping ``p`` (length ``n_clusters``) maximizing agreement of ``p[labels]`` with ``reference``
    (Hungarian). ``reference`` has ``n_reference`` clusters (default ``n_clusters``); with more labels
    than reference clusters, the unmatched labels become ``n_reference``, ``n_reference + 1``, ..."""
    n_reference = n_clusters if n_reference is None else n_reference
    contingency = np.zeros((n_clusters, n_reference), dtype=np.int64)
    np.add.at(contingency, (labels, reference), 1)
    rows, cols = linear_sum_assignment(-contingency)
    permutation = np.empty(n_clusters, dtype=np.int64)
    permutation[rows] = cols
    unmatched = np.setdiff1d(np.arange(n_clusters), rows)
    permutation[unmatched] = n_reference + np.arange(len(unmatched))
    return permutation


def relabel_by_size(labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Permutation ``p`` such that ``p[labels]`` numbers clusters 0..k-1 from largest to smallest."""
    counts = np.bincount(labels, minlength=n_clusters)
    order = np.argsort(-counts, kind="stable")
    permutation = np.empty(n_clusters, dtype=np.int64)
    permutation[order] = np.arange(n_clusters)
    return permutation


def _silhouette(points: torch.Tensor, labels: torch.Tensor, n_clusters: int) -> float:
    """Mean silhouette (Euclidean), computed in torch on the points' device in O(n^2) memory blocks."""
    n = points.shape[0]
    counts = torch.bincount(labels, minlength=n_clusters).to(points.dtype)
    if (counts > 0).sum() < 2:
        return float("nan")
    one_hot = torch.nn.functional.one_hot(labels, n_clusters).to(points.dtype)
    totals = torch.empty(n, n_clusters, dtype=points.dtype, device=points.device)
    for start in range(0, n, 2048):
        block = torch.cdist(points[start:start + 2048], points)
        totals[start:start + 2048] = block @ one_hot  # summed distance to each cluster
    own = counts[labels]
    within = totals.gather(1, labels[:, None])[:, 0] / (own - 1).clamp_min(1.0)
    between = totals / counts.clamp_min(1.0)
    between[torch.arange(n, device=points.device), labels] = float("inf")
    between[:, counts == 0] = float("inf")
    nearest = between.min(1).values
    score = (nearest - within) / torch.maximum(nearest, within)
    score = torch.where(own > 1, score, torch.zeros_like(score))  # singletons score 0, as scikit-learn
    return float(score.mean())


def score_n_clusters(points: torch.Tensor, candidates: list[int], *, generator: torch.Generator, n_init: int = 10,
                     n_resamples: int = 10, subsample: float = 0.8) -> list[dict[str, float]]:
    """Score each K of ``candidates`` for k-means on ``points`` (n, d).

    Per K: ``inertia``; ``silhouette`` (mean, -1..1; higher = better separated);
    ``stability``: mean adjusted Rand index between k-means on ``n_resamples``
    random ``subsample`` fractions and the full-data clustering restricted to
    the same samples (1 = the same partition every time).
    """
    from sklearn.metrics import adjusted_rand_score

    n = points.shape[0]
    size = max(2, int(round(subsample * n)))
    records = []
    for k in candidates:
        if not 2 <= k < n:
            raise ValueError(f"candidate n_clusters={k} must be between 2 and n_samples - 1 ({n - 1})")
        full = kmeans(points, k, n_init=n_init, generator=generator)
        agreements = []
        for _ in range(n_resamples):
            rows = torch.randperm(n, generator=generator, device=generator.device)[:size].to(points.device)
            part = kmeans(points[rows], k, n_init=max(1, n_init // 2), generator=generator)
            agreements.append(adjusted_rand_score(full.labels[rows].cpu().numpy(), part.labels.cpu().numpy()))
        records.append({
            "n_clusters": k,
            "inertia": full.inertia,
            "silhouette": _silhouette(points, full.labels, k),
            "stability": float(np.mean(agreements)),
        })
    return records


def assignment_confidence(distances: np.ndarray) -> np.ndarray:
    """Relative margin of the nearest centre over the second nearest: ``1 - d1 / d2`` per row of
    ``distances`` (n, K).

    0 = halfway between two centres (a coin toss), 1 = on its centre; free of the
    representation's units, so comparable across models. With one cluster every confidence is 1.
    """
    distances = np.asarray(distances, dtype=np.float64)
    if distances.shape[1] < 2:
        return np.ones(distances.shape[0])
    nearest = np.sort(distances, axis=1)[:, :2]
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = 1.0 - nearest[:, 0] / nearest[:, 1]
    return np.where(nearest[:, 1] > 0, margin, 0.0)


def cluster_means(points: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """The mean of each cluster's rows of ``points`` (n, d) under ``labels`` (n,): (n_clusters, d)."""
    return np.stack([points[labels == k].mean(0) for k in range(n_clusters)])

"""Baselines that DeepType's subtypes are compared with, and the metrics that compare them.

Every baseline clusters the same normalized matrix (samples x top-variance genes, z-scored) into the
same K:

- ``kmeans``: k-means on the genes;
- ``pca_kmeans``: k-means on the first principal components;
- ``consensus``: consensus clustering in the style of ConsensusClusterPlus (Wilkerson & Hayes 2010):
  k-means on resampled 80 % subsets, the consensus matrix of how often two patients cluster together
  when sampled together, average-linkage hierarchical clustering of 1 - consensus;
- ``snf``: Similarity Network Fusion (Wang et al. 2014): scaled exponential affinity per view, fused by
  cross-diffusion when there are several views, spectral clustering (scikit-learn) of the fused network;
- ``autoencoder``: DeepType's own ``reconstruction`` task with beta = 0, then k-means on its
  representation (the classic deep-clustering baseline).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.cluster import KMeans, spectral_clustering
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score
from sklearn.metrics.pairwise import euclidean_distances

from .cluster import match_labels
from .estimator import DeepType
from .objective import BASELINE_OBJECTIVES, baseline_pipeline

__all__ = [
    "BaselineResult",
    "ConsensusResult",
    "consensus_clustering",
    "snf_affinity",
    "fuse_networks",
    "run_baselines",
    "clustering_accuracy",
    "label_agreement",
]


@dataclass(frozen=True)
class BaselineResult:
    """Labels (n,), the space they were found in (n, d) or a precomputed distance (n, n), and seconds;
    ``clusters_by``: the method that made the labels where it is not ``method`` itself (a DeepType that learnt
    a baseline's clusters: ``kmeans`` or ``pca_kmeans``; its own: ``deeptype``)."""

    method: str
    labels: np.ndarray
    space: np.ndarray
    seconds: float
    precomputed: bool = False
    clusters_by: str | None = None


@dataclass(frozen=True)
class ConsensusResult:
    """Consensus clustering for each K: labels, consensus matrix, CDF area; ``delta_area`` as Monti et al."""

    labels: dict[int, np.ndarray]
    consensus: dict[int, np.ndarray]
    cdf_area: dict[int, float]

    @property
    def delta_area(self) -> dict[int, float]:
        """Relative increase of the CDF area from K-1 to K (the first K: its area)."""
        ks = sorted(self.cdf_area)
        deltas = {ks[0]: self.cdf_area[ks[0]]}
        for previous, k in zip(ks[:-1], ks[1:], strict=True):
            deltas[k] = (self.cdf_area[k] - self.cdf_area[previous]) / self.cdf_area[previous]
        return deltas


def consensus_clustering(X: np.ndarray, k_values: list[int], *, n_resamples: int = 50, subsample: float = 0.8,
                         seed: int = 0) -> ConsensusResult:
    """Consensus clustering of ``X`` (n, d) for each K in ``k_values`` (k-means on 80 % subsamples)."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    size = int(round(subsample * n))
    samples = [np.sort(rng.choice(n, size, replace=False)) for _ in range(n_resamples)]
    labels, consensus, areas = {}, {}, {}
    for k in k_values:
        together = np.zeros((n, n))
        sampled = np.zeros((n, n))
        for index, rows in enumerate(samples):
            assignment = KMeans(k, n_init=1, random_state=seed + index).fit_predict(X[rows])
            same = (assignment[:, None] == assignment[None, :]).astype(float)
            together[np.ix_(rows, rows)] += same
            sampled[np.ix_(rows, rows)] += 1.0
        matrix = np.divide(together, sampled, out=np.zeros_like(together), where=sampled > 0)
        np.fill_diagonal(matrix, 1.0)
        tree = linkage(squareform(1.0 - matrix, checks=False), method="average")
        labels[k] = fcluster(tree, k, criterion="maxclust") - 1
        consensus[k] = matrix
        values = np.sort(matrix[np.triu_indices(n, 1)])
        cdf = np.arange(1, len(values) + 1) / len(values)
        areas[k] = float(np.sum(np.diff(values) * cdf[:-1]))  # area under the empirical CDF on [0, 1]
    return ConsensusResult(labels=labels, consensus=consensus, cdf_area=areas)


def snf_affinity(X: np.ndarray, *, neighbours: int = 20, mu: float = 0.5) -> np.ndarray:
    """Scaled exponential similarity of Wang et al. (2014): exp(-d^2 / (mu * eps_ij)), (n, n)."""
    distances = euclidean_distances(X, squared=False)
    k = min(neighbours, X.shape[0] - 1)
    nearest = np.sort(distances, axis=1)[:, 1:k + 1].mean(axis=1)
    scale = (nearest[:, None] + nearest[None, :] + distances) / 3.0
    return np.exp(-(distances**2) / (mu * np.maximum(scale, np.finfo(float).eps)))


def _normalized(W: np.ndarray) -> np.ndarray:
    off = W - np.diag(np.diag(W))
    P = off / (2.0 * off.sum(axis=1, keepdims=True))
    np.fill_diagonal(P, 0.5)
    return P


def _local(W: np.ndarray, neighbours: int) -> np.ndarray:
    S = np.zeros_like(W)
    top = np.argsort(-W, axis=1)[:, :neighbours]
    rows = np.arange(W.shape[0])[:, None]
    S[rows, top] = W[rows, top]
    return S / S.sum(axis=1, keepdims=True)


def fuse_networks(affinities: list[np.ndarray], *, neighbours: int = 20, iterations: int = 20) -> np.ndarray:
    """Similarity Network Fusion by cross-diffusion of several (n, n) affinities; one view is returned normalized."""
    P = [_normalized(W) for W in affinities]
    if len(P) == 1:
        return (P[0] + P[0].T) / 2.0
    S = [_local(W, min(neighbours, W.shape[0] - 1)) for W in affinities]
    for _ in range(iterations):
        P = [S[v] @ (sum(P[u] for u in range(len(P)) if u != v) / (len(P) - 1)) @ S[v].T
             for v in range(len(P))]
        P = [_normalized((p + p.T) / 2.0) for p in P]
    fused = sum(P) / len(P)
    return (fused + fused.T) / 2.0


def _timed(function: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, float]:
    start = time.perf_counter()
    labels, space = function()
    return labels, space, time.perf_counter() - start


def run_baselines(X: np.ndarray, n_clusters: int, *, seed: int = 0, n_components: int = 50,
                  consensus_resamples: int = 50, autoencoder_params: dict[str, Any] | None = None,
                  view_sizes: list[int] | None = None) -> list[BaselineResult]:
    """Run every baseline on ``X`` (n, genes) with ``n_clusters``; see the module docstring.

    With ``view_sizes`` (columns per view, in order), SNF fuses one affinity network per
    view, as it was designed to. Missing views (NaN) are read as the view's mean (0 on
    z-scored data) by every baseline but the autoencoder, which masks them as DeepType does.
    """
    results = []
    raw, X = X, np.nan_to_num(X, nan=0.0)

    def pipeline_baseline(name: str) -> tuple[np.ndarray, np.ndarray]:
        pipeline = baseline_pipeline(name, n_clusters, X.shape, seed=seed, n_components=n_components)
        labels = pipeline.fit_predict(X)
        return labels, pipeline[:-1].transform(X)

    for name in BASELINE_OBJECTIVES:  # kmeans, pca_kmeans: the baselines a survival fit may learn
        labels, space, seconds = _timed(lambda name=name: pipeline_baseline(name))
        results.append(BaselineResult(name, labels, space, seconds))

    def consensus() -> tuple[np.ndarray, np.ndarray]:
        result = consensus_clustering(X, [n_clusters], n_resamples=consensus_resamples, seed=seed)
        return result.labels[n_clusters], 1.0 - result.consensus[n_clusters]

    labels, space, seconds = _timed(consensus)
    results.append(BaselineResult("consensus", labels, space, seconds, precomputed=True))

    def snf() -> tuple[np.ndarray, np.ndarray]:
        views = np.split(X, np.cumsum(view_sizes)[:-1], axis=1) if view_sizes else [X]
        fused = fuse_networks([snf_affinity(view) for view in views])
        found = spectral_clustering(fused, n_clusters=n_clusters, random_state=seed, assign_labels="discretize")
        return found, 1.0 - fused / fused.max()

    labels, space, seconds = _timed(snf)
    results.append(BaselineResult("snf", labels, space, seconds, precomputed=True))

    def autoencoder() -> tuple[np.ndarray, np.ndarray]:
        params = {**(autoencoder_params or {}), "task": "reconstruction", "beta": 0.0, "n_clusters": n_clusters,
                  "random_state": seed}
        model = DeepType(**params).fit(raw)
        return model.labels_, model.transform(raw)

    labels, space, seconds = _timed(autoencoder)
    results.append(BaselineResult("autoencoder", labels, space, seconds))
    return results


def clustering_accuracy(truth: np.ndarray, labels: np.ndarray) -> float:
    """Share of samples whose cluster maps to their class under the best one-to-one matching (Hungarian)."""
    classes, truth_codes = np.unique(truth, return_inverse=True)
    clusters, label_codes = np.unique(labels, return_inverse=True)
    # clusters left unmatched get codes past the classes, so they count as wrong
    permutation = match_labels(label_codes, truth_codes, len(clusters), len(classes))
    return float(np.mean(permutation[label_codes] == truth_codes))


def label_agreement(truth: pd.Series, labels: np.ndarray) -> dict[str, float]:
    """ACC (Hungarian), NMI and ARI of ``labels`` against a known label (missing labels left out)."""
    known = truth.notna().to_numpy()
    y, found = truth[known].astype(str).to_numpy(), np.asarray(labels)[known]
    return {"acc": clustering_accuracy(y, found), "nmi": float(normalized_mutual_info_score(y, found)),
            "ari": float(adjusted_rand_score(y, found))}


def silhouette(result: BaselineResult) -> float:
    """Mean silhouette of the labels in the method's own space (NaN with a single cluster)."""
    if len(np.unique(result.labels)) < 2:
        return float("nan")
    metric = "precomputed" if result.precomputed else "euclidean"
    space = result.space.copy()
    if result.precomputed:
        np.fill_diagonal(space, 0.0)
    return float(silhouette_score(space, result.labels, metric=metric))

"""What a cohort with only survival trains on: the Cox loss, or the subtypes an unsupervised method finds.

A Cox loss trained on a few dozen events learns whatever separates the training patients' outcomes; where
the cohort's main structure is itself prognostic (adrenocortical carcinoma's C1A/C1B), k-means on the genes
finds it unaided and the Cox-trained network does not (``benchmarks/RESULTS.md``). With
``DeepType(task="survival", objective="auto")`` the fit therefore chooses between candidate objectives by how
well each one's clusters separate survival *on patients it did not train on*: within the fit's own
patients, ``folds``-fold cross-validation, every candidate fitted on the training folds and its clusters
assigned to the held-out fold, each fold's held-out clusters log-rank tested on their own. The choice
(:func:`choose_objective`):

- a baseline is a candidate only where its held-out clusters separate survival (the folds' chi-squares
  summed, p < :data:`SIGNIFICANCE`): clusters that do not are no reason to leave the paper's objective;
- among the candidates, the one-standard-error rule (as the paper chooses alpha): each fold's log-rank test
  as a z-score (Stouffer's z of its p), the best candidate by mean z, then the simplest candidate whose mean
  z is within one standard error of the best's (the SE of the fold-paired differences), in the order of
  their free parameters: k-means on the first 50 principal components (K x 50 centre coordinates), k-means
  on the genes (K x genes), the Cox loss (a network fitted to the outcome). The baselines are the simpler:
  they never saw the outcome, so their clusters cannot be fitted to the training patients' noise.

The candidates:

- ``primary``: DeepType on the Cox loss (the paper's objective), at the alpha the fit chose on all its
  patients (so the inner fits are plain fits: alpha is chosen once, not per inner fold);
- ``kmeans``: k-means on the genes; ``pca_kmeans``: k-means on the first 50 principal components (the
  compare stage's baselines of the same names, :func:`baseline_pipeline`).

A baseline that wins becomes the network's primary task: DeepType learns its clusters of all the fit's
patients as classes (with the L2,1 and k-means terms as always), so the model still has a representation and a
gene ranking; its clusters are the baseline's, and it assigns new patients by the baseline's own rule
(:class:`BaselineRule`, the nearest k-means centre in the baseline's space), as the choice scored the baseline:
a network trained on 60-odd patients reproduces its classes in sample but assigns held-out patients less
faithfully than the centres it learnt them from (``benchmarks/RESULTS.md``). The choice looks at the
patients' outcomes, so a validation that refits the model per fold (:mod:`deepsubtype.validation`) repeats it
inside every fold; the out-of-fold p of such a model is the honest figure, its in-sample p is not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from .survival import chi_square_p, summed_logrank

__all__ = ["OBJECTIVES", "BASELINE_OBJECTIVES", "OBJECTIVE_FOLDS", "SIGNIFICANCE", "BaselineRule", "baseline_pipeline",
           "baseline_rule", "baseline_labels", "objective_scores", "choose_objective", "chosen_objective"]

logger = logging.getLogger(__name__)

#: What ``DeepType(objective=...)`` accepts besides ``"auto"``.
OBJECTIVES: tuple[str, ...] = ("primary", "kmeans", "pca_kmeans")
#: The candidates that are an unsupervised method's clusters.
BASELINE_OBJECTIVES: tuple[str, ...] = ("kmeans", "pca_kmeans")
#: A baseline's held-out log-rank p must be below this for its clusters to replace the Cox loss.
SIGNIFICANCE = 0.05
#: Folds of the cross-validation that chooses the objective (:func:`objective_scores`).
OBJECTIVE_FOLDS = 3
#: Principal components kept by ``pca_kmeans`` (at most; fewer when the matrix has fewer rows or columns).
N_COMPONENTS = 50


def baseline_pipeline(name: str, n_clusters: int, shape: tuple[int, int], *, seed: int = 0,
                      n_components: int = N_COMPONENTS) -> Pipeline:
    """The unfitted scikit-learn pipeline of baseline ``name`` (``kmeans`` or ``pca_kmeans``) for a matrix of
    ``shape`` (samples, genes): k-means with 10 restarts, after a PCA to ``n_components`` for ``pca_kmeans``.
    Its ``fit_predict`` gives the clusters, ``predict`` assigns new samples and ``[:-1]`` is the space."""
    kmeans = KMeans(n_clusters, n_init=10, random_state=seed)
    if name == "kmeans":
        return make_pipeline(FunctionTransformer(), kmeans)  # the identity, so that [:-1] is the genes' space
    if name == "pca_kmeans":
        return make_pipeline(PCA(min(n_components, *shape), random_state=seed), kmeans)
    raise ValueError(f"unknown baseline {name!r}; one of {BASELINE_OBJECTIVES}")


def _baseline_k(name: str, X: np.ndarray, n_clusters: int | str, k_range: tuple[int, int], seed: int) -> int:
    """``n_clusters``, or for ``"auto"`` the K of ``k_range`` whose clusters have the highest mean silhouette."""
    if n_clusters != "auto":
        return int(n_clusters)
    low, high = k_range
    scores = {}
    for k in range(low, high + 1):
        pipeline = baseline_pipeline(name, k, X.shape, seed=seed)
        labels = pipeline.fit_predict(X)
        scores[k] = silhouette_score(pipeline[:-1].transform(X), labels) if len(set(labels)) > 1 else -1.0
    return max(scores, key=lambda k: (scores[k], -k))


@dataclass(frozen=True)
class BaselineRule:
    """A fitted baseline's own assignment: the nearest of ``centers`` (K, space) in its space, the genes or, with
    ``components`` (c, genes) and ``mean`` (genes,), their principal components. A model that learnt a
    baseline's clusters assigns new patients with it, as the objective's choice scored the baseline."""

    centers: np.ndarray
    mean: np.ndarray | None = None
    components: np.ndarray | None = None

    def __post_init__(self) -> None:
        if (self.mean is None) != (self.components is None):
            raise ValueError("a baseline rule has a PCA mean and components together or neither")
        if self.components is not None and not (
                self.mean.shape[0] == self.components.shape[1] and self.components.shape[0] == self.centers.shape[1]):
            raise ValueError(f"baseline rule shapes disagree: mean {self.mean.shape}, components "
                             f"{self.components.shape}, centres {self.centers.shape}")

    @property
    def n_features(self) -> int:
        """The genes the rule reads."""
        return int(self.centers.shape[1] if self.components is None else self.components.shape[1])

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline) -> BaselineRule:
        """The rule of a fitted :func:`baseline_pipeline`."""
        centers = np.asarray(pipeline[-1].cluster_centers_, dtype=np.float64)
        if isinstance(pipeline[0], PCA):
            return cls(centers, np.asarray(pipeline[0].mean_, dtype=np.float64),
                       np.asarray(pipeline[0].components_, dtype=np.float64))
        return cls(centers)

    @property
    def n_clusters(self) -> int:
        return int(self.centers.shape[0])

    def distances(self, X: np.ndarray) -> np.ndarray:
        """Euclidean distance of each row of ``X`` (n, genes; NaN read as 0) to each centre: (n, K)."""
        points = np.nan_to_num(np.asarray(X, dtype=np.float64))
        if self.components is not None:
            points = (points - self.mean) @ self.components.T
        return euclidean_distances(points, self.centers)

    def assign(self, X: np.ndarray) -> np.ndarray:
        """The nearest centre of each row of ``X`` (n, genes): (n,)."""
        return self.distances(X).argmin(1)

    def renumbered(self, order: np.ndarray) -> BaselineRule:
        """The same rule with cluster ``k`` renamed ``order[k]``."""
        return BaselineRule(self.centers[np.argsort(order)], self.mean, self.components)


def baseline_rule(name: str, X: np.ndarray, n_clusters: int | str, *, k_range: tuple[int, int] = (2, 8),
                  seed: int = 0) -> BaselineRule:
    """Baseline ``name`` fitted on ``X`` (n, genes; NaN read as 0, a z-scored gene's mean), K from
    ``n_clusters`` (``"auto"``: the silhouette's choice in ``k_range``), as a :class:`BaselineRule`."""
    X = np.nan_to_num(np.asarray(X, dtype=np.float64))
    k = _baseline_k(name, X, n_clusters, k_range, seed)
    return BaselineRule.from_pipeline(baseline_pipeline(name, k, X.shape, seed=seed).fit(X))


def baseline_labels(name: str, X: np.ndarray, n_clusters: int | str, *, k_range: tuple[int, int] = (2, 8),
                    seed: int = 0) -> np.ndarray:
    """Clusters (n,) of baseline ``name`` on ``X`` (n, genes; NaN read as 0): :func:`baseline_rule`'s
    assignment of ``X`` itself."""
    return baseline_rule(name, X, n_clusters, k_range=k_range, seed=seed).assign(X)


def _logrank_statistic(labels: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """Multivariate log-rank chi-square of ``labels`` on ``y`` (n, 2: time, event) and its degrees of freedom;
    ``(0, 0)`` where the test is undefined (one cluster, no event)."""
    from .survival import logrank_table  # lifelines is loaded only by fits that choose an objective

    known = ~np.isnan(y).any(1)
    frame = pd.DataFrame({"cluster": labels[known], "time": y[known, 0], "event": y[known, 1].astype(np.int64)})
    row = logrank_table(frame).iloc[0]
    if not np.isfinite(row["test_statistic"]):
        return 0.0, 0
    return float(row["test_statistic"]), int(row["degrees_of_freedom"])


def _fold_z(statistic: float, df: int) -> float:
    """Stouffer's z of one fold's log-rank test (p clipped to [1e-300, 1 - 1e-12]; an undefined test is p 1)."""
    return float(norm.isf(min(max(chi_square_p(statistic, df), 1e-300), 1.0 - 1e-12)))


def objective_scores(model: Any, X: np.ndarray, y: np.ndarray, *, alpha: Any, folds: int = OBJECTIVE_FOLDS,
                     seed: int = 0) -> list[dict[str, Any]]:
    """Score every candidate objective of a survival DeepType ``model`` on ``X`` (n, genes) and ``y`` (n, 2).

    Returns one record per candidate of :data:`OBJECTIVES`: ``objective``, ``n_clusters`` (its most common K
    over the folds), ``held_out_p``, ``fold_z``, ``folds`` and ``chosen`` (:func:`choose_objective`). Each
    fold's held-out clusters are tested on their own (a fold's cluster numbers mean nothing in another fold):
    ``held_out_p`` is the chi-square p of the folds' summed log-rank chi-squares and degrees of freedom,
    ``fold_z`` the folds' z-scores in fold order. The ``primary`` candidate's fits are clones of ``model`` at
    ``alpha`` (no checkpoint, seed ``seed``)."""
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float64)
    statistics: dict[str, list[tuple[float, int]]] = {name: [] for name in OBJECTIVES}
    n_clusters: dict[str, list[int]] = {name: [] for name in OBJECTIVES}
    filled = np.nan_to_num(X.astype(np.float64))
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(X):
        fold_model = clone(model).set_params(objective="primary", alpha=alpha, checkpoint=None, random_state=seed)
        fold_model.fit(X[train], y[train])
        statistics["primary"].append(_logrank_statistic(fold_model.predict(X[test]), y[test]))
        n_clusters["primary"].append(int(fold_model.n_clusters_))
        for name in BASELINE_OBJECTIVES:
            k = _baseline_k(name, filled[train], model.n_clusters, tuple(model.n_clusters_range), seed)
            assigned = baseline_pipeline(name, k, filled[train].shape, seed=seed).fit(filled[train]).predict(
                filled[test])
            statistics[name].append(_logrank_statistic(assigned, y[test]))
            n_clusters[name].append(k)
    records = []
    for name in OBJECTIVES:
        records.append({"objective": name, "n_clusters": int(np.bincount(n_clusters[name]).argmax()),
                        "held_out_p": summed_logrank(statistics[name])[2],
                        "fold_z": [_fold_z(*fold) for fold in statistics[name]], "folds": folds})
    best = choose_objective(records)
    for index, record in enumerate(records):
        record["chosen"] = index == best
        logger.info("objective %s: log-rank p %.3g of %d-fold held-out clusters (fold z %s)%s", record["objective"],
                    record["held_out_p"], folds, ", ".join(f"{z:.2f}" for z in record["fold_z"]),
                    " (chosen)" if record["chosen"] else "")
    return records


def choose_objective(records: list[dict[str, Any]]) -> int:
    """The index of the chosen record of :func:`objective_scores` (in :data:`OBJECTIVES` order), by the
    one-standard-error rule over the candidates from the simplest (:data:`BASELINE_OBJECTIVES` from the last:
    ``pca_kmeans``, then ``kmeans``) to the Cox loss: the first whose mean fold z is within one standard error
    of the best candidate's (the SE of the paired fold differences). A baseline is a candidate only where its
    ``held_out_p`` is below :data:`SIGNIFICANCE`; the Cox loss always is."""
    simplest_first = range(len(records) - 1, 0, -1)  # pca_kmeans (K x 50 centre coordinates), kmeans (K x genes)
    eligible = [index for index in simplest_first if records[index]["held_out_p"] < SIGNIFICANCE] + [0]
    z = {index: np.asarray(records[index]["fold_z"], dtype=np.float64) for index in eligible}
    best = max(eligible, key=lambda index: (float(z[index].mean()), index == 0))
    for index in eligible:
        difference = z[best] - z[index]
        standard_error = float(difference.std(ddof=1) / np.sqrt(len(difference))) if len(difference) > 1 else 0.0
        if float(difference.mean()) <= standard_error:
            return index
    return best


def chosen_objective(records: list[dict[str, Any]]) -> str:
    """The ``objective`` of the chosen record of :func:`objective_scores`."""
    return next(record["objective"] for record in records if record["chosen"])

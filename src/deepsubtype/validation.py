"""Out-of-fold cluster assignments, so that survival differences are not judged on the data that made them.

For each of ``repeats`` shuffled K-fold splits, DeepType is refitted on K-1 folds and the held-out
patients are assigned with :meth:`DeepType.predict`. The fold model's clusters are renamed to the
full-data clusters by Hungarian matching on the training patients, so that "cluster 1" means the same
subtype in every fold.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold

from .cluster import match_labels
from .estimator import DeepType

__all__ = ["out_of_fold_clusters", "cluster_stability"]

logger = logging.getLogger(__name__)


def out_of_fold_clusters(model: DeepType, X: Any, y: Any, reference: np.ndarray, *, folds: int = 5,
                         repeats: int = 1, seed: int = 0) -> pd.DataFrame:
    """Assign every sample of ``X`` out of fold, ``repeats`` times.

    ``model`` gives the hyperparameters (refitted clones use its ``n_clusters_``, so K
    is not re-chosen per fold); ``reference`` (n_samples,) holds the full-data
    clusters that fold clusters are matched to. Returns one row per sample and
    repeat: ``repeat``, ``fold``, ``cluster`` (out of fold, matched), ``in_sample_cluster``.
    ``attrs["training_labels"]`` keeps, per fold, the training rows and the fold model's
    matched clusters of them, for :func:`cluster_stability`.
    """
    reference = np.asarray(reference)
    n_samples = len(reference)
    n_clusters = int(model.n_clusters_)
    y_array = None if y is None else np.asarray(y, dtype=object if np.asarray(y).ndim == 1 else float)
    rows, training_labels = [], []
    for repeat in range(repeats):
        splitter = KFold(folds, shuffle=True, random_state=seed + repeat)
        for fold, (train, test) in enumerate(splitter.split(np.zeros(n_samples))):
            fold_model = clone(model).set_params(n_clusters=n_clusters)
            fold_model.fit(X[train], None if y_array is None else y_array[train])
            permutation = match_labels(fold_model.labels_, reference[train], n_clusters)
            assigned = permutation[fold_model.predict(X[test])]
            training_labels.append((train, permutation[fold_model.labels_]))
            rows.append(pd.DataFrame({"index": test, "repeat": repeat, "fold": fold, "cluster": assigned,
                                      "in_sample_cluster": reference[test]}))
            logger.info("repeat %d fold %d: %d held-out samples, %.0f %% in their in-sample cluster", repeat, fold,
                        len(test), 100 * np.mean(assigned == reference[test]))
    result = pd.concat(rows).sort_values(["repeat", "index"]).reset_index(drop=True)
    result.attrs["training_labels"] = training_labels
    return result


def cluster_stability(reference: np.ndarray, training_labels: list[tuple[np.ndarray, np.ndarray]]
                      ) -> pd.DataFrame:
    """Per-cluster consensus over refits on subsamples (here: the folds' training sets).

    For each full-data cluster: ``consensus`` = mean over refits of the share of its
    member pairs (both in the refit's sample) that the refit keeps in one cluster;
    ``min_consensus`` the worst refit. 1 = the cluster is reproduced every time.
    """
    reference = np.asarray(reference)
    rows = []
    for cluster in np.unique(reference):
        shares = []
        for rows_used, labels in training_labels:
            members = labels[reference[rows_used] == cluster]
            if len(members) < 2:
                continue
            counts = np.bincount(members)
            shares.append(float((counts * (counts - 1)).sum() / (len(members) * (len(members) - 1))))
        rows.append({"cluster": int(cluster), "n": int(np.sum(reference == cluster)),
                     "consensus": float(np.mean(shares)) if shares else float("nan"),
                     "min_consensus": float(np.min(shares)) if shares else float("nan"),
                     "n_refits": len(shares)})
    return pd.DataFrame(rows)

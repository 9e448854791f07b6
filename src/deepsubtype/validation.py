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

__all__ = ["out_of_fold_clusters"]

logger = logging.getLogger(__name__)


def out_of_fold_clusters(model: DeepType, X: Any, y: Any, reference: np.ndarray, *, folds: int = 5,
                         repeats: int = 1, seed: int = 0) -> pd.DataFrame:
    """Assign every sample of ``X`` out of fold, ``repeats`` times.

    ``model`` gives the hyperparameters (refitted clones use its ``n_clusters_``, so K
    is not re-chosen per fold); ``reference`` (n_samples,) holds the full-data
    clusters that fold clusters are matched to. Returns one row per sample and
    repeat: ``repeat``, ``fold``, ``cluster`` (out of fold, matched), ``in_sample_cluster``.
    """
    reference = np.asarray(reference)
    n_samples = len(reference)
    n_clusters = int(model.n_clusters_)
    y_array = None if y is None else np.asarray(y, dtype=object if np.asarray(y).ndim == 1 else float)
    rows = []
    for repeat in range(repeats):
        splitter = KFold(folds, shuffle=True, random_state=seed + repeat)
        for fold, (train, test) in enumerate(splitter.split(np.zeros(n_samples))):
            fold_model = clone(model).set_params(n_clusters=n_clusters)
            fold_model.fit(X[train], None if y_array is None else y_array[train])
            permutation = match_labels(fold_model.labels_, reference[train], n_clusters)
            assigned = permutation[fold_model.predict(X[test])]
            rows.append(pd.DataFrame({"index": test, "repeat": repeat, "fold": fold, "cluster": assigned,
                                      "in_sample_cluster": reference[test]}))
            logger.info("repeat %d fold %d: %d held-out samples, %.0f %% in their in-sample cluster", repeat, fold,
                        len(test), 100 * np.mean(assigned == reference[test]))
    return pd.concat(rows).sort_values(["repeat", "index"]).reset_index(drop=True)

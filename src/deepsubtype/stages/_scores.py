"""Scores several stages compute on clusters: silhouettes, the clusters' Cox C-index, clustering metrics."""

from __future__ import annotations

import logging
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_samples

from ..survival import CoxUnavailable, cox_by_cluster, logrank_table, survival_frame

logger = logging.getLogger(__name__)


def _silhouettes(points: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Silhouette of each sample (n,) in ``points`` (n, d); NaN where undefined (one cluster, or one per sample)."""
    if 2 <= len(np.unique(labels)) < len(labels):
        return silhouette_samples(points, labels)
    return np.full(len(labels), np.nan)


def _cluster_c_index(frame: pd.DataFrame) -> float:
    """Harrell's C of a Cox model on the clusters alone (no covariates) of a :func:`survival_frame`; NaN for
    one cluster."""
    if frame["cluster"].nunique() < 2:
        return float("nan")
    try:
        return float(cox_by_cluster(frame).model["concordance_index"].iloc[0])
    except CoxUnavailable as reason:
        logger.warning("no C-index: %s", reason)
        return float("nan")


def _clustering_metrics(adata: ad.AnnData, labels: np.ndarray, silhouette: float, *, target: str | None,
                        time_column: str | None, event_column: str | None, source: str) -> dict[str, Any]:
    """What a clustering of ``adata``'s samples says: ``n_clusters``, ``smallest_cluster``, the given
    ``silhouette``; ``logrank_p`` and ``cox_c_index`` with survival columns; ``acc``/``nmi``/``ari``
    against ``target`` when given."""
    from ..compare import label_agreement

    series = pd.Series(labels, index=adata.obs_names)
    row: dict[str, Any] = {"n_clusters": int(series.nunique()), "smallest_cluster": int(series.value_counts().min()),
                           "silhouette": silhouette}
    if time_column and event_column:
        frame, _ = survival_frame(series, adata.obs, time_column=time_column, event_column=event_column,
                                  source=source)
        row["logrank_p"] = float(logrank_table(frame)["p_value"].iloc[0])
        row["cox_c_index"] = _cluster_c_index(frame)
    if target:
        row.update(label_agreement(adata.obs[target], labels))
    return row

"""Gene importance: the L2 norm of each gene's first-layer weight column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .estimator import DeepType

__all__ = ["gene_importance"]


def gene_importance(model: DeepType, genes: list[str] | np.ndarray | None = None) -> pd.DataFrame:
    """Rank genes by DeepType importance.

    Returns a DataFrame with columns ``gene``, ``importance`` (column L2 norm of the
    first-layer weights, >= 0), ``relative_importance`` (importance / maximum) and
    ``rank`` (1 = most important), sorted by rank; ties keep the input gene order.
    ``genes`` defaults to ``model.feature_names_in_``, else ``gene_0 ...``.
    """
    importance = np.asarray(model.feature_importances_, dtype=np.float64)
    if genes is None:
        genes = getattr(model, "feature_names_in_", None)
    if genes is None:
        genes = [f"gene_{i}" for i in range(len(importance))]
    if len(genes) != len(importance):
        raise ValueError(f"{len(genes)} gene names for {len(importance)} importances")
    order = np.argsort(-importance, kind="stable")
    maximum = importance.max() if importance.size and importance.max() > 0 else 1.0
    return pd.DataFrame({
        "gene": np.asarray(genes, dtype=object)[order],
        "importance": importance[order],
        "relative_importance": importance[order] / maximum,
        "rank": np.arange(1, len(order) + 1),
    })

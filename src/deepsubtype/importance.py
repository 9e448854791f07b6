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
    A model of several views adds ``view``, ``feature`` (the name without its
    ``view:`` prefix), ``rank_in_view`` and ``relative_in_view`` (importance / the
    view's largest).
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
    table = pd.DataFrame({
        "gene": np.asarray(genes, dtype=object)[order],
        "importance": importance[order],
        "relative_importance": importance[order] / maximum,
        "rank": np.arange(1, len(order) + 1),
    })
    if model.views and len(model.views) > 1:
        names, sizes = zip(*model.views, strict=True)
        table["view"] = np.repeat(np.asarray(names, dtype=object), sizes)[order]
        table["feature"] = [str(gene).removeprefix(f"{view}:") for gene, view in zip(table["gene"], table["view"],
                                                                                      strict=True)]
        grouped = table.groupby("view", sort=False)["importance"]
        table["rank_in_view"] = grouped.cumcount() + 1
        table["relative_in_view"] = table["importance"] / grouped.transform("max").where(lambda m: m > 0, 1.0)
    return table

"""Gene rankings: DeepType's (by default each gene's activation pattern, the norm of its covariance with the
learned representation; or the paper's L2 norm of its first-layer weight column; the median over fits) and,
beside it, the univariate test a biologist would run first (t-test, ANOVA, Spearman, Cox score test)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .ensemble import DeepTypeEnsemble
from .estimator import IMPORTANCE_MEASURES, DeepType
from .tasks import primary_task

__all__ = ["gene_importance", "importance_measures", "ranking_overlap", "univariate_ranking"]


def importance_measures(model: DeepType | DeepTypeEnsemble) -> dict[str, np.ndarray]:
    """Every importance ``model`` offers, by name: ``pattern`` (when the model has it) and ``first_layer``,
    each (n_features_in_,); an ensemble's are the median over fits of each fit's shares of its total."""
    measures = {}
    for name in IMPORTANCE_MEASURES:
        if isinstance(model, DeepTypeEnsemble):
            if all(getattr(fit, f"{name}_importances_", None) is not None for fit in model.fits_):
                measures[name] = model.combined_importances(name)
        elif getattr(model, f"{name}_importances_", None) is not None:
            measures[name] = np.asarray(getattr(model, f"{name}_importances_"), dtype=np.float64)
    return measures


def gene_importance(model: DeepType | DeepTypeEnsemble, genes: list[str] | np.ndarray | None = None) -> pd.DataFrame:
    """Rank genes by DeepType importance.

    Returns a DataFrame with columns ``gene``, ``importance`` (>= 0: the measure ``model.importance`` names,
    named in ``importance_measure``: ``pattern_minmax`` (default), the pattern per unit of the gene's range;
    ``pattern``, the norm of the gene's covariance with the representation,
    or ``first_layer``, the L2 norm of its first-layer weight column), ``relative_importance``
    (importance / maximum) and ``rank`` (1 = most important), sorted by rank; ties keep the input gene
    order. Every measure the model offers also gets ``{measure}_importance`` and ``{measure}_rank``.
    A :class:`~deepsubtype.ensemble.DeepTypeEnsemble`'s importance is the median over its fits of each
    fit's importances as shares of their sum, and the table adds ``top_n_frequency`` (share of fits
    ranking the gene in their top ``top_n``), ``median_rank_in_fits`` and ``rank_iqr``.
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
        "importance_measure": model.importance,
    })
    for name, values in importance_measures(model).items():
        table[f"{name}_importance"] = values[order]
        table[f"{name}_rank"] = (np.argsort(np.argsort(-values, kind="stable"), kind="stable") + 1)[order]
    if hasattr(model, "gene_stability"):
        stability = model.gene_stability().iloc[order].reset_index(drop=True)
        table = pd.concat([table, stability.rename(columns={"top_n_frequency": f"top{model.top_n}_frequency"})],
                          axis=1)
    if model.views and len(model.views) > 1:
        names, sizes = zip(*model.views, strict=True)
        table["view"] = np.repeat(np.asarray(names, dtype=object), sizes)[order]
        table["feature"] = [str(gene).removeprefix(f"{view}:") for gene, view in zip(table["gene"], table["view"],
                                                                                      strict=True)]
        grouped = table.groupby("view", sort=False)["importance"]
        table["rank_in_view"] = grouped.cumcount() + 1
        table["relative_in_view"] = table["importance"] / grouped.transform("max").where(lambda m: m > 0, 1.0)
    return table


def univariate_ranking(X: np.ndarray, y: Any, task: str, genes: list[str] | np.ndarray) -> pd.DataFrame | None:
    """Rank genes one at a time against the primary target: the floor DeepType's ranking should clear.

    Each task's one-gene test (:meth:`~deepsubtype.tasks.PrimaryTask.univariate_test`): ``classification`` /
    ``binary`` with two classes, Welch's t-test; more classes, one-way ANOVA F; ``regression``, Spearman
    correlation; ``survival`` (``y`` (n, 2) = time, event), the Cox score test. Samples with a missing target are
    left out. Returns ``gene``, ``test``, ``statistic`` (signed where the test has a sign), ``p_value`` and
    ``rank`` (1 = strongest), sorted by rank; None for ``reconstruction`` (no target).
    """
    result = primary_task(task).univariate_test(np.asarray(X, dtype=np.float64), y)
    if result is None:
        return None
    statistic, p_value, test = result
    statistic, p_value = np.nan_to_num(statistic), np.nan_to_num(p_value, nan=1.0)
    order = np.lexsort((np.arange(len(statistic)), p_value, -np.abs(statistic)))
    return pd.DataFrame({"gene": np.asarray(genes, dtype=object)[order], "test": test,
                         "statistic": statistic[order], "p_value": p_value[order],
                         "rank": np.arange(1, len(order) + 1)})


def ranking_overlap(deeptype: pd.DataFrame, univariate: pd.DataFrame, sizes: tuple[int, ...] = (10, 20, 50, 100)
                    ) -> pd.DataFrame:
    """For each top-N size: genes in both top lists, their Jaccard index, and the genes only DeepType ranks
    there (``only_deeptype``) and only the univariate test ranks there (``only_univariate``), ``,``-joined."""
    rows = []
    for size in sizes:
        ours, theirs = list(deeptype["gene"].head(size)), list(univariate["gene"].head(size))
        both = set(ours) & set(theirs)
        rows.append({"top_n": size, "in_both": len(both), "jaccard": len(both) / len(set(ours) | set(theirs)),
                     "only_deeptype": ",".join(str(g) for g in ours if g not in both),
                     "only_univariate": ",".join(str(g) for g in theirs if g not in both)})
    return pd.DataFrame(rows)

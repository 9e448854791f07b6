"""Gene rankings: DeepType's (by default each gene's activation pattern, the norm of its covariance with the
learned representation; or the paper's L2 norm of its first-layer weight column; the median over fits) and,
beside it, the univariate test a biologist would run first (t-test, ANOVA, Spearman, Cox score test)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .ensemble import DeepTypeEnsemble
from .estimator import IMPORTANCE_MEASURES, DeepType

__all__ = ["cox_score_test", "gene_importance", "importance_measures", "ranking_overlap", "univariate_ranking"]


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


def cox_score_test(X: np.ndarray, time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``X`` (n, p), the score test of a one-covariate Cox model at beta = 0 (Breslow ties).

    Returns ``(z, p_value)``, each (p,): z = U / sqrt(I) with U = sum over events of (x_i - risk-set
    mean) and I = sum over events of the risk-set variance; two-sided normal p-value. Without ties
    z**2 is the log-rank statistic of a binary covariate. Vectorized over genes: O(n p) after a sort.
    """
    order = np.argsort(-time, kind="stable")
    X, time, event = np.asarray(X, dtype=np.float64)[order], time[order], event[order].astype(bool)
    s0 = np.arange(1, len(time) + 1, dtype=np.float64)
    s1, s2 = np.cumsum(X, 0), np.cumsum(X**2, 0)
    # Breslow: everyone tied at t_i is at risk at t_i, so take the cumulative sums at the end of each tie run
    last = np.searchsorted(-time, -time, side="right") - 1
    mean = s1[last] / s0[last][:, None]
    variance = s2[last] / s0[last][:, None] - mean**2
    score = (X[event] - mean[event]).sum(0)
    information = variance[event].sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(information > 0, score / np.sqrt(information), 0.0)
    return z, 2 * stats.norm.sf(np.abs(z))


def univariate_ranking(X: np.ndarray, y: Any, task: str, genes: list[str] | np.ndarray) -> pd.DataFrame | None:
    """Rank genes one at a time against the primary target: the floor DeepType's ranking should clear.

    ``classification`` / ``binary`` with two classes: Welch's t-test; more classes: one-way ANOVA F;
    ``regression``: Spearman correlation; ``survival`` (``y`` (n, 2) = time, event): Cox score test.
    Samples with a missing target are left out. Returns ``gene``, ``test``, ``statistic`` (signed where
    the test has a sign), ``p_value`` and ``rank`` (1 = strongest), sorted by rank; None for
    ``reconstruction`` (no target).
    """
    X = np.asarray(X, dtype=np.float64)
    if task == "reconstruction":
        return None
    if task == "survival":
        target = np.asarray(y, dtype=np.float64)
        known = ~np.isnan(target).any(1)
        statistic, p_value = cox_score_test(X[known], target[known, 0], target[known, 1])
        test = "Cox score test (z)"
    elif task == "regression":
        target = pd.to_numeric(pd.Series(np.asarray(y, dtype=object)), errors="coerce").to_numpy(dtype=np.float64)
        known = ~np.isnan(target)
        ranks = stats.rankdata(X[known], axis=0)
        statistic = np.nan_to_num(_pearson(ranks, stats.rankdata(target[known])))
        n = int(known.sum())
        t = statistic * np.sqrt((n - 2) / np.clip(1 - statistic**2, 1e-300, None))
        p_value = 2 * stats.t.sf(np.abs(t), n - 2)
        test = "Spearman correlation"
    else:
        labels = pd.Series(np.asarray(y, dtype=object))
        known = labels.notna().to_numpy()
        classes = sorted(labels[known].unique(), key=str)
        groups = [X[(labels == value).to_numpy()] for value in classes]
        if len(groups) == 2:
            statistic, p_value = stats.ttest_ind(groups[1], groups[0], equal_var=False)
            test = f"Welch t-test ({classes[1]} vs {classes[0]})"
        else:
            statistic, p_value = stats.f_oneway(*groups)
            test = "one-way ANOVA F"
    statistic, p_value = np.nan_to_num(statistic), np.nan_to_num(p_value, nan=1.0)
    order = np.lexsort((np.arange(len(statistic)), p_value, -np.abs(statistic)))
    return pd.DataFrame({"gene": np.asarray(genes, dtype=object)[order], "test": test,
                         "statistic": statistic[order], "p_value": p_value[order],
                         "rank": np.arange(1, len(order) + 1)})


def _pearson(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``matrix`` (n, p) with ``vector`` (n,)."""
    centred, target = matrix - matrix.mean(0), vector - vector.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        return centred.T @ target / (np.sqrt((centred**2).sum(0)) * np.sqrt((target**2).sum()))


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

"""Hyperparameter sweeps: many (alpha, beta, K, seed) fits of one cohort, summarized per setting.

Each run of a sweep is one DeepType fit (see :func:`deepsubtype.stages.sweep_run_stage`);
:func:`summarize_sweep` puts the runs of one setting (alpha, beta, K) side by side: the
median of every metric over seeds, how much the clusters agree between seeds (mean
pairwise ARI) and how much the top genes do (mean pairwise Jaccard index).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

__all__ = ["SETTING", "seed_agreement", "top_gene_overlap", "summarize_sweep"]

#: Columns that identify a sweep setting; ``seed`` varies within one.
SETTING = ["alpha", "beta", "n_clusters"]


def seed_agreement(labels: list[pd.Series]) -> float:
    """Mean adjusted Rand index over pairs of clusterings (Series indexed by sample, compared on shared
    samples); NaN for fewer than two."""
    pairs = []
    for first, second in combinations(labels, 2):
        shared = first.index.intersection(second.index)
        pairs.append(adjusted_rand_score(first[shared].to_numpy(), second[shared].to_numpy()))
    return float(np.mean(pairs)) if pairs else float("nan")


def top_gene_overlap(rankings: list[pd.DataFrame], n_top: int = 50) -> float:
    """Mean Jaccard index of the ``n_top`` highest-ranked genes over pairs of rankings (``gene``, ``rank``)."""
    tops = [set(ranking.nsmallest(n_top, "rank")["gene"]) for ranking in rankings]
    pairs = [len(a & b) / len(a | b) for a, b in combinations(tops, 2)]
    return float(np.mean(pairs)) if pairs else float("nan")


def summarize_sweep(runs: pd.DataFrame, clusters: dict[str, pd.Series], genes: dict[str, pd.DataFrame],
                    n_top_genes: int = 50) -> pd.DataFrame:
    """One row per setting (alpha, beta, n_clusters) of the ``runs`` table (one row per run, with ``run``).

    Columns: the setting, ``n_seeds``, ``converged_fraction``, the median over seeds of every numeric metric,
    ``seed_ari`` (:func:`seed_agreement` of the runs' clusters) and ``top_genes_jaccard``
    (:func:`top_gene_overlap` of their gene rankings). ``clusters`` and ``genes`` are
    keyed by run name. Sorted by the setting.
    """
    metrics = [column for column, dtype in runs.dtypes.items() if column not in (*SETTING, "seed", "run")
               and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)]
    rows = []
    for setting, group in runs.groupby(SETTING, sort=True):
        row = dict(zip(SETTING, setting, strict=True))
        row["n_seeds"] = int(group["seed"].nunique())
        if "converged" in group:
            row["converged_fraction"] = float(group["converged"].astype(bool).mean())
        row.update({f"{metric}_median": float(group[metric].median()) for metric in metrics})
        row["seed_ari"] = seed_agreement([clusters[name] for name in group["run"]])
        row["top_genes_jaccard"] = top_gene_overlap([genes[name] for name in group["run"]], n_top_genes)
        rows.append(row)
    return pd.DataFrame(rows)

"""Tables over cohorts: stacked per-cohort summaries and the discovery/validation summary."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import check_cohort_name
from ._files import _read_clusters, _write_table

__all__ = ["aggregate_cohorts", "validation_summary_stage"]

logger = logging.getLogger(__name__)


def aggregate_cohorts(summaries: dict[str, str | Path], output: str | Path) -> pd.DataFrame:
    """One table across cohorts: every cohort's table (e.g. ``compare/summary.tsv``) with a ``cohort`` column."""
    for cohort in summaries:
        check_cohort_name(cohort)
    table = pd.concat([pd.read_csv(path, sep="\t").assign(cohort=cohort) for cohort, path in summaries.items()],
                      ignore_index=True)
    table = table[["cohort", *[c for c in table.columns if c != "cohort"]]]
    _write_table(table, output)
    return table


def _survival_summary(files: dict[str, str | Path], role: str) -> dict[str, Any]:
    """Log-rank p and the hazard ratio of cluster 1 against the reference from a cohort's survival tables."""
    row: dict[str, Any] = {"logrank_p": np.nan, "small_clusters": "", "logrank_p_without_small": np.nan,
                           "hr_cluster_1": np.nan, "hr_cluster_1_lower_95": np.nan, "hr_cluster_1_upper_95": np.nan}
    if f"{role}/logrank" in files:
        test = pd.read_csv(files[f"{role}/logrank"], sep="\t").iloc[0]
        small = test["small_clusters"]
        row.update(logrank_p=float(test["p_value"]), small_clusters="" if pd.isna(small) else str(small),
                   logrank_p_without_small=float(test["p_value_without_small"]))
        cox = pd.read_csv(files[f"{role}/cox"], sep="\t").set_index("term")
        if "cluster_1" in cox.index:
            row.update(hr_cluster_1=float(cox.loc["cluster_1", "hazard_ratio"]),
                       hr_cluster_1_lower_95=float(cox.loc["cluster_1", "hr_lower_95"]),
                       hr_cluster_1_upper_95=float(cox.loc["cluster_1", "hr_upper_95"]))
    return row


def validation_summary_stage(pairs: dict[str, str], files: dict[str, str | Path], output: str | Path
                             ) -> pd.DataFrame:
    """Discovery and validation cohorts side by side: for each validation cohort (``pairs``: cohort -> the
    cohort whose model it applies), a row for the training cohort and one for it.

    ``files``: ``{cohort}/overlap``, ``{cohort}/agreement``, ``{cohort}/clusters`` and, with survival,
    ``{cohort}/logrank`` and ``{cohort}/cox``; the training cohort's under ``{cohort}/training/...``.
    Columns: ``cohort``, ``role``, ``trained_on``, ``n_patients``, ``cluster_sizes``, genes found and
    missing, the platform check, ``mean_confidence``, ``logrank_p`` (with ``small_clusters``, those under the
    survival stage's minimum size, and ``logrank_p_without_small``, the test among the others), the hazard
    ratio of cluster 1 (against the Cox model's reference cluster) with its 95 % interval, and ``ari``/``nmi``
    against the target.
    """
    rows = []
    for cohort, source in pairs.items():
        check_cohort_name(cohort)
        overlap = pd.read_csv(files[f"{cohort}/overlap"], sep="\t").set_index("measure")["value"]
        agreement = pd.read_csv(files[f"{cohort}/agreement"], sep="\t")
        for role, name, prefix, line in (("discovery", source, f"{cohort}/training", 0),
                                         ("validation", cohort, cohort, 1)):
            clusters = _read_clusters(files[f"{prefix}/clusters"])
            sizes = clusters.value_counts().sort_index()
            rows.append({
                "cohort": name, "role": role, "trained_on": source, "n_patients": int(len(clusters)),
                "cluster_sizes": " ".join(f"{k}:{n}" for k, n in sizes.items()),
                "n_training_genes": int(overlap["n_training_genes"]),
                "n_genes_found": int(overlap["n_found"]) if role == "validation" else int(overlap["n_training_genes"]),
                "n_genes_missing": int(overlap["n_missing"]) if role == "validation" else 0,
                "gene_mean_correlation": float(overlap["gene_mean_correlation"]) if role == "validation" else np.nan,
                "gene_sd_correlation": float(overlap["gene_sd_correlation"]) if role == "validation" else np.nan,
                "centering": overlap["centering"] if role == "validation" else "fitted on this cohort",
                "mean_confidence": float(overlap["mean_confidence"]) if role == "validation" else np.nan,
                **_survival_summary(files, prefix),
                "target": agreement.loc[line, "target"], "ari": agreement.loc[line, "ari"],
                "nmi": agreement.loc[line, "nmi"],
            })
    table = pd.DataFrame(rows).drop_duplicates(subset=["cohort", "role"], keep="first", ignore_index=True)
    _write_table(table, output)
    return table

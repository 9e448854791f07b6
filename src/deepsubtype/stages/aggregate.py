"""Tables over cohorts: stacked per-cohort summaries and the discovery/validation summary."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import InputError
from ..markers import top_markers
from ..outputs import SUMMARY_FILES
from ..schema import check_cohort_name
from ._files import METHOD_TEXT, _atomic, _read_cluster_method, _read_clusters, _write_table

__all__ = ["aggregate_cohorts", "cohort_summary", "summary_stage", "validation_summary_stage"]

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


def _rank_against_baselines(compare_summary: str | Path) -> str:
    """Where DeepType stands among the compare stage's methods by ARI against the target (median over seeds; an
    in-sample agreement, valid for clusters of any method), for cohorts without out-of-fold validation. Not
    ranked where a baseline made DeepType's clusters at any seed (``clusters_by``: DeepType learnt them as its
    objective), which is then said instead. Survival p-values are not ranked here: in sample they are not
    comparable (a model trained on survival is judged on its own outcomes); out of fold see
    :func:`_out_of_fold_comparison`."""
    table = pd.read_csv(compare_summary, sep="\t").set_index("method")
    known = "clusters_by" in table and "deepsubtype" in table.index  # not in summaries older than the column
    made_by = str(table.loc["deepsubtype", "clusters_by"]).split(",") if known else ["deeptype"]
    baselines = [method for method in made_by if method != "deeptype"]
    if baselines:
        some = " at some seeds" if len(baselines) < len(made_by) else ""
        return f"not ranked: DeepType's clusters are {' and '.join(baselines)}'s{some} (learnt as its objective)"
    if "ari_median" not in table or table["ari_median"].isna().all():
        return ""
    order = table["ari_median"].dropna().sort_values(ascending=False, kind="stable")
    rank = int(np.flatnonzero(order.index == "deepsubtype")[0]) + 1
    best = next(method for method in order.index if method != "deepsubtype")
    return f"{rank} of {len(order)} by ARI with the target (in sample); best other: {best} ({order[best]:.2g})"


def cohort_summary(cohort: str, files: dict[str, str | Path], *, task: str = "classification",
                   trained_on: str | None = None) -> dict[str, Any]:
    """One cohort's headline numbers from its result tables (``files``: :data:`SUMMARY_FILES`' roles, of which
    only ``clusters`` is required): what made the clusters (``method``, ``clusters.tsv``'s), patients, K, cluster
    sizes, in-sample
    and out-of-fold log-rank p and C-index, whether the clusters carry survival information beyond the primary
    task's target (``beyond_target``: its column; ``beyond_target_p``: the stratified, or adjusted, Cox
    likelihood-ratio p of ``beyond_target.tsv``; ``c_index_gain_over_target``, in sample), the top 10 genes,
    each cluster's top 3 raised markers (``top_markers``: ``0: A, B, C; 1: ...`` from ``markers.tsv``,
    :func:`~deepsubtype.markers.top_markers`; descriptive) and DeepType's place among the baselines."""
    check_cohort_name(cohort)
    if "clusters" not in files:
        raise InputError(f"cohort {cohort}: no {SUMMARY_FILES['clusters']} among its results, so nothing to summarize")
    clusters = _read_clusters(files["clusters"])
    sizes = clusters.value_counts().sort_index()
    row: dict[str, Any] = {
        "cohort": cohort, "role": "validation" if trained_on else "discovery", "trained_on": trained_on or "",
        "task": task, "method": _read_cluster_method(files["clusters"]), "n_patients": int(len(clusters)),
        "k": int(len(sizes)),
        "cluster_sizes": "/".join(str(int(n)) for n in sizes), "logrank_p_in_sample": np.nan,
        "c_index_in_sample": np.nan, "out_of_fold_p": np.nan, "out_of_fold_permutations": np.nan,
        "c_index_out_of_fold": np.nan, "p_values_note": "",
        "beyond_target": "", "beyond_target_p": np.nan, "c_index_gain_over_target": np.nan,
        "top_genes": "", "top_markers": "", "against_baselines": ""}
    if "logrank" in files:
        row["logrank_p_in_sample"] = float(pd.read_csv(files["logrank"], sep="\t")["p_value"].iloc[0])
        cox = pd.read_csv(files["cox_model"], sep="\t").iloc[0]
        if str(cox["covariates"]) == "none":  # the clusters' own C, as out of fold; not one with covariates
            row["c_index_in_sample"] = float(cox["concordance_index"])
        row["p_values_note"] = _P_VALUES_NOTE["external" if trained_on else task == "survival"]
    if "beyond_target" in files:
        beyond = pd.read_csv(files["beyond_target"], sep="\t", keep_default_na=False, na_values=["NA"]).iloc[0]
        row.update(beyond_target=str(beyond["target"]), beyond_target_p=float(beyond["p_value"]),
                   c_index_gain_over_target=float(beyond["c_index_gain"]))
    if "oof_logrank" in files:
        oof = pd.read_csv(files["oof_logrank"], sep="\t")
        row["c_index_in_sample"] = float(oof.loc[oof["assignment"] == "in-sample", "c_index"].iloc[0])
        row["c_index_out_of_fold"] = float(oof.loc[oof["assignment"].str.startswith("out-of-fold"), "c_index"].median())
    if "oof_test" in files:
        tests = pd.read_csv(files["oof_test"], sep="\t").set_index("method")
        row["out_of_fold_p"] = float(tests.loc["deepsubtype", "permutation_p"])
        row["out_of_fold_permutations"] = int(tests.loc["deepsubtype", "n_permutations"])
    if "genes" in files:
        row["top_genes"] = ", ".join(pd.read_csv(files["genes"], sep="\t")["gene"].head(10).astype(str))
    if "markers" in files:
        markers = top_markers(pd.read_csv(files["markers"], sep="\t", keep_default_na=False, na_values=["NA"]), 3)
        row["top_markers"] = "; ".join(f"{cluster}: {', '.join(genes) or '–'}" for cluster, genes in markers.items())
    if "oof_test" in files:
        row["against_baselines"] = _out_of_fold_comparison(files["oof_test"], files["oof_methods"], row["method"])
    elif "compare" in files:
        row["against_baselines"] = _rank_against_baselines(files["compare"])
    return row


#: What the summary's survival p-values answer: by whether the clusters were trained on survival, or ``external``
#: for a validation cohort (``model_from``).
_P_VALUES_NOTE: dict[bool | str, str] = {
    "external": "another cohort's model assigned these patients without seeing them or their outcomes: the "
                "in-sample p is a valid test of that model's subtypes here (it may restate the target: see beyond "
                "the target)",
    True: "the in-sample p is not a test (the clusters were trained on these outcomes); the out-of-fold p is "
          "calibrated by permuting the outcomes and refitting every fold",
    False: "the clusters never saw survival: the in-sample p is a valid test (it may restate the target: see "
           "beyond the target); the out-of-fold p says whether the assignment rule carries survival information "
           "to patients it was not fitted on",
}


def _out_of_fold_comparison(tests_file: str | Path, methods_file: str | Path, method: str) -> str:
    """DeepType beside the baselines validated on the same splits: each method's out-of-fold C-index (median over
    repeats; risk estimated on the training patients) and calibrated permutation p (oof_test.tsv). No ranking:
    the intervals of a C-index on ~100 patients overlap, and a p-value is not an effect size."""
    tests = pd.read_csv(tests_file, sep="\t").set_index("method")
    c_index = pd.read_csv(methods_file, sep="\t").groupby("method")["out_of_fold_c_index"].median()
    names = {"deepsubtype": "DeepType" if method == "deeptype" else f"DeepType (clusters of {method})",
             "kmeans": "k-means", "pca_kmeans": "PCA + k-means"}
    parts = [f"{names.get(name, name)} C {c_index.get(name, np.nan):.2f}, p {tests.loc[name, 'permutation_p']:.2g}"
             for name in tests.index]
    return "out of fold, same splits: " + "; ".join(parts)


#: Rows of the report's summary table: summary.tsv column -> label, and how its values are written.
_SUMMARY_FIELDS = {
    "role": ("role", str), "trained_on": ("model trained on", str), "task": ("primary task", str),
    "method": ("clusters made by", lambda method: METHOD_TEXT.get(method, method)),
    "n_patients": ("patients", str), "k": ("K", str), "cluster_sizes": ("cluster sizes", str),
    "out_of_fold_p": ("survival p, out of fold (permutation test, calibrated)", "{:.2g}".format),
    "out_of_fold_permutations": ("permutations (smallest possible p = 1 / (permutations + 1))", "{:.0f}".format),
    "c_index_out_of_fold": ("C-index, out of fold (clusters alone; risk from the training folds)", "{:.2f}".format),
    "logrank_p_in_sample": ("log-rank p, in sample", "{:.2g}".format),
    "c_index_in_sample": ("C-index, in sample (clusters alone)", "{:.2f}".format),
    "p_values_note": ("what these p-values answer", str),
    "beyond_target": ("target the clusters are tested beyond", str),
    "beyond_target_p": ("survival beyond the target: clusters within its classes (Cox likelihood-ratio test "
                        "stratified by it; regression: adjusted for it), p", "{:.2g}".format),
    "c_index_gain_over_target": ("C-index gain over the target alone, in sample", "{:+.2f}".format),
    "top_genes": ("top 10 genes", str),
    "top_markers": ("top markers per subtype (raised in the cluster against the rest; descriptive: clusters "
                    "found on these data)", str),
    "against_baselines": ("against the baselines", str),
}


def summary_page(table: pd.DataFrame) -> str:
    """The summary as reStructuredText for the report's first page: one column per cohort, one row per field
    (narrow enough for the page's text column); missing values as a dash."""
    def cell(value: Any, write: Any) -> str:
        return "–" if value is None or value == "" or (isinstance(value, float) and np.isnan(value)) else write(value)

    lines = [".. list-table::", "   :header-rows: 1", "   :stub-columns: 1", "", "   * -", *(
        f"     - {cohort}" for cohort in table["cohort"])]
    for column, (label, write) in _SUMMARY_FIELDS.items():
        lines.append(f"   * - {label}")
        lines += [f"     - {cell(value, write)}" for value in table[column]]
    return "\n".join(lines) + "\n"


def summary_stage(cohorts: dict[str, dict[str, Any]], output: str | Path, page: str | Path | None = None
                  ) -> pd.DataFrame:
    """``results/summary.tsv``: :func:`cohort_summary` of every cohort (``cohorts``: name -> ``{"files": ...,
    "task": ..., "trained_on": ...}``), one row each, discovery cohorts first; ``page``: the same as
    :func:`summary_page` (reStructuredText) for the report."""
    rows = [cohort_summary(name, spec["files"], task=spec.get("task", "classification"),
                           trained_on=spec.get("trained_on")) for name, spec in cohorts.items()]
    table = pd.DataFrame(rows).sort_values("role", kind="stable", ignore_index=True)
    _write_table(table, output)
    if page is not None:
        with _atomic(page) as temporary:
            temporary.write_text(summary_page(table))
    return table

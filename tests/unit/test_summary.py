"""results/summary.tsv and the report's first page, from hand-written result tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepsubtype.stages import summary_stage
from deepsubtype.stages.aggregate import summary_page


def _tables(directory: Path) -> dict[str, Path]:
    files = {name: directory / f"{name}.tsv" for name in ("clusters", "logrank", "cox_model", "beyond_target",
                                                           "oof_logrank", "oof_test", "oof_methods", "genes",
                                                           "compare")}
    pd.DataFrame({"sample": [f"P{i}" for i in range(10)], "cluster": [0] * 6 + [1] * 4}).to_csv(
        files["clusters"], sep="\t", index=False)
    pd.DataFrame({"p_value": [1e-9]}).to_csv(files["logrank"], sep="\t", index=False)
    pd.DataFrame({"concordance_index": [0.8], "covariates": ["age,grade"]}).to_csv(files["cox_model"], sep="\t",
                                                                                   index=False)
    pd.DataFrame({"target": ["er_status"] * 3, "stratum": ["all", "negative", "positive"],
                  "p_value": [0.046, np.nan, 0.012], "c_index_gain": [0.031, np.nan, np.nan]}).to_csv(
        files["beyond_target"], sep="\t", index=False, na_rep="NA")
    pd.DataFrame({"assignment": ["in-sample", "out-of-fold, repeat 0", "out-of-fold, repeat 1"],
                  "p_value": [1e-9, 0.2, 0.4], "c_index": [0.7, 0.55, 0.6]}).to_csv(
        files["oof_logrank"], sep="\t", index=False)
    pd.DataFrame({"method": ["deepsubtype", "kmeans", "pca_kmeans"], "permutation_p": [0.03, 0.01, 0.6],
                  "n_permutations": [99] * 3}).to_csv(files["oof_test"], sep="\t", index=False)
    pd.DataFrame({"method": ["deepsubtype"] * 2 + ["kmeans"] * 2 + ["pca_kmeans"] * 2, "repeat": [0, 1] * 3,
                  "out_of_fold_c_index": [0.55, 0.6, 0.62, 0.64, 0.5, 0.52]}).to_csv(
        files["oof_methods"], sep="\t", index=False)
    pd.DataFrame({"gene": [f"G{i}" for i in range(12)]}).to_csv(files["genes"], sep="\t", index=False)
    pd.DataFrame({"method": ["deepsubtype", "kmeans", "pca_kmeans"], "logrank_p_median": [1e-9, 0.01, 0.5],
                  "ari_median": [0.9, 0.5, np.nan]}).to_csv(files["compare"], sep="\t", index=False)
    return files


def test_the_headline_is_the_calibrated_out_of_fold_p_and_methods_are_compared_on_the_same_splits(
        tmp_path: Path) -> None:
    """The out-of-fold p is oof_test.tsv's permutation p (not the median of the repeats' chi-square p, which is not a
    p-value); the C-indices are the clusters' alone in and out of fold (not a Cox model with covariates); the
    baselines are set beside DeepType out of fold on the same splits, unranked; in-sample p-values are not ranked."""
    files = _tables(tmp_path)
    no_validation = {role: path for role, path in files.items() if not role.startswith("oof")}
    cohorts = {"surv": {"files": files, "task": "survival"}, "cls": {"files": no_validation, "task": "classification"},
               "new": {"files": {"clusters": files["clusters"]}, "trained_on": "cls"}}
    table = summary_stage(cohorts, tmp_path / "summary.tsv", tmp_path / "summary.rst").set_index("cohort")
    assert table.loc["surv", "out_of_fold_p"] == pytest.approx(0.03)
    assert table.loc["surv", "out_of_fold_permutations"] == 99
    assert table.loc["surv", "c_index_out_of_fold"] == pytest.approx(0.575)
    assert table.loc["surv", "c_index_in_sample"] == pytest.approx(0.7), "the clusters' own C, as out of fold"
    assert np.isnan(table.loc["cls", "c_index_in_sample"]), "a C-index with age and grade is not the clusters'"
    assert table.loc["surv", "against_baselines"] == ("out of fold, same splits: DeepType C 0.57, p 0.03; k-means "
                                                      "C 0.63, p 0.01; PCA + k-means C 0.51, p 0.6")
    assert table.loc["surv", "p_values_note"].startswith("the in-sample p is not a test")
    assert table.loc["cls", "p_values_note"].startswith("the clusters never saw survival")
    assert table.loc["cls", "against_baselines"] == ("1 of 2 by ARI with the target (in sample); best other: "
                                                     "kmeans (0.5)")
    assert table.loc["cls", "top_genes"] == ", ".join(f"G{i}" for i in range(10))
    assert table.loc["new", "role"] == "validation" and table.loc["new", "cluster_sizes"] == "6/4"
    external = summary_stage({"ext": {"files": no_validation, "trained_on": "cls"}}, tmp_path / "ext.tsv").iloc[0]
    assert external["p_values_note"].startswith("another cohort's model assigned these patients")
    assert np.isnan(table.loc["new", "logrank_p_in_sample"])
    page = (tmp_path / "summary.rst").read_text()
    assert page == summary_page(table.reset_index())
    assert "   * - survival p, out of fold (permutation test, calibrated)\n     - 0.03\n     - –\n     - –" in page


def test_the_command_reads_a_results_folder(tmp_path: Path) -> None:
    from deepsubtype.cli import main
    from deepsubtype.outputs import SUMMARY_FILES

    folder = tmp_path / "results" / "surv"
    for role, path in _tables(tmp_path).items():
        (folder / SUMMARY_FILES[role]).parent.mkdir(parents=True, exist_ok=True)
        path.rename(folder / SUMMARY_FILES[role])
    assert main(["summary", str(tmp_path / "summary.tsv"), f"surv={folder}", "--task", "surv=survival",
                 "--page", str(tmp_path / "summary.rst")]) == 0
    row = pd.read_csv(tmp_path / "summary.tsv", sep="\t").iloc[0]
    assert row["task"] == "survival" and row["against_baselines"].startswith("out of fold, same splits")
    assert main(["summary", str(tmp_path / "none.tsv"), f"empty={tmp_path / 'nothing'}"]) != 0
    assert not (tmp_path / "none.tsv").exists()


def test_the_summary_says_what_the_clusters_add_beyond_the_target(tmp_path: Path) -> None:
    """The first screen carries the stratified test's p (the first row of beyond_target.tsv, not a class's) and
    the in-sample C-index gain; a cohort without a target (its one row's note) or without survival shows dashes."""
    from deepsubtype.survival import no_beyond_target

    files = _tables(tmp_path)
    (tmp_path / "none").mkdir()
    no_target = {**files, "beyond_target": tmp_path / "none" / "beyond_target.tsv"}
    no_beyond_target("task survival: the target is the outcome itself").to_csv(
        no_target["beyond_target"], sep="\t", index=False, na_rep="NA")
    cohorts = {"cls": {"files": files}, "surv": {"files": no_target, "task": "survival"},
               "bare": {"files": {"clusters": files["clusters"]}}}
    table = summary_stage(cohorts, tmp_path / "summary.tsv", tmp_path / "summary.rst").set_index("cohort")
    assert table.loc["cls", "beyond_target"] == "er_status"
    assert table.loc["cls", "beyond_target_p"] == pytest.approx(0.046)
    assert table.loc["cls", "c_index_gain_over_target"] == pytest.approx(0.031)
    assert table.loc["surv", "beyond_target"] == "" and np.isnan(table.loc["surv", "beyond_target_p"])
    assert np.isnan(table.loc["bare", "c_index_gain_over_target"])
    page = (tmp_path / "summary.rst").read_text()
    assert ("   * - survival beyond the target: clusters within its classes (Cox likelihood-ratio test stratified by "
            "it; regression: adjusted for it), p\n     - 0.046\n     - –\n     - –\n") in page
    assert "   * - C-index gain over the target alone, in sample\n     - +0.03\n" in page
    assert "   * - target the clusters are tested beyond\n     - er_status\n" in page


def test_the_summary_says_what_made_the_clusters_and_ranks_no_baseline_against_itself(tmp_path: Path) -> None:
    # with objective: auto choosing PCA + k-means, "against the baselines" ranked PCA + k-means against itself
    own, learnt = tmp_path / "own", tmp_path / "learnt"
    own.mkdir(), learnt.mkdir()
    files = {name: {role: path for role, path in _tables(directory).items() if not role.startswith("oof")}
             for name, directory in (("own", own), ("learnt", learnt))}
    clusters = pd.read_csv(files["learnt"]["clusters"], sep="\t").assign(method="pca_kmeans")
    clusters.to_csv(files["learnt"]["clusters"], sep="\t", index=False)
    compared = pd.read_csv(files["learnt"]["compare"], sep="\t")
    compared.insert(1, "clusters_by", ["pca_kmeans", "kmeans", "pca_kmeans"])
    compared.to_csv(files["learnt"]["compare"], sep="\t", index=False)
    cohorts = {name: {"files": files[name], "task": "survival"} for name in files}
    table = summary_stage(cohorts, tmp_path / "summary.tsv", tmp_path / "summary.rst").set_index("cohort")
    # files written before the column: DeepType's own clusters, ranked as before
    assert table.loc["own", "method"] == "deeptype" and table.loc["own", "against_baselines"].startswith("1 of 2")
    assert table.loc["learnt", "method"] == "pca_kmeans"
    assert table.loc["learnt", "against_baselines"] == ("not ranked: DeepType's clusters are pca_kmeans's "
                                                        "(learnt as its objective)")
    page = (tmp_path / "summary.rst").read_text()
    assert ("   * - clusters made by\n     - DeepType (k-means on its learned representation)\n"
            "     - PCA + k-means (DeepType's objective: it learnt these clusters)\n") in page
    # some seeds' refits learnt a baseline's clusters: DeepType's median mixes them, so not ranked either
    mixed = pd.read_csv(files["own"]["compare"], sep="\t")
    mixed.insert(1, "clusters_by", ["deeptype,kmeans", "kmeans", "pca_kmeans"])
    mixed.to_csv(files["own"]["compare"], sep="\t", index=False)
    row = summary_stage({"own": cohorts["own"]}, tmp_path / "mixed.tsv").iloc[0]
    assert row["against_baselines"] == ("not ranked: DeepType's clusters are kmeans's at some seeds "
                                        "(learnt as its objective)")


def test_a_validated_cohort_whose_clusters_are_a_baselines_says_so_beside_the_baselines(tmp_path: Path) -> None:
    files = _tables(tmp_path)
    pd.read_csv(files["clusters"], sep="\t").assign(method="pca_kmeans").to_csv(files["clusters"], sep="\t",
                                                                                index=False)
    row = summary_stage({"learnt": {"files": files, "task": "survival"}}, tmp_path / "summary.tsv").iloc[0]
    assert row["against_baselines"].startswith("out of fold, same splits: DeepType (clusters of pca_kmeans) C 0.57")

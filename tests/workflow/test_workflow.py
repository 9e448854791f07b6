"""The Snakemake workflow: a real run on a tiny cohort, its outputs, report, provenance and reproducibility."""

from __future__ import annotations

import shutil
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from ..conftest import FAST_MODEL, REPO, snakemake, snakemake_in, write_tiny_cohort


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """Run the whole workflow on a generated cohort (60 samples x 120 genes) in a scratch directory."""
    workdir = tmp_path_factory.mktemp("workflow")
    cohort = write_tiny_cohort(workdir)
    cohort["survival"]["horizon"] = 24
    config = {
        "seed": 1,
        "device": "cpu",
        "cohorts": {"tiny": cohort},
        "normalize": {"n_top_genes": 100},
        "model": {**FAST_MODEL, "n_fits": 2},
        "genes": {"n_top_plot": 15, "marker_method": "t-test"},  # not the default: the setting reaches the stage
        "validation": {"folds": 3, "repeats": 2, "n_fits": 2},
        "compare": {"extra_seeds": [7]},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile",
                        str(workdir / "config.yaml"), "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    report = snakemake("--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile",
                        str(workdir / "config.yaml"), "--report", str(workdir / "report.html"))
    assert report.returncode == 0, report.stderr[-5000:]
    return workdir


def test_every_sample_is_clustered_once(tiny_run: Path) -> None:
    clusters = pd.read_csv(tiny_run / "results/tiny/clusters.tsv", sep="\t", dtype={"sample": str})
    assert list(clusters.columns) == ["sample", "cluster", "distance_to_center", "silhouette", "consensus_support",
                                      "method"]
    assert (clusters["method"] == "deeptype").all(), "a classification task's clusters are DeepType's own"
    assert clusters["consensus_support"].between(0, 1).all()
    fits = pd.read_csv(tiny_run / "results/tiny/fits.tsv", sep="\t")
    assert list(fits["seed"]) == [1, 2] and fits["representative"].sum() == 1
    assert fits["ari_with_consensus"].min() >= 0.9, "two fits of well-separated subtypes agree"
    assert clusters["sample"].is_unique and len(clusters) == 60
    assert set(clusters["cluster"]) == {0, 1, 2}
    assert (clusters["distance_to_center"] >= 0).all()
    embedding = ad.read_h5ad(tiny_run / "results/tiny/embedding.h5ad")
    assert embedding.obsm["X_deeptype"].shape == (60, FAST_MODEL["hidden_layers"][-1])
    assert list(embedding.obs_names) == list(clusters["sample"])


def test_gene_importances_sorted_and_non_negative(tiny_run: Path) -> None:
    genes = pd.read_csv(tiny_run / "results/tiny/gene_importance.tsv", sep="\t")
    assert len(genes) == 100 and genes["gene"].is_unique
    assert (genes["importance"] >= 0).all()
    assert genes["importance"].is_monotonic_decreasing
    assert list(genes["rank"]) == list(range(1, 101))
    assert genes["gene"].head(20).str[1:].astype(int).lt(30).mean() >= 0.8, "informative genes rank first"
    assert genes["top50_frequency"].between(0, 1).all() and (genes["univariate_rank"].sort_values() ==
                                                             range(1, 101)).all()
    overlap = pd.read_csv(tiny_run / "results/tiny/genes_overlap.tsv", sep="\t")
    assert list(overlap["top_n"]) == [10, 20, 50, 100] and overlap["univariate_test"].iloc[0] == "one-way ANOVA F"
    assert overlap.loc[overlap["top_n"] == 20, "in_both"].item() >= 10, "both rankings find the informative genes"


def test_survival_tables_have_one_row_per_cluster(tiny_run: Path) -> None:
    km = pd.read_csv(tiny_run / "results/tiny/survival/kaplan_meier.tsv", sep="\t")
    assert sorted(km["cluster"]) == [0, 1, 2]
    assert km["n"].sum() == 60
    logrank = pd.read_csv(tiny_run / "results/tiny/survival/logrank.tsv", sep="\t")
    assert len(logrank) == 1 and 0 <= logrank.loc[0, "p_value"] <= 1
    assert logrank.loc[0, "degrees_of_freedom"] == 2
    pairs = pd.read_csv(tiny_run / "results/tiny/survival/pairwise_logrank.tsv", sep="\t")
    assert len(pairs) == 3 and (pairs["p_adjusted"] >= pairs["p_value"]).all()
    cox = pd.read_csv(tiny_run / "results/tiny/survival/cox.tsv", sep="\t")
    assert set(cox["term"]) == {"cluster_1", "cluster_2", "age"}
    assert (cox["hazard_ratio"] > 0).all()
    assert km["rmst"].between(0, 24).all()


def test_plots_are_valid_images_and_report_holds_them(tiny_run: Path) -> None:
    for name in ("plots/top_genes.png", "plots/training_history.png", "survival/kaplan_meier.png",
                 "survival/cox_forest.png", "plots/embedding.png", "plots/top_genes_heatmap.png",
                 "validation/oof_kaplan_meier.png", "compare/metrics.png", "compare/consensus_cdf.png",
                 "plots/markers.png"):
        with Image.open(tiny_run / "results/tiny" / name) as image:
            image.verify()
            assert image.size[0] > 300 and image.size[1] > 200
    report = (tiny_run / "report.html").read_text(errors="replace")
    for name in ("kaplan_meier.png", "top_genes.png", "training_history.png", "gene_importance.tsv",
                 "cox_forest.png", "pairwise_logrank.tsv", "oof_logrank.tsv", "oof_methods.tsv", "markers.tsv",
                 "markers.png"):
        assert name in report


def test_the_report_opens_with_one_summary_row_per_cohort(tiny_run: Path) -> None:
    summary = pd.read_csv(tiny_run / "results/summary.tsv", sep="\t")
    row = summary.set_index("cohort").loc["tiny"]
    clusters = pd.read_csv(tiny_run / "results/tiny/clusters.tsv", sep="\t")
    assert row["n_patients"] == 60 and row["k"] == 3 and row["method"] == "deeptype"
    assert row["cluster_sizes"] == "/".join(str(n) for n in clusters["cluster"].value_counts().sort_index())
    logrank = pd.read_csv(tiny_run / "results/tiny/survival/logrank.tsv", sep="\t")
    assert row["logrank_p_in_sample"] == pytest.approx(logrank["p_value"].iloc[0])
    test = pd.read_csv(tiny_run / "results/tiny/validation/oof_test.tsv", sep="\t").set_index("method")
    assert row["out_of_fold_p"] == pytest.approx(test.loc["deepsubtype", "permutation_p"])
    assert 0 <= row["c_index_out_of_fold"] <= 1 and 0 <= row["c_index_in_sample"] <= 1
    genes = pd.read_csv(tiny_run / "results/tiny/gene_importance.tsv", sep="\t")
    assert row["top_genes"] == ", ".join(genes["gene"].head(10))
    assert row["top_markers"].startswith("0: ") and row["top_markers"].count(";") == 2, "K = 3"
    assert set(pd.read_csv(tiny_run / "results/tiny/markers.tsv", sep="\t")["method"]) == {"t-test"}
    assert row["against_baselines"].startswith("out of fold, same splits: DeepType C ")
    assert row["p_values_note"].startswith("the clusters never saw survival")
    report = (tiny_run / "report.html").read_text(errors="replace")
    assert "survival p, out of fold (permutation test, calibrated)" in report
    assert report.index("Summary") < report.index("About"), \
        "the summary table is embedded in the report's first page, before the description"
    assert (tiny_run / "results/summary.rst").read_text().startswith(".. list-table::")


def test_normalized_file_records_steps_and_alignment(tiny_run: Path) -> None:
    normalized = ad.read_h5ad(tiny_run / "results/tiny/normalized.h5ad")
    assert normalized.shape == (60, 100)
    assert normalized.uns["normalize"]["scale"] == "log"
    assert normalized.uns["alignment"]["n_shared"] == 60
    assert "subtype" in normalized.obs and "time" in normalized.obs
    np.testing.assert_allclose(normalized.X.mean(0), 0, atol=1e-5)


def test_out_of_fold_validation_beside_in_sample(tiny_run: Path) -> None:
    oof = pd.read_csv(tiny_run / "results/tiny/validation/oof_clusters.tsv", sep="\t")
    assert len(oof) == 2 * 60 and set(oof["repeat"]) == {0, 1} and set(oof["fold"]) == {0, 1, 2}
    assert oof.groupby("repeat")["sample"].nunique().eq(60).all(), "every patient assigned once per repeat"
    assert (oof["cluster"] == oof["in_sample_cluster"]).mean() > 0.9, "well-separated groups stay put"
    logrank = pd.read_csv(tiny_run / "results/tiny/validation/oof_logrank.tsv", sep="\t")
    assert list(logrank["assignment"]) == ["in-sample", "out-of-fold, repeat 0", "out-of-fold, repeat 1"]
    assert logrank["c_index"].between(0.5, 1).all(), "the groups differ in survival, in and out of fold"
    log = (tiny_run / "logs/tiny/validate.log").read_text()
    assert "each fold refits the gene filter and the z-score" in log, "nested: normalized inside every fold"
    cox = pd.read_csv(tiny_run / "results/tiny/validation/oof_cox.tsv", sep="\t")
    assert set(cox["assignment"]) == set(logrank["assignment"])
    methods = pd.read_csv(tiny_run / "results/tiny/validation/oof_methods.tsv", sep="\t")
    assert list(methods["method"]) == ["deepsubtype"] * 2 + ["kmeans"] * 2 + ["pca_kmeans"] * 2
    assert list(methods["repeat"]) == [0, 1] * 3 and (methods["n_clusters"] == 3).all()
    deepsubtype = methods[methods["method"] == "deepsubtype"]
    assert np.allclose(deepsubtype["out_of_fold_p"], logrank["p_value"].iloc[1:]), "the same test as oof_logrank's"
    assert (methods["per_fold_degrees_of_freedom"] > 0).all() and methods["out_of_fold_c_index"].between(0, 1).all()
    assert set(logrank["p_value_meaning"].str.split(":").str[0]) == {"valid"}, "a label-trained model's p is a test"
    test = pd.read_csv(tiny_run / "results/tiny/validation/oof_test.tsv", sep="\t").set_index("method")
    assert list(test.index) == ["deepsubtype", "kmeans", "pca_kmeans"] and not test["clusters_saw_survival"].any()
    assert (test["n_permutations"] == 99).all() and (test["permutation_p"] >= 0.01).all()
    assert test.loc["deepsubtype", "permutation_p"] <= 0.05, "the planted survival difference is found"


def test_a_survival_trained_model_gets_a_permutation_job_per_permutation(tmp_path) -> None:
    """task survival: each permutation of the calibrated test is a validate_permutation job refitting every fold;
    validate gathers them into oof_test.tsv and labels every chi-square p of DeepType's as not calibrated."""
    cohort = write_tiny_cohort(tmp_path)
    cohort["task"] = "survival"
    del cohort["target"]
    model = {**FAST_MODEL, "objective": "primary", "n_clusters": 2, "pretrain_steps": 60, "joint_steps": 10,
             "max_rounds": 2}
    config = {"seed": 1, "device": "cpu", "cohorts": {"tiny": cohort}, "normalize": {"n_top_genes": 100},
              "model": model, "compare": {"run": False},
              "validation": {"folds": 2, "permutations": 2}}
    result = snakemake_in(tmp_path, config, "results/tiny/validation/oof_test.tsv")
    assert result.returncode == 0, result.stderr[-5000:]
    for permutation in (1, 2):
        refits = pd.read_csv(tmp_path / f"results/tiny/validation_permutations/permutation{permutation}.tsv", sep="\t")
        assert (refits["permutation"] == permutation).all() and set(refits["fold"]) == {0, 1}
        assert len(refits) == 2 * 60 and refits.loc[refits["held_out"], "sample"].is_unique, "each held out once"
    test = pd.read_csv(tmp_path / "results/tiny/validation/oof_test.tsv", sep="\t").set_index("method")
    own = test.loc["deepsubtype"]
    assert bool(own["clusters_saw_survival"]) and own["n_permutations"] == 2 and "refitted" in own["permuted"]
    assert (test.loc[["kmeans", "pca_kmeans"], "n_permutations"] == 2).all()
    logrank = pd.read_csv(tmp_path / "results/tiny/validation/oof_logrank.tsv", sep="\t")
    assert logrank["p_value_meaning"].iloc[0].startswith("not a test")
    assert logrank["p_value_meaning"].iloc[1:].str.startswith("not calibrated").all()


def test_compare_table_has_every_method(tiny_run: Path) -> None:
    metrics = pd.read_csv(tiny_run / "results/tiny/compare/metrics.tsv", sep="\t")
    methods = ["deepsubtype", "kmeans", "pca_kmeans", "consensus", "snf", "autoencoder"]
    assert list(metrics["method"]) == methods * 2 and list(metrics["seed"]) == [1] * 6 + [7] * 6
    assert list(metrics["clusters_by"]) == ["deeptype", *methods[1:]] * 2, "DeepType's own clusters at both seeds"
    assert {"logrank_p", "cox_c_index", "silhouette", "smallest_cluster", "acc", "nmi", "ari", "seconds",
            "out_of_fold_p", "out_of_fold_c_index"} <= set(metrics.columns)
    validated = metrics["seed"].eq(1) & metrics["method"].isin(["deepsubtype", "kmeans", "pca_kmeans"])
    assert metrics.loc[validated, "out_of_fold_p"].between(0.01, 1).all(), "the validate stage's permutation p"
    assert metrics.loc[~validated, ["out_of_fold_p", "out_of_fold_c_index"]].isna().all().all()
    assert metrics.loc[0, "ari"] > 0.9, "DeepType recovers the labelled groups"
    assert metrics["logrank_p"].between(0, 1).all()
    summary = pd.read_csv(tiny_run / "results/tiny/compare/summary.tsv", sep="\t")
    assert list(summary["method"]) == methods and (summary["n_seeds"] == 2).all()
    assert (summary["ari_min"] <= summary["ari_median"]).all() and (summary["ari_median"] <= summary["ari_max"]).all()
    everything = pd.read_csv(tiny_run / "results/compare_summary.tsv", sep="\t")
    assert list(everything["cohort"].unique()) == ["tiny"] and len(everything) == 6


def test_k_selection_records_the_fixed_k(tiny_run: Path) -> None:
    scores = pd.read_csv(tiny_run / "results/tiny/k_selection.tsv", sep="\t")
    assert list(scores["n_clusters"]) == [3]
    assert scores["chosen"].all() and scores.loc[0, "criterion"] == "fixed in config"


def test_benchmarks_and_logs_for_every_rule(tiny_run: Path) -> None:
    for rule in ("normalize", "train", "cluster", "genes", "survival", "validate", "compare"):
        assert (tiny_run / "results/tiny/benchmarks" / f"{rule}.tsv").stat().st_size > 0
        assert (tiny_run / "logs/tiny" / f"{rule}.log").exists()


def test_rerun_is_a_no_op(tiny_run: Path) -> None:
    result = snakemake("--snakefile", str(REPO / "Snakefile"), "--directory", str(tiny_run), "--configfile",
                        str(tiny_run / "config.yaml"), "--cores", "1", "--dry-run")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_cluster_stability_beside_the_clusters(tiny_run: Path) -> None:
    stability = pd.read_csv(tiny_run / "results/tiny/validation/stability.tsv", sep="\t")
    assert list(stability["cluster"]) == [0, 1, 2] and stability["n"].sum() == 60
    assert (stability["n_refits"] == 6).all()
    assert stability["consensus"].between(0.9, 1.0).all(), "well-separated groups are reproduced"


def test_every_rule_records_its_provenance(tiny_run: Path) -> None:
    import hashlib
    import json

    for rule in ("normalize", "train", "cluster", "genes", "survival", "validate", "compare"):
        record = json.loads((tiny_run / "results/tiny/provenance" / f"{rule}.json").read_text())
        assert record["stage"] == rule
        assert record["packages"]["torch"] and record["packages"]["deepsubtype"]
        assert record["settings"]["seed"] == 1
        assert record["settings"]["cohort_config"]["target"] == "subtype"
        assert record["inputs"] and record["outputs"]
        for path, digest in record["outputs"].items():
            assert hashlib.sha256((tiny_run / path).read_bytes()).hexdigest() == digest, path
    genes = json.loads((tiny_run / "results/tiny/provenance/genes.json").read_text())
    assert "results/tiny/gene_importance.tsv" in genes["outputs"]
    assert "results/tiny/model/fit_0/weights.pt" in genes["inputs"], "each file of the 2-fit model directory"


def test_same_config_and_seed_give_byte_identical_results(tiny_run: Path, tmp_path: Path) -> None:
    """A second run in a fresh directory, same files and config: clusters and gene ranking are byte-identical."""
    shutil.copytree(tiny_run / "data", tmp_path / "data")
    shutil.copy(tiny_run / "config.yaml", tmp_path / "config.yaml")
    targets = ["results/tiny/clusters.tsv", "results/tiny/gene_importance.tsv"]
    result = snakemake("--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
                        str(tmp_path / "config.yaml"), "--cores", "2", *targets)
    assert result.returncode == 0, result.stderr[-3000:]
    for target in targets:
        assert (tmp_path / target).read_bytes() == (tiny_run / target).read_bytes(), target

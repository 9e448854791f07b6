"""Applying a trained model to new patients: a Snakemake run where one cohort takes another's model (model_from)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ..conftest import REPO, snakemake, write_model_from_cohorts


@pytest.mark.e2e
def test_workflow_applies_a_cohort_model_to_another_cohort(tmp_path: Path) -> None:

    config = write_model_from_cohorts(tmp_path)
    result = snakemake("--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
                        str(config), "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    new = tmp_path / "results/tiny_new"
    assert not (new / "model").exists() and not (new / "embedding.h5ad").exists(), "nothing trained on it"
    clusters = pd.read_csv(new / "clusters.tsv", sep="\t")
    assert len(clusters) == 48 and set(clusters["cluster"]) == {0, 1, 2}
    assert set(clusters["confidence"]) <= {0.5, 1.0}, "calls of a 2-fit ensemble: the share of fits agreeing"
    assert (tmp_path / "results/tiny/model/ensemble.json").is_file()
    agreement = pd.read_csv(new / "agreement.tsv", sep="\t")
    assert agreement.loc[1, "ari"] > 0.8, "the new patients' calls follow their subtypes"
    logrank = pd.read_csv(new / "survival/logrank.tsv", sep="\t")
    assert 0 <= logrank.loc[0, "p_value"] <= 1
    summary = pd.read_csv(tmp_path / "results/validation_summary.tsv", sep="\t")
    assert list(summary["cohort"]) == ["tiny", "tiny_new"] and list(summary["role"]) == ["discovery", "validation"]
    assert summary.loc[1, "n_genes_found"] == 100 and summary.loc[1, "n_genes_missing"] == 0
    assert summary["logrank_p"].between(0, 1).all()
    whole = summary["small_clusters"].isna()
    assert (summary.loc[whole, "logrank_p_without_small"] == summary.loc[whole, "logrank_p"]).all()
    assert (new / "provenance/predict.json").exists() and (tmp_path / "logs/tiny_new/predict.log").exists()
    report = snakemake("--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
                        str(config), "--report", str(tmp_path / "report.html"))
    assert report.returncode == 0, report.stderr[-3000:]
    html = (tmp_path / "report.html").read_text(errors="replace")
    for name in ("overlap.tsv", "agreement.tsv", "validation_summary.tsv", "kaplan_meier.png"):
        assert name in html

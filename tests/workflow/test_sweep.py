"""Sweeps: a workflow run over two cohorts x a grid of alpha and seeds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ..conftest import snakemake


@pytest.mark.e2e
def test_sweep_over_cohorts_alphas_and_seeds(sweep_workdir: Path) -> None:
    result = snakemake("--cores", "2", "results/sweep_summary.tsv", workdir=sweep_workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    for cohort in ("first", "second"):
        runs = pd.read_csv(sweep_workdir / "results" / cohort / "sweep" / "runs.tsv", sep="\t")
        assert sorted(runs["run"]) == ["a0.002_b1.2_k3_s3", "a0.002_b1.2_k3_s4", "a0_b1.2_k3_s3", "a0_b1.2_k3_s4"]
        assert {"logrank_p", "ari", "silhouette", "primary_loss", "n_rounds"} <= set(runs.columns)
        assert runs["ari"].min() > 0.8, "well-separated groups are found at every setting"
        clusters = pd.read_csv(sweep_workdir / "results" / cohort / "sweep" / "a0_b1.2_k3_s3" / "clusters.tsv",
                               sep="\t")
        assert len(clusters) == 45 and (clusters["method"] == "deeptype").all()
    everything = pd.read_csv(sweep_workdir / "results" / "sweep_summary.tsv", sep="\t")
    assert list(everything["cohort"]) == ["first", "first", "second", "second"]
    assert list(everything["alpha"]) == [0.0, 0.002, 0.0, 0.002]
    assert (everything["n_seeds"] == 2).all() and everything["seed_ari"].between(0.8, 1.0).all()
    assert everything["top_genes_jaccard"].between(0, 1).all()

"""Sweeps: the summary functions, and a workflow run over two cohorts x a grid of alpha and seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from deepsubtype.sweep import seed_agreement, summarize_sweep, top_gene_overlap

from .conftest import FAST_MODEL, make_cohort, snakemake


def test_seed_agreement_ignores_label_names_and_compares_shared_samples() -> None:
    first = pd.Series([0, 0, 1, 1, 2], index=list("abcde"))
    renamed = pd.Series([5, 5, 7, 7], index=list("abcd"))
    assert seed_agreement([first, renamed]) == pytest.approx(1.0)
    assert np.isnan(seed_agreement([first]))
    shuffled = pd.Series([0, 1, 0, 1, 2], index=list("abcde"))
    assert seed_agreement([first, shuffled]) < 0.5


def test_top_gene_overlap_is_a_jaccard_index() -> None:
    ranking = pd.DataFrame({"gene": ["g1", "g2", "g3", "g4"], "rank": [1, 2, 3, 4]})
    other = pd.DataFrame({"gene": ["g2", "g5", "g1", "g4"], "rank": [1, 2, 3, 4]})
    assert top_gene_overlap([ranking, other], n_top=2) == pytest.approx(1 / 3)
    assert top_gene_overlap([ranking, ranking], n_top=3) == 1.0


def test_summarize_sweep_one_row_per_setting() -> None:
    runs = pd.DataFrame({"alpha": [0.1, 0.1, 0.2], "beta": [1.0] * 3, "n_clusters": [2] * 3, "seed": [0, 1, 0],
                         "converged": [True, False, True], "logrank_p": [0.01, 0.03, 0.5]})
    runs["run"] = ["a0.1_b1_k2_s0", "a0.1_b1_k2_s1", "a0.2_b1_k2_s0"]
    labels = pd.Series([0, 1, 0, 1], index=list("abcd"))
    genes = pd.DataFrame({"gene": ["g1", "g2"], "rank": [1, 2]})
    summary = summarize_sweep(runs, dict.fromkeys(runs["run"], labels), dict.fromkeys(runs["run"], genes))
    assert list(summary["alpha"]) == [0.1, 0.2] and list(summary["n_seeds"]) == [2, 1]
    assert summary.loc[0, "logrank_p_median"] == pytest.approx(0.02)
    assert summary.loc[0, "converged_fraction"] == 0.5
    assert summary.loc[0, "seed_ari"] == 1.0 and np.isnan(summary.loc[1, "seed_ari"])


@pytest.fixture(scope="module")
def sweep_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two generated cohorts and a sweep of 2 alphas x 2 seeds at K = 3."""
    workdir = tmp_path_factory.mktemp("sweep")
    cohorts = {}
    for name, seed in (("first", 0), ("second", 1)):
        expression, clinical = make_cohort(n_samples=45, n_genes=80, seed=seed)
        (workdir / name).mkdir()
        expression.to_csv(workdir / name / "expression.tsv", sep="\t")
        clinical.to_csv(workdir / name / "clinical.tsv", sep="\t", index=False, na_rep="NA")
        cohorts[name] = {"expression": f"{name}/expression.tsv", "clinical": f"{name}/clinical.tsv",
                         "sample_column": "sample", "target": "subtype",
                         "survival": {"time": "time", "event": "event", "unit": "months"}}
    config = {"seed": 0, "device": "cpu", "cohorts": cohorts, "normalize": {"n_top_genes": 60},
              "model": {**FAST_MODEL, "pretrain_steps": 100, "max_rounds": 2},
              "sweep": {"alphas": [0.0, 0.002], "seeds": [3, 4]}, "compare": {"run": False}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


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
        assert len(clusters) == 45
    everything = pd.read_csv(sweep_workdir / "results" / "sweep_summary.tsv", sep="\t")
    assert list(everything["cohort"]) == ["first", "first", "second", "second"]
    assert list(everything["alpha"]) == [0.0, 0.002, 0.0, 0.002]
    assert (everything["n_seeds"] == 2).all() and everything["seed_ari"].between(0.8, 1.0).all()
    assert everything["top_genes_jaccard"].between(0, 1).all()


def test_training_rules_alone_request_the_gpu(sweep_workdir: Path) -> None:
    """With device cuda, `--resources gpu=1` serializes exactly the jobs that train on the GPU."""
    result = snakemake("--dry-run", "--forceall", "--config", "device=cuda", "--resources", "gpu=1", "--cores", "8",
                       "results/sweep_summary.tsv", workdir=sweep_workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    requests: dict[str, set[str]] = {}
    rule = None
    for line in result.stdout.splitlines():
        if line.startswith("rule "):
            rule = line.removeprefix("rule ").rstrip(":")
        elif line.strip().startswith("resources:") and rule:
            requests.setdefault(rule, set()).add("gpu=1" if "gpu=1" in line else "none")
    assert requests["sweep_run"] == {"gpu=1"}
    assert requests["normalize"] == {"none"} and requests["sweep_summary"] == {"none"}


def test_sweep_without_alphas_needs_a_numeric_model_alpha(sweep_workdir: Path, tmp_path: Path) -> None:
    config = yaml.safe_load((sweep_workdir / "config.yaml").read_text())
    config["model"]["alpha"] = "auto"
    config["sweep"] = {"seeds": [3]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("--dry-run", workdir=sweep_workdir, configfile=tmp_path / "config.yaml")
    assert result.returncode != 0
    assert "sweep.alphas must be listed when model.alpha is auto" in result.stdout + result.stderr
    config["model"]["alpha"] = 0.002
    config["model"]["n_clusters"] = "auto"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("--dry-run", workdir=sweep_workdir, configfile=tmp_path / "config.yaml")
    assert "sweep.n_clusters must be listed when model.n_clusters is auto" in result.stdout + result.stderr

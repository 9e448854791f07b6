"""Sweeps: the summary functions, and dry runs of a sweep (GPU requests, config checks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from deepsubtype.sweep import seed_agreement, summarize_sweep, top_gene_overlap

from ..conftest import snakemake


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
    assert "Traceback" not in result.stdout + result.stderr

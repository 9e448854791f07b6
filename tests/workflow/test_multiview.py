"""Several views (omics) per patient: a Snakemake run with three views (per-view alpha, genes, comparison)."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import pandas as pd
import pytest

from deepsubtype import DeepType

from ..conftest import FAST_MODEL, VIEWS, snakemake_in, write_three_views


@pytest.mark.e2e
def test_workflow_with_three_views(tmp_path: Path) -> None:
    specs = write_three_views(tmp_path)
    config = {
        "seed": 0, "device": "cpu",
        "cohorts": {"multi": {
            "views": {name: {"expression": spec["path"], **({"alpha": 0.02} if name != "signal" else {})}
                      for name, spec in specs.items()},
            "clinical": str(tmp_path / "clinical.tsv"), "target": "group",
            "survival": {"time": "time", "event": "event", "unit": "months"}}},
        "model": {**FAST_MODEL, "alpha": 0.01, "pretrain_steps": 300, "n_fits": 1},
        "validation": {"folds": 0},
        "compare": {"run": True},
    }
    result = snakemake_in(tmp_path, config, "results/multi/genes", "results/multi/survival/logrank.tsv",
                          "results/multi/compare/metrics.tsv")  # the views keep their order in the config
    assert result.returncode == 0, result.stderr[-4000:]
    results = tmp_path / "results" / "multi"
    assert sorted(p.name for p in (results / "genes").glob("*.tsv")) == ["noise_b.tsv", "noise_c.tsv", "signal.tsv"]
    model = DeepType.load(results / "model")
    assert model.views == VIEWS and model.alpha == (0.01, 0.02, 0.02)
    genes = pd.read_csv(results / "gene_importance.tsv", sep="\t")
    assert set(genes.head(12)["view"]) == {"signal"}
    metrics = pd.read_csv(results / "compare" / "metrics.tsv", sep="\t")
    assert {"snf", "deepsubtype"} <= set(metrics["method"]) and metrics["ari"].notna().all()
    assert ad.read_h5ad(results / "normalized.h5ad").obsm["view_present"].sum(0).tolist() == [60, 52, 60]

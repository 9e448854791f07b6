"""GEO series matrices: a Snakemake run from the shipped test series."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import anndata as ad
import pandas as pd
import pytest
import yaml

from ..conftest import FAST_MODEL, GEO_SERIES, REPO, snakemake


@pytest.mark.e2e
def test_snakemake_runs_from_a_series_matrix(tmp_path: Path) -> None:
    """import_geo -> normalize -> train -> cluster -> survival on the shipped series."""
    shutil.copytree(GEO_SERIES, tmp_path / "geo")
    config = {
        "seed": 0, "device": "cpu",
        "cohorts": {"gse99999": {
            "geo": {"series_matrix": "geo/GSE99999_series_matrix.txt.gz", "platform": "geo/GPL99999-tbl-1.txt"},
            "task": "classification", "target": "subtype",
            "survival": {"time": "os time (months)", "event": "os event", "unit": "months", "covariates": ["age"]}}},
        "normalize": {"n_top_genes": 100},
        "model": {**FAST_MODEL, "n_fits": 1},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
                        str(tmp_path / "config.yaml"), "--cores", "2", "results/gse99999/survival/logrank.tsv")
    assert result.returncode == 0, result.stderr[-5000:]
    normalized = ad.read_h5ad(tmp_path / "results/gse99999/normalized.h5ad")
    assert normalized.n_obs == 60 and normalized.n_vars == 100 and "os event" in normalized.obs
    assert json.loads((tmp_path / "results/gse99999/input/import.json").read_text())["genes"] == 120
    assert "139 probes -> 120 genes" in (tmp_path / "logs/gse99999/import.log").read_text()
    logrank = pd.read_csv(tmp_path / "results/gse99999/survival/logrank.tsv", sep="\t")
    assert logrank["n_samples"].iloc[0] == 60 and logrank["p_value"].between(0, 1).all()

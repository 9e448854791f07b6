"""MuData (.h5mu) cohorts: a Snakemake run from one, per-view genes and normalized.h5mu."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deepsubtype.h5mu import modalities

from ..conftest import FAST_MODEL, snakemake_in, write_h5mu


@pytest.mark.e2e
def test_workflow_with_a_mudata_cohort(tmp_path: Path) -> None:
    path, _ = write_h5mu(tmp_path)
    config = {
        "seed": 0, "device": "cpu",
        "cohorts": {"multi": {"mudata": str(path), "target": "group",
                              "survival": {"time": "time", "event": "event", "unit": "months"}}},
        "model": {**FAST_MODEL, "alpha": 0.01, "pretrain_steps": 300, "n_fits": 1},
    }
    result = snakemake_in(tmp_path, config, "results/multi/genes", "results/multi/normalized.h5mu",
                          "results/multi/survival/logrank.tsv")
    assert result.returncode == 0, result.stderr[-4000:]
    results = tmp_path / "results" / "multi"
    assert sorted(p.name for p in (results / "genes").glob("*.tsv")) == ["noise_b.tsv", "noise_c.tsv", "signal.tsv"]
    assert modalities(results / "normalized.h5mu") == ["signal", "noise_b", "noise_c"]
    assert (pd.read_csv(results / "survival" / "logrank.tsv", sep="\t")["p_value"] >= 0).all()

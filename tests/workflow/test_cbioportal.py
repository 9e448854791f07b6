"""cBioPortal study folders: a Snakemake run from the shipped test study, its model applied to another one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import anndata as ad
import pandas as pd
import pytest
import yaml

from ..conftest import CBIOPORTAL_STUDY, FAST_MODEL, REPO, snakemake


@pytest.mark.e2e
def test_snakemake_trains_on_a_study_and_applies_the_model_to_another(tmp_path: Path) -> None:
    """import -> normalize -> train -> cluster -> survival for one study cohort; import -> predict -> survival
    for a second one (the same study without its case list) that takes the first's model."""
    shutil.copytree(CBIOPORTAL_STUDY, tmp_path / "study")
    survival = {"time": "OS_MONTHS", "event": "OS_STATUS", "unit": "months", "covariates": ["AGE"]}
    config = {
        "seed": 0, "device": "cpu",
        "cohorts": {
            "tiny": {"cbioportal": {"study": "study", "profile": "rna_seq_mrna", "case_list": "rna_seq_mrna"},
                     "task": "classification", "target": "SUBTYPE", "survival": survival},
            "tiny_all": {"cbioportal": {"study": "study", "profile": "rna_seq_mrna"}, "model_from": "tiny",
                         "target": "SUBTYPE", "survival": survival},
        },
        "normalize": {"n_top_genes": 100},
        "model": {**FAST_MODEL, "n_fits": 1},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/tiny/survival/logrank.tsv", "results/tiny_all/survival/logrank.tsv"]
    result = snakemake("--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
                        str(tmp_path / "config.yaml"), "--cores", "2", *targets)
    assert result.returncode == 0, result.stderr[-5000:]
    normalized = ad.read_h5ad(tmp_path / "results/tiny/normalized.h5ad")
    assert normalized.n_obs == 58 and "OS_MONTHS" in normalized.obs
    report = json.loads((tmp_path / "results/tiny/input/import.json").read_text())
    assert report["samples"] == 58 and report["samples_dropped_same_patient"] == ["PT-007-06"]
    assert "1 gene symbols on several rows" in (tmp_path / "logs/tiny/import.log").read_text()
    for cohort, patients in (("tiny", 58), ("tiny_all", 60)):
        logrank = pd.read_csv(tmp_path / f"results/{cohort}/survival/logrank.tsv", sep="\t")
        assert logrank["n_samples"].iloc[0] == patients and logrank["p_value"].between(0, 1).all()
    clusters = pd.read_csv(tmp_path / "results/tiny/clusters.tsv", sep="\t")
    subtype = normalized.obs["SUBTYPE"].reindex(clusters["sample"]).astype(str).to_numpy()
    from sklearn.metrics import adjusted_rand_score
    labelled = subtype != "nan"
    assert adjusted_rand_score(subtype[labelled], clusters["cluster"].to_numpy()[labelled]) > 0.9

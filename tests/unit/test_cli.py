from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anndata as ad
import pandas as pd
import pytest

from deepsubtype.cli import main

from ..conftest import FAST_MODEL


def _set_options(params: dict) -> list[str]:
    options = []
    for key, value in params.items():
        options += ["--set", f"{key}={json.dumps(value)}"]
    return options


def test_every_stage_from_the_command_line(cohort_files, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["normalize", str(cohort_files["expression"]), str(cohort_files["clinical"]),
                 str(out / "normalized.h5ad"), "--sample-column", "sample", "--n-top-genes", "100"]) == 0
    assert main(["train", str(out / "normalized.h5ad"), str(out / "model"), str(out / "embedding.h5ad"),
                 "--target", "subtype", "--history-plot", str(out / "history.png"), "--device", "cpu",
                 *_set_options(FAST_MODEL)]) == 0
    assert main(["cluster", str(out / "embedding.h5ad"), str(out / "clusters.tsv"), "--plot",
                 str(out / "embedding.png"), "--label-column", "subtype", "--method", "umap"]) == 0
    assert main(["genes", str(out / "model"), str(out / "genes.tsv"), "--plot", str(out / "genes.png"),
                 "--heatmap", str(out / "heatmap.png"), "--normalized", str(out / "normalized.h5ad"),
                 "--clusters", str(out / "clusters.tsv")]) == 0
    assert main(["survival", str(out / "clusters.tsv"), str(out / "normalized.h5ad"), str(out / "survival"),
                 "--time", "time", "--event", "event", "--unit", "months", "--covariate", "age",
                 "--horizon", "20"]) == 0
    assert main(["compare", str(out / "normalized.h5ad"), str(out / "embedding.h5ad"), str(out / "clusters.tsv"),
                 str(out / "model"), str(out / "compare"), "--target", "subtype", "--time", "time", "--event",
                 "event"]) == 0
    assert main(["aggregate", str(out / "all.tsv"), f"tiny={out / 'compare' / 'summary.tsv'}"]) == 0
    assert list(pd.read_csv(out / "all.tsv", sep="\t")["cohort"].unique()) == ["tiny"]
    assert ad.read_h5ad(out / "normalized.h5ad").n_vars == 100
    clusters = pd.read_csv(out / "clusters.tsv", sep="\t")
    assert len(clusters) == 60 and set(clusters["cluster"]) == {0, 1, 2}
    assert len(pd.read_csv(out / "survival" / "kaplan_meier.tsv", sep="\t")) == 3
    assert "age" in set(pd.read_csv(out / "survival" / "cox.tsv", sep="\t")["term"])
    assert (out / "embedding.png").stat().st_size > 0 and (out / "heatmap.png").stat().st_size > 0
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [], "no temporary files left"


def test_bad_input_exits_2_with_one_line_and_no_output(cohort_files, tmp_path: Path) -> None:
    output = tmp_path / "normalized.h5ad"
    result = subprocess.run(
        [sys.executable, "-m", "deepsubtype.cli", "normalize", str(cohort_files["expression"]),
         str(cohort_files["clinical"]), str(output), "--sample-column", "patient_id"],
        capture_output=True, text=True, check=False)
    assert result.returncode == 2
    error_lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1
    assert "clinical.tsv: sample column 'patient_id' not found" in error_lines[0]
    assert not output.exists()
    assert list(tmp_path.glob(".partial-*")) == []


def test_malformed_set_option_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        main(["train", "a", "b", "c", "--set", "n_clusters"])


def test_a_key_written_twice_in_a_set_value_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "a", "b", "c", "--set", "hidden_layers={a: 1, a: 2}"])
    assert "--set hidden_layers: key 'a' is written twice (lines 1 and 1)" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_a_minimum_cluster_size_below_one_is_a_usage_error(value: str, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["survival", "c.tsv", "n.h5ad", "out", "--time", "t", "--event", "e", "--min-cluster-size", value])
    assert "--min-cluster-size" in capsys.readouterr().err


def test_compare_with_an_unknown_target_column_names_it(cohort_files, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["normalize", str(cohort_files["expression"]), str(cohort_files["clinical"]),
                 str(out / "normalized.h5ad"), "--sample-column", "sample", "--n-top-genes", "50"]) == 0
    assert main(["train", str(out / "normalized.h5ad"), str(out / "model"), str(out / "embedding.h5ad"),
                 "--target", "subtype", "--device", "cpu", *_set_options({**FAST_MODEL, "pretrain_steps": 30})]) == 0
    assert main(["cluster", str(out / "embedding.h5ad"), str(out / "clusters.tsv")]) == 0
    assert main(["compare", str(out / "normalized.h5ad"), str(out / "embedding.h5ad"), str(out / "clusters.tsv"),
                 str(out / "model"), str(out / "compare"), "--target", "er_status"]) == 2
    assert not (out / "compare").exists()


def test_compare_after_a_survival_fit_that_learnt_a_baselines_clusters(cohort_files, tmp_path: Path) -> None:
    """The autoencoder baseline copied the model's objective ("kmeans" here) onto the reconstruction task and
    stopped the compare stage of every survival cohort whose fits chose a baseline."""
    out = tmp_path / "out"
    assert main(["normalize", str(cohort_files["expression"]), str(cohort_files["clinical"]),
                 str(out / "normalized.h5ad"), "--sample-column", "sample", "--n-top-genes", "50"]) == 0
    assert main(["train", str(out / "normalized.h5ad"), str(out / "model"), str(out / "embedding.h5ad"),
                 "--task", "survival", "--time", "time", "--event", "event", "--device", "cpu",
                 *_set_options({**FAST_MODEL, "pretrain_steps": 30, "objective": "kmeans"})]) == 0
    assert main(["cluster", str(out / "embedding.h5ad"), str(out / "clusters.tsv")]) == 0
    assert main(["compare", str(out / "normalized.h5ad"), str(out / "embedding.h5ad"), str(out / "clusters.tsv"),
                 str(out / "model"), str(out / "compare"), "--task", "survival", "--time", "time", "--event",
                 "event"]) == 0
    metrics = pd.read_csv(out / "compare" / "metrics.tsv", sep="\t")
    assert "autoencoder" in set(metrics["method"]) and metrics["logrank_p"].between(0, 1).all()


def test_validation_folds_from_the_command_line(cohort_files, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["normalize", str(cohort_files["expression"]), str(cohort_files["clinical"]),
                 str(out / "normalized.h5ad"), "--sample-column", "sample", "--n-top-genes", "50"]) == 0
    model = _set_options({**FAST_MODEL, "pretrain_steps": 30})
    assert main(["train", str(out / "normalized.h5ad"), str(out / "model"), str(out / "embedding.h5ad"),
                 "--target", "subtype", "--device", "cpu", *model]) == 0
    assert main(["cluster", str(out / "embedding.h5ad"), str(out / "clusters.tsv")]) == 0
    tables = [out / f"fold{fold}.tsv" for fold in range(2)]
    for fold, table in enumerate(tables):
        assert main(["validate-fold", str(out / "normalized.h5ad"), str(table), "--repeat", "0", "--fold", str(fold),
                     "--folds", "2", "--target", "subtype", "--device", "cpu", *model]) == 0
    assert main(["validate", str(out / "normalized.h5ad"), str(out / "model"), str(out / "clusters.tsv"),
                 str(out / "validation"), "--target", "subtype", "--time", "time", "--event", "event", "--folds", "2",
                 *[option for table in tables for option in ("--fold-table", str(table))]]) == 0
    oof = pd.read_csv(out / "validation" / "oof_clusters.tsv", sep="\t")
    assert sorted(oof["sample"]) == sorted(pd.read_csv(out / "clusters.tsv", sep="\t")["sample"])
    assert main(["validate", str(out / "normalized.h5ad"), str(out / "model"), str(out / "clusters.tsv"),
                 str(out / "short"), "--time", "time", "--event", "event", "--folds", "2", "--fold-table",
                 str(tables[0])]) == 2, "a missing split is bad input"
    assert not (out / "short").exists()


def test_unknown_embedding_plot_method_is_refused() -> None:
    import numpy as np

    from deepsubtype.io import InputError
    from deepsubtype.stages.cluster import _two_dimensions

    with pytest.raises(InputError, match="embedding plot method must be 'pca' or 'umap', got 'tsne'"):
        _two_dimensions(np.zeros((5, 3)), "tsne", 0)


def test_badly_given_views_are_one_line_errors(cohort_files, tmp_path: Path, capsys) -> None:
    output = tmp_path / "normalized.h5ad"
    expression, clinical = str(cohort_files["expression"]), str(cohort_files["clinical"])
    assert main(["normalize", expression, f"b={expression}", clinical, str(output)]) == 2
    assert "several expression files must each be given as VIEW=PATH" in capsys.readouterr().err
    assert main(["normalize", f"a={expression}", f"b={expression}", clinical, str(output),
                 "--view-set", "c.scale=log"]) == 2
    assert "--view-set c.scale: expected VIEW.KEY with VIEW one of ['a', 'b']" in capsys.readouterr().err
    assert main(["normalize", expression, clinical, str(output), "--view-set", "a.scale=log"]) == 2
    assert "--view-set needs views given as VIEW=PATH" in capsys.readouterr().err
    assert not output.exists()


def test_invalid_survival_values_dropped_are_named_in_excluded_tsv(cohort, tmp_path: Path, capsys) -> None:
    expression, clinical = cohort
    clinical = clinical.astype({"time": object, "event": object})
    clinical.loc[7, "time"] = -7.0      # a real TCGA table has one such patient
    clinical.loc[9, "event"] = "2"
    clinical.loc[11, "time"] = None    # missing: left out as before
    clinical.loc[12, "event"] = "1:DECEASED"
    expression.to_csv(tmp_path / "expression.tsv", sep="\t")
    clinical.to_csv(tmp_path / "clinical.tsv", sep="\t", index=False)
    out = tmp_path / "out"
    arguments = ["normalize", str(tmp_path / "expression.tsv"), str(tmp_path / "clinical.tsv"),
                 str(out / "normalized.h5ad"), "--sample-column", "sample", "--time", "time", "--event", "event"]
    assert main(arguments) == 2
    message = "negative survival time -7.0 in column 'time' for sample 'P007'; 1 more such cells"
    assert message in capsys.readouterr().err
    assert main([*arguments, "--survival-invalid", "drop"]) == 0
    assert "2 patients left out of survival: P007 (time '-7.0': negative time); P009 (event '2': event not 0/1)" \
        in capsys.readouterr().err
    obs = ad.read_h5ad(out / "normalized.h5ad").obs
    assert obs.loc["P012", "event"] == 1 and pd.isna(obs.loc["P007", "time"]) and pd.isna(obs.loc["P009", "event"])
    pd.DataFrame({"sample": obs.index, "cluster": range(len(obs))}).assign(cluster=lambda f: f["cluster"] % 2) \
        .to_csv(out / "clusters.tsv", sep="\t", index=False)
    assert main(["survival", str(out / "clusters.tsv"), str(out / "normalized.h5ad"), str(out / "survival"),
                 "--time", "time", "--event", "event"]) == 0
    excluded = pd.read_csv(out / "survival" / "excluded.tsv", sep="\t").set_index("sample")["reason"]
    assert excluded.to_dict() == {"P007": "invalid time '-7.0': negative time",
                                  "P009": "invalid event '2': event not 0/1", "P011": "time or event missing"}
    logrank = pd.read_csv(out / "survival" / "logrank.tsv", sep="\t")
    assert logrank.loc[0, "n_dropped_invalid"] == 2 and logrank.loc[0, "n_dropped_missing"] == 1
    assert logrank.loc[0, "n_samples"] == 57


@pytest.mark.parametrize(("setting", "message"), [
    ("hidden_layers=[]", "--set: hidden_layers: [] is not allowed: [] should be non-empty"),
    ("batch_size=0", "--set: batch_size: 0 is not allowed: 0 is less than the minimum of 1"),
    ("dropout=1.5", "--set: dropout: 1.5 is not allowed: 1.5 is greater than or equal to the maximum of 1"),
    ("pretrain_steps=-5", "--set: pretrain_steps: -5 is not allowed: -5 is less than the minimum of 0"),
    ("n_cluster=3", "--set: Additional properties are not allowed ('n_cluster' was unexpected); did you mean "
                    "'n_clusters'?"),
    ("n_clusters_range=[8,2]", "--set: n_clusters_range: [8, 2] is reversed: give [smallest, largest] K, e.g. [2, 8]"),
    ("objective=kmeans", "--set: model.objective 'kmeans' learns a baseline's clusters in place of a survival "
                         "target: it needs task survival, and the task is 'classification'; set objective to auto or "
                         "primary"),
])
def test_train_settings_are_checked_by_the_config_schema(setting: str, message: str, capsys) -> None:
    # the same schema as the workflow's config: these crashed with tracebacks or, pretrain_steps=-5, ran
    assert main(["train", "absent.h5ad", "model", "embedding.h5ad", "--set", setting]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"deepsubtype train: error: {message}"]

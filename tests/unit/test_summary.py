"""results/summary.tsv and the report's first page, from hand-written result tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepsubtype.stages import summary_stage
from deepsubtype.stages.aggregate import summary_page


def _tables(directory: Path) -> dict[str, Path]:
    files = {name: directory / f"{name}.tsv" for name in ("clusters", "logrank", "cox_model", "oof_logrank",
                                                           "genes", "compare")}
    pd.DataFrame({"sample": [f"P{i}" for i in range(10)], "cluster": [0] * 6 + [1] * 4}).to_csv(
        files["clusters"], sep="\t", index=False)
    pd.DataFrame({"p_value": [1e-9]}).to_csv(files["logrank"], sep="\t", index=False)
    pd.DataFrame({"concordance_index": [0.8]}).to_csv(files["cox_model"], sep="\t", index=False)
    pd.DataFrame({"assignment": ["in-sample", "out-of-fold (repeat 0)", "out-of-fold (repeat 1)"],
                  "p_value": [1e-9, 0.2, 0.4], "c_index": [0.8, 0.55, 0.6]}).to_csv(
        files["oof_logrank"], sep="\t", index=False)
    pd.DataFrame({"gene": [f"G{i}" for i in range(12)]}).to_csv(files["genes"], sep="\t", index=False)
    pd.DataFrame({"method": ["deepsubtype", "kmeans", "pca_kmeans"], "logrank_p_median": [1e-9, 0.01, 0.5],
                  "ari_median": [0.9, 0.5, np.nan]}).to_csv(files["compare"], sep="\t", index=False)
    return files


def test_an_outcome_trained_model_is_ranked_by_its_out_of_fold_p(tmp_path: Path) -> None:
    files = _tables(tmp_path)
    cohorts = {"surv": {"files": files, "task": "survival"}, "cls": {"files": files, "task": "classification"},
               "new": {"files": {"clusters": files["clusters"]}, "trained_on": "cls"}}
    table = summary_stage(cohorts, tmp_path / "summary.tsv", tmp_path / "summary.rst").set_index("cohort")
    assert table.loc["surv", "logrank_p_out_of_fold"] == pytest.approx(0.3)
    assert table.loc["surv", "c_index_out_of_fold"] == pytest.approx(0.575)
    assert table.loc["surv", "against_baselines"] == ("2 of 3 by log-rank p (DeepType's out of fold); best other: "
                                                      "kmeans (0.01)"), "its in-sample 1e-9 is not what is ranked"
    assert table.loc["cls", "against_baselines"].startswith("1 of 3 by log-rank p; best other: kmeans")
    assert table.loc["cls", "top_genes"] == ", ".join(f"G{i}" for i in range(10))
    assert table.loc["new", "role"] == "validation" and table.loc["new", "cluster_sizes"] == "6/4"
    assert np.isnan(table.loc["new", "logrank_p_in_sample"])
    page = (tmp_path / "summary.rst").read_text()
    assert page == summary_page(table.reset_index())
    assert "   * - log-rank p, out of fold\n     - 0.3\n     - 0.3\n     - –" in page


def test_the_command_reads_a_results_folder(tmp_path: Path) -> None:
    from deepsubtype.cli import main
    from deepsubtype.outputs import SUMMARY_FILES

    folder = tmp_path / "results" / "surv"
    for role, path in _tables(tmp_path).items():
        (folder / SUMMARY_FILES[role]).parent.mkdir(parents=True, exist_ok=True)
        path.rename(folder / SUMMARY_FILES[role])
    assert main(["summary", str(tmp_path / "summary.tsv"), f"surv={folder}", "--task", "surv=survival",
                 "--page", str(tmp_path / "summary.rst")]) == 0
    row = pd.read_csv(tmp_path / "summary.tsv", sep="\t").iloc[0]
    assert row["task"] == "survival" and row["against_baselines"].startswith("2 of 3")
    assert main(["summary", str(tmp_path / "none.tsv"), f"empty={tmp_path / 'nothing'}"]) != 0
    assert not (tmp_path / "none.tsv").exists()

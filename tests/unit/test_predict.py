"""Applying a trained model to new patients: normalization transfer, gene mapping, the predict stage and CLI,
model_from checked by a dry run."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from deepsubtype import DeepType
from deepsubtype.cli import main
from deepsubtype.io import InputError, attach_clinical
from deepsubtype.normalize import normalize
from deepsubtype.outputs import PREDICT_FILES
from deepsubtype.stages import predict_stage, train_stage
from deepsubtype.transfer import load_reference, transfer_normalization

from ..conftest import FAST_MODEL, REPO, make_cohort, snakemake, write_model_from_cohorts

MODEL = {**FAST_MODEL, "hidden_layers": tuple(FAST_MODEL["hidden_layers"])}


def _raw(expression: pd.DataFrame, clinical: pd.DataFrame) -> ad.AnnData:
    adata = ad.AnnData(expression.to_numpy(np.float32), obs=pd.DataFrame(index=expression.index.astype(str)),
                       var=pd.DataFrame(index=expression.columns.astype(str)))
    return attach_clinical(adata, clinical.set_index("sample"))


def _fit(adata: ad.AnnData) -> tuple[ad.AnnData, DeepType]:
    normalized = normalize(adata, n_top_genes=100)
    model = DeepType(**MODEL, random_state=0, device="cpu").fit(normalized, normalized.obs["subtype"].to_numpy())
    return normalized, model


@pytest.fixture(scope="module")
def split_half() -> dict:
    """120 patients; a model on half A (every other patient), another on all of them."""
    expression, clinical = make_cohort(n_samples=120, seed=3)
    everyone = _raw(expression, clinical)
    half_a, half_b = everyone[0::2].copy(), everyone[1::2].copy()
    normalized_a, model_a = _fit(half_a)
    normalized_all, model_all = _fit(everyone)
    return {"expression": expression, "clinical": clinical, "half_b": half_b, "normalized_a": normalized_a,
            "model_a": model_a, "normalized_all": normalized_all, "model_all": model_all}


def test_model_of_one_half_assigns_the_other_as_the_model_of_all_does(split_half) -> None:
    """Split-half check: the half-A model's out-of-sample calls on half B against the all-patient model's
    labels of the same patients. Measured ARI: 1.0 (3 groups of 10 informative genes, 120 x 120)."""
    transfer = transfer_normalization(split_half["half_b"], split_half["normalized_a"])
    assert transfer.report["n_missing"] == 0 and transfer.report["n_found"] == 100
    calls = split_half["model_a"].predict(transfer.adata)
    full = pd.Series(split_half["model_all"].labels_, index=split_half["normalized_all"].obs_names)
    ari = adjusted_rand_score(full[transfer.adata.obs_names], calls)
    print(f"split-half ARI (half-A model on half B vs all-patient model): {ari:.3f}")
    assert ari > 0.8, f"out-of-sample calls disagree with the all-patient model: ARI {ari:.3f}"
    # the training centring is what was recorded, not refitted on B
    np.testing.assert_allclose(transfer.adata.var["training_mean"], split_half["normalized_a"].var["mean"])


def test_genes_are_mapped_by_name_not_position(split_half) -> None:
    half_b, reference = split_half["half_b"], split_half["normalized_a"]
    in_order = split_half["model_a"].predict(transfer_normalization(half_b, reference).adata)
    rng = np.random.default_rng(0)
    shuffled = half_b[:, rng.permutation(half_b.n_vars)].copy()
    extra = ad.AnnData(rng.normal(size=(half_b.n_obs, 7)).astype(np.float32), obs=half_b.obs[[]],
                       var=pd.DataFrame(index=[f"EXTRA{i}" for i in range(7)]))
    shuffled = ad.concat([shuffled, extra], axis=1, merge="first")
    shuffled.obs = half_b.obs.copy()
    transfer = transfer_normalization(shuffled, reference)
    assert transfer.report["n_cohort_genes_unused"] == 27  # 20 genes not kept in training + 7 extra
    np.testing.assert_array_equal(split_half["model_a"].predict(transfer.adata), in_order)
    # DeepType.predict maps an AnnData's genes by name too
    np.testing.assert_array_equal(split_half["model_a"].predict(transfer.adata[:, ::-1].copy()), in_order)


def test_absent_genes_are_filled_and_reported_up_to_the_limit(split_half) -> None:
    half_b, reference = split_half["half_b"], split_half["normalized_a"]
    training_genes = list(reference.var_names)
    ten_percent = half_b[:, ~half_b.var_names.isin(training_genes[-10:])].copy()
    transfer = transfer_normalization(ten_percent, reference)
    assert transfer.report["n_missing"] == 10 and transfer.report["missing_share"] == pytest.approx(0.1)
    assert transfer.missing_genes == training_genes[-10:]
    np.testing.assert_array_equal(transfer.adata.X[:, -10:], 0.0)
    np.testing.assert_allclose(transfer.adata.layers["log"][:, -10:], np.tile(reference.var["mean"][-10:],
                                                                              (half_b.n_obs, 1)), rtol=1e-5)
    with pytest.raises(InputError, match="missing_genes is fail"):
        transfer_normalization(ten_percent, reference, missing_genes="fail")
    half = half_b[:, ~half_b.var_names.isin(training_genes[:50])].copy()
    with pytest.raises(InputError, match=r"new\.tsv: 50 of the 100 training genes \(50\.0%\) are absent"):
        transfer_normalization(half, reference, source="new.tsv")


def test_another_platform_without_shared_ids_is_refused(split_half) -> None:
    other = split_half["half_b"].copy()
    other.var_names = [f"ILMN_{i}" for i in range(other.n_vars)]
    with pytest.raises(InputError, match="none of the 100 training genes .* another platform"):
        transfer_normalization(other, split_half["normalized_a"])
    versioned = split_half["half_b"].copy()
    versioned.var_names = [f"{name}.1" for name in versioned.var_names]
    with pytest.raises(InputError, match="100 of the absent genes match when case and version suffixes"):
        transfer_normalization(versioned, split_half["normalized_a"])


def test_genes_with_another_case_are_matched_where_case_leaves_no_choice(split_half,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    half_b, reference = split_half["half_b"], split_half["normalized_a"]
    training_genes = list(reference.var_names)
    exact = transfer_normalization(half_b, reference)
    renamed = half_b.copy()
    lower = {gene: gene.lower() for gene in training_genes[:25]}
    renamed.var_names = [lower.get(name, name) for name in renamed.var_names]
    with caplog.at_level("WARNING"):
        transfer = transfer_normalization(renamed, reference, source="new.tsv")
    assert transfer.report["n_missing"] == 0 and transfer.report["n_matched_ignoring_case"] == 25
    assert transfer.report["matched_ignoring_case"].startswith(f"{training_genes[0].lower()} for {training_genes[0]}")
    np.testing.assert_array_equal(transfer.adata.X, exact.adata.X)
    assert (f"new.tsv: 25 training genes are in this cohort with another case and are matched ignoring it: "
            f"{training_genes[0].lower()} for {training_genes[0]}") in caplog.text
    # training gene 'Ab1' and the cohort's 'ab1' and 'AB1': which one is meant is not guessed
    reference = reference.copy()
    reference.var_names = ["Ab1", *training_genes[1:]]
    ambiguous = half_b.copy()
    ambiguous.var_names = ["ab1" if name == training_genes[0] else name for name in ambiguous.var_names]
    twin = ambiguous[:, ["ab1"]].copy()
    twin.var_names = ["AB1"]
    ambiguous = ad.concat([ambiguous, twin], axis=1, merge="first")
    ambiguous.obs = half_b.obs.copy()
    caplog.clear()
    with caplog.at_level("WARNING"):
        transfer = transfer_normalization(ambiguous, reference, source="new.tsv")
    assert transfer.missing_genes == ["Ab1"] and transfer.report["n_matched_ignoring_case"] == 0
    assert transfer.report["absent_case_ambiguous"] == "Ab1"
    assert ("new.tsv: 1 training genes stay absent: several genes equal to each ignoring case, so case cannot "
            "tell which is meant: Ab1") in caplog.text
    # training genes 'Ab1' and 'AB1', the cohort's 'ab1' alone: not guessed either
    reference.var_names = ["Ab1", "AB1", *training_genes[2:]]
    alone = half_b[:, ~half_b.var_names.isin(training_genes[1:2])].copy()
    alone.var_names = ["ab1" if name == training_genes[0] else name for name in alone.var_names]
    transfer = transfer_normalization(alone, reference)
    assert transfer.missing_genes == ["Ab1", "AB1"] and transfer.report["absent_case_ambiguous"] == "Ab1; AB1"


def test_platform_check_and_own_centering(split_half) -> None:
    """A cohort measured with per-gene offsets and half the spread: the platform check shows it; ``own``
    centring undoes it, ``training`` centring would not."""
    half_b, reference = split_half["half_b"], split_half["normalized_a"]
    rng = np.random.default_rng(1)
    shifted = half_b.copy()
    shifted.X = (shifted.X - shifted.X.mean(0)) * 0.5 + rng.normal(0, 3, size=shifted.n_vars).astype(np.float32)
    training = transfer_normalization(shifted, reference, centering="training")
    own = transfer_normalization(shifted, reference, centering="own")
    assert training.report["gene_mean_correlation"] < 0.5
    assert training.report["gene_sd_ratio_median"] == pytest.approx(0.5, rel=0.2)
    baseline = split_half["model_a"].predict(transfer_normalization(half_b, reference).adata)
    assert adjusted_rand_score(baseline, split_half["model_a"].predict(own.adata)) > 0.9
    with pytest.raises(InputError, match="at least 2 samples"):
        transfer_normalization(half_b[:1].copy(), reference, centering="own")


def test_distances_and_confidence(split_half) -> None:
    model, adata = split_half["model_a"], split_half["normalized_a"]
    distances = model.distances(adata)
    assert distances.shape == (adata.n_obs, 3)
    np.testing.assert_array_equal(distances.argmin(1), model.predict(adata))
    confidence = model.confidence(adata)
    assert ((confidence >= 0) & (confidence <= 1)).all() and np.median(confidence) > 0.3


def test_multi_view_reference_is_refused(split_half) -> None:
    reference = split_half["normalized_a"].copy()
    reference.var["view"] = "rna"
    with pytest.raises(InputError, match="several views"):
        load_reference(reference)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """A model trained by the train stage on one cohort, and a second cohort's files (other patients)."""
    directory = tmp_path_factory.mktemp("trained")
    expression, clinical = make_cohort(n_samples=60, seed=0)
    normalized = normalize(_raw(expression, clinical), n_top_genes=100)
    normalized.write_h5ad(directory / "normalized.h5ad")
    train_stage(directory / "normalized.h5ad", directory / "model", directory / "embedding.h5ad",
                target="subtype", model_params=FAST_MODEL, device="cpu")
    new_expression, new_clinical = make_cohort(n_samples=40, seed=5)
    new_expression.index = [f"N{i:03d}" for i in range(40)]
    new_clinical["sample"] = new_expression.index
    new_expression.index.name = "sample"
    new_expression.to_csv(directory / "new.tsv", sep="\t")
    new_clinical.to_csv(directory / "new_clinical.tsv", sep="\t", index=False, na_rep="NA")
    new_expression.iloc[[3]].to_csv(directory / "one_sample.tsv", sep="\t")
    return {"dir": directory, "model": directory / "model", "normalized": directory / "normalized.h5ad",
            "new": directory / "new.tsv", "clinical": directory / "new_clinical.tsv",
            "one": directory / "one_sample.tsv"}


def test_predict_stage_writes_every_file(trained, tmp_path: Path) -> None:
    table = predict_stage(trained["model"], trained["normalized"], trained["new"], tmp_path / "out",
                          clinical=trained["clinical"], sample_column="sample", target="subtype")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(PREDICT_FILES.values())
    clusters = pd.read_csv(tmp_path / "out/clusters.tsv", sep="\t")
    assert list(clusters.columns) == ["sample", "cluster", "distance_to_center", "confidence", "second_cluster",
                                      "silhouette", "method"]
    assert (clusters["method"] == "deeptype").all(), "the trained model's own clusters, as its clusters.tsv says"
    assert len(clusters) == 40 and set(clusters["cluster"]) == {0, 1, 2}
    assert (clusters["cluster"] == table["cluster"]).all()
    overlap = pd.read_csv(tmp_path / "out/overlap.tsv", sep="\t").set_index("measure")["value"]
    assert overlap["n_found"] == "100" and overlap["n_missing"] == "0"
    assert float(overlap["gene_mean_correlation"]) > 0.9
    agreement = pd.read_csv(tmp_path / "out/agreement.tsv", sep="\t")
    assert list(agreement["assignment"]) == ["training cohort (in-sample)", "this cohort (predicted)"]
    assert (agreement["ari"] > 0.8).all() and agreement.loc[1, "n_labelled"] == 38
    normalized = ad.read_h5ad(tmp_path / "out/normalized.h5ad")
    assert {"time", "event", "subtype"} <= set(normalized.obs.columns)
    assert normalized.uns["transfer"]["n_found"] == 100


def test_predict_stage_notes_genes_matched_ignoring_case(trained, tmp_path: Path, caplog) -> None:
    expression = pd.read_csv(trained["new"], sep="\t", index_col=0)
    expression.rename(columns=str.lower).to_csv(tmp_path / "lower.tsv", sep="\t")
    exact = predict_stage(trained["model"], trained["normalized"], trained["new"], tmp_path / "exact")
    with caplog.at_level("WARNING"):
        table = predict_stage(trained["model"], trained["normalized"], tmp_path / "lower.tsv", tmp_path / "out")
    assert (table["cluster"] == exact["cluster"]).all()
    overlap = pd.read_csv(tmp_path / "out/overlap.tsv", sep="\t").set_index("measure")["value"]
    assert overlap["n_missing"] == "0" and overlap["n_matched_ignoring_case"] == "100"
    assert overlap["matched_ignoring_case"].count(" for ") == 100
    assert caplog.text.count("100 training genes are in this cohort with another case") == 1, "said once"


def test_predict_stage_leaves_nothing_when_refused(trained, tmp_path: Path) -> None:
    expression = pd.read_csv(trained["new"], sep="\t", index_col=0)
    expression.iloc[:, :60].to_csv(tmp_path / "few_genes.tsv", sep="\t")
    with pytest.raises(InputError, match=r"few_genes\.tsv: .* training genes \(.*%\) are absent"):
        predict_stage(trained["model"], trained["normalized"], tmp_path / "few_genes.tsv", tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_predict_checks_the_new_cohorts_survival_columns_as_normalize_does(trained, tmp_path: Path, capsys) -> None:
    clinical = pd.read_csv(trained["clinical"], sep="\t")
    clinical.loc[4, "event"] = 2
    clinical.to_csv(tmp_path / "clinical.tsv", sep="\t", index=False, na_rep="NA")
    arguments = ["predict", str(trained["model"]), str(trained["normalized"]), str(trained["new"]),
                 str(tmp_path / "out"), "--clinical", str(tmp_path / "clinical.tsv"), "--sample-column", "sample",
                 "--time", "time", "--event", "event"]
    assert main(arguments) == 2
    assert (f"{tmp_path / 'clinical.tsv'}: event must be 0 or 1, got 2 in column 'event' for sample 'N004'"
            in capsys.readouterr().err)
    assert not (tmp_path / "out").exists()
    assert main([*arguments, "--survival-invalid", "drop"]) == 0
    obs = ad.read_h5ad(tmp_path / "out" / "normalized.h5ad")
    assert np.isnan(obs.obs.loc["N004", "event"]) and obs.uns["survival_invalid"]["sample"] == ["N004"]


def test_cli_assigns_a_single_new_sample(trained, tmp_path: Path, capsys) -> None:
    out = tmp_path / "one"
    assert main(["predict", str(trained["model"]), str(trained["normalized"]), str(trained["one"]), str(out)]) == 0
    clusters = pd.read_csv(out / "clusters.tsv", sep="\t")
    assert list(clusters["sample"]) == ["N003"] and clusters.loc[0, "cluster"] in (0, 1, 2)
    assert 0 <= clusters.loc[0, "confidence"] <= 1 and np.isnan(clusters.loc[0, "silhouette"])
    assert main(["predict", str(trained["model"]), str(trained["normalized"]), str(trained["one"]), str(out),
                 "--centering", "own"]) == 2
    assert "at least 2 samples" in capsys.readouterr().err


@pytest.mark.parametrize(("setting", "message"), [
    ({"model_from": "nowhere"}, "model_from 'nowhere' is not a cohort of the config"),
    ({"model_from": "tiny_new"}, "cannot take its model from itself"),
])
def test_model_from_must_name_a_training_cohort(tmp_path: Path, setting: dict, message: str) -> None:

    config = write_model_from_cohorts(tmp_path, **setting)
    result = snakemake("--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
                        str(config), "--dry-run")
    assert result.returncode != 0 and message in result.stdout + result.stderr

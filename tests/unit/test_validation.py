"""Nested out-of-fold validation: whatever looks at the data is refitted inside each fold."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from deepsubtype import DeepType
from deepsubtype.ensemble import DeepTypeEnsemble
from deepsubtype.io import InputError
from deepsubtype.normalize import normalize
from deepsubtype.objective import baseline_labels
from deepsubtype.stages import validation_stage
from deepsubtype.validation import (
    baseline_out_of_fold,
    fixed_cluster_statistics,
    fold_estimator,
    fold_normalized,
    fold_scaled,
    out_of_fold_clusters,
    out_of_fold_statistics,
    permutation_order,
    permutation_p,
    permuted_survival,
)

from ..conftest import FAST_MODEL, make_cohort

MODEL = {**FAST_MODEL, "hidden_layers": tuple(FAST_MODEL["hidden_layers"]), "device": "cpu"}


@pytest.fixture(scope="module")
def raw() -> ad.AnnData:
    expression, clinical = make_cohort()
    return ad.AnnData(expression.to_numpy(np.float32), obs=clinical.set_index("sample").loc[expression.index],
                      var=pd.DataFrame(index=expression.columns))


@pytest.fixture(scope="module")
def normalized(raw) -> ad.AnnData:
    return normalize(raw, n_top_genes=100)


def test_fold_normalization_refits_the_gene_filter_and_z_score_on_the_training_patients(raw, normalized) -> None:
    train, test = np.arange(0, 45), np.arange(45, 60)
    fitted, held_out = fold_normalized(raw, normalized.uns["normalize"], train, test)
    values = np.asarray(raw.X, dtype=np.float64)
    variance = values[train].var(0, ddof=1)
    expected_genes = set(raw.var_names[np.argsort(-variance, kind="stable")[:100]])
    assert set(fitted.var_names) == expected_genes, "the top 100 genes by the training patients' variance"
    assert set(fitted.var_names) != set(normalized.var_names), "not the all-patient filter"
    assert list(held_out.var_names) == list(fitted.var_names) and list(held_out.obs_names) == list(raw.obs_names[test])
    columns = raw.var_names.get_indexer(fitted.var_names)
    mean, sd = values[train][:, columns].mean(0), values[train][:, columns].std(0, ddof=1)
    assert np.allclose(held_out.X, (values[test][:, columns] - mean) / sd, atol=1e-4)
    # the held-out patients' values change nothing in the training part
    shifted = raw.copy()
    shifted.X[test] = shifted.X[test] * 3 + 5
    refitted, _ = fold_normalized(shifted, normalized.uns["normalize"], train, test)
    assert np.array_equal(refitted.X, fitted.X) and list(refitted.var_names) == list(fitted.var_names)


def test_out_of_fold_clusters_normalize_inside_the_folds_from_the_raw_matrix(raw, normalized) -> None:
    y = normalized.obs["subtype"].to_numpy(dtype=object)
    model = DeepType(**{**MODEL, "n_clusters": 3}).fit(normalized, y)
    oof = out_of_fold_clusters(model, normalized, y, model.labels_, folds=3, seed=0, raw=raw)
    assert sorted(oof["index"]) == list(range(60))
    assert (oof["cluster"] == oof["in_sample_cluster"]).mean() >= 0.8


def test_fold_scaling_uses_the_training_patients_alone(normalized) -> None:
    train, test = np.arange(0, 45), np.arange(45, 60)
    fitted, held_out = fold_scaled(normalized, train, test)
    assert np.allclose(fitted.X.mean(0), 0, atol=1e-5) and np.allclose(fitted.X.std(0, ddof=1), 1, atol=1e-4)
    log = np.asarray(normalized.layers["log"], dtype=np.float64)
    expected = (log[test] - log[train].mean(0)) / log[train].std(0, ddof=1)
    assert np.allclose(held_out.X, expected, atol=1e-4)
    assert not np.allclose(held_out.X, normalized.X[test], atol=1e-3), "not the all-patient z-score"
    assert list(held_out.obs_names) == list(normalized.obs_names[test])


def test_fold_estimator_copies_the_procedure() -> None:
    single = DeepType(**MODEL)
    ensemble = DeepTypeEnsemble(single, n_fits=3)
    assert isinstance(fold_estimator(single, None, 5), DeepType)
    assert fold_estimator(ensemble, None, 5).n_fits == 3 and fold_estimator(ensemble, None, 5).random_state == 5
    assert isinstance(fold_estimator(ensemble, 1, 5), DeepType)
    assert fold_estimator(single, 2, 5).n_fits == 2


def test_folds_choose_their_own_number_of_clusters(normalized) -> None:
    y = normalized.obs["subtype"].to_numpy(dtype=object)
    model = DeepType(**{**MODEL, "n_clusters": "auto", "n_clusters_range": (2, 4)}).fit(normalized, y)
    reference = model.labels_
    oof = out_of_fold_clusters(model, normalized, y, reference, folds=3, seed=0)
    assert sorted(oof["index"]) == list(range(60))
    assert oof["cluster"].min() >= 0 and (oof["cluster"] == oof["in_sample_cluster"]).mean() >= 0.8


def test_validation_stage_refuses_a_raw_matrix_without_clinical_or_lacking_a_sample(normalized, tmp_path) -> None:
    """The raw matrix given for per-fold normalization is checked before any fold is fitted; nothing is written."""
    expression, clinical = make_cohort()
    y = normalized.obs["subtype"].to_numpy(dtype=object)
    model = DeepType(**{**MODEL, "n_clusters": 3}).fit(normalized, y)
    model.save(tmp_path / "model")
    normalized.write_h5ad(tmp_path / "normalized.h5ad")
    pd.DataFrame({"sample": normalized.obs_names, "cluster": model.labels_}).to_csv(tmp_path / "clusters.tsv",
                                                                                    sep="\t", index=False)
    clinical.to_csv(tmp_path / "clinical.tsv", sep="\t", index=False)
    expression.drop(index=expression.index[7]).to_csv(tmp_path / "short.tsv", sep="\t")
    arguments = (tmp_path / "normalized.h5ad", tmp_path / "model", tmp_path / "clusters.tsv", tmp_path / "out")
    survival = {"task": "classification", "target": "subtype", "time_column": "time", "event_column": "event",
                "folds": 3, "device": "cpu"}
    with pytest.raises(InputError, match=r"short\.tsv: refitting the normalization per fold needs the clinical"):
        validation_stage(*arguments, expression=tmp_path / "short.tsv", **survival)
    with pytest.raises(InputError, match=rf"short\.tsv: sample '{expression.index[7]}' of .* is not in the raw matrix"):
        validation_stage(*arguments, expression=tmp_path / "short.tsv", clinical=tmp_path / "clinical.tsv",
                         sample_column="sample", **survival)
    assert not (tmp_path / "out").exists()



def test_out_of_fold_clusters_take_rows_of_a_data_frame(normalized) -> None:
    # X[train] on a DataFrame took column labels 0, 1, ... instead of the training rows
    frame = pd.DataFrame(np.asarray(normalized.X), index=normalized.obs_names, columns=normalized.var_names)
    y = normalized.obs["subtype"].to_numpy()
    model = DeepType(**MODEL).fit(frame, y)
    from_frame = out_of_fold_clusters(model, frame, y, model.labels_, folds=3)
    from_array = out_of_fold_clusters(model, frame.to_numpy(), y, model.labels_, folds=3)
    pd.testing.assert_frame_equal(from_frame, from_array)


def test_baselines_are_validated_on_deeptypes_folds_and_fold_normalization(raw, normalized) -> None:
    """Same splits through the same fold_matrices (which normalizes inside each fold from ``raw``)."""
    y = normalized.obs["subtype"].to_numpy(dtype=object)
    model = DeepType(**{**MODEL, "n_clusters": 3}).fit(normalized, y)
    deeptype = out_of_fold_clusters(model, normalized, y, model.labels_, folds=3, repeats=2, seed=4, raw=raw)
    matrix = np.asarray(normalized.X, dtype=np.float64)
    for name in ("kmeans", "pca_kmeans"):
        own = baseline_labels(name, matrix, 3, seed=4)
        oof = baseline_out_of_fold(name, normalized, own, folds=3, repeats=2, seed=4, raw=raw)
        pd.testing.assert_frame_equal(oof[["index", "repeat", "fold"]], deeptype[["index", "repeat", "fold"]])
        assert (oof["in_sample_cluster"] == own[oof["index"]]).all()
        assert (oof["cluster"] == oof["in_sample_cluster"]).mean() >= 0.9, "well-separated groups stay put"


def test_folds_as_separate_jobs_give_the_validation_of_one_job(cohort_files, tmp_path) -> None:
    """validate-fold per split (the procedure from the config), then validate on the tables: the same files as
    validate refitting the trained model's procedure itself."""
    from deepsubtype.stages import cluster_stage, normalize_stage, train_stage, validation_fold_stage

    out = tmp_path / "out"
    normalize_stage(cohort_files["expression"], cohort_files["clinical"], out / "normalized.h5ad",
                    sample_column="sample", n_top_genes=100)
    params = {**FAST_MODEL, "n_fits": 2}
    train_stage(out / "normalized.h5ad", out / "model", out / "embedding.h5ad", target="subtype",
                model_params=params, seed=3, device="cpu")
    cluster_stage(out / "embedding.h5ad", out / "clusters.tsv")
    common = {"task": "classification", "target": "subtype", "folds": 3, "repeats": 2, "seed": 3, "device": "cpu",
              "n_fits": 1, "expression": cohort_files["expression"], "clinical": cohort_files["clinical"],
              "sample_column": "sample"}
    tables = []
    for repeat in range(2):
        for fold in range(3):
            tables.append(out / "folds" / f"repeat{repeat}_fold{fold}.tsv")
            validation_fold_stage(out / "normalized.h5ad", tables[-1], repeat=repeat, fold=fold, model_params=params,
                                  time_column="time", event_column="event", **common)
    arguments = (out / "normalized.h5ad", out / "model", out / "clusters.tsv")
    validation_stage(*arguments, out / "one_job", time_column="time", event_column="event", **common)
    validation_stage(*arguments, out / "from_tables", time_column="time", event_column="event", fold_tables=tables,
                     **common)
    for name in ("oof_clusters.tsv", "stability.tsv", "oof_logrank.tsv", "oof_cox.tsv", "oof_methods.tsv"):
        assert (out / "one_job" / name).read_bytes() == (out / "from_tables" / name).read_bytes(), name
    with pytest.raises(InputError, match=r"5 fold tables for 2 repeat\(s\) of 3 folds: repeat 1 fold 2 is missing"):
        validation_stage(*arguments, out / "short", time_column="time", event_column="event",
                         fold_tables=tables[:5], **common)
    assert not (out / "short").exists()
    foreign = pd.read_csv(tables[0], sep="\t").assign(sample="not_a_patient")
    foreign.to_csv(out / "foreign.tsv", sep="\t", index=False)
    pd.read_csv(tables[0], sep="\t").drop(columns="held_out").to_csv(out / "other.tsv", sep="\t", index=False)
    for bad, message in (("foreign.tsv", r"foreign\.tsv: sample 'not_a_patient' is not in the cohort"),
                         ("other.tsv", r"other\.tsv: not a validation fold table \(no column 'held_out'\)")):
        with pytest.raises(InputError, match=message):
            validation_stage(*arguments, out / "bad", time_column="time", event_column="event",
                             fold_tables=[out / bad, *tables[1:]], **common)
        assert not (out / "bad").exists()


def test_beta_auto_is_cross_validated_by_the_train_stage_and_again_inside_a_fold(cohort_files, tmp_path,
                                                                                 caplog) -> None:
    """beta: auto is chosen on all patients by train (its scores in tuning.tsv) and on a fold's training patients
    alone by validate-fold (one shared helper), each logged with the patients it was chosen on."""
    import logging

    from deepsubtype.stages import normalize_stage, train_stage, validation_fold_stage

    out = tmp_path / "out"
    normalize_stage(cohort_files["expression"], cohort_files["clinical"], out / "normalized.h5ad",
                    sample_column="sample", n_top_genes=100)
    params = {**FAST_MODEL, "beta": "auto", "pretrain_steps": 60, "joint_steps": 10, "max_rounds": 2}
    grid = {"betas": [0.4, 1.2], "folds": 2}
    caplog.set_level(logging.INFO, logger="deepsubtype")
    train_stage(out / "normalized.h5ad", out / "model", out / "embedding.h5ad", tuning=out / "tuning.tsv",
                target="subtype", model_params=params, tuning_grid=grid, seed=0, device="cpu")
    tuning = pd.read_csv(out / "tuning.tsv", sep="\t")
    assert sorted(tuning.loc[tuning["parameter"] == "beta", "beta"]) == [0.4, 1.2]
    assert tuning.loc[tuning["parameter"] == "beta", "chosen"].sum() == 1
    table = validation_fold_stage(out / "normalized.h5ad", out / "fold.tsv", repeat=0, fold=1, folds=3,
                                  target="subtype", model_params=params, tuning_grid=grid, seed=0, device="cpu")
    assert table["held_out"].sum() == 20 and len(table) == 60
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("cross-validated choice (all patients): beta=") for m in messages), messages
    assert any(m.startswith("cross-validated choice (repeat 0 fold 1, on its training patients): beta=")
               for m in messages), messages
    # validating the saved model in one job (deepsubtype validate without fold tables) refits the configured
    # procedure, beta: auto included, not the beta the train stage chose on all patients
    from deepsubtype.stages import cluster_stage

    cluster_stage(out / "embedding.h5ad", out / "clusters.tsv")
    caplog.clear()
    validation_stage(out / "normalized.h5ad", out / "model", out / "clusters.tsv", out / "validation", folds=2,
                     target="subtype", time_column="time", event_column="event", seed=0, device="cpu",
                     permutations=3)
    messages = [record.getMessage() for record in caplog.records]
    for fold in (0, 1):
        assert any(m.startswith(f"cross-validated choice (repeat 0 fold {fold}, on its training patients): beta=")
                   for m in messages), messages
    (out / "model" / "procedure.json").write_text("{not json")
    with pytest.raises(InputError, match=r"procedure\.json: not a deepsubtype procedure file"):
        validation_stage(out / "normalized.h5ad", out / "model", out / "clusters.tsv", out / "broken", folds=2,
                         target="subtype", time_column="time", event_column="event", seed=0, device="cpu")
    assert not (out / "broken").exists()


def test_permutations_move_time_and_event_together_and_are_the_same_in_every_job() -> None:
    clinical = pd.DataFrame({"time": np.arange(10.0), "event": np.arange(10) % 2, "subtype": list("abcdefghij")},
                            index=[f"P{i}" for i in range(10)])
    permuted = permuted_survival(clinical, ("time", "event"), 3, seed=7)
    assert list(permuted["subtype"]) == list(clinical["subtype"]), "the target stays with its patient"
    assert (permuted["event"] == permuted["time"].astype(int) % 2).all(), "pairs move together"
    assert sorted(permuted["time"]) == list(clinical["time"]) and not permuted["time"].equals(clinical["time"])
    assert np.array_equal(permutation_order(10, 3, 7), permutation_order(10, 3, 7))
    assert not np.array_equal(permutation_order(10, 3, 7), permutation_order(10, 4, 7))
    assert np.array_equal(permutation_order(10, 0, 7), np.arange(10)), "permutation 0 is the observed data"


def test_permutation_p_counts_the_observed_draw_and_ties() -> None:
    assert permutation_p(5.0, np.array([1.0, 2.0, 3.0])) == 0.25, "the smallest p is 1 / (B + 1)"
    assert permutation_p(2.0, np.array([1.0, 2.0, 3.0])) == 0.75, "ties count against the observed"
    assert np.isnan(permutation_p(2.0, np.empty(0)))


def test_fixed_cluster_permutation_p_is_uniform_under_the_null() -> None:
    """Clusters unrelated to survival: the permutation p of the per-fold statistic rejects at 5 % about 5 % of the
    time (200 null cohorts, 19 permutations each: p <= 0.05 when the observed statistic is the largest of 20;
    binomial 99 % interval for 10 of 200: 3-20)."""
    rng = np.random.default_rng(0)
    rejected = {"logrank": 0, "c_index": 0}
    for _ in range(200):
        n = 60
        oof = pd.DataFrame({"index": np.arange(n), "repeat": 0, "fold": np.arange(n) % 3,
                            "cluster": rng.integers(0, 3, n)})
        time, event = rng.exponential(30.0, n), (rng.random(n) < 0.5).astype(float)
        oof.attrs["training_labels"] = [(np.flatnonzero(oof["fold"] != fold), oof["cluster"][oof["fold"] != fold])
                                        for fold in range(3)]
        observed = out_of_fold_statistics(oof, time, event)[["logrank", "c_index"]].mean()
        permuted = fixed_cluster_statistics(oof, time, event, permutations=19, seed=1)
        for name in ("logrank", "c_index"):
            rejected[name] += permutation_p(observed[name], permuted[name].to_numpy()) <= 0.05
    assert 3 <= rejected["logrank"] <= 20 and 3 <= rejected["c_index"] <= 20


def test_survival_trained_procedure_gets_its_folds_refitted_on_every_permutation(cohort_files, tmp_path) -> None:
    """task survival: the validate stage refits every fold on each permuted cohort (one job per permutation with
    validate-permutation, or all in the stage itself: the same statistics), oof_test.tsv gives DeepType the
    permutation p of the refits and the baselines that of fixed clusters, and labels the chi-square p."""
    from deepsubtype.stages import (
        cluster_stage,
        normalize_stage,
        train_stage,
        validation_fold_stage,
        validation_permutation_stage,
    )

    out = tmp_path / "out"
    normalize_stage(cohort_files["expression"], cohort_files["clinical"], out / "normalized.h5ad",
                    sample_column="sample", n_top_genes=100)
    params = {**FAST_MODEL, "objective": "primary", "pretrain_steps": 60, "joint_steps": 10, "max_rounds": 2,
              "n_clusters": 2}
    train_stage(out / "normalized.h5ad", out / "model", out / "embedding.h5ad", task="survival",
                time_column="time", event_column="event", model_params=params, seed=1, device="cpu")
    cluster_stage(out / "embedding.h5ad", out / "clusters.tsv")
    common = {"task": "survival", "folds": 2, "repeats": 1, "seed": 1, "device": "cpu", "n_fits": 1,
              "time_column": "time", "event_column": "event"}
    folds = [out / f"fold{fold}.tsv" for fold in range(2)]
    for fold, path in enumerate(folds):
        validation_fold_stage(out / "normalized.h5ad", path, repeat=0, fold=fold, model_params=params, **common)
    permutations = [out / f"permutation{number}.tsv" for number in (1, 2)]
    for number, path in zip((1, 2), permutations, strict=True):
        validation_permutation_stage(out / "normalized.h5ad", path, permutation=number, model_params=params, **common)
    del common["n_fits"]
    arguments = (out / "normalized.h5ad", out / "model", out / "clusters.tsv")
    validation_stage(*arguments, out / "jobs", fold_tables=folds, permutations=2, permutation_tables=permutations,
                     **common)
    validation_stage(*arguments, out / "one_job", permutations=2, **common)
    jobs, one_job = (pd.read_csv(out / name / "oof_test.tsv", sep="\t").set_index("method") for name in
                     ("jobs", "one_job"))
    assert np.allclose(jobs[["c_index", "logrank"]], one_job[["c_index", "logrank"]])
    assert np.allclose(jobs["permutation_p"], one_job["permutation_p"])
    own = jobs.loc["deepsubtype"]
    assert bool(own["clusters_saw_survival"]) and own["n_permutations"] == 2
    assert own["permuted"].endswith("refitted on them")
    assert min(abs(own["permutation_p"] - p) for p in (1 / 3, 2 / 3, 1.0)) < 1e-5 and "not calibrated" in own["note"]
    assert own["statistic"] == "c_index" and own["permutation_p"] == own["c_index_permutation_p"]
    for baseline in ("kmeans", "pca_kmeans"):
        assert not jobs.loc[baseline, "clusters_saw_survival"] and jobs.loc[baseline, "permuted"].endswith("fixed")
    # the permutations' outcomes really differ from the observed ones: their statistics differ from the observed
    refits = pd.read_csv(permutations[0], sep="\t")
    assert set(refits["sample"]) == set(ad.read_h5ad(out / "normalized.h5ad").obs_names), "every patient held out once"
    foreign = pd.read_csv(permutations[0], sep="\t").assign(sample="not_a_patient")
    foreign.to_csv(out / "foreign.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"foreign\.tsv: sample 'not_a_patient' is not in the cohort"):
        validation_stage(*arguments, out / "bad", fold_tables=folds, permutations=2,
                         permutation_tables=[out / "foreign.tsv", permutations[1]], **common)
    assert not (out / "bad").exists()
    validation_stage(*arguments, out / "none", fold_tables=folds, permutations=0, **common)
    none = pd.read_csv(out / "none" / "oof_test.tsv", sep="\t").set_index("method").loc["deepsubtype"]
    assert np.isnan(none["permutation_p"]) and "no calibrated p" in none["note"]


@pytest.mark.parametrize(("n_samples", "folds"), [(12, 8), (60, 5), (5, 3), (7, 7), (20, 3)])
def test_k_is_checked_against_the_smallest_training_set_of_kfold(n_samples: int, folds: int) -> None:
    # what a fold's refit, beta's cross-validation and the objective's choice train on (stages._inputs)
    from sklearn.model_selection import KFold

    from deepsubtype.stages._inputs import _kfold_training

    smallest = min(len(train) for train, _ in KFold(folds, shuffle=True, random_state=0).split(np.zeros(n_samples)))
    assert _kfold_training(n_samples, folds) == smallest

"""The survival objective's choice (deepsubtype.objective): Cox loss or a baseline's clusters, by held-out log-rank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from deepsubtype import DeepType
from deepsubtype.ensemble import DeepTypeEnsemble, load_model
from deepsubtype.objective import (
    SIGNIFICANCE,
    BaselineRule,
    baseline_labels,
    baseline_pipeline,
    choose_objective,
    objective_scores,
)

FAST = dict(hidden_layers=(32, 8), alpha=0.001, learning_rate=0.005, pretrain_steps=200, joint_steps=20,
            max_rounds=3, kmeans_n_init=3, alpha_ramp_steps=50, n_clusters=2, device="cpu")


def cohort(prognostic: str, seed: int = 0, n: int = 150, p: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X (n, p), y (n, 2) time and event, the strong module's split): 40 genes move strongly with one split of
    the patients, 20 others weakly with a second, independent split; the hazard (ratio 6) follows the strong
    split (``prognostic="module"``) or the weak one (``"factor"``), which k-means on the genes does not see."""
    rng = np.random.default_rng(seed)
    strong, weak = rng.integers(0, 2, n), rng.integers(0, 2, n)
    X = rng.normal(size=(n, p))
    X[:, :40] += 2.0 * (strong[:, None] - 0.5)
    X[:, 100:120] += 1.5 * (weak[:, None] - 0.5)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    risky = strong if prognostic == "module" else weak
    event_time = rng.exponential(1.0 / np.where(risky == 1, 6.0, 1.0))
    censor_time = rng.exponential(2.0, n)
    y = np.column_stack([np.minimum(event_time, censor_time), (event_time <= censor_time).astype(float)])
    return X, y.astype(np.float32), strong


def test_baselines_fit_predict_and_choose_k_by_silhouette() -> None:
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(loc, 0.3, size=(30, 5)) for loc in (-3.0, 0.0, 3.0)])
    assert len(set(baseline_labels("kmeans", X, "auto", k_range=(2, 5)))) == 3
    assert len(set(baseline_labels("pca_kmeans", X, 2))) == 2
    pipeline = baseline_pipeline("pca_kmeans", 3, X.shape).fit(X)
    assert pipeline[:-1].transform(X).shape == (90, 5) and pipeline.predict(X[:4]).shape == (4,)
    # the rule a model keeps assigns as the fitted pipeline does, new points included
    new = X + np.random.default_rng(1).normal(0, 0.5, X.shape)
    for name in ("kmeans", "pca_kmeans"):
        fitted = baseline_pipeline(name, 3, X.shape).fit(X)
        rule = BaselineRule.from_pipeline(fitted)
        assert np.array_equal(rule.assign(new), fitted.predict(new))
        assert np.array_equal(rule.renumbered(np.array([2, 0, 1])).assign(new), np.array([2, 0, 1])[rule.assign(new)])
    with pytest.raises(ValueError, match="unknown baseline 'snf'"):
        baseline_pipeline("snf", 2, X.shape)


def _record(held_out_p: float, fold_z: list[float]) -> dict[str, object]:
    return {"held_out_p": held_out_p, "fold_z": fold_z}


def test_the_choice_is_the_simplest_candidate_within_one_standard_error_of_the_best() -> None:
    cox = _record(1e-4, [3.0, 2.5, 3.5])
    # no baseline separates held-out survival: the Cox loss, however weak its own p
    assert choose_objective([_record(0.3, [0.5, 0.1, 0.6]), _record(SIGNIFICANCE, [1.0, 1.0, 1.0]),
                             _record(0.2, [0.9, 0.5, 0.7])]) == 0
    # a significant baseline close to the Cox loss (differences -0.5, 1, 0.5: mean 0.33, SE 0.44): the
    # baseline, the lower p of two
    assert choose_objective([cox, _record(0.01, [2.0, 2.5, 3.0]), _record(0.001, [3.5, 1.5, 3.0])]) == 2
    # the Cox loss ahead by more than one standard error in every fold: the Cox loss
    assert choose_objective([cox, _record(0.01, [1.5, 1.0, 2.0]), _record(0.5, [0.0, 0.0, 0.0])]) == 0
    # ahead on average, but one fold the other way: within one standard error, so the baseline
    assert choose_objective([_record(1e-6, [6.0, 4.0, 0.5]), _record(0.001, [2.0, 2.0, 2.0])]) == 1
    # k-means best, PCA + k-means within one standard error of it: PCA + k-means, the fewer free parameters
    assert choose_objective([_record(0.01, [1.0, 1.5, 1.0]), _record(0.003, [2.1, 2.5, 1.6]),
                             _record(0.004, [2.0, 1.5, 2.0])]) == 2


def test_a_prognostic_module_is_learnt_from_the_baseline_clusters(tmp_path: Path) -> None:
    X, y, strong = cohort("module")
    model = DeepType(task="survival", random_state=0, **FAST).fit(X, y)
    scores = {record["objective"]: record for record in model.objective_scores_}
    assert set(scores) == {"primary", "kmeans", "pca_kmeans"} and sum(r["chosen"] for r in scores.values()) == 1
    assert model.objective_ in ("kmeans", "pca_kmeans") and scores[model.objective_]["chosen"]
    assert scores[model.objective_]["held_out_p"] < min(0.01, scores["primary"]["held_out_p"])
    # the network learnt the baseline's classes; the model's clusters are the baseline's, the prognostic split,
    # and it assigns patients by the baseline's rule
    assert list(model.classes_) == [0, 1]
    assert adjusted_rand_score(strong, model.labels_) > 0.9
    assert np.array_equal(model.predict(X), model.labels_)
    assert np.array_equal(model.distances(X).argmin(1), model.labels_)
    assert adjusted_rand_score(model.labels_, model.predict_target(X)) > 0.9
    with pytest.raises(ValueError, match="learnt the clusters of"):
        model.score(X, y)
    model.save(tmp_path / "model")
    loaded = DeepType.load(tmp_path / "model")
    assert loaded.objective_ == model.objective_ and loaded.objective_scores_ == model.objective_scores_
    assert np.array_equal(loaded.baseline_rule_.centers, model.baseline_rule_.centers)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    # a weights file whose baseline centres do not fit the model's genes is refused, naming the directory
    import torch

    from deepsubtype.io import InputError

    state = torch.load(tmp_path / "model" / "weights.pt", weights_only=True)
    state["baseline_centers"] = state["baseline_centers"][:, :5]
    state.pop("baseline_mean", None), state.pop("baseline_components", None)
    torch.save(state, tmp_path / "model" / "weights.pt")
    with pytest.raises(InputError, match=r"model: model.json and weights.pt do not describe one model .*reads 5 genes"):
        DeepType.load(tmp_path / "model")
    assert np.array_equal(loaded.predict_target(X), model.predict_target(X))


def test_an_outcome_no_unsupervised_method_sees_keeps_the_cox_loss() -> None:
    # three cohorts and seeds: one held-out log-rank p of 150 patients moves with the seed and the precision
    # (seed 0: 0.029 in float32, 0.068 in bf16; seeds 3 and 6 above 0.05 in both), the choice does not
    p_values = []
    for seed in range(3):
        X, y, _ = cohort("factor", seed=seed)
        records = objective_scores(DeepType(task="survival", random_state=seed, **FAST), X, y, alpha=0.001)
        assert [record["objective"] for record in records if record["chosen"]] == ["primary"]
        by_name = {record["objective"]: record["held_out_p"] for record in records}
        assert by_name["primary"] < by_name["kmeans"]
        p_values.append((by_name["primary"], by_name["kmeans"]))
    primary, kmeans = np.median(p_values, axis=0)
    assert primary < 0.05 < kmeans


def test_other_tasks_and_pinned_objectives_do_not_choose(tmp_path: Path) -> None:
    X, y, strong = cohort("module", n=90)
    labels = strong.astype(str)
    auto = DeepType(random_state=0, **FAST).fit(X, labels)
    primary = DeepType(objective="primary", random_state=0, **FAST).fit(X, labels)
    assert auto.objective_ == "primary" and auto.objective_scores_ == []
    assert np.array_equal(auto.labels_, primary.labels_)
    assert np.array_equal(auto.cluster_centers_, primary.cluster_centers_)
    pinned = DeepType(task="survival", objective="kmeans", random_state=0, **FAST).fit(X, y)
    assert pinned.objective_ == "kmeans" and pinned.objective_scores_ == []
    cox = DeepType(task="survival", objective="primary", random_state=0, **FAST).fit(X, y)
    assert cox.objective_ == "primary" and not hasattr(cox, "classes_")
    with pytest.raises(ValueError, match="objective='kmeans' replaces a survival target"):
        DeepType(objective="kmeans", **FAST).fit(X, labels)
    with pytest.raises(ValueError, match="The 'objective' parameter of DeepType must be a str among"):
        DeepType(task="survival", objective="cox", **FAST).fit(X, y)


def test_an_ensemble_chooses_once_and_every_fit_learns_the_same_target(tmp_path: Path) -> None:
    X, y, strong = cohort("module", n=120)
    ensemble = DeepTypeEnsemble(DeepType(task="survival", **FAST), n_fits=2, random_state=3).fit(X, y)
    objectives = {fit.objective_ for fit in ensemble.fits_}
    assert len(objectives) == 1 and objectives <= {"kmeans", "pca_kmeans"}
    assert ensemble.fits_[0].objective_scores_ == ensemble.fits_[1].objective_scores_ != []
    assert [fit.objective for fit in ensemble.fits_] == [ensemble.objective_] * 2
    assert ensemble.estimator.objective == "auto"
    assert adjusted_rand_score(strong, ensemble.labels_) > 0.9
    ensemble.save(tmp_path / "ensemble")
    assert load_model(tmp_path / "ensemble").objective_scores_ == ensemble.objective_scores_


def test_the_train_stage_records_the_choice_in_tuning_tsv_and_model_json(tmp_path: Path) -> None:
    import json

    import anndata as ad
    import pandas as pd

    from deepsubtype.stages import train_stage

    X, y, _ = cohort("module", n=120)
    obs = pd.DataFrame({"time": y[:, 0], "event": y[:, 1].astype(int)}, index=[f"p{i}" for i in range(len(X))])
    ad.AnnData(X, obs=obs, var=pd.DataFrame(index=[f"g{j}" for j in range(X.shape[1])])).write_h5ad(
        tmp_path / "normalized.h5ad")
    params = {key: list(value) if isinstance(value, tuple) else value for key, value in FAST.items()
              if key != "device"}
    train_stage(tmp_path / "normalized.h5ad", tmp_path / "model", tmp_path / "embedding.h5ad",
                tuning=tmp_path / "tuning.tsv", task="survival", time_column="time", event_column="event",
                model_params=params, device="cpu")
    tuning = pd.read_csv(tmp_path / "tuning.tsv", sep="\t")
    rows = tuning[tuning["parameter"] == "objective"]
    assert list(rows["objective"]) == ["primary", "kmeans", "pca_kmeans"] and rows["chosen"].sum() == 1
    assert rows["held_out_logrank_p"].between(0, 1).all() and rows["criterion"].str.contains("3-fold").all()
    chosen = rows.loc[rows["chosen"], "objective"].item()
    assert tuning.loc[tuning["parameter"] == "none", "objective"].item() == chosen
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["objective"] == chosen and len(meta["objective_scores"]) == 3


def _write_normalized(directory: Path, X: np.ndarray, y: np.ndarray) -> Path:
    """``normalized.h5ad`` of a synthetic survival cohort (time, event in ``obs``)."""
    import anndata as ad
    import pandas as pd

    obs = pd.DataFrame({"time": y[:, 0], "event": y[:, 1].astype(int)}, index=[f"p{i}" for i in range(len(X))])
    path = directory / "normalized.h5ad"
    ad.AnnData(X, obs=obs, var=pd.DataFrame(index=[f"g{j}" for j in range(X.shape[1])])).write_h5ad(path)
    return path


#: FAST as a config's ``model`` section (lists, no device).
MODEL_SECTION = {key: list(value) if isinstance(value, tuple) else value for key, value in FAST.items()
                 if key != "device"}
SURVIVAL = dict(task="survival", time_column="time", event_column="event", device="cpu")


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A two-fit train stage whose ``objective: auto`` chooses a baseline, its cluster stage and compare stage."""
    from deepsubtype.stages import cluster_stage, compare_stage, train_stage

    directory = tmp_path_factory.mktemp("baseline_run")
    X, y, _ = cohort("module", n=120)
    normalized = _write_normalized(directory, X, y)
    train_stage(normalized, directory / "model", directory / "embedding.h5ad", fits=directory / "fits.tsv",
                model_params={**MODEL_SECTION, "n_fits": 2}, seed=1, **SURVIVAL)
    cluster_stage(directory / "embedding.h5ad", directory / "clusters.tsv", directory / "embedding.png")
    compare_stage(normalized, directory / "embedding.h5ad", directory / "clusters.tsv", directory / "model",
                  directory / "compare", **SURVIVAL, seed=1)
    return {"dir": directory, "normalized": normalized, "model": directory / "model"}


def test_clusters_tsv_says_a_baseline_made_the_clusters(baseline_run: dict[str, Path]) -> None:
    # clusters.tsv, the survival stage and the summary described PCA + k-means clusters as DeepType's
    import pandas as pd

    model = load_model(baseline_run["model"])
    assert model.objective_ in ("kmeans", "pca_kmeans")
    clusters = pd.read_csv(baseline_run["dir"] / "clusters.tsv", sep="\t")
    assert list(clusters.columns) == ["sample", "cluster", "distance_to_center", "silhouette", "consensus_support",
                                      "method"]
    assert (clusters["method"] == model.objective_).all()
    assert np.array_equal(clusters["cluster"], model.labels_)
    assert (baseline_run["dir"] / "embedding.png").stat().st_size > 0
    # a model_from cohort's clusters.tsv (the predict stage's) says it too
    import anndata as ad

    from deepsubtype.stages.predict import _assignment_table

    called = _assignment_table(model, ad.read_h5ad(baseline_run["normalized"]))
    assert (called["method"] == model.objective_).all() and np.array_equal(called["cluster"], model.labels_)


def test_fits_tsv_says_fits_sharing_a_baseline_rule_agree_by_construction(baseline_run: dict[str, Path]) -> None:
    # the fits' pairwise ARI of 1.00 read as seed stability: every fit learnt one baseline rule's clusters
    import pandas as pd

    objective = load_model(baseline_run["model"]).objective_
    fits = pd.read_csv(baseline_run["dir"] / "fits.tsv", sep="\t")
    assert (fits["median_ari_with_other_fits"] == 1.0).all()
    assert fits["note"].str.startswith(f"all 2 fits learnt {objective}'s clusters (one rule").all()
    assert fits["note"].str.contains("not seed stability").all()


def test_compare_marks_deeptypes_row_with_the_baseline_that_made_its_clusters(baseline_run: dict[str, Path]) -> None:
    import pandas as pd

    from deepsubtype.stages.aggregate import cohort_summary

    objective = load_model(baseline_run["model"]).objective_
    metrics = pd.read_csv(baseline_run["dir"] / "compare/metrics.tsv", sep="\t").set_index("method")
    assert metrics.loc["deepsubtype", "clusters_by"] == objective
    assert (metrics.drop(index="deepsubtype")["clusters_by"] == metrics.drop(index="deepsubtype").index).all()
    # DeepType's row holds the baseline's clusters: the same log-rank statistic, so no ranking against it
    assert metrics.loc["deepsubtype", "logrank_p"] == pytest.approx(metrics.loc[objective, "logrank_p"])
    summary = pd.read_csv(baseline_run["dir"] / "compare/summary.tsv", sep="\t").set_index("method")
    assert summary.loc["deepsubtype", "clusters_by"] == objective
    files = {"clusters": baseline_run["dir"] / "clusters.tsv", "compare": baseline_run["dir"] / "compare/summary.tsv"}
    row = cohort_summary("module", files, task="survival")
    assert row["method"] == objective
    assert row["against_baselines"] == f"not ranked: DeepType's clusters are {objective}'s (learnt as its objective)"


def test_beta_auto_on_a_baseline_objective_is_cross_validated_on_its_clusters(tmp_path: Path) -> None:
    # beta: auto with task: survival raised ValueError ("this model learnt the clusters of 'pca_kmeans', not a
    # survival prediction") once a beta candidate's fit chose a baseline: the search scored it on survival
    import pandas as pd

    from deepsubtype.stages import train_stage

    X, y, strong = cohort("module", n=120)
    model = train_stage(_write_normalized(tmp_path, X, y), tmp_path / "model", tmp_path / "embedding.h5ad",
                        tuning=tmp_path / "tuning.tsv", model_params={**MODEL_SECTION, "beta": "auto"},
                        tuning_grid={"betas": [0.4, 1.2], "folds": 2}, **SURVIVAL)
    assert model.objective_ in ("kmeans", "pca_kmeans") and model.beta in (0.4, 1.2)
    assert adjusted_rand_score(strong, model.labels_) > 0.9
    tuning = pd.read_csv(tmp_path / "tuning.tsv", sep="\t")
    beta_rows = tuning[tuning["parameter"] == "beta"]
    assert list(beta_rows["beta"]) == [0.4, 1.2] and beta_rows["chosen"].sum() == 1
    assert beta_rows.loc[beta_rows["chosen"], "beta"].item() == model.beta
    assert (beta_rows["objective"] == model.objective_).all()
    assert beta_rows["criterion"].str.contains(f"held-out loss on {model.objective_}'s clusters as classes").all()
    assert np.isfinite(beta_rows["held_out_loss"]).all()


def test_beta_is_cross_validated_on_the_task_the_fit_trains() -> None:
    from deepsubtype.tuning import beta_task

    X, y, strong = cohort("module", n=60)
    labels = strong.astype(str)
    estimator, target, objective = beta_task(DeepType(**FAST), X, labels)
    assert objective == "primary" and target is labels and estimator.get_params()["task"] == "classification"
    pinned = DeepType(task="survival", objective="kmeans", random_state=0, **FAST)
    estimator, target, objective = beta_task(pinned, X, y)
    assert objective == "kmeans" and estimator.task == "classification" and estimator.objective == "primary"
    assert adjusted_rand_score(strong, target) > 0.9, "the baseline's clusters of all patients, as classes"
    assert pinned.objective == "kmeans" and not hasattr(pinned, "objective_"), "the estimator is not changed"
    estimator, target, objective = beta_task(DeepType(task="survival", objective="primary", **FAST), X, y)
    assert objective == "primary" and target is y and estimator.task == "survival"

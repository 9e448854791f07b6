from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification

from deepsubtype import DeepType
from deepsubtype.tuning import one_standard_error_choice, tune_alpha_beta, tuning_table


def _results(alphas, means, stds, n_folds=4) -> dict:
    results = {"param_alpha": np.asarray(alphas, dtype=object), "mean_test_score": np.asarray(means),
               "std_test_score": np.asarray(stds)}
    for fold in range(n_folds):
        results[f"split{fold}_test_score"] = np.zeros(len(alphas))
    return results


def test_one_standard_error_rule_prefers_the_sparsest_qualifying_alpha() -> None:
    # best is alpha=0.001 (-1.0, SE 0.1): 0.003 (-1.05) qualifies, 0.01 (-1.2) does not
    results = _results([0.0, 0.001, 0.003, 0.01], [-1.1, -1.0, -1.05, -1.2], [0.2, 0.2, 0.2, 0.2])
    assert one_standard_error_choice(results) == 2


def test_one_standard_error_rule_breaks_alpha_ties_by_score() -> None:
    results = _results([0.003, 0.003, 0.0], [-1.02, -1.01, -1.0], [0.2, 0.2, 0.2])
    assert one_standard_error_choice(results) == 1


def test_tune_alpha_beta_refits_the_chosen_pair() -> None:
    X, y = make_classification(n_samples=240, n_features=12, n_informative=4, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, class_sep=2.5, shuffle=False, random_state=0)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    estimator = DeepType(hidden_layers=(16, 8), n_clusters=3, learning_rate=0.005, batch_size=64,
                         pretrain_steps=120, joint_steps=10, max_rounds=2, kmeans_n_init=2, alpha_ramp_steps=20,
                         device="cpu", random_state=0)
    search = tune_alpha_beta(estimator, X, y, alphas=[0.0, 0.003, 1.0], betas=None, folds=3)
    table = tuning_table(search)
    assert len(table) == 3 and table["chosen"].sum() == 1
    assert set(table["beta"]) == {1.2}
    assert search.best_params_["alpha"] != 1.0, "an alpha that zeroes every gene cannot win"
    assert table.loc[table["alpha"] == 1.0, "held_out_loss"].item() > table["held_out_loss"].min()
    assert (table["parameter"] == "alpha").all() and table["held_out_se"].gt(0).all()
    assert search.best_estimator_.alpha == search.best_params_["alpha"]
    assert hasattr(search.best_estimator_, "labels_")


def test_alpha_path_table_records_the_path_or_the_fixed_value() -> None:
    from deepsubtype.tuning import TUNING_COLUMNS, alpha_path_table

    X, y = make_classification(n_samples=200, n_features=10, n_informative=3, n_redundant=0, random_state=0)
    small = dict(hidden_layers=(8,), n_clusters=2, pretrain_steps=40, path_steps=10, joint_steps=5, max_rounds=1,
                 device="cpu")
    path = alpha_path_table(DeepType(alpha="auto", alpha_grid=(0.0, 0.01), **small).fit(X, y))
    assert list(path.columns) == TUNING_COLUMNS and list(path["alpha"]) == [0.0, 0.01]
    assert path["chosen"].sum() == 1 and path["held_out_loss"].notna().all()
    fixed = alpha_path_table(DeepType(alpha=0.003, **small).fit(X, y))
    assert fixed["criterion"].item() == "fixed in config" and fixed["alpha"].item() == 0.003


def test_score_ignores_unseen_and_missing_labels() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "a", "b").astype(object)
    model = DeepType(hidden_layers=(8,), n_clusters=2, pretrain_steps=50, joint_steps=5, max_rounds=1,
                     device="cpu").fit(X, y)
    noisy = y.copy()
    noisy[:5] = "never seen"
    noisy[5:10] = None
    assert model.score(X[10:], y[10:]) == pytest.approx(model.score(X, noisy), rel=1e-5)


def test_beta_tuning_keeps_a_per_view_alpha() -> None:
    # tuning_table turned the grid's alpha into float(): a per-view alpha (one per view) failed
    X, y = make_classification(n_samples=120, n_features=10, n_informative=4, n_redundant=0, random_state=0)
    estimator = DeepType(hidden_layers=(8, 4), views=(("a", 5), ("b", 5)), alpha=(0.001, 0.01), n_clusters=2,
                         pretrain_steps=30, joint_steps=5, max_rounds=1, kmeans_n_init=1, device="cpu")
    search = tune_alpha_beta(estimator, X.astype(np.float32), y, alphas=None, betas=[0.4, 1.2], folds=2)
    table = tuning_table(search)
    assert list(table["alpha"]) == ["0.001,0.01", "0.001,0.01"] and table["chosen"].sum() == 1


def test_random_state_none_draws_a_seed_and_records_it() -> None:
    X, y = make_classification(n_samples=80, n_features=8, random_state=0)
    small = dict(hidden_layers=(8, 4), n_clusters=2, pretrain_steps=20, path_steps=10, joint_steps=5, max_rounds=1,
                 kmeans_n_init=1, device="cpu")
    first, second = (DeepType(random_state=None, **small).fit(X, y) for _ in range(2))
    assert first.seed_ != second.seed_, "None must not silently mean seed 0"
    again = DeepType(random_state=first.seed_, **small).fit(X, y)
    np.testing.assert_array_equal(again.labels_, first.labels_)
    assert DeepType(random_state=3, **small).fit(X, y).seed_ == 3


def test_random_state_none_draws_one_seed_per_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    # an alpha="auto" fit drew a second seed for the fit after the alpha path: seed_ named only the second, so
    # random_state=seed_ repeated a different fit (CI: one label of 80 differed)
    draws = iter([11, 12, 13])
    monkeypatch.setattr("deepsubtype.fitting._draw_seed", lambda: next(draws))
    X, y = make_classification(n_samples=80, n_features=8, random_state=0)
    small = dict(hidden_layers=(8, 4), n_clusters=2, pretrain_steps=20, path_steps=10, joint_steps=5, max_rounds=1,
                 kmeans_n_init=1, device="cpu")
    drawn = DeepType(random_state=None, **small).fit(X, y)
    assert drawn.seed_ == 11 and next(draws) == 12, "one fit, one seed"
    np.testing.assert_array_equal(DeepType(random_state=11, **small).fit(X, y).labels_, drawn.labels_)


def test_tuning_tables_of_a_survival_fit_share_their_dtypes_and_concatenate_without_a_warning() -> None:
    """A fixed alpha's row leaves the loss columns empty and the objective's rows the alpha path's: every table
    still gives each column one dtype, so tuning.tsv's concatenation is the same in pandas versions that stop
    ignoring all-NA columns (it warned: a FutureWarning, an error under this suite's filterwarnings)."""
    import pandas as pd

    from deepsubtype.tuning import alpha_path_table, objective_table

    from ..conftest import FAST_MODEL, make_cohort

    expression, clinical = make_cohort()
    clinical = clinical.set_index("sample").loc[expression.index]
    X = expression.to_numpy(np.float32)
    X = (X - X.mean(0)) / X.std(0)
    model = DeepType(**{**FAST_MODEL, "hidden_layers": tuple(FAST_MODEL["hidden_layers"])}, task="survival",
                     device="cpu").fit(X, clinical[["time", "event"]].to_numpy(float))
    tables = [alpha_path_table(model), objective_table(model)]
    assert len(tables[1]) == 3, "objective auto scored its three candidates"
    assert dict(tables[0].dtypes) == dict(tables[1].dtypes)
    combined = pd.concat(tables, ignore_index=True)
    assert str(combined["n_genes_tenth"].dtype) == "Int64" and combined["held_out_loss"].dtype == np.float64

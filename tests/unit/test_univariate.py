"""The univariate gene ranking set beside DeepType's: t-test, ANOVA, Spearman, Cox score test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines.statistics import logrank_test
from scipy import stats

from deepsubtype.importance import ranking_overlap, univariate_ranking
from deepsubtype.survival import cox_score_test

GENES = [f"g{i}" for i in range(6)]


def _data(seed: int = 0, n: int = 120) -> tuple[np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)), rng


def test_two_classes_use_welch_and_put_the_shifted_gene_first() -> None:
    X, rng = _data()
    y = np.where(rng.random(120) < 0.4, "neg", "pos").astype(object)
    X[y == "pos", 3] += 1.5
    y[:4] = None  # missing labels are left out
    table = univariate_ranking(X, y, "classification", GENES)
    assert table["gene"].iloc[0] == "g3" and table["test"].iloc[0].startswith("Welch t-test (pos vs neg)")
    known = pd.Series(y).notna().to_numpy()
    expected = stats.ttest_ind(X[known & (y == "pos"), 3], X[known & (y == "neg"), 3], equal_var=False)
    assert table["statistic"].iloc[0] == pytest.approx(expected.statistic)
    assert table["p_value"].iloc[0] == pytest.approx(expected.pvalue)
    assert list(table["rank"]) == list(range(1, 7))


def test_three_classes_use_anova_and_regression_spearman() -> None:
    X, rng = _data(1)
    y = rng.choice(["a", "b", "c"], 120).astype(object)
    X[y == "c", 1] += 2.0
    assert univariate_ranking(X, y, "classification", GENES)["gene"].iloc[0] == "g1"
    value = np.exp(X[:, 4]) + rng.normal(scale=0.1, size=120)  # monotone, not linear: Spearman's case
    table = univariate_ranking(X, value, "regression", GENES)
    assert table["gene"].iloc[0] == "g4" and table["test"].iloc[0] == "Spearman correlation"
    assert table["statistic"].iloc[0] == pytest.approx(stats.spearmanr(X[:, 4], value).statistic)
    assert univariate_ranking(X, None, "reconstruction", GENES) is None


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_cox_score_test_of_a_binary_covariate_is_the_logrank_test(seed: int) -> None:
    rng = np.random.default_rng(seed)
    group = rng.random(60) < 0.5
    time = rng.exponential(np.where(group, 1.0, 2.0))  # continuous: no ties
    event = rng.random(60) < 0.8
    if not event.any():
        event[0] = True
    z, p_value = cox_score_test(group[:, None].astype(float), time, event)
    expected = logrank_test(time[group], time[~group], event[group], event[~group])
    assert z[0] ** 2 == pytest.approx(expected.test_statistic, rel=1e-6)
    assert p_value[0] == pytest.approx(expected.p_value, rel=1e-5)


def test_survival_ranking_finds_the_risk_gene() -> None:
    X, rng = _data(2, 200)
    time = rng.exponential(np.exp(-0.8 * X[:, 5]))
    event = (rng.random(200) < 0.7).astype(float)
    table = univariate_ranking(X, np.column_stack([time, event]), "survival", GENES)
    assert table["gene"].iloc[0] == "g5" and table["statistic"].iloc[0] > 0, "higher expression, higher risk"


def test_ranking_overlap_lists_what_each_top_list_holds_alone() -> None:
    ours = pd.DataFrame({"gene": ["a", "b", "c", "d"]})
    theirs = pd.DataFrame({"gene": ["b", "e", "a", "f"]})
    table = ranking_overlap(ours, theirs, sizes=(2, 4))
    assert list(table["in_both"]) == [1, 2]
    assert table.loc[0, "only_deeptype"] == "a" and table.loc[0, "only_univariate"] == "e"
    assert table.loc[1, "jaccard"] == pytest.approx(2 / 6)

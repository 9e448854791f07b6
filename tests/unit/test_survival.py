from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepsubtype.io import InputError
from deepsubtype.survival import (
    COVARIATE_MISSING,
    covariate_table,
    cox_by_cluster,
    group_log_hazard,
    kaplan_meier_table,
    logrank_statistic,
    logrank_table,
    per_fold_logrank,
    survival_columns,
    survival_frame,
)


def _clinical(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns, index=[f"s{i}" for i in range(len(next(iter(columns.values()))))])


def test_survival_frame_drops_missing_and_counts() -> None:
    clinical = _clinical(t=[5.0, np.nan, 3.0, 0.0], e=[1, 1, np.nan, 1])
    clusters = pd.Series([0, 0, 1, 1], index=clinical.index)
    frame, dropped = survival_frame(clusters, clinical, time_column="t", event_column="e")
    assert dropped == 2
    assert list(frame.index) == ["s0", "s3"]
    assert frame.loc["s3", "time"] == 0.0, "an event at time 0 is kept"


@pytest.mark.parametrize(("columns", "message"), [
    ({"t": [1.0, -2.0], "e": [1, 0]}, "negative survival time -2.0 in column 't' for sample 's1'"),
    ({"t": [1.0, 2.0], "e": [1, 2]}, "event must be 0 or 1, got 2 in column 'e' for sample 's1'"),
    ({"t": [1.0, "soon"], "e": [1, 0]}, "non-numeric survival value 'soon' in column 't' for sample 's1'"),
    ({"t": [1.0, 2.0], "e": ["dead", "gone"]}, "non-numeric survival value 'gone' in column 'e' for sample 's1'"),
    ({"t": [np.nan, np.nan], "e": [1, 0]}, "survival columns 't'/'e' have no value"),
    ({"time": [1.0, 2.0], "e": [1, 0]}, "survival column 't' not found"),
])
def test_bad_survival_columns_name_the_problem(columns, message) -> None:
    clinical = _clinical(**columns)
    with pytest.raises(InputError, match=message):
        survival_frame(pd.Series([0, 1], index=clinical.index), clinical, time_column="t", event_column="e")


def test_event_text_codings_are_read_as_documented() -> None:
    # cBioPortal's "1:DECEASED"/"0:LIVING", plain words in any case, numbers as text
    clinical = _clinical(t=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], e=["1:DECEASED", "0:LIVING", "Dead", "alive", "1", None])
    _, event = survival_columns(clinical, time_column="t", event_column="e")
    assert event.tolist()[:5] == [1, 0, 1, 0, 1] and np.isnan(event.iloc[5])


def test_cox_leaves_out_patients_missing_a_text_covariate() -> None:
    # one-hot encoding would code a missing stage as the reference level and keep those 20 patients
    rng = np.random.default_rng(0)
    n = 120
    stage = pd.Series(rng.choice(["I", "II", "III"], n), index=[f"s{i}" for i in range(n)], dtype=object)
    stage.iloc[:20] = np.nan
    clinical = pd.DataFrame({"stage": stage.astype("category"), "age": rng.normal(60, 10, n)}, index=stage.index)
    frame = pd.DataFrame({"cluster": rng.integers(0, 2, n), "time": rng.exponential(10, n),
                          "event": rng.integers(0, 2, n)}, index=stage.index)
    result = cox_by_cluster(frame, clinical, covariates=["stage", "age"])
    assert result.model.loc[0, "n"] == 100
    assert result.model.loc[0, "n_dropped_missing_covariates"] == 20
    assert set(result.terms["term"]) == {"stage_II", "stage_III", "age", "cluster_1"}


def test_a_numeric_covariate_with_words_for_missing_values_stays_numeric(caplog: pytest.LogCaptureFixture) -> None:
    # as a normalized.h5ad stores a column of numbers and words: categories of text
    rng = np.random.default_rng(0)
    n = 120
    index = pd.Index([f"s{i}" for i in range(n)])
    age = pd.Series(rng.integers(35, 80, n).astype(str), index=index, dtype=object)
    age.iloc[[3, 10, 20]] = ["unknown", " Not Available", "NA"]
    stage = pd.Series(rng.choice(["I", "II", "unknown"], n), index=index)
    clinical = pd.DataFrame({"age": age.astype("category"), "stage": stage})
    frame = pd.DataFrame({"cluster": rng.integers(0, 2, n), "time": rng.exponential(10, n),
                          "event": rng.integers(0, 2, n)}, index=index)
    with caplog.at_level("WARNING"):
        result = cox_by_cluster(frame, clinical, covariates=["age", "stage"], source="clinical.tsv")
    assert result.model.loc[0, "n_dropped_missing_covariates"] == 3
    # a text column keeps its categories, 'unknown' one of them
    assert set(result.terms["term"]) == {"age", "stage_II", "stage_unknown", "cluster_1"}
    assert ("clinical.tsv: Cox covariate 'age' is numeric but for 3 cells of words for a missing value, read as "
            "missing (those patients are left out of the Cox model): s3 'unknown', s10 ' Not Available', s20 'NA'"
            ) in caplog.text
    table = covariate_table(clinical, ["age", "stage"])
    assert table["age"].dtype == np.float64 and table["age"].isna().sum() == 3 and table["stage"].equals(stage)
    # a column with one cell that is neither a number nor such a word is text
    age.iloc[5] = "about 60"
    assert covariate_table(pd.DataFrame({"age": age}), ["age"])["age"].equals(age)
    assert set(COVARIATE_MISSING) >= {"unknown", "not available", "[not available]"}


def test_kaplan_meier_median_by_hand() -> None:
    # cluster 0: deaths at 1, 2, 3, 4 -> S drops to 0.5 at t=2; cluster 1: one death in four, median not reached
    frame = pd.DataFrame({"cluster": [0] * 4 + [1] * 4, "time": [1, 2, 3, 4, 1, 2, 3, 4],
                          "event": [1, 1, 1, 1, 1, 0, 0, 0]})
    table = kaplan_meier_table(frame)
    assert list(table["cluster"]) == [0, 1]
    assert list(table["n"]) == [4, 4] and list(table["events"]) == [4, 1]
    assert table.loc[0, "median_survival"] == 2.0
    assert np.isnan(table.loc[1, "median_survival"]), "not reached -> NaN, written as NA"


def test_logrank_separates_different_groups() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"cluster": np.repeat([0, 1, 2], 60),
                          "time": np.concatenate([rng.exponential(s, 60) for s in (5.0, 20.0, 60.0)]),
                          "event": 1})
    table = logrank_table(frame)
    assert table.loc[0, "degrees_of_freedom"] == 2
    assert table.loc[0, "p_value"] < 1e-6
    same = frame.assign(time=rng.exponential(10.0, len(frame)))
    assert logrank_table(same).loc[0, "p_value"] > 0.01


def test_logrank_with_one_cluster_is_undefined_not_an_error() -> None:
    frame = pd.DataFrame({"cluster": [0, 0, 0], "time": [1.0, 2.0, 3.0], "event": [1, 0, 1]})
    assert np.isnan(logrank_table(frame).loc[0, "p_value"])


def test_per_fold_logrank_sums_the_folds_and_needs_no_matching_of_clusters() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"cluster": np.tile(np.repeat([0, 1], 20), 3),
                          "time": rng.exponential(np.tile(np.repeat([5.0, 30.0], 20), 3)), "event": 1})
    folds = np.repeat([0, 1, 2], 40)
    statistic, df, p = per_fold_logrank(frame, folds)
    by_fold = [logrank_table(frame[folds == fold]).loc[0] for fold in range(3)]
    assert df == 3 and np.isclose(statistic, sum(row["test_statistic"] for row in by_fold)) and p < 1e-6
    # fold 1 names its clusters the other way round: the same figure (a pooled test would lose the difference)
    swapped = frame.assign(cluster=np.where(folds == 1, 1 - frame["cluster"], frame["cluster"]))
    assert np.allclose(per_fold_logrank(swapped, folds), (statistic, df, p))
    assert logrank_table(swapped).loc[0, "p_value"] > p
    # a fold with one cluster adds nothing; no fold with a test gives p 1
    one_cluster = frame.assign(cluster=np.where(folds == 2, 0, frame["cluster"]))
    assert per_fold_logrank(one_cluster, folds)[1] == 2
    assert per_fold_logrank(frame.assign(cluster=0), folds) == (0.0, 0, 1.0)


# R's survival::aml (Miller 1981, acute myelogenous leukaemia): weeks to relapse, maintained chemotherapy or not.
AML_MAINTAINED = [(9, 1), (13, 1), (13, 0), (18, 1), (23, 1), (28, 0), (31, 1), (34, 1), (45, 0), (48, 1), (161, 0)]
AML_NOT_MAINTAINED = [(5, 1), (5, 1), (8, 1), (8, 1), (12, 1), (16, 0), (23, 1), (27, 1), (30, 1), (33, 1), (43, 1),
                      (45, 1)]


@pytest.fixture
def aml() -> pd.DataFrame:
    rows = [(0, t, e) for t, e in AML_MAINTAINED] + [(1, t, e) for t, e in AML_NOT_MAINTAINED]
    return pd.DataFrame(rows, columns=["cluster", "time", "event"])


def test_logrank_and_cox_reproduce_r_survival_on_aml(aml) -> None:
    """Published R output: survdiff Chisq= 3.4 on 1 df, p= 0.0653; coxph coef 0.9155, exp(coef) 2.498,
    se 0.5119, p 0.0737, likelihood ratio test 3.38 on 1 df, p=0.06581 (Therneau, survival package)."""
    from deepsubtype.survival import cox_by_cluster

    test = logrank_table(aml).iloc[0]
    assert round(test["test_statistic"], 1) == 3.4
    assert round(test["p_value"], 4) == 0.0653
    cox = cox_by_cluster(aml)
    term = cox.terms.iloc[0]
    assert term["term"] == "cluster_1"
    assert round(term["coef"], 4) == 0.9155
    assert round(term["hazard_ratio"], 3) == 2.498
    assert round(term["se"], 4) == 0.5119
    assert round(term["p_value"], 4) == 0.0737
    assert round(cox.model.loc[0, "likelihood_ratio_p_value"], 5) == 0.06581


def test_kaplan_meier_medians_match_r_on_aml(aml) -> None:
    """R: survfit(Surv(time, status) ~ x, aml): medians 31 (maintained) and 23 (nonmaintained) weeks."""
    table = kaplan_meier_table(aml, horizon=50.0)
    assert list(table["median_survival"]) == [31.0, 23.0]
    assert table.loc[0, "rmst"] > table.loc[1, "rmst"] > 0


def test_p_value_adjustments() -> None:
    from deepsubtype.survival import adjust_p_values

    p = np.array([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(adjust_p_values(p, "holm"), [0.04, 0.09, 0.09, 0.5])
    np.testing.assert_allclose(adjust_p_values(p, "bh"), [0.04, 0.05333333, 0.05333333, 0.5])
    with pytest.raises(ValueError, match="holm"):
        adjust_p_values(p, "bonferonni")


def test_pairwise_logrank_and_adjusted_cox_with_covariates() -> None:
    from deepsubtype.survival import cox_by_cluster, pairwise_logrank_table

    rng = np.random.default_rng(1)
    n = 240
    cluster = np.repeat([0, 1, 2], n // 3)
    age = rng.normal(60, 10, n)
    grade = rng.choice(["G1", "G2", "G3"], n)
    time = rng.exponential(30 / np.exp(0.8 * cluster + 0.03 * (age - 60)))
    frame = pd.DataFrame({"cluster": cluster, "time": time, "event": 1}, index=[f"s{i}" for i in range(n)])
    clinical = pd.DataFrame({"age": age, "grade": grade}, index=frame.index)
    clinical.iloc[0, 0] = np.nan
    pairs = pairwise_logrank_table(frame, adjustment="holm")
    assert len(pairs) == 3 and (pairs["p_adjusted"] >= pairs["p_value"]).all()
    cox = cox_by_cluster(frame, clinical, covariates=["age", "grade"])
    terms = cox.terms.set_index("term")
    assert {"cluster_1", "cluster_2", "age", "grade_G2", "grade_G3"} == set(terms.index)
    assert 1.6 < terms.loc["cluster_1", "hazard_ratio"] < 3.2  # true HR e^0.8 = 2.2
    assert terms.loc["cluster_2", "hazard_ratio"] > terms.loc["cluster_1", "hazard_ratio"]
    assert cox.model.loc[0, "n_dropped_missing_covariates"] == 1
    assert 0.6 < cox.model.loc[0, "concordance_index"] < 0.9
    with pytest.raises(InputError, match="Cox covariate 'stage' not found"):
        cox_by_cluster(frame, clinical, covariates=["stage"])


def test_statistics_that_cannot_be_computed_say_why() -> None:
    from deepsubtype.survival import CoxUnavailable

    rng = np.random.default_rng(1)
    n = 30
    frame = pd.DataFrame({"cluster": rng.integers(0, 2, n), "time": rng.exponential(10, n), "event": 0})
    table = logrank_table(frame)
    assert np.isnan(table.loc[0, "p_value"]) and table.loc[0, "note"] == "no event: the test is undefined"
    with pytest.raises(CoxUnavailable, match="no event among the 30 patients"):
        cox_by_cluster(frame)
    per_patient = frame.assign(cluster=np.arange(n), event=rng.integers(0, 2, n))
    with pytest.raises(CoxUnavailable, match="29 terms .* a Cox model needs fewer terms than events"):
        cox_by_cluster(per_patient)
    table = logrank_table(per_patient)
    assert table.loc[0, "note"].startswith("30 clusters of fewer than 5 patients (0 (1), 1 (1), 2 (1), 3 (1), "
                                           "4 (1), ...); no test among the others")
    assert np.isnan(table.loc[0, "p_value_without_small"]) and table.loc[0, "n_clusters_without_small"] == 0


def test_logrank_names_small_clusters_and_tests_without_them(aml) -> None:
    """Two patients in a third cluster change the K-group test; the test among the other clusters is the
    two-group test itself, and with no small cluster both p-values are one."""
    whole = logrank_table(aml).iloc[0]
    assert whole["small_clusters"] == "" and whole["note"] == ""
    assert whole["p_value_without_small"] == whole["p_value"] and whole["n_clusters_without_small"] == 2
    extra = pd.DataFrame({"cluster": [2, 2], "time": [1.0, 2.0], "event": [1, 1]})
    table = logrank_table(pd.concat([aml, extra], ignore_index=True)).iloc[0]
    assert table["n_clusters"] == 3 and table["degrees_of_freedom"] == 2
    assert table["p_value"] != pytest.approx(whole["p_value"], rel=1e-3)
    assert table["small_clusters"] == "2:2" and table["n_clusters_without_small"] == 2
    assert table["p_value_without_small"] == pytest.approx(whole["p_value"], rel=1e-12)
    assert table["note"] == f"1 cluster of fewer than 5 patients (2 (2)); p among the other 2 clusters: " \
                            f"{whole['p_value']:.3g}"
    assert logrank_table(pd.concat([aml, extra]), min_cluster_size=2)["small_clusters"].iloc[0] == ""
    with pytest.raises(ValueError, match="min_cluster_size must be at least 1, got 0"):
        logrank_table(aml, min_cluster_size=0)


def test_survival_stage_writes_na_with_the_reason_instead_of_a_lifelines_error(tmp_path) -> None:
    import anndata as ad

    from deepsubtype.stages import survival_stage

    rng = np.random.default_rng(2)
    n = 30
    obs = pd.DataFrame({"time": rng.exponential(10, n), "event": 0.0}, index=[f"s{i}" for i in range(n)])
    ad.AnnData(np.zeros((n, 2), np.float32), obs=obs).write_h5ad(tmp_path / "normalized.h5ad")
    pd.DataFrame({"sample": obs.index, "cluster": np.arange(n) % 2}).to_csv(tmp_path / "clusters.tsv", sep="\t",
                                                                            index=False)
    test = survival_stage(tmp_path / "clusters.tsv", tmp_path / "normalized.h5ad", tmp_path / "survival",
                          time_column="time", event_column="event")
    assert np.isnan(test.loc[0, "p_value"])
    model = pd.read_csv(tmp_path / "survival" / "cox_model.tsv", sep="\t")
    assert model.loc[0, "note"] == "no Cox model: no event among the 30 patients" and model.loc[0, "n"] == 30
    assert pd.read_csv(tmp_path / "survival" / "cox.tsv", sep="\t").empty


def _er_cohort(seed: int, *, split_effect: float = 0.0, n: int = 120) -> tuple[pd.DataFrame, pd.Series]:
    """The demo's shape: cluster 1 = the ER-negative patients (hazard e^1.5), clusters 0 and 2 a split of the
    ER-positive ones whose cluster 2 has hazard e^split_effect against cluster 0; exponential censoring."""
    rng = np.random.default_rng(seed)
    negative, split = rng.random(n) < 0.3, rng.random(n) < 0.4
    time = rng.exponential(1 / np.exp(1.5 * negative + split_effect * (~negative & split)))
    censoring = rng.exponential(2.0, n)
    index = [f"P{i}" for i in range(n)]
    frame = pd.DataFrame({"cluster": np.where(negative, 1, np.where(split, 2, 0)),
                          "time": np.minimum(time, censoring), "event": (time <= censoring).astype(int)}, index=index)
    return frame, pd.Series(np.where(negative, "negative", "positive"), index=index, name="er_status")


def test_clusters_that_follow_the_target_add_nothing_beyond_it() -> None:
    """Survival depends on ER only: the clusters' log-rank p is tiny, the test within ER classes is not (40 draws:
    at most 6 below 0.05, where a valid test expects 2; 4.7 % of 300 other draws; the plain log-rank test
    rejects in every draw)."""
    from deepsubtype.survival import beyond_target

    beyond, plain = [], []
    for seed in range(40):
        frame, target = _er_cohort(seed)
        beyond.append(beyond_target(frame, target, kind="categorical").loc[0, "p_value"])
        plain.append(logrank_table(frame).loc[0, "p_value"])
    assert max(plain) < 0.05
    assert sum(p < 0.05 for p in beyond) <= 6 and np.mean(beyond) > 0.35
    table = beyond_target(*_er_cohort(0), kind="categorical")
    assert table.loc[0, "p_value"] > 0.05 and logrank_table(_er_cohort(0)[0]).loc[0, "p_value"] < 1e-8
    assert table.loc[0, "c_index_gain"] < 0.02


def test_a_prognostic_split_within_one_class_is_found_beyond_the_target() -> None:
    from deepsubtype.survival import beyond_target

    frame, target = _er_cohort(0, split_effect=1.2)
    table = beyond_target(frame, target, kind="categorical")
    overall, negative, positive = (table.iloc[i] for i in range(3))
    assert overall["test"] == "cox_lr_stratified" and overall["stratum"] == "all"
    assert overall["p_value"] < 0.01 and overall["degrees_of_freedom"] == 1 and overall["cluster_terms"] == "cluster_2"
    assert overall["note"] == "left out, aliased with er_status (adds nothing within its classes): cluster_1"
    assert overall["c_index_target_clusters"] > overall["c_index_target"] > 0.5
    assert overall["c_index_gain"] == pytest.approx(overall["c_index_target_clusters"] - overall["c_index_target"])
    assert overall["c_index_note"].startswith("in sample")
    assert "within the er_status classes" in overall["question"]
    # per class: ER-negative holds cluster 1 only; ER-positive's log-rank test of clusters 0 and 2
    assert (negative["stratum"], negative["clusters"], negative["note"]) == ("negative", "1", "one cluster only")
    assert np.isnan(negative["p_value"]) and negative["n"] + positive["n"] == overall["n"] == 120
    assert (positive["stratum"], positive["clusters"], positive["degrees_of_freedom"]) == ("positive", "0,2", 1)
    assert positive["p_value"] < 0.01 and positive["events"] == frame.loc[target == "positive", "event"].sum()


def test_the_stratified_test_is_the_cox_test_with_one_class_and_matches_statsmodels_with_three() -> None:
    from deepsubtype.survival import beyond_target

    rng = np.random.default_rng(3)
    n = 150
    classes, cluster = rng.choice(["a", "b", "c"], n), rng.integers(0, 3, n)
    time = rng.exponential(10, n) * np.where(cluster == 2, 0.6, 1) * np.where(classes == "a", 0.5, 1)
    frame = pd.DataFrame({"cluster": cluster, "time": time, "event": rng.integers(0, 2, n)},
                         index=[f"s{i}" for i in range(n)])
    # statsmodels PHReg(time, cluster indicators, status, strata=classes, ties="efron"): LR 7.2504 on 2 df
    overall = beyond_target(frame, pd.Series(classes, index=frame.index, name="g"), kind="categorical").iloc[0]
    assert overall["test_statistic"] == pytest.approx(7.250412, rel=1e-5) and overall["degrees_of_freedom"] == 2
    one_class = beyond_target(frame, pd.Series("a", index=frame.index, name="g"), kind="categorical").iloc[0]
    assert one_class["p_value"] == pytest.approx(cox_by_cluster(frame).model.loc[0, "likelihood_ratio_p_value"])
    assert one_class["c_index_target"] == 0.5


def test_clusters_aliased_with_the_target_have_nothing_to_test() -> None:
    from deepsubtype.survival import beyond_target

    frame, target = _er_cohort(1)
    table = beyond_target(frame.assign(cluster=(target == "negative").astype(int)), target, kind="categorical")
    assert np.isnan(table.loc[0, "p_value"]) and table.loc[0, "degrees_of_freedom"] == 0
    assert table.loc[0, "cluster_terms"] == ""
    assert table.loc[0, "note"] == ("left out, aliased with er_status (adds nothing within its classes): cluster_1; "
                                    "no cluster term left: nothing to test beyond er_status")
    assert table.loc[0, "c_index_gain"] == 0.0
    assert (table["note"].iloc[1:] == "one cluster only").all()


def test_patients_without_a_target_value_are_left_out_and_counted() -> None:
    from deepsubtype.survival import beyond_target

    frame, target = _er_cohort(2, split_effect=1.0)
    target = target.astype(object)
    target.iloc[:7] = np.nan
    table = beyond_target(frame, target.drop(target.index[7:9]), kind="categorical")  # 2 absent from the Series
    assert table.loc[0, "n_dropped_missing_target"] == 9 and table.loc[0, "n"] == 111
    assert table.loc[0, "events"] == frame["event"].iloc[9:].sum()
    assert table["n"].iloc[1:].sum() == 111 and list(table["stratum"]) == ["all", "negative", "positive"]
    assert table.loc[0, "p_value"] != beyond_target(frame, _er_cohort(2)[1], kind="categorical").loc[0, "p_value"]


def test_numeric_target_clusters_are_tested_as_added_to_it() -> None:
    from deepsubtype.survival import beyond_target

    rng = np.random.default_rng(5)
    n = 200
    marker, extra = rng.normal(size=n), rng.random(n) < 0.3
    index = [f"s{i}" for i in range(n)]
    thirds = np.digitize(marker, np.quantile(marker, [1 / 3, 2 / 3]))  # clusters that follow the marker

    def cohort(effect: float) -> pd.DataFrame:
        time = rng.exponential(1 / np.exp(marker + effect * extra))
        return pd.DataFrame({"time": time, "event": 1}, index=index)

    target = pd.Series(marker, index=index, name="marker")
    follows = beyond_target(cohort(0.0).assign(cluster=thirds), target, kind="numeric")
    assert len(follows) == 1 and follows.loc[0, "test"] == "cox_lr_adjusted"
    assert follows.loc[0, "degrees_of_freedom"] == 2 and follows.loc[0, "p_value"] > 0.05
    assert logrank_table(cohort(0.0).assign(cluster=thirds)).loc[0, "p_value"] < 1e-6
    adds = beyond_target(cohort(1.5).assign(cluster=extra.astype(int)), target, kind="numeric")
    assert adds.loc[0, "p_value"] < 1e-4 and adds.loc[0, "c_index_gain"] > 0.02
    with pytest.raises(InputError, match="non-numeric value 'high' in target column 'marker' for sample 's3'"):
        beyond_target(cohort(0.0).assign(cluster=thirds), target.astype(object).where(target.index != "s3", "high"),
                      kind="numeric")


def test_survival_stage_writes_beyond_target_or_says_why_not(tmp_path) -> None:
    import anndata as ad

    from deepsubtype.stages import survival_stage

    frame, target = _er_cohort(0, split_effect=1.2)
    obs = frame[["time", "event"]].assign(er_status=pd.Categorical(target))
    ad.AnnData(np.zeros((len(obs), 2), np.float32), obs=obs).write_h5ad(tmp_path / "normalized.h5ad")
    frame["cluster"].rename_axis("sample").reset_index().to_csv(tmp_path / "clusters.tsv", sep="\t", index=False)
    settings = {"time_column": "time", "event_column": "event"}
    for task, target_column, note in [("survival", "er_status", "task survival: the target is the outcome itself"),
                                      ("reconstruction", None, "task reconstruction has no target"),
                                      ("classification", None, "no target column configured")]:
        survival_stage(tmp_path / "clusters.tsv", tmp_path / "normalized.h5ad", tmp_path / task, task=task,
                       target=target_column, **settings)
        written = pd.read_csv(tmp_path / task / "beyond_target.tsv", sep="\t")
        assert len(written) == 1 and written.loc[0, "note"].startswith(note) and np.isnan(written.loc[0, "p_value"])
        meaning = pd.read_csv(tmp_path / task / "logrank.tsv", sep="\t").loc[0, "p_value_meaning"]
        assert meaning.startswith("not a test" if task == "survival" else "valid"), (task, meaning)
    survival_stage(tmp_path / "clusters.tsv", tmp_path / "normalized.h5ad", tmp_path / "er", task="binary",
                   target="er_status", **settings)
    written = pd.read_csv(tmp_path / "er" / "beyond_target.tsv", sep="\t")
    assert list(written["stratum"]) == ["all", "negative", "positive"] and written.loc[0, "p_value"] < 0.01
    with pytest.raises(InputError, match="target column 'er' not found"):
        survival_stage(tmp_path / "clusters.tsv", tmp_path / "normalized.h5ad", tmp_path / "bad",
                       task="classification", target="er", **settings)
    assert not (tmp_path / "bad").exists()


def test_the_numpy_logrank_statistic_is_lifelines_multivariate_test() -> None:
    """The permutation test's log-rank chi-square equals lifelines' on random cohorts (ties, 2-4 groups, a group
    without events) and is (0, 0) where the test is undefined."""
    from lifelines.statistics import multivariate_logrank_test

    rng = np.random.default_rng(3)
    for case in range(60):
        n, groups = int(rng.integers(8, 120)), int(rng.integers(2, 5))
        time = np.round(rng.exponential(30, n)) if case % 2 else rng.exponential(30, n)
        event = rng.random(n) < rng.uniform(0.2, 1.0)
        labels = rng.integers(0, groups, n)
        if len(np.unique(labels)) < 2 or not event.any():
            continue
        expected = multivariate_logrank_test(time, labels, event)
        statistic, df = logrank_statistic(time, event, labels)
        assert statistic == pytest.approx(expected.test_statistic, rel=1e-8, abs=1e-10)
        assert df == expected.degrees_of_freedom
    assert logrank_statistic(np.arange(5.0), np.ones(5), np.zeros(5)) == (0.0, 0)
    assert logrank_statistic(np.arange(6.0), np.zeros(6), np.arange(6) % 2) == (0.0, 0)


def test_group_log_hazard_ranks_groups_by_observed_over_expected_events() -> None:
    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1, 2], 200)
    time = rng.exponential(1.0 / np.array([1.0, 2.0, 4.0])[groups])
    hazard = group_log_hazard(time, np.ones(600), groups)
    assert list(hazard.index) == [0, 1, 2] and hazard.is_monotonic_increasing
    assert hazard[2] - hazard[0] == pytest.approx(np.log(4), abs=0.5), "about the log hazard ratio"
    assert np.allclose(group_log_hazard(time, np.zeros(600), groups), 0.0), "no events: no difference"


def test_a_covariate_constant_among_the_models_patients_is_named() -> None:
    # lifelines stops on the singular matrix with its own words; the normalize stage refuses a covariate constant in
    # the whole cohort (tests/bad_inputs.py, constant_cox_covariate), this is one constant among those Cox keeps
    from deepsubtype.survival import CoxUnavailable

    rng = np.random.default_rng(0)
    index = pd.Index([f"s{i}" for i in range(40)])
    frame = pd.DataFrame({"cluster": np.arange(40) % 2, "time": rng.exponential(10, 40),
                          "event": rng.integers(0, 2, 40)}, index=index)
    clinical = pd.DataFrame({"age": np.where(np.arange(40) < 5, np.nan, 61.0)}, index=index)
    with pytest.raises(CoxUnavailable, match="covariate term 'age' has one value among the 35 patients of the model"):
        cox_by_cluster(frame, clinical, covariates=["age"])

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepsubtype.io import InputError
from deepsubtype.survival import kaplan_meier_table, logrank_table, survival_frame


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
    ({"t": [1.0, "soon"], "e": [1, 0]}, "non-numeric survival value for sample 's1'"),
    ({"time": [1.0, 2.0], "e": [1, 0]}, "survival column 't' not found"),
])
def test_bad_survival_columns_name_the_problem(columns, message) -> None:
    clinical = _clinical(**columns)
    with pytest.raises(InputError, match=message):
        survival_frame(pd.Series([0, 1], index=clinical.index), clinical, time_column="t", event_column="e")


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

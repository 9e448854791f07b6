"""Survival by cluster: Kaplan-Meier estimates and the multivariate log-rank test (lifelines)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times

from .io import InputError

__all__ = ["survival_frame", "kaplan_meier_table", "logrank_table"]

logger = logging.getLogger(__name__)


def survival_frame(clusters: pd.Series, clinical: pd.DataFrame, *, time_column: str, event_column: str,
                   source: str = "clinical table") -> tuple[pd.DataFrame, int]:
    """Join cluster labels with survival columns.

    Returns (frame with columns ``cluster``, ``time``, ``event`` indexed by sample,
    number of samples dropped because time or event was missing). Raises
    :class:`InputError` for a missing column, a negative time or an event other than 0/1.
    """
    for column in (time_column, event_column):
        if column not in clinical.columns:
            raise InputError(f"{source}: survival column {column!r} not found; columns are {list(clinical.columns)}")
    time = pd.to_numeric(clinical[time_column], errors="coerce")
    event = pd.to_numeric(clinical[event_column], errors="coerce")
    unparsable = (time.isna() & clinical[time_column].notna()) | (event.isna() & clinical[event_column].notna())
    if unparsable.any():
        sample = unparsable.index[unparsable.to_numpy()][0]
        raise InputError(f"{source}: non-numeric survival value for sample {sample!r} "
                         f"(columns {time_column!r}, {event_column!r})")
    negative = time < 0
    if negative.any():
        sample = time.index[negative.to_numpy()][0]
        raise InputError(f"{source}: negative survival time {clinical.at[sample, time_column]} "
                         f"in column {time_column!r} for sample {sample!r}")
    not_binary = event.notna() & ~event.isin([0, 1])
    if not_binary.any():
        sample = event.index[not_binary.to_numpy()][0]
        raise InputError(f"{source}: event must be 0 or 1, got {clinical.at[sample, event_column]} "
                         f"in column {event_column!r} for sample {sample!r}")
    frame = pd.DataFrame({"cluster": clusters, "time": time.reindex(clusters.index),
                          "event": event.reindex(clusters.index)})
    complete = frame.dropna()
    dropped = len(frame) - len(complete)
    if dropped:
        logger.warning("%s: %d of %d samples lack survival time or event and are left out", source, dropped,
                       len(frame))
    if complete.empty:
        raise InputError(f"{source}: no sample has both {time_column!r} and {event_column!r}")
    complete = complete.astype({"event": np.int64})
    return complete, dropped


def _finite(value: float) -> float:
    return float(value) if np.isfinite(value) else float("nan")


def kaplan_meier_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster: ``n``, ``events``, ``median_survival`` and its 95 % CI.

    A median or bound that the curve does not reach within follow-up is NaN
    (lifelines reports it as infinity).
    """
    rows = []
    for cluster, group in frame.groupby("cluster", sort=True):
        fitter = KaplanMeierFitter().fit(group["time"], group["event"])
        interval = median_survival_times(fitter.confidence_interval_).iloc[0]
        rows.append({
            "cluster": cluster,
            "n": len(group),
            "events": int(group["event"].sum()),
            "median_survival": _finite(fitter.median_survival_time_),
            "median_lower_95": _finite(interval.iloc[0]),
            "median_upper_95": _finite(interval.iloc[1]),
        })
    return pd.DataFrame(rows)


def logrank_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Multivariate log-rank test of equal survival across all clusters, as a one-row table.

    With a single cluster the test is undefined: statistic and p-value are NaN.
    """
    n_clusters = frame["cluster"].nunique()
    row: dict[str, object] = {"test": "multivariate_logrank", "n_samples": len(frame),
                              "n_events": int(frame["event"].sum()), "n_clusters": n_clusters}
    if n_clusters < 2:
        row.update(test_statistic=np.nan, degrees_of_freedom=0, p_value=np.nan)
    else:
        result = multivariate_logrank_test(frame["time"], frame["cluster"], frame["event"])
        row.update(test_statistic=float(result.test_statistic), degrees_of_freedom=n_clusters - 1,
                   p_value=float(result.p_value))
    return pd.DataFrame([row])

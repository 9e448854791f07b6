"""Survival by cluster (lifelines): Kaplan-Meier, log-rank tests, Cox proportional hazards."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from .errors import InputError
from .tables import MISSING_TOKENS

# lifelines takes ~1 s to import: its functions are loaded where a statistic is computed, so that the jobs that
# only check survival columns (normalize, train) do not pay for it
if TYPE_CHECKING:
    from lifelines import CoxPHFitter

__all__ = ["cox_score_test", "EVENT_CODES", "COVARIATE_MISSING", "covariate_table", "InvalidPolicy", "invalid_survival",
           "survival_columns", "survival_frame",
           "kaplan_meier_table", "MIN_CLUSTER_SIZE", "logrank_table", "per_fold_logrank", "logrank_statistic",
           "group_log_hazard", "summed_logrank",
           "chi_square_p", "adjust_p_values", "pairwise_logrank_table", "CoxResult", "CoxUnavailable", "cox_by_cluster",
           "TargetKind", "TARGET_KINDS", "BEYOND_TARGET_COLUMNS", "beyond_target", "no_beyond_target"]

logger = logging.getLogger(__name__)


#: Text codings of the event column read as 1 (event) or 0 (censored), compared case-insensitively.
#: cBioPortal's ``1:DECEASED``/``0:LIVING`` style (a number, a colon, a word) is read by its number.
EVENT_CODES = {"dead": 1, "deceased": 1, "died": 1, "event": 1, "yes": 1, "true": 1,
               "alive": 0, "living": 0, "censored": 0, "no": 0, "false": 0}


def _event_numbers(values: pd.Series) -> pd.Series:
    """Event cells as numbers: numbers as they are, :data:`EVENT_CODES` words and ``N:WORD`` by their code."""
    def number(cell: object) -> object:
        if not isinstance(cell, str):
            return cell
        text = cell.strip().casefold()
        if text in EVENT_CODES:
            return EVENT_CODES[text]
        head = text.split(":", 1)[0]
        return head if ":" in text else text
    return pd.to_numeric(values.map(number), errors="coerce")


#: What to do with a sample whose survival values cannot be used (negative time, event not 0/1, text).
InvalidPolicy = Literal["fail", "drop"]


#: Why a survival cell cannot be used, in the order an error reports them.
_REASONS = ("non-numeric", "negative time", "event not 0/1")


def _survival_numbers(clinical: pd.DataFrame, time_column: str, event_column: str
                      ) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """(time, event as numbers, the :func:`invalid_survival` table) of ``clinical`` (columns present)."""
    time = pd.to_numeric(clinical[time_column], errors="coerce")
    event = _event_numbers(clinical[event_column])
    checks = [
        (time_column, time.isna() & clinical[time_column].notna(), "non-numeric"),
        (event_column, event.isna() & clinical[event_column].notna(), "non-numeric"),
        (time_column, time < 0, "negative time"),
        (event_column, event.notna() & ~event.isin([0, 1]), "event not 0/1"),
    ]
    rows = [{"sample": sample, "column": column, "value": str(clinical.at[sample, column]), "reason": reason,
             "position": clinical.index.get_loc(sample)}
            for column, mask, reason in checks for sample in clinical.index[mask.to_numpy()]]
    table = pd.DataFrame(rows, columns=["sample", "column", "value", "reason", "position"])
    return time, event, table.sort_values("position", kind="stable").drop(columns="position").reset_index(drop=True)


def invalid_survival(clinical: pd.DataFrame, *, time_column: str, event_column: str) -> pd.DataFrame:
    """One row per unusable survival cell of ``clinical`` (columns present): ``sample``, ``column``, ``value``,
    ``reason`` (``non-numeric``, ``negative time``, ``event not 0/1``), in table order."""
    return _survival_numbers(clinical, time_column, event_column)[2]


def _invalid_message(problem: pd.Series, n_problems: int) -> str:
    sample, column, value = problem["sample"], problem["column"], problem["value"]
    text = {"non-numeric": f"non-numeric survival value {value!r} in column {column!r} for sample {sample!r}",
            "negative time": f"negative survival time {value} in column {column!r} for sample {sample!r}",
            "event not 0/1": f"event must be 0 or 1, got {value} in column {column!r} for sample {sample!r}"}
    more = f"; {n_problems - 1} more such cells" if n_problems > 1 else ""
    return f"{text[problem['reason']]}{more} (survival.invalid: drop leaves such patients out)"


def survival_columns(clinical: pd.DataFrame, *, time_column: str, event_column: str,
                     source: str = "clinical table", invalid: InvalidPolicy = "fail") -> tuple[pd.Series, pd.Series]:
    """Survival time and event (0/1) of every sample of ``clinical`` as numbers, NaN where missing.

    Events may be 0/1 or text (:data:`EVENT_CODES`: dead/alive, ..., and cBioPortal's ``1:DECEASED``).
    Unusable cells (:func:`invalid_survival`: a non-numeric value, a negative time, an event other than
    0/1) raise :class:`InputError` naming ``source``, the column and the sample (``invalid="fail"``), or
    are logged by sample and reason and leave that sample's time and event missing (``"drop"``). A missing
    column, or no value at all, always raises.
    """
    for column in (time_column, event_column):
        if column not in clinical.columns:
            raise InputError(f"{source}: survival column {column!r} not found; columns are {list(clinical.columns)}")
    if invalid not in ("fail", "drop"):
        raise ValueError(f"survival invalid policy must be fail or drop, got {invalid!r}")
    time, event, problems = _survival_numbers(clinical, time_column, event_column)
    if len(problems) and invalid == "fail":
        # the first cell of the first kind in _REASONS: text, then negative times, then event codes
        first = problems.sort_values("reason", key=lambda reasons: reasons.map(_REASONS.index), kind="stable")
        raise InputError(f"{source}: {_invalid_message(first.iloc[0], len(problems))}")
    if len(problems):
        dropped = problems["sample"].unique()
        # mask, not assignment: pd.to_numeric hands back the caller's own column when it is numeric already
        time, event = time.mask(time.index.isin(dropped)), event.mask(event.index.isin(dropped))
        logger.warning("%s: survival.invalid drop: %d patient%s left out of survival: %s", source, len(dropped),
                       "" if len(dropped) == 1 else "s",
                       "; ".join(f"{row.sample} ({row.column} {row.value!r}: {row.reason})"
                                 for row in problems.itertuples()))
    if time.notna().sum() == 0 or event.notna().sum() == 0:
        raise InputError(f"{source}: survival columns {time_column!r}/{event_column!r} have no value")
    return time, event


def survival_frame(clusters: pd.Series, clinical: pd.DataFrame, *, time_column: str, event_column: str,
                   source: str = "clinical table") -> tuple[pd.DataFrame, int]:
    """Join cluster labels with survival columns (checked by :func:`survival_columns`).

    Returns (frame with columns ``cluster``, ``time``, ``event`` indexed by sample,
    number of samples dropped because time or event was missing).
    """
    time, event = survival_columns(clinical, time_column=time_column, event_column=event_column, source=source)
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


def kaplan_meier_table(frame: pd.DataFrame, *, horizon: float | None = None) -> pd.DataFrame:
    """One row per cluster: ``n``, ``events``, ``median_survival`` and its 95 % CI.

    A median or bound that the curve does not reach within follow-up is NaN
    (lifelines reports it as infinity). With ``horizon``, also the restricted mean
    survival time up to it (``rmst``: area under the Kaplan-Meier curve, in time units).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times, restricted_mean_survival_time

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
        if horizon is not None:
            rows[-1].update(rmst_horizon=horizon, rmst=float(restricted_mean_survival_time(fitter, t=horizon)))
    return pd.DataFrame(rows)


#: Clusters with fewer patients than this are "small": the log-rank test is also reported without them. The
#: test's chi-squared approximation wants about 5 expected events per group, which fewer patients never give.
MIN_CLUSTER_SIZE = 5


def _logrank_p(frame: pd.DataFrame) -> tuple[float, float]:
    """Statistic and p-value of the multivariate log-rank test across ``frame``'s clusters (NaN when undefined)."""
    if frame["cluster"].nunique() < 2 or not frame["event"].any():
        return np.nan, np.nan
    from lifelines.statistics import multivariate_logrank_test

    result = multivariate_logrank_test(frame["time"], frame["cluster"], frame["event"])
    return float(result.test_statistic), float(result.p_value)


def logrank_table(frame: pd.DataFrame, *, min_cluster_size: int = MIN_CLUSTER_SIZE) -> pd.DataFrame:
    """Multivariate log-rank test of equal survival across all clusters, as a one-row table.

    Undefined with a single cluster or no event: statistic and p-value are NaN and ``note`` says why.
    Clusters of fewer than ``min_cluster_size`` patients are named in ``small_clusters`` and ``note``, and
    the test is repeated among the other clusters (``p_value_without_small``, over ``n_clusters_without_small``
    clusters; equal to ``p_value`` when no cluster is small): a group of one or two patients can
    decide a K-group p-value on its own, and a reader should see both.
    """
    if min_cluster_size < 1:
        raise ValueError(f"min_cluster_size must be at least 1, got {min_cluster_size}")
    n_clusters = frame["cluster"].nunique()
    n_events = int(frame["event"].sum())
    sizes = frame["cluster"].value_counts().sort_index()
    small = sizes[sizes < min_cluster_size]
    large = frame[~frame["cluster"].isin(small.index)]
    statistic, p_value = _logrank_p(frame)
    _, p_without_small = _logrank_p(large) if len(small) else (statistic, p_value)
    row: dict[str, object] = {
        "test": "multivariate_logrank", "n_samples": len(frame), "n_events": n_events, "n_clusters": n_clusters,
        "test_statistic": statistic, "degrees_of_freedom": n_clusters - 1 if np.isfinite(p_value) else 0,
        "p_value": p_value, "min_cluster_size": min_cluster_size,
        "small_clusters": ",".join(f"{int(cluster)}:{count}" for cluster, count in small.items()),
        "n_clusters_without_small": large["cluster"].nunique(),
        "p_value_without_small": p_without_small,
    }
    if n_clusters < 2 or n_events == 0:
        row["note"] = "one cluster only" if n_clusters < 2 else "no event: the test is undefined"
    elif len(small):
        listed = ", ".join(f"{int(cluster)} ({count})" for cluster, count in list(small.items())[:5])
        plural = "s" if len(small) > 1 else ""
        row["note"] = (f"{len(small)} cluster{plural} of fewer than {min_cluster_size} patients ({listed}"
                       f"{', ...' if len(small) > 5 else ''}); "
                       + (f"p among the other {row['n_clusters_without_small']} clusters: {p_without_small:.3g}"
                          if np.isfinite(p_without_small) else "no test among the others (one cluster or no event)"))
    else:
        row["note"] = ""
    return pd.DataFrame([row])


def per_fold_logrank(frame: pd.DataFrame, folds: pd.Series | np.ndarray) -> tuple[float, int, float]:
    """The log-rank test of ``frame``'s clusters within each fold (``folds``: a fold per row), combined by
    :func:`summed_logrank`, as ``(statistic, degrees_of_freedom, p_value)``. A fold's cluster numbers need not
    mean what they mean in another fold, so this needs no matching of clusters across folds."""
    folds = np.asarray(folds)
    time, event, clusters = (frame[column].to_numpy() for column in ("time", "event", "cluster"))
    return summed_logrank([logrank_statistic(time[folds == fold], event[folds == fold], clusters[folds == fold])
                           for fold in np.unique(folds)])


def _risk_sets(time: np.ndarray, event: np.ndarray, groups: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group names (K,), patients at risk and events (T, K) at each of the T distinct event times)."""
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event).astype(bool)
    names, codes = np.unique(np.asarray(groups), return_inverse=True)
    event_times = np.unique(time[event])
    at_risk = np.empty((len(event_times), len(names)))
    deaths = np.empty_like(at_risk)
    for group in range(len(names)):
        member_times = np.sort(time[codes == group])
        member_deaths = np.sort(time[(codes == group) & event])
        at_risk[:, group] = len(member_times) - np.searchsorted(member_times, event_times, side="left")
        deaths[:, group] = (np.searchsorted(member_deaths, event_times, side="right")
                            - np.searchsorted(member_deaths, event_times, side="left"))
    return names, at_risk, deaths


def logrank_statistic(time: np.ndarray, event: np.ndarray, groups: np.ndarray) -> tuple[float, int]:
    """The multivariate log-rank chi-square of ``groups`` (n,) on ``time`` and ``event`` (n,; event 0/1) and its
    degrees of freedom (groups - 1), as lifelines' ``multivariate_logrank_test`` computes it (a test holds them
    equal), in NumPy without its per-call overhead (~0.1 ms against ~20 ms): a permutation test evaluates it
    thousands of times. ``(0.0, 0)`` where the test is undefined (one group, no event)."""
    names, at_risk, deaths = _risk_sets(time, event, groups)
    if len(names) < 2 or not deaths.any():
        return 0.0, 0
    n, d = at_risk.sum(1), deaths.sum(1)
    observed_minus_expected = (deaths - at_risk * (d / n)[:, None]).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ties = np.where(n > 1, (n - d) / (n - 1), 1.0)
    weight = ties * d / n**2  # hypergeometric variance of each event time, per pair of groups
    covariance = np.diag((weight * n) @ at_risk) - (at_risk * weight[:, None]).T @ at_risk
    head = slice(0, len(names) - 1)
    statistic = observed_minus_expected[head] @ np.linalg.pinv(covariance[head, head]) @ observed_minus_expected[head]
    return float(statistic), len(names) - 1


def group_log_hazard(time: np.ndarray, event: np.ndarray, groups: np.ndarray) -> pd.Series:
    """Each group's log hazard relative to the whole cohort, ``log((O + 0.5) / (E + 0.5))`` with ``O`` its
    events and ``E`` those expected under equal hazards (the log-rank test's), by group name: a risk score for
    patients of the group that needs no model fit (a group without events, or alone, still gets one)."""
    names, at_risk, deaths = _risk_sets(time, event, groups)
    if not deaths.size:
        return pd.Series(0.0, index=names)
    expected = (at_risk * (deaths.sum(1) / at_risk.sum(1))[:, None]).sum(0)
    return pd.Series(np.log((deaths.sum(0) + 0.5) / (expected + 0.5)), index=names)


def summed_logrank(tests: list[tuple[float, int]]) -> tuple[float, int, float]:
    """Several independent log-rank tests (``(chi-square, degrees of freedom)`` each; ``(0, 0)`` for a test that
    is undefined: one cluster, no event) as one: the chi-squares and degrees of freedom summed, and
    :func:`chi_square_p` of the sums, as ``(statistic, degrees_of_freedom, p_value)``."""
    statistic, df = 0.0, 0
    for fold_statistic, fold_df in tests:
        statistic, df = statistic + fold_statistic, df + fold_df
    return statistic, df, chi_square_p(statistic, df)


def chi_square_p(statistic: float, df: int) -> float:
    """The chi-square p of a log-rank ``statistic`` on ``df`` degrees of freedom; 1 for an undefined test
    (``df`` 0: one cluster, no event)."""
    from scipy.stats import chi2  # here, not at the top: the normalize stage imports this module, not scipy.stats

    return float(chi2.sf(statistic, df)) if df > 0 else 1.0


def adjust_p_values(p_values: np.ndarray, method: str) -> np.ndarray:
    """Multiple-testing adjustment: ``holm`` (family-wise error) or ``bh`` (Benjamini-Hochberg false discovery rate)."""
    p_values = np.asarray(p_values, dtype=float)
    if method == "bh":
        from scipy.stats import false_discovery_control

        return false_discovery_control(p_values, method="bh")
    if method != "holm":
        raise ValueError(f"p-value adjustment must be 'holm' or 'bh', got {method!r}")
    order = np.argsort(p_values)
    scaled = (len(p_values) - np.arange(len(p_values))) * p_values[order]
    adjusted = np.empty_like(p_values)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def pairwise_logrank_table(frame: pd.DataFrame, *, adjustment: str = "holm") -> pd.DataFrame:
    """Log-rank test for every pair of clusters, with p-values adjusted across the pairs."""
    columns = ["cluster_a", "cluster_b", "test_statistic", "p_value", "p_adjusted", "adjustment"]
    if frame["cluster"].nunique() < 2:
        return pd.DataFrame(columns=columns)
    from lifelines.statistics import pairwise_logrank_test

    summary = pairwise_logrank_test(frame["time"], frame["cluster"], frame["event"]).summary
    table = pd.DataFrame({
        "cluster_a": [pair[0] for pair in summary.index],
        "cluster_b": [pair[1] for pair in summary.index],
        "test_statistic": summary["test_statistic"].to_numpy(),
        "p_value": summary["p"].to_numpy(),
    })
    table["p_adjusted"] = adjust_p_values(table["p_value"].to_numpy(), adjustment)
    table["adjustment"] = adjustment
    return table[columns]


#: Cells of a Cox covariate read as missing where every other cell is a number (compared ignoring case and
#: surrounding space), on top of the tokens every clinical table reads as missing (``NA``, ``N/A``, ``null``, empty,
#: ...; :data:`~deepsubtype.tables.MISSING_TOKENS`): such a covariate is numeric, not categories.
COVARIATE_MISSING = ("unknown", "unk", "not available", "not known", "not reported", "not applicable",
                     "not evaluated", "not done", "missing", "n.a.", "n.d.", "nd", "?", "-", "--", "[not available]",
                     "[unknown]", "[not applicable]", "[not evaluated]", "[not reported]", "[discrepancy]")
_COVARIATE_MISSING = frozenset([*COVARIATE_MISSING, *(token.casefold() for token in MISSING_TOKENS)])


def covariate_table(clinical: pd.DataFrame, covariates: Iterable[str], source: str = "clinical table") -> pd.DataFrame:
    """The ``covariates`` columns of ``clinical`` as the Cox model reads them: a column whose cells, but for
    missing ones and :data:`COVARIATE_MISSING` words, all parse as numbers is numeric, those words missing (named
    in a warning: the patients then leave the Cox model as for an empty cell); any other column stays as it is
    (categories)."""
    table = {}
    for name in covariates:
        table[name] = column = clinical[name]
        if pd.api.types.is_numeric_dtype(column):
            continue
        cells = column.astype(object)
        markers = cells.notna() & cells.map(lambda cell: str(cell).strip().casefold() in _COVARIATE_MISSING)
        numbers = pd.to_numeric(cells.mask(markers), errors="coerce")
        if (numbers.isna() & cells.notna() & ~markers).any() or numbers.notna().sum() == 0:
            continue  # text: categories
        if markers.any():
            named = ", ".join(f"{sample} {cell!r}" for sample, cell in cells[markers].items())
            logger.warning("%s: Cox covariate %r is numeric but for %d cells of words for a missing value, read as "
                           "missing (those patients are left out of the Cox model): %s", source, name,
                           int(markers.sum()), named)
        table[name] = numbers.astype(np.float64)
    return pd.DataFrame(table, index=clinical.index)


class CoxUnavailable(ValueError):
    """A Cox model that cannot be estimated on these data (no events, more terms than events, no convergence);
    the message says why."""


@dataclass(frozen=True)
class CoxResult:
    """Cox model of survival on cluster membership (and covariates).

    ``terms``: one row per term (hazard ratio with 95 % CI, p-value, proportional-hazards
    test p-value); ``model``: one row (n, events, reference cluster, covariates,
    Harrell's C-index of the fitted risk, likelihood-ratio p-value, patients dropped for
    missing covariates).
    """

    terms: pd.DataFrame
    model: pd.DataFrame
    fitter: CoxPHFitter


def cox_by_cluster(frame: pd.DataFrame, clinical: pd.DataFrame | None = None, *,
                   covariates: list[str] | tuple[str, ...] = (), source: str = "clinical table") -> CoxResult:
    """Fit a Cox model of ``time``/``event`` on cluster indicators, optionally adjusted for ``covariates``.

    Raises :class:`CoxUnavailable` with the reason when it cannot be estimated: one cluster, no event, as
    many terms as events or more (e.g. a cluster per patient), a covariate term with one value among the
    patients (the normalize stage refuses a covariate constant in the whole cohort), or no convergence in
    lifelines.

    The largest cluster (the smallest label) is the reference. Covariates are read by
    :func:`covariate_table`: numeric ones as numbers (words such as ``unknown`` missing), text ones
    one-hot encoded (first level dropped); patients missing a covariate are left
    out and counted. Proportional hazards are checked per term with lifelines'
    ``proportional_hazard_test`` (rank-transformed time).
    """
    data = frame.copy()
    reference = int(data["cluster"].min())
    for covariate in covariates:
        if clinical is None or covariate not in clinical.columns:
            raise InputError(f"{source}: Cox covariate {covariate!r} not found in the clinical table")
    if frame["cluster"].nunique() < 2:
        raise CoxUnavailable("one cluster only")
    before = len(data)
    if covariates:
        assert clinical is not None
        extra = covariate_table(clinical.loc[data.index], covariates, source)
        # patients missing a covariate leave before the one-hot encoding, which would code them as its reference
        complete = extra.notna().all(axis=1).to_numpy()
        data, extra = data.loc[complete], extra.loc[complete]
        extra = extra.apply(lambda column: column if pd.api.types.is_numeric_dtype(column) else column.astype(str))
        data = data.join(pd.get_dummies(extra, drop_first=True, dtype=float))
    data = data.dropna()
    dropped = before - len(data)
    if dropped:
        logger.warning("%s: %d patients lack a Cox covariate and are left out of the Cox model", source, dropped)
    indicators = pd.get_dummies(data["cluster"], prefix="cluster", dtype=float)
    indicators = indicators.drop(columns=f"cluster_{reference}")
    design = pd.concat([data.drop(columns="cluster"), indicators], axis=1)
    n_terms, n_events = design.shape[1] - 2, int(design["event"].sum())
    if n_events == 0:
        raise CoxUnavailable(f"no event among the {len(design)} patients")
    if n_terms >= n_events:
        raise CoxUnavailable(f"{n_terms} terms (clusters and covariates) for {n_events} events: a Cox model needs "
                             "fewer terms than events")
    constant = [term for term in data.columns.drop(["cluster", "time", "event"]) if data[term].nunique() < 2]
    if constant:  # lifelines would stop on a singular matrix
        raise CoxUnavailable(f"covariate term {constant[0]!r} has one value among the {len(design)} patients of the "
                             "model (it adjusts for nothing): remove it from survival.covariates")
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError
    from lifelines.statistics import proportional_hazard_test

    try:
        fitter = CoxPHFitter().fit(design, duration_col="time", event_col="event")
    except ConvergenceError as error:
        raise CoxUnavailable(f"lifelines could not fit it ({str(error).split('.')[0]})") from error
    summary = fitter.summary
    ph = proportional_hazard_test(fitter, design, time_transform="rank").summary["p"]
    terms = pd.DataFrame({
        "term": summary.index.astype(str),
        "hazard_ratio": summary["exp(coef)"].to_numpy(),
        "hr_lower_95": summary["exp(coef) lower 95%"].to_numpy(),
        "hr_upper_95": summary["exp(coef) upper 95%"].to_numpy(),
        "coef": summary["coef"].to_numpy(),
        "se": summary["se(coef)"].to_numpy(),
        "p_value": summary["p"].to_numpy(),
        "ph_test_p_value": ph.reindex(summary.index).to_numpy(),
    })
    model = pd.DataFrame([{
        "n": len(design),
        "events": int(design["event"].sum()),
        "reference_cluster": reference,
        "covariates": ",".join(covariates) or "none",
        "concordance_index": float(fitter.concordance_index_),
        "likelihood_ratio_p_value": float(fitter.log_likelihood_ratio_test().p_value),
        "n_dropped_missing_covariates": dropped,
    }])
    return CoxResult(terms=terms, model=model, fitter=fitter)


def cox_score_test(X: np.ndarray, time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``X`` (n, p), the score test of a one-covariate Cox model at beta = 0 (Breslow ties).

    Returns ``(z, p_value)``, each (p,): z = U / sqrt(I) with U = sum over events of (x_i - risk-set
    mean) and I = sum over events of the risk-set variance; two-sided normal p-value. Without ties
    z**2 is the log-rank statistic of a binary covariate. Vectorized over genes: O(n p) after a sort.
    """
    from scipy.stats import norm

    order = np.argsort(-time, kind="stable")
    X, time, event = np.asarray(X, dtype=np.float64)[order], time[order], event[order].astype(bool)
    s0 = np.arange(1, len(time) + 1, dtype=np.float64)
    s1, s2 = np.cumsum(X, 0), np.cumsum(X**2, 0)
    # Breslow: everyone tied at t_i is at risk at t_i, so take the cumulative sums at the end of each tie run
    last = np.searchsorted(-time, -time, side="right") - 1
    mean = s1[last] / s0[last][:, None]
    variance = s2[last] / s0[last][:, None] - mean**2
    score = (X[event] - mean[event]).sum(0)
    information = variance[event].sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(information > 0, score / np.sqrt(information), 0.0)
    return z, 2 * norm.sf(np.abs(z))


#: What :func:`beyond_target` tests the clusters beyond: class labels (``categorical``: a Cox model stratified
#: by them) or a number (``numeric``: a Cox model adjusted for it).
TargetKind = Literal["categorical", "numeric"]

#: The kind of each primary task's target; survival and reconstruction have none to test beyond (survival's
#: target is the outcome itself).
TARGET_KINDS: dict[str, TargetKind] = {"classification": "categorical", "binary": "categorical",
                                       "regression": "numeric"}

#: The columns of ``survival/beyond_target.tsv`` (:func:`beyond_target`, :func:`no_beyond_target`).
BEYOND_TARGET_COLUMNS = ["target", "stratum", "test", "question", "n", "events", "n_dropped_missing_target",
                         "clusters", "cluster_terms", "test_statistic", "degrees_of_freedom", "p_value",
                         "c_index_target", "c_index_target_clusters", "c_index_gain", "c_index_note", "note"]

_C_INDEX_NOTE = ("in sample: Harrell's C of Cox models fitted to the outcomes they score (the target alone; the "
                 "target and the clusters), so the gain is optimistic")


def _beyond_row(**values: object) -> dict[str, object]:
    """A :data:`BEYOND_TARGET_COLUMNS` row: ``values``, NA numbers and empty text elsewhere."""
    row: dict[str, object] = dict.fromkeys(BEYOND_TARGET_COLUMNS, np.nan)
    row.update(target="", stratum="all", test="", question="", clusters="", cluster_terms="", degrees_of_freedom=0,
               c_index_note="", note="")
    row.update(values)
    return row


def no_beyond_target(reason: str, target: str | None = None) -> pd.DataFrame:
    """The one :data:`BEYOND_TARGET_COLUMNS` row where there is no test beyond the target: numbers NA,
    ``note`` = ``reason``."""
    return pd.DataFrame([_beyond_row(target=target or "", note=reason)], columns=BEYOND_TARGET_COLUMNS)


def _class_label(value: object) -> str:
    """A target class as text: ``1.0`` (a 0/1 column read as floats) as ``1``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _cluster_list(clusters: pd.Series) -> str:
    return ",".join(str(int(cluster)) for cluster in sorted(clusters.unique()))


def _testable_terms(indicators: pd.DataFrame, base: np.ndarray) -> tuple[list[str], list[str]]:
    """The cluster ``indicators`` (n, K - 1) that add a dimension to ``base`` (n, b: the target's class
    indicators, or a constant and the target) and to the terms kept before them, and the others (aliased)."""
    kept: list[str] = []
    current = base
    for term in indicators.columns:
        candidate = np.column_stack([current, indicators[term].to_numpy()])
        if np.linalg.matrix_rank(candidate) > np.linalg.matrix_rank(current):
            kept.append(str(term))
            current = candidate
    return kept, [str(term) for term in indicators.columns if term not in kept]


def _concordance_and_fit(design: pd.DataFrame) -> tuple[float, CoxPHFitter | None]:
    """Harrell's C of a Cox model of ``design`` (``time``, ``event`` and its terms), in sample, and the fitted
    model; with no term, the C of a constant risk (0.5) and None."""
    from lifelines import CoxPHFitter
    from lifelines.utils import concordance_index

    if design.shape[1] == 2:
        return float(concordance_index(design["time"], np.zeros(len(design)), design["event"])), None
    fitter = CoxPHFitter().fit(design, duration_col="time", event_col="event")
    return float(fitter.concordance_index_), fitter


def _beyond_cox(data: pd.DataFrame, name: str, kind: TargetKind) -> dict[str, object]:
    """The overall row's test and C-indices for ``data`` (``cluster``, ``time``, ``event``, ``target``, no
    target missing): the cluster terms tested, statistic, df, p, C-indices, ``note``."""
    n_events = int(data["event"].sum())
    if data["cluster"].nunique() < 2:
        return {"note": "one cluster only among the patients with a target"}
    if n_events == 0:
        return {"note": "no event: the test is undefined"}
    reference = data["cluster"].min()
    indicators = pd.get_dummies(data["cluster"], prefix="cluster", dtype=float).drop(columns=f"cluster_{reference}")
    if kind == "categorical":
        classes = pd.get_dummies(data["target"], prefix="target", dtype=float)
        kept, aliased = _testable_terms(indicators, classes.to_numpy())
        target_terms = classes.iloc[:, 1:]  # the first class as the reference of the unstratified models
    else:
        target_terms = data[["target"]].astype(float)
        kept, aliased = _testable_terms(indicators, np.column_stack([np.ones(len(data)), target_terms.to_numpy()]))
    within = "within its classes" if kind == "categorical" else "beside it"
    notes = [f"left out, aliased with {name} (adds nothing {within}): {', '.join(aliased)}"] if aliased else []
    result: dict[str, object] = {"cluster_terms": ",".join(kept)}
    n_terms = target_terms.shape[1] + len(kept)
    if n_terms >= n_events:
        notes.append(f"{n_terms} terms ({name} and clusters) for {n_events} events: a Cox model needs fewer terms "
                     "than events")
        return {**result, "note": "; ".join(notes)}
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    survival, statistic = data[["time", "event"]], np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            c_target, reduced = _concordance_and_fit(survival.join(target_terms))
            c_both, full = _concordance_and_fit(survival.join(target_terms).join(indicators[kept]))
            result.update(c_index_target=c_target, c_index_target_clusters=c_both, c_index_gain=c_both - c_target)
            if kept and kind == "categorical":
                stratified = CoxPHFitter().fit(survival.join(indicators[kept]).assign(stratum=data["target"]),
                                               duration_col="time", event_col="event", strata=["stratum"])
                # beta = 0 of a stratified fit is the stratified null model: its LR test is the one against it
                statistic = float(stratified.log_likelihood_ratio_test().test_statistic)
            elif kept:
                assert full is not None and reduced is not None
                statistic = max(2 * (float(full.log_likelihood_) - float(reduced.log_likelihood_)), 0.0)
        except ConvergenceError as error:
            notes.append(f"lifelines could not fit it ({str(error).split('.')[0]})")
            return {**result, "note": "; ".join(notes)}
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            message = f"lifelines: {str(warning.message).strip().split('.')[0]}"
            if message not in notes:
                notes.append(message)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if kept:
        result.update(test_statistic=statistic, degrees_of_freedom=len(kept),
                      p_value=chi_square_p(statistic, len(kept)))
    else:
        notes.append(f"no cluster term left: nothing to test beyond {name}")
    return {**result, "note": "; ".join(notes)}


def _within_class(group: pd.DataFrame, name: str, level: str) -> dict[str, object]:
    """The per-class row: the log-rank test among the clusters of ``group``, the patients of one class."""
    present = _cluster_list(group["cluster"])
    statistic, p_value = _logrank_p(group)
    note = ("one cluster only" if group["cluster"].nunique() < 2
            else "no event: the test is undefined" if not group["event"].any() else "")
    return _beyond_row(
        target=name, stratum=level, test="logrank_within_class",
        question=f"do the clusters ({present}) differ in survival among the {name} = {level} patients? (log-rank)",
        n=len(group), events=int(group["event"].sum()), clusters=present, test_statistic=statistic,
        degrees_of_freedom=group["cluster"].nunique() - 1 if np.isfinite(p_value) else 0, p_value=p_value, note=note)


def beyond_target(frame: pd.DataFrame, target: pd.Series, *, kind: TargetKind,
                  source: str = "clinical table") -> pd.DataFrame:
    """Whether the clusters carry survival information beyond the primary task's ``target``, as
    :data:`BEYOND_TARGET_COLUMNS` rows (``question`` says what each ``p_value`` answers).

    ``frame``: :func:`survival_frame`'s (``cluster``, ``time``, ``event`` by sample); ``target``: a Series by
    sample named by its column, missing where unknown: those patients are left out and counted
    (``n_dropped_missing_target``). The first row (``stratum`` ``all``) is a Cox likelihood-ratio test of the
    cluster indicators (``cluster_terms``; df = their number): ``categorical``, in a model stratified by the
    target's classes against the stratified null model (a stratified log-rank test's question: do the clusters
    differ in survival within the classes?); ``numeric``, added to a model with the target as a covariate.
    Cluster terms aliased with the target (clusters made of whole classes) are left out and named in ``note``;
    with none left, the p-value is NA. Beside it, Harrell's C-index of unstratified Cox models on the target
    alone and on the target and the clusters, and the gain: in sample, so optimistic (``c_index_note``).
    A categorical target then has one row per class (``stratum``): the log-rank test among its clusters.
    For clusters that never saw survival (trained on the target) these p-values are valid in sample.
    """
    if kind not in ("categorical", "numeric"):
        raise ValueError(f"target kind must be categorical or numeric, got {kind!r}")
    name = str(target.name) if target.name is not None else "target"
    values = target.reindex(frame.index)
    if kind == "numeric":
        numbers = pd.to_numeric(values, errors="coerce")
        text = (numbers.isna() & values.notna()).to_numpy()
        if text.any():
            sample = values.index[text][0]
            raise InputError(f"{source}: non-numeric value {values[sample]!r} in target column {name!r} for sample "
                             f"{sample!r}")
        values = numbers.astype(float)
    else:
        values = pd.Series([_class_label(value) if pd.notna(value) else None for value in values],
                           index=values.index, dtype=object)
    known = values.notna().to_numpy()
    data = frame.loc[known].assign(target=values[known])
    if kind == "categorical":
        test = "cox_lr_stratified"
        question = (f"do the clusters differ in survival within the {name} classes, i.e. beyond {name}? (Cox "
                    f"likelihood ratio, stratified by {name})")
    else:
        test = "cox_lr_adjusted"
        question = (f"do the clusters add to {name} in a Cox model, i.e. carry survival information beyond {name}? "
                    f"(likelihood ratio, {name} as a covariate)")
    overall = _beyond_row(target=name, test=test, question=question, n=len(data), events=int(data["event"].sum()),
                          n_dropped_missing_target=int((~known).sum()), clusters=_cluster_list(data["cluster"]),
                          c_index_note=_C_INDEX_NOTE)
    if data.empty:
        overall["note"] = f"no patient has a {name} value"
    else:
        overall.update(_beyond_cox(data, name, kind))
    rows = [overall]
    if kind == "categorical":
        rows += [_within_class(group, name, str(level)) for level, group in data.groupby("target", sort=True)]
    return pd.DataFrame(rows, columns=BEYOND_TARGET_COLUMNS)

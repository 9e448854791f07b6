"""The survival stage: Kaplan-Meier, log-rank and Cox by cluster; the patients left out."""

from __future__ import annotations

import logging
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from ..io import InputError
from ..outputs import SURVIVAL_FILES
from ..plots import cox_forest, kaplan_meier
from ..survival import (
    MIN_CLUSTER_SIZE,
    TARGET_KINDS,
    CoxUnavailable,
    beyond_target,
    cox_by_cluster,
    kaplan_meier_table,
    logrank_table,
    no_beyond_target,
    pairwise_logrank_table,
    survival_frame,
)
from ._files import _atomic, _read_clusters, _save_figure, _to_tsv

__all__ = ["survival_stage"]

logger = logging.getLogger(__name__)


#: ``excluded.tsv``'s reason for a patient without a survival time or event.
_MISSING = "time or event missing"


def _excluded_patients(assignments: pd.Series, frame: pd.DataFrame, invalid: dict[str, list[str]] | None
                       ) -> pd.DataFrame:
    """``excluded.tsv``: ``sample``, ``cluster``, ``reason`` for every clustered patient left out of the survival
    analysis: the unusable values ``survival.invalid: drop`` left out (column, value, reason), else a missing
    time or event."""
    left_out = assignments.index.difference(frame.index, sort=False)
    reasons = {}
    if invalid:
        for sample, column, value, reason in zip(invalid["sample"], invalid["column"], invalid["value"],
                                                 invalid["reason"], strict=True):
            reasons.setdefault(sample, f"invalid {column} {value!r}: {reason}")
    return pd.DataFrame({"sample": left_out, "cluster": assignments[left_out].to_numpy(),
                         "reason": [reasons.get(sample, _MISSING) for sample in left_out]})


def _beyond_target_table(frame: pd.DataFrame, clinical: pd.DataFrame, task: str, target: str | None,
                         source: str) -> pd.DataFrame:
    """``beyond_target.tsv``: :func:`~deepsubtype.survival.beyond_target` of the clusters and the primary task's
    ``target`` column, or one row whose ``note`` says why there is no test (no target, or the task has none)."""
    kind = TARGET_KINDS.get(task)
    if task == "survival":
        return no_beyond_target("task survival: the target is the outcome itself, so there is nothing to test "
                                "beyond it", target)
    if kind is None:
        return no_beyond_target(f"task {task} has no target to test the clusters beyond", target)
    if target is None:
        return no_beyond_target("no target column configured: nothing to test the clusters beyond")
    if target not in clinical.columns:
        raise InputError(f"{source}: target column {target!r} not found; columns are {list(clinical.columns)}")
    return beyond_target(frame, clinical[target], kind=kind, source=source)


def survival_stage(clusters: str | Path, normalized: str | Path, output_dir: str | Path, *, time_column: str,
                   event_column: str, time_unit: str = "", covariates: list[str] | tuple[str, ...] = (),
                   adjustment: str = "holm", horizon: float | None = None,
                   min_cluster_size: int = MIN_CLUSTER_SIZE, task: str = "classification",
                   target: str | None = None, outcome_trained: bool | None = None) -> pd.DataFrame:
    """Survival by cluster; writes :data:`SURVIVAL_FILES` into ``output_dir`` (all or nothing).

    Kaplan-Meier per cluster (median with 95 % CI; RMST up to ``horizon``), the
    multivariate log-rank test, pairwise log-rank tests adjusted by ``adjustment``
    (``holm`` or ``bh``), and a Cox model on cluster membership adjusted for
    ``covariates`` with its forest plot. Clusters under ``min_cluster_size`` patients are named in the
    log-rank table, which repeats the test without them. With a supervised ``task`` (classification, binary,
    regression) and its ``target`` column, whether the clusters carry survival information beyond the target
    (:func:`~deepsubtype.survival.beyond_target`; else its one row says why not). Returns the multivariate
    test's row. ``logrank.tsv``'s ``p_value_meaning`` says what its p answers: not a test where the clusters were
    trained on these patients' outcomes (``outcome_trained``; default: ``task`` is survival), else a valid test
    of clusters that never saw survival.
    """
    outcome_trained = task == "survival" if outcome_trained is None else outcome_trained
    assignments = _read_clusters(clusters)
    adata = ad.read_h5ad(normalized)
    clinical = adata.obs
    frame, dropped = survival_frame(assignments, clinical, time_column=time_column, event_column=event_column,
                                    source=str(normalized))
    unit = time_unit or "unspecified"
    test = logrank_table(frame, min_cluster_size=min_cluster_size)
    excluded = _excluded_patients(assignments, frame, adata.uns.get("survival_invalid"))
    n_invalid = int(excluded["reason"].ne(_MISSING).sum())
    test.insert(3, "n_dropped_missing", dropped - n_invalid)
    test.insert(4, "n_dropped_invalid", n_invalid)
    test["time_unit"] = unit
    test["p_value_meaning"] = (
        "not a test: the clusters were trained on these outcomes (see the calibrated out-of-fold test)"
        if outcome_trained else "valid: the clusters never saw these outcomes (they may restate the target: "
        "beyond_target.tsv)")
    tables = {
        "km_table": kaplan_meier_table(frame, horizon=horizon).assign(time_unit=unit),
        "logrank": test,
        "excluded": excluded,
        "pairwise": pairwise_logrank_table(frame, adjustment=adjustment),
        "beyond_target": _beyond_target_table(frame, clinical, task, target, str(normalized)),
    }
    figures = {"km_plot": kaplan_meier(frame, time_unit=time_unit, p_value=float(test["p_value"].iloc[0]),
                                       title="Kaplan-Meier by cluster" + (" (trained on these outcomes: the p is "
                                                                          "not a test)" if outcome_trained else ""))}
    try:
        cox = cox_by_cluster(frame, clinical, covariates=covariates, source=str(normalized))
        tables["cox_terms"], tables["cox_model"] = cox.terms, cox.model.assign(note="")
        figures["forest_plot"] = cox_forest(cox.terms, title=f"Cox hazard ratios (reference: cluster "
                                                             f"{int(cox.model.loc[0, 'reference_cluster'])})")
    except CoxUnavailable as reason:
        logger.warning("%s: no Cox model: %s", normalized, reason)
        tables["cox_terms"] = pd.DataFrame(columns=["term", "hazard_ratio", "hr_lower_95", "hr_upper_95", "coef",
                                                    "se", "p_value", "ph_test_p_value"])
        tables["cox_model"] = pd.DataFrame([{
            "n": len(frame), "events": int(frame["event"].sum()), "reference_cluster": np.nan,
            "covariates": ",".join(covariates) or "none", "concordance_index": np.nan,
            "likelihood_ratio_p_value": np.nan, "n_dropped_missing_covariates": np.nan,
            "note": f"no Cox model: {reason}"}])
        figures["forest_plot"] = cox_forest(tables["cox_terms"], title=f"No Cox model: {reason}")
    with _atomic(output_dir) as temporary:
        temporary.mkdir(parents=True)
        for key, table in tables.items():
            _to_tsv(table, temporary / SURVIVAL_FILES[key])
        for key, figure in figures.items():
            _save_figure(figure, temporary / SURVIVAL_FILES[key])
    return test

"""The validate stage: out-of-fold clusters and their survival statistics beside the in-sample ones."""

from __future__ import annotations

import json
import logging
import time as time_module
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from ..ensemble import load_model
from ..estimator import DeepType
from ..io import InputError, Orientation
from ..objective import BASELINE_OBJECTIVES, baseline_labels
from ..outputs import PROCEDURE_FILE, VALIDATION_FILES
from ..plots import kaplan_meier
from ..survival import (
    MIN_CLUSTER_SIZE,
    CoxUnavailable,
    chi_square_p,
    cox_by_cluster,
    group_log_hazard,
    logrank_table,
    per_fold_logrank,
    survival_columns,
    survival_frame,
)
from ..validation import (
    STATISTICS,
    baseline_out_of_fold,
    cluster_stability,
    fit_split,
    fixed_cluster_statistics,
    fold_matrices,
    held_out_c_index,
    match_folds,
    out_of_fold_clusters,
    out_of_fold_statistics,
    permutation_order,
    permutation_p,
    permuted_survival,
    refitted_statistics,
    unmatched_assignments,
)
from ._files import _atomic, _read_clusters, _save_figure, _to_tsv, _write_table
from ._inputs import _cross_validated_beta, _procedure_params, _raw_for_folds, _target

__all__ = ["validation_stage", "validation_fold_stage", "validation_permutation_stage", "calibrated_tests",
           "methods_table"]

logger = logging.getLogger(__name__)


def validation_stage(normalized: str | Path, model_dir: str | Path, clusters: str | Path, output_dir: str | Path,
                     *, task: str = "classification", target: str | None = None, time_column: str,
                     event_column: str, time_unit: str = "", covariates: list[str] | tuple[str, ...] = (),
                     min_cluster_size: int = MIN_CLUSTER_SIZE, folds: int = 5, repeats: int = 1, seed: int = 0,
                     device: str = "auto", n_fits: int | None = 1, expression: str | Path | None = None,
                     orientation: Orientation = "samples_x_genes", clinical: str | Path | None = None,
                     sample_column: str | None = None, fold_tables: Sequence[str | Path] | None = None,
                     permutations: int = 0, permutation_tables: Sequence[str | Path] | None = None) -> pd.DataFrame:
    """Out-of-fold clusters and their survival statistics beside the in-sample ones.

    Refits the model's procedure on ``folds``-1 folds (``repeats`` shuffled splits; the normalization,
    alpha and K chosen again inside each fold; ``n_fits`` fits per fold, None = as many as the model has),
    where ``expression`` (the cohort's raw matrix, read with ``orientation`` and aligned to ``clinical`` by
    ``sample_column`` as the normalize stage did) lets every fold refit the top-variance gene filter and the
    z-score on its training patients (:func:`~deepsubtype.validation.fold_normalized`); without it, or with
    several views, the fold refits the z-score from ``layers["log"]`` only, or nothing. The fold models
    assign the held-out patients with ``predict``; their clusters are matched to the full-data ones
    (:func:`~deepsubtype.validation.out_of_fold_clusters`). ``fold_tables`` (one per split, written by
    :func:`validation_fold_stage`, e.g. as separate jobs) replaces the refits. Writes
    :data:`VALIDATION_FILES`: the assignments; per-cluster stability (consensus of the
    fold models on their training patients); the log-rank test and Cox hazard
    ratios for the in-sample clusters and for each repeat's out-of-fold clusters
    (``assignment`` column; clusters under ``min_cluster_size`` patients are named and the test is
    repeated without them); the Kaplan-Meier plot of the first repeat; and ``methods``, DeepType's
    out-of-fold p beside those of k-means and PCA + k-means validated on the same splits and fold normalization
    (:func:`~deepsubtype.validation.baseline_out_of_fold`, K = the model's), per repeat (:func:`methods_table`);
    and ``test``, each method's calibrated out-of-fold test (:func:`calibrated_tests`): its statistic's rank
    among ``permutations`` permutations of the outcomes, the folds refitted on each for a procedure that learns
    from survival (``task="survival"``; ``permutation_tables``, one per permutation written by
    :func:`validation_permutation_stage`, replace the refits), the clusters held fixed for one that does not.
    """
    adata = ad.read_h5ad(normalized)
    y = _target(adata, task, target, time_column, event_column, str(normalized))
    model = load_model(model_dir, device=device if fold_tables is None else "cpu")  # with tables: K and no more
    assignments = _read_clusters(clusters)
    reference = assignments.reindex(adata.obs_names).to_numpy()
    raw = _raw_for_folds(adata, expression, orientation, clinical, sample_column, str(normalized))
    # the procedure the train stage was configured with (alpha, beta, objective "auto" as configured), refitted
    # here as validate_fold would; model directories older than procedure.json refit the loaded model's
    reading = {"task": task, "target": target, "time_column": time_column, "event_column": event_column,
               "seed": seed, "device": device, "expression": expression, "orientation": orientation,
               "clinical": clinical, "sample_column": sample_column, "validation_folds": folds}
    configured = _configured_procedure(model_dir)
    fits_per_fold = n_fits if n_fits is not None or configured is None else int(
        configured["model_params"].get("n_fits", 1))
    if fold_tables is not None:
        oof = match_folds(_read_fold_tables(fold_tables, adata, folds=folds, repeats=repeats), reference,
                          int(model.n_clusters_))
    elif configured is not None:
        procedure = _Procedure.read(normalized, **reading, **configured)
        oof = match_folds(procedure.refit_all(folds=folds, repeats=repeats, n_fits=fits_per_fold), reference,
                          int(model.n_clusters_))
    else:
        oof = out_of_fold_clusters(model, adata, y, reference, folds=folds, repeats=repeats, seed=seed,
                                   n_fits=n_fits, raw=raw)
    stability = cluster_stability(reference, oof.attrs["training_labels"])
    matrix = np.nan_to_num(np.asarray(adata.X, dtype=np.float64))
    methods = {"deepsubtype": (reference, oof)}
    for name in BASELINE_OBJECTIVES:
        own = baseline_labels(name, matrix, int(model.n_clusters_), seed=seed)
        methods[name] = (own, baseline_out_of_fold(name, adata, own, folds=folds, repeats=repeats, seed=seed,
                                                   raw=raw))
    time, event = (column.to_numpy(np.float64) for column in survival_columns(
        adata.obs, time_column=time_column, event_column=event_column, source=str(normalized)))
    c_indices = {method: _c_indices(own, oof_of, time, event) for method, (own, oof_of) in methods.items()}
    method_rows = methods_table(methods, adata.obs, c_indices, time_column=time_column, event_column=event_column,
                                source=str(normalized))
    if task != "survival" or not permutations:
        refitted = None
    elif permutation_tables is not None:
        refitted = _statistics_of_tables(permutation_tables, adata, time, event, seed=seed)
    elif configured is not None:
        refitted = pd.DataFrame([_permuted_statistics(
            _Procedure.read(normalized, **reading, **configured, permutation=permutation).refit_all(
                folds=folds, repeats=repeats, n_fits=fits_per_fold), adata, time, event, permutation, seed)
            for permutation in range(1, permutations + 1)], columns=list(STATISTICS))
    else:
        refitted = refitted_statistics(model, adata, y, time, event, permutations=permutations, folds=folds,
                                       repeats=repeats, seed=seed, n_fits=n_fits, raw=raw)
    tests = calibrated_tests(methods, time, event, outcome_trained=task == "survival", permutations=permutations,
                             refitted=refitted, folds=folds, seed=seed)
    oof.insert(0, "sample", adata.obs_names[oof.pop("index")])

    labelled = {"in-sample": (assignments, c_indices["deepsubtype"][0])}
    for repeat, group in oof.groupby("repeat"):
        labelled[f"out-of-fold, repeat {repeat}"] = (group.set_index("sample")["cluster"],
                                                      c_indices["deepsubtype"][1][int(repeat)])
    logrank, cox_table, km_figure = _survival_by_assignment(
        labelled, adata.obs, time_column=time_column, event_column=event_column, time_unit=time_unit,
        covariates=covariates, min_cluster_size=min_cluster_size, folds=folds, outcome_trained=task == "survival",
        source=str(normalized))
    with _atomic(output_dir) as temporary:
        temporary.mkdir(parents=True)
        for key, table in {"clusters": oof, "stability": stability, "logrank": logrank, "cox": cox_table,
                           "methods": method_rows, "test": tests}.items():
            _to_tsv(table, temporary / VALIDATION_FILES[key])
        _save_figure(km_figure, temporary / VALIDATION_FILES["km_plot"])
    return logrank


#: What each p-value of oof_logrank.tsv answers, by (assignment is in-sample, the clusters saw survival).
_P_VALUE_MEANING = {
    (True, True): "not a test: the clusters were trained on these outcomes",
    (True, False): "valid: the clusters never saw survival (they may restate the target: survival/beyond_target.tsv)",
    (False, True): "not calibrated: each fold model learnt from the other folds' outcomes; oof_test.tsv has the "
                   "calibrated p",
    (False, False): "valid: the clusters never saw survival; says whether the assignment rule carries survival "
                    "information to patients it was not fitted on",
}


def _c_indices(own: np.ndarray, oof: pd.DataFrame, time: np.ndarray, event: np.ndarray
               ) -> tuple[float, pd.Series]:
    """Harrell's C of a method's clusters, by cluster risk (:func:`~deepsubtype.survival.group_log_hazard`, no
    covariates): in sample (clusters ``own`` (n_samples,) of all patients, risk estimated on them), and per
    repeat out of fold (:func:`~deepsubtype.validation.held_out_c_index`: risk from the training patients)."""
    from lifelines.utils import concordance_index

    known = np.isfinite(time) & np.isfinite(event)
    hazard = group_log_hazard(time[known], event[known], own[known])
    risk = pd.Series(own[known]).map(hazard).to_numpy()
    in_sample = float(concordance_index(time[known], -risk, event[known])) if len(hazard) > 1 else float("nan")
    return in_sample, held_out_c_index(oof, time, event)


def _survival_by_assignment(labelled: dict[str, tuple[pd.Series, float]], clinical: pd.DataFrame, *,
                            time_column: str, event_column: str, time_unit: str, covariates: Sequence[str],
                            min_cluster_size: int, folds: int, outcome_trained: bool, source: str
                            ) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """The log-rank rows (with the C-index given beside each assignment, agreement with the in-sample clusters and
    what the p answers) and Cox terms of each named assignment (sample -> cluster; the first is the in-sample
    one), and the Kaplan-Meier figure of repeat 0."""
    logrank_rows, cox_rows, km_figure = [], [], None
    in_sample = next(iter(labelled.values()))[0]
    for name, (labels, c_index) in labelled.items():
        frame, _ = survival_frame(labels, clinical, time_column=time_column, event_column=event_column,
                                  source=source)
        agreement = float((labels == in_sample[labels.index]).mean())
        test = logrank_table(frame, min_cluster_size=min_cluster_size).assign(
            assignment=name, c_index=c_index, agreement_with_in_sample=agreement,
            p_value_meaning=_P_VALUE_MEANING[name == "in-sample", outcome_trained])
        logrank_rows.append(test)
        if frame["cluster"].nunique() >= 2:
            try:
                cox = cox_by_cluster(frame, clinical, covariates=covariates, source=source)
                cox_rows.append(cox.terms.assign(assignment=name))
            except CoxUnavailable as reason:
                logger.warning("%s clusters: no Cox model: %s", name, reason)
        if name.endswith("repeat 0"):
            km_figure = kaplan_meier(frame, time_unit=time_unit, p_value=float(test["p_value"].iloc[0]),
                                     title=f"Kaplan-Meier by out-of-fold cluster ({folds}-fold)"
                                     + (" - p not calibrated" if outcome_trained else ""))
    logrank = pd.concat(logrank_rows, ignore_index=True)
    logrank = logrank[["assignment", *[c for c in logrank.columns if c != "assignment"]]]
    cox_table = pd.concat(cox_rows, ignore_index=True) if cox_rows else pd.DataFrame(columns=["assignment"])
    cox_table = cox_table[["assignment", *[c for c in cox_table.columns if c != "assignment"]]]
    return logrank, cox_table, km_figure


#: What the calibrated test's permutations did, by whether the method's clusters saw survival.
_PERMUTED = {True: "outcomes permuted, every fold refitted on them", False: "outcomes permuted, clusters held fixed"}

#: The statistic whose permutation p is the headline (``permutation_p``): the out-of-fold C-index, directional and
#: pooled over the folds, had the most power of the two in the planted-subgroup benchmark (benchmarks/RESULTS.md).
HEADLINE_STATISTIC = "c_index"


def calibrated_tests(methods: dict[str, tuple[np.ndarray, pd.DataFrame]], time: np.ndarray, event: np.ndarray, *,
                     outcome_trained: bool, permutations: int, refitted: pd.DataFrame | None, folds: int,
                     seed: int) -> pd.DataFrame:
    """Each method's calibrated out-of-fold test, one row per method of ``methods`` (name -> its clusters of all
    patients and its out-of-fold assignments, with their training labels): the observed
    :data:`~deepsubtype.validation.STATISTICS` (means over repeats: ``c_index``, ``logrank`` with its
    ``degrees_of_freedom``), each one's ``*_permutation_p`` among ``permutations`` permutations of ``time`` and
    ``event`` (n_samples,), ``permutation_p`` (the :data:`HEADLINE_STATISTIC`'s, named in ``statistic``) and
    ``smallest_possible_p``; ``clusters_saw_survival`` (DeepType's where ``outcome_trained``; the baselines'
    never) says whether the permutations refitted the folds (``refitted``: their statistics, one row per
    permutation; None where not run) or held the clusters fixed; ``chi_square_p`` of the log-rank sum is valid
    only for clusters that never saw survival, and ``note`` says so."""
    rows, started = [], time_module.perf_counter()
    for method, (_, oof) in methods.items():
        saw_survival = outcome_trained and method == "deepsubtype"
        per_repeat = out_of_fold_statistics(oof, time, event)
        observed = per_repeat[list(STATISTICS)].mean()
        df = int(round(per_repeat["degrees_of_freedom"].mean()))
        if saw_survival:
            permuted = pd.DataFrame(columns=list(STATISTICS)) if refitted is None else refitted
        else:
            permuted = fixed_cluster_statistics(oof, time, event, permutations=permutations, seed=seed)
        if saw_survival and not len(permuted):
            note = ("no calibrated p: the folds learnt from the other folds' outcomes, so the chi-square p is not "
                    "calibrated; set validation.permutations")
        elif saw_survival:
            note = ("the chi-square p is not calibrated (the fold models learnt from the other folds' outcomes); "
                    "the permutation p-values are")
        else:
            note = "the clusters never saw survival: the chi-square p is valid, the permutation p-values exact"
        p_values = {f"{name}_permutation_p": permutation_p(float(observed[name]), permuted[name].to_numpy(float))
                    for name in STATISTICS}
        rows.append({"method": method, "clusters_saw_survival": saw_survival, "folds": folds,
                     "repeats": int(len(per_repeat)), "statistic": HEADLINE_STATISTIC,
                     "permutation_p": p_values[f"{HEADLINE_STATISTIC}_permutation_p"],
                     "n_permutations": int(len(permuted)),
                     "smallest_possible_p": 1.0 / (1 + len(permuted)) if len(permuted) else float("nan"),
                     "c_index": float(observed["c_index"]), "c_index_permutation_p": p_values["c_index_permutation_p"],
                     "logrank": float(observed["logrank"]), "degrees_of_freedom": df,
                     "logrank_permutation_p": p_values["logrank_permutation_p"],
                     "chi_square_p": chi_square_p(float(observed["logrank"]), df),
                     "permuted": _PERMUTED[saw_survival] if len(permuted) else "", "note": note})
        logger.info("calibrated out-of-fold test, %s: C-index %.3f, permutation p %.3g (%d permutations, %s)",
                    method, observed["c_index"], rows[-1]["permutation_p"], len(permuted),
                    rows[-1]["permuted"] or "none")
    logger.info("calibrated tests of %d methods: %.1f s (refits of a survival-trained model not included: they "
                "are the validate_permutation jobs)", len(rows), time_module.perf_counter() - started)
    return pd.DataFrame(rows)


def _statistics_of_tables(paths: Sequence[str | Path], adata: ad.AnnData, time: np.ndarray, event: np.ndarray, *,
                          seed: int) -> pd.DataFrame:
    """The permuted statistics of :func:`validation_permutation_stage`'s tables, one row per table: its fold
    models' clusters tested on the outcomes of its permutation."""
    draws = []
    for path in paths:
        table = _read_refit_table(path, adata, "validation permutation table", extra_columns=("permutation",))
        splits = [split for _, split in table.groupby(["repeat", "fold"], sort=True)]
        draws.append(_permuted_statistics(splits, adata, time, event, int(table["permutation"].iloc[0]), seed))
    return pd.DataFrame(draws, columns=list(STATISTICS))


def _read_refit_table(path: str | Path, adata: ad.AnnData, what: str, *, extra_columns: Sequence[str] = ()
                      ) -> pd.DataFrame:
    """A refit job's table (:func:`~deepsubtype.validation.fit_split`'s columns and ``extra_columns``), checked to
    be ``what`` it claims and to hold only samples of ``adata``, with their ``index`` recomputed from ``sample``."""
    table = pd.read_csv(path, sep="\t")
    missing = {*extra_columns, "sample", "repeat", "fold", "held_out", "fold_cluster", "n_fold_clusters"} - set(
        table.columns)
    if missing:
        raise InputError(f"{path}: not a {what} (no column {sorted(missing)[0]!r})")
    index = adata.obs_names.get_indexer(table["sample"].astype(str))
    if (index < 0).any():
        raise InputError(f"{path}: sample {table['sample'][index < 0].iloc[0]!r} is not in the cohort")
    return table.assign(index=index)


def _permuted_statistics(tables: list[pd.DataFrame], adata: ad.AnnData, time: np.ndarray, event: np.ndarray,
                         permutation: int, seed: int) -> pd.Series:
    """The :data:`~deepsubtype.validation.STATISTICS` (means over repeats) of one permutation's refits (``tables``,
    one per split, as :func:`~deepsubtype.validation.fit_split` writes them), on that permutation's outcomes."""
    order = permutation_order(adata.n_obs, permutation, seed)
    statistics = out_of_fold_statistics(unmatched_assignments(tables), time[order], event[order])
    return statistics[list(STATISTICS)].mean()


def _configured_procedure(model_dir: str | Path) -> dict[str, Any] | None:
    """The train stage's ``procedure.json`` of ``model_dir`` (``model_params`` and ``tuning_grid`` as configured),
    or None for a model directory written before it or by other code."""
    path = Path(model_dir) / PROCEDURE_FILE
    if not path.is_file():
        return None
    try:
        configured = json.loads(path.read_text())
        return {"model_params": dict(configured["model_params"]), "tuning_grid": dict(configured["tuning_grid"])}
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not a deepsubtype procedure file ({type(error).__name__})") from error


def methods_table(methods: dict[str, tuple[np.ndarray, pd.DataFrame]], clinical: pd.DataFrame,
                  c_indices: dict[str, tuple[float, pd.Series]], *, time_column: str, event_column: str,
                  source: str) -> pd.DataFrame:
    """One row per method and repeat of ``methods`` (name -> its clusters of all patients (n,) in ``clinical``'s
    row order, and its out-of-fold assignments as :func:`~deepsubtype.validation.out_of_fold_clusters` returns
    them): ``in_sample_p``, ``out_of_fold_p`` (the held-out clusters matched to the in-sample ones and tested
    together), ``out_of_fold_p_per_fold`` (each fold's held-out clusters tested on their own and the
    chi-squares summed: :func:`~deepsubtype.survival.per_fold_logrank`, no matching), and ``in_sample_c_index``,
    ``out_of_fold_c_index`` (``c_indices``: method -> :func:`_c_indices`). These chi-square p-values are not
    calibrated for a procedure that learnt from survival: oof_test.tsv has the calibrated test."""
    names = clinical.index
    rows = []
    for method, (own, oof) in methods.items():
        in_sample, _ = survival_frame(pd.Series(own, index=names), clinical, time_column=time_column,
                                      event_column=event_column, source=source)
        for repeat, group in oof.groupby("repeat"):
            held_out = group.set_index(names[group["index"].to_numpy()])
            frame, _ = survival_frame(held_out["cluster"], clinical, time_column=time_column,
                                      event_column=event_column, source=source)
            statistic, df, per_fold_p = per_fold_logrank(frame, held_out["fold"].reindex(frame.index))
            rows.append({"method": method, "repeat": int(repeat), "n_clusters": int(len(np.unique(own))),
                         "in_sample_p": float(logrank_table(in_sample)["p_value"].iloc[0]),
                         "out_of_fold_p": float(logrank_table(frame)["p_value"].iloc[0]),
                         "out_of_fold_p_per_fold": per_fold_p, "per_fold_statistic": statistic,
                         "per_fold_degrees_of_freedom": df, "in_sample_c_index": c_indices[method][0],
                         "out_of_fold_c_index": c_indices[method][1][int(repeat)]})
    return pd.DataFrame(rows)


def validation_fold_stage(normalized: str | Path, output: str | Path, *, repeat: int, fold: int, folds: int = 5,
                          repeats: int = 1, seed: int = 0, n_fits: int = 1, task: str = "classification",
                          target: str | None = None, time_column: str | None = None, event_column: str | None = None,
                          model_params: dict[str, Any] | None = None, tuning_grid: dict[str, Any] | None = None,
                          device: str = "auto", expression: str | Path | None = None,
                          orientation: Orientation = "samples_x_genes", clinical: str | Path | None = None,
                          sample_column: str | None = None) -> pd.DataFrame:
    """One split (``repeat``, ``fold``) of :func:`validation_stage`'s refits, on its own so that the folds run
    as separate jobs, at once where there are cores, and beside the training (they need only the config).

    The procedure is the train stage's (``model_params``, ``tuning_grid``, ``task`` and its columns, ``seed``,
    ``device``: the same fits as ``validation_stage`` refits from the trained model), with ``n_fits`` fits, on
    the split's training patients normalized from ``expression`` as there; ``beta: auto`` is cross-validated
    on them too. Writes ``output`` (TSV, :func:`~deepsubtype.validation.fit_split`: each sample of the
    split, held out or not, and its cluster under the fold model, not yet matched to the full data's)."""
    procedure = _Procedure.read(normalized, task=task, target=target, time_column=time_column,
                                event_column=event_column, model_params=model_params, tuning_grid=tuning_grid,
                                seed=seed, device=device, expression=expression, orientation=orientation,
                                clinical=clinical, sample_column=sample_column, validation_folds=folds)
    split = next(fold_matrices(procedure.adata, procedure.raw, procedure.adata.n_obs, folds=folds, repeats=repeats,
                               seed=seed, only=(repeat, fold)))
    table = procedure.refit(split, n_fits=n_fits)
    table.insert(0, "sample", procedure.adata.obs_names[table["index"].to_numpy()])
    _write_table(table, output)
    return table


def validation_permutation_stage(normalized: str | Path, output: str | Path, *, permutation: int, folds: int = 5,
                                 repeats: int = 1, seed: int = 0, n_fits: int = 1, task: str = "survival",
                                 target: str | None = None, time_column: str, event_column: str,
                                 model_params: dict[str, Any] | None = None, tuning_grid: dict[str, Any] | None = None,
                                 device: str = "auto", expression: str | Path | None = None,
                                 orientation: Orientation = "samples_x_genes", clinical: str | Path | None = None,
                                 sample_column: str | None = None) -> pd.DataFrame:
    """Permutation ``permutation`` (1, 2, ...) of the calibrated out-of-fold test of a procedure that learns from
    survival, as its own job: the cohort's (time, event) pairs moved between patients by
    :func:`~deepsubtype.validation.permutation_order` (``seed``), then every split of every repeat refitted as
    :func:`validation_fold_stage` refits it (every choice that looks at survival made again on the permuted
    outcomes). Writes ``output`` (TSV): ``permutation`` and :func:`~deepsubtype.validation.fit_split`'s columns for
    every split (each patient's cluster under each fold model, held out or not), for :func:`validation_stage`'s
    ``permutation_tables``."""
    if permutation < 1:
        raise InputError(f"permutation {permutation}: permutations are numbered from 1 (0 is the observed data)")
    procedure = _Procedure.read(normalized, task=task, target=target, time_column=time_column,
                                event_column=event_column, model_params=model_params, tuning_grid=tuning_grid,
                                seed=seed, device=device, expression=expression, orientation=orientation,
                                clinical=clinical, sample_column=sample_column, permutation=permutation,
                                validation_folds=folds)
    result = pd.concat(procedure.refit_all(folds=folds, repeats=repeats, n_fits=n_fits), ignore_index=True)
    result.insert(0, "sample", procedure.adata.obs_names[result["index"].to_numpy()])
    result.insert(0, "permutation", permutation)
    _write_table(result, output)
    return result


@dataclass
class _Procedure:
    """What a validation refit needs: the cohort (``adata``, its survival permuted for a permutation job), its
    raw matrix for the fold normalization, the primary-task target, the DeepType parameters and tuning grid."""

    adata: ad.AnnData
    raw: ad.AnnData | None
    y: Any
    params: dict[str, Any]
    grid: dict[str, Any]
    seed: int

    @classmethod
    def read(cls, normalized: str | Path, *, task: str, target: str | None, time_column: str | None,
             event_column: str | None, model_params: dict[str, Any] | None, tuning_grid: dict[str, Any] | None,
             seed: int, device: str, expression: str | Path | None, orientation: Orientation,
             clinical: str | Path | None, sample_column: str | None, permutation: int = 0,
             validation_folds: int = 0) -> _Procedure:
        """The train stage's procedure on ``normalized`` (with the outcomes of permutation ``permutation``), K
        checked against a fold's training patients of ``validation_folds`` folds."""
        adata = ad.read_h5ad(normalized)
        if permutation:
            adata.obs = permuted_survival(adata.obs, (time_column, event_column), permutation, seed)
        y = _target(adata, task, target, time_column, event_column, str(normalized))
        params, grid = _procedure_params(model_params, task, seed, device, adata, tuning_grid, str(normalized),
                                         validation_folds)
        raw = _raw_for_folds(adata, expression, orientation, clinical, sample_column, str(normalized))
        return cls(adata, raw, y, params, grid, seed)

    def refit(self, split: tuple[int, int, np.ndarray, np.ndarray, Any, Any], *, n_fits: int) -> pd.DataFrame:
        """:func:`~deepsubtype.validation.fit_split` of the procedure on ``split`` (``beta: auto``
        cross-validated on the split's training patients, as alpha and K are chosen there)."""
        repeat, fold, train, _, X_train, _ = split
        params = self.params
        if params.get("beta") == "auto":
            params, _ = _cross_validated_beta(params, self.grid, X_train, np.asarray(self.y)[train],
                                              f"repeat {repeat} fold {fold}, on its training patients")
        return fit_split(DeepType(**params), split, self.y, n_fits=n_fits, seed=self.seed)

    def refit_all(self, *, folds: int, repeats: int, n_fits: int) -> list[pd.DataFrame]:
        """:meth:`refit` of every split of ``repeats`` x ``folds`` (:func:`~deepsubtype.validation.fold_matrices`)."""
        return [self.refit(split, n_fits=n_fits) for split in fold_matrices(
            self.adata, self.raw, self.adata.n_obs, folds=folds, repeats=repeats, seed=self.seed)]


def _read_fold_tables(paths: Sequence[str | Path], adata: ad.AnnData, *, folds: int,
                      repeats: int) -> list[pd.DataFrame]:
    """The tables of :func:`validation_fold_stage`, checked: one per split of ``repeats`` x ``folds``, on the
    samples of ``adata`` (their ``index`` recomputed from the ``sample`` names)."""
    tables, seen = [], set()
    for path in paths:
        table = _read_refit_table(path, adata, "validation fold table")
        seen.add((int(table["repeat"].iloc[0]), int(table["fold"].iloc[0])))
        tables.append(table)
    expected = {(repeat, fold) for repeat in range(repeats) for fold in range(folds)}
    if seen != expected or len(tables) != len(expected):
        absent = sorted(expected - seen)
        raise InputError(f"{len(tables)} fold tables for {repeats} repeat(s) of {folds} folds"
                         + (f": repeat {absent[0][0]} fold {absent[0][1]} is missing" if absent else ""))
    return tables

"""The validate stage: out-of-fold clusters and their survival statistics beside the in-sample ones."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from ..ensemble import load_model
from ..estimator import DeepType
from ..io import InputError, Orientation
from ..objective import BASELINE_OBJECTIVES, baseline_labels
from ..outputs import VALIDATION_FILES
from ..plots import kaplan_meier
from ..survival import MIN_CLUSTER_SIZE, CoxUnavailable, cox_by_cluster, logrank_table, per_fold_logrank, survival_frame
from ..validation import (
    baseline_out_of_fold,
    cluster_stability,
    fit_split,
    fold_matrices,
    match_folds,
    out_of_fold_clusters,
)
from ._files import _atomic, _read_clusters, _save_figure, _to_tsv, _write_table
from ._inputs import _cross_validated_beta, _procedure_params, _raw_for_folds, _target
from ._scores import _cluster_c_index

__all__ = ["validation_stage", "validation_fold_stage", "methods_table"]

logger = logging.getLogger(__name__)


def validation_stage(normalized: str | Path, model_dir: str | Path, clusters: str | Path, output_dir: str | Path,
                     *, task: str = "classification", target: str | None = None, time_column: str,
                     event_column: str, time_unit: str = "", covariates: list[str] | tuple[str, ...] = (),
                     min_cluster_size: int = MIN_CLUSTER_SIZE, folds: int = 5, repeats: int = 1, seed: int = 0,
                     device: str = "auto", n_fits: int | None = 1, expression: str | Path | None = None,
                     orientation: Orientation = "samples_x_genes", clinical: str | Path | None = None,
                     sample_column: str | None = None,
                     fold_tables: Sequence[str | Path] | None = None) -> pd.DataFrame:
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
    (:func:`~deepsubtype.validation.baseline_out_of_fold`, K = the model's), per repeat (:func:`methods_table`).
    """
    adata = ad.read_h5ad(normalized)
    y = _target(adata, task, target, time_column, event_column, str(normalized))
    model = load_model(model_dir, device=device if fold_tables is None else "cpu")  # with tables: K and no more
    assignments = _read_clusters(clusters)
    reference = assignments.reindex(adata.obs_names).to_numpy()
    raw = _raw_for_folds(adata, expression, orientation, clinical, sample_column, str(normalized))
    if fold_tables is None:
        oof = out_of_fold_clusters(model, adata, y, reference, folds=folds, repeats=repeats, seed=seed,
                                   n_fits=n_fits, raw=raw)
    else:
        oof = match_folds(_read_fold_tables(fold_tables, adata, folds=folds, repeats=repeats), reference,
                          int(model.n_clusters_))
    stability = cluster_stability(reference, oof.attrs.pop("training_labels"))
    matrix = np.nan_to_num(np.asarray(adata.X, dtype=np.float64))
    methods = {"deepsubtype": (reference, oof)}
    for name in BASELINE_OBJECTIVES:
        own = baseline_labels(name, matrix, int(model.n_clusters_), seed=seed)
        methods[name] = (own, baseline_out_of_fold(name, adata, own, folds=folds, repeats=repeats, seed=seed,
                                                   raw=raw))
    method_rows = methods_table(methods, adata.obs, time_column=time_column, event_column=event_column,
                                source=str(normalized))
    oof.insert(0, "sample", adata.obs_names[oof.pop("index")])

    labelled = {"in-sample": assignments}
    for repeat, group in oof.groupby("repeat"):
        labelled[f"out-of-fold, repeat {repeat}"] = group.set_index("sample")["cluster"]
    logrank, cox_table, km_figure = _survival_by_assignment(
        labelled, adata.obs, time_column=time_column, event_column=event_column, time_unit=time_unit,
        covariates=covariates, min_cluster_size=min_cluster_size, folds=folds, source=str(normalized))
    with _atomic(output_dir) as temporary:
        temporary.mkdir(parents=True)
        for key, table in {"clusters": oof, "stability": stability, "logrank": logrank, "cox": cox_table,
                           "methods": method_rows}.items():
            _to_tsv(table, temporary / VALIDATION_FILES[key])
        _save_figure(km_figure, temporary / VALIDATION_FILES["km_plot"])
    return logrank


def _survival_by_assignment(labelled: dict[str, pd.Series], clinical: pd.DataFrame, *, time_column: str,
                            event_column: str, time_unit: str, covariates: Sequence[str], min_cluster_size: int,
                            folds: int, source: str) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """The log-rank rows (with C-index and agreement with the in-sample clusters) and Cox terms of each named
    assignment (sample -> cluster; the first is the in-sample one), and the Kaplan-Meier figure of repeat 0."""
    logrank_rows, cox_rows, km_figure = [], [], None
    in_sample = next(iter(labelled.values()))
    for name, labels in labelled.items():
        frame, _ = survival_frame(labels, clinical, time_column=time_column, event_column=event_column,
                                  source=source)
        agreement = float((labels == in_sample[labels.index]).mean())
        test = logrank_table(frame, min_cluster_size=min_cluster_size).assign(
            assignment=name, c_index=_cluster_c_index(frame), agreement_with_in_sample=agreement)
        logrank_rows.append(test)
        if frame["cluster"].nunique() >= 2:
            try:
                cox = cox_by_cluster(frame, clinical, covariates=covariates, source=source)
                cox_rows.append(cox.terms.assign(assignment=name))
            except CoxUnavailable as reason:
                logger.warning("%s clusters: no Cox model: %s", name, reason)
        if name.endswith("repeat 0"):
            km_figure = kaplan_meier(frame, time_unit=time_unit, p_value=float(test["p_value"].iloc[0]),
                                     title=f"Kaplan-Meier by out-of-fold cluster ({folds}-fold)")
    logrank = pd.concat(logrank_rows, ignore_index=True)
    logrank = logrank[["assignment", *[c for c in logrank.columns if c != "assignment"]]]
    cox_table = pd.concat(cox_rows, ignore_index=True) if cox_rows else pd.DataFrame(columns=["assignment"])
    cox_table = cox_table[["assignment", *[c for c in cox_table.columns if c != "assignment"]]]
    return logrank, cox_table, km_figure


def methods_table(methods: dict[str, tuple[np.ndarray, pd.DataFrame]], clinical: pd.DataFrame, *, time_column: str,
                  event_column: str, source: str) -> pd.DataFrame:
    """One row per method and repeat of ``methods`` (name -> its clusters of all patients (n,) in ``clinical``'s
    row order, and its out-of-fold assignments as :func:`~deepsubtype.validation.out_of_fold_clusters` returns
    them): ``in_sample_p``, ``out_of_fold_p`` (the held-out clusters matched to the in-sample ones and tested
    together), ``out_of_fold_p_per_fold`` (each fold's held-out clusters tested on their own and the
    chi-squares summed: :func:`~deepsubtype.survival.per_fold_logrank`, no matching), ``out_of_fold_c_index``."""
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
                         "per_fold_degrees_of_freedom": df, "out_of_fold_c_index": _cluster_c_index(frame)})
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
    adata = ad.read_h5ad(normalized)
    y = _target(adata, task, target, time_column, event_column, str(normalized))
    params, grid = _procedure_params(model_params, task, seed, device, adata, tuning_grid, str(normalized))
    raw = _raw_for_folds(adata, expression, orientation, clinical, sample_column, str(normalized))
    split = next(fold_matrices(adata, raw, adata.n_obs, folds=folds, repeats=repeats, seed=seed,
                               only=(repeat, fold)))
    if params.get("beta") == "auto":  # chosen on the fold's training patients, as alpha and K are
        params, _ = _cross_validated_beta(params, grid, split[4], np.asarray(y)[split[2]],
                                          f"repeat {repeat} fold {fold}, on its training patients")
    table = fit_split(DeepType(**params), split, y, n_fits=n_fits, seed=seed)
    table.insert(0, "sample", adata.obs_names[table["index"].to_numpy()])
    _write_table(table, output)
    return table


def _read_fold_tables(paths: Sequence[str | Path], adata: ad.AnnData, *, folds: int,
                      repeats: int) -> list[pd.DataFrame]:
    """The tables of :func:`validation_fold_stage`, checked: one per split of ``repeats`` x ``folds``, on the
    samples of ``adata`` (their ``index`` recomputed from the ``sample`` names)."""
    tables, seen = [], set()
    for path in paths:
        table = pd.read_csv(path, sep="\t")
        missing = {"sample", "repeat", "fold", "held_out", "fold_cluster", "n_fold_clusters"} - set(table.columns)
        if missing:
            raise InputError(f"{path}: not a validation fold table (no column {sorted(missing)[0]!r})")
        index = adata.obs_names.get_indexer(table["sample"].astype(str))
        if (index < 0).any():
            raise InputError(f"{path}: sample {table['sample'][index < 0].iloc[0]!r} is not in the cohort")
        seen.add((int(table["repeat"].iloc[0]), int(table["fold"].iloc[0])))
        tables.append(table.assign(index=index))
    expected = {(repeat, fold) for repeat in range(repeats) for fold in range(folds)}
    if seen != expected or len(tables) != len(expected):
        absent = sorted(expected - seen)
        raise InputError(f"{len(tables)} fold tables for {repeats} repeat(s) of {folds} folds"
                         + (f": repeat {absent[0][0]} fold {absent[0][1]} is missing" if absent else ""))
    return tables

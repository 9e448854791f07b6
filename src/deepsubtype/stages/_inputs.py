"""What several stages share for reading: the clinical checks, the primary-task target, model settings, raw matrices."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from ..io import InputError, Orientation, attach_clinical, read_clinical, read_expression
from ..survival import InvalidPolicy, covariate_table, invalid_survival, survival_columns

logger = logging.getLogger(__name__)


def _check_clinical(adata: ad.AnnData, source: str, *, target: str | None, time_column: str | None,
                    event_column: str | None, covariates: Iterable[str], invalid: InvalidPolicy = "fail") -> None:
    """Check, before any training, the clinical columns later stages use, on ``adata.obs`` (the matrix's
    samples): refuse, naming ``source``, a missing target or covariate column or survival values
    :func:`~deepsubtype.survival.survival_columns` refuses under ``invalid``. The survival columns are
    written back as numbers (event codes such as ``dead`` read as 1), with the cells ``invalid="drop"``
    left out missing and listed in ``uns["survival_invalid"]`` (sample, column, value, reason); the covariates
    as the Cox model reads them (:func:`~deepsubtype.survival.covariate_table`: ``unknown`` in a numeric column
    missing, named in a warning)."""
    obs = adata.obs
    covariates = list(covariates)
    for column, what in [(target, "target"), *((name, "Cox covariate") for name in covariates)]:
        if column is not None and column not in obs.columns:
            raise InputError(f"{source}: {what} column {column!r} not found; columns are {list(obs.columns)}")
    if covariates:
        obs[covariates] = covariate_table(obs, covariates, source)
        _refuse_constant_covariates(obs, covariates, source)
    if time_column is None or event_column is None:
        return
    time, event = survival_columns(obs, time_column=time_column, event_column=event_column, source=source,
                                   invalid=invalid)
    if invalid == "drop":  # under "fail" survival_columns has refused any
        problems = invalid_survival(obs, time_column=time_column, event_column=event_column)
        if len(problems):
            adata.uns["survival_invalid"] = {column: problems[column].astype(str).tolist() for column in problems}
    obs[time_column], obs[event_column] = time.to_numpy(np.float64), event.to_numpy(np.float64)


def _refuse_constant_covariates(obs: pd.DataFrame, covariates: list[str], source: str) -> None:
    """Refuse a Cox covariate with one value among the patients that have one: it adjusts for nothing, and
    lifelines cannot fit a model with it (the whole Cox model would be lost)."""
    for name in covariates:
        values = obs[name].dropna().unique()
        if len(values) == 1:
            raise InputError(f"{source}: Cox covariate {name!r} has the one value {values[0]!r} for all "
                             f"{int(obs[name].notna().sum())} patients that have it, so it adjusts for nothing and "
                             "no Cox model can be fitted with it: remove it from survival.covariates")


def _clinical_source(adata: ad.AnnData, default: str) -> str:
    """The clinical table the normalize stage read into ``adata`` (its provenance), which errors about clinical
    columns name (the user's file, not ours); ``default`` for a file without that record."""
    try:
        return str(json.loads(adata.uns["provenance"])["settings"]["clinical"])
    except (KeyError, TypeError, ValueError):
        return default


def _target(adata: ad.AnnData, task: str, target: str | None, time_column: str | None,
            event_column: str | None, source: str) -> np.ndarray | None:
    """Primary-task target from ``adata.obs`` (:meth:`~deepsubtype.tasks.PrimaryTask.read_target`), or None for
    a task without one; errors name the clinical table ``adata`` was normalized from (else ``source``)."""
    from ..tasks import primary_task  # torch: the stages that read no target (normalize) need not load it

    source = _clinical_source(adata, source)
    primary = primary_task(task)
    columns = primary.target_columns(target, time_column, event_column)
    for column in columns:
        if column is None:
            raise InputError(f"{source}: task {task!r} needs a target column in the config")
        if column not in adata.obs.columns:
            raise InputError(f"{source}: target column {column!r} not found in the clinical table; "
                             f"columns are {list(adata.obs.columns)}")
    return primary.read_target(adata.obs, columns, source) if columns else None


def _kfold_training(n_samples: int, folds: int) -> int:
    """The fewest rows a training set of scikit-learn's ``KFold(folds)`` on ``n_samples`` rows holds."""
    return n_samples - -(-n_samples // folds)


def _fewest_training_patients(n_samples: int, params: dict[str, Any], tuning_folds: int,
                              validation_folds: int) -> tuple[int, str]:
    """The fewest patients one fit of the procedure ``params`` trains on, and where: all ``n_samples``, or a
    validation fold's training patients (``validation_folds`` >= 2), fewer again inside beta's cross-validation
    (``beta: auto``, ``tuning_folds`` folds) and the objective's choice (task survival, objective auto)."""
    from ..objective import OBJECTIVE_FOLDS

    n, where = n_samples, "samples"
    if validation_folds >= 2:
        n = _kfold_training(n_samples, validation_folds)
        where = f"patients a fit trains on in a validation fold ({validation_folds} folds of {n_samples} samples)"
    inside = " inside a validation fold" if validation_folds >= 2 else f" of the {n_samples} samples"
    candidates = [(n, where)]
    if params.get("beta") == "auto":
        candidates.append((_kfold_training(n, tuning_folds), "patients a fit trains on in beta's "
                           f"{tuning_folds}-fold cross-validation (tuning.folds){inside}"))
    if params.get("task") == "survival" and params.get("objective", "auto") == "auto":
        candidates.append((_kfold_training(n, OBJECTIVE_FOLDS), "patients a fit trains on in the objective's "
                           f"{OBJECTIVE_FOLDS}-fold choice (task survival, objective auto){inside}"))
    return min(candidates, key=lambda candidate: candidate[0])


def _check_n_clusters(adata: ad.AnnData, params: dict[str, Any], source: str, *, tuning_folds: int = 5,
                      validation_folds: int = 0) -> None:
    """Refuse a K (or the top of the K range) not below the fewest patients a fit of the procedure trains on
    (:func:`_fewest_training_patients`: a cluster per patient, or k-means failing inside a fit), or above the
    number of distinct expression profiles; and more validation folds than samples."""
    if validation_folds > adata.n_obs:
        raise InputError(f"{source}: validation.folds={validation_folds} exceeds the {adata.n_obs} samples (a fold "
                         f"holds at least one): set validation.folds to at most {adata.n_obs}, or 0 for no validation")
    requested = params.get("n_clusters", "auto")
    largest = max(params.get("n_clusters_range", (2, 8))) if requested == "auto" else int(requested)
    what = f"n_clusters={requested}" if requested != "auto" else f"the top of n_clusters_range ({largest})"
    key = "model.n_clusters" if requested != "auto" else "model.n_clusters_range"
    fewest, where = _fewest_training_patients(adata.n_obs, params, tuning_folds, validation_folds)
    if largest >= fewest:
        raise InputError(f"{source}: {what} {'exceeds' if largest > fewest else 'equals'} the {fewest} {where}, "
                         f"which leaves a cluster per patient or fewer: set {key} below {fewest}")
    distinct = len(np.unique(np.asarray(adata.X), axis=0))
    if largest > distinct:
        raise InputError(f"{source}: {what} exceeds the {distinct} distinct expression profiles among the "
                         f"{adata.n_obs} samples (duplicated samples?)")


def _estimator_params(model_params: dict[str, Any] | None, task: str, seed: int, device: str,
                      adata: ad.AnnData) -> dict[str, Any]:
    """DeepType keyword arguments from a config's ``model`` section (lists made tuples), the run's settings
    and, for several views, ``views`` from ``adata.var["view"]`` (``alpha`` may then list one per view)."""
    from ..model import resolve_device

    resolve_device(device)  # a device this machine lacks is refused before any data is fitted
    params = {key: value for key, value in (model_params or {}).items() if key != "n_fits"}  # not DeepType's
    params.update(task=task, random_state=seed, device=device)
    for key in ("hidden_layers", "n_clusters_range", "alpha"):
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    if "view" in adata.var and adata.var["view"].nunique() > 1:
        names = pd.unique(adata.var["view"])
        counts = adata.var["view"].value_counts()
        params["views"] = tuple((str(name), int(counts[name])) for name in names)
    return params


def _procedure_params(model_params: dict[str, Any] | None, task: str, seed: int, device: str, adata: ad.AnnData,
                      tuning_grid: dict[str, Any] | None, source: str,
                      validation_folds: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """The DeepType keyword arguments of a config's ``model`` section (:func:`_estimator_params`, K checked
    against ``adata`` and its ``validation_folds``, ``alpha_grid`` from the tuning grid) and the tuning grid with
    its defaults (``alphas``, ``betas``, ``folds``): what the train stage fits, and what every validation fold
    fits again."""
    from ..estimator import DEFAULT_ALPHA_GRID
    from ..tuning import DEFAULT_BETAS

    params = _estimator_params(model_params, task, seed, device, adata)
    grid = {"alphas": list(DEFAULT_ALPHA_GRID), "betas": list(DEFAULT_BETAS), "folds": 5, **(tuning_grid or {})}
    _check_n_clusters(adata, params, source, tuning_folds=int(grid["folds"]), validation_folds=validation_folds)
    params["alpha_grid"] = tuple(float(value) for value in grid["alphas"])
    return params, grid


def _cross_validated_beta(params: dict[str, Any], grid: dict[str, Any], X: Any, y: Any,
                          where: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """``params`` with ``beta`` chosen by cross-validating ``grid["betas"]`` over ``grid["folds"]`` folds of
    ``X``, ``y`` (:func:`~deepsubtype.tuning.tune_alpha_beta`; the train stage on all patients, a validation
    fold on its training patients), and the search's ``tuning.tsv`` rows; ``where`` names them in the log.
    The folds train what the fit will (:func:`~deepsubtype.tuning.beta_task`): for ``task: survival`` the
    objective is chosen first, at beta 1.2, and a baseline's clusters are scored as classes."""
    from ..estimator import DeepType
    from ..tuning import beta_task, tune_alpha_beta, tuning_table

    estimator, target, objective = beta_task(DeepType(**{**params, "beta": 1.2}), X, y)
    search = tune_alpha_beta(estimator, X, target, alphas=None, betas=grid["betas"], folds=grid["folds"],
                             refit=False)
    beta = float(search.best_params_["beta"])
    logger.info("cross-validated choice (%s): beta=%g%s", where, beta,
                f" (held-out loss on {objective}'s clusters as classes, the fit's objective at beta 1.2)"
                if objective != "primary" else "")
    return {**params, "beta": beta}, tuning_table(search, objective)


def _raw_for_folds(adata: ad.AnnData, expression: str | Path | None, orientation: Orientation,
                   clinical: str | Path | None, sample_column: str | None, source: str) -> ad.AnnData | None:
    """The raw matrix (``expression``, read as the normalize stage did) of ``adata``'s samples, in its row order,
    for the validation folds to refit the gene filter and the z-score; None without ``expression`` or with
    several views (the folds then refit what :func:`~deepsubtype.validation.fold_scaled` can)."""
    if expression is None or "view" in adata.var.columns:
        return None
    if clinical is None:
        raise InputError(f"{expression}: refitting the normalization per fold needs the clinical table too "
                         "(--clinical)")
    raw = _read_raw(expression, orientation, clinical, sample_column)
    absent = adata.obs_names.difference(raw.obs_names, sort=False)
    if len(absent):
        raise InputError(f"{expression}: sample {absent[0]!r} of {source} is not in the raw matrix "
                         f"({len(absent)} such samples)")
    logger.info("each fold refits the gene filter and the z-score on its training patients (from %s)", expression)
    return raw[adata.obs_names].copy()


def _read_raw(expression: str | Path, orientation: Orientation, clinical: str | Path | None,
              sample_column: str | None) -> ad.AnnData:
    """A cohort's matrix as read (samples x genes), aligned to its clinical table when one is given."""
    adata = read_expression(expression, orientation=orientation)
    if clinical is not None:
        adata = attach_clinical(adata, read_clinical(clinical, sample_column=sample_column), source=str(clinical))
    return adata

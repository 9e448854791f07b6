"""The train stage: fit DeepType (or an ensemble) on ``normalized.h5ad``; write the model and the embedding."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from ..ensemble import DeepTypeEnsemble, consensus_support, fit_table
from ..estimator import DeepType
from ..objective import BASELINE_OBJECTIVES
from ..outputs import PROCEDURE_FILE
from ..plots import training_history
from ..tuning import alpha_path_table, objective_table
from ._files import EMBEDDING_KEY, _atomic, _provenance, _save_figure, _write_table
from ._inputs import _cross_validated_beta, _procedure_params, _target

__all__ = ["train_stage"]

logger = logging.getLogger(__name__)


def train_stage(normalized: str | Path, model_dir: str | Path, embedding: str | Path,
                history_plot: str | Path | None = None, k_selection: str | Path | None = None,
                tuning: str | Path | None = None, *,
                task: str = "classification", target: str | None = None, time_column: str | None = None,
                event_column: str | None = None,
                model_params: dict[str, Any] | None = None, seed: int = 0, device: str = "auto",
                tuning_grid: dict[str, Any] | None = None, checkpoint: str | Path | None = None,
                fits: str | Path | None = None) -> DeepType | DeepTypeEnsemble:
    """Fit DeepType on ``normalized.h5ad``; write the model directory and ``embedding.h5ad``.

    ``n_fits`` > 1 in ``model_params`` fits that many seeds (``seed``, ``seed + 1``, ...) and combines them
    (:class:`~deepsubtype.ensemble.DeepTypeEnsemble`): the clusters are the fits' consensus, the
    representation and the tables of K and alpha the representative fit's. ``fits`` (TSV,
    :func:`~deepsubtype.ensemble.fit_table`) gets one row per fit: its K, alpha, cluster sizes and agreement,
    and a ``note`` where the fits learnt a baseline's clusters (their agreement is then not seed stability).

    ``embedding.h5ad`` has the normalized file's ``obs``, ``obsm["X_deeptype"]``
    (n_samples, hidden_layers[-1]) and, in ``uns["deeptype"]``, the cluster
    centres, the training labels, the hyperparameters and ``objective`` (the model's ``objective_``: what
    made the clusters, see the cluster stage's ``method``). ``k_selection`` (TSV)
    gets the score of every K tried on the pretrained representation
    (``n_clusters``, ``inertia``, ``silhouette``, ``stability``, ``chosen``).

    ``alpha = "auto"`` in ``model_params`` chooses alpha along the fit's regularization path over
    ``tuning_grid["alphas"]`` (see :class:`DeepType`); ``beta = "auto"`` cross-validates beta over
    ``tuning_grid["betas"]`` with ``tuning_grid["folds"]`` folds
    (:func:`~deepsubtype.tuning.tune_alpha_beta`). ``tuning`` (TSV, :data:`~deepsubtype.tuning.TUNING_COLUMNS`)
    gets every candidate's held-out primary loss, or the fixed values when nothing was tuned.

    ``checkpoint``: file of the fit's per-round training state (see :class:`DeepType`),
    so that an interrupted run resumes; fits with ``beta = "auto"`` do not use it.
    """
    adata = ad.read_h5ad(normalized)
    y = _target(adata, task, target, time_column, event_column, str(normalized))
    params, grid = _procedure_params(model_params, task, seed, device, adata, tuning_grid, str(normalized))
    n_fits = int((model_params or {}).get("n_fits", 1))
    model, table = _fit(adata, y, params, grid, n_fits=n_fits, seed=seed, checkpoint=checkpoint)
    _log_fit(model, n_fits)
    result = _embedding(adata, model, n_fits)
    result.uns["provenance"] = _provenance(stage="train", task=task, target=target, time=time_column,
                                           event=event_column, seed=seed, device=device,
                                           params={k: v for k, v in model.get_params().items()})
    with _atomic(model_dir) as temporary:
        model.save(temporary)
        (temporary / PROCEDURE_FILE).write_text(json.dumps({"model_params": model_params or {}, "tuning_grid": grid},
                                                           indent=1))
    with _atomic(embedding) as temporary:
        result.write_h5ad(temporary)
    if tuning is not None:
        _write_table(table, tuning)
    if fits is not None:
        _write_table(_fit_table(model), fits)
    if k_selection is not None:
        scores = pd.DataFrame(model.k_scores_, columns=["n_clusters", "inertia", "silhouette", "stability"])
        scores["chosen"] = scores["n_clusters"] == model.n_clusters_
        scores["criterion"] = model.k_criterion if model.n_clusters == "auto" else "fixed in config"
        _write_table(scores, k_selection)
    if history_plot is not None:
        title = f"Training history: {Path(normalized).parent.name}"
        if model.fit_warnings_:
            title += f"\nWARNING, failed fit? {model.fit_warnings_[0]}"
        _save_figure(training_history(model.history_, tuning=table, title=title), history_plot)
    return model


def _fit(adata: ad.AnnData, y: Any, params: dict[str, Any], grid: dict[str, Any], *, n_fits: int, seed: int,
         checkpoint: str | Path | None) -> tuple[DeepType | DeepTypeEnsemble, pd.DataFrame]:
    """The fitted model (one fit, or an ensemble of ``n_fits``) and its tuning table: beta's cross-validation
    when ``params["beta"]`` is ``"auto"``, alpha's path, and the objective's choice."""
    if params.get("beta") == "auto":
        if checkpoint is not None:
            logger.info("beta cross-validation is not checkpointed: %s is not used", checkpoint)
        params, beta_rows = _cross_validated_beta(params, grid, adata, y, "all patients")
        model: DeepType | DeepTypeEnsemble = (DeepType(**params).fit(adata, y) if n_fits == 1 else
                                              DeepTypeEnsemble(DeepType(**params), n_fits=n_fits,
                                                               random_state=seed).fit(adata, y))
        tuned_for = str(beta_rows["objective"].iloc[0])
        if model.objective_ != tuned_for:  # the objective is chosen again at the chosen beta
            logger.warning("beta %g was cross-validated on the %s objective (chosen at beta 1.2); the fit at "
                           "beta %g trained %s", params["beta"], tuned_for, params["beta"], model.objective_)
        tables = [beta_rows, alpha_path_table(model)]
    else:
        single = DeepType(**params, checkpoint=checkpoint)
        model = single.fit(adata, y) if n_fits == 1 else DeepTypeEnsemble(single, n_fits=n_fits,
                                                                          random_state=seed).fit(adata, y)
        tables = [alpha_path_table(model)]
    if model.objective_scores_:
        tables.append(objective_table(model))
    return model, pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]


def _fit_table(model: DeepType | DeepTypeEnsemble) -> pd.DataFrame:
    """``fits.tsv``: :func:`~deepsubtype.ensemble.fit_table` and ``note``, empty unless the fits learnt a
    baseline's clusters (``objective_`` ``kmeans`` or ``pca_kmeans``): every fit then has the clusters of one
    baseline rule, fitted once on all patients, so their ARI of 1 says nothing of seed stability."""
    table = fit_table(model)
    table["note"] = _shared_rule_note(model, len(table))
    return table


def _shared_rule_note(model: DeepType | DeepTypeEnsemble, n_fits: int) -> str:
    """What ``fits.tsv`` says of fits that learnt a baseline's clusters ("" when the clusters are DeepType's)."""
    objective = str(model.objective_)
    if objective not in BASELINE_OBJECTIVES:
        return ""
    if n_fits > 1:
        return (f"all {n_fits} fits learnt {objective}'s clusters (one rule, fitted once on all patients): their "
                "ARI of 1 is not seed stability; they differ only in representation and gene ranking")
    return f"the fit learnt {objective}'s clusters (fitted on all patients), not clusters of its representation"


def _log_fit(model: DeepType | DeepTypeEnsemble, n_fits: int) -> None:
    """The train log's summary of a fit: objective, the fits' agreement, alpha, device, precision, rounds."""
    logger.info("objective %s (%s)", model.objective_, "chosen by cross-validated log-rank p"
                if model.objective_scores_ else "fixed")
    if isinstance(model, DeepTypeEnsemble):
        agreement = model.fit_agreement_[np.triu_indices(n_fits, 1)]
        logger.info("%d fits: pairwise ARI of their clusters %.2f-%.2f (median %.2f); consensus sizes %s%s", n_fits,
                    agreement.min(), agreement.max(), float(np.median(agreement)),
                    np.bincount(model.labels_).tolist(),
                    f" ({_shared_rule_note(model, n_fits)})" if model.objective_ in BASELINE_OBJECTIVES else "")
    logger.info("alpha %s (%s)", model.alpha_, "chosen on the path" if model.alpha_path_ else "fixed")
    logger.info("trained on %s in %s: %d rounds, converged=%s", model.device_, model.precision_, model.n_rounds_,
                model.converged_)


def _embedding(adata: ad.AnnData, model: DeepType | DeepTypeEnsemble, n_fits: int) -> ad.AnnData:
    """``embedding.h5ad``: ``adata``'s obs, the representation in ``obsm`` and the clusters in ``uns``."""
    result = ad.AnnData(obs=adata.obs.copy())
    result.obsm[EMBEDDING_KEY] = model.transform(adata).astype(np.float32)
    result.uns["deeptype"] = {
        "cluster_centers": model.cluster_centers_.astype(np.float32),
        "labels": model.labels_.astype(np.int64),
        "n_clusters": int(model.n_clusters_),
        "n_rounds": int(model.n_rounds_),
        "converged": bool(model.converged_),
        "device": model.device_,
        "precision": model.precision_,
        "n_fits": n_fits,
        "objective": str(model.objective_),
    }
    if isinstance(model, DeepTypeEnsemble):
        result.uns["deeptype"]["consensus_support"] = consensus_support(model.co_assignment_, model.labels_)
    return result

"""How one :class:`~deepsubtype.estimator.DeepType` fit is driven, from ``fit(X, y)`` to its fitted attributes.

1. **What it trains on** (:func:`objective_and_target`): the task's own target, or for ``task="survival"`` with
   ``objective="auto"`` the candidate chosen by cross-validated log-rank tests (:mod:`deepsubtype.objective`:
   the Cox loss, or the clusters of k-means / PCA + k-means learnt as classes).
2. **alpha** (``alpha="auto"``): the regularization path is walked from a pretrained trunk
   (:func:`alpha_path`) and the fit is trained afresh at the chosen alpha (:func:`fit_along`); an ensemble
   walks every fit's path first and pools them (:class:`~deepsubtype.ensemble.DeepTypeEnsemble`).
3. **The fit** (:func:`start`, then :func:`finish`): pretraining and rounds of {k-means, joint training} in a
   :class:`~deepsubtype.training.Training`, then the fitted attributes on the estimator.

Every part of one fit shares one seed (:func:`seed_of`), drawn once when ``random_state`` is None.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from .alpha_path import AlphaPath, choose_alpha
from .checkpoint import fingerprint as checkpoint_fingerprint
from .checkpoint import read_checkpoint
from .cluster import cluster_means, relabel_by_size
from .fit_checks import fit_warnings
from .gene_scores import activation_pattern, cluster_axis_correlation, feature_ranges
from .model import resolve_device, resolve_precision
from .objective import BaselineRule, baseline_rule, chosen_objective, objective_scores
from .training import Training

if TYPE_CHECKING:
    from .estimator import DeepType

__all__ = ["fit", "objective_and_target", "alpha_path", "fit_along", "fit_primary", "start", "finish", "seed_of",
           "as_frame_or_array"]

logger = logging.getLogger(__name__)

#: The records of an objective or alpha choice: one dict per candidate (see :mod:`deepsubtype.objective`).
Records = list[dict[str, Any]]


def as_frame_or_array(X: Any) -> Any:
    """AnnData -> DataFrame (so gene names travel); numpy and pandas pass through."""
    if hasattr(X, "to_df") and hasattr(X, "var_names"):
        return X.to_df()
    return X


def _draw_seed() -> int:
    """A fresh seed from the operating system's entropy, logged so that the fit can be repeated."""
    seed = int(np.random.SeedSequence().entropy % 2**63)
    logger.info("random_state=None: drew seed %d (pass it as random_state to repeat this fit)", seed)
    return seed


def seed_of(model: DeepType) -> int:
    """``random_state``, or for ``None`` the seed :func:`fit` drew for this fit (a fresh one outside a fit)."""
    if model.random_state is not None:
        return int(model.random_state)
    drawn = getattr(model, "_drawn_seed", None)
    if drawn is None:
        drawn = model._drawn_seed = _draw_seed()
    return drawn


def fit(model: DeepType, X: Any, y: Any) -> DeepType:
    """:meth:`DeepType.fit <deepsubtype.estimator.DeepType.fit>`: the objective, the alpha path where
    ``alpha="auto"``, the fit; ``fit_seconds_`` includes the objective choice's fits."""
    started = time.perf_counter()
    # every part of one fit (objective choice, alpha path, the fit itself) shares one seed, even when drawn
    model._drawn_seed = _draw_seed() if model.random_state is None else None
    try:
        objective, scores, target, path, alpha_records = objective_and_target(model, X, y)
        model.objective_ = objective
        if path is not None:
            fit_along(model, X, target, path, alpha_records)
        else:
            fit_primary(model, X, target)
    finally:
        del model._drawn_seed
    model.objective_scores_ = scores
    if scores:
        model.fit_seconds_ = time.perf_counter() - started
    return model


def objective_and_target(model: DeepType, X: Any, y: Any) -> tuple[str, Records, Any, AlphaPath | None, Records]:
    """What the fit trains on: ``(objective, the records that chose it (empty unless chosen), the target,
    the alpha path and its records when the choice already walked the Cox fit's path)``; the target is
    ``y`` for ``primary``, else the baseline's clusters (:func:`_baseline_target`)."""
    model._validate_params()
    model._check_objective()
    model.baseline_rule_ = None
    scores: Records = []
    path, alpha_records = None, []
    if model.objective == "auto" and model.task == "survival":
        objective, scores, path, alpha_records = _choose_objective(model, X, y)
    else:
        objective = "primary" if model.objective == "auto" else model.objective
    if objective == "primary":
        return objective, scores, y, path, alpha_records
    return objective, scores, _baseline_target(model, X, objective), None, []


def _choose_objective(model: DeepType, X: Any, y: Any) -> tuple[str, Records, AlphaPath | None, Records]:
    """The objective of an ``objective="auto"`` survival fit: ``(objective, its records, the Cox fit's alpha
    path and alpha records)``; the Cox candidate's cross-validation fits use the alpha its path chose on all
    samples. A checkpoint of the Cox fit (a baseline's holds other targets) means the choice was made before
    an interruption: ``("primary", [], None, [])``."""
    model.objective_ = "primary"
    training = start(model, X, y)
    if training.resumed is not None:
        logger.info("a checkpoint of the Cox fit resumes: its objective was chosen before the interruption")
        return "primary", [], None, []
    alpha, path, alpha_records = model.alpha, None, []
    if model.alpha == "auto":
        with training.own_random_state():
            path = training.walk_alpha_path()
        alpha_records = choose_alpha([path])[1]
        alpha = next(record["alpha"] for record in alpha_records if record["chosen"])
    del training
    scores = objective_scores(model, np.asarray(as_frame_or_array(X), dtype=np.float32),
                              np.asarray(y, dtype=np.float64), alpha=alpha, seed=model.seed_)
    return chosen_objective(scores), scores, path, alpha_records


def _baseline_target(model: DeepType, X: Any, objective: str) -> np.ndarray:
    """Clusters (n_samples,) of baseline ``objective`` on ``X``: the classes a baseline objective learns;
    the baseline's rule is kept in ``baseline_rule_``."""
    matrix = np.asarray(as_frame_or_array(X), dtype=np.float32)
    rule: BaselineRule = baseline_rule(objective, matrix, model.n_clusters, k_range=tuple(model.n_clusters_range),
                                       seed=seed_of(model))
    model.baseline_rule_ = rule
    labels = rule.assign(matrix)
    logger.info("objective %s: learning its %d clusters of %d samples (sizes %s) as classes", objective,
                int(labels.max()) + 1, len(labels), np.bincount(labels).tolist())
    return labels


def fit_primary(model: DeepType, X: Any, y: Any) -> DeepType:
    """A fit on the objective ``objective_`` with target ``y`` (the baseline's classes for a baseline)."""
    training = start(model, X, y)
    if training.resumed is None and model.alpha == "auto":
        with training.own_random_state():
            path = training.walk_alpha_path()
        del training  # the path's copy of X and its network: the fit starts afresh, so free them first
        return fit_along(model, X, y, path, choose_alpha([path])[1])
    if training.resumed is None:
        with training.own_random_state():
            training.train(model.pretrain_steps, "pretrain", model.alpha)
    return finish(model, training)


def start(model: DeepType, X: Any, y: Any, alpha: Any = None) -> Training:
    """Check the parameters and data and set up a fit (network initialized, checkpoint read), at ``alpha``
    instead of the ``alpha`` parameter when given."""
    model._validate_params()
    X = validate_data(model, as_frame_or_array(X), dtype=np.float32, ensure_min_samples=2,
                      ensure_all_finite="allow-nan" if model.views else True)
    model._check_views(X)
    n_samples = X.shape[0]
    model._check_n_clusters(n_samples)
    model._check_alpha()
    target, n_outputs = model._encode_target(y, n_samples)

    device = resolve_device(model.device)
    seed = seed_of(model)
    model.seed_ = seed
    # the precision as resolved: "auto" trains differently on devices with and without bf16 units
    params = {**model.get_params(), "precision": resolve_precision(model.precision, device)}
    fingerprint = checkpoint_fingerprint(params, X, target) if model.checkpoint is not None else ""
    resumed = read_checkpoint(model.checkpoint, fingerprint, device) if model.checkpoint is not None else None
    return Training(model, X, target, n_outputs, device, seed, fingerprint, resumed, alpha)


def alpha_path(model: DeepType, X: Any, y: Any) -> AlphaPath | None:
    """The first part of an ``alpha="auto"`` fit (trunk and scored branches) for a caller that pools several
    fits' paths (:class:`~deepsubtype.ensemble.DeepTypeEnsemble`); None when a checkpoint will resume it."""
    training = start(model, X, y)
    if training.resumed is not None:
        return None
    with training.own_random_state():
        return training.walk_alpha_path()


def fit_along(model: DeepType, X: Any, y: Any, path: AlphaPath | None, records: Records) -> DeepType:
    """The rest of an ``alpha="auto"`` fit from :func:`alpha_path`'s ``path`` and the pooled ``records``
    of :func:`~deepsubtype.alpha_path.choose_alpha`: a fit afresh at the chosen alpha (same seed, so the same
    fit as with that alpha pinned), or the rest of the fit a checkpoint holds."""
    chosen = next((record["alpha"] for record in records if record["chosen"]), None)
    training = start(model, X, y, alpha=chosen if path is not None else None)
    if training.resumed is None:
        assert path is not None
        with training.own_random_state():
            training.take_alpha(path, records)
    finish(model, training)
    model.fit_seconds_ += path.seconds if path is not None else 0.0  # the path was walked before this call
    return model


def finish(model: DeepType, training: Training) -> DeepType:
    """Rounds of {k-means, joint training} after pretraining; the fitted attributes."""
    with training.own_random_state():
        labels, centers, hidden = training.run_rounds()
        model.alpha_ = tuple(training.alpha) if isinstance(training.alpha, list) else training.alpha
        model.fit_warnings_ = fit_warnings(model, training.X, training.full_target, labels, training.initial_norm)
        # the last round's representation: no step came after it
        model.pattern_importances_ = activation_pattern(training.X, hidden, model._view_sizes())
        model.feature_ranges_ = feature_ranges(training.X)
    rule = getattr(model, "baseline_rule_", None)
    if rule is not None:  # a baseline's clusters: its own, by its own rule; centres in the representation
        classes = rule.assign(training.X.cpu().numpy())
        order = relabel_by_size(classes, rule.n_clusters)
        model.baseline_rule_, model.labels_ = rule.renumbered(order), order[classes]
        model.n_clusters_ = rule.n_clusters
        model.cluster_centers_ = cluster_means(hidden.float().cpu().numpy(), model.labels_, model.n_clusters_)
    else:
        order = relabel_by_size(labels, model.n_clusters_)
        model.labels_ = order[labels]
        model.cluster_centers_ = centers[torch.from_numpy(np.argsort(order)).to(training.device)].cpu().numpy()
    model.cluster_axis_importances_ = cluster_axis_correlation(training.X, hidden, model.labels_,
                                                               model._view_sizes())
    model.n_rounds_ = len(training.history["rounds"])
    model.history_ = training.history
    model.device_ = str(training.device)
    model.precision_ = training.precision
    model.fit_seconds_ = time.perf_counter() - training.started
    if model.checkpoint is not None:
        Path(model.checkpoint).unlink(missing_ok=True)
    return model

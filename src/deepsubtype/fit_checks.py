"""Signs of a failed fit (issue 13, item 4): each becomes a WARNING in the log, a sentence in ``fit_warnings_``
(``model.json``) and a note in the report."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .estimator import DeepType

__all__ = ["DOMINANT_CLUSTER_SHARE", "TRIVIAL_LOSS_SHARE", "fit_warnings"]

logger = logging.getLogger("deepsubtype.estimator")  # the estimator's log, where users look for its warnings

#: A model is flagged when one cluster holds at least this share of the samples ...
DOMINANT_CLUSTER_SHARE = 0.95
#: ... or its primary loss is above this share of the trivial predictor's.
TRIVIAL_LOSS_SHARE = 0.98


@torch.no_grad()
def fit_warnings(model: DeepType, X: torch.Tensor, target: torch.Tensor, labels: np.ndarray | None,
                 initial_norm: float, *, log: bool = True) -> list[str]:
    """Signs that ``model`` (its network trained on ``X`` (n, genes) and ``target``) failed, one sentence each
    (logged as warnings unless ``log`` is false): primary loss on the labelled samples no better than the
    trivial predictor's, every first-layer column near zero (largest norm under 1 % of ``initial_norm``, the
    initial median), or one cluster of ``labels`` (n,; if given) holding nearly every sample."""
    found = []
    network = model.network_
    network.eval()
    output = torch.cat([network(X[start:start + 4096])[1].float() for start in range(0, X.shape[0], 4096)])
    network.train()
    task = model._primary
    if task.has_target or not model.views:
        loss = float(task.loss(output, target, X))
        trivial = float(task.loss(task.trivial_output(output, target, X), target, X))
        if trivial > 0 and loss >= TRIVIAL_LOSS_SHARE * trivial:
            found.append(f"primary loss {loss:.4g} is no better than the trivial predictor's {trivial:.4g} "
                         "(the network did not learn the primary task)")
    largest = float(network.column_norms().max())
    if largest < 0.01 * initial_norm:
        found.append(f"every first-layer weight column is near zero (largest norm {largest:.3g}, initial "
                     f"median {initial_norm:.3g}): the sparsity weight alpha is too large")
    if labels is not None:
        counts = np.bincount(labels, minlength=model.n_clusters_)
        if model.n_clusters_ >= 2 and counts.max() >= DOMINANT_CLUSTER_SHARE * len(labels):
            found.append(f"one cluster holds {counts.max()} of {len(labels)} samples: no subtypes found")
    if log:
        for sentence in found:
            logger.warning("failed fit? %s", sentence)
    return found

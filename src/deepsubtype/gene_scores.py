"""Per-gene scores a fit computes from its data and its last representation (ranked by
:mod:`deepsubtype.importance`): the activation pattern, each gene's range and its correlation with the
representation's cluster axes."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["activation_pattern", "cluster_axis_correlation", "feature_ranges"]


@torch.no_grad()
def feature_ranges(X: torch.Tensor) -> np.ndarray:
    """Per feature of ``X`` (n, features), max - min over the samples where its view is present (0 where it is
    absent everywhere): (features,)."""
    present = ~torch.isnan(X)
    high = torch.where(present, X, -torch.inf).amax(0)
    low = torch.where(present, X, torch.inf).amin(0)
    return torch.where(present.any(0), high - low, 0.0).cpu().numpy().astype(np.float64)


@torch.no_grad()
def activation_pattern(X: torch.Tensor, hidden: torch.Tensor, view_sizes: list[int] | None,
                       chunk: int = 2048) -> np.ndarray:
    """Per feature of ``X`` (n, features), ``||cov(x_j, H)||`` over the samples where its view is present:
    (features,). ``hidden`` is the representation ``H`` of ``X`` (n, width); ``view_sizes`` the column count
    of each view (None: one view); genes are taken ``chunk`` at a time so that the centred copy stays small on
    large cohorts."""
    hidden = hidden.float()
    parts = []
    for block in torch.split(X, view_sizes or [X.shape[1]], dim=1):
        present = ~torch.isnan(block[:, 0])
        if int(present.sum()) < 2:
            parts.append(torch.zeros(block.shape[1], device=X.device))
            continue
        h = hidden[present] - hidden[present].mean(0)
        for start in range(0, block.shape[1], chunk):
            x = block[present, start:start + chunk]
            covariance = (x - x.mean(0)).T @ h / (len(h) - 1)
            parts.append(torch.linalg.vector_norm(covariance, dim=1))
    return torch.cat(parts).cpu().numpy().astype(np.float64)


@torch.no_grad()
def cluster_axis_correlation(X: torch.Tensor, hidden: torch.Tensor, labels: np.ndarray,
                             view_sizes: list[int] | None, chunk: int = 2048) -> np.ndarray:
    """Per feature of ``X`` (n, features), the largest absolute correlation, over the clusters, with the
    representation's axis towards that cluster: (features,) in [0, 1].

    A cluster's axis is the unit vector from the mean of ``hidden`` (n, width) to the mean of the cluster's
    rows (``labels`` (n,)); each patient's score on it is their centred representation projected onto it. A
    correlation is blind to a gene's scale and range, and each cluster has its own axis, so the markers of a
    small cluster score as high as those of the main one (a covariance with the whole representation is
    dominated by its largest direction, and a range grows with the outliers a small subtype makes). Per
    view, over the patients who have it; 0 for a constant gene.
    """
    labels_on_device = torch.as_tensor(np.asarray(labels), device=X.device)
    parts = []
    for block in torch.split(X, view_sizes or [X.shape[1]], dim=1):
        present = ~torch.isnan(block[:, 0])
        h = hidden[present].float()
        h = h - h.mean(0)
        members = labels_on_device[present]
        axes = [h[members == k].mean(0) for k in members.unique()]
        axes = [axis / axis.norm() for axis in axes if float(axis.norm()) > 0]
        if int(present.sum()) < 3 or not axes:
            parts.append(torch.zeros(block.shape[1], device=X.device))
            continue
        scores = h @ torch.stack(axes, dim=1)  # (patients, clusters)
        scores = (scores - scores.mean(0)) / scores.std(0).clamp_min(torch.finfo(scores.dtype).tiny)
        for start in range(0, block.shape[1], chunk):
            x = block[present, start:start + chunk]
            x = x - x.mean(0)
            spread = x.std(0)
            correlation = (x.T @ scores) / (len(x) - 1) / spread.clamp_min(torch.finfo(x.dtype).tiny)[:, None]
            parts.append(torch.where(spread > 0, correlation.abs().amax(1), 0.0))
    return torch.cat(parts).cpu().numpy().astype(np.float64)

"""Per-gene scores a fit computes from its data and its last representation (ranked by
:mod:`deepsubtype.importance`): the activation pattern and each gene's range."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["activation_pattern", "feature_ranges"]


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

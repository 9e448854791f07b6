"""Normalization of expression matrices: scale detection, log transform, gene filter, z-score.

Each step is recorded in ``adata.uns["normalize"]`` so that the output file says
what was done to the values.
"""

from __future__ import annotations

import logging
from typing import Literal

import anndata as ad
import numpy as np
import scanpy as sc

from .io import InputError

__all__ = ["Scale", "detect_scale", "normalize"]

logger = logging.getLogger(__name__)

Scale = Literal["counts", "linear", "log"]

#: Non-negative data whose maximum exceeds this is taken as not yet log-transformed.
LINEAR_MAX = 100.0


def detect_scale(X: np.ndarray) -> tuple[Scale, str]:
    """Guess the measurement scale of ``X`` (samples x genes).

    Returns the scale and a one-sentence reason:

    - ``counts``: non-negative integers with maximum above 100 (RNA-seq reads);
    - ``linear``: non-negative non-integers with maximum above 100 (e.g. MAS5
      microarray intensities, TPM);
    - ``log``: anything else: negative values (log ratios, centred data) or a
      maximum of at most 100 (log2 intensities, log counts).
    """
    finite = X[np.isfinite(X)]
    minimum, maximum = float(finite.min()), float(finite.max())
    if minimum < 0:
        return "log", f"negative values present (min {minimum:.3g}): log ratios or log-scale data"
    if maximum <= LINEAR_MAX:
        return "log", f"maximum {maximum:.3g} <= {LINEAR_MAX:g}: already log-scale"
    if np.all(finite == np.round(finite)):
        return "counts", f"non-negative integers with maximum {maximum:.3g}: raw counts"
    return "linear", f"non-negative non-integers with maximum {maximum:.3g}: linear-scale intensities"


def normalize(
    adata: ad.AnnData,
    *,
    scale: Scale | Literal["auto"] = "auto",
    n_top_genes: int | None = 5000,
    zscore: bool = True,
    target_sum: float = 1e6,
    source: str = "expression",
) -> ad.AnnData:
    """Normalize an expression AnnData (samples x genes) for DeepType; returns a new object.

    Steps, in order, each recorded in ``uns["normalize"]``:

    1. refuse missing or infinite values (naming the first gene and sample);
    2. ``scale`` detection (:func:`detect_scale`) unless given;
       counts: ``sc.pp.normalize_total(target_sum)`` then ``sc.pp.log1p``;
       linear: ``sc.pp.log1p``; log: unchanged;
    3. drop genes with zero variance;
    4. keep the ``n_top_genes`` genes of highest variance (``None`` keeps all);
       ``var["variance"]`` and ``var["variance_rank"]`` (1 = most variable) are kept
       and ``var["highly_variable"]`` marks the kept genes;
    5. z-score each gene (``sc.pp.scale``) so first-layer weights are comparable
       across genes; the log-scale values stay in ``layers["log"]``.
    """
    adata = adata.copy()
    X = np.asarray(adata.X, dtype=np.float32)
    bad = ~np.isfinite(X)
    if bad.any():
        sample, gene = np.argwhere(bad)[0]
        raise InputError(
            f"{source}: {int(bad.sum())} missing or infinite values, first at sample "
            f"{adata.obs_names[sample]!r}, gene {adata.var_names[gene]!r}"
        )
    steps: dict[str, object] = {"n_genes_input": int(adata.n_vars), "n_samples": int(adata.n_obs)}

    if scale == "auto":
        detected, reason = detect_scale(X)
        steps["scale_detected"] = detected
        steps["scale_reason"] = reason
        scale = detected
    steps["scale"] = scale
    adata.X = X
    if scale == "counts":
        sc.pp.normalize_total(adata, target_sum=target_sum)
        sc.pp.log1p(adata)
        steps["transform"] = f"normalize_total(target_sum={target_sum:g}) then log1p"
    elif scale == "linear":
        sc.pp.log1p(adata)
        steps["transform"] = "log1p"
    elif scale == "log":
        steps["transform"] = "none (already log-scale)"
    else:
        raise InputError(f"{source}: unknown scale {scale!r}; use auto, counts, linear or log")
    adata.uns.pop("log1p", None)

    variance = np.var(np.asarray(adata.X), axis=0, ddof=1)
    constant = variance <= 0
    if constant.all():
        raise InputError(f"{source}: every gene has zero variance across samples")
    steps["n_genes_zero_variance"] = int(constant.sum())
    adata = adata[:, ~constant].copy()
    variance = variance[~constant]
    order = np.argsort(-variance, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(1, len(order) + 1)
    adata.var["variance"] = variance.astype(np.float64)
    adata.var["variance_rank"] = rank
    keep = n_top_genes if n_top_genes is not None else adata.n_vars
    if keep < 1:
        raise InputError(f"{source}: n_top_genes must be at least 1, got {keep}")
    adata.var["highly_variable"] = rank <= keep
    adata = adata[:, adata.var["highly_variable"].to_numpy()].copy()
    steps["n_top_genes"] = "all" if n_top_genes is None else int(n_top_genes)
    steps["n_genes_kept"] = int(adata.n_vars)

    adata.layers["log"] = np.asarray(adata.X, dtype=np.float32).copy()
    if zscore:
        sc.pp.scale(adata, zero_center=True)
        adata.X = np.asarray(adata.X, dtype=np.float32)
    steps["zscore"] = bool(zscore)
    adata.uns["normalize"] = steps
    logger.info("normalized %s: scale=%s, %d of %d genes kept", source, scale, adata.n_vars, steps["n_genes_input"])
    return adata

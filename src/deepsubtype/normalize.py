"""Normalization of expression matrices: scale detection, log transform, gene filter, z-score; joining views.

Each step is recorded in ``adata.uns["normalize"]`` so that the output file says
what was done to the values.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import anndata as ad
import numpy as np
import pandas as pd

from .io import InputError

__all__ = ["Scale", "MissingPolicy", "MissingViews", "ValueSummary", "summarize_values", "detect_scale",
           "refuse_impossible_values", "column_variance", "to_log_scale", "normalize",
           "combine_views"]

logger = logging.getLogger(__name__)

Scale = Literal["counts", "linear", "log"]
#: What to do with missing (NaN) or infinite expression values.
MissingPolicy = Literal["fail", "drop_genes", "impute"]
#: Patients lacking a view, when several are joined: masked (NaN, flagged) or dropped.
MissingViews = Literal["mask", "drop"]

#: Non-negative data whose maximum exceeds this is taken as not yet log-transformed.
LINEAR_MAX = 100.0


#: Rows per block when scanning a matrix, so that temporaries stay small beside it.
ROW_BLOCK = 256


def _row_blocks(X: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, X.shape[0], ROW_BLOCK):
        yield X[start:start + ROW_BLOCK]


@dataclass(frozen=True)
class ValueSummary:
    """What scale detection looks at, over the finite values of a matrix."""

    minimum: float
    maximum: float
    #: 99.9th percentile (from at most ``QUANTILE_SAMPLE`` evenly spaced values): a maximum one cell cannot move
    upper: float
    integer_share: float
    negative_share: float


#: Values the 99.9th percentile is taken from, evenly spaced over the matrix (deterministic).
QUANTILE_SAMPLE = 1_000_000
#: Share of integer cells above which non-negative data count as integers (counts, calls).
INTEGER_SHARE = 0.999
#: A maximum this many times the 99.9th percentile is taken for a corrupt cell in counts or intensities.
OUTLIER_RATIO = 1e4
#: The reason (logged as a warning) for low non-negative integers taken as log scale: low read counts?
_LOW_INTEGERS = ("non-negative integers up to {maximum:.3g}: taken as log scale; if these are low read counts, "
                 "set scale to counts")


def summarize_values(X: np.ndarray) -> ValueSummary:
    """:class:`ValueSummary` of the finite values of ``X`` (samples x genes), scanned in row blocks."""
    minimum, maximum, n_finite, n_integer, n_negative = np.inf, -np.inf, 0, 0, 0
    for block in _row_blocks(X):
        finite = block[np.isfinite(block)]
        if finite.size:
            minimum, maximum = min(minimum, float(finite.min())), max(maximum, float(finite.max()))
            n_finite += finite.size
            n_integer += int(np.count_nonzero(finite == np.round(finite)))
            n_negative += int(np.count_nonzero(finite < 0))
    flat = np.asarray(X).reshape(-1)
    sample = flat[::max(1, flat.size // QUANTILE_SAMPLE)]
    sample = sample[np.isfinite(sample)]
    upper = float(np.quantile(sample, 0.999)) if sample.size else float("nan")
    total = max(n_finite, 1)
    return ValueSummary(minimum, maximum, upper, n_integer / total, n_negative / total)


def detect_scale(X: np.ndarray, values: ValueSummary | None = None) -> tuple[Scale, str]:
    """Guess the measurement scale of ``X`` (samples x genes; non-finite values ignored).

    Decides on the 99.9th percentile rather than the maximum, so that one corrupt cell cannot change the
    scale (:func:`refuse_impossible_values` then names it). Returns the scale and a one-sentence reason:

    - ``log``: 99.9th percentile at most 100 (log2 intensities, log ratios, log counts, 0/1 calls), or
      negative values in more than 0.1 % of cells; non-negative integers up to 100 (low counts?) are said so;
    - ``counts``: non-negative integers (99.9 % of cells) above that (RNA-seq reads);
    - ``linear``: non-integers above that (e.g. MAS5 microarray intensities, TPM).

    Scans ``X`` in row blocks (no temporary as large as ``X``), unless given its ``values`` summary.
    """
    values = summarize_values(X) if values is None else values
    integers = values.integer_share >= INTEGER_SHARE
    if values.upper <= LINEAR_MAX:
        if values.minimum < 0:
            return "log", (f"negative values present (min {values.minimum:.3g}), 99.9 % of values <= "
                           f"{values.upper:.3g}: log ratios or log-scale data")
        if integers and values.maximum <= 1:
            return "log", "binary 0/1 values: used as they are"
        if integers:
            return "log", _LOW_INTEGERS.format(maximum=values.maximum)
        return "log", f"99.9 % of values <= {values.upper:.3g}, at most {LINEAR_MAX:g}: already log-scale"
    if values.negative_share > 1 - INTEGER_SHARE:
        return "log", (f"negative values in {values.negative_share:.1%} of cells (min {values.minimum:.3g}): "
                       "log ratios or centred data")
    if integers:
        return "counts", (f"non-negative integers with 99.9th percentile {values.upper:.3g} (> {LINEAR_MAX:g}): "
                          "raw counts")
    return "linear", (f"non-negative non-integers with 99.9th percentile {values.upper:.3g} (> {LINEAR_MAX:g}): "
                      "linear-scale intensities")


def _cell(adata: ad.AnnData, mask: np.ndarray) -> str:
    """'sample S, gene G' of the first True cell of ``mask`` (n_samples, n_genes)."""
    row, column = np.argwhere(mask)[0]
    return f"sample {adata.obs_names[row]!r}, gene {adata.var_names[column]!r}"


def refuse_impossible_values(adata: ad.AnnData, scale: Scale, source: str,
                             values: ValueSummary | None = None) -> None:
    """Refuse, naming the first cell, values the ``scale`` cannot hold: above 100 where 99.9 % of a log-scale
    matrix is at most 100 (2^100), negatives in counts or intensities, and elsewhere a maximum over
    ``OUTLIER_RATIO`` times the 99.9th percentile (a corrupt cell)."""
    X = np.asarray(adata.X)
    values = summarize_values(X) if values is None else values
    if scale == "log" and values.upper <= LINEAR_MAX < values.maximum:
        raise InputError(f"{source}: value {values.maximum:.3g} at {_cell(adata, X == values.maximum)} on a log "
                         f"scale where 99.9 % of values are <= {values.upper:.3g}: fix the cell (or set it missing), "
                         "or set scale to linear or counts if the data are not log-transformed")
    if scale in ("counts", "linear") and values.minimum < 0:
        raise InputError(f"{source}: negative value {values.minimum:.3g} at {_cell(adata, X == values.minimum)} "
                         f"in {scale} data, which cannot have negatives; fix the cell or set scale to log")
    if values.upper > LINEAR_MAX and values.maximum > OUTLIER_RATIO * values.upper:
        raise InputError(f"{source}: value {values.maximum:.3g} at {_cell(adata, X == values.maximum)} is over "
                         f"{OUTLIER_RATIO:g} times the 99.9th percentile ({values.upper:.3g}): a corrupt cell? "
                         "fix it or set it missing")


def column_variance(X: np.ndarray) -> np.ndarray:
    """Sample variance (ddof 1) of each column of ``X`` (n, p) as float64 (p,), in row blocks."""
    mean = X.sum(axis=0, dtype=np.float64) / X.shape[0]
    total = np.zeros(X.shape[1])
    for block in _row_blocks(X):
        total += np.square(block - mean).sum(axis=0)
    return total / max(X.shape[0] - 1, 1)


def _handle_missing(adata: ad.AnnData, policy: str, source: str, steps: dict[str, object]) -> ad.AnnData:
    """Apply the missing-value ``policy`` to non-finite cells of ``adata.X`` (on the input scale).

    ``fail`` raises, naming the first sample and gene; ``drop_genes`` removes every gene
    with a missing value; ``impute`` fills each gene's gaps with its median over the
    samples that have it and drops genes missing everywhere.
    """
    X = np.asarray(adata.X, dtype=np.float32)
    bad = ~np.isfinite(X)
    n_bad = int(bad.sum())
    steps["missing_policy"] = policy
    steps["n_values_missing"] = n_bad
    if policy not in ("fail", "drop_genes", "impute"):
        raise InputError(f"{source}: unknown missing-value policy {policy!r}; use fail, drop_genes or impute")
    if n_bad == 0:
        return adata
    sample, gene = np.argwhere(bad)[0]
    where = f"first at sample {adata.obs_names[sample]!r}, gene {adata.var_names[gene]!r}"
    if policy == "fail":
        raise InputError(f"{source}: {n_bad} missing or infinite values, {where}; "
                         "set normalize.missing to drop_genes or impute to go on")
    affected = bad.any(axis=0)
    empty = bad.all(axis=0)
    drop = affected if policy == "drop_genes" else empty
    if drop.all():
        raise InputError(f"{source}: every gene has a missing or infinite value ({where}); nothing left "
                         f"under missing policy {policy!r}")
    result = adata[:, ~drop].copy()
    if policy == "impute":
        gaps = ~np.isfinite(result.X)
        result.X[gaps] = np.nan
        result.X[gaps] = np.broadcast_to(np.nanmedian(result.X, axis=0), gaps.shape)[gaps]
        steps["n_values_imputed"] = int(gaps.sum())
    steps["n_genes_dropped_missing"] = int(drop.sum())
    logger.warning("%s: %d missing or infinite values (%s); policy %s: %d genes dropped, %d values imputed "
                   "by gene median", source, n_bad, where, policy, int(drop.sum()), steps.get("n_values_imputed", 0))
    return result


def _check_declared_scale(X: np.ndarray, scale: str, source: str, values: ValueSummary) -> None:
    """Refuse a declared ``scale`` that the values (their ``values`` summary) contradict (e.g. raw counts
    declared as log)."""
    detected, reason = detect_scale(X, values)
    if scale == "log" and detected == "counts":
        raise InputError(f"{source}: scale is set to 'log' but the values look like raw counts ({reason}); "
                         "set scale to counts or auto")
    if scale in ("counts", "linear") and values.negative_share > 1 - INTEGER_SHARE:
        raise InputError(f"{source}: scale is set to {scale!r} but the values include negatives "
                         f"(min {values.minimum:.3g}), which counts and intensities cannot have; set scale to log "
                         "or auto")
    if scale == "counts" and values.integer_share < INTEGER_SHARE:
        raise InputError(f"{source}: scale is set to 'counts' but the values are not integers; "
                         "set scale to linear, log or auto")


def to_log_scale(adata: ad.AnnData, scale: Scale | Literal["auto"] | str, steps: dict[str, object], *,
                 target_sum: float = 1e6, source: str = "expression") -> ad.AnnData:
    """Bring ``adata.X`` (float32, finite) to log scale in place, as step 2 of :func:`normalize`.

    ``scale`` ``auto`` is detected (:func:`detect_scale`); a declared scale that the values
    contradict is refused. counts: ``normalize_total(target_sum)`` then ``log1p``; linear:
    ``log1p``; log: unchanged. ``steps`` gets ``scale`` (and ``scale_detected``,
    ``scale_reason``) and ``transform``.
    """
    X = np.asarray(adata.X, dtype=np.float32)
    values = summarize_values(X)  # one pass over the matrix for detection and checks
    if scale == "auto":
        detected, reason = detect_scale(X, values)
        steps["scale_detected"] = detected
        steps["scale_reason"] = reason
        scale = detected
        logger.info("%s: scale detected as %s (%s)", source, detected, reason)
        if reason == _LOW_INTEGERS.format(maximum=values.maximum):
            logger.warning("%s: %s", source, reason)
    elif scale in ("counts", "linear", "log"):
        _check_declared_scale(X, scale, source, values)
    else:
        raise InputError(f"{source}: unknown scale {scale!r}; use auto, counts, linear or log")
    steps["scale"] = scale
    adata.X = X
    refuse_impossible_values(adata, scale, source, values)
    # scanpy takes ~2 s to import: loaded where it transforms, so that a job refusing bad input (and every
    # job that only needs this module's checks) does not pay for it
    import scanpy as sc

    if scale == "counts":
        sc.pp.normalize_total(adata, target_sum=target_sum)
        sc.pp.log1p(adata)
        steps["transform"] = f"normalize_total(target_sum={target_sum:g}) then log1p"
    elif scale == "linear":
        sc.pp.log1p(adata)
        steps["transform"] = "log1p"
    else:
        steps["transform"] = "none (already log-scale)"
    adata.uns.pop("log1p", None)
    return adata


def minmax_scaled(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``values`` (samples x genes) mapped gene by gene from [``low``, ``high``] (genes,) to [0, 1], float32."""
    span = np.where(high > low, high - low, 1.0)
    return ((np.asarray(values, dtype=np.float64) - low) / span).astype(np.float32)


def normalize(
    adata: ad.AnnData,
    *,
    scale: Scale | Literal["auto"] = "auto",
    n_top_genes: int | None = 5000,
    zscore: bool = True,
    minmax: bool = False,
    missing: MissingPolicy = "fail",
    target_sum: float = 1e6,
    source: str = "expression",
    copy: bool = True,
) -> ad.AnnData:
    """Normalize an expression AnnData (samples x genes) for DeepType; returns a new object.

    Steps, in order, each recorded in ``uns["normalize"]``:

    1. missing or infinite values, by the ``missing`` policy: ``fail`` (name the
       first sample and gene), ``drop_genes`` or ``impute`` (gene median);
    2. ``scale`` detection (:func:`detect_scale`) unless given, in which case values
       that contradict it (counts declared as log, negatives declared as counts) are
       refused; counts: ``sc.pp.normalize_total(target_sum)`` then ``sc.pp.log1p``;
       linear: ``sc.pp.log1p``; log: unchanged;
    3. drop genes with zero variance;
    4. keep the ``n_top_genes`` genes of highest variance (``None`` keeps all);
       ``var["variance"]`` and ``var["variance_rank"]`` (1 = most variable) are kept
       and ``var["highly_variable"]`` marks the kept genes;
    5. z-score each gene (``sc.pp.scale``) so first-layer weights are comparable
       across genes; the log-scale values stay in ``layers["log"]``;
    6. with ``minmax``, rescale each gene to [0, 1] by its minimum and maximum over the samples (the DeepType
       paper's scaling; after the z-score it is the same map as on the log values), kept in
       ``var["scaled_min"]`` and ``var["scaled_max"]`` so that held-out and new patients are scaled alike.

    ``copy=False`` works in ``adata``'s own memory (its values are transformed in
    place), so that a large matrix is never held twice; the result holds the kept
    genes only.
    """
    steps: dict[str, object] = {"n_genes_input": int(adata.n_vars), "n_samples": int(adata.n_obs)}
    adata = _handle_missing(adata.copy() if copy else adata, missing, source, steps)
    adata = to_log_scale(adata, scale, steps, target_sum=target_sum, source=source)

    variance = column_variance(np.asarray(adata.X))
    constant = variance <= 0
    if constant.all():
        raise InputError(f"{source}: every gene has zero variance across samples")
    steps["n_genes_zero_variance"] = int(constant.sum())
    keep = n_top_genes if n_top_genes is not None else adata.n_vars
    if keep < 1:
        raise InputError(f"{source}: n_top_genes must be at least 1, got {keep}")
    order = np.argsort(np.where(constant, np.inf, -variance), kind="stable")  # constant genes last
    rank = np.empty_like(order)
    rank[order] = np.arange(1, len(order) + 1)
    kept = ~constant & (rank <= keep)
    adata = adata[:, kept].copy()  # the only copy of the matrix: kept genes only
    adata.var["variance"] = variance[kept]
    adata.var["variance_rank"] = rank[kept]
    adata.var["highly_variable"] = True
    steps["n_top_genes"] = "all" if n_top_genes is None else int(n_top_genes)
    steps["n_genes_kept"] = int(adata.n_vars)

    adata.layers["log"] = np.asarray(adata.X, dtype=np.float32).copy()
    if zscore:
        import scanpy as sc

        sc.pp.scale(adata, zero_center=True)
        adata.X = np.asarray(adata.X, dtype=np.float32)
    steps["zscore"] = bool(zscore)
    if minmax:
        values = np.asarray(adata.X)
        adata.var["scaled_min"], adata.var["scaled_max"] = values.min(0), values.max(0)
        adata.X = minmax_scaled(adata.X, adata.var["scaled_min"].to_numpy(), adata.var["scaled_max"].to_numpy())
    steps["minmax"] = bool(minmax)
    adata.uns["normalize"] = steps
    logger.info("normalized %s: scale %s%s, transform %s, %d of %d genes kept", source, steps["scale"],
                " (detected)" if scale == "auto" else " (declared)", steps["transform"], adata.n_vars,
                steps["n_genes_input"])
    return adata



def _refuse_disjoint_views(names: list[str], present: np.ndarray, source: str) -> None:
    """Refuse two views (``names``, the columns of ``present``: patients x views) that share no patient: nothing
    relates their features, and the clusters would only say which view a patient has."""
    for first, second in itertools.combinations(range(len(names)), 2):
        if not (present[:, first] & present[:, second]).any():
            raise InputError(f"{source}: views {names[first]!r} ({int(present[:, first].sum())} patients) and "
                             f"{names[second]!r} ({int(present[:, second].sum())} patients) share no patient, so "
                             "the clusters would only say which view a patient has: give views of the same "
                             "patients (check their sample ids), or make each view its own cohort")


def combine_views(views: dict[str, ad.AnnData], *, missing_views: MissingViews = "mask",
                  patients: pd.Index | None = None, source: str = "views") -> ad.AnnData:
    """Join normalized views (each patients x features) into one AnnData, features side by side.

    Patients are matched by id. ``missing_views="mask"`` keeps every patient found in
    some view, with NaN in the columns of a view it lacks; ``"drop"`` keeps only the
    patients found in every view. ``patients`` (e.g. the clinical table's ids) fixes
    the order and must all be found in some view: a patient with no view at all is an
    error naming it, and so are two views that share no patient. ``var`` gets ``view`` and
    ``feature`` (the view's own id); ``var_names`` are ``view:feature``; ``obsm["view_present"]`` (patients x views,
    bool) and ``uns["views"]`` (features and patients per view, patients dropped)
    record what was there. ``X`` and ``layers["log"]`` are float32.
    """
    if missing_views not in ("mask", "drop"):
        raise InputError(f"{source}: missing_views must be mask or drop, got {missing_views!r}")
    found = pd.Index([])
    for view in views.values():
        found = found.union(view.obs_names, sort=False)
    order = patients if patients is not None else found
    absent = order.difference(found, sort=False)
    if len(absent):
        raise InputError(f"{source}: patient {absent[0]!r} is in no view ({len(absent)} such patients)")
    present = np.stack([order.isin(view.obs_names) for view in views.values()], axis=1)
    _refuse_disjoint_views(list(views), present, source)
    keep = present.all(1) if missing_views == "drop" else np.ones(len(order), dtype=bool)
    dropped = int((~keep).sum())
    if dropped:
        logger.warning("%s: %d of %d patients lack at least one view and are dropped (missing_views: drop)",
                       source, dropped, len(order))
    order, present = order[keep], present[keep]
    n_masked = int((~present).any(1).sum())
    if n_masked:
        logger.warning("%s: %d of %d patients lack at least one view; those views are masked", source, n_masked,
                       len(order))
    blocks, logs, variables = [], [], []
    for name, view in views.items():
        rows = view.obs_names.get_indexer(order)
        block = np.full((len(order), view.n_vars), np.nan, dtype=np.float32)
        log = np.full_like(block, np.nan)
        block[rows >= 0] = np.asarray(view.X, dtype=np.float32)[rows[rows >= 0]]
        log[rows >= 0] = np.asarray(view.layers["log"], dtype=np.float32)[rows[rows >= 0]]
        blocks.append(block)
        logs.append(log)
        variables.append(view.var.assign(view=name, feature=view.var_names.to_numpy()))
    var = pd.concat(variables)
    var.index = [f"{view}:{feature}" for view, feature in zip(var["view"], var["feature"], strict=True)]
    combined = ad.AnnData(X=np.concatenate(blocks, axis=1), obs=pd.DataFrame(index=order), var=var,
                          layers={"log": np.concatenate(logs, axis=1)})
    combined.obsm["view_present"] = present
    combined.uns["views"] = {name: {"n_features": int(view.n_vars), "n_patients": int(present[:, i].sum())}
                             for i, (name, view) in enumerate(views.items())}
    combined.uns["views_dropped"] = {"missing_views": missing_views, "n_patients_dropped": dropped,
                                     "n_patients_masked": n_masked if missing_views == "mask" else 0}
    combined.uns["normalize"] = {name: view.uns["normalize"] for name, view in views.items()}
    return combined

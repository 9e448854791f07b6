"""Applying a trained model to a new cohort: the training cohort's normalization, transferred.

A model's first layer reads the training cohort's kept genes, in their order, z-scored with
that cohort's per-gene mean and SD. :func:`transfer_normalization` brings a new cohort to the
same space without refitting anything on it (by default):

1. missing or infinite values by the ``missing`` policy of :func:`~deepsubtype.normalize.normalize`;
2. the log transform that its *own* detected scale calls for (counts: ``normalize_total`` +
   ``log1p``; linear: ``log1p``; log: none), as the training cohort's was chosen; a declared
   ``scale`` the values contradict is refused;
3. the training genes picked **by name**, in training order; extra genes are ignored. A training gene absent
   as written that exactly one gene of the new cohort matches when case is ignored (``g0000`` for ``G0000``,
   the only training gene of that spelling) is that gene: logged, and counted and listed in the report. Where
   case leaves a choice (two genes equal ignoring case on either side) the gene stays absent and is named;
4. training genes absent from the new cohort filled by ``missing_genes``: ``mean`` (the training
   cohort's mean, 0 after z-scoring: the gene then says nothing) or ``fail``; above
   ``max_missing_share`` of the training genes absent, the cohort is refused;
5. each gene centred and scaled by ``centering``: ``training`` (the training cohort's per-gene
   mean and SD, as recorded in its ``normalized.h5ad``: nothing learned from the new cohort, works
   for a single sample) or ``own`` (the new cohort's own per-gene mean and SD: the usual practice
   when the new cohort comes from another platform or laboratory, whose per-gene offsets and
   spreads differ; it assumes a subtype mix not too different from the training cohort's).

The overlap report says how many training genes were found, which were missing and, as a
platform check on the shared genes, how well the per-gene means and SDs of the two cohorts
agree (Pearson correlation; a low value means another platform or scale: use ``own``).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anndata as ad
import numpy as np
import pandas as pd

from .io import InputError
from .normalize import MissingPolicy, _handle_missing, minmax_scaled, to_log_scale

__all__ = ["Reference", "Transfer", "MissingGenes", "Centering", "load_reference", "transfer_normalization",
           "DEFAULT_MAX_MISSING_SHARE"]

logger = logging.getLogger(__name__)

#: How training genes absent from a new cohort are handled.
MissingGenes = Literal["mean", "fail"]
#: Whose per-gene mean and SD z-score a new cohort.
Centering = Literal["training", "own"]
#: Share of the training genes that may be absent before a new cohort is refused.
DEFAULT_MAX_MISSING_SHARE = 0.2

_VERSION_SUFFIX = re.compile(r"\.\d+$")


@dataclass
class Reference:
    """What the training cohort's normalization recorded: its genes, their log-scale mean and SD, its scale."""

    genes: pd.Index
    mean: np.ndarray
    std: np.ndarray
    zscore: bool
    scale: str
    source: str
    target_sum: float = 1e6
    #: per gene, the training values' minimum and maximum the min-max step mapped to [0, 1] (None: no such step)
    minmax: tuple[np.ndarray, np.ndarray] | None = None


@dataclass
class Transfer:
    """A new cohort on the training genes (``adata``) and the overlap ``report``."""

    adata: ad.AnnData
    report: dict[str, Any]
    missing_genes: list[str] = field(default_factory=list)


def load_reference(normalized: str | Path | ad.AnnData, *, source: str | None = None) -> Reference:
    """The training cohort's :class:`Reference` from its ``normalized.h5ad`` (path or AnnData).

    Uses ``var["mean"]``/``var["std"]`` (written by the z-score) and, without them,
    the mean and SD (ddof 1) of ``layers["log"]``. Several views are refused.
    """
    if source is None:
        source = str(normalized) if not isinstance(normalized, ad.AnnData) else "training cohort"
    if isinstance(normalized, ad.AnnData):
        adata = normalized
    else:
        path = Path(normalized)
        if not path.is_file():
            raise InputError(f"{path}: training cohort's normalized file not found")
        adata = ad.read_h5ad(path)
    steps = adata.uns.get("normalize", {})
    if "view" in adata.var.columns or "scale" not in steps:
        raise InputError(f"{source}: a model of several views (or a file not written by the normalize stage) "
                         "cannot be applied to a new cohort; only single-matrix models are supported")
    if "mean" in adata.var.columns and "std" in adata.var.columns:
        mean = adata.var["mean"].to_numpy(dtype=np.float64)
        std = adata.var["std"].to_numpy(dtype=np.float64)
    else:
        log = np.asarray(adata.layers["log"], dtype=np.float64)
        mean, std = log.mean(0), log.std(0, ddof=1)
    std = np.where(std > 0, std, 1.0)
    minmax = ((adata.var["scaled_min"].to_numpy(np.float64), adata.var["scaled_max"].to_numpy(np.float64))
              if steps.get("minmax") else None)
    return Reference(genes=pd.Index(adata.var_names.astype(str)), mean=mean, std=std,
                     zscore=bool(steps.get("zscore", True)), scale=str(steps["scale"]), source=source, minmax=minmax)


def _match_hint(absent: pd.Index, available: pd.Index) -> str:
    """How many absent training genes would match case-insensitively or without a version suffix (".1")."""
    def key(name: str) -> str:
        return _VERSION_SUFFIX.sub("", name).upper()

    keys = {key(name) for name in available}
    loose = sum(key(name) in keys for name in absent)
    return (f"; {loose} of the absent genes match when case and version suffixes ('.1') are ignored: "
            "rename the new cohort's gene ids to the training cohort's" if loose else "")


def _matched_ignoring_case(genes: pd.Index, available: pd.Index) -> tuple[dict[str, str], list[str]]:
    """The cohort genes to rename (cohort id -> training gene): for each training gene absent as written, the one
    cohort gene, itself no training gene, equal to it ignoring case, where no other training gene is; and the
    absent training genes for which case leaves a choice."""
    candidates: dict[str, list[str]] = {}
    for name in available.difference(genes, sort=False):
        candidates.setdefault(name.casefold(), []).append(name)
    training = Counter(gene.casefold() for gene in genes)
    renames, ambiguous = {}, []
    for gene in genes.difference(available, sort=False):
        matches = candidates.get(gene.casefold(), [])
        if len(matches) == 1 and training[gene.casefold()] == 1:
            renames[matches[0]] = gene
        elif matches:
            ambiguous.append(gene)
    return renames, ambiguous


def _gene_ids_by_case(adata: ad.AnnData, genes: pd.Index, source: str) -> tuple[ad.AnnData, dict[str, Any]]:
    """``adata`` with the genes :func:`_matched_ignoring_case` finds renamed to the training ids, and the
    report's lines on it; both the matches and the genes left absent for a choice of case are logged."""
    renames, ambiguous = _matched_ignoring_case(genes, pd.Index(adata.var_names.astype(str)))
    if renames:
        adata = adata.copy()
        adata.var_names = [renames.get(name, name) for name in adata.var_names.astype(str)]
        logger.warning("%s: %d training genes are in this cohort with another case and are matched ignoring it: %s",
                       source, len(renames), ", ".join(f"{name} for {gene}" for name, gene in renames.items()))
    if ambiguous:
        logger.warning("%s: %d training genes stay absent: several genes equal to each ignoring case, so case "
                       "cannot tell which is meant: %s", source, len(ambiguous), ", ".join(ambiguous))
    return adata, {"n_matched_ignoring_case": len(renames),
                   "matched_ignoring_case": "; ".join(f"{name} for {gene}" for name, gene in renames.items()),
                   "absent_case_ambiguous": "; ".join(ambiguous)}


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3 or np.std(a[keep]) == 0 or np.std(b[keep]) == 0:
        return float("nan")
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def _check_overlap(genes: pd.Index, available: pd.Index, reference: Reference, source: str,
                   missing_genes: str, max_missing_share: float) -> tuple[np.ndarray, pd.Index]:
    """Which training genes the new cohort has (bool mask, training order) and the absent ones; refuses
    no overlap, a missing share above ``max_missing_share``, or any missing under ``fail``."""
    found = genes.isin(available)
    absent = genes[~found]
    n_found, n_missing = int(found.sum()), int((~found).sum())
    share = n_missing / len(genes)
    example = f"training genes e.g. {genes[0]!r}, this file's e.g. {available[0]!r}"
    if n_found == 0:
        raise InputError(f"{source}: none of the {len(genes)} training genes ({reference.source}) is a gene id of "
                         f"this cohort ({example}): another platform or type of gene id?"
                         f"{_match_hint(absent, available)}")
    if share > max_missing_share:
        raise InputError(f"{source}: {n_missing} of the {len(genes)} training genes ({share:.1%}) are absent, above "
                         f"max_missing_share {max_missing_share:.1%} ({n_found} found; first absent "
                         f"{absent[0]!r}){_match_hint(absent, available)}")
    if n_missing and missing_genes == "fail":
        raise InputError(f"{source}: {n_missing} of the {len(genes)} training genes are absent (first "
                         f"{absent[0]!r}) and missing_genes is fail{_match_hint(absent, available)}")
    return found, absent


def transfer_normalization(adata: ad.AnnData, reference: Reference | str | Path | ad.AnnData, *,
                           scale: str = "auto", missing: MissingPolicy | str = "fail",
                           missing_genes: MissingGenes | str = "mean",
                           max_missing_share: float = DEFAULT_MAX_MISSING_SHARE,
                           centering: Centering | str = "training", source: str = "expression") -> Transfer:
    """A new cohort (samples x genes, raw as read) normalized as the training cohort was; see the module.

    Returns a :class:`Transfer`: ``adata`` with the training genes as ``var_names`` (in order),
    ``X`` z-scored (float32), ``layers["log"]`` (absent genes at the training mean),
    ``var["found"]``, ``obs`` kept, ``uns["normalize"]`` (steps) and ``uns["transfer"]`` (the
    report); ``report``: ``n_training_genes``, ``n_found``, ``n_missing``, ``missing_share``,
    ``n_cohort_genes``, ``n_cohort_genes_unused``, the platform check
    (``gene_mean_correlation``, ``gene_sd_correlation``, ``gene_sd_ratio_median`` new/training,
    on the shared genes' log values), the settings and the case matches (``n_matched_ignoring_case``,
    ``matched_ignoring_case``: "cohort id for training id" pairs; ``absent_case_ambiguous``: the genes left
    absent for a choice of case); ``missing_genes``: the absent genes.

    Raises :class:`InputError` (naming ``source``) when no gene is shared, when the missing share
    exceeds ``max_missing_share``, or any is missing under ``missing_genes="fail"``.
    """
    if not isinstance(reference, Reference):
        reference = load_reference(reference)
    if missing_genes not in ("mean", "fail"):
        raise InputError(f"{source}: missing_genes must be mean or fail, got {missing_genes!r}")
    if centering not in ("training", "own"):
        raise InputError(f"{source}: centering must be training or own, got {centering!r}")
    steps: dict[str, Any] = {"n_genes_input": int(adata.n_vars), "n_samples": int(adata.n_obs),
                             "transferred_from": reference.source}
    genes = reference.genes
    if centering == "own" and adata.n_obs < 2:
        raise InputError(f"{source}: centering 'own' needs at least 2 samples, got {adata.n_obs}; "
                         "use centering 'training' for single samples")
    adata, by_case = _gene_ids_by_case(adata, genes, source)
    _check_overlap(genes, pd.Index(adata.var_names.astype(str)), reference, source, missing_genes,
                   max_missing_share)
    adata = _handle_missing(adata.copy(), missing, source, steps)
    available = pd.Index(adata.var_names.astype(str))  # drop_genes may have removed some
    found, absent = _check_overlap(genes, available, reference, source, missing_genes, max_missing_share)
    n_found, n_missing = int(found.sum()), len(absent)
    adata = to_log_scale(adata, scale, steps, target_sum=reference.target_sum, source=source)
    if steps["scale"] != reference.scale:
        logger.warning("%s: scale %s, the training cohort's was %s: both are brought to log scale, but check the "
                       "platform agreement in the overlap report", source, steps["scale"], reference.scale)
    columns = pd.Index(adata.var_names.astype(str)).get_indexer(genes)
    log_values = np.asarray(adata.X, dtype=np.float64)
    log = np.tile(reference.mean, (adata.n_obs, 1))  # absent genes: the training mean
    log[:, found] = log_values[:, columns[found]]

    report = {**_overlap_report(log, found, reference, steps["scale"], centering, missing_genes,
                                max_missing_share, n_cohort_genes=len(available)), **by_case}
    X = _scaled(log, found, reference, centering)
    result = ad.AnnData(X=X.astype(np.float32), obs=adata.obs.copy(),
                        var=pd.DataFrame({"found": found, "training_mean": reference.mean,
                                          "training_std": reference.std}, index=genes),
                        layers={"log": log.astype(np.float32)})
    steps.update({"n_genes_kept": int(len(genes)), "zscore": reference.zscore,
                  "minmax": reference.minmax is not None, "centering": report["centering"],
                  "missing_genes": missing_genes, "n_training_genes_missing": n_missing})
    result.uns["normalize"] = steps
    result.uns["transfer"] = report
    for key in ("source", "alignment"):
        if key in adata.uns:
            result.uns[key] = adata.uns[key]
    logger.info("%s on the training genes of %s: %d of %d found (%.1f %% missing, filled with the training mean), "
                "centering %s; per-gene means correlate at %.2f, SDs at %.2f", source, reference.source, n_found,
                len(genes), 100 * report["missing_share"], report["centering"], report["gene_mean_correlation"],
                report["gene_sd_correlation"])
    return Transfer(result, report, [str(gene) for gene in absent])


def _overlap_report(log: np.ndarray, found: np.ndarray, reference: Reference, scale: str, centering: str,
                    missing_genes: str, max_missing_share: float, *, n_cohort_genes: int) -> dict[str, Any]:
    """The transfer's report (see :func:`transfer_normalization`) from the cohort's log values on the training
    genes (n_samples, n_training_genes) and which of those genes were ``found``."""
    shared = np.flatnonzero(found)
    n_found, n_missing = int(found.sum()), int((~found).sum())
    own_mean = log[:, shared].mean(0)
    own_sd = log[:, shared].std(0, ddof=1) if log.shape[0] >= 2 else np.full(len(shared), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = own_sd / reference.std[shared]
    return {
        "training_cohort": reference.source,
        "n_samples": int(log.shape[0]),
        "n_training_genes": int(len(found)),
        "n_found": n_found,
        "n_missing": n_missing,
        "missing_share": n_missing / len(found),
        "max_missing_share": float(max_missing_share),
        "missing_genes_rule": missing_genes,
        "n_cohort_genes": int(n_cohort_genes),
        "n_cohort_genes_unused": int(n_cohort_genes - n_found),
        "scale_training": reference.scale,
        "scale_cohort": scale,
        "centering": centering if reference.zscore else "none (training not z-scored)",
        "gene_mean_correlation": _correlation(own_mean, reference.mean[shared]),
        "gene_sd_correlation": _correlation(own_sd, reference.std[shared]),
        "gene_sd_ratio_median": float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else float("nan"),
    }


def _scaled(log: np.ndarray, found: np.ndarray, reference: Reference, centering: str) -> np.ndarray:
    """The log values (n_samples, n_training_genes) scaled as the training cohort was: z-scored with its means
    and SDs (``training``) or the cohort's own (``own``, absent genes at 0), then min-max where it was."""
    if not reference.zscore:
        X = log
    elif centering == "training":
        X = (log - reference.mean) / reference.std
    else:
        sd = log.std(0, ddof=1)
        X = (log - log.mean(0)) / np.where(sd > 0, sd, 1.0)
        X[:, ~found] = 0.0  # the training mean, z-scored
    if reference.minmax is not None:
        X = minmax_scaled(X, *reference.minmax)
    return X

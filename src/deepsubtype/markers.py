"""Markers per subtype: every cluster's genes against the rest of the patients (scanpy's ``rank_genes_groups``),
as one tidy table, and each cluster's top markers for the plot and the summary.

Markers of clusters found on the same data are descriptive: the clusters were made to differ on these genes, so
the test is not independent of how they were made and its p-values rank genes; they are not evidence that the
subtypes exist. No heavy imports: scanpy (~2 s) is loaded where the test runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import anndata as ad
import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["MARKER_COLUMNS", "MARKER_METHODS", "MARKERS_NOTE", "cluster_markers", "cluster_profiles",
           "marker_profiles", "top_markers"]

logger = logging.getLogger(__name__)

MarkerMethod = Literal["wilcoxon", "t-test_overestim_var", "t-test"]
#: scanpy's tests offered, the first the default: Wilcoxon rank-sum; Welch's t-test with the rest's variance
#: over-estimated (scanpy's default); Welch's t-test.
MARKER_METHODS: tuple[str, ...] = ("wilcoxon", "t-test_overestim_var", "t-test")

#: What every row of ``markers.tsv`` says of its p-values (its ``note`` column; the caption says the same).
MARKERS_NOTE = ("descriptive: the clusters were found on these data, so the test is not independent of how they "
                "were made; the p-values rank genes, they are not evidence that the subtypes exist")

#: ``markers.tsv``'s columns, in order; a table of several views has ``view`` and ``feature`` after ``gene``.
MARKER_COLUMNS = ["cluster", "rank", "gene", "score", "log_fold_change", "p_value", "p_adjusted", "mean_in_cluster",
                  "mean_in_rest", "share_above_rest_median", "n_in_cluster", "n_in_rest", "method", "log_scale",
                  "note"]

#: The log layer's scale in words, by ``uns["normalize"]["scale"]`` (the normalize stage's detected or declared
#: input scale): the unit of ``log_fold_change``, ``mean_in_cluster`` and ``mean_in_rest``.
_LOG_SCALES = {"counts": "ln(1 + counts per million)", "linear": "ln(1 + x)",
               "log": "the input's own log scale (as given; log2 for most arrays)"}


def cluster_profiles(values: np.ndarray, labels: np.ndarray, clusters: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's mean of every gene and the share of its patients above the other patients' median.

    ``values`` (samples x genes; NaN = not measured, left out gene by gene), ``labels`` (samples,), ``clusters``
    (K,). Returns ``mean`` and ``share``, each (K x genes); ``share`` is 0.5 where the cluster is not shifted,
    1 where every patient of the cluster is above the others' median, 0 where every one is below (NaN where the
    cluster or the rest has no value)."""
    values = np.asarray(values, dtype=np.float64)
    mean = np.full((len(clusters), values.shape[1]), np.nan)
    share = np.full_like(mean, np.nan)
    for index, cluster in enumerate(clusters):
        inside = values[labels == cluster]
        rest = values[labels != cluster]
        measured = np.isfinite(inside).sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean[index] = np.where(measured > 0, np.nansum(inside, 0) / measured, np.nan)
            median = _nanmedian(rest)
            share[index] = np.where(measured > 0, (inside > median).sum(0) / measured, np.nan)
    return mean, share


def _nanmedian(values: np.ndarray) -> np.ndarray:
    """Each column's median over its finite values (NaN for a column without any), without numpy's warning."""
    finite = np.isfinite(values)
    if finite.all():
        return np.median(values, axis=0) if len(values) else np.full(values.shape[1], np.nan)
    median = np.full(values.shape[1], np.nan)
    for column in np.flatnonzero(finite.any(0)):
        median[column] = np.median(values[finite[:, column], column])
    return median


def _log_scale(adata: ad.AnnData, view: str | None) -> str:
    """The log layer's scale of ``view`` (the whole matrix for None) in words, from ``uns["normalize"]``."""
    steps = adata.uns.get("normalize", {})
    if view is not None:
        steps = steps.get(view, {}) if isinstance(steps, Mapping) else {}
    scale = steps.get("scale") if isinstance(steps, Mapping) else None
    return _LOG_SCALES.get(str(scale), "the normalize stage's log scale")


def cluster_markers(adata: ad.AnnData, clusters: pd.Series, *, method: MarkerMethod = "wilcoxon",
                    layer: str = "log", source: str = "normalized matrix") -> pd.DataFrame:
    """Rank, for every cluster, its genes against the rest of the patients (scanpy's ``rank_genes_groups``).

    ``adata``: the normalized AnnData (samples x genes) whose ``layers[layer]`` holds the log-scale values before
    z-scoring; ``clusters``: cluster labels indexed by sample id (a subset of ``adata.obs_names``). The test is
    scanpy's ``method`` (:data:`MARKER_METHODS`) of each cluster against all other patients, p-values adjusted by
    Benjamini-Hochberg over the genes of each cluster (of each view); the order is scanpy's, by ``score`` (the
    Wilcoxon z-score or Welch's t), so ``rank`` 1 is the gene most raised in the cluster and the last the most
    lowered. A cluster of one patient is not tested (it stays in the others' rest); with one cluster there is
    nothing to test and the table is empty.

    Returns one row per cluster and gene, sorted by cluster (view) and rank, columns :data:`MARKER_COLUMNS`:
    ``log_fold_change`` = ``mean_in_cluster`` - ``mean_in_rest``, means of the log layer, so a difference of
    log means in the log layer's unit (``log_scale``: natural log for counts and linear input, the input's own
    log, often log2, for log-scale input); positive = higher in the cluster. (scanpy's own ``logfoldchanges``
    assumes natural-log ``log1p`` data: wrong, and NaN for negative values, on log2 arrays; it is not used.)
    ``share_above_rest_median``: the share of the cluster's patients above the other patients' median of the
    gene, 0.5 for no shift: for continuous array or z-scored data the "fraction expressing" of single-cell markers
    (share of non-zero values) is near 1 for every gene or meaningless, so this common-language effect stands in
    for it. ``n_in_cluster``, ``n_in_rest``: the patients tested; ``note``: :data:`MARKERS_NOTE`.

    A matrix of several views (``var["view"]``) is ranked within each view, on the patients that have it (the
    views' log scales differ, and a masked view's patients are NaN there): ``rank``, ``p_adjusted`` and
    ``log_scale`` are per view, and ``view`` and ``feature`` (the name without its ``view:`` prefix) name it.
    """
    if method not in MARKER_METHODS:
        raise InputError(f"marker test {method!r} is not one of {', '.join(MARKER_METHODS)}")
    if layer not in adata.layers:
        raise InputError(f"{source}: no layers[{layer!r}] (the log-scale values before z-scoring); normalize again")
    absent = clusters.index.difference(adata.obs_names, sort=False)
    if len(absent):
        raise InputError(f"{source}: clustered sample {absent[0]!r} is not in the matrix ({len(absent)} such samples)")
    views = (adata.var["view"].astype(str).to_numpy() if "view" in adata.var and adata.var["view"].nunique() > 1
             else None)
    rows = adata.obs_names.get_indexer(clusters.index)
    log = np.asarray(adata.layers[layer], dtype=np.float64)[rows]
    labels = clusters.to_numpy()
    tables = []
    for view in ([None] if views is None else list(dict.fromkeys(views))):
        columns = np.ones(adata.n_vars, dtype=bool) if view is None else views == view
        table = _markers_of_block(log[:, columns], labels, adata.var_names[columns], method)
        if table.empty:
            continue
        table["log_scale"] = _log_scale(adata, view)
        if view is not None:
            table.insert(3, "view", view)
            table.insert(4, "feature", table["gene"].str.removeprefix(f"{view}:"))
        tables.append(table)
    columns = [*MARKER_COLUMNS[:3], *(["view", "feature"] if views is not None else []), *MARKER_COLUMNS[3:]]
    if not tables:
        return pd.DataFrame(columns=columns)
    table = pd.concat(tables, ignore_index=True).assign(method=method, note=MARKERS_NOTE)
    order = {cluster: index for index, cluster in enumerate(np.sort(np.unique(labels)))}
    table = table.sort_values("cluster", key=lambda c: c.map(order), kind="stable", ignore_index=True)
    return table[columns]


def _markers_of_block(log: np.ndarray, labels: np.ndarray, genes: pd.Index, method: str) -> pd.DataFrame:
    """:func:`cluster_markers` on one view's block (samples x genes of log values; its patients are the rows
    with every value finite); no ``log_scale``, ``method`` or ``note`` yet."""
    # scanpy takes ~2 s to import: loaded here, so that the jobs that write no markers do not pay for it
    import scanpy as sc

    present = np.isfinite(log).all(1)
    log, labels = log[present], labels[present]
    clusters, sizes = np.unique(labels, return_counts=True)
    tested = [cluster for cluster, size in zip(clusters, sizes, strict=True) if size >= 2 and len(labels) - size >= 2]
    untested = [str(cluster) for cluster in clusters if cluster not in tested]
    if untested:
        logger.warning("markers: cluster%s %s not tested (fewer than 2 patients in it or in the rest)",
                       "s" if len(untested) > 1 else "", ", ".join(untested))
    if len(clusters) < 2 or not tested:
        return pd.DataFrame()
    names = {str(cluster): cluster for cluster in clusters}
    block = ad.AnnData(X=log, obs=pd.DataFrame({"cluster": pd.Categorical([str(c) for c in labels],
                                                                         categories=list(names))},
                                               index=[str(i) for i in range(len(labels))]),
                       var=pd.DataFrame(index=genes.astype(str)))
    sc.tl.rank_genes_groups(block, "cluster", groups=[str(c) for c in tested], reference="rest", method=method,
                            corr_method="benjamini-hochberg", use_raw=False)
    ranked = sc.get.rank_genes_groups_df(block, group=None)
    ranked["rank"] = ranked.groupby("group", observed=True).cumcount() + 1
    mean, share = cluster_profiles(log, labels, tested)
    position = genes.get_indexer(ranked["names"])
    group = ranked["group"].astype(str).map({str(c): i for i, c in enumerate(tested)}).to_numpy()
    rest_mean = np.stack([log[labels != cluster].mean(0) for cluster in tested])
    in_cluster = mean[group, position]
    in_rest = rest_mean[group, position]
    size = dict(zip(clusters, sizes, strict=True))
    cluster = ranked["group"].astype(str).map(names)
    return pd.DataFrame({
        "cluster": cluster.to_numpy(), "rank": ranked["rank"].to_numpy(), "gene": ranked["names"].astype(str),
        "score": ranked["scores"].to_numpy(np.float64), "log_fold_change": in_cluster - in_rest,
        "p_value": ranked["pvals"].to_numpy(np.float64), "p_adjusted": ranked["pvals_adj"].to_numpy(np.float64),
        "mean_in_cluster": in_cluster, "mean_in_rest": in_rest,
        "share_above_rest_median": share[group, position],
        "n_in_cluster": [int(size[c]) for c in cluster], "n_in_rest": [int(len(labels) - size[c]) for c in cluster]})


def marker_profiles(adata: ad.AnnData, clusters: pd.Series, genes: list[str], *, layer: str = "log"
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each cluster's mean z-score of ``genes`` (each gene's log values, ``layers[layer]``, centred and scaled over
    the clustered patients that have it) and the share of its patients above the other patients' median
    (:func:`cluster_profiles`); each genes (unique, in order) x clusters (sorted)."""
    unique = list(dict.fromkeys(genes))
    rows = adata.obs_names.get_indexer(clusters.index)
    values = np.asarray(adata[:, unique].layers[layer], dtype=np.float64)[rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.nanstd(values, axis=0)
        z = (values - np.nanmean(values, axis=0)) / np.where(spread > 0, spread, 1.0)
    order = list(np.sort(clusters.unique()))
    mean, share = cluster_profiles(z, clusters.to_numpy(), order)
    return (pd.DataFrame(mean.T, index=unique, columns=order), pd.DataFrame(share.T, index=unique, columns=order))


def top_markers(markers: pd.DataFrame, n_top: int = 3) -> dict[Any, list[str]]:
    """Each cluster's ``n_top`` markers raised in it (``log_fold_change`` > 0), strongest ``score`` first (the
    table's rank within a view; across views, the views' lists merged by score), by cluster in table order."""
    raised = markers[markers["log_fold_change"] > 0].sort_values(["score", "rank"], ascending=[False, True],
                                                                kind="stable")
    return {cluster: list(raised.loc[raised["cluster"] == cluster, "gene"].head(n_top).astype(str))
            for cluster in dict.fromkeys(markers["cluster"])}

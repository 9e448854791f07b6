"""The genes stage: rank genes by DeepType importance beside the univariate test; every cluster's markers;
tables and plots."""

from __future__ import annotations

import logging
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from ..ensemble import load_model
from ..errors import InputError
from ..importance import gene_importance, ranking_overlap, univariate_ranking
from ..markers import MarkerMethod, cluster_markers, marker_profiles, top_markers
from ..plots import gene_heatmap, marker_dotplot, top_genes
from ._files import _atomic, _read_clusters, _save_figure, _to_tsv, _write_table
from ._inputs import _target

__all__ = ["genes_stage"]

logger = logging.getLogger(__name__)


def genes_stage(model_dir: str | Path, importance: str | Path, plot: str | Path | None = None,
                heatmap: str | Path | None = None, *, normalized: str | Path | None = None,
                clusters: str | Path | None = None, n_top_plot: int = 30,
                by_view: str | Path | None = None, overlap: str | Path | None = None,
                task: str | None = None, target: str | None = None, time_column: str | None = None,
                event_column: str | None = None, markers: str | Path | None = None,
                markers_plot: str | Path | None = None, marker_method: MarkerMethod = "wilcoxon",
                n_markers_plot: int = 5) -> pd.DataFrame:
    """Rank genes by DeepType importance (the model's ``importance``: activation pattern or first-layer
    norm); write ``gene_importance.tsv``, a bar plot of the top genes and,
    given ``normalized`` and ``clusters``, a heatmap of their z-scores across patients ordered by cluster.

    Given ``normalized`` and a ``task`` with a target, the univariate ranking of the same matrix
    (:func:`~deepsubtype.importance.univariate_ranking`: t-test, ANOVA, Spearman or Cox score test)
    goes beside it: ``univariate_rank``, ``univariate_statistic`` and ``univariate_p`` columns, and in
    ``overlap`` (TSV, :func:`~deepsubtype.importance.ranking_overlap`) the two top lists compared.

    A model of several views has ``view``, ``feature``, ``rank_in_view`` and
    ``relative_in_view`` too (:func:`~deepsubtype.importance.gene_importance`).
    ``by_view``: a directory with one ``{view}.tsv`` per view (``feature``,
    ``importance``, ``relative_importance``, ``rank`` within the view); a single-view
    model's is named ``expression.tsv``.

    ``markers`` (TSV): every cluster's genes against the rest of the patients by scanpy's ``marker_method``
    test on the log values (:func:`~deepsubtype.markers.cluster_markers`; descriptive: the clusters were found
    on these data); ``markers_plot``: a dot plot of each cluster's ``n_markers_plot`` top raised markers
    (:func:`~deepsubtype.plots.marker_dotplot`). Both need ``normalized`` and ``clusters``.
    """
    model = load_model(model_dir)
    table = gene_importance(model)
    adata = ad.read_h5ad(normalized) if normalized is not None else None
    marker_table, marker_clusters = None, None
    if markers is not None or markers_plot is not None:
        if adata is None or clusters is None:
            raise InputError("the markers need the normalized matrix and the clusters (normalized, clusters)")
        marker_clusters = _read_clusters(clusters)
        absent = marker_clusters.index.difference(adata.obs_names, sort=False)
        if len(absent):
            raise InputError(f"{clusters}: sample {absent[0]!r} is not in {normalized} ({len(absent)} such samples)")
        marker_table = cluster_markers(adata, marker_clusters, method=marker_method, source=str(normalized))
    univariate = None
    if adata is not None and task is not None:
        y = _target(adata, task, target, time_column, event_column, str(normalized))
        univariate = univariate_ranking(np.nan_to_num(np.asarray(adata.X)), y, task, adata.var_names)
    if univariate is not None:
        by_gene = univariate.set_index("gene")
        table["univariate_rank"] = by_gene["rank"].reindex(table["gene"]).to_numpy()
        table["univariate_statistic"] = by_gene["statistic"].reindex(table["gene"]).to_numpy()
        table["univariate_p"] = by_gene["p_value"].reindex(table["gene"]).to_numpy()
        comparison = ranking_overlap(table, univariate).assign(univariate_test=univariate["test"].iloc[0])
        logger.info("top 20: %d genes in both DeepType's and the univariate (%s) list",
                    int(comparison.loc[comparison["top_n"] == 20, "in_both"].iloc[0]), univariate["test"].iloc[0])
    else:
        comparison = pd.DataFrame(columns=["top_n", "in_both", "jaccard", "only_deeptype", "only_univariate",
                                           "univariate_test"])
    _write_table(table, importance)
    if overlap is not None:
        _write_table(comparison, overlap)
    if by_view is not None:
        per_view = (dict(list(table.groupby("view", sort=False))) if "view" in table
                    else {"expression": table.assign(feature=table["gene"])})
        with _atomic(by_view) as temporary:
            temporary.mkdir(parents=True)
            for name, rows in per_view.items():
                largest = rows["importance"].max() or 1.0
                _to_tsv(pd.DataFrame({"feature": rows["feature"], "importance": rows["importance"],
                                      "relative_importance": rows["importance"] / largest,
                                      "rank": np.arange(1, len(rows) + 1)}), temporary / f"{name}.tsv")
    if plot is not None:
        _save_figure(top_genes(table, n_top=n_top_plot, title=f"Top {n_top_plot} genes by DeepType importance"),
                     plot)
    if markers is not None:
        assert marker_table is not None
        _write_table(marker_table, markers)
    if markers_plot is not None:
        assert adata is not None and marker_table is not None and marker_clusters is not None
        shown = top_markers(marker_table, n_markers_plot)
        mean, share = marker_profiles(adata, marker_clusters, [gene for genes in shown.values() for gene in genes])
        _save_figure(marker_dotplot(shown, mean, share), markers_plot)
    if heatmap is not None:
        if normalized is None or clusters is None:
            raise ValueError("the heatmap needs the normalized matrix and the clusters")
        assert adata is not None
        assignments = _read_clusters(clusters)
        genes = list(table["gene"].head(n_top_plot))
        values = adata[assignments.index, genes].X
        _save_figure(gene_heatmap(np.asarray(values), genes, assignments.to_numpy(),
                                  title=f"Top {len(genes)} genes across patients, by cluster"), heatmap)
    return table

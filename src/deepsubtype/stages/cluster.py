"""The cluster stage: assign samples to the trained clusters; write ``clusters.tsv`` and the embedding plot."""

from __future__ import annotations

import logging
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from ..io import InputError
from ..plots import embedding_scatter
from ._files import DEEPTYPE_METHOD, EMBEDDING_KEY, METHOD_TEXT, _cluster_method, _save_figure, _write_table
from ._scores import _silhouettes

__all__ = ["cluster_stage"]

logger = logging.getLogger(__name__)


def cluster_stage(embedding: str | Path, clusters: str | Path, plot: str | Path | None = None, *,
                  label_column: str | None = None, method: str = "pca", seed: int = 0) -> pd.DataFrame:
    """Assign every sample to its DeepType cluster; write ``clusters.tsv``.

    One fit: the nearest of the centres of the final k-means that DeepType ran on the
    representation of all samples. Several fits: the consensus cluster, and ``consensus_support``
    (the mean share of fits that put the sample with each other member of its cluster). A model that
    learnt a baseline's clusters (``objective_`` ``kmeans`` or ``pca_kmeans``): the baseline's clusters, as
    the model holds them.
    Columns: ``sample``, ``cluster`` (0 = largest), ``distance_to_center`` (Euclidean, in
    representation units, to the cluster's centre there), ``silhouette``, (several fits)
    ``consensus_support``, and ``method``: what made the clusters (``deeptype``, or the baseline's name;
    :func:`~deepsubtype.stages._files._cluster_method`).
    ``plot``: the representation in 2-D (``method`` ``pca`` or ``umap``, via scanpy),
    coloured by cluster and by ``label_column`` when given.
    """
    adata = ad.read_h5ad(embedding)
    points = np.asarray(adata.obsm[EMBEDDING_KEY], dtype=np.float64)
    centers = np.asarray(adata.uns["deeptype"]["cluster_centers"], dtype=np.float64)
    distances = np.sqrt(((points[:, None, :] - centers[None, :, :]) ** 2).sum(-1))
    consensus = "consensus_support" in adata.uns["deeptype"]
    # embeddings older than the objective choice hold DeepType's own clusters
    made_by = _cluster_method(str(adata.uns["deeptype"].get("objective", "primary")))
    own = consensus or made_by != DEEPTYPE_METHOD  # a baseline's clusters are its rule's, not the nearest centre's
    labels = np.asarray(adata.uns["deeptype"]["labels"]) if own else distances.argmin(1)
    silhouette = _silhouettes(points, labels)
    table = pd.DataFrame({
        "sample": adata.obs_names,
        "cluster": labels,
        "distance_to_center": distances[np.arange(len(labels)), labels],
        "silhouette": silhouette,
    })
    if consensus:
        table["consensus_support"] = np.asarray(adata.uns["deeptype"]["consensus_support"])
    table["method"] = made_by
    logger.info("cluster sizes: %s; mean silhouette %.3f; clusters made by %s",
                table["cluster"].value_counts().sort_index().to_dict(),
                float(np.nanmean(silhouette)) if np.isfinite(silhouette).any() else float("nan"),
                METHOD_TEXT.get(made_by, made_by))
    _write_table(table, clusters)
    if plot is not None:
        colourings = {("cluster" if made_by == DEEPTYPE_METHOD else f"cluster ({made_by}'s)"):
                      pd.Series(labels, index=adata.obs_names)}
        if label_column is not None and label_column in adata.obs:
            colourings[label_column] = adata.obs[label_column]
        coordinates, axis_label = _two_dimensions(points, method, seed)
        _save_figure(embedding_scatter(coordinates, colourings, axis_label=axis_label,
                                       title=f"DeepType representation ({method.upper()})"), plot)
    return table


def _two_dimensions(points: np.ndarray, method: str, seed: int) -> tuple[np.ndarray, str]:
    """2-D coordinates of ``points`` (n, d) by scanpy's PCA or UMAP (on a 15-neighbour graph)."""
    import scanpy as sc

    view = ad.AnnData(points.astype(np.float32))
    if method == "umap":
        sc.pp.neighbors(view, n_neighbors=min(15, view.n_obs - 1), use_rep="X", random_state=seed)
        sc.tl.umap(view, random_state=seed)
        return view.obsm["X_umap"], "UMAP"
    if method != "pca":
        raise InputError(f"embedding plot method must be 'pca' or 'umap', got {method!r}")
    sc.pp.pca(view, n_comps=2, random_state=seed)
    return view.obsm["X_pca"], "PC"

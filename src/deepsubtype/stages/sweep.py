"""The sweep stages: one DeepType fit per setting, and the summary over them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from ..estimator import DeepType
from ..importance import gene_importance
from ..outputs import SWEEP_RUN_FILES
from ._files import _atomic, _cluster_method, _read_clusters, _to_tsv, _write_table
from ._inputs import _check_n_clusters, _estimator_params, _target
from ._scores import _clustering_metrics, _silhouettes

__all__ = ["sweep_run_stage", "sweep_summary_stage"]

logger = logging.getLogger(__name__)


def sweep_run_stage(normalized: str | Path, output_dir: str | Path, *, alpha: float, beta: float, n_clusters: int,
                    seed: int, task: str = "classification", target: str | None = None,
                    time_column: str | None = None, event_column: str | None = None,
                    model_params: dict[str, Any] | None = None, device: str = "auto") -> pd.DataFrame:
    """One run of a sweep: DeepType with ``alpha``, ``beta``, ``n_clusters`` and ``seed`` over ``model_params``.

    Writes :data:`SWEEP_RUN_FILES` into ``output_dir``: ``metrics.tsv`` (one row: the
    setting, ``seed``, ``n_rounds``, ``converged``, ``seconds``, the final ``primary_loss``
    (and ``validation_loss`` when a validation share is held out), and the clustering
    metrics of the compare stage: ``smallest_cluster``, ``silhouette`` (representation),
    ``logrank_p``, ``cox_c_index``, ``acc``/``nmi``/``ari`` against ``target``),
    ``clusters.tsv`` (``sample``, ``cluster``, ``method``: what made the clusters, as the cluster stage's) and
    ``gene_importance.tsv``.
    """
    adata = ad.read_h5ad(normalized)
    y = _target(adata, task, target, time_column, event_column, str(normalized))
    params = {**_estimator_params(model_params, task, seed, device, adata), "alpha": alpha, "beta": beta,
              "n_clusters": n_clusters}
    _check_n_clusters(adata, params, str(normalized))
    model = DeepType(**params).fit(adata, y)
    points, labels = model.transform(adata), model.labels_
    separation = float(np.mean(_silhouettes(points, labels)))
    found = _clustering_metrics(adata, labels, separation, target=target, time_column=time_column,
                                event_column=event_column, source=str(normalized))
    last = model.history_["steps"][-1]
    metrics = pd.DataFrame([{
        "alpha": alpha, "beta": beta, "n_clusters": n_clusters, "seed": seed,
        "n_clusters_found": found.pop("n_clusters"), "n_rounds": int(model.n_rounds_),
        "converged": bool(model.converged_), "seconds": float(model.fit_seconds_),
        "primary_loss": float(last["primary"]), "validation_loss": float(last.get("validation", np.nan)), **found}])
    with _atomic(output_dir) as temporary:
        temporary.mkdir(parents=True)
        _to_tsv(metrics, temporary / SWEEP_RUN_FILES["metrics"])
        _to_tsv(pd.DataFrame({"sample": adata.obs_names, "cluster": labels, "method": _cluster_method(
            str(model.objective_))}), temporary / SWEEP_RUN_FILES["clusters"])
        _to_tsv(gene_importance(model), temporary / SWEEP_RUN_FILES["genes"])
    return metrics


def sweep_summary_stage(run_dirs: dict[str, str | Path], runs_output: str | Path, summary_output: str | Path, *,
                        n_top_genes: int = 50) -> pd.DataFrame:
    """Stack the runs of one cohort's sweep (``run_dirs``: run name -> directory of :func:`sweep_run_stage`)
    into ``runs_output`` and summarize each setting into ``summary_output``
    (:func:`deepsubtype.sweep.summarize_sweep`)."""
    from ..sweep import SETTING, summarize_sweep

    runs = pd.concat([pd.read_csv(Path(directory) / SWEEP_RUN_FILES["metrics"], sep="\t").assign(run=name)
                      for name, directory in run_dirs.items()], ignore_index=True)
    runs = runs.sort_values([*SETTING, "seed"], kind="stable").reset_index(drop=True)
    clusters = {name: _read_clusters(Path(directory) / SWEEP_RUN_FILES["clusters"])
                for name, directory in run_dirs.items()}
    genes = {name: pd.read_csv(Path(directory) / SWEEP_RUN_FILES["genes"], sep="\t", dtype={"gene": str})
             for name, directory in run_dirs.items()}
    summary = summarize_sweep(runs, clusters, genes, n_top_genes)
    _write_table(runs[["run", *[c for c in runs.columns if c != "run"]]], runs_output)
    _write_table(summary, summary_output)
    return summary

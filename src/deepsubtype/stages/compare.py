"""The compare stage: DeepType against baseline clusterings on the same matrix and K."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from tqdm import tqdm

from ..ensemble import DeepTypeEnsemble, load_model
from ..io import InputError
from ..outputs import COMPARE_FILES, VALIDATION_FILES
from ..plots import consensus_cdf, method_metrics
from ._files import EMBEDDING_KEY, _atomic, _cluster_method, _read_cluster_method, _read_clusters, _save_figure, _to_tsv
from ._inputs import _target
from ._scores import _clustering_metrics

__all__ = ["compare_stage"]

logger = logging.getLogger(__name__)


_COMPARE_METRICS = ["logrank_p", "out_of_fold_p", "out_of_fold_c_index", "cox_c_index", "silhouette",
                    "smallest_cluster", "acc", "nmi", "ari", "seconds"]


def compare_stage(normalized: str | Path, embedding: str | Path, clusters: str | Path, model_dir: str | Path,
                  output_dir: str | Path, *, out_of_fold_methods: str | Path | None = None,
                  task: str = "classification", target: str | None = None, time_column: str | None = None,
                  event_column: str | None = None, seed: int = 0, extra_seeds: list[int] | tuple[int, ...] = (),
                  consensus_k: tuple[int, int] = (2, 8), device: str = "cpu") -> pd.DataFrame:
    """DeepType against the baselines of :mod:`deepsubtype.compare` on the same matrix and K.

    One row per method and seed in ``metrics.tsv``: ``clusters_by`` (the method that made the row's clusters:
    a baseline's own name, and for ``deepsubtype`` ``deeptype`` or, where DeepType learnt a baseline's clusters
    (``objective: auto`` for ``task: survival``), that baseline's: ``clusters.tsv``'s ``method`` for the
    trained model, the refit's ``objective_`` for the other seeds), ``n_clusters``, ``smallest_cluster``,
    ``silhouette`` (in the method's own space), ``logrank_p`` and ``cox_c_index`` (with
    survival columns), ``out_of_fold_p`` and ``out_of_fold_c_index`` (where validation ran: the calibrated
    permutation p of ``oof_test.tsv`` beside its ``out_of_fold_methods`` table, and the out-of-fold C-index of that
    table (median over repeats): DeepType's nested values and those of k-means and PCA + k-means validated on the
    same folds, for the trained model's seed),
    ``acc``/``nmi``/``ari`` against ``target`` (when given), ``seconds`` (fit time).
    ``seed`` uses the trained model; each of ``extra_seeds`` refits DeepType (same
    hyperparameters and K, on ``device``, as is the autoencoder baseline) and reruns every
    baseline. ``summary.tsv``: per method, ``clusters_by`` (its seeds' values, ``,``-separated) and the
    median, minimum and maximum of each metric over seeds. Writes :data:`COMPARE_FILES`.
    """
    from ..compare import BaselineResult, consensus_clustering, run_baselines, silhouette

    adata = ad.read_h5ad(normalized)
    if target and target not in adata.obs.columns:
        raise InputError(f"{normalized}: target column {target!r} not found in the clinical table; "
                         f"columns are {list(adata.obs.columns)}")
    X = np.asarray(adata.X, dtype=np.float32)
    model = load_model(model_dir, device=device)
    n_clusters = int(model.n_clusters_)
    base = model.estimator if isinstance(model, DeepTypeEnsemble) else model
    assignments = _read_clusters(clusters)
    made_by = _read_cluster_method(clusters, default=_cluster_method(str(model.objective_)))
    points = np.asarray(ad.read_h5ad(embedding).obsm[EMBEDDING_KEY], dtype=np.float64)
    # the autoencoder is DeepType's reconstruction task: its own objective and no sparsity, whatever the model chose
    autoencoder = {k: v for k, v in base.get_params().items()
                   if k not in ("task", "beta", "n_clusters", "alpha", "objective")}
    autoencoder["alpha"] = 0.0
    results: list[tuple[int, BaselineResult]] = [
        (seed, BaselineResult("deepsubtype", assignments.reindex(adata.obs_names).to_numpy(), points,
                              float(model.fit_seconds_), clusters_by=made_by))]
    view_sizes = [size for _, size in model.views] if model.views else None

    def baselines(baseline_seed: int) -> list[BaselineResult]:
        return run_baselines(X, n_clusters, seed=baseline_seed, autoencoder_params=autoencoder, view_sizes=view_sizes)

    results += [(seed, result) for result in baselines(seed)]
    y = _target(adata, task, target, time_column, event_column, str(normalized)) if extra_seeds else None
    results += _refit_seeds(model, adata, y, n_clusters, extra_seeds, baselines)
    table = pd.DataFrame([
        {"method": result.method, "clusters_by": result.clusters_by or result.method, "seed": result_seed,
         "seconds": result.seconds,
         **_clustering_metrics(adata, result.labels, silhouette(result), target=target, time_column=time_column,
                               event_column=event_column, source=str(normalized))}
        for result_seed, result in results])
    if out_of_fold_methods is not None:
        _add_out_of_fold(table, out_of_fold_methods, seed)
    metrics = [m for m in _COMPARE_METRICS if m in table.columns]
    summary = _summarize_over_seeds(table, metrics)
    consensus = consensus_clustering(np.nan_to_num(X, nan=0.0), list(range(consensus_k[0], consensus_k[1] + 1)),
                                     seed=seed)
    medians = summary.rename(columns={f"{m}_median": m for m in metrics})
    with _atomic(output_dir) as temporary:
        temporary.mkdir(parents=True)
        for key, frame_out in (("metrics", table), ("summary", summary)):
            _to_tsv(frame_out, temporary / COMPARE_FILES[key])
        _save_figure(method_metrics(medians, metrics, title=f"DeepType and baselines, K = {n_clusters} "
                                                            f"(median over {table['seed'].nunique()} seed(s))"),
                     temporary / COMPARE_FILES["figure"])
        _save_figure(consensus_cdf(consensus.consensus, consensus.delta_area),
                     temporary / COMPARE_FILES["consensus"])
    return table


def _refit_seeds(model: Any, adata: ad.AnnData, y: Any, n_clusters: int, extra_seeds: Sequence[int],
                 baselines: Callable[[int], list[Any]]) -> list[tuple[int, Any]]:
    """(seed, result) of DeepType refitted (same hyperparameters and K) and of every baseline, per extra seed."""
    from sklearn.base import clone

    from ..compare import BaselineResult

    results: list[tuple[int, Any]] = []
    started = time.perf_counter()
    # a progress bar on a terminal only (tqdm's disable=None); logs get one line per seed
    for index, extra in enumerate(tqdm(extra_seeds, desc="comparison seeds", unit="seed", disable=None, leave=False)):
        if not isinstance(model, DeepTypeEnsemble):
            refit = clone(model).set_params(random_state=extra, n_clusters=n_clusters).fit(adata, y)
        else:  # an ensemble of other seeds: extra * n_fits, ... (blocks that do not overlap the trained one's)
            refit = clone(model).set_params(random_state=extra * model.n_fits,
                                            estimator__n_clusters=n_clusters).fit(adata, y)
        results.append((extra, BaselineResult("deepsubtype", refit.labels_, refit.transform(adata),
                                              float(refit.fit_seconds_),
                                              clusters_by=_cluster_method(str(refit.objective_)))))
        results += [(extra, result) for result in baselines(extra)]
        elapsed = time.perf_counter() - started
        logger.info("comparison seed %d (%d of %d) done: %.0f s so far, about %.0f s left", extra, index + 1,
                    len(extra_seeds), elapsed, elapsed / (index + 1) * (len(extra_seeds) - index - 1))
    return results


def _add_out_of_fold(table: pd.DataFrame, out_of_fold_methods: str | Path, seed: int) -> None:
    """Add the validation's calibrated out-of-fold p (``oof_test.tsv``, written beside ``oof_methods.tsv`` by the
    same stage) and out-of-fold C-index (``oof_methods.tsv``, median over repeats) to the trained seed's rows."""
    tests = pd.read_csv(Path(out_of_fold_methods).with_name(VALIDATION_FILES["test"]), sep="\t").set_index("method")
    c_index = pd.read_csv(out_of_fold_methods, sep="\t").groupby("method")["out_of_fold_c_index"].median()
    trained_seed = table["seed"] == seed
    for column, values in (("out_of_fold_p", tests["permutation_p"]), ("out_of_fold_c_index", c_index)):
        table[column] = np.where(trained_seed, table["method"].map(values), np.nan)


def _summarize_over_seeds(table: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Per method: number of seeds, what made its clusters (``clusters_by``: the seeds' values, ``,``-separated,
    in seed order) and the median, minimum and maximum of each metric."""
    grouped = table.groupby("method", sort=False)
    summary = grouped[metrics].agg(["median", "min", "max"])
    summary.columns = [f"{metric}_{statistic}" for metric, statistic in summary.columns]
    summary.insert(0, "n_seeds", grouped["seed"].nunique())
    if "clusters_by" in table:
        summary.insert(1, "clusters_by", grouped["clusters_by"].agg(lambda made_by: ",".join(dict.fromkeys(made_by))))
    return summary.reset_index()

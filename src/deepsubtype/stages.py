"""Pipeline stages, files in, files out: what each Snakemake rule and ``deepsubtype`` subcommand runs.

Every output is written to a temporary name beside its target and renamed into
place only when the stage succeeds, so a failed stage leaves no partial output.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_samples

from . import __version__
from .ensemble import DeepTypeEnsemble, consensus_support, fit_table, load_model
from .estimator import DEFAULT_ALPHA_GRID, DeepType
from .importance import gene_importance, ranking_overlap, univariate_ranking
from .io import InputError, Orientation, attach_clinical, check_cohort_name, read_clinical, read_expression
from .normalize import MissingPolicy, MissingViews, Scale, combine_views, normalize
from .plots import (
    consensus_cdf,
    cox_forest,
    embedding_scatter,
    gene_heatmap,
    kaplan_meier,
    method_metrics,
    top_genes,
    training_history,
)
from .survival import (
    CoxUnavailable,
    InvalidPolicy,
    cox_by_cluster,
    invalid_survival,
    kaplan_meier_table,
    logrank_table,
    pairwise_logrank_table,
    survival_columns,
    survival_frame,
)
from .tuning import DEFAULT_BETAS, alpha_path_table, tune_alpha_beta, tuning_table
from .validation import cluster_stability, out_of_fold_clusters

__all__ = [
    "EMBEDDING_KEY",
    "SURVIVAL_FILES",
    "VALIDATION_FILES",
    "logging_to",
    "snakemake_job",
    "write_provenance",
    "normalize_stage",
    "train_stage",
    "cluster_stage",
    "genes_stage",
    "survival_stage",
    "validation_stage",
    "compare_stage",
    "aggregate_cohorts",
    "sweep_run_stage",
    "sweep_summary_stage",
    "predict_stage",
    "validation_summary_stage",
    "PREDICT_FILES",
    "SWEEP_RUN_FILES",
    "COMPARE_FILES",
]

logger = logging.getLogger(__name__)

#: ``obsm`` key of the DeepType representation in ``embedding.h5ad``.
EMBEDDING_KEY = "X_deeptype"


@contextlib.contextmanager
def logging_to(path: str | Path | None, level: int = logging.INFO) -> Iterator[None]:
    """Send log records and warnings to ``path`` (and stderr) for the duration; log any exception raised."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, mode="w"))
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    previous_level = root.level
    root.setLevel(level)
    logging.captureWarnings(True)
    try:
        yield
    except Exception as error:
        # Bad input is reported once by the caller on stderr; the log file gets it too.
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, "%s: %s",
                                   (type(error).__name__, error), None if isinstance(error, InputError) else
                                   sys.exc_info())
        for handler in handlers[1:] if isinstance(error, InputError) else handlers:
            handler.handle(record)
        raise
    finally:
        logging.captureWarnings(False)
        root.setLevel(previous_level)
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()


@contextlib.contextmanager
def _atomic(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".partial-{os.getpid()}-{target.name}")
    try:
        yield temporary
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(temporary, target)
    finally:
        if temporary.is_dir():
            shutil.rmtree(temporary)
        elif temporary.exists():
            temporary.unlink()


def _provenance(**settings: Any) -> str:
    """Package versions and stage settings as a JSON string, stored with every output."""
    return json.dumps(_versions() | {"settings": settings}, default=str, sort_keys=True)


def _versions() -> dict[str, Any]:
    packages = ["deepsubtype", "torch", "anndata", "scanpy", "scikit-learn", "lifelines", "numpy", "pandas"]
    return {"python": platform.python_version(), "packages": {name: _package_version(name) for name in packages}}


def _checksums(paths: Iterable[str | Path]) -> dict[str, str]:
    """SHA-256 of each file; a directory contributes every file under it."""
    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    sums = {}
    for file in files:
        digest = hashlib.sha256()
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        sums[str(file)] = digest.hexdigest()
    return sums


def write_provenance(path: str | Path, *, stage: str, settings: dict[str, Any],
                     inputs: Iterable[str | Path] = (), outputs: Iterable[str | Path] = ()) -> None:
    """Write what made a stage's outputs to ``path`` (JSON): package versions, the stage, its settings
    (seed and config included) and the SHA-256 of every input and output file. No time stamps, so the
    same inputs and settings give the same file."""
    record = _versions() | {"stage": stage, "settings": settings, "inputs": _checksums(inputs),
                            "outputs": _checksums(outputs)}
    with _atomic(path) as temporary:
        temporary.write_text(json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def snakemake_job(snakemake: Any) -> Iterator[None]:
    """The frame of every workflow script: log to the rule's log file; once the body succeeded, write the
    rule's ``provenance`` output for all its other outputs (see :func:`write_provenance`).

    Refuses to run when the ``deepsubtype`` imported is not the workflow checkout's own ``src/deepsubtype``
    (an installed copy of another version shadowing it). Bad input ends the job with its one line on the
    console (and in the log), no traceback."""
    try:
        with logging_to(snakemake.log[0]):
            check_checkout_library(snakemake.scriptdir)
            yield
            provenance = snakemake.output.provenance
            cohort = snakemake.wildcards.get("cohort")
            settings = {
                "seed": snakemake.config.get("seed"),
                "wildcards": dict(snakemake.wildcards.items()),
                "params": dict(snakemake.params.items()),
                "cohort_config": snakemake.config.get("cohorts", {}).get(cohort) if cohort else None,
            }
            write_provenance(provenance, stage=snakemake.rule, settings=settings, inputs=list(snakemake.input),
                             outputs=[output for output in snakemake.output if output != provenance])
    except InputError as error:
        raise SystemExit(f"InputError: {error}") from None


def check_checkout_library(scriptdir: str | Path | None) -> None:
    """Raise ``RuntimeError`` when ``scriptdir`` (``workflow/scripts`` of a checkout with ``src/deepsubtype``)
    belongs to a checkout whose library is not the one imported."""
    if scriptdir is None:
        return
    checkout = Path(scriptdir).resolve().parents[1] / "src" / "deepsubtype"
    imported = Path(__file__).resolve().parent
    if checkout.is_dir() and checkout != imported:
        raise RuntimeError(f"the workflow in {checkout.parents[1]} imported deepsubtype {__version__} from "
                           f"{imported}, not its own {checkout}; uninstall that copy or install the checkout "
                           "(pip install -e .)")


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return __version__ if name == "deepsubtype" else "not installed"


def _save_figure(figure: Any, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    with _atomic(path) as temporary:
        figure.savefig(temporary, dpi=150, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(figure)


def _to_tsv(frame: pd.DataFrame, path: str | Path) -> None:
    """The TSV format of every output table: no index, 6 significant digits, ``NA`` for missing."""
    frame.to_csv(path, sep="\t", index=False, float_format="%.6g", na_rep="NA")


def _write_table(frame: pd.DataFrame, path: str | Path) -> None:
    with _atomic(path) as temporary:
        _to_tsv(frame, temporary)


def _read_clusters(path: str | Path) -> pd.Series:
    """``clusters.tsv`` as a Series of cluster labels indexed by sample id."""
    return pd.read_csv(path, sep="\t", dtype={"sample": str}).set_index("sample")["cluster"]


def normalize_stage(expression: str | Path | dict[str, dict[str, Any]], clinical: str | Path, output: str | Path,
                    *, orientation: Orientation = "samples_x_genes", sample_column: str | None = None,
                    scale: Scale | str = "auto", n_top_genes: int | None = 5000,
                    zscore: bool = True, missing: MissingPolicy | str = "fail",
                    missing_views: MissingViews | str = "mask", target: str | None = None,
                    time_column: str | None = None, event_column: str | None = None,
                    covariates: Iterable[str] = (), survival_invalid: InvalidPolicy = "fail") -> ad.AnnData:
    """Read, align, normalize; write ``normalized.h5ad`` (see :func:`~deepsubtype.normalize.normalize`).

    ``expression`` is one matrix, or several views of the same patients:
    ``{view: {"path": ..., and any of orientation, scale, n_top_genes, zscore, missing}}``,
    where the keyword arguments are the defaults. Each view is normalized on its own
    patients, then the views are joined by :func:`~deepsubtype.normalize.combine_views`
    (``missing_views``: ``mask`` or ``drop`` patients lacking a view).

    The clinical columns later stages use (``target``, survival ``time_column``/``event_column``,
    Cox ``covariates``) are checked here, before any training, with errors naming the clinical file;
    ``survival_invalid="drop"`` leaves patients with unusable survival values out of survival instead
    (named in the log and in ``uns["survival_invalid"]``).
    """
    defaults = {"orientation": orientation, "scale": scale, "n_top_genes": n_top_genes, "zscore": zscore,
                "missing": missing}
    specs = expression if isinstance(expression, dict) else {"expression": {"path": expression}}
    clinical_table = read_clinical(clinical, sample_column=sample_column)
    views = {}
    for name, spec in specs.items():
        settings = {**defaults, **{key: value for key, value in spec.items() if key != "path"}}
        adata = read_expression(spec["path"], orientation=settings.pop("orientation"))
        adata = attach_clinical(adata, clinical_table, source=f"{clinical}" if len(specs) == 1 else
                                f"{clinical}, view {name}")
        views[name] = normalize(adata, **settings, source=str(spec["path"]), copy=False)
    if len(views) == 1:
        adata = next(iter(views.values()))
    else:
        adata = combine_views(views, missing_views=missing_views,  # type: ignore[arg-type]
                              patients=clinical_table.index, source=str(clinical))
        adata = attach_clinical(adata, clinical_table, source=str(clinical))
    _check_clinical(adata, str(clinical), target=target, time_column=time_column, event_column=event_column,
                    covariates=covariates, invalid=survival_invalid)
    adata.uns["provenance"] = _provenance(stage="normalize", expression=specs, clinical=str(clinical),
                                          sample_column=sample_column, missing_views=missing_views, **defaults)
    with _atomic(output) as temporary:
        adata.write_h5ad(temporary, compression="gzip")
    return adata


def _check_clinical(adata: ad.AnnData, source: str, *, target: str | None, time_column: str | None,
                    event_column: str | None, covariates: Iterable[str], invalid: InvalidPolicy = "fail") -> None:
    """Check, before any training, the clinical columns later stages use, on ``adata.obs`` (the matrix's
    samples): refuse, naming ``source``, a missing target or covariate column or survival values
    :func:`~deepsubtype.survival.survival_columns` refuses under ``invalid``. The survival columns are
    written back as numbers (event codes such as ``dead`` read as 1), with the cells ``invalid="drop"``
    left out missing and listed in ``uns["survival_invalid"]`` (sample, column, value, reason)."""
    obs = adata.obs
    for column, what in [(target, "target"), *((name, "Cox covariate") for name in covariates)]:
        if column is not None and column not in obs.columns:
            raise InputError(f"{source}: {what} column {column!r} not found; columns are {list(obs.columns)}")
    if time_column is None or event_column is None:
        return
    time, event = survival_columns(obs, time_column=time_column, event_column=event_column, source=source,
                                   invalid=invalid)
    problems = invalid_survival(obs, time_column=time_column, event_column=event_column)  # none unless "drop"
    if len(problems):
        adata.uns["survival_invalid"] = {column: problems[column].astype(str).tolist() for column in problems}
    obs[time_column], obs[event_column] = time.to_numpy(np.float64), event.to_numpy(np.float64)


def _target(adata: ad.AnnData, task: str, target: str | None, time_column: str | None,
            event_column: str | None, source: str) -> np.ndarray | None:
    """Primary-task target from ``adata.obs``, or None for reconstruction."""
    if task == "reconstruction":
        return None
    columns = [time_column, event_column] if task == "survival" else [target]
    for column in columns:
        if column is None:
            raise InputError(f"{source}: task {task!r} needs a target column in the config")
        if column not in adata.obs.columns:
            raise InputError(f"{source}: target column {column!r} not found in the clinical table; "
                             f"columns are {list(adata.obs.columns)}")
    if task == "survival":
        time, event = survival_columns(adata.obs, time_column=time_column, event_column=event_column, source=source)
        if not (event == 1).any():
            raise InputError(f"{source}: no event (1) in column {event_column!r}; the survival task needs events")
        return np.column_stack([time, event]).astype(np.float32)
    values = adata.obs[target].astype(object).where(adata.obs[target].notna(), None)
    known = values.dropna()
    if task in ("classification", "binary") and known.nunique() < 2:
        raise InputError(f"{source}: target column {target!r} has {known.nunique()} distinct value(s); "
                         f"the {task} task needs at least two")
    logger.info("target %r: %d samples labelled, %d missing (kept for clustering)", target, len(known),
                len(values) - len(known))
    return values.to_numpy()


def _check_n_clusters(adata: ad.AnnData, params: dict[str, Any], source: str) -> None:
    """Refuse a K (or the top of the K range) above the number of samples or of distinct expression profiles."""
    requested = params.get("n_clusters", "auto")
    largest = max(params.get("n_clusters_range", (2, 8))) if requested == "auto" else int(requested)
    what = f"n_clusters={requested}" if requested != "auto" else f"the top of n_clusters_range ({largest})"
    if largest > adata.n_obs:
        raise InputError(f"{source}: {what} exceeds the {adata.n_obs} samples")
    distinct = len(np.unique(np.asarray(adata.X), axis=0))
    if largest > distinct:
        raise InputError(f"{source}: {what} exceeds the {distinct} distinct expression profiles among the "
                         f"{adata.n_obs} samples (duplicated samples?)")


def _estimator_params(model_params: dict[str, Any] | None, task: str, seed: int, device: str,
                      adata: ad.AnnData) -> dict[str, Any]:
    """DeepType keyword arguments from a config's ``model`` section (lists made tuples), the run's settings
    and, for several views, ``views`` from ``adata.var["view"]`` (``alpha`` may then list one per view)."""
    params = {key: value for key, value in (model_params or {}).items() if key != "n_fits"}  # not DeepType's
    params.update(task=task, random_state=seed, device=device)
    for key in ("hidden_layers", "n_clusters_range", "alpha"):
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    if "view" in adata.var and adata.var["view"].nunique() > 1:
        names = pd.unique(adata.var["view"])
        counts = adata.var["view"].value_counts()
        params["views"] = tuple((str(name), int(counts[name])) for name in names)
    return params


def train_stage(normalized: str | Path, model_dir: str | Path, embedding: str | Path,
                history_plot: str | Path | None = None, k_selection: str | Path | None = None,
                tuning: str | Path | None = None, *,
                task: str = "classification", target: str | None = None, time_column: str | None = None,
                event_column: str | None = None,
                model_params: dict[str, Any] | None = None, seed: int = 0, device: str = "auto",
                tuning_grid: dict[str, Any] | None = None, checkpoint: str | Path | None = None,
                fits: str | Path | None = None) -> DeepType | DeepTypeEnsemble:
    """Fit DeepType on ``normalized.h5ad``; write the model directory and ``embedding.h5ad``.

    ``n_fits`` > 1 in ``model_params`` fits that many seeds (``seed``, ``seed + 1``, ...) and combines them
    (:class:`~deepsubtype.ensemble.DeepTypeEnsemble`): the clusters are the fits' consensus, the
    representation and the tables of K and alpha the representative fit's. ``fits`` (TSV,
    :func:`~deepsubtype.ensemble.fit_table`) gets one row per fit: its K, alpha, cluster sizes and agreement.

    ``embedding.h5ad`` has the normalized file's ``obs``, ``obsm["X_deeptype"]``
    (n_samples, hidden_layers[-1]) and, in ``uns["deeptype"]``, the cluster
    centres, the training labels and the hyperparameters. ``k_selection`` (TSV)
    gets the score of every K tried on the pretrained representation
    (``n_clusters``, ``inertia``, ``silhouette``, ``stability``, ``chosen``).

    ``alpha = "auto"`` in ``model_params`` chooses alpha along the fit's regularization path over
    ``tuning_grid["alphas"]`` (see :class:`DeepType`); ``beta = "auto"`` cross-validates beta over
    ``tuning_grid["betas"]`` with ``tuning_grid["folds"]`` folds
    (:func:`~deepsubtype.tuning.tune_alpha_beta`). ``tuning`` (TSV, :data:`~deepsubtype.tuning.TUNING_COLUMNS`)
    gets every candidate's held-out primary loss, or the fixed values when nothing was tuned.

    ``checkpoint``: file of the fit's per-round training state (see :class:`DeepType`),
    so that an interrupted run resumes; fits with ``beta = "auto"`` do not use it.
    """
    adata = ad.read_h5ad(normalized)
    y = _target(adata, task, target, time_column, event_column, str(normalized))
    params = _estimator_params(model_params, task, seed, device, adata)
    n_fits = int((model_params or {}).get("n_fits", 1))
    _check_n_clusters(adata, params, str(normalized))
    grid = {"alphas": list(DEFAULT_ALPHA_GRID), "betas": list(DEFAULT_BETAS), "folds": 5, **(tuning_grid or {})}
    params["alpha_grid"] = tuple(float(value) for value in grid["alphas"])
    if params.get("beta") == "auto":
        if checkpoint is not None:
            logger.info("beta cross-validation is not checkpointed: %s is not used", checkpoint)
        search = tune_alpha_beta(DeepType(**{**params, "beta": 1.2}), adata, y, alphas=None, betas=grid["betas"],
                                 folds=grid["folds"])
        params["beta"] = search.best_estimator_.beta
        logger.info("cross-validated choice: beta=%g", params["beta"])
        model: DeepType | DeepTypeEnsemble = (search.best_estimator_ if n_fits == 1 else
                                              DeepTypeEnsemble(DeepType(**params), n_fits=n_fits,
                                                               random_state=seed).fit(adata, y))
        table = pd.concat([tuning_table(search), alpha_path_table(model)], ignore_index=True)
    else:
        single = DeepType(**params, checkpoint=checkpoint)
        model = single.fit(adata, y) if n_fits == 1 else DeepTypeEnsemble(single, n_fits=n_fits,
                                                                          random_state=seed).fit(adata, y)
        table = alpha_path_table(model)
    if isinstance(model, DeepTypeEnsemble):
        agreement = model.fit_agreement_[np.triu_indices(n_fits, 1)]
        logger.info("%d fits: pairwise ARI of their clusters %.2f-%.2f (median %.2f); consensus sizes %s", n_fits,
                    agreement.min(), agreement.max(), float(np.median(agreement)),
                    np.bincount(model.labels_).tolist())
    logger.info("alpha %s (%s)", model.alpha_, "chosen on the path" if model.alpha_path_ else "fixed")
    logger.info("trained on %s: %d rounds, converged=%s", model.device_, model.n_rounds_, model.converged_)

    result = ad.AnnData(obs=adata.obs.copy())
    result.obsm[EMBEDDING_KEY] = model.transform(adata).astype(np.float32)
    result.uns["deeptype"] = {
        "cluster_centers": model.cluster_centers_.astype(np.float32),
        "labels": model.labels_.astype(np.int64),
        "n_clusters": int(model.n_clusters_),
        "n_rounds": int(model.n_rounds_),
        "converged": bool(model.converged_),
        "device": model.device_,
        "n_fits": n_fits,
    }
    if isinstance(model, DeepTypeEnsemble):
        result.uns["deeptype"]["consensus_support"] = consensus_support(model.co_assignment_, model.labels_)
    result.uns["provenance"] = _provenance(stage="train", task=task, target=target, time=time_column,
                                           event=event_column, seed=seed, device=device,
                                           params={k: v for k, v in model.get_params().items()})
    with _atomic(model_dir) as temporary:
        model.save(temporary)
    with _atomic(embedding) as temporary:
        result.write_h5ad(temporary)
    if tuning is not None:
        _write_table(table, tuning)
    if fits is not None:
        _write_table(fit_table(model), fits)
    if k_selection is not None:
        scores = pd.DataFrame(model.k_scores_, columns=["n_clusters", "inertia", "silhouette", "stability"])
        scores["chosen"] = scores["n_clusters"] == model.n_clusters_
        scores["criterion"] = model.k_criterion if model.n_clusters == "auto" else "fixed in config"
        _write_table(scores, k_selection)
    if history_plot is not None:
        title = f"Training history: {Path(normalized).parent.name}"
        if model.fit_warnings_:
            title += f"\nWARNING, failed fit? {model.fit_warnings_[0]}"
        _save_figure(training_history(model.history_, title=title), history_plot)
    return model


def cluster_stage(embedding: str | Path, clusters: str | Path, plot: str | Path | None = None, *,
                  label_column: str | None = None, method: str = "pca", seed: int = 0) -> pd.DataFrame:
    """Assign every sample to its DeepType cluster; write ``clusters.tsv``.

    One fit: the nearest of the centres of the final k-means that DeepType ran on the
    representation of all samples. Several fits: the consensus cluster, and ``consensus_support``
    (the mean share of fits that put the sample with each other member of its cluster).
    Columns: ``sample``, ``cluster`` (0 = largest), ``distance_to_center`` (Euclidean, in
    representation units), ``silhouette``.
    ``plot``: the representation in 2-D (``method`` ``pca`` or ``umap``, via scanpy),
    coloured by cluster and by ``label_column`` when given.
    """
    adata = ad.read_h5ad(embedding)
    points = np.asarray(adata.obsm[EMBEDDING_KEY], dtype=np.float64)
    centers = np.asarray(adata.uns["deeptype"]["cluster_centers"], dtype=np.float64)
    distances = np.sqrt(((points[:, None, :] - centers[None, :, :]) ** 2).sum(-1))
    consensus = "consensus_support" in adata.uns["deeptype"]
    labels = np.asarray(adata.uns["deeptype"]["labels"]) if consensus else distances.argmin(1)
    silhouette = _silhouettes(points, labels)
    table = pd.DataFrame({
        "sample": adata.obs_names,
        "cluster": labels,
        "distance_to_center": distances[np.arange(len(labels)), labels],
        "silhouette": silhouette,
    })
    if consensus:
        table["consensus_support"] = np.asarray(adata.uns["deeptype"]["consensus_support"])
    logger.info("cluster sizes: %s; mean silhouette %.3f", table["cluster"].value_counts().sort_index().to_dict(),
                float(np.nanmean(silhouette)) if np.isfinite(silhouette).any() else float("nan"))
    _write_table(table, clusters)
    if plot is not None:
        colourings = {"cluster": pd.Series(labels, index=adata.obs_names)}
        if label_column is not None and label_column in adata.obs:
            colourings[label_column] = adata.obs[label_column]
        coordinates, axis_label = _two_dimensions(points, method, seed)
        _save_figure(embedding_scatter(coordinates, colourings, axis_label=axis_label,
                                       title=f"DeepType representation ({method.upper()})"), plot)
    return table


def _silhouettes(points: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Silhouette of each sample (n,) in ``points`` (n, d); NaN where undefined (one cluster, or one per sample)."""
    if 2 <= len(np.unique(labels)) < len(labels):
        return silhouette_samples(points, labels)
    return np.full(len(labels), np.nan)


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


def genes_stage(model_dir: str | Path, importance: str | Path, plot: str | Path | None = None,
                heatmap: str | Path | None = None, *, normalized: str | Path | None = None,
                clusters: str | Path | None = None, n_top_plot: int = 30,
                by_view: str | Path | None = None, overlap: str | Path | None = None,
                task: str | None = None, target: str | None = None, time_column: str | None = None,
                event_column: str | None = None) -> pd.DataFrame:
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
    """
    model = load_model(model_dir)
    table = gene_importance(model)
    adata = ad.read_h5ad(normalized) if normalized is not None else None
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


#: Files written by :func:`survival_stage` into its output directory.
SURVIVAL_FILES = {
    "km_table": "kaplan_meier.tsv",
    "logrank": "logrank.tsv",
    "excluded": "excluded.tsv",
    "pairwise": "pairwise_logrank.tsv",
    "cox_terms": "cox.tsv",
    "cox_model": "cox_model.tsv",
    "km_plot": "kaplan_meier.png",
    "forest_plot": "cox_forest.png",
}


def _excluded_patients(assignments: pd.Series, frame: pd.DataFrame, invalid: dict[str, list[str]] | None
                       ) -> pd.DataFrame:
    """``excluded.tsv``: ``sample``, ``cluster``, ``reason`` for every clustered patient left out of the survival
    analysis: the unusable values ``survival.invalid: drop`` left out (column, value, reason), else a missing
    time or event."""
    left_out = assignments.index.difference(frame.index, sort=False)
    reasons = {}
    if invalid:
        for sample, column, value, reason in zip(invalid["sample"], invalid["column"], invalid["value"],
                                                 invalid["reason"], strict=True):
            reasons.setdefault(sample, f"invalid {column} {value!r}: {reason}")
    return pd.DataFrame({"sample": left_out, "cluster": assignments[left_out].to_numpy(),
                         "reason": [reasons.get(sample, "time or event missing") for sample in left_out]})


def survival_stage(clusters: str | Path, normalized: str | Path, output_dir: str | Path, *, time_column: str,
                   event_column: str, time_unit: str = "", covariates: list[str] | tuple[str, ...] = (),
                   adjustment: str = "holm", horizon: float | None = None) -> pd.DataFrame:
    """Survival by cluster; writes :data:`SURVIVAL_FILES` into ``output_dir`` (all or nothing).

    Kaplan-Meier per cluster (median with 95 % CI; RMST up to ``horizon``), the
    multivariate log-rank test, pairwise log-rank tests adjusted by ``adjustment``
    (``holm`` or ``bh``), and a Cox model on cluster membership adjusted for
    ``covariates`` with its forest plot. Returns the multivariate test's row.
    """
    assignments = _read_clusters(clusters)
    adata = ad.read_h5ad(normalized)
    clinical = adata.obs
    frame, dropped = survival_frame(assignments, clinical, time_column=time_column, event_column=event_column,
                                    source=str(normalized))
    unit = time_unit or "unspecified"
    test = logrank_table(frame)
    excluded = _excluded_patients(assignments, frame, adata.uns.get("survival_invalid"))
    test.insert(3, "n_dropped_missing", dropped - int(excluded["reason"].ne("time or event missing").sum()))
    test.insert(4, "n_dropped_invalid", int(excluded["reason"].ne("time or event missing").sum()))
    test["time_unit"] = unit
    tables = {
        "km_table": kaplan_meier_table(frame, horizon=horizon).assign(time_unit=unit),
        "logrank": test,
        "excluded": excluded,
        "pairwise": pairwise_logrank_table(frame, adjustment=adjustment),
    }
    figures = {"km_plot": kaplan_meier(frame, time_unit=time_unit, p_value=float(test["p_value"].iloc[0]))}
    try:
        if frame["cluster"].nunique() < 2:
            raise CoxUnavailable("one cluster only")
        cox = cox_by_cluster(frame, clinical, covariates=covariates, source=str(normalized))
        tables["cox_terms"], tables["cox_model"] = cox.terms, cox.model.assign(note="")
        figures["forest_plot"] = cox_forest(cox.terms, title=f"Cox hazard ratios (reference: cluster "
                                                             f"{int(cox.model.loc[0, 'reference_cluster'])})")
    except CoxUnavailable as reason:
        logger.warning("%s: no Cox model: %s", normalized, reason)
        tables["cox_terms"] = pd.DataFrame(columns=["term", "hazard_ratio", "hr_lower_95", "hr_upper_95", "coef",
                                                    "se", "p_value", "ph_test_p_value"])
        tables["cox_model"] = pd.DataFrame([{
            "n": len(frame), "events": int(frame["event"].sum()), "reference_cluster": np.nan,
            "covariates": ",".join(covariates) or "none", "concordance_index": np.nan,
            "likelihood_ratio_p_value": np.nan, "n_dropped_missing_covariates": np.nan,
            "note": f"no Cox model: {reason}"}])
        figures["forest_plot"] = cox_forest(tables["cox_terms"], title=f"No Cox model: {reason}")
    with _atomic(output_dir) as temporary:
        temporary.mkdir(parents=True)
        for key, table in tables.items():
            _to_tsv(table, temporary / SURVIVAL_FILES[key])
        for key, figure in figures.items():
            _save_figure(figure, temporary / SURVIVAL_FILES[key])
    return test


#: Files written by :func:`validation_stage` into its output directory.
VALIDATION_FILES = {
    "clusters": "oof_clusters.tsv",
    "stability": "stability.tsv",
    "logrank": "oof_logrank.tsv",
    "cox": "oof_cox.tsv",
    "km_plot": "oof_kaplan_meier.png",
}


def _cluster_c_index(frame: pd.DataFrame) -> float:
    """Harrell's C of a Cox model on the clusters alone (no covariates) of a :func:`survival_frame`; NaN for
    one cluster."""
    if frame["cluster"].nunique() < 2:
        return float("nan")
    try:
        return float(cox_by_cluster(frame).model["concordance_index"].iloc[0])
    except CoxUnavailable as reason:
        logger.warning("no C-index: %s", reason)
        return float("nan")


def _read_raw(expression: str | Path, orientation: Orientation, clinical: str | Path | None,
              sample_column: str | None) -> ad.AnnData:
    """A cohort's matrix as read (samples x genes), aligned to its clinical table when one is given."""
    adata = read_expression(expression, orientation=orientation)
    if clinical is not None:
        adata = attach_clinical(adata, read_clinical(clinical, sample_column=sample_column), source=str(clinical))
    return adata


def validation_stage(normalized: str | Path, model_dir: str | Path, clusters: str | Path, output_dir: str | Path,
                     *, task: str = "classification", target: str | None = None, time_column: str,
                     event_column: str, time_unit: str = "", covariates: list[str] | tuple[str, ...] = (),
                     folds: int = 5, repeats: int = 1, seed: int = 0, device: str = "auto",
                     n_fits: int | None = 1, expression: str | Path | None = None,
                     orientation: Orientation = "samples_x_genes", clinical: str | Path | None = None,
                     sample_column: str | None = None) -> pd.DataFrame:
    """Out-of-fold clusters and their survival statistics beside the in-sample ones.

    Refits the model's procedure on ``folds``-1 folds (``repeats`` shuffled splits; the normalization,
    alpha and K chosen again inside each fold; ``n_fits`` fits per fold, None = as many as the model has),
    where ``expression`` (the cohort's raw matrix, read with ``orientation`` and aligned to ``clinical`` by
    ``sample_column`` as the normalize stage did) lets every fold refit the top-variance gene filter and the
    z-score on its training patients (:func:`~deepsubtype.validation.fold_normalized`); without it, or with
    several views, the fold refits the z-score from ``layers["log"]`` only, or nothing. The fold models
    assign the held-out patients with ``predict``; their clusters are matched to the full-data ones
    (:func:`~deepsubtype.validation.out_of_fold_clusters`). Writes
    :data:`VALIDATION_FILES`: the assignments; per-cluster stability (consensus of the
    fold models on their training patients); the log-rank test and Cox hazard
    ratios for the in-sample clusters and for each repeat's out-of-fold clusters
    (``assignment`` column); the Kaplan-Meier plot of the first repeat.
    """
    adata = ad.read_h5ad(normalized)
    y = _target(adata, task, target, time_column, event_column, str(normalized))
    model = load_model(model_dir, device=device)
    assignments = _read_clusters(clusters)
    reference = assignments.reindex(adata.obs_names).to_numpy()
    raw = None
    if expression is not None and "view" not in adata.var.columns:
        if clinical is None:
            raise InputError(f"{expression}: refitting the normalization per fold needs the clinical table too "
                             "(--clinical)")
        raw = _read_raw(expression, orientation, clinical, sample_column)
        absent = adata.obs_names.difference(raw.obs_names, sort=False)
        if len(absent):
            raise InputError(f"{expression}: sample {absent[0]!r} of {normalized} is not in the raw matrix "
                             f"({len(absent)} such samples)")
        raw = raw[adata.obs_names].copy()
        logger.info("each fold refits the gene filter and the z-score on its training patients (from %s)", expression)
    oof = out_of_fold_clusters(model, adata, y, reference, folds=folds, repeats=repeats, seed=seed, n_fits=n_fits,
                               raw=raw)
    stability = cluster_stability(reference, oof.attrs.pop("training_labels"))
    oof.insert(0, "sample", adata.obs_names[oof.pop("index")])

    logrank_rows, cox_rows = [], []
    labelled = {"in-sample": assignments}
    for repeat, group in oof.groupby("repeat"):
        labelled[f"out-of-fold, repeat {repeat}"] = group.set_index("sample")["cluster"]
    for name, labels in labelled.items():
        frame, _ = survival_frame(labels, adata.obs, time_column=time_column, event_column=event_column,
                                  source=str(normalized))
        test = logrank_table(frame).assign(assignment=name, c_index=_cluster_c_index(frame),
                                           agreement_with_in_sample=float((labels == assignments[labels.index])
                                                                          .mean()))
        logrank_rows.append(test)
        if frame["cluster"].nunique() >= 2:
            try:
                cox = cox_by_cluster(frame, adata.obs, covariates=covariates, source=str(normalized))
                cox_rows.append(cox.terms.assign(assignment=name))
            except CoxUnavailable as reason:
                logger.warning("%s clusters: no Cox model: %s", name, reason)
        if name.endswith("repeat 0"):
            km_figure = kaplan_meier(frame, time_unit=time_unit, p_value=float(test["p_value"].iloc[0]),
                                     title=f"Kaplan-Meier by out-of-fold cluster ({folds}-fold)")
    logrank = pd.concat(logrank_rows, ignore_index=True)
    logrank = logrank[["assignment", *[c for c in logrank.columns if c != "assignment"]]]
    cox_table = pd.concat(cox_rows, ignore_index=True) if cox_rows else pd.DataFrame(columns=["assignment"])
    cox_table = cox_table[["assignment", *[c for c in cox_table.columns if c != "assignment"]]]
    with _atomic(output_dir) as temporary:
        temporary.mkdir(parents=True)
        for key, table in {"clusters": oof, "stability": stability, "logrank": logrank, "cox": cox_table}.items():
            _to_tsv(table, temporary / VALIDATION_FILES[key])
        _save_figure(km_figure, temporary / VALIDATION_FILES["km_plot"])
    return logrank


#: Files written by :func:`compare_stage` into its output directory.
COMPARE_FILES = {"metrics": "metrics.tsv", "summary": "summary.tsv", "figure": "metrics.png",
                 "consensus": "consensus_cdf.png"}
#: Files of one sweep run's directory.
SWEEP_RUN_FILES = {"metrics": "metrics.tsv", "clusters": "clusters.tsv", "genes": "gene_importance.tsv"}

_COMPARE_METRICS = ["logrank_p", "cox_c_index", "silhouette", "smallest_cluster", "acc", "nmi", "ari", "seconds"]


def compare_stage(normalized: str | Path, embedding: str | Path, clusters: str | Path, model_dir: str | Path,
                  output_dir: str | Path, *, out_of_fold_logrank: str | Path | None = None,
                  task: str = "classification", target: str | None = None, time_column: str | None = None,
                  event_column: str | None = None, seed: int = 0, extra_seeds: list[int] | tuple[int, ...] = (),
                  consensus_k: tuple[int, int] = (2, 8), device: str = "cpu") -> pd.DataFrame:
    """DeepType against the baselines of :mod:`deepsubtype.compare` on the same matrix and K.

    One row per method and seed in ``metrics.tsv``: ``n_clusters``, ``smallest_cluster``,
    ``silhouette`` (in the method's own space), ``logrank_p`` and ``cox_c_index`` (with
    survival columns; ``logrank_p_out_of_fold`` for DeepType when validation ran),
    ``acc``/``nmi``/``ari`` against ``target`` (when given), ``seconds`` (fit time).
    ``seed`` uses the trained model; each of ``extra_seeds`` refits DeepType (same
    hyperparameters and K, on ``device``, as is the autoencoder baseline) and reruns every
    baseline. ``summary.tsv``: per method, the
    median, minimum and maximum of each metric over seeds. Writes :data:`COMPARE_FILES`.
    """
    from sklearn.base import clone

    from .compare import BaselineResult, consensus_clustering, run_baselines, silhouette

    adata = ad.read_h5ad(normalized)
    if target and target not in adata.obs.columns:
        raise InputError(f"{normalized}: target column {target!r} not found in the clinical table; "
                         f"columns are {list(adata.obs.columns)}")
    X = np.asarray(adata.X, dtype=np.float32)
    model = load_model(model_dir, device=device)
    n_clusters = int(model.n_clusters_)
    base = model.estimator if isinstance(model, DeepTypeEnsemble) else model
    assignments = _read_clusters(clusters)
    points = np.asarray(ad.read_h5ad(embedding).obsm[EMBEDDING_KEY], dtype=np.float64)
    autoencoder = {k: v for k, v in base.get_params().items() if k not in ("task", "beta", "n_clusters", "alpha")}
    autoencoder["alpha"] = 0.0
    results: list[tuple[int, BaselineResult]] = [
        (seed, BaselineResult("deepsubtype", assignments.reindex(adata.obs_names).to_numpy(), points,
                              float(model.fit_seconds_)))]
    view_sizes = [size for _, size in model.views] if model.views else None
    results += [(seed, result) for result in run_baselines(X, n_clusters, seed=seed, autoencoder_params=autoencoder,
                                                           view_sizes=view_sizes)]
    y = _target(adata, task, target, time_column, event_column, str(normalized)) if extra_seeds else None
    for extra in extra_seeds:
        if base is model:
            refit = clone(model).set_params(random_state=extra, n_clusters=n_clusters).fit(adata, y)
        else:  # an ensemble of other seeds: extra * n_fits, ... (blocks that do not overlap the trained one's)
            refit = clone(model).set_params(random_state=extra * model.n_fits,
                                            estimator__n_clusters=n_clusters).fit(adata, y)
        results.append((extra, BaselineResult("deepsubtype", refit.labels_, refit.transform(adata),
                                              float(refit.fit_seconds_))))
        results += [(extra, result)
                    for result in run_baselines(X, n_clusters, seed=extra, autoencoder_params=autoencoder,
                                                view_sizes=view_sizes)]

    table = pd.DataFrame([
        {"method": result.method, "seed": result_seed, "seconds": result.seconds,
         **_clustering_metrics(adata, result.labels, silhouette(result), target=target, time_column=time_column,
                               event_column=event_column, source=str(normalized))}
        for result_seed, result in results])
    if out_of_fold_logrank is not None:
        oof = pd.read_csv(out_of_fold_logrank, sep="\t")
        oof = oof[oof["assignment"].str.startswith("out-of-fold")]
        table["logrank_p_out_of_fold"] = np.where((table["method"] == "deepsubtype") & (table["seed"] == seed),
                                                  oof["p_value"].median(), np.nan)
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


def _clustering_metrics(adata: ad.AnnData, labels: np.ndarray, silhouette: float, *, target: str | None,
                        time_column: str | None, event_column: str | None, source: str) -> dict[str, Any]:
    """What a clustering of ``adata``'s samples says: ``n_clusters``, ``smallest_cluster``, the given
    ``silhouette``; ``logrank_p`` and ``cox_c_index`` with survival columns; ``acc``/``nmi``/``ari``
    against ``target`` when given."""
    from .compare import label_agreement

    series = pd.Series(labels, index=adata.obs_names)
    row: dict[str, Any] = {"n_clusters": int(series.nunique()), "smallest_cluster": int(series.value_counts().min()),
                           "silhouette": silhouette}
    if time_column and event_column:
        frame, _ = survival_frame(series, adata.obs, time_column=time_column, event_column=event_column,
                                  source=source)
        row["logrank_p"] = float(logrank_table(frame)["p_value"].iloc[0])
        row["cox_c_index"] = _cluster_c_index(frame)
    if target:
        row.update(label_agreement(adata.obs[target], labels))
    return row


def _summarize_over_seeds(table: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Per method: number of seeds and the median, minimum and maximum of each metric."""
    grouped = table.groupby("method", sort=False)
    summary = grouped[metrics].agg(["median", "min", "max"])
    summary.columns = [f"{metric}_{statistic}" for metric, statistic in summary.columns]
    summary.insert(0, "n_seeds", grouped["seed"].nunique())
    return summary.reset_index()


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
    ``clusters.tsv`` (``sample``, ``cluster``) and ``gene_importance.tsv``.
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
        _to_tsv(pd.DataFrame({"sample": adata.obs_names, "cluster": labels}), temporary / SWEEP_RUN_FILES["clusters"])
        _to_tsv(gene_importance(model), temporary / SWEEP_RUN_FILES["genes"])
    return metrics


def sweep_summary_stage(run_dirs: dict[str, str | Path], runs_output: str | Path, summary_output: str | Path, *,
                        n_top_genes: int = 50) -> pd.DataFrame:
    """Stack the runs of one cohort's sweep (``run_dirs``: run name -> directory of :func:`sweep_run_stage`)
    into ``runs_output`` and summarize each setting into ``summary_output``
    (:func:`deepsubtype.sweep.summarize_sweep`)."""
    from .sweep import SETTING, summarize_sweep

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


def aggregate_cohorts(summaries: dict[str, str | Path], output: str | Path) -> pd.DataFrame:
    """One table across cohorts: every cohort's table (e.g. ``compare/summary.tsv``) with a ``cohort`` column."""
    for cohort in summaries:
        check_cohort_name(cohort)
    table = pd.concat([pd.read_csv(path, sep="\t").assign(cohort=cohort) for cohort, path in summaries.items()],
                      ignore_index=True)
    table = table[["cohort", *[c for c in table.columns if c != "cohort"]]]
    _write_table(table, output)
    return table


#: Files written by :func:`predict_stage` into its output directory.
PREDICT_FILES = {"normalized": "normalized.h5ad", "clusters": "clusters.tsv", "overlap": "overlap.tsv",
                 "missing_genes": "missing_genes.txt", "agreement": "agreement.tsv"}


def predict_stage(model_dir: str | Path, training_normalized: str | Path, expression: str | Path,
                  output_dir: str | Path, *, clinical: str | Path | None = None,
                  orientation: Orientation = "samples_x_genes", sample_column: str | None = None,
                  scale: Scale | str = "auto", missing: MissingPolicy | str = "fail",
                  missing_genes: str = "mean", max_missing_share: float = 0.2, centering: str = "training",
                  target: str | None = None, device: str = "cpu", time_column: str | None = None,
                  event_column: str | None = None, covariates: Iterable[str] = (),
                  survival_invalid: InvalidPolicy = "fail") -> pd.DataFrame:
    """Assign the patients of a new cohort to a trained model's clusters; writes :data:`PREDICT_FILES`.

    The new cohort is normalized with the training cohort's recorded settings
    (:func:`~deepsubtype.transfer.transfer_normalization`: its genes by name, absent genes by
    ``missing_genes``, refused above ``max_missing_share``, z-scored by ``centering``) and each
    patient goes to the nearest trained centre. ``clinical`` (optional: a single sample file
    needs none) is aligned as in :func:`normalize_stage`, and its survival columns checked as there.

    - ``normalized.h5ad``: the new cohort on the training genes, ``obs`` = its clinical columns
      (what :func:`survival_stage` reads), ``uns["transfer"]`` = the overlap report;
    - ``clusters.tsv``: ``sample``, ``cluster`` (the training cohort's cluster ids),
      ``distance_to_center``, ``confidence`` (:func:`~deepsubtype.estimator.assignment_confidence` for one fit;
      for several, the share of fits that make the call),
      ``second_cluster``, ``silhouette`` (in the representation; NA with one cluster or one patient);
    - ``overlap.tsv``: ``measure``, ``value``: genes found and missing, the platform check, the
      settings, the share of calls unchanged under the other centering, the cluster sizes;
    - ``missing_genes.txt``: the absent training genes, one per line;
    - ``agreement.tsv``: ACC/NMI/ARI of the clusters against ``target`` for the training cohort
      (in-sample) and this cohort, where that column has labels.

    Nothing is written unless every step succeeds. Returns ``clusters.tsv``'s table.
    """
    from .compare import label_agreement
    from .transfer import load_reference, transfer_normalization

    model = load_model(model_dir, device=device)
    training = ad.read_h5ad(training_normalized)
    reference = load_reference(training, source=str(training_normalized))
    trained_on = list(getattr(model, "feature_names_in_", []))
    if trained_on != list(reference.genes):
        raise InputError(f"{training_normalized}: its genes are not those the model in {model_dir} was trained on "
                         f"({len(reference.genes)} against {len(trained_on)}); give the training cohort's own "
                         "normalized.h5ad")
    adata = _read_raw(expression, orientation, clinical, sample_column)
    if clinical is not None:
        _check_clinical(adata, str(clinical), target=target, time_column=time_column, event_column=event_column,
                        covariates=covariates, invalid=survival_invalid)
    settings = {"scale": scale, "missing": missing, "missing_genes": missing_genes,
                "max_missing_share": max_missing_share, "source": str(expression)}
    transfer = transfer_normalization(adata, reference, centering=centering, **settings)
    distances = model.distances(transfer.adata)
    labels = model.predict(transfer.adata)
    order = np.argsort(np.where(np.arange(distances.shape[1]) == labels[:, None], np.inf, distances), axis=1)
    points = model.transform(transfer.adata)
    silhouette = _silhouettes(points, labels)
    table = pd.DataFrame({
        "sample": transfer.adata.obs_names,
        "cluster": labels,
        "distance_to_center": distances[np.arange(len(labels)), labels],
        "confidence": model.confidence(transfer.adata),
        "second_cluster": order[:, 0] if distances.shape[1] > 1 else labels,
        "silhouette": silhouette,
    })

    report = dict(transfer.report)
    if reference.zscore and adata.n_obs >= 2:
        other = "own" if centering == "training" else "training"
        quiet = logging.getLogger("deepsubtype.transfer")
        level = quiet.level
        quiet.setLevel(logging.WARNING)  # the comparison's own log line would read as the run's
        try:
            other_labels = model.predict(transfer_normalization(adata, reference, centering=other,
                                                                **settings).adata)
        finally:
            quiet.setLevel(level)
        report[f"calls_unchanged_with_centering_{other}"] = float((other_labels == labels).mean())
    report["mean_confidence"] = float(table["confidence"].mean())
    sizes = np.bincount(labels, minlength=int(model.n_clusters_))
    report.update({f"n_cluster_{k}": int(n) for k, n in enumerate(sizes)})
    overlap = pd.DataFrame({"measure": list(report), "value": [str(v) if not isinstance(v, float) else f"{v:.6g}"
                                                               for v in report.values()]})

    rows = []
    for name, obs, assigned in (("training cohort (in-sample)", training.obs, model.labels_),
                                ("this cohort (predicted)", transfer.adata.obs, labels)):
        labelled = target is not None and target in obs.columns and len(obs) == len(assigned)
        known = int(obs[target].notna().sum()) if labelled else 0
        metrics = (label_agreement(obs[target], assigned) if known
                   else {"acc": np.nan, "nmi": np.nan, "ari": np.nan})
        rows.append({"assignment": name, "target": target or "NA", "n_labelled": known, **metrics})
    agreement = pd.DataFrame(rows)
    logger.info("%s: cluster sizes %s, mean confidence %.2f", expression, dict(enumerate(sizes.tolist())),
                report["mean_confidence"])

    transfer.adata.uns["provenance"] = _provenance(stage="predict", model=str(model_dir),
                                                   training=str(training_normalized), expression=str(expression),
                                                   clinical=str(clinical), centering=centering, **settings)
    output = Path(output_dir)
    with _atomic(output / PREDICT_FILES["normalized"]) as temporary:
        transfer.adata.write_h5ad(temporary, compression="gzip")
    _write_table(table, output / PREDICT_FILES["clusters"])
    _write_table(overlap, output / PREDICT_FILES["overlap"])
    with _atomic(output / PREDICT_FILES["missing_genes"]) as temporary:
        temporary.write_text("".join(f"{gene}\n" for gene in transfer.missing_genes))
    _write_table(agreement, output / PREDICT_FILES["agreement"])
    return table


def _survival_summary(files: dict[str, str | Path], role: str) -> dict[str, Any]:
    """Log-rank p and the hazard ratio of cluster 1 against the reference from a cohort's survival tables."""
    row: dict[str, Any] = {"logrank_p": np.nan, "hr_cluster_1": np.nan, "hr_cluster_1_lower_95": np.nan,
                           "hr_cluster_1_upper_95": np.nan}
    if f"{role}/logrank" in files:
        row["logrank_p"] = float(pd.read_csv(files[f"{role}/logrank"], sep="\t")["p_value"].iloc[0])
        cox = pd.read_csv(files[f"{role}/cox"], sep="\t").set_index("term")
        if "cluster_1" in cox.index:
            row.update(hr_cluster_1=float(cox.loc["cluster_1", "hazard_ratio"]),
                       hr_cluster_1_lower_95=float(cox.loc["cluster_1", "hr_lower_95"]),
                       hr_cluster_1_upper_95=float(cox.loc["cluster_1", "hr_upper_95"]))
    return row


def validation_summary_stage(pairs: dict[str, str], files: dict[str, str | Path], output: str | Path
                             ) -> pd.DataFrame:
    """Discovery and validation cohorts side by side: for each validation cohort (``pairs``: cohort -> the
    cohort whose model it applies), a row for the training cohort and one for it.

    ``files``: ``{cohort}/overlap``, ``{cohort}/agreement``, ``{cohort}/clusters`` and, with survival,
    ``{cohort}/logrank`` and ``{cohort}/cox``; the training cohort's under ``{cohort}/training/...``.
    Columns: ``cohort``, ``role``, ``trained_on``, ``n_patients``, ``cluster_sizes``, genes found and
    missing, the platform check, ``mean_confidence``, ``logrank_p``, the hazard ratio of cluster 1 (against
    the Cox model's reference cluster) with its 95 % interval, and ``ari``/``nmi`` against the target.
    """
    rows = []
    for cohort, source in pairs.items():
        check_cohort_name(cohort)
        overlap = pd.read_csv(files[f"{cohort}/overlap"], sep="\t").set_index("measure")["value"]
        agreement = pd.read_csv(files[f"{cohort}/agreement"], sep="\t")
        for role, name, prefix, line in (("discovery", source, f"{cohort}/training", 0),
                                         ("validation", cohort, cohort, 1)):
            clusters = _read_clusters(files[f"{prefix}/clusters"])
            sizes = clusters.value_counts().sort_index()
            rows.append({
                "cohort": name, "role": role, "trained_on": source, "n_patients": int(len(clusters)),
                "cluster_sizes": " ".join(f"{k}:{n}" for k, n in sizes.items()),
                "n_training_genes": int(overlap["n_training_genes"]),
                "n_genes_found": int(overlap["n_found"]) if role == "validation" else int(overlap["n_training_genes"]),
                "n_genes_missing": int(overlap["n_missing"]) if role == "validation" else 0,
                "gene_mean_correlation": float(overlap["gene_mean_correlation"]) if role == "validation" else np.nan,
                "gene_sd_correlation": float(overlap["gene_sd_correlation"]) if role == "validation" else np.nan,
                "centering": overlap["centering"] if role == "validation" else "fitted on this cohort",
                "mean_confidence": float(overlap["mean_confidence"]) if role == "validation" else np.nan,
                **_survival_summary(files, prefix),
                "target": agreement.loc[line, "target"], "ari": agreement.loc[line, "ari"],
                "nmi": agreement.loc[line, "nmi"],
            })
    table = pd.DataFrame(rows).drop_duplicates(subset=["cohort", "role"], keep="first", ignore_index=True)
    _write_table(table, output)
    return table

"""The ``deepsubtype`` command's arguments: one subparser per stage, grouped as the pipeline's stages are."""

from __future__ import annotations

import argparse
from typing import Any

from .. import __version__
from ..io import InputError
from ..markers import MARKER_METHODS
from ..schema import load_yaml
from ..survival import MIN_CLUSTER_SIZE
from ..tasks import TASKS

__all__ = ["build_parser", "views"]


def _setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``: the key as written and the value read as YAML (a key written twice in it refused)."""
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, load_yaml(value, f"--set {key}")
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _key_value(text: str) -> tuple[str, Any]:
    """``--set KEY=VALUE``: a hyperparameter name (``-`` read as ``_``) and its YAML value."""
    key, value = _setting(text)
    return key.replace("-", "_"), value


def _clinical_checks(stage: argparse.ArgumentParser) -> None:
    """The survival and covariate columns a stage that reads a clinical table checks before any training."""
    stage.add_argument("--time", dest="time_column", help="survival time column (checked now)")
    stage.add_argument("--event", dest="event_column", help="survival event column (checked now)")
    stage.add_argument("--covariate", dest="covariates", action="append", default=[],
                       help="Cox covariate column (checked now; repeatable)")
    stage.add_argument("--survival-invalid", choices=["fail", "drop"], default="fail",
                       help="unusable survival values: stop, or leave those patients out of survival (named)")


def _positive_int(text: str) -> int:
    """An integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _cohort_path(text: str) -> tuple[str, str]:
    """``COHORT=PATH``, both kept verbatim."""
    cohort, separator, path = text.partition("=")
    if not separator or not cohort or not path:
        raise argparse.ArgumentTypeError(f"expected COHORT=PATH, got {text!r}")
    return cohort, path


def views(expression: list[str], settings: list[tuple[str, Any]]) -> str | dict[str, dict[str, Any]]:
    """One PATH, or VIEW=PATH arguments with ``--view-set VIEW.KEY=VALUE`` settings, as normalize_stage takes them."""
    if len(expression) == 1 and "=" not in expression[0]:
        if settings:
            raise InputError("--view-set needs views given as VIEW=PATH")
        return expression[0]
    views: dict[str, dict[str, Any]] = {}
    for argument in expression:
        name, separator, path = argument.partition("=")
        if not separator or not name or not path:
            raise InputError(f"several expression files must each be given as VIEW=PATH, got {argument!r}")
        views[name] = {"path": path}
    for key, value in settings:
        name, _, setting = key.partition(".")
        if name not in views or not setting:
            raise InputError(f"--view-set {key}: expected VIEW.KEY with VIEW one of {sorted(views)}")
        views[name][setting] = value
    return views


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepsubtype", description="Cancer subtypes with DeepType, stage by stage.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log", metavar="FILE", help="also write the log to FILE")
    parser.add_argument("--provenance", metavar="FILE",
                        help="write the package versions and this command's settings to FILE (JSON) on success")
    stages = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    _add_import_stages(stages)
    _add_normalize_stages(stages)
    _add_model_stages(stages)
    _add_survival_stages(stages)
    _add_comparison_stages(stages)
    _add_result_stages(stages)
    return parser


def _add_import_stages(stages: Any) -> None:
    """The subcommands files of a public source read into a matrix and a clinical table."""
    sources = {"import-cbioportal": ("a cBioPortal study folder", "study",
                                     "the study folder (meta_study.txt, meta_*.txt, data_*.txt, case_lists/)"),
               "import-geo": ("a GEO series matrix", "series_matrix", "GSExxxx_series_matrix.txt[.gz]")}
    imports = {}
    for name, (what, source, source_help) in sources.items():
        imports[name] = stages.add_parser(name, help=f"read {what} into an expression matrix and a clinical table "
                                          "(then: normalize)")
        imports[name].add_argument(source, help=source_help)
        imports[name].add_argument("expression", help="samples x genes .h5ad to write")
        imports[name].add_argument("clinical", help="clinical table to write (TSV, the sample id first)")
        imports[name].add_argument("report", help="what was read, dropped and collapsed (JSON) to write")
    imports["import-cbioportal"].add_argument("--profile", help="expression profile: stable_id or data file name "
                                              "(default: the only one)")
    imports["import-cbioportal"].add_argument("--case-list", help="case list restricting the samples: stable_id or "
                                              "file name")
    imports["import-cbioportal"].add_argument("--event", dest="event_column",
                                              help="the survival event attribute (e.g. OS_STATUS): its 0:/1: code "
                                                   "is checked now")
    imports["import-geo"].add_argument("--platform", help="the platform's annotation table (GEO's full GPL table): "
                                       "probes to genes")
    imports["import-geo"].add_argument("--gene-column", help="its gene symbol column (default: the first of the "
                                       "usual names)")


def _add_normalize_stages(stages: Any) -> None:
    """The subcommands normalize and export-mudata."""
    normalize = stages.add_parser("normalize", help="read, align and normalize an expression matrix")
    normalize.add_argument("expression", nargs="+",
                           help="expression matrix (.h5ad, .csv/.tsv[.gz], .parquet; a .h5mu file: each modality a "
                                "view), or several views as VIEW=PATH (with --view-set VIEW.modality=M for a .h5mu)")
    normalize.add_argument("clinical", help="clinical table, one row per sample (a .h5mu file: its global obs)")
    normalize.add_argument("output", help="normalized .h5ad to write")
    normalize.add_argument("--orientation", choices=["samples_x_genes", "genes_x_samples"], default="samples_x_genes")
    normalize.add_argument("--sample-column", help="clinical column with sample ids (default: the first)")
    normalize.add_argument("--scale", choices=["auto", "counts", "linear", "log"], default="auto")
    normalize.add_argument("--n-top-genes", type=int, default=5000, help="genes kept by variance; 0 keeps all")
    normalize.add_argument("--missing", choices=["fail", "drop_genes", "impute"], default="fail",
                           help="missing or infinite values: stop, drop the genes, or impute the gene median")
    normalize.add_argument("--no-zscore", dest="zscore", action="store_false", help="skip the per-gene z-score")
    normalize.add_argument("--minmax", action="store_true",
                           help="then rescale each gene to [0, 1] by its range (the DeepType paper's scaling)")
    normalize.add_argument("--view-set", dest="view_settings", type=_setting, action="append", default=[],
                           metavar="VIEW.KEY=VALUE", help="a setting for one view, e.g. rna.scale=counts (repeatable)")
    normalize.add_argument("--missing-views", choices=["mask", "drop"], default="mask",
                           help="with several views: mask or drop the patients lacking one")
    normalize.add_argument("--target", help="clinical column the primary task will predict (checked now)")
    _clinical_checks(normalize)

    export = stages.add_parser("export-mudata", help="write a normalized .h5ad as MuData (.h5mu: one modality per "
                               "view, the clinical columns as the global obs)")
    export.add_argument("normalized", help="normalized .h5ad")
    export.add_argument("output", help=".h5mu to write")


def _add_model_stages(stages: Any) -> None:
    """The subcommands train, cluster and genes."""
    train = stages.add_parser("train", help="fit DeepType on a normalized .h5ad")
    train.add_argument("normalized")
    train.add_argument("model_dir", help="directory to write the model to")
    train.add_argument("embedding", help=".h5ad to write the representation to")
    train.add_argument("--history-plot", help="PNG of the training losses")
    train.add_argument("--k-selection", help="TSV of the scores of every K tried")
    train.add_argument("--tuning", help="TSV of the alpha path (alpha auto) and cross-validated scores (beta auto)")
    train.add_argument("--fits", help="TSV with one row per fit (seed, K, alpha, sizes, agreement; --set n_fits=N)")
    train.add_argument("--task", choices=TASKS, default="classification")
    train.add_argument("--target", help="clinical column the primary task predicts")
    train.add_argument("--time", dest="time_column", help="survival time column (task survival)")
    train.add_argument("--event", dest="event_column", help="survival event column (task survival)")
    train.add_argument("--set", dest="model_params", type=_key_value, action="append", default=[],
                       metavar="KEY=VALUE", help="DeepType hyperparameter, e.g. n_clusters=4 (repeatable)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto")
    train.add_argument("--checkpoint", metavar="FILE",
                       help="training state, written after pretraining and every round: a rerun after an "
                            "interruption resumes from it (same result); deleted on success")

    cluster = stages.add_parser("cluster", help="assign samples to DeepType clusters")
    cluster.add_argument("embedding")
    cluster.add_argument("clusters", help="clusters.tsv to write")
    cluster.add_argument("--plot", help="PNG of the representation in 2-D")
    cluster.add_argument("--label-column", help="clinical column to colour the plot by")
    cluster.add_argument("--method", choices=["pca", "umap"], default="pca")
    cluster.add_argument("--seed", type=int, default=0)

    genes = stages.add_parser("genes", help="rank genes by DeepType importance (pattern and first-layer norm)")
    genes.add_argument("model_dir")
    genes.add_argument("importance", help="gene_importance.tsv to write")
    genes.add_argument("--plot", help="PNG of the top genes")
    genes.add_argument("--heatmap", help="PNG of the top genes across patients (needs --normalized, --clusters)")
    genes.add_argument("--normalized", help="normalized .h5ad, for the heatmap and the markers")
    genes.add_argument("--clusters", help="clusters.tsv, for the heatmap and the markers")
    genes.add_argument("--n-top-plot", type=int, default=30)
    genes.add_argument("--markers", help="markers.tsv to write: every cluster's genes against the rest "
                                         "(needs --normalized, --clusters)")
    genes.add_argument("--markers-plot", help="PNG dot plot of each cluster's top markers (needs --normalized, "
                                              "--clusters)")
    genes.add_argument("--marker-method", choices=MARKER_METHODS, default=MARKER_METHODS[0],
                       help="scanpy's test of a cluster against the rest")
    genes.add_argument("--n-markers-plot", type=int, default=5, help="markers per cluster in the plot")
    genes.add_argument("--by-view", help="directory to write one {view}.tsv of feature importances per view to")
    genes.add_argument("--overlap", help="TSV comparing the top lists of DeepType and the univariate test "
                                         "(needs --normalized and --task)")
    genes.add_argument("--task", choices=TASKS, help="primary task, for the univariate ranking beside DeepType's")
    genes.add_argument("--target", help="clinical column of the target (classification, binary, regression)")
    genes.add_argument("--time", dest="time_column", help="survival time column (task survival)")
    genes.add_argument("--event", dest="event_column", help="survival event column (task survival)")


def _add_survival_stages(stages: Any) -> None:
    """The subcommands survival, validate, validate-fold and validate-permutation."""
    survival = stages.add_parser("survival", help="Kaplan-Meier and log-rank test by cluster")
    survival.add_argument("clusters")
    survival.add_argument("normalized", help="normalized .h5ad holding the clinical columns")
    survival.add_argument("output_dir", help="directory for the survival tables and plots")
    survival.add_argument("--time", dest="time_column", required=True)
    survival.add_argument("--event", dest="event_column", required=True)
    survival.add_argument("--unit", dest="time_unit", default="", help="unit of the time column")
    survival.add_argument("--covariate", dest="covariates", action="append", default=[],
                          help="clinical column the Cox model adjusts for (repeatable)")
    survival.add_argument("--adjustment", choices=["holm", "bh"], default="holm")
    survival.add_argument("--horizon", type=float, help="restricted mean survival time up to this time")
    survival.add_argument("--min-cluster-size", type=_positive_int, default=MIN_CLUSTER_SIZE,
                          help="clusters of fewer patients are named, and the log-rank test is repeated without them")
    survival.add_argument("--task", choices=TASKS, default="classification",
                          help="the model's primary task: with classification, binary or regression and --target, "
                               "whether the clusters carry survival information beyond the target")
    survival.add_argument("--target", help="clinical column of the primary task (beyond_target.tsv)")
    validate = stages.add_parser("validate", help="out-of-fold clusters and their survival statistics")
    validate.add_argument("normalized")
    validate.add_argument("model_dir")
    validate.add_argument("clusters")
    validate.add_argument("output_dir", help="directory for the out-of-fold tables and plot")
    validate.add_argument("--task", choices=TASKS, default="classification")
    validate.add_argument("--target", help="clinical column of the primary task")
    validate.add_argument("--time", dest="time_column", required=True)
    validate.add_argument("--event", dest="event_column", required=True)
    validate.add_argument("--unit", dest="time_unit", default="")
    validate.add_argument("--covariate", dest="covariates", action="append", default=[])
    validate.add_argument("--min-cluster-size", type=_positive_int, default=MIN_CLUSTER_SIZE,
                          help="clusters of fewer patients are named, and the log-rank test is repeated without them")
    validate.add_argument("--folds", type=int, default=5)
    validate.add_argument("--repeats", type=int, default=1)
    validate.add_argument("--seed", type=int, default=0)
    validate.add_argument("--device", default="auto")
    validate.add_argument("--expression", help="the cohort's raw matrix: each fold then refits the gene filter and "
                          "the z-score on its training patients (needs --clinical)")
    validate.add_argument("--orientation", choices=["samples_x_genes", "genes_x_samples"], default="samples_x_genes")
    validate.add_argument("--clinical", help="the clinical table the normalize stage aligned the matrix to")
    validate.add_argument("--sample-column", help="clinical column with sample ids (default: the first)")
    validate.add_argument("--fold-table", dest="fold_tables", action="append", metavar="FILE",
                          help="a validate-fold table (repeatable, one per split): the folds are not refitted here")
    validate.add_argument("--permutations", type=int, default=99,
                          help="permutations of the outcomes for the calibrated out-of-fold test (0: none); with "
                          "--task survival each refits every fold here unless --permutation-table gives them")
    validate.add_argument("--permutation-table", dest="permutation_tables", action="append", metavar="FILE",
                          help="a validate-permutation table (repeatable, one per permutation)")
    fold = stages.add_parser("validate-fold", help="one split of the validation's refits, as its own job")
    fold.add_argument("normalized")
    fold.add_argument("output", help="TSV of the split's samples and their clusters under the fold model")
    fold.add_argument("--repeat", type=int, required=True)
    fold.add_argument("--fold", type=int, required=True)
    _add_procedure_arguments(fold)
    permutation = stages.add_parser("validate-permutation", help="one permutation of the calibrated out-of-fold "
                                    "test of a procedure that learns from survival: every split refitted")
    permutation.add_argument("normalized")
    permutation.add_argument("output", help="TSV of the held-out samples and their clusters under the fold models")
    permutation.add_argument("--permutation", type=_positive_int, required=True, help="1, 2, ...")
    _add_procedure_arguments(permutation, default_task="survival")


def _add_procedure_arguments(parser: Any, default_task: str = "classification") -> None:
    """The options of a validation refit job (validate-fold, validate-permutation): splits, procedure, raw matrix."""
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-fits", type=int, default=1, help="fits per fold")
    parser.add_argument("--task", choices=TASKS, default=default_task)
    parser.add_argument("--target", help="clinical column of the primary task")
    parser.add_argument("--time", dest="time_column")
    parser.add_argument("--event", dest="event_column")
    parser.add_argument("--set", dest="model_params", type=_key_value, action="append", default=[],
                        metavar="KEY=VALUE", help="DeepType hyperparameter, as for train (repeatable)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--expression", help="the cohort's raw matrix, as for validate (needs --clinical)")
    parser.add_argument("--orientation", choices=["samples_x_genes", "genes_x_samples"], default="samples_x_genes")
    parser.add_argument("--clinical", help="the clinical table the normalize stage aligned the matrix to")
    parser.add_argument("--sample-column", help="clinical column with sample ids (default: the first)")


def _add_comparison_stages(stages: Any) -> None:
    """The subcommands compare, sweep and sweep-summary."""
    compare = stages.add_parser("compare", help="DeepType beside k-means, PCA, consensus, SNF and an autoencoder")
    compare.add_argument("normalized")
    compare.add_argument("embedding")
    compare.add_argument("clusters")
    compare.add_argument("model_dir")
    compare.add_argument("output_dir")
    compare.add_argument("--out-of-fold-methods", help="oof_methods.tsv of the validate stage")
    compare.add_argument("--task", choices=TASKS, default="classification")
    compare.add_argument("--target")
    compare.add_argument("--time", dest="time_column")
    compare.add_argument("--event", dest="event_column")
    compare.add_argument("--seed", type=int, default=0)
    compare.add_argument("--extra-seed", dest="extra_seeds", type=int, action="append", default=[])
    compare.add_argument("--device", default="cpu", help="device of the DeepType refits and the autoencoder")

    sweep = stages.add_parser("sweep", help="one sweep run: DeepType with a given alpha, beta, K and seed")
    sweep.add_argument("normalized")
    sweep.add_argument("output_dir", help="directory for metrics.tsv, clusters.tsv and gene_importance.tsv")
    sweep.add_argument("--alpha", type=float, required=True)
    sweep.add_argument("--beta", type=float, required=True)
    sweep.add_argument("--n-clusters", type=int, required=True)
    sweep.add_argument("--seed", type=int, default=0)
    sweep.add_argument("--task", choices=TASKS, default="classification")
    sweep.add_argument("--target")
    sweep.add_argument("--time", dest="time_column")
    sweep.add_argument("--event", dest="event_column")
    sweep.add_argument("--set", dest="model_params", type=_key_value, action="append", default=[],
                       metavar="KEY=VALUE", help="other DeepType hyperparameters (repeatable)")
    sweep.add_argument("--device", default="auto")
    sweep_summary = stages.add_parser("sweep-summary", help="one cohort's sweep runs: runs.tsv and summary.tsv")
    sweep_summary.add_argument("runs_output", help="runs.tsv to write (one row per run)")
    sweep_summary.add_argument("summary_output", help="summary.tsv to write (one row per alpha, beta, K)")
    sweep_summary.add_argument("run_dirs", nargs="+", help="directories written by deepsubtype sweep")


def _add_result_stages(stages: Any) -> None:
    """The subcommands predict, summary and aggregate."""
    predict = stages.add_parser("predict", help="assign the patients of a new cohort (or one new sample file) "
                                "to a trained model's clusters")
    predict.add_argument("model_dir", help="model directory written by train")
    predict.add_argument("training_normalized", help="the training cohort's normalized .h5ad (its genes, "
                         "per-gene mean and SD)")
    predict.add_argument("expression", help="the new patients' expression matrix, raw as measured")
    predict.add_argument("output_dir", help="directory for normalized.h5ad, clusters.tsv, overlap.tsv, "
                         "missing_genes.txt, agreement.tsv")
    predict.add_argument("--clinical", help="clinical table of the new patients (survival, agreement)")
    predict.add_argument("--sample-column", help="clinical column with sample ids (default: the first)")
    predict.add_argument("--orientation", choices=["samples_x_genes", "genes_x_samples"], default="samples_x_genes")
    predict.add_argument("--scale", choices=["auto", "counts", "linear", "log"], default="auto")
    predict.add_argument("--missing", choices=["fail", "drop_genes", "impute"], default="fail",
                         help="missing or infinite values in the new matrix")
    predict.add_argument("--missing-genes", choices=["mean", "fail"], default="mean",
                         help="training genes absent from the new matrix: the training mean (0 after z-scoring) "
                              "or stop")
    predict.add_argument("--max-missing-share", type=float, default=0.2,
                         help="stop when more than this share of the training genes is absent")
    predict.add_argument("--centering", choices=["training", "own"], default="training",
                         help="z-score with the training cohort's gene means and SDs, or the new cohort's own "
                              "(another platform; needs several samples)")
    predict.add_argument("--target", help="clinical column to compare the clusters with (ACC/NMI/ARI)")
    _clinical_checks(predict)
    predict.add_argument("--device", default="cpu")

    summary = stages.add_parser("summary", help="one row per cohort (patients, K, sizes, in-sample and out-of-fold "
                                "log-rank p and C-index, top genes, rank among the baselines) from results folders")
    summary.add_argument("output", help="summary.tsv to write")
    summary.add_argument("results", nargs="+", metavar="COHORT=DIR", type=_cohort_path,
                         help="a cohort's results folder (the tables of SUMMARY_FILES found there are read)")
    summary.add_argument("--page", help="also write the table as reStructuredText (the report's first page)")
    summary.add_argument("--task", dest="tasks", action="append", default=[], metavar="COHORT=TASK",
                         type=_cohort_path, help="a cohort's primary task (default classification; survival "
                         "ranks its out-of-fold p among the baselines)")
    summary.add_argument("--trained-on", dest="sources", action="append", default=[], metavar="COHORT=SOURCE",
                         type=_cohort_path, help="a cohort that applies another cohort's model (model_from)")

    aggregate = stages.add_parser("aggregate", help="stack per-cohort tables (compare/summary.tsv, "
                                  "sweep/summary.tsv) into one, with a cohort column")
    aggregate.add_argument("output")
    aggregate.add_argument("summaries", nargs="+", metavar="COHORT=PATH", type=_cohort_path)



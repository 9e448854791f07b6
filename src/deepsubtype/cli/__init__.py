"""The ``deepsubtype`` command line: each pipeline stage outside Snakemake.

Example, the demo cohort by hand (a cBioPortal study folder first goes through ``deepsubtype import-cbioportal
STUDY out/expression.h5ad out/clinical.tsv out/import.json --profile mrna``)::

    deepsubtype normalize resources/gse4335/expression.tsv.gz resources/gse4335/clinical.tsv \\
        out/normalized.h5ad --sample-column sample --n-top-genes 5000
    deepsubtype train out/normalized.h5ad out/model out/embedding.h5ad --target er_status \\
        --set n_clusters=3 --set alpha=0.006
    deepsubtype cluster out/embedding.h5ad out/clusters.tsv
    deepsubtype genes out/model out/gene_importance.tsv --plot out/top_genes.png
    deepsubtype survival out/clusters.tsv out/normalized.h5ad out/survival \\
        --time time --event event --unit months --covariate age --covariate grade --horizon 60
    deepsubtype predict out/model out/normalized.h5ad new_patients.tsv out/new --centering training

Bad input ends with exit status 2 and one line on stderr naming the file and the problem.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..io import InputError
from ..outputs import SUMMARY_FILES
from ..schema import check_model_settings
from .parser import build_parser, views

__all__ = ["main", "build_parser"]


def _run(arguments: argparse.Namespace) -> None:
    from .. import stages

    options = vars(arguments).copy()
    stage = options.pop("stage")
    options.pop("log")
    provenance = options.pop("provenance")
    if stage == "import-cbioportal":
        stages.import_cbioportal_stage(**options)
    elif stage == "import-geo":
        stages.import_geo_stage(**options)
    elif stage == "normalize":
        options["n_top_genes"] = options["n_top_genes"] or None
        options["expression"] = views(options["expression"], options.pop("view_settings"))
        stages.normalize_stage(**options)
    elif stage == "export-mudata":
        stages.export_mudata_stage(**options)
    elif stage == "train":
        options["model_params"] = dict(options["model_params"])
        check_model_settings(options["model_params"], task=options["task"])
        stages.train_stage(**options)
    elif stage == "cluster":
        stages.cluster_stage(**options)
    elif stage == "genes":
        stages.genes_stage(**options)
    elif stage == "survival":
        stages.survival_stage(**options)
    elif stage == "validate":
        stages.validation_stage(**options)
    elif stage in ("validate-fold", "validate-permutation"):
        options["model_params"] = dict(options["model_params"])
        check_model_settings(options["model_params"], task=options["task"])
        run = stages.validation_fold_stage if stage == "validate-fold" else stages.validation_permutation_stage
        run(**options)
    elif stage == "compare":
        stages.compare_stage(**options)
    elif stage == "sweep":
        options["model_params"] = dict(options["model_params"])
        check_model_settings(options["model_params"], task=options["task"])
        stages.sweep_run_stage(**options)
    elif stage == "sweep-summary":
        stages.sweep_summary_stage({Path(d).name: d for d in options["run_dirs"]}, options["runs_output"],
                                   options["summary_output"])
    elif stage == "predict":
        stages.predict_stage(**options)
    elif stage == "summary":
        tasks, sources = dict(options["tasks"]), dict(options["sources"])
        stages.summary_stage({cohort: {"files": {role: Path(directory) / name
                                                 for role, name in SUMMARY_FILES.items()
                                                 if (Path(directory) / name).is_file()},
                                       "task": tasks.get(cohort, "classification"), "trained_on": sources.get(cohort)}
                              for cohort, directory in options["results"]}, options["output"], options["page"])
    elif stage == "aggregate":
        stages.aggregate_cohorts(dict(options["summaries"]), options["output"])
    if provenance is not None:
        stages.write_provenance(provenance, stage=stage, settings=options)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 bad input)."""
    from .._allocator import keep_freed_memory
    from ..stages import logging_to

    keep_freed_memory()
    arguments = build_parser().parse_args(argv)
    try:
        with logging_to(arguments.log):
            _run(arguments)
    except InputError as error:
        print(f"deepsubtype {arguments.stage}: error: {error}", file=sys.stderr)
        return 2
    return 0


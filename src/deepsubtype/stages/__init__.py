"""Pipeline stages, files in, files out: what each Snakemake rule and ``deepsubtype`` subcommand runs.

One module per stage (:mod:`.study`: importing a cBioPortal study or a GEO series matrix; :mod:`.normalize`,
:mod:`.train`, :mod:`.cluster`, :mod:`.genes`, :mod:`.survival`, :mod:`.validate`, :mod:`.compare`, :mod:`.sweep`,
:mod:`.predict`, :mod:`.aggregate`), each reading its inputs,
calling the library and writing its outputs; :mod:`._files` (log, atomic writes, provenance), :mod:`._inputs`
(clinical checks, targets, model settings) and :mod:`._scores` are what they share. Every output is written to
a temporary name beside its target and renamed into place only when the stage succeeds, so a failed stage
leaves no partial output. The file names each stage writes are in :mod:`deepsubtype.outputs`. Names load on
first use: a job imports only its own stage's dependencies.
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: Public names and the stage module each lives in.
_EXPORTS = {
    "EMBEDDING_KEY": "._files", "logging_to": "._files", "write_provenance": "._files",
    "check_checkout_library": "._files", "errors_naming": "._files",
    "import_cbioportal_stage": ".study", "import_geo_stage": ".study", "imported_names": ".study",
    "normalize_stage": ".normalize", "export_mudata_stage": ".normalize",
    "train_stage": ".train", "cluster_stage": ".cluster", "genes_stage": ".genes",
    "survival_stage": ".survival",
    "validation_stage": ".validate", "validation_fold_stage": ".validate", "validation_permutation_stage": ".validate",
    "compare_stage": ".compare",
    "sweep_run_stage": ".sweep", "sweep_summary_stage": ".sweep",
    "predict_stage": ".predict",
    "aggregate_cohorts": ".aggregate", "validation_summary_stage": ".aggregate", "summary_stage": ".aggregate",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)

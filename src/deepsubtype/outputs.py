"""Every stage's output files, named once: the stages write these names, the Snakemake rules declare them
(``workflow/rules/common.smk`` builds each rule's outputs and the default targets from these mappings) and
the summary reads them. Keys are the roles (the rules' output names); values are file names inside the
stage's output directory. No heavy imports: the workflow reads this module while it parses.
"""

from __future__ import annotations

__all__ = ["COHORT_FILES", "IMPORT_FILES", "SURVIVAL_FILES", "VALIDATION_FILES", "COMPARE_FILES", "PREDICT_FILES",
           "SWEEP_RUN_FILES", "SUMMARY_FILES", "PROCEDURE_FILE", "SURVIVAL_DIR", "VALIDATION_DIR",
           "VALIDATION_FOLD_FILE", "VALIDATION_PERMUTATION_FILE", "COMPARE_DIR"]

#: A discovery cohort's own files at the top of its results directory, by role: ``normalized`` (the normalize
#: stage), ``model`` (a directory), ``embedding``, ``tuning``, ``k_selection``, ``fits`` and ``history`` (the
#: train stage), ``clusters`` and ``embedding_plot`` (cluster), the ``genes`` table, its plots, overlap and
#: per-view directory, the ``markers`` table per cluster and its plot (genes; plain files beside the ``genes``
#: directory, which holds only the per-view tables). The rules declare these paths and hand them to the stages
#: one by one.
COHORT_FILES = {
    "normalized": "normalized.h5ad",
    "model": "model",
    "embedding": "embedding.h5ad",
    "tuning": "tuning.tsv",
    "k_selection": "k_selection.tsv",
    "fits": "fits.tsv",
    "history": "plots/training_history.png",
    "clusters": "clusters.tsv",
    "embedding_plot": "plots/embedding.png",
    "genes": "gene_importance.tsv",
    "genes_plot": "plots/top_genes.png",
    "genes_heatmap": "plots/top_genes_heatmap.png",
    "genes_overlap": "genes_overlap.tsv",
    "genes_by_view": "genes",
    "markers": "markers.tsv",
    "markers_plot": "plots/markers.png",
}

#: What the import stages write for a cohort read from a cBioPortal study or a GEO series matrix, by role, under
#: its results directory: the matrix and the clinical table every later stage reads, and what was dropped.
IMPORT_FILES = {"expression": "input/expression.h5ad", "clinical": "input/clinical.tsv", "report": "input/import.json"}

#: The file in a model directory that holds the procedure the train stage was configured with (``model_params``,
#: ``tuning_grid``: alpha, beta and the objective as configured, "auto" unresolved), so that a validation of the
#: saved model refits that procedure, not the values it chose on all patients.
PROCEDURE_FILE = "procedure.json"

#: The survival stage's directory in a cohort's results, and its files (:func:`deepsubtype.stages.survival_stage`).
SURVIVAL_DIR = "survival"
SURVIVAL_FILES = {
    "km_table": "kaplan_meier.tsv",
    "logrank": "logrank.tsv",
    "excluded": "excluded.tsv",
    "pairwise": "pairwise_logrank.tsv",
    "cox_terms": "cox.tsv",
    "cox_model": "cox_model.tsv",
    "km_plot": "kaplan_meier.png",
    "forest_plot": "cox_forest.png",
    "beyond_target": "beyond_target.tsv",
}

#: The out-of-fold validation's directory and files (:func:`deepsubtype.stages.validation_stage`).
VALIDATION_DIR = "validation"
VALIDATION_FILES = {
    "clusters": "oof_clusters.tsv",
    "stability": "stability.tsv",
    "logrank": "oof_logrank.tsv",
    "cox": "oof_cox.tsv",
    "km_plot": "oof_kaplan_meier.png",
    "methods": "oof_methods.tsv",
    "test": "oof_test.tsv",
}

#: One split's table of the validation's refits (:func:`deepsubtype.stages.validation_fold_stage`), a template
#: over ``repeat`` and ``fold``: beside the validation's directory, which its stage replaces as a whole.
VALIDATION_FOLD_FILE = "validation_folds/repeat{repeat}_fold{fold}.tsv"

#: One permutation's refits of the calibrated out-of-fold test
#: (:func:`deepsubtype.stages.validation_permutation_stage`), a template over ``permutation`` (1, 2, ...): beside
#: the validation's directory, as the fold tables are.
VALIDATION_PERMUTATION_FILE = "validation_permutations/permutation{permutation}.tsv"

#: The comparison with the baselines: directory and files (:func:`deepsubtype.stages.compare_stage`).
COMPARE_DIR = "compare"
COMPARE_FILES = {"metrics": "metrics.tsv", "summary": "summary.tsv", "figure": "metrics.png",
                 "consensus": "consensus_cdf.png"}

#: A ``model_from`` cohort's files, in its results directory itself (:func:`deepsubtype.stages.predict_stage`).
PREDICT_FILES = {"normalized": "normalized.h5ad", "clusters": "clusters.tsv", "overlap": "overlap.tsv",
                 "missing_genes": "missing_genes.txt", "agreement": "agreement.tsv"}

#: One sweep run's files, in its own directory (:func:`deepsubtype.stages.sweep_run_stage`).
SWEEP_RUN_FILES = {"metrics": "metrics.tsv", "clusters": "clusters.tsv", "genes": "gene_importance.tsv"}

#: The result tables :func:`deepsubtype.stages.aggregate.cohort_summary` reads, by role, as paths under a
#: cohort's results directory.
SUMMARY_FILES = {"clusters": COHORT_FILES["clusters"], "logrank": f"{SURVIVAL_DIR}/{SURVIVAL_FILES['logrank']}",
                 "cox_model": f"{SURVIVAL_DIR}/{SURVIVAL_FILES['cox_model']}",
                 "beyond_target": f"{SURVIVAL_DIR}/{SURVIVAL_FILES['beyond_target']}",
                 "oof_logrank": f"{VALIDATION_DIR}/{VALIDATION_FILES['logrank']}",
                 "oof_test": f"{VALIDATION_DIR}/{VALIDATION_FILES['test']}",
                 "oof_methods": f"{VALIDATION_DIR}/{VALIDATION_FILES['methods']}", "genes": COHORT_FILES["genes"],
                 "markers": COHORT_FILES["markers"], "compare": f"{COMPARE_DIR}/{COMPARE_FILES['summary']}"}

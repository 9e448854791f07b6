# Each split of the validation (repeat x fold) is its own job: the folds run at once where there are cores
# (a cluster runs them side by side) and beside the training, which they do not need (the procedure is the
# config's). Two threads each (on the demo a 1-thread fold took 1.9x a 2-thread one, so two 1-thread folds
# side by side on 2 cores were slower than one after the other); `--set-threads validate_fold=N` changes it.
rule validate_fold:
    input:
        unpack(normalize_inputs),
        normalized=result_path("normalized"),
    output:
        table=f"results/{{cohort}}/{VALIDATION_FOLD_FILE}",
        provenance="results/{cohort}/provenance/validate_fold/repeat{repeat}_fold{fold}.json",
    wildcard_constraints:
        repeat=r"\d+",
        fold=r"\d+",
    params:
        settings=validation_fold_settings,
    threads: 2
    resources:
        gpu=uses_gpu,
    log:
        "logs/{cohort}/validate_fold/repeat{repeat}_fold{fold}.log",
    benchmark:
        "results/{cohort}/benchmarks/validate_fold/repeat{repeat}_fold{fold}.tsv"
    conda:
        training_env
    script:
        "../scripts/validate_fold.py"


# The calibrated out-of-fold test of a procedure that learns from survival: each permutation of the outcomes
# refits every split (folds x repeats fits, one after the other) as its own job, so a cluster runs them side by side.
rule validate_permutation:
    input:
        unpack(normalize_inputs),
        normalized=result_path("normalized"),
    output:
        table=f"results/{{cohort}}/{VALIDATION_PERMUTATION_FILE}",
        provenance="results/{cohort}/provenance/validate_permutation/permutation{permutation}.json",
    wildcard_constraints:
        permutation=r"[1-9]\d*",
    params:
        settings=validation_permutation_settings,
    threads: 2
    resources:
        gpu=uses_gpu,
    log:
        "logs/{cohort}/validate_permutation/permutation{permutation}.log",
    benchmark:
        "results/{cohort}/benchmarks/validate_permutation/permutation{permutation}.tsv"
    conda:
        training_env
    script:
        "../scripts/validate_permutation.py"


rule validate:
    input:
        unpack(normalize_inputs),
        normalized=result_path("normalized"),
        fold_tables=fold_tables,
        permutation_tables=permutation_tables,
        model=result_path("model"),
        clusters=result_path("clusters"),
    output:
        clusters=validation_output("clusters", "oof_clusters.rst", "out-of-fold clusters"),
        stability=validation_output("stability", "stability.rst", "cluster stability"),
        logrank=validation_output("logrank", "oof_logrank.rst", "out-of-fold log-rank"),
        cox=validation_output("cox", "oof_cox.rst", "out-of-fold Cox"),
        km_plot=validation_output("km_plot", "oof_kaplan_meier.rst", "out-of-fold Kaplan-Meier", "figure"),
        methods=validation_output("methods", "oof_methods.rst", "out-of-fold p beside the baselines"),
        test=validation_output("test", "oof_test.rst", "calibrated out-of-fold test"),
        provenance="results/{cohort}/provenance/validate.json",
    params:
        settings=validation_settings,
    log:
        "logs/{cohort}/validate.log",
    benchmark:
        "results/{cohort}/benchmarks/validate.tsv"
    conda:
        training_env
    script:
        "../scripts/validate.py"

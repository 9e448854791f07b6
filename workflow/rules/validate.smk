rule validate:
    input:
        unpack(normalize_inputs),
        normalized=result_path("normalized"),
        model=result_path("model"),
        clusters=result_path("clusters"),
    output:
        clusters=validation_output("clusters", "oof_clusters.rst", "out-of-fold clusters"),
        stability=validation_output("stability", "stability.rst", "cluster stability"),
        logrank=validation_output("logrank", "oof_logrank.rst", "out-of-fold log-rank"),
        cox=validation_output("cox", "oof_cox.rst", "out-of-fold Cox"),
        km_plot=validation_output("km_plot", "oof_kaplan_meier.rst", "out-of-fold Kaplan-Meier", "figure"),
        methods=validation_output("methods", "oof_methods.rst", "out-of-fold p beside the baselines"),
        provenance="results/{cohort}/provenance/validate.json",
    params:
        settings=validation_settings,
    threads: 4
    resources:
        gpu=uses_gpu,
    log:
        "logs/{cohort}/validate.log",
    benchmark:
        "results/{cohort}/benchmarks/validate.tsv"
    conda:
        training_env
    script:
        "../scripts/validate.py"

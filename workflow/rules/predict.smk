# Cohorts with `model_from`: the training cohort's model and normalization applied to their patients.


rule predict:
    input:
        unpack(predict_inputs),
    output:
        normalized=f"results/{{cohort}}/{PREDICT_FILES['normalized']}",
        clusters=predict_output("clusters", "predict_clusters.rst", "predicted clusters"),
        overlap=predict_output("overlap", "overlap.rst", "gene overlap with the training cohort"),
        missing_genes=f"results/{{cohort}}/{PREDICT_FILES['missing_genes']}",
        agreement=predict_output("agreement", "agreement.rst", "agreement with the target"),
        provenance="results/{cohort}/provenance/predict.json",
    wildcard_constraints:
        cohort=cohort_pattern(VALIDATION),
    params:
        settings=predict_settings,
    log:
        "logs/{cohort}/predict.log",
    benchmark:
        "results/{cohort}/benchmarks/predict.tsv"
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/predict.py"


rule validation_summary:
    input:
        lambda wildcards: list(validation_summary_inputs(wildcards).values()),
    output:
        report(
            "results/validation_summary.tsv",
            caption="../report/validation_summary.rst",
            category="all cohorts",
            labels={"table": "discovery and validation cohorts"},
        ),
        provenance="results/provenance/validation_summary.json",
    params:
        pairs={cohort: config["cohorts"][cohort]["model_from"] for cohort in VALIDATION},
        files=validation_summary_inputs,
    log:
        "logs/validation_summary.log",
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/validation_summary.py"

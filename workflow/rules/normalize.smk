rule normalize:
    input:
        expression=lambda wildcards: cohort_config(wildcards)["expression"],
        clinical=lambda wildcards: cohort_config(wildcards)["clinical"],
    output:
        "results/{cohort}/normalized.h5ad",
        provenance="results/{cohort}/provenance/normalize.json",
    params:
        settings=normalize_settings,
    log:
        "logs/{cohort}/normalize.log",
    benchmark:
        "results/{cohort}/benchmarks/normalize.tsv"
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/normalize.py"

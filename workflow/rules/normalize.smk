rule normalize:
    input:
        unpack(normalize_inputs),
    output:
        "results/{cohort}/normalized.h5ad",
        provenance="results/{cohort}/provenance/normalize.json",
    wildcard_constraints:
        cohort=cohort_pattern(DISCOVERY),
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

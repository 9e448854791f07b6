rule normalize:
    input:
        unpack(normalize_inputs),
    output:
        result_path("normalized"),
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


rule export_mudata:
    input:
        result_path("normalized"),
    output:
        "results/{cohort}/normalized.h5mu",
        provenance="results/{cohort}/provenance/export_mudata.json",
    wildcard_constraints:
        cohort=cohort_pattern(MUDATA_COHORTS),
    log:
        "logs/{cohort}/export_mudata.log",
    benchmark:
        "results/{cohort}/benchmarks/export_mudata.tsv"
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/export_mudata.py"

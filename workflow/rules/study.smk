# Cohorts given as a cBioPortal study folder or a GEO series matrix, read into the matrix and table every other
# rule reads (results/{cohort}/input/), with import.json saying what was dropped or collapsed.


rule import_cbioportal:
    input:
        study_inputs,
    output:
        expression="results/{cohort}/input/expression.h5ad",
        clinical="results/{cohort}/input/clinical.tsv",
        report=report(
            "results/{cohort}/input/import.json",
            caption="../report/import.rst",
            category="{cohort}",
            subcategory="0 import",
            labels={"cohort": "{cohort}", "table": "what the import read, dropped and collapsed"},
        ),
        provenance="results/{cohort}/provenance/import.json",
    wildcard_constraints:
        cohort=cohort_pattern(CBIOPORTAL_COHORTS),
    params:
        study=lambda wildcards: cohort_config(wildcards)["cbioportal"],
        event=lambda wildcards: cohort_config(wildcards).get("survival", {}).get("event"),
    log:
        "logs/{cohort}/import.log",
    benchmark:
        "results/{cohort}/benchmarks/import.tsv"
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/import_cbioportal.py"


rule import_geo:
    input:
        unpack(geo_inputs),
    output:
        expression="results/{cohort}/input/expression.h5ad",
        clinical="results/{cohort}/input/clinical.tsv",
        report=report(
            "results/{cohort}/input/import.json",
            caption="../report/import.rst",
            category="{cohort}",
            subcategory="0 import",
            labels={"cohort": "{cohort}", "table": "what the import read, dropped and collapsed"},
        ),
        provenance="results/{cohort}/provenance/import.json",
    wildcard_constraints:
        cohort=cohort_pattern(GEO_COHORTS),
    params:
        gene_column=lambda wildcards: cohort_config(wildcards)["geo"].get("gene_column"),
    log:
        "logs/{cohort}/import.log",
    benchmark:
        "results/{cohort}/benchmarks/import.tsv"
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/import_geo.py"

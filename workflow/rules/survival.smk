rule survival:
    input:
        clusters="results/{cohort}/clusters.tsv",
        normalized="results/{cohort}/normalized.h5ad",
    output:
        km_table=report(
            "results/{cohort}/survival/kaplan_meier.tsv",
            caption="../report/kaplan_meier_table.rst",
            category="{cohort}",
            subcategory="5 survival",
            labels={"cohort": "{cohort}", "table": "median survival"},
        ),
        logrank=report(
            "results/{cohort}/survival/logrank.tsv",
            caption="../report/logrank.rst",
            category="{cohort}",
            subcategory="5 survival",
            labels={"cohort": "{cohort}", "table": "log-rank test"},
        ),
        km_plot=report(
            "results/{cohort}/survival/kaplan_meier.png",
            caption="../report/kaplan_meier.rst",
            category="{cohort}",
            subcategory="5 survival",
            labels={"cohort": "{cohort}", "figure": "Kaplan-Meier"},
        ),
    params:
        settings=survival_settings,
    log:
        "logs/{cohort}/survival.log",
    benchmark:
        "results/{cohort}/benchmarks/survival.tsv"
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/survival.py"

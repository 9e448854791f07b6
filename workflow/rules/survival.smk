rule survival:
    input:
        clusters="results/{cohort}/clusters.tsv",
        normalized="results/{cohort}/normalized.h5ad",
    output:
        km_table=survival_output("kaplan_meier.tsv", "kaplan_meier_table.rst", "median survival"),
        logrank=survival_output("logrank.tsv", "logrank.rst", "log-rank test"),
        excluded=survival_output("excluded.tsv", "excluded.rst", "patients left out"),
        pairwise=survival_output("pairwise_logrank.tsv", "pairwise_logrank.rst", "pairwise log-rank"),
        cox_terms=survival_output("cox.tsv", "cox.rst", "Cox hazard ratios"),
        cox_model=survival_output("cox_model.tsv", "cox_model.rst", "Cox model"),
        km_plot=survival_output("kaplan_meier.png", "kaplan_meier.rst", "Kaplan-Meier", "figure"),
        forest_plot=survival_output("cox_forest.png", "cox_forest.rst", "Cox forest plot", "figure"),
        provenance="results/{cohort}/provenance/survival.json",
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

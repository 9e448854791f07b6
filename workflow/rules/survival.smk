rule survival:
    input:
        clusters=result_path("clusters"),
        normalized=result_path("normalized"),
    output:
        km_table=survival_output("km_table", "kaplan_meier_table.rst", "median survival"),
        logrank=survival_output("logrank", "logrank.rst", "log-rank test"),
        excluded=survival_output("excluded", "excluded.rst", "patients left out"),
        pairwise=survival_output("pairwise", "pairwise_logrank.rst", "pairwise log-rank"),
        cox_terms=survival_output("cox_terms", "cox.rst", "Cox hazard ratios"),
        cox_model=survival_output("cox_model", "cox_model.rst", "Cox model"),
        km_plot=survival_output("km_plot", "kaplan_meier.rst", "Kaplan-Meier", "figure"),
        forest_plot=survival_output("forest_plot", "cox_forest.rst", "Cox forest plot", "figure"),
        beyond_target=survival_output("beyond_target", "beyond_target.rst", "survival beyond the target"),
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

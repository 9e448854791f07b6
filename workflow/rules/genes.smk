rule genes:
    input:
        model=result_path("model"),
        normalized=result_path("normalized"),
        clusters=result_path("clusters"),
    output:
        table=report(
            result_path("genes"),
            caption="../report/gene_importance.rst",
            category="{cohort}",
            subcategory="4 genes",
            labels={"cohort": "{cohort}", "table": "gene importance"},
        ),
        plot=report(
            result_path("genes_plot"),
            caption="../report/top_genes.rst",
            category="{cohort}",
            subcategory="4 genes",
            labels={"cohort": "{cohort}", "figure": "top genes"},
        ),
        heatmap=report(
            result_path("genes_heatmap"),
            caption="../report/top_genes_heatmap.rst",
            category="{cohort}",
            subcategory="4 genes",
            labels={"cohort": "{cohort}", "figure": "top genes by cluster"},
        ),
        overlap=report(
            result_path("genes_overlap"),
            caption="../report/genes_overlap.rst",
            category="{cohort}",
            subcategory="4 genes",
            labels={"cohort": "{cohort}", "table": "DeepType vs univariate top genes"},
        ),
        markers=report(
            result_path("markers"),
            caption="../report/markers.rst",
            category="{cohort}",
            subcategory="4 genes",
            labels={"cohort": "{cohort}", "table": "markers per cluster"},
        ),
        markers_plot=report(
            result_path("markers_plot"),
            caption="../report/markers_plot.rst",
            category="{cohort}",
            subcategory="4 genes",
            labels={"cohort": "{cohort}", "figure": "top markers per cluster"},
        ),
        by_view=directory(result_path("genes_by_view")),
        provenance="results/{cohort}/provenance/genes.json",
    params:
        n_top_plot=config["genes"]["n_top_plot"],
        marker_method=config["genes"]["marker_method"],
        target=target_settings,
    log:
        "logs/{cohort}/genes.log",
    benchmark:
        "results/{cohort}/benchmarks/genes.tsv"
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/genes.py"

rule genes:
    input:
        model="results/{cohort}/model",
        normalized="results/{cohort}/normalized.h5ad",
        clusters="results/{cohort}/clusters.tsv",
    output:
        table=report(
            "results/{cohort}/gene_importance.tsv",
            caption="../report/gene_importance.rst",
            category="{cohort}",
            subcategory="4 genes",
            labels={"cohort": "{cohort}", "table": "gene importance"},
        ),
        plot=report(
            "results/{cohort}/plots/top_genes.png",
            caption="../report/top_genes.rst",
            category="{cohort}",
            subcategory="4 genes",
            labels={"cohort": "{cohort}", "figure": "top genes"},
        ),
        heatmap=report(
            "results/{cohort}/plots/top_genes_heatmap.png",
            caption="../report/top_genes_heatmap.rst",
            category="{cohort}",
            subcategory="4 genes",
            labels={"cohort": "{cohort}", "figure": "top genes by cluster"},
        ),
        overlap=report(
            "results/{cohort}/genes_overlap.tsv",
            caption="../report/genes_overlap.rst",
            category="{cohort}",
            subcategory="4 genes",
            labels={"cohort": "{cohort}", "table": "DeepType vs univariate top genes"},
        ),
        by_view=directory("results/{cohort}/genes"),
        provenance="results/{cohort}/provenance/genes.json",
    params:
        n_top_plot=config["genes"]["n_top_plot"],
        target=target_settings,
    log:
        "logs/{cohort}/genes.log",
    benchmark:
        "results/{cohort}/benchmarks/genes.tsv"
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/genes.py"

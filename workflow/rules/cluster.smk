rule cluster:
    input:
        result_path("embedding"),
    output:
        table=report(
            result_path("clusters"),
            caption="../report/clusters.rst",
            category="{cohort}",
            subcategory="3 cluster",
            labels={"cohort": "{cohort}", "table": "clusters"},
        ),
        plot=report(
            result_path("embedding_plot"),
            caption="../report/embedding.rst",
            category="{cohort}",
            subcategory="3 cluster",
            labels={"cohort": "{cohort}", "figure": "representation"},
        ),
        provenance="results/{cohort}/provenance/cluster.json",
    wildcard_constraints:
        cohort=cohort_pattern(DISCOVERY),
    params:
        settings=cluster_settings,
    log:
        "logs/{cohort}/cluster.log",
    benchmark:
        "results/{cohort}/benchmarks/cluster.tsv"
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/cluster.py"

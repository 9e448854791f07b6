rule cluster:
    input:
        "results/{cohort}/embedding.h5ad",
    output:
        report(
            "results/{cohort}/clusters.tsv",
            caption="../report/clusters.rst",
            category="{cohort}",
            subcategory="3 cluster",
            labels={"cohort": "{cohort}", "table": "clusters"},
        ),
    log:
        "logs/{cohort}/cluster.log",
    benchmark:
        "results/{cohort}/benchmarks/cluster.tsv"
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/cluster.py"

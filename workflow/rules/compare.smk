rule compare:
    input:
        unpack(compare_inputs),
    output:
        metrics=compare_output("metrics", "compare_metrics.rst", "methods compared"),
        summary=compare_output("summary", "compare_summary.rst", "methods over seeds"),
        figure=compare_output("figure", "compare_figure.rst", "methods compared", "figure"),
        consensus=compare_output("consensus", "consensus_cdf.rst", "consensus clustering", "figure"),
        provenance="results/{cohort}/provenance/compare.json",
    params:
        settings=compare_settings,
    threads: 2
    resources:
        gpu=uses_gpu,
    log:
        "logs/{cohort}/compare.log",
    benchmark:
        "results/{cohort}/benchmarks/compare.tsv"
    conda:
        training_env
    script:
        "../scripts/compare.py"


rule compare_all:
    input:
        expand("results/{cohort}/compare/summary.tsv", cohort=DISCOVERY),
    output:
        report(
            "results/compare_summary.tsv",
            caption="../report/compare_all.rst",
            category="all cohorts",
            labels={"table": "methods across cohorts"},
        ),
        provenance="results/provenance/compare_all.json",
    params:
        cohorts=DISCOVERY,
    log:
        "logs/compare_all.log",
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/aggregate.py"

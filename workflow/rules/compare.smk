rule compare:
    input:
        unpack(compare_inputs),
    output:
        metrics=compare_output("metrics.tsv", "compare_metrics.rst", "methods compared"),
        figure=compare_output("metrics.png", "compare_figure.rst", "methods compared", "figure"),
        consensus=compare_output("consensus_cdf.png", "consensus_cdf.rst", "consensus clustering", "figure"),
    params:
        settings=compare_settings,
    threads: 2
    log:
        "logs/{cohort}/compare.log",
    benchmark:
        "results/{cohort}/benchmarks/compare.tsv"
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/compare.py"

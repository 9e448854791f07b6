# One table over every cohort, the first thing the report shows (workflow/report/workflow.rst embeds it).


rule summary:
    input:
        [path for cohort in summary_cohorts().values() for path in cohort["files"].values()],
    output:
        table=report(
            "results/summary.tsv",
            caption="../report/summary.rst",
            category="all cohorts",
            labels={"table": "summary of every cohort"},
        ),
        page=report(
            "results/summary.rst",
            caption="../report/summary.rst",
            category="all cohorts",
            labels={"table": "summary of every cohort (the report's first page)"},
        ),
        provenance="results/provenance/summary.json",
    params:
        cohorts=summary_cohorts(),
    log:
        "logs/summary.log",
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/summary.py"

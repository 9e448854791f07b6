# Sweeps: one job per (cohort, alpha, beta, K, seed); summaries per cohort and across cohorts.


rule sweep_run:
    input:
        result_path("normalized"),
    output:
        run=directory(SWEEP_RUN),
        provenance="results/{cohort}/provenance/sweep/a{alpha}_b{beta}_k{k}_s{seed}.json",
    params:
        settings=sweep_run_settings,
    threads: 4
    resources:
        gpu=uses_gpu,
    log:
        "logs/{cohort}/sweep/a{alpha}_b{beta}_k{k}_s{seed}.log",
    benchmark:
        "results/{cohort}/benchmarks/sweep/a{alpha}_b{beta}_k{k}_s{seed}.tsv"
    conda:
        training_env
    script:
        "../scripts/sweep_run.py"


rule sweep_summary:
    input:
        unpack(sweep_runs),
    output:
        runs=report(
            "results/{cohort}/sweep/runs.tsv",
            caption="../report/sweep_runs.rst",
            category="{cohort}",
            subcategory="8 sweep",
            labels={"cohort": "{cohort}", "table": "sweep runs"},
        ),
        summary=report(
            "results/{cohort}/sweep/summary.tsv",
            caption="../report/sweep_summary.rst",
            category="{cohort}",
            subcategory="8 sweep",
            labels={"cohort": "{cohort}", "table": "sweep by setting"},
        ),
        provenance="results/{cohort}/provenance/sweep_summary.json",
    log:
        "logs/{cohort}/sweep_summary.log",
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/sweep_summary.py"


rule sweep_all:
    input:
        expand("results/{cohort}/sweep/summary.tsv", cohort=DISCOVERY),
    output:
        report(
            "results/sweep_summary.tsv",
            caption="../report/sweep_all.rst",
            category="all cohorts",
            labels={"table": "sweeps across cohorts"},
        ),
        provenance="results/provenance/sweep_all.json",
    params:
        cohorts=DISCOVERY,
    log:
        "logs/sweep_all.log",
    conda:
        "../../envs/deepsubtype.yaml"
    script:
        "../scripts/aggregate.py"

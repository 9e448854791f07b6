rule train:
    input:
        result_path("normalized"),
    output:
        model=directory(result_path("model")),
        embedding=result_path("embedding"),
        tuning=report(
            result_path("tuning"),
            caption="../report/tuning.rst",
            category="{cohort}",
            subcategory="2 train",
            labels={"cohort": "{cohort}", "table": "choice of alpha and beta"},
        ),
        k_selection=report(
            result_path("k_selection"),
            caption="../report/k_selection.rst",
            category="{cohort}",
            subcategory="2 train",
            labels={"cohort": "{cohort}", "table": "choice of K"},
        ),
        fits=report(
            result_path("fits"),
            caption="../report/fits.rst",
            category="{cohort}",
            subcategory="2 train",
            labels={"cohort": "{cohort}", "table": "fits and their agreement"},
        ),
        history=report(
            result_path("history"),
            caption="../report/training_history.rst",
            category="{cohort}",
            subcategory="2 train",
            labels={"cohort": "{cohort}", "figure": "training history"},
        ),
        provenance="results/{cohort}/provenance/train.json",
    wildcard_constraints:
        cohort=cohort_pattern(DISCOVERY),
    params:
        settings=train_settings,
        # Training state after pretraining and every round: a run killed mid-way and restarted
        # (`--rerun-incomplete`) resumes from it with the same result. Deliberately not an output,
        # so that Snakemake does not delete it before the rerun; the finished job deletes it
        # (`--delete-all-output` does not).
        checkpoint="results/{cohort}/checkpoints/train.pt",
    threads: 4
    resources:
        gpu=uses_gpu,
    log:
        "logs/{cohort}/train.log",
    benchmark:
        "results/{cohort}/benchmarks/train.tsv"
    conda:
        training_env
    script:
        "../scripts/train.py"

"""Rule sweep_summary: deepsubtype.stages.sweep_summary_stage on the snakemake object."""

from _job import snakemake_job

from deepsubtype.stages import sweep_summary_stage

with snakemake_job(snakemake):
    runs = {name: path for name, path in snakemake.input.items()}
    sweep_summary_stage(runs, snakemake.output.runs, snakemake.output.summary)

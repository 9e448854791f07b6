"""Rule summary: deepsubtype.stages.summary_stage on the snakemake object."""

from deepsubtype.stages import snakemake_job, summary_stage

with snakemake_job(snakemake):
    summary_stage(snakemake.params.cohorts, snakemake.output.table, snakemake.output.page)

"""Rule summary: deepsubtype.stages.summary_stage on the snakemake object."""

from _job import snakemake_job

from deepsubtype.stages import summary_stage

with snakemake_job(snakemake):
    summary_stage(snakemake.params.cohorts, snakemake.output.table, snakemake.output.page)

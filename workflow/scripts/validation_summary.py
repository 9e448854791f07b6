"""Rule validation_summary: deepsubtype.stages.validation_summary_stage on the snakemake object."""

from _job import snakemake_job

from deepsubtype.stages import validation_summary_stage

with snakemake_job(snakemake):
    validation_summary_stage(snakemake.params.pairs, snakemake.params.files, snakemake.output[0])

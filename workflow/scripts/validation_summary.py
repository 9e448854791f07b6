"""Rule validation_summary: deepsubtype.stages.validation_summary_stage on the snakemake object."""

from deepsubtype.stages import snakemake_job, validation_summary_stage

with snakemake_job(snakemake):
    validation_summary_stage(snakemake.params.pairs, snakemake.params.files, snakemake.output[0])

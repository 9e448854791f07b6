"""Rules compare_all and sweep_all: deepsubtype.stages.aggregate_cohorts on the snakemake object."""

from _job import snakemake_job

from deepsubtype.stages import aggregate_cohorts

with snakemake_job(snakemake):
    aggregate_cohorts(dict(zip(snakemake.params.cohorts, snakemake.input, strict=True)), snakemake.output[0])

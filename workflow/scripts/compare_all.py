"""Rule compare_all: deepsubtype.stages.aggregate_comparisons on the snakemake object."""

from deepsubtype.stages import aggregate_comparisons, snakemake_job

with snakemake_job(snakemake):
    aggregate_comparisons(dict(zip(snakemake.params.cohorts, snakemake.input, strict=True)), snakemake.output[0])

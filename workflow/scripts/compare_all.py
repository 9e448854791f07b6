"""Rule compare_all: deepsubtype.stages.aggregate_comparisons on the snakemake object."""

from deepsubtype.stages import aggregate_comparisons, logging_to

with logging_to(snakemake.log[0]):
    aggregate_comparisons(dict(zip(snakemake.params.cohorts, snakemake.input, strict=True)), snakemake.output[0])

"""Rule cluster: deepsubtype.stages.cluster_stage on the snakemake object."""

from deepsubtype.stages import cluster_stage, logging_to

with logging_to(snakemake.log[0]):
    cluster_stage(snakemake.input[0], snakemake.output.table, snakemake.output.plot, **snakemake.params.settings)

"""Rule cluster: deepsubtype.stages.cluster_stage on the snakemake object."""

from deepsubtype.stages import cluster_stage, snakemake_job

with snakemake_job(snakemake):
    cluster_stage(snakemake.input[0], snakemake.output.table, snakemake.output.plot, **snakemake.params.settings)

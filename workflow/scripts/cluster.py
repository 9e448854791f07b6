"""Rule cluster: deepsubtype.stages.cluster_stage on the snakemake object."""

from _job import snakemake_job

from deepsubtype.stages import cluster_stage

with snakemake_job(snakemake):
    cluster_stage(snakemake.input[0], snakemake.output.table, snakemake.output.plot, **snakemake.params.settings)

"""Rule survival: deepsubtype.stages.survival_stage on the snakemake object."""

from deepsubtype.stages import logging_to, survival_stage

with logging_to(snakemake.log[0]):
    survival_stage(snakemake.input.clusters, snakemake.input.normalized, snakemake.output.km_table,
                   snakemake.output.logrank, snakemake.output.km_plot, **snakemake.params.settings)

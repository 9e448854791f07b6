"""Rule normalize: deepsubtype.stages.normalize_stage on the snakemake object."""

from deepsubtype.stages import logging_to, normalize_stage

with logging_to(snakemake.log[0]):
    normalize_stage(snakemake.input.expression, snakemake.input.clinical, snakemake.output[0],
                    **snakemake.params.settings)

"""Rule survival: deepsubtype.stages.survival_stage on the snakemake object."""

from pathlib import Path

from deepsubtype.stages import logging_to, survival_stage

with logging_to(snakemake.log[0]):
    survival_stage(snakemake.input.clusters, snakemake.input.normalized, Path(snakemake.output.km_table).parent,
                   **snakemake.params.settings)

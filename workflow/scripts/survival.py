"""Rule survival: deepsubtype.stages.survival_stage on the snakemake object."""

from pathlib import Path

from _job import snakemake_job

from deepsubtype.stages import survival_stage

with snakemake_job(snakemake):
    survival_stage(snakemake.input.clusters, snakemake.input.normalized, Path(snakemake.output.km_table).parent,
                   **snakemake.params.settings)

"""Rule survival: deepsubtype.stages.survival_stage on the snakemake object."""

from pathlib import Path

from deepsubtype.stages import snakemake_job, survival_stage

with snakemake_job(snakemake):
    survival_stage(snakemake.input.clusters, snakemake.input.normalized, Path(snakemake.output.km_table).parent,
                   **snakemake.params.settings)

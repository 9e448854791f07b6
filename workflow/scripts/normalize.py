"""Rule normalize: deepsubtype.stages.normalize_stage on the snakemake object."""

from deepsubtype.stages import normalize_stage, snakemake_job

with snakemake_job(snakemake):
    normalize_stage(snakemake.input.expression, snakemake.input.clinical, snakemake.output[0],
                    **snakemake.params.settings)

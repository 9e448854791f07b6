"""Rule normalize: deepsubtype.stages.normalize_stage on the snakemake object."""

from _job import snakemake_job

from deepsubtype.stages import normalize_stage

with snakemake_job(snakemake):
    # settings["expression"]: the matrix, or every view's matrix with its settings (the rule's inputs)
    normalize_stage(clinical=snakemake.input.clinical, output=snakemake.output[0], **snakemake.params.settings)

"""Rule validate_permutation: deepsubtype.stages.validation_permutation_stage on the snakemake object."""

import torch
from _job import snakemake_job

from deepsubtype.stages import validation_permutation_stage

torch.set_num_threads(snakemake.threads)
with snakemake_job(snakemake):
    # one raw matrix: every split refits the gene filter and the z-score on it (several views: no refit)
    validation_permutation_stage(snakemake.input.normalized, snakemake.output.table,
                                 expression=snakemake.input.get("view_expression"), clinical=snakemake.input.clinical,
                                 **snakemake.params.settings)

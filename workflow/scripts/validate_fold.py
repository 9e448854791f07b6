"""Rule validate_fold: deepsubtype.stages.validation_fold_stage on the snakemake object."""

import torch
from _job import snakemake_job

from deepsubtype.stages import validation_fold_stage

torch.set_num_threads(snakemake.threads)
with snakemake_job(snakemake):
    # one raw matrix: the fold refits the gene filter and the z-score on it (several views: no refit)
    validation_fold_stage(snakemake.input.normalized, snakemake.output.table,
                          expression=snakemake.input.get("view_expression"), clinical=snakemake.input.clinical,
                          **snakemake.params.settings)

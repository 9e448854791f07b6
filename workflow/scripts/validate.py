"""Rule validate: deepsubtype.stages.validation_stage on the snakemake object."""

from pathlib import Path

import torch
from _job import snakemake_job

from deepsubtype.stages import validation_stage

torch.set_num_threads(snakemake.threads)
with snakemake_job(snakemake):
    # one raw matrix: every fold refits the gene filter and the z-score on it (several views: no refit)
    validation_stage(snakemake.input.normalized, snakemake.input.model, snakemake.input.clusters,
                     Path(snakemake.output.clusters).parent, expression=snakemake.input.get("view_expression"),
                     clinical=snakemake.input.clinical, fold_tables=list(snakemake.input.fold_tables),
                     permutation_tables=list(snakemake.input.permutation_tables),
                     **snakemake.params.settings)

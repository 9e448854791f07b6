"""Rule compare: deepsubtype.stages.compare_stage on the snakemake object."""

from pathlib import Path

import torch
from _job import snakemake_job

from deepsubtype.stages import compare_stage

torch.set_num_threads(snakemake.threads)
with snakemake_job(snakemake):
    compare_stage(snakemake.input.normalized, snakemake.input.embedding, snakemake.input.clusters,
                  snakemake.input.model, Path(snakemake.output.metrics).parent,
                  out_of_fold_methods=snakemake.input.get("out_of_fold_methods"), **snakemake.params.settings)

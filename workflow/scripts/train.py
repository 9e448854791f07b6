"""Rule train: deepsubtype.stages.train_stage on the snakemake object."""

import torch
from _job import snakemake_job

from deepsubtype.stages import train_stage

torch.set_num_threads(snakemake.threads)
with snakemake_job(snakemake):
    train_stage(snakemake.input[0], snakemake.output.model, snakemake.output.embedding, snakemake.output.history,
                snakemake.output.k_selection, snakemake.output.tuning, checkpoint=snakemake.params.checkpoint,
                fits=snakemake.output.fits,
                **snakemake.params.settings)

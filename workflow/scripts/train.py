"""Rule train: deepsubtype.stages.train_stage on the snakemake object."""

import torch

from deepsubtype.stages import logging_to, train_stage

torch.set_num_threads(snakemake.threads)
with logging_to(snakemake.log[0]):
    train_stage(snakemake.input[0], snakemake.output.model, snakemake.output.embedding, snakemake.output.history,
                snakemake.output.k_selection, snakemake.output.tuning, checkpoint=snakemake.params.checkpoint,
                **snakemake.params.settings)

"""Rule validate: deepsubtype.stages.validation_stage on the snakemake object."""

from pathlib import Path

import torch

from deepsubtype.stages import logging_to, validation_stage

torch.set_num_threads(snakemake.threads)
with logging_to(snakemake.log[0]):
    validation_stage(snakemake.input.normalized, snakemake.input.model, snakemake.input.clusters,
                     Path(snakemake.output.clusters).parent, **snakemake.params.settings)

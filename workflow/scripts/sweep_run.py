"""Rule sweep_run: deepsubtype.stages.sweep_run_stage on the snakemake object."""

import torch
from _job import snakemake_job

from deepsubtype.stages import sweep_run_stage

torch.set_num_threads(snakemake.threads)
with snakemake_job(snakemake):
    sweep_run_stage(snakemake.input[0], snakemake.output.run, **snakemake.params.settings)

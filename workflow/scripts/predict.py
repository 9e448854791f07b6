"""Rule predict: deepsubtype.stages.predict_stage on the snakemake object."""

from pathlib import Path

from _job import snakemake_job

from deepsubtype.stages import predict_stage

with snakemake_job(snakemake):
    predict_stage(snakemake.input.model, snakemake.input.training, snakemake.input.expression,
                  Path(snakemake.output.clusters).parent, clinical=snakemake.input.clinical,
                  **snakemake.params.settings)

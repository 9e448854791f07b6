"""Rule export_mudata: deepsubtype.stages.export_mudata_stage on the snakemake object."""

from _job import snakemake_job

from deepsubtype.stages import export_mudata_stage

with snakemake_job(snakemake):
    export_mudata_stage(snakemake.input[0], snakemake.output[0])

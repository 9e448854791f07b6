"""Rule import_geo: deepsubtype.stages.import_geo_stage on the snakemake object."""

from _job import snakemake_job

from deepsubtype.stages import import_geo_stage

with snakemake_job(snakemake):
    import_geo_stage(snakemake.input.series_matrix, snakemake.output.expression, snakemake.output.clinical,
                     snakemake.output.report, platform=snakemake.input.get("platform"),
                     gene_column=snakemake.params.gene_column)

"""Rule genes: deepsubtype.stages.genes_stage on the snakemake object."""

from _job import snakemake_job

from deepsubtype.stages import genes_stage

with snakemake_job(snakemake):
    genes_stage(snakemake.input.model, snakemake.output.table, snakemake.output.plot, snakemake.output.heatmap,
                normalized=snakemake.input.normalized, clusters=snakemake.input.clusters,
                n_top_plot=snakemake.params.n_top_plot, by_view=snakemake.output.by_view,
                overlap=snakemake.output.overlap, markers=snakemake.output.markers,
                markers_plot=snakemake.output.markers_plot, marker_method=snakemake.params.marker_method,
                **snakemake.params.target)

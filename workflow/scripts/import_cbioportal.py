"""Rule import_cbioportal: deepsubtype.stages.import_cbioportal_stage on the snakemake object."""

from _job import snakemake_job

from deepsubtype.stages import import_cbioportal_stage

with snakemake_job(snakemake):
    study = snakemake.params.study
    import_cbioportal_stage(study["study"], snakemake.output.expression, snakemake.output.clinical,
                            snakemake.output.report, profile=study.get("profile"), case_list=study.get("case_list"),
                            event_column=snakemake.params.event)

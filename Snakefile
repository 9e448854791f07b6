# deepsubtype's entry point: the workflow is defined in workflow/Snakefile (the layout the Snakemake
# workflow catalog expects); this file lets `snakemake --cores 4` run it from the repository root, with
# that file's default target (a plain `include:` would keep this file's, and it has none).
workflow.include("workflow/Snakefile", overwrite_default_target=True)

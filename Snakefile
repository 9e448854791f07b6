# deepsubtype: cancer subtypes with DeepType, from expression matrices to survival by subtype.
# Run from the repository root:  snakemake --cores 4   (see README.md)
from snakemake.utils import min_version

min_version("9.0")


# The default run is the bundled demo cohort. `--configfile my.yaml` replaces it entirely
# (not merged), so a user's config never inherits the demo's cohorts; `--config key=value`
# overrides single keys of whichever config is in use.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/normalize.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/cluster.smk"
include: "workflow/rules/genes.smk"
include: "workflow/rules/survival.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/sweep.smk"
include: "workflow/rules/predict.smk"


rule all:
    default_target: True
    input:
        all_outputs(),

# Config validation, per-cohort settings and input functions shared by every rule.
import os
import re
import sys
from pathlib import Path

from snakemake.utils import validate

# This process imports the library from this checkout. Snakemake appends its own sys.path to every
# script's, so the scripts import this checkout's library too unless another deepsubtype is installed in
# their environment; then snakemake_job refuses to run (set PYTHONPATH=src or pip install -e . to fix).
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

# Jobs inherit this process's environment. Snakemake sets a job's OMP_NUM_THREADS (and the BLAS libraries')
# to its threads; this makes those threads sleep rather than spin while they wait, so that a job sharing its
# cores with others does not take them from them (benchmarks/shared_node.py, benchmarks/RESULTS.md). A value
# already set, the user's, is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from deepsubtype.errors import InputError
from deepsubtype.outputs import (COHORT_FILES, COMPARE_DIR, COMPARE_FILES, IMPORT_FILES, PREDICT_FILES, SUMMARY_FILES,
                                 SURVIVAL_DIR, SURVIVAL_FILES, VALIDATION_DIR, VALIDATION_FILES, VALIDATION_FOLD_FILE,
                                 VALIDATION_PERMUTATION_FILE)
from deepsubtype.schema import CONFIG_SCHEMA, check_config, check_config_files, config_mistakes_exit

# One line, no traceback (config_mistakes_exit), for a key written twice in a config file (YAML keeps its last
# value silently), a config the schema refuses, and every other config mistake found while the workflow
# parses; then Snakemake's validate fills in the defaults.
with config_mistakes_exit():
    check_config_files(workflow.configfiles)
    check_config(config)
validate(config, schema=str(CONFIG_SCHEMA))

COHORTS = sorted(config["cohorts"])


def result_path(role, cohort="{cohort}"):
    """A discovery cohort's file of role `role` (COHORT_FILES) under results/; a wildcard unless `cohort` is given."""
    return f"results/{cohort}/{COHORT_FILES[role]}"


def multi_view(name):
    """Whether the cohort has several views: `views`, or a `mudata` file of several modalities (a file that
    cannot be read counts as one: its normalize job stops with the reason)."""
    from deepsubtype.h5mu import modalities

    cohort = config["cohorts"][name]
    if "mudata" in cohort and Path(cohort["mudata"]).is_file():
        try:
            return len(modalities(cohort["mudata"])) > 1
        except InputError:
            return False
    return "views" in cohort


def check_model_from():
    """A cohort with `model_from` names another cohort of the config that trains its own model (no
    `model_from` itself); neither may have several views (not supported for transfer)."""
    for name, cohort in config["cohorts"].items():
        source = cohort.get("model_from")
        if source is None:
            continue
        where = f"config: cohort {name}: model_from {source!r}"
        if source == name:
            raise InputError(f"{where}: a cohort cannot take its model from itself")
        if source not in config["cohorts"]:
            raise InputError(f"{where} is not a cohort of the config (cohorts: {', '.join(COHORTS)})")
        if "model_from" in config["cohorts"][source]:
            raise InputError(f"{where} takes its own model from {config['cohorts'][source]['model_from']!r}; "
                             "name the cohort that trains the model")
        for cohort_name in (name, source):
            if multi_view(cohort_name):
                raise InputError(f"{where}: cohort {cohort_name} has several views; applying a model to a new "
                                 "cohort supports single-matrix cohorts only")


def check_studies():
    """A cBioPortal cohort's profile and case list are in its study folder (one downloaded already: a folder
    not there yet is named by its import job), so that the import's input function cannot fail."""
    from deepsubtype.cbioportal import study_files

    for name, cohort in config["cohorts"].items():
        study = cohort.get("cbioportal")
        if study is not None and Path(study["study"]).is_dir():
            study_files(study["study"], study.get("profile"), study.get("case_list"))


with config_mistakes_exit():
    check_model_from()
    check_studies()

#: Cohorts that train their own model, and cohorts that apply another cohort's (`model_from`).
DISCOVERY = [cohort for cohort in COHORTS if "model_from" not in config["cohorts"][cohort]]
VALIDATION = [cohort for cohort in COHORTS if "model_from" in config["cohorts"][cohort]]
#: Cohorts read from a cBioPortal study folder or a GEO series matrix (an import rule writes their matrix and
#: clinical table).
CBIOPORTAL_COHORTS = [cohort for cohort in COHORTS if "cbioportal" in config["cohorts"][cohort]]
GEO_COHORTS = [cohort for cohort in COHORTS if "geo" in config["cohorts"][cohort]]
#: Cohorts of several views (or one read from a .h5mu file), whose normalized matrix is also written as MuData.
MUDATA_COHORTS = [cohort for cohort in DISCOVERY if multi_view(cohort) or "mudata" in config["cohorts"][cohort]]


def cohort_pattern(names):
    """A wildcard constraint matching exactly `names` (none: matching nothing)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


wildcard_constraints:
    cohort="|".join(COHORTS),
    alpha=r"[0-9.e+-]+",
    beta=r"[0-9.e+-]+",
    k=r"[0-9]+",
    seed=r"[0-9]+",


def cohort_config(wildcards):
    """The cohort's block of the config."""
    return config["cohorts"][wildcards.cohort]


def section(cohort, name):
    """Global `name` settings (normalize, model, ...) overlaid with the cohort's own."""
    return {**config[name], **config["cohorts"][cohort].get(name, {})}


def cohort_files(name):
    """The cohort's expression matrix and clinical table: its own files, or what the import rule writes from
    its cBioPortal study or GEO series matrix (a samples x genes .h5ad and a clinical table keyed by its first
    column); a mudata cohort's .h5mu file is both unless it names its own clinical table."""
    cohort = config["cohorts"][name]
    if "cbioportal" in cohort or "geo" in cohort:
        return {role: f"results/{name}/{IMPORT_FILES[role]}" for role in ("expression", "clinical")}
    if "mudata" in cohort:  # every modality a view (the normalize stage reads them); clinical: its global obs
        return {"expression": cohort["mudata"], "clinical": cohort.get("clinical", cohort["mudata"])}
    return {"expression": cohort.get("expression"), "clinical": cohort["clinical"]}


def cohort_layout(name):
    """(orientation, sample_column) of the cohort's files as :func:`cohort_files` names them."""
    cohort = config["cohorts"][name]
    if "cbioportal" in cohort or "geo" in cohort:
        return "samples_x_genes", None
    if "mudata" in cohort:
        return "samples_x_genes", cohort.get("sample_column")
    return cohort["orientation"], cohort.get("sample_column")


def study_inputs(wildcards):
    """Every file of the cohort's study the import reads: the profile's meta and data files, the clinical
    attribute files and the case list."""
    from deepsubtype.cbioportal import study_files

    study = cohort_config(wildcards)["cbioportal"]
    if not Path(study["study"]).is_dir():  # not downloaded yet: Snakemake names the missing folder's meta file
        return [str(Path(study["study"]) / "meta_study.txt")]
    return [str(path) for path in study_files(study["study"], study.get("profile"), study.get("case_list"))]


def geo_inputs(wildcards):
    """The cohort's series matrix and, when given, its platform table."""
    geo = cohort_config(wildcards)["geo"]
    return {"series_matrix": geo["series_matrix"], **({"platform": geo["platform"]} if geo.get("platform") else {})}


def normalize_inputs(wildcards):
    cohort = cohort_config(wildcards)
    files = cohort_files(wildcards.cohort)
    views = cohort.get("views", {"expression": files})
    return {"clinical": files["clinical"], **{f"view_{name}": view["expression"] for name, view in views.items()}}


def normalize_settings(wildcards):
    cohort = cohort_config(wildcards)
    if "views" in cohort:
        expression = {
            name: {
                "path": view["expression"],
                "orientation": view.get("orientation", "samples_x_genes"),
                **({"modality": view["modality"]} if "modality" in view else {}),
                **view.get("normalize", {}),
            }
            for name, view in cohort["views"].items()
        }
    else:
        expression = cohort_files(wildcards.cohort)["expression"]
    survival = cohort.get("survival", {})
    orientation, sample_column = cohort_layout(wildcards.cohort)
    return {
        "expression": expression,
        "orientation": orientation,
        "sample_column": sample_column,
        "missing_views": cohort["missing_views"],
        # checked before training, naming the clinical file
        "target": cohort.get("target"),
        "time_column": survival.get("time"),
        "event_column": survival.get("event"),
        "covariates": survival.get("covariates", []),
        "survival_invalid": survival.get("invalid", "fail"),
        **section(wildcards.cohort, "normalize"),
    }


def model_settings(cohort):
    """The cohort's model section; with views that set their own alpha, alpha becomes one per view."""
    model = section(cohort, "model")
    views = config["cohorts"][cohort].get("views", {})
    if any("alpha" in view for view in views.values()):
        model["alpha"] = [view.get("alpha", model["alpha"]) for view in views.values()]
    return model


def train_settings(wildcards):
    cohort = cohort_config(wildcards)
    survival = cohort.get("survival", {})
    return {
        "task": cohort["task"],
        "target": cohort.get("target"),
        "time_column": survival.get("time"),
        "event_column": survival.get("event"),
        "model_params": model_settings(wildcards.cohort),
        "seed": config["seed"],
        "device": config["device"],
        "tuning_grid": config["tuning"],
    }


def target_settings(wildcards):
    """The primary task and its target columns, for the univariate gene ranking."""
    training = train_settings(wildcards)
    return {key: training[key] for key in ("task", "target", "time_column", "event_column")}


def survival_settings(wildcards):
    cohort = cohort_config(wildcards)
    survival = cohort["survival"]
    # a model_from cohort's clusters come from its training cohort's task; its target is its own column
    trained = config["cohorts"][cohort["model_from"]] if "model_from" in cohort else cohort
    return {
        "time_column": survival["time"],
        "event_column": survival["event"],
        "time_unit": survival["unit"],
        "covariates": survival["covariates"],
        "adjustment": survival["adjustment"],
        "horizon": survival.get("horizon"),
        "min_cluster_size": survival["min_cluster_size"],
        "task": trained.get("task", "classification"),
        "target": cohort.get("target"),
        # only a cohort's own survival-trained model saw its outcomes; a model_from cohort's never did
        "outcome_trained": cohort.get("task") == "survival" and "model_from" not in cohort,
    }


def survival_output(role, caption, label, kind="table"):
    """A survival output (SURVIVAL_FILES[role]), marked for the report."""
    return report(
        f"results/{{cohort}}/{SURVIVAL_DIR}/{SURVIVAL_FILES[role]}",
        caption=f"../report/{caption}",
        category="{cohort}",
        subcategory="5 survival",
        labels={"cohort": "{cohort}", kind: label},
    )


def cluster_settings(wildcards):
    cohort = cohort_config(wildcards)
    return {"label_column": cohort.get("target"), "method": config["plots"]["embedding"], "seed": config["seed"]}


def validation_output(role, caption, label, kind="table"):
    """An out-of-fold validation output (VALIDATION_FILES[role]), marked for the report."""
    return report(
        f"results/{{cohort}}/{VALIDATION_DIR}/{VALIDATION_FILES[role]}",
        caption=f"../report/{caption}",
        category="{cohort}",
        subcategory="6 out-of-fold validation",
        labels={"cohort": "{cohort}", kind: label},
    )


def validation_settings(wildcards):
    survival = survival_settings(wildcards)
    training = train_settings(wildcards)
    return {
        "task": training["task"],
        "target": training["target"],
        "time_column": survival["time_column"],
        "event_column": survival["event_column"],
        "time_unit": survival["time_unit"],
        "covariates": survival["covariates"],
        "min_cluster_size": survival["min_cluster_size"],
        "folds": config["validation"]["folds"],
        "repeats": config["validation"]["repeats"],
        "n_fits": config["validation"]["n_fits"],
        "permutations": config["validation"]["permutations"],
        "seed": config["seed"],
        "device": config["device"],
        "orientation": cohort_layout(wildcards.cohort)[0],
        "sample_column": cohort_layout(wildcards.cohort)[1],
    }


def validation_procedure_settings(wildcards):
    """What a validation refit job (validate_fold, validate_permutation) fits: the train rule's procedure and the
    splits, the raw matrix's layout."""
    validation = validation_settings(wildcards)
    training = train_settings(wildcards)
    return {
        **{key: validation[key] for key in ("task", "target", "time_column", "event_column", "folds", "repeats",
                                            "n_fits", "seed", "device", "orientation", "sample_column")},
        "model_params": training["model_params"],
        "tuning_grid": training["tuning_grid"],
    }


def validation_fold_settings(wildcards):
    """The validate_fold job's settings: the procedure and its split."""
    return {**validation_procedure_settings(wildcards), "repeat": int(wildcards.repeat), "fold": int(wildcards.fold)}


def fold_tables(wildcards):
    """Every split's validate_fold table of the cohort, in (repeat, fold) order."""
    validation = config["validation"]
    return [f"results/{wildcards.cohort}/{VALIDATION_FOLD_FILE.format(repeat=repeat, fold=fold)}"
            for repeat in range(validation["repeats"]) for fold in range(validation["folds"])]


def refitted_permutations(cohort):
    """The permutations of the calibrated out-of-fold test that refit every fold: a procedure that learns from
    survival (task survival) only; the others' permutations hold their clusters fixed, inside validate."""
    return config["validation"]["permutations"] if config["cohorts"][cohort]["task"] == "survival" else 0


def permutation_tables(wildcards):
    """Every validate_permutation table of the cohort, in permutation order (none for clusters made without
    survival)."""
    return [f"results/{wildcards.cohort}/{VALIDATION_PERMUTATION_FILE.format(permutation=permutation)}"
            for permutation in range(1, refitted_permutations(wildcards.cohort) + 1)]


def validation_permutation_settings(wildcards):
    """The validate_permutation job's settings: validate_fold's procedure, every split, one permutation."""
    return {**validation_procedure_settings(wildcards), "permutation": int(wildcards.permutation)}


def validation_enabled(cohort):
    return (cohort in DISCOVERY and "survival" in config["cohorts"][cohort]
            and config["validation"]["folds"] >= 2)


def compare_inputs(wildcards):
    inputs = {
        "normalized": result_path("normalized", wildcards.cohort),
        "embedding": result_path("embedding", wildcards.cohort),
        "clusters": result_path("clusters", wildcards.cohort),
        "model": result_path("model", wildcards.cohort),
    }
    if validation_enabled(wildcards.cohort):
        inputs["out_of_fold_methods"] = f"results/{wildcards.cohort}/{VALIDATION_DIR}/{VALIDATION_FILES['methods']}"
    return inputs


def compare_settings(wildcards):
    cohort = cohort_config(wildcards)
    survival = cohort.get("survival", {})
    return {
        "task": cohort["task"],
        "target": cohort.get("target"),
        "time_column": survival.get("time"),
        "event_column": survival.get("event"),
        "seed": config["seed"],
        "extra_seeds": config["compare"]["extra_seeds"],
        "device": config["device"],
    }


def compare_output(role, caption, label, kind="table"):
    """A comparison output (COMPARE_FILES[role]), marked for the report."""
    return report(
        f"results/{{cohort}}/{COMPARE_DIR}/{COMPARE_FILES[role]}",
        caption=f"../report/{caption}",
        category="{cohort}",
        subcategory="7 compare",
        labels={"cohort": "{cohort}", kind: label},
    )


def uses_gpu(wildcards):
    return 1 if str(config["device"]).startswith("cuda") else 0


def training_env(wildcards):
    return "../../envs/deepsubtype-gpu.yaml" if uses_gpu(wildcards) else "../../envs/deepsubtype.yaml"


def sweep_enabled():
    return any(config["sweep"][key] for key in ("alphas", "betas", "n_clusters", "seeds"))


def sweep_grid(cohort):
    """(alpha, beta, K, seed) wildcard values of every sweep run of `cohort`, formatted as in the paths."""
    model = section(cohort, "model")
    axes = {}
    for key, grid_key, setting in (
        ("alpha", "alphas", "alpha"),
        ("beta", "betas", "beta"),
        ("k", "n_clusters", "n_clusters"),
        ("seed", "seeds", None),
    ):
        fallback = config["seed"] if setting is None else model[setting]  # not auto: check_config
        values = config["sweep"][grid_key] or [fallback]
        axes[key] = [f"{value:g}" if key in ("alpha", "beta") else str(value) for value in values]
    return [
        dict(alpha=a, beta=b, k=k, seed=s)
        for a in axes["alpha"]
        for b in axes["beta"]
        for k in axes["k"]
        for s in axes["seed"]
    ]


SWEEP_RUN = "results/{cohort}/sweep/a{alpha}_b{beta}_k{k}_s{seed}"


def sweep_runs(wildcards):
    """Run directories of the cohort's sweep, keyed by run name."""
    runs = [SWEEP_RUN.format(cohort=wildcards.cohort, **run) for run in sweep_grid(wildcards.cohort)]
    return {Path(run).name: run for run in runs}


def sweep_run_settings(wildcards):
    settings = train_settings(wildcards)
    del settings["tuning_grid"]
    return {
        **settings,
        "alpha": float(wildcards.alpha),
        "beta": float(wildcards.beta),
        "n_clusters": int(wildcards.k),
        "seed": int(wildcards.seed),
    }


def predict_inputs(wildcards):
    cohort = cohort_config(wildcards)
    source = cohort["model_from"]
    return {"model": result_path("model", source), "training": result_path("normalized", source),
            **cohort_files(wildcards.cohort)}


def predict_settings(wildcards):
    cohort = cohort_config(wildcards)
    normalize = section(wildcards.cohort, "normalize")
    return {
        "orientation": cohort_layout(wildcards.cohort)[0],
        "sample_column": cohort_layout(wildcards.cohort)[1],
        "scale": normalize["scale"],
        "missing": normalize["missing"],
        "target": cohort.get("target"),
        # checked as the normalize rule checks them
        "time_column": cohort.get("survival", {}).get("time"),
        "event_column": cohort.get("survival", {}).get("event"),
        "covariates": cohort.get("survival", {}).get("covariates", []),
        "survival_invalid": cohort.get("survival", {}).get("invalid", "fail"),
        **section(wildcards.cohort, "predict"),
    }


def predict_output(role, caption, label):
    """A predict output (PREDICT_FILES[role]), marked for the report."""
    return report(
        f"results/{{cohort}}/{PREDICT_FILES[role]}",
        caption=f"../report/{caption}",
        category="{cohort}",
        subcategory="1 predict",
        labels={"cohort": "{cohort}", "table": label},
    )


def validation_summary_inputs(wildcards):
    """Per validation cohort and its training cohort: the tables validation_summary.tsv is made of, keyed
    `{cohort}/{table}` and `{cohort}/training/{table}`."""
    inputs = {}
    for cohort in VALIDATION:
        source = config["cohorts"][cohort]["model_from"]
        for table in ("overlap", "agreement"):
            inputs[f"{cohort}/{table}"] = f"results/{cohort}/{PREDICT_FILES[table]}"
        for name, role in ((cohort, cohort), (source, f"{cohort}/training")):
            inputs[f"{role}/clusters"] = f"results/{name}/{SUMMARY_FILES['clusters']}"
            if "survival" in config["cohorts"][name]:
                inputs[f"{role}/logrank"] = f"results/{name}/{SURVIVAL_DIR}/{SURVIVAL_FILES['logrank']}"
                inputs[f"{role}/cox"] = f"results/{name}/{SURVIVAL_DIR}/{SURVIVAL_FILES['cox_terms']}"
    return inputs


def summary_files(cohort):
    """The result tables of one cohort that results/summary.tsv reads, by role (see cohort_summary)."""
    roles = ["clusters"]
    if "survival" in config["cohorts"][cohort]:
        roles += ["logrank", "cox_model", "beyond_target"]
    if validation_enabled(cohort):
        roles += ["oof_logrank", "oof_test", "oof_methods"]
    if cohort in DISCOVERY:
        roles += ["genes", "markers", "compare"] if config["compare"]["run"] else ["genes", "markers"]
    return {role: f"results/{cohort}/{SUMMARY_FILES[role]}" for role in roles}


def summary_cohorts():
    """Every cohort's summary_files, primary task and (model_from cohorts) the cohort it takes its model from."""
    return {cohort: {"files": summary_files(cohort), "task": config["cohorts"][cohort].get("task", "classification"),
                     "trained_on": config["cohorts"][cohort].get("model_from")} for cohort in COHORTS}


def all_outputs():
    outputs = ["results/summary.tsv"]
    for cohort in VALIDATION:
        outputs += [f"results/{cohort}/{name}" for name in PREDICT_FILES.values()]
        if "survival" in config["cohorts"][cohort]:
            outputs += [f"results/{cohort}/{SURVIVAL_DIR}/{name}" for name in SURVIVAL_FILES.values()]
    if VALIDATION:
        outputs.append("results/validation_summary.tsv")
    for cohort in DISCOVERY:
        outputs += [result_path(role, cohort) for role in COHORT_FILES]
        if cohort in MUDATA_COHORTS:
            outputs.append(f"results/{cohort}/normalized.h5mu")
        if "survival" in config["cohorts"][cohort]:
            outputs += [f"results/{cohort}/{SURVIVAL_DIR}/{name}" for name in SURVIVAL_FILES.values()]
            if validation_enabled(cohort):
                outputs += [f"results/{cohort}/{VALIDATION_DIR}/{name}" for name in VALIDATION_FILES.values()]
        if config["compare"]["run"]:
            outputs += [f"results/{cohort}/{COMPARE_DIR}/{name}" for name in COMPARE_FILES.values()]
        if sweep_enabled():
            outputs += [f"results/{cohort}/sweep/runs.tsv", f"results/{cohort}/sweep/summary.tsv"]
    if config["compare"]["run"]:
        outputs.append("results/compare_summary.tsv")
    if sweep_enabled():
        outputs.append("results/sweep_summary.tsv")
    return outputs

"""Shared fixtures: a tiny synthetic cohort written the way users supply theirs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Under pytest-xdist (``make test`` runs one worker per core) each worker, and each Snakemake job it starts,
#: computes on one thread: two workers' thread pools on the same cores spin against each other (the unit tests
#: took 10 minutes instead of 2 that way). Set before numpy and torch are imported, which read it once.
ONE_THREAD_PER_WORKER = "PYTEST_XDIST_WORKER" in os.environ
if ONE_THREAD_PER_WORKER:
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    # a job that asks for more threads (the SLURM profile's train: 4) sleeps its idle OpenMP threads instead of
    # spinning them on cores the other worker is using
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: A small study folder in cBioPortal's format, with the format's quirks (see its README.md).
CBIOPORTAL_STUDY = REPO / "tests" / "data" / "cbioportal_tiny"
#: A small GEO series matrix and its platform table, with the format's quirks (see its README.md).
GEO_SERIES = REPO / "tests" / "data" / "geo_tiny"


def snakemake_command(*arguments: str, workdir: Path | None = None, configfile: Path | None = None) -> list[str]:
    """The command line of Snakemake (this interpreter's) with ``arguments``; with ``workdir``, this checkout's
    workflow run in that directory with ``configfile`` (default ``workdir/config.yaml``)."""
    # a tiny cohort's fold fit is too small to use 2 threads: at 1 thread two validate_fold jobs share the 2 cores
    command = [sys.executable, "-m", "snakemake", "--set-threads", "validate_fold=1"]
    if ONE_THREAD_PER_WORKER:  # jobs call torch.set_num_threads(threads): one each, as their worker
        command += ["--max-threads", "1"]
    if workdir is not None:
        command += ["--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile",
                    str(configfile or workdir / "config.yaml")]
    return [*command, *arguments]


def snakemake(*arguments: str, workdir: Path | None = None, configfile: Path | None = None,
              cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run :func:`snakemake_command` from ``cwd``: warnings off, output captured, never raising (the caller
    checks ``returncode``)."""
    return subprocess.run(snakemake_command(*arguments, workdir=workdir, configfile=configfile), cwd=cwd,
                          capture_output=True, text=True, check=False, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def snakemake_in(workdir: Path, config: dict, *targets: str) -> subprocess.CompletedProcess[str]:
    """Write ``config`` to ``workdir/config.yaml`` (key order kept) and run this checkout's workflow there on 2
    cores for ``targets``."""
    import yaml

    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return snakemake("--cores", "2", *targets, workdir=workdir)


#: The three views of the multi-view tests: (name, width); only the first carries the groups.
VIEWS = (("signal", 30), ("noise_b", 20), ("noise_c", 25))


def three_views(n: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Views of 30, 20 and 25 features; only the first carries the 3 groups (features 0-11)."""
    rng = np.random.default_rng(seed)
    groups = np.arange(n) % 3
    signal = rng.normal(size=(n, 30))
    for group in range(3):
        signal[groups == group, group * 4:(group + 1) * 4] += 2.5
    X = np.hstack([signal, rng.normal(size=(n, 20)), rng.normal(size=(n, 25))]).astype(np.float32)
    return X, groups


def write_three_views(directory: Path) -> dict[str, dict[str, object]]:
    """:func:`three_views` of 60 patients as one TSV per view (noise_b lacks eight patients) and a clinical
    table (group, time, event); returns each view's ``{"path": ...}``."""
    X, groups = three_views(n=60)
    samples = [f"P{i:03d}" for i in range(60)]
    specs = {}
    for (name, size), start in zip(VIEWS, (0, 30, 50), strict=True):
        frame = pd.DataFrame(X[:, start:start + size], index=pd.Index(samples, name="sample"),
                             columns=[f"{name}_{j}" for j in range(size)])
        if name == "noise_b":
            frame = frame.iloc[8:]  # eight patients without this view
        frame.to_csv(directory / f"{name}.tsv", sep="\t")
        specs[name] = {"path": str(directory / f"{name}.tsv")}
    rng = np.random.default_rng(3)
    pd.DataFrame({"sample": samples, "group": [f"g{g}" for g in groups],
                  "time": rng.exponential(30, 60).round(1), "event": rng.integers(0, 2, 60)}).to_csv(
        directory / "clinical.tsv", sep="\t", index=False)
    return specs


def write_h5mu(directory: Path, obs: bool = True) -> tuple[Path, dict[str, dict[str, object]]]:
    """The three views of :func:`write_three_views` (noise_b lacks eight patients) as one .h5mu, the clinical
    table as its global obs; also returns the same views as text files."""
    import anndata as ad
    import mudata

    specs = write_three_views(directory)
    parts = {}
    for name, _ in VIEWS:
        frame = pd.read_csv(specs[name]["path"], sep="\t", index_col=0)
        parts[name] = ad.AnnData(frame.to_numpy(np.float32), obs=pd.DataFrame(index=frame.index.astype(str)),
                                 var=pd.DataFrame(index=frame.columns))
    with mudata.set_options(pull_on_update=False):
        data = mudata.MuData(parts)
        if obs:
            clinical = pd.read_csv(directory / "clinical.tsv", sep="\t", index_col=0)
            data.obs = clinical.loc[data.obs_names]
        data.write_h5mu(directory / "cohort.h5mu")
    return directory / "cohort.h5mu", specs


def separated_classes(n_samples: int, n_classes: int, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_samples`` x 20 z-scored features of which the first 5 are informative, ``n_classes`` well-separated
    classes (scikit-learn's ``make_classification``, unshuffled)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n_samples, n_features=20, n_informative=5, n_redundant=0, n_repeated=0,
                               n_classes=n_classes, n_clusters_per_class=1, class_sep=3.0, shuffle=False,
                               random_state=random_state)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), y


def make_cohort(n_samples: int = 60, n_genes: int = 120, n_groups: int = 3, n_informative: int = 10,
                seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Samples x genes log-scale expression with ``n_groups`` groups, each raising its own
    ``n_informative`` genes, and a clinical table: ``subtype`` label (2 missing), survival
    ``time`` (months, shorter for higher groups) and ``event``, ``age``.
    """
    rng = np.random.default_rng(seed)
    groups = np.arange(n_samples) % n_groups
    values = rng.normal(6.0, 1.0, size=(n_samples, n_genes))
    for group in range(n_groups):
        genes = slice(group * n_informative, (group + 1) * n_informative)
        values[groups == group, genes] += 3.0
    samples = [f"P{i:03d}" for i in range(n_samples)]
    genes = [f"G{j:04d}" for j in range(n_genes)]
    expression = pd.DataFrame(values, index=pd.Index(samples, name="sample"), columns=genes)
    labels = np.array([f"type_{g}" for g in groups], dtype=object)
    labels[[1, 5]] = None
    time = rng.exponential(40.0 / (1 + 1.5 * groups)).round(1)
    clinical = pd.DataFrame({
        "sample": samples,
        "subtype": labels,
        "time": time,
        "event": (rng.random(n_samples) < 0.7).astype(int),
        "age": rng.integers(35, 80, n_samples),
    })
    return expression, clinical


@pytest.fixture
def cohort() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_cohort()


@pytest.fixture
def cohort_files(tmp_path: Path, cohort: tuple[pd.DataFrame, pd.DataFrame]) -> dict[str, Path]:
    """The tiny cohort as ``expression.tsv.gz`` (samples x genes) and ``clinical.tsv``."""
    expression, clinical = cohort
    paths = {"expression": tmp_path / "expression.tsv.gz", "clinical": tmp_path / "clinical.tsv"}
    expression.to_csv(paths["expression"], sep="\t")
    clinical.to_csv(paths["clinical"], sep="\t", index=False, na_rep="NA")
    return paths


def write_tiny_cohort(workdir: Path) -> dict:
    """:func:`make_cohort` as a user supplies it, under ``workdir/data``: ``expression.csv`` genes x samples
    (comma separated) and ``clinical.tsv``; returns the cohort's config entry (paths relative to ``workdir``)."""
    expression, clinical = make_cohort()
    (workdir / "data").mkdir()
    expression.T.to_csv(workdir / "data" / "expression.csv")
    clinical.to_csv(workdir / "data" / "clinical.tsv", sep="\t", index=False, na_rep="NA")
    return {
        "expression": "data/expression.csv", "orientation": "genes_x_samples",
        "clinical": "data/clinical.tsv", "sample_column": "sample",
        "task": "classification", "target": "subtype",
        "survival": {"time": "time", "event": "event", "unit": "months", "covariates": ["age"]},
    }


#: Small, fast DeepType settings for tests (seconds on 2 CPU cores).
FAST_MODEL = {
    "hidden_layers": [32, 16],
    "alpha": 0.002,
    "alpha_ramp_steps": 50,
    "beta": 1.2,
    "n_clusters": 3,
    "learning_rate": 0.005,
    "batch_size": 32,
    "pretrain_steps": 300,
    "joint_steps": 30,
    "max_rounds": 5,
    "tol": 0.0,
    "kmeans_n_init": 5,
}


def write_model_from_cohorts(workdir: Path, **validation_cohort) -> Path:
    """Two generated cohorts under ``workdir/data``: ``tiny`` (60 patients) trains, ``tiny_new`` (48 other
    patients, genes in another order) takes its model (``model_from``; ``validation_cohort`` added to its
    entry); returns the written ``workdir/config.yaml``."""
    expression, clinical = make_cohort(n_samples=60, seed=0)
    new_expression, new_clinical = make_cohort(n_samples=48, seed=5)
    new_expression.index = pd.Index([f"N{i:03d}" for i in range(48)], name="sample")
    new_clinical["sample"] = new_expression.index
    (workdir / "data").mkdir(exist_ok=True)
    expression.to_csv(workdir / "data/expression.tsv", sep="\t")
    clinical.to_csv(workdir / "data/clinical.tsv", sep="\t", index=False, na_rep="NA")
    new_expression.iloc[:, ::-1].to_csv(workdir / "data/new.tsv", sep="\t")  # genes in another order
    new_clinical.to_csv(workdir / "data/new_clinical.tsv", sep="\t", index=False, na_rep="NA")
    survival = {"time": "time", "event": "event", "unit": "months", "covariates": ["age"]}
    config = {
        "seed": 1, "device": "cpu",
        "cohorts": {
            "tiny": {"expression": "data/expression.tsv", "clinical": "data/clinical.tsv", "sample_column": "sample",
                     "target": "subtype", "survival": survival},
            "tiny_new": {"model_from": "tiny", "expression": "data/new.tsv", "clinical": "data/new_clinical.tsv",
                         "sample_column": "sample", "target": "subtype", "survival": survival,
                         **validation_cohort},
        },
        "normalize": {"n_top_genes": 100}, "model": {**FAST_MODEL, "n_fits": 2}, "compare": {"run": False},
        "validation": {"folds": 0},
    }
    import yaml

    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir / "config.yaml"


def add_study_samples(folder: Path, samples: dict[str, tuple[str, str]]) -> None:
    """Add ``samples`` (id -> (patient, SAMPLE_TYPE value)) to a copy of :data:`CBIOPORTAL_STUDY` in ``folder``:
    profile columns ahead of the others (each a copy of its patient's ``-01`` sample, or of PT-000-01 for a new
    patient) and rows of the sample attributes file with SUBTYPE ``Normal``, the label a normal sample carries."""
    data = folder / "data_mrna_seq.txt"
    profile = pd.read_csv(data, sep="\t", dtype=str, keep_default_na=False)
    for position, (sample, (patient, _)) in enumerate(samples.items()):
        source = f"{patient}-01" if f"{patient}-01" in profile.columns else "PT-000-01"
        profile.insert(2 + position, sample, profile[source])
    profile.to_csv(data, sep="\t", index=False)
    with (folder / "data_clinical_sample.txt").open("a") as handle:
        handle.writelines(f"{patient}\t{sample}\tNormal\t{kind}\n" for sample, (patient, kind) in samples.items())


def _clinical_attributes(path: Path, table: pd.DataFrame, names: dict[str, tuple[str, str]]) -> None:
    """``table`` as a cBioPortal clinical file: the four ``#`` lines (display name, description, datatype,
    priority) from ``names`` (column -> (display name, datatype)), then the attribute ids and the rows."""
    lines = ["#" + "\t".join(names[column][0] for column in table.columns),
             "#" + "\t".join(f"{names[column][0]}." for column in table.columns),
             "#" + "\t".join(names[column][1] for column in table.columns),
             "#" + "\t".join("1" for _ in table.columns)]
    path.write_text("\n".join(lines) + "\n" + table.to_csv(sep="\t", index=False, na_rep=""))


def write_metabric_like_study(folder: Path) -> Path:
    """A small study folder shaped like cBioPortal's brca_metabric (the files, attribute ids and value styles
    ``config/metabric.yaml`` reads): :func:`make_cohort`'s 60 patients x 120 genes as the Illumina profile
    ``mrna`` beside a z-score profile; patient attributes with ``VITAL_STATUS`` (``Living``, ``Died of
    Disease``), ``OS_STATUS`` (``1:DECEASED``), ``RFS_STATUS`` (``0:Not Recurred``), ``CLAUDIN_SUBTYPE`` (``NC``
    and empty cells) and ``AGE_AT_DIAGNOSIS``; sample attributes ``ER_STATUS``, ``PR_STATUS``, ``HER2_STATUS``
    (``Positive``/``Negative``) and ``SAMPLE_TYPE`` ``Primary``; sample ids equal to patient ids (``MB-0000``),
    and 4 patients in the clinical files without a profile. Returns ``folder``."""
    expression, clinical = make_cohort(n_samples=64, n_genes=120)
    rng = np.random.default_rng(7)
    patients = [f"MB-{i:04d}" for i in range(64)]
    profiled = patients[:60]
    folder.mkdir(parents=True)
    (folder / "meta_study.txt").write_text(
        "type_of_cancer: brca\ncancer_study_identifier: brca_metabric\n"
        "name: Breast Cancer (METABRIC, synthetic test copy)\nadd_global_case_list: true\n")
    for stable_id, file, datatype, values in (
            ("mrna", "data_mrna_illumina_microarray.txt", "CONTINUOUS", expression),
            ("mrna_median_all_sample_Zscores", "data_mrna_illumina_microarray_zscores_ref_all_samples.txt",
             "Z-SCORE", (expression - expression.mean()) / expression.std())):
        (folder / f"meta_{file.removeprefix('data_')}").write_text(
            f"cancer_study_identifier: brca_metabric\ngenetic_alteration_type: MRNA_EXPRESSION\ndatatype: {datatype}"
            f"\nstable_id: {stable_id}\nprofile_name: mRNA expression ({stable_id})\ndata_filename: {file}\n")
        genes = values.iloc[:60].T.round(4)
        genes.columns = profiled
        genes.insert(0, "Entrez_Gene_Id", range(1000, 1000 + len(genes)))
        genes.insert(0, "Hugo_Symbol", genes.index)
        genes.to_csv(folder / file, sep="\t", index=False, na_rep="NA")
    died = clinical["event"].astype(bool)
    subtype = clinical["subtype"].map({"type_0": "LumA", "type_1": "Basal", "type_2": "Her2"}).to_numpy(object)
    subtype[[3, 11]] = "NC"
    patient = pd.DataFrame({
        "PATIENT_ID": patients, "AGE_AT_DIAGNOSIS": clinical["age"] + 0.65, "OS_MONTHS": clinical["time"],
        "OS_STATUS": np.where(died, "1:DECEASED", "0:LIVING"), "CLAUDIN_SUBTYPE": subtype,
        "VITAL_STATUS": np.where(died, rng.choice(["Died of Disease", "Died of Other Causes"], 64), "Living"),
        "RFS_MONTHS": clinical["time"], "RFS_STATUS": np.where(died, "1:Recurred", "0:Not Recurred"),
        "CHEMOTHERAPY": rng.choice(["YES", "NO"], 64)})
    _clinical_attributes(folder / "data_clinical_patient.txt", patient, {
        "PATIENT_ID": ("Patient Identifier", "STRING"), "AGE_AT_DIAGNOSIS": ("Age at Diagnosis", "NUMBER"),
        "OS_MONTHS": ("Overall Survival (Months)", "NUMBER"), "OS_STATUS": ("Overall Survival Status", "STRING"),
        "CLAUDIN_SUBTYPE": ("Pam50 + Claudin-low subtype", "STRING"),
        "VITAL_STATUS": ("Patient's Vital Status", "STRING"), "RFS_MONTHS": ("Relapse Free Status (Months)", "NUMBER"),
        "RFS_STATUS": ("Relapse Free Status", "STRING"), "CHEMOTHERAPY": ("Chemotherapy", "STRING")})
    receptor = {column: rng.choice(["Positive", "Negative"], 64) for column in ("ER_STATUS", "PR_STATUS",
                                                                                 "HER2_STATUS")}
    sample = pd.DataFrame({"PATIENT_ID": patients, "SAMPLE_ID": patients, "CANCER_TYPE": "Breast Cancer",
                           **receptor, "SAMPLE_TYPE": "Primary", "GRADE": rng.choice(["1", "2", "3", ""], 64)})
    _clinical_attributes(folder / "data_clinical_sample.txt", sample, {
        "PATIENT_ID": ("Patient Identifier", "STRING"), "SAMPLE_ID": ("Sample Identifier", "STRING"),
        "CANCER_TYPE": ("Cancer Type", "STRING"), "ER_STATUS": ("ER Status", "STRING"),
        "PR_STATUS": ("PR Status", "STRING"), "HER2_STATUS": ("HER2 Status", "STRING"),
        "SAMPLE_TYPE": ("Sample Type", "STRING"), "GRADE": ("Neoplasm Histologic Grade", "NUMBER")})
    for kind in ("patient", "sample"):
        (folder / f"meta_clinical_{kind}.txt").write_text(
            f"cancer_study_identifier: brca_metabric\ngenetic_alteration_type: CLINICAL\n"
            f"datatype: {kind.upper()}_ATTRIBUTES\ndata_filename: data_clinical_{kind}.txt\n")
    (folder / "case_lists").mkdir()
    (folder / "case_lists" / "cases_mRNA.txt").write_text(
        "cancer_study_identifier: brca_metabric\nstable_id: brca_metabric_mrna\ncase_list_name: Samples with mRNA "
        f"data\ncase_list_description: Samples with mRNA expression data ({len(profiled)} samples)\n"
        f"case_list_ids: {chr(9).join(profiled)}\n")
    return folder


@pytest.fixture(scope="module")
def sweep_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two generated cohorts and a sweep of 2 alphas x 2 seeds at K = 3."""
    import yaml

    workdir = tmp_path_factory.mktemp("sweep")
    cohorts = {}
    for name, seed in (("first", 0), ("second", 1)):
        expression, clinical = make_cohort(n_samples=45, n_genes=80, seed=seed)
        (workdir / name).mkdir()
        expression.to_csv(workdir / name / "expression.tsv", sep="\t")
        clinical.to_csv(workdir / name / "clinical.tsv", sep="\t", index=False, na_rep="NA")
        cohorts[name] = {"expression": f"{name}/expression.tsv", "clinical": f"{name}/clinical.tsv",
                         "sample_column": "sample", "target": "subtype",
                         "survival": {"time": "time", "event": "event", "unit": "months"}}
    config = {"seed": 0, "device": "cpu", "cohorts": cohorts, "normalize": {"n_top_genes": 60},
              "model": {**FAST_MODEL, "pretrain_steps": 100, "max_rounds": 2, "n_fits": 1},
              "sweep": {"alphas": [0.0, 0.002], "seeds": [3, 4]}, "compare": {"run": False}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


#: The end-to-end tests: each runs the Snakemake workflow for real (the rest are in ``tests/unit/``).
WORKFLOW_TESTS = Path(__file__).resolve().parent / "workflow"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under ``tests/workflow/`` ``e2e``, so ``pytest -m "not e2e"`` runs ``tests/unit/`` exactly;
    a test marked ``e2e`` by hand elsewhere is refused (it belongs in ``tests/workflow/``). The end-to-end tests
    go first: pytest-xdist hands out modules in this order, and the long Snakemake runs started last would leave
    one worker running them while the other idles."""
    for item in items:
        if item.path.resolve().is_relative_to(WORKFLOW_TESTS):
            item.add_marker(pytest.mark.e2e)
        elif item.get_closest_marker("e2e"):
            raise pytest.UsageError(f"{item.nodeid} is marked e2e: end-to-end tests go in tests/workflow/")
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)  # stable: each group keeps its order

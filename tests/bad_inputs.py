"""The catalogue of bad inputs: each case writes a broken cohort and says which stage must refuse it, and how.

``tests/unit/test_bad_inputs.py`` feeds every case through the ``deepsubtype`` command
and ``tests/workflow/test_bad_inputs.py`` through ``snakemake``; both write the cases with
:func:`write_cases`; ``docs/bad-inputs.md`` is generated from this list
(``python -m tests.bad_inputs > docs/bad-inputs.md``) and a test keeps it in step.

Paths in messages are relative to the working directory: each case's files live in
``data/<case>/``, written there by the case's ``build`` function.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from .conftest import (
    CBIOPORTAL_STUDY,
    FAST_MODEL,
    GEO_SERIES,
    REPO,
    add_study_samples,
    make_cohort,
    write_metabric_like_study,
)

Stage = Literal["config", "import", "normalize", "train", "validate", "survival", "genes", "aggregate", "predict"]


@dataclass(frozen=True)
class BadInput:
    """One broken input.

    ``build(directory)`` writes the files into ``directory`` (``data/<name>``) and returns
    the cohort's config entry (paths relative to the working directory). ``message`` is
    the text the error (or, for ``outcome="warning"``, the logged warning) must contain,
    with ``{dir}`` standing for ``data/<name>`` and ``{results}`` for ``results/<name>``.
    ``stage`` is the rule and subcommand that stops; ``config`` cases are caught by Snakemake's
    schema before any job runs; ``predict`` cases apply the unbroken cohort's model (``model_from: good``).
    ``edit_config`` edits the text of the config file the case is run with (a key written twice);
    ``settings`` are global config settings of the case (``device``, ``tuning``, ``validation``): the workflow
    test runs each set of them with its own Snakemake, the command line gives the device. ``validate`` cases
    stop in the first split's refit (``validate_fold``, ``deepsubtype validate-fold``).
    """

    name: str
    input: str
    stage: Stage
    message: str
    build: Callable[[Path], dict[str, Any]]
    outcome: Literal["error", "warning"] = "error"
    cohort_name: str | None = None
    misspelled_key: bool = False
    snakemake_message: str | None = None
    cli: bool = True
    snakemake: bool = True
    edit_config: Callable[[str], str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def expected(self, entry_point: Literal["cli", "snakemake"] = "cli") -> str:
        message = self.snakemake_message if entry_point == "snakemake" and self.snakemake_message else self.message
        return message.format(dir=f"data/{self.name}", results=f"results/{self.name}")


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_cohort(n_samples=60, n_genes=120)


def write_cohort(directory: Path, expression: pd.DataFrame | None = None, clinical: pd.DataFrame | None = None,
            **settings: Any) -> dict[str, Any]:
    """Write ``expression.tsv`` and ``clinical.tsv`` (the unbroken cohort unless given); return its config entry."""
    base_expression, base_clinical = _frames()
    directory.mkdir(parents=True, exist_ok=True)
    expression = base_expression if expression is None else expression
    clinical = base_clinical if clinical is None else clinical
    expression.to_csv(directory / "expression.tsv", sep="\t")
    clinical.to_csv(directory / "clinical.tsv", sep="\t", index=False, na_rep="NA")
    entry: dict[str, Any] = {
        "expression": f"{directory}/expression.tsv", "clinical": f"{directory}/clinical.tsv",
        "sample_column": "sample", "task": "classification", "target": "subtype",
        "survival": {"time": "time", "event": "event", "unit": "months"},
    }
    for key, value in settings.items():
        if isinstance(value, dict) and isinstance(entry.get(key), dict):
            entry[key] = {**entry[key], **value}
        else:
            entry[key] = value
    return entry


def _raw_expression(text: str, suffix: str = ".tsv") -> Callable[[Path], dict[str, Any]]:
    """A case whose expression file holds ``text`` verbatim."""
    def build(directory: Path) -> dict[str, Any]:
        entry = write_cohort(directory)
        path = directory / f"expression{suffix}"
        path.write_text(text)
        return {**entry, "expression": str(path)}
    return build


def _edit_expression(edit: Callable[[pd.DataFrame], pd.DataFrame], **settings: Any
                     ) -> Callable[[Path], dict[str, Any]]:
    def build(directory: Path) -> dict[str, Any]:
        expression = _frames()[0].astype(object)
        return write_cohort(directory, expression=edit(expression), **settings)
    return build


def _edit_clinical(edit: Callable[[pd.DataFrame], pd.DataFrame], **settings: Any
                   ) -> Callable[[Path], dict[str, Any]]:
    def build(directory: Path) -> dict[str, Any]:
        return write_cohort(directory, clinical=edit(_frames()[1].astype(object)), **settings)
    return build


def _settings(**settings: Any) -> Callable[[Path], dict[str, Any]]:
    return lambda directory: write_cohort(directory, **settings)


def _set(frame: pd.DataFrame, row: int, column: str, value: Any) -> pd.DataFrame:
    frame.iloc[row, frame.columns.get_loc(column)] = value
    return frame


def _missing_file(directory: Path) -> dict[str, Any]:
    return {**write_cohort(directory), "expression": f"{directory}/expresion.tsv"}


def _counts(directory: Path) -> dict[str, Any]:
    expression = _frames()[0]
    counts = np.random.default_rng(0).poisson(np.exp(expression.to_numpy() - 1.0))
    counts_frame = pd.DataFrame(counts, index=expression.index, columns=expression.columns)
    return write_cohort(directory, expression=counts_frame, normalize={"scale": "log"})


def _negative_count(directory: Path) -> dict[str, Any]:
    entry = _counts(directory)
    expression = pd.read_csv(directory / "expression.tsv", sep="\t", index_col=0)
    expression.iloc[2, 1] = -4
    expression.to_csv(directory / "expression.tsv", sep="\t")
    return {**entry, "normalize": {"scale": "auto"}}


def _latin1_clinical(directory: Path) -> dict[str, Any]:
    entry = write_cohort(directory)
    clinical = _frames()[1].assign(site="S\u00e3o Paulo")
    clinical.to_csv(directory / "clinical.tsv", sep="\t", index=False, na_rep="NA", encoding="latin-1")
    return entry


def _truncated_gzip(directory: Path) -> dict[str, Any]:
    entry = write_cohort(directory)
    whole = directory / "whole.tsv.gz"
    _frames()[0].to_csv(whole, sep="\t")
    data = whole.read_bytes()
    whole.unlink()
    (directory / "expression.tsv.gz").write_bytes(data[:len(data) // 2])
    return {**entry, "expression": f"{directory}/expression.tsv.gz"}


def _directory_clinical(directory: Path) -> dict[str, Any]:
    entry = write_cohort(directory)
    (directory / "clinical").mkdir()
    return {**entry, "clinical": f"{directory}/clinical"}


def _duplicated_profiles(directory: Path) -> dict[str, Any]:
    expression = _frames()[0]
    expression.iloc[:, :] = expression.iloc[np.arange(60) % 2].to_numpy()
    return write_cohort(directory, expression=expression, model={"n_clusters": 3})


def _tampered_model(directory: Path) -> dict[str, Any]:
    entry = write_cohort(directory)
    model = directory / "model"
    model.mkdir()
    (model / "model.json").write_text('{"format": "deepsubtype.DeepType", "params": {}}')
    with open(model / "weights.pt", "wb") as handle:
        pickle.dump({"payload": Path("/tmp")}, handle)  # an object, not tensors: must never be unpickled
    return entry


def _foreign_model(directory: Path) -> dict[str, Any]:
    entry = write_cohort(directory)
    model = directory / "model"
    model.mkdir()
    (model / "model.json").write_text('{"format": "keras", "layers": []}')
    (model / "weights.pt").write_bytes(b"\x00" * 16)
    return entry


def _study(file: str, edit: Callable[[str], str]) -> Callable[[Path], dict[str, Any]]:
    """A copy of the shipped cBioPortal test study with ``edit`` applied to the text of ``file``."""
    def build(directory: Path) -> dict[str, Any]:
        shutil.copytree(CBIOPORTAL_STUDY, directory)
        path = directory / file
        path.write_text(edit(path.read_text()))
        return {"cbioportal": {"study": str(directory), "profile": "rna_seq_mrna", "case_list": "rna_seq_mrna"},
                "task": "classification", "target": "SUBTYPE",
                "survival": {"time": "OS_MONTHS", "event": "OS_STATUS", "unit": "months"}}
    return build


def _geo(edit_series: Callable[[str], str] = lambda text: text,
         edit_platform: Callable[[str], str] = lambda text: text) -> Callable[[Path], dict[str, Any]]:
    """A copy of the shipped GEO test series (and its platform table) with the edits applied."""
    def build(directory: Path) -> dict[str, Any]:
        directory.mkdir(parents=True)
        series = directory / "GSE99999_series_matrix.txt.gz"
        with gzip.open(GEO_SERIES / series.name, "rt") as source, gzip.open(series, "wt") as target:
            target.write(edit_series(source.read()))
        platform = directory / "GPL99999-tbl-1.txt"
        platform.write_text(edit_platform((GEO_SERIES / platform.name).read_text()))
        return {"geo": {"series_matrix": str(series), "platform": str(platform)},
                "task": "classification", "target": "subtype",
                "survival": {"time": "os time (months)", "event": "os event", "unit": "months"}}
    return build


def _rna_and_protein(expression: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Two modalities of the unbroken cohort: rna, its genes; protein, 20 of them, renamed."""
    return {"rna": expression, "protein": expression.iloc[:, :20].add_suffix("_protein")}


def _h5mu(obs: bool = True, corrupt: bool = False,
          modalities: Callable[[pd.DataFrame], dict[str, pd.DataFrame]] = _rna_and_protein
          ) -> Callable[[Path], dict[str, Any]]:
    """The unbroken cohort as a .h5mu of the ``modalities`` of its expression frame, the clinical table as the
    global obs unless ``obs`` is false; ``corrupt`` writes text under the .h5mu name instead."""
    def build(directory: Path) -> dict[str, Any]:
        import anndata as ad
        import mudata

        expression, clinical = _frames()
        directory.mkdir(parents=True)
        path = directory / "cohort.h5mu"
        if corrupt:
            path.write_text("sample\tG0000\n")
        else:
            parts = {name: ad.AnnData(frame.to_numpy(np.float32), obs=pd.DataFrame(index=frame.index),
                                      var=pd.DataFrame(index=frame.columns))
                     for name, frame in modalities(expression).items()}
            with mudata.set_options(pull_on_update=False):
                data = mudata.MuData(parts)
                if obs:
                    data.obs = clinical.set_index("sample").loc[data.obs_names]
                data.write_h5mu(path)
        return {"mudata": str(path), "task": "classification", "target": "subtype",
                "survival": {"time": "time", "event": "event", "unit": "months"}}
    return build


def _without_symbols(text: str) -> str:
    """Every probe's Gene Symbol cell of a platform table emptied."""
    lines = text.splitlines()
    header = next(index for index, line in enumerate(lines) if not line.startswith("#"))
    rows = [line.split("\t") for line in lines[header + 1:]]
    return "\n".join([*lines[:header + 1], *("\t".join([row[0], row[1], "", *row[3:]]) for row in rows)]) + "\n"


def _without_gene_ids(text: str) -> str:
    """Every row's Hugo_Symbol and Entrez_Gene_Id cells emptied (probes the file names no gene for)."""
    header, *rows = text.splitlines()
    return "\n".join([header, *("\t\t" + row.split("\t", 2)[2] for row in rows)]) + "\n"


# issue 43: silent wrong results (the builders of the cases at the end of CASES)


def _study_with_samples(samples: dict[str, tuple[str, str]]) -> Callable[[Path], dict[str, Any]]:
    """The shipped cBioPortal test study with ``samples`` (id -> (patient, SAMPLE_TYPE)) added ahead of the
    others (:func:`~tests.conftest.add_study_samples`), read without its case list, which would leave them out."""
    def build(directory: Path) -> dict[str, Any]:
        entry = _study("data_mrna_seq.txt", lambda text: text)(directory)
        add_study_samples(directory, samples)
        return {**entry, "cbioportal": {"study": str(directory), "profile": "rna_seq_mrna"}}
    return build


def _metabric_like(event: str = "OS_STATUS") -> Callable[[Path], dict[str, Any]]:
    """A study shaped like brca_metabric (:func:`~tests.conftest.write_metabric_like_study`) and
    ``config/metabric.yaml``'s cohort entry, pointed at it, with ``event`` as the survival event."""
    def build(directory: Path) -> dict[str, Any]:
        write_metabric_like_study(directory)
        cohort = yaml.safe_load((REPO / "config" / "metabric.yaml").read_text())["cohorts"]["metabric"]
        return {**cohort, "cbioportal": {**cohort["cbioportal"], "study": str(directory)},
                "survival": {**cohort["survival"], "event": event}}
    return build


def _cut_table(offset: int) -> Callable[[str], str]:
    """A series matrix cut off ``offset`` characters into the row of probe 1050_at (0: a row boundary)."""
    return lambda text: text[:text.index('"1050_at"') + offset]


def _subtype_line(text: str) -> tuple[int, int]:
    """Where the ``subtype`` characteristics line of the shipped series starts and ends (past its newline)."""
    start = text.index('!Sample_characteristics_ch1\t"subtype')
    return start, text.index("\n", start) + 1


def _subtype_key_split(text: str) -> str:
    """The subtype characteristic as submitters split it: ``Subtype:`` for the first 9 samples on a line of its
    own, ``subtype:`` for the others on another, the rest of each line empty."""
    start, end = _subtype_line(text)
    cells = text[start:end].rstrip("\n").split("\t")[1:]
    upper = ['"S' + cell[2:] if sample < 9 else '""' for sample, cell in enumerate(cells)]
    lower = [cell if sample >= 9 else '""' for sample, cell in enumerate(cells)]
    lines = "".join("!Sample_characteristics_ch1\t" + "\t".join(line) + "\n" for line in (upper, lower))
    return text[:start] + lines + text[end:]


def _subtype_twice(text: str) -> str:
    """A ``Subtype:`` line before the ``subtype:`` one, with another value for GSM9000 (type_0 there)."""
    start, _ = _subtype_line(text)
    return text[:start] + "!Sample_characteristics_ch1\t" + "\t".join(['"Subtype: type_1"', *['""'] * 59]) + \
        "\n" + text[start:]


def _lower_case_genes(directory: Path) -> dict[str, Any]:
    """The unbroken cohort with lower-case gene ids (``g0000``), taking the model of ``good``."""
    entry = write_cohort(directory, expression=_frames()[0].rename(columns=str.lower))
    return {**{key: value for key, value in entry.items() if key != "task"}, "model_from": "good"}


#: Three ages written as words for a missing value; age a Cox covariate.
_age_as_words = _edit_clinical(lambda c: _set(_set(_set(c, 3, "age", "unknown"), 10, "age", "not available"), 20,
                                              "age", "Unknown"), survival={"covariates": ["age"]})


def _cohort_block_twice(name: str) -> Callable[[str], str]:
    """The config text with cohort ``name``'s block written again right after it (copied, and not renamed)."""
    def edit(text: str) -> str:
        lines = text.splitlines(keepends=True)
        start = lines.index(f"  {name}:\n")
        end = next(number for number in range(start + 1, len(lines)) if not lines[number].startswith("    "))
        return "".join([*lines[:end], *lines[start:end], *lines[end:]])
    return edit


# issue 43: tracebacks and unclear messages (the builders of the cases at the end of CASES)


def _first_patients(n_patients: int, **settings: Any) -> Callable[[Path], dict[str, Any]]:
    """The unbroken cohort's first ``n_patients`` patients."""
    def build(directory: Path) -> dict[str, Any]:
        expression, clinical = _frames()
        return write_cohort(directory, expression=expression.iloc[:n_patients],
                            clinical=clinical.iloc[:n_patients], **settings)
    return build


def _gzip_named_txt(directory: Path) -> dict[str, Any]:
    """The unbroken cohort with its matrix gzip-compressed under a name without .gz (``expression.txt``)."""
    entry = write_cohort(directory)
    path = directory / "expression.txt"
    path.write_bytes(gzip.compress((directory / "expression.tsv").read_bytes()))
    return {**entry, "expression": str(path)}


def _geo_series_named_txt(directory: Path) -> dict[str, Any]:
    """The shipped GEO series matrix, gzip-compressed as downloaded, saved as ``.txt``."""
    entry = _geo()(directory)
    series = Path(entry["geo"]["series_matrix"])
    return {**entry, "geo": {**entry["geo"], "series_matrix": str(series.rename(series.with_suffix("")))}}


def _platform_rows(edit: Callable[[list[str]], list[str]]) -> Callable[[str], str]:
    """A platform table's text with ``edit`` applied to the cells of each row below its header."""
    def edited(text: str) -> str:
        lines = text.splitlines()
        header = next(index for index, line in enumerate(lines) if not line.startswith("#"))
        rows = ("\t".join(edit(line.split("\t"))) for line in lines[header + 1:])
        return "\n".join([*lines[:header + 1], *rows]) + "\n"
    return edited


def _as_soft(text: str) -> str:
    """A platform table as GEO's SOFT download holds it: ``^PLATFORM`` and ``!Platform_`` lines, then the table
    between ``!platform_table_begin`` and ``!platform_table_end``."""
    table = [line for line in text.splitlines() if not line.startswith("#")]
    return "\n".join(["^PLATFORM = GPL99999", "!Platform_title = synthetic array", "!Platform_geo_accession = GPL99999",
                      "!platform_table_begin", *table, "!platform_table_end"]) + "\n"


def _without(key: str, **settings: Any) -> Callable[[Path], dict[str, Any]]:
    """The unbroken cohort's config entry without ``key``."""
    def build(directory: Path) -> dict[str, Any]:
        return {name: value for name, value in write_cohort(directory, **settings).items() if name != key}
    return build


CASES: list[BadInput] = [
    BadInput("geo_probes_without_genes", "a GEO platform table whose probes have no gene symbol", "import",
             "{dir}/GPL99999-tbl-1.txt: no probe of the series matrix maps to one gene (of its 139 probes, 1 are not "
             "in the platform table, 139 have no symbol, 0 map to several genes ('A /// B'))",
             _geo(edit_platform=_without_symbols)),
    BadInput("geo_non_numeric", "a text cell ('high') in a GEO series matrix table", "import",
             "{dir}/GSE99999_series_matrix.txt.gz: non-numeric value 'high' for sample 'GSM9001' at probe '1000_at'",
             _geo(lambda text: text.replace('"1000_at"\t9.1257\t6.7876', '"1000_at"\t9.1257\thigh', 1))),
    BadInput("geo_ragged_sample_line", "a GEO !Sample_ line with a cell missing", "import",
             "{dir}/GSE99999_series_matrix.txt.gz: line !Sample_characteristics_ch1 has 59 cells for 60 samples",
             _geo(lambda text: text.replace('\t"age: 68"', "", 1))),
    BadInput("cbioportal_uncoded_status", "a cBioPortal OS_STATUS without its 0:/1: code ('DECEASED')", "import",
             "{dir}/data_clinical_patient.txt: OS_STATUS value 'DECEASED' of patient 'PT-000' has no 0:/1: code",
             _study("data_clinical_patient.txt", lambda text: text.replace("1:DECEASED", "DECEASED", 1))),
    BadInput("cbioportal_sample_without_patient", "a cBioPortal sample whose PATIENT_ID is not in the patient file",
             "import", "{dir}/data_clinical_sample.txt: sample 'PT-010-01' has patient 'PT-999', who is not in "
             "data_clinical_patient.txt", _study("data_clinical_sample.txt",
                                                 lambda text: text.replace("PT-010\tPT-010-01", "PT-999\tPT-010-01"))),
    BadInput("cbioportal_probes_without_genes", "a cBioPortal profile whose rows name no gene (symbol and Entrez "
             "id empty)", "import", "{dir}/data_mrna_seq.txt: no row has a Hugo_Symbol or an Entrez_Gene_Id",
             _study("data_mrna_seq.txt", _without_gene_ids)),
    BadInput("cbioportal_duplicate_symbols", "a cBioPortal profile with a gene symbol on two rows (warns, keeps the "
             "more variable row)", "import", "{dir}/data_mrna_seq.txt: 1 gene symbols on several rows (e.g. "
             "'G0005'): the row with the largest variance kept, 1 rows dropped",
             _study("data_mrna_seq.txt", lambda text: text), outcome="warning"),
    BadInput("h5mu_without_clinical", "a MuData cohort whose global obs has no clinical columns", "normalize",
             "{dir}/cohort.h5mu: the global obs has no columns, so there is no clinical table in it; give the "
             "cohort a `clinical` file", _h5mu(obs=False)),
    BadInput("h5mu_not_hdf5", "a text file saved under a .h5mu name", "normalize",
             "{dir}/cohort.h5mu: not a readable .h5mu file", _h5mu(corrupt=True)),
    BadInput("missing_file", "expression path that does not exist (typo)", "normalize",
             "{dir}/expresion.tsv: file not found", _missing_file,
             snakemake_message="Missing input files for rule normalize:"),
    BadInput("empty_file", "expression file of 0 bytes", "normalize", "{dir}/expression.tsv: file is empty",
             _raw_expression("")),
    BadInput("header_only", "expression file with a header and no data rows", "normalize",
             "{dir}/expression.tsv: table has no data rows or no data columns",
             _raw_expression("sample\tG1\tG2\n")),
    BadInput("unsupported_format", "expression saved as a spreadsheet (.xlsx)", "normalize",
             "{dir}/expression.xlsx: unsupported format '.xlsx'", _raw_expression("PK\x03\x04", ".xlsx")),
    BadInput("non_numeric_cell", "a text cell ('high') in the expression matrix", "normalize",
             "{dir}/expression.tsv: non-numeric value 'high' for gene 'G0003' at 'P002'",
             _edit_expression(lambda e: _set(e, 2, "G0003", "high"))),
    BadInput("missing_values", "NA cells in the expression matrix (policy fail, the default)", "normalize",
             "{dir}/expression.tsv: 2 missing or infinite values, first at sample 'P004', gene 'G0007'",
             _edit_expression(lambda e: _set(_set(e, 4, "G0007", "NA"), 9, "G0001", ""))),
    BadInput("infinite_value", "an 'inf' cell in the expression matrix", "normalize",
             "{dir}/expression.tsv: 1 missing or infinite values, first at sample 'P001', gene 'G0010'",
             _edit_expression(lambda e: _set(e, 1, "G0010", "inf"))),
    BadInput("missing_values_dropped", "NA cells with missing: drop_genes (warns and goes on)", "normalize",
             "{dir}/expression.tsv: 2 missing or infinite values (first at sample 'P004', gene 'G0007'); "
             "policy drop_genes: 2 genes dropped",
             _edit_expression(lambda e: _set(_set(e, 4, "G0007", "NA"), 9, "G0001", ""),
                              normalize={"missing": "drop_genes"}), outcome="warning"),
    BadInput("duplicate_sample", "the same sample id on two expression rows", "normalize",
             "{dir}/expression.tsv: duplicate sample id 'P000'",
             _edit_expression(lambda e: e.rename(index={"P001": "P000"}))),
    BadInput("duplicate_gene", "the same gene id twice in the expression header", "normalize",
             "{dir}/expression.tsv: duplicate column id 'G0000' in the header",
             _edit_expression(lambda e: e.rename(columns={"G0001": "G0000"}))),
    BadInput("duplicate_clinical_sample", "the same sample id on two clinical rows", "normalize",
             "{dir}/clinical.tsv: duplicate sample id 'P000' in column 'sample'",
             _edit_clinical(lambda c: _set(c, 1, "sample", "P000"))),
    BadInput("unknown_sample_column", "sample_column naming a column the clinical table lacks", "normalize",
             "{dir}/clinical.tsv: sample column 'patient_id' not found",
             _settings(sample_column="patient_id")),
    BadInput("no_shared_samples", "clinical ids that match no expression sample (TCGA barcodes vs. short ids)",
             "normalize", "{dir}/clinical.tsv: no sample id is shared with the expression matrix",
             _edit_clinical(lambda c: c.assign(sample="TCGA-" + c["sample"]))),
    BadInput("some_shared_samples", "clinical table covering only 50 of 60 samples, plus 3 others (warns, goes on)",
             "normalize", "{dir}/clinical.tsv: 50 samples shared; 10 only in the matrix (dropped: 'P050', 'P051', "
             "'P052', ...), 3 only in the clinical table (no values: 'X1', 'X2', 'X3')",
             _edit_clinical(lambda c: pd.concat([c.iloc[:50], c.iloc[50:53].assign(sample=["X1", "X2", "X3"])])),
             outcome="warning"),
    BadInput("wrong_orientation", "a genes x samples matrix declared samples_x_genes", "normalize",
             "{dir}/clinical.tsv: the expression matrix looks transposed: 60 of its gene ids (e.g. 'P000') but 0 "
             "of its sample ids are clinical sample ids; set orientation to genes_x_samples",
             _edit_expression(lambda e: e.T)),
    BadInput("counts_declared_log", "raw RNA-seq counts with scale: log", "normalize",
             "{dir}/expression.tsv: scale is set to 'log' but the values look like raw counts", _counts),
    BadInput("negative_declared_counts", "log ratios (negative values) with scale: counts", "normalize",
             "{dir}/expression.tsv: scale is set to 'counts' but the values include negatives",
             _edit_expression(lambda e: e - 6.0, normalize={"scale": "counts"})),
    BadInput("all_genes_constant", "every gene constant across samples", "normalize",
             "{dir}/expression.tsv: every gene has zero variance across samples",
             _edit_expression(lambda e: e.map(lambda _: 5.0))),
    BadInput("unknown_target", "target naming a column the clinical table lacks", "normalize",
             "{dir}/clinical.tsv: target column 'pam50' not found",
             _settings(target="pam50")),
    BadInput("one_class_target", "a classification target with a single class", "train",
             "{dir}/clinical.tsv: target column 'subtype' has 1 distinct value(s)",
             _edit_clinical(lambda c: c.assign(subtype="luminal"))),
    BadInput("k_above_samples", "n_clusters larger than the number of patients", "train",
             "{results}/normalized.h5ad: n_clusters=80 exceeds the 60 samples", _settings(model={"n_clusters": 80})),
    BadInput("k_above_distinct", "n_clusters larger than the number of distinct expression profiles", "train",
             "{results}/normalized.h5ad: n_clusters=3 exceeds the 2 distinct expression profiles among the 60 samples",
             _duplicated_profiles),
    BadInput("negative_time", "a negative survival time", "normalize",
             "{dir}/clinical.tsv: negative survival time -3.0 in column 'time' for sample 'P007'",
             _edit_clinical(lambda c: _set(c, 7, "time", -3.0))),
    BadInput("negative_time_dropped", "a negative survival time with survival.invalid: drop (warns, names it)",
             "normalize", "{dir}/clinical.tsv: survival.invalid drop: 1 patient left out of survival: P007 "
             "(time '-3.0': negative time)",
             _edit_clinical(lambda c: _set(c, 7, "time", -3.0), survival={"invalid": "drop"}), outcome="warning"),
    BadInput("text_time", "a survival time written with its unit ('12 months')", "normalize",
             "{dir}/clinical.tsv: non-numeric survival value '12 months' in column 'time' for sample 'P003'",
             _edit_clinical(lambda c: _set(c, 3, "time", "12 months"))),
    BadInput("event_not_binary", "an event coded 2 (e.g. 1 = alive, 2 = dead)", "normalize",
             "{dir}/clinical.tsv: event must be 0 or 1, got 2 in column 'event' for sample 'P000'",
             _edit_clinical(lambda c: c.assign(event=c["event"] + 1))),
    BadInput("unknown_survival_column", "a survival time column the clinical table lacks", "normalize",
             "{dir}/clinical.tsv: survival column 'os_days' not found",
             _settings(survival={"time": "os_days"})),
    BadInput("missing_time", "survival time missing for 4 patients (warns, leaves them out)", "survival",
             "{results}/normalized.h5ad: 4 of 60 samples lack survival time or event and are left out",
             _edit_clinical(lambda c: c.assign(time=c["time"].where(~c.index.isin([0, 2, 4, 6])))),
             outcome="warning"),
    BadInput("no_events", "survival columns without a single event (warns; Cox and log-rank NA with the reason)",
             "survival", "{results}/normalized.h5ad: no Cox model: no event among the 60 patients",
             _edit_clinical(lambda c: c.assign(event=0)), outcome="warning"),
    BadInput("unknown_covariate", "a Cox covariate the clinical table lacks", "normalize",
             "{dir}/clinical.tsv: Cox covariate column 'stage' not found",
             _settings(survival={"covariates": ["stage"]})),
    BadInput("survival_task_without_events", "task survival on a cohort whose events are all 0", "train",
             "{dir}/clinical.tsv: no event (1) in column 'event'; the survival task needs events",
             _edit_clinical(lambda c: c.assign(event=0), task="survival")),
    BadInput("gene_ids_equal_once_stripped", "gene ids 'G0001' and 'G0001 ' (a trailing space) in one header",
             "normalize", "{dir}/expression.tsv: gene ids 'G0001', 'G0001 ' are the same id once surrounding "
             "whitespace is removed", _edit_expression(lambda e: e.rename(columns={"G0002": "G0001 "}))),
    BadInput("empty_gene_id", "an empty cell in the expression header", "normalize",
             "{dir}/expression.tsv: empty gene id at position 4 of 120",
             _edit_expression(lambda e: e.rename(columns={"G0003": ""}))),
    BadInput("trailing_tab", "a trailing tab on every line (an empty last column)", "normalize",
             "{dir}/expression.tsv: empty gene id at position 3 of 3",
             _raw_expression("sample\tG1\tG2\t\nP000\t1\t2\t\nP001\t3\t4\t\n")),
    BadInput("latin1_clinical", "a clinical table saved in Latin-1 ('S\u00e3o Paulo')", "normalize",
             "{dir}/clinical.tsv: not UTF-8 text (byte b'\\xe3' at offset", _latin1_clinical),
    BadInput("ids_differ_by_case", "clinical id 'p000' for the matrix's 'P000'", "normalize",
             "{dir}/clinical.tsv: sample 'p000' and the matrix's 'P000' differ only by case",
             _edit_clinical(lambda c: _set(c, 0, "sample", "p000"))),
    BadInput("clinical_ids_with_spaces", "clinical ids with a trailing space (warns, strips, keeps every patient)",
             "normalize", "{dir}/clinical.tsv: surrounding whitespace removed from 60 sample ids ('P000 ', 'P001 ', "
             "'P002 ', ...)", _edit_clinical(lambda c: c.assign(sample=c["sample"] + " ")), outcome="warning"),
    BadInput("labels_differ_by_case", "labels 'type_0' and 'TYPE_0' in the target column (warns, names them)",
             "normalize", "{dir}/clinical.tsv: column 'subtype' has labels that differ only by case: 'TYPE_0', "
             "'type_0' (kept as separate values)", _edit_clinical(lambda c: _set(c, 0, "subtype", "TYPE_0")),
             outcome="warning"),
    BadInput("corrupt_cell", "one cell of 1e30 in a log-scale matrix", "normalize",
             "{dir}/expression.tsv: value 1e+30 at sample 'P005', gene 'G0009' on a log scale",
             _edit_expression(lambda e: _set(e, 5, "G0009", 1e30))),
    BadInput("negative_count", "one negative cell in raw counts", "normalize",
             "{dir}/expression.tsv: negative value -4 at sample 'P002', gene 'G0001' in counts data", _negative_count),
    BadInput("comma_named_tsv", "a comma-separated file named .tsv", "normalize",
             "{dir}/expression.tsv: looks comma-separated, but its name says tab-separated; rename it to .csv",
             _raw_expression("sample,G1,G2\nP000,1,2\nP001,3,4\n")),
    BadInput("semicolon_separated", "a semicolon-separated export (decimal commas) named .csv", "normalize",
             "{dir}/expression.csv: looks semicolon-separated, but its name says comma-separated; save it tab- or "
             "comma-separated", _raw_expression("sample;G1;G2\nP000;1;2\nP001;3;4\n", ".csv")),
    BadInput("html_page", "an HTML error page saved as the expression file", "normalize",
             "{dir}/expression.tsv: looks like an HTML or XML page, not a table",
             _raw_expression("<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n")),
    BadInput("not_gzipped", "a plain text file named .tsv.gz", "normalize",
             "{dir}/expression.tsv.gz: not a readable .gz file (Not a gzipped file", _raw_expression(
                 "sample\tG1\nP000\t1\n", ".tsv.gz")),
    BadInput("truncated_gzip", "a .tsv.gz cut off mid-download", "normalize",
             "{dir}/expression.tsv.gz: not a readable .gz file (Compressed file ended before the end-of-stream "
             "marker was reached)", _truncated_gzip),
    BadInput("directory_as_file", "a directory given as the clinical table", "normalize",
             "{dir}/clinical: is a directory, not a file", _directory_clinical),
    BadInput("tampered_model", "a model directory whose weights.pt holds pickled objects", "genes",
             "{dir}/model/weights.pt: refused: holds objects other than tensors", _tampered_model, snakemake=False),
    BadInput("foreign_model", "a model directory written by another tool", "genes",
             "{dir}/model/model.json: not a deepsubtype model file", _foreign_model, snakemake=False),
    BadInput("misspelled_config_key", "model.n_cluster instead of n_clusters in the config", "config",
             "Additional properties are not allowed ('n_cluster' was unexpected)", _settings(), cli=False,
             misspelled_key=True),
    BadInput("cohort_name_path", "cohort name with a path separator ('../elsewhere')", "config",
             "cohort name '../elsewhere': use letters, digits, '_' and '-' only", _settings(),
             cohort_name="../elsewhere"),
    BadInput("cohort_name_shell", "cohort name with shell characters ('a;rm -rf ~')", "config",
             "cohort name 'a;rm -rf ~': use letters, digits, '_' and '-' only", _settings(), cohort_name="a;rm -rf ~"),
    # issue 43: silent wrong results
    BadInput("cbioportal_normal_samples", "a cBioPortal study whose patients have a tumour (-01) and a Solid "
             "Tissue Normal (-11) sample, the normal first in the profile (warns, keeps the tumour, names the "
             "normals)", "import", "{dir}/data_clinical_sample.txt: 5 normal or control samples dropped (a subtype "
             "is a tumour's; type from SAMPLE_TYPE, else the sample-type code after the patient id): PT-000-11 "
             "(normal 11), PT-001-11 (normal 11), PT-002-11 (normal 11), PT-003-11 (normal 11), PT-004-11 (normal 11)",
             _study_with_samples({f"PT-00{i}-11": (f"PT-00{i}", "[Not Available]") for i in range(5)}),
             outcome="warning"),
    BadInput("cbioportal_normal_by_sample_type", "cBioPortal normal samples named by SAMPLE_TYPE only ('Solid "
             "Tissue Normal', ids without a code) (warns, drops them by name)", "import",
             "{dir}/data_clinical_sample.txt: 2 normal or control samples dropped (a subtype is a tumour's; type "
             "from SAMPLE_TYPE, else the sample-type code after the patient id): PT-005-N (normal 11), PT-006-N "
             "(normal 11)", _study_with_samples({"PT-005-N": ("PT-005", "Solid Tissue Normal"),
                                                 "PT-006-N": ("PT-006", "Normal")}), outcome="warning"),
    BadInput("cbioportal_samples_undecided", "cBioPortal patients with two samples that neither SAMPLE_TYPE nor a "
             "sample-type code tells apart", "import", "{dir}/data_clinical_sample.txt: 2 patients have several "
             "profiled samples that neither SAMPLE_TYPE nor a sample-type code after the patient id (TCGA: -01 "
             "primary tumour, -11 normal) tells apart: PT-003 (PT-003-R, PT-003-01); PT-004 (PT-004-R, PT-004-01); "
             "give those samples a SAMPLE_TYPE (Primary, Metastasis, Normal) or name a case list of one sample per "
             "patient (cbioportal.case_list)",
             _study_with_samples({"PT-003-R": ("PT-003", "[Not Available]"), "PT-004-R": ("PT-004", "")})),
    BadInput("cbioportal_text_status_attributes", "a study shaped like brca_metabric read with config/metabric.yaml: "
             "VITAL_STATUS 'Living', ER_STATUS/PR_STATUS/HER2_STATUS 'Positive' are text attributes (imports; "
             "only OS_STATUS, the survival event, needs its 0:/1: code)", "import",
             "{dir}: profile mrna (data_mrna_illumina_microarray.txt), 60 samples of 60 patients x 120 genes",
             _metabric_like(), outcome="warning"),
    BadInput("cbioportal_uncoded_event_attribute", "survival.event naming VITAL_STATUS, a text attribute of "
             "brca_metabric ('Living', 'Died of Disease')", "import",
             "{dir}/data_clinical_patient.txt: VITAL_STATUS value 'Died of Other Causes' of patient 'MB-0000' has "
             "no 0:/1: code (cBioPortal writes e.g. 1:DECEASED, 0:LIVING; 64 such values); survival.event must name "
             "a coded status attribute such as OS_STATUS",
             _metabric_like(event="VITAL_STATUS")),
    BadInput("geo_truncated_table", "a GEO series matrix cut off at a row boundary (no !series_matrix_table_end)",
             "import", "{dir}/GSE99999_series_matrix.txt.gz: truncated: 50 table rows read and no "
             "!series_matrix_table_end line after them (the download was cut off); download the series matrix again",
             _geo(_cut_table(0))),
    BadInput("geo_truncated_mid_row", "a GEO series matrix cut off in the middle of a row", "import",
             "{dir}/GSE99999_series_matrix.txt.gz: truncated: 51 table rows read and no !series_matrix_table_end "
             "line after them", _geo(_cut_table(40))),
    BadInput("geo_keys_differ_by_case", "GEO characteristics 'Subtype:' (9 samples) and 'subtype:' (51) on two "
             "lines (warns, joins them into one column)", "import", "{dir}/GSE99999_series_matrix.txt.gz: "
             "characteristics keys 'Subtype', 'subtype' differ only by case: joined into one column 'subtype' "
             "(samples per key: Subtype 9, subtype 51)", _geo(_subtype_key_split), outcome="warning"),
    BadInput("geo_key_two_values", "a GEO sample with 'Subtype: type_1' and 'subtype: type_0'", "import",
             "{dir}/GSE99999_series_matrix.txt.gz: sample 'GSM9000' has two values for one characteristic: "
             "'Subtype: type_1' and 'subtype: type_0' (keys are read regardless of case); edit its "
             "!Sample_characteristics_ch1 cells so that one remains", _geo(_subtype_twice)),
    BadInput("model_from_genes_differ_by_case", "a model_from cohort whose gene ids are the training genes in "
             "lower case ('g0000' for 'G0000') (warns, matches them ignoring case)", "predict",
             "{dir}/expression.tsv: 100 training genes are in this cohort with another case and are matched "
             "ignoring it: ", _lower_case_genes, outcome="warning"),
    BadInput("duplicate_cohort_key", "the same cohort key twice in the config file (a block copied, not renamed)",
             "config", "key 'cohorts.duplicate_cohort_key' is written twice (lines 2 and 12) and YAML keeps only "
             "the second: remove or rename one", _settings(), cli=False,
             edit_config=_cohort_block_twice("duplicate_cohort_key")),
    BadInput("duplicate_setting_key", "a cohort setting written twice in the config file (target)", "config",
             "key 'cohorts.duplicate_setting_key.target' is written twice (lines 10 and 11)", _settings(), cli=False,
             edit_config=lambda text: text.replace("    target: subtype\n", "    target: subtype\n" * 2, 1)),
    BadInput("covariate_unknown_cells", "a numeric Cox covariate (age) with 'unknown' and 'not available' cells "
             "(warns; those patients are missing for Cox, the covariate stays numeric)", "normalize",
             "{dir}/clinical.tsv: Cox covariate 'age' is numeric but for 3 cells of words for a missing value, read "
             "as missing (those patients are left out of the Cox model): P003 'unknown', P010 'not available', "
             "P020 'Unknown'", _age_as_words, outcome="warning"),
    BadInput("covariate_unknown_cells_cox", "the same covariate in the survival stage: 3 patients out of the Cox "
             "model, no 'age_unknown' term", "survival", "{results}/normalized.h5ad: 3 patients lack a Cox "
             "covariate and are left out of the Cox model", _age_as_words, outcome="warning"),
    # issue 43: tracebacks and unclear messages
    BadInput("h5mu_modality_without_samples", "a MuData modality with no samples", "normalize",
             "{dir}/cohort.h5mu (modality 'protein'): an empty matrix (0 samples x 20 features); remove the empty "
             "modality from the file, or list the cohort's views without it",
             _h5mu(modalities=lambda e: {**_rna_and_protein(e), "protein": e.iloc[:0, :20].add_suffix("_protein")})),
    BadInput("h5mu_modality_without_features", "a MuData modality with no features (formerly 'zero variance')",
             "normalize", "{dir}/cohort.h5mu (modality 'protein'): an empty matrix (60 samples x 0 features)",
             _h5mu(modalities=lambda e: {**_rna_and_protein(e), "protein": e.iloc[:, :0]})),
    BadInput("validation_folds_above_patients", "validation.folds 8 for a cohort of 6 patients", "validate",
             "{results}/normalized.h5ad: validation.folds=8 exceeds the 6 samples (a fold holds at least one): set "
             "validation.folds to at most 6, or 0 for no validation", _first_patients(6),
             settings={"validation": {"folds": 8}}),
    BadInput("k_not_below_fold_patients", "n_clusters 10 for 12 patients with validation.folds 8 (a fold trains on "
             "10)", "validate", "{results}/normalized.h5ad: n_clusters=10 equals the 10 patients a fit trains on in "
             "a validation fold (8 folds of 12 samples), which leaves a cluster per patient or fewer: set "
             "model.n_clusters below 10", _first_patients(12, model={"n_clusters": 10}),
             settings={"validation": {"folds": 8}}),
    BadInput("cuda_without_cuda", "device: cuda on a machine without CUDA", "train",
             "device 'cuda' is not available on this machine", _settings(), settings={"device": "cuda"}),
    BadInput("tuning_alphas_not_increasing", "tuning.alphas [0.1, 0.01, 0.03], not increasing", "config",
             "config: tuning.alphas: [0.1, 0.01, 0.03] must be increasing, each alpha larger than the one before "
             "(the path walks them in order): e.g. [0.01, 0.03, 0.1]", _settings(), cli=False,
             settings={"tuning": {"alphas": [0.1, 0.01, 0.03]}}),
    BadInput("n_clusters_range_reversed", "model.n_clusters_range [8, 2]", "config",
             "config: cohorts.n_clusters_range_reversed.model.n_clusters_range: [8, 2] is reversed: give [smallest, "
             "largest] K, e.g. [2, 8]", _settings(model={"n_clusters": "auto", "n_clusters_range": [8, 2]}),
             cli=False),
    BadInput("validation_folds_one", "validation.folds 1 (no cross-validation, formerly validation silently off)",
             "config", "config: validation.folds: 1 is not a cross-validation: set 2 or more folds, or 0 to turn the "
             "out-of-fold validation off", _settings(), cli=False, settings={"validation": {"folds": 1}}),
    BadInput("baseline_objective_without_survival", "model.objective kmeans with task classification", "config",
             "config: cohorts.baseline_objective_without_survival: model.objective 'kmeans' learns a baseline's "
             "clusters in place of a survival target: it needs task survival, and the task is 'classification'",
             _settings(model={"objective": "kmeans"}), cli=False),
    BadInput("sweep_without_alphas", "a sweep of seeds with model.alpha auto and no sweep.alphas (formerly an "
             "InputFunctionException traceback)", "config", "config: cohorts.sweep_without_alphas: sweep.alphas must "
             "be listed when model.alpha is auto", _settings(model={"alpha": "auto"}), cli=False,
             settings={"sweep": {"seeds": [1]}}),
    BadInput("survival_task_without_columns", "task survival for a cohort without survival columns", "config",
             "config: cohorts.survival_task_without_columns: task survival needs the cohort's survival columns",
             _without("survival", task="survival"), cli=False),
    BadInput("binary_three_classes", "task binary with a target of three classes", "train",
             "{dir}/clinical.tsv: target column 'subtype' has 3 classes ('type_0', 'type_1', 'type_2'); the binary "
             "task needs exactly two: set task to classification, or give a column of two classes",
             _settings(task="binary")),
    BadInput("regression_text_target", "task regression with a text cell ('C') in the target column", "train",
             "{dir}/clinical.tsv: target column 'age' has the non-numeric value 'C' for sample 'P004' (1 such "
             "samples); the regression task needs numbers",
             _edit_clinical(lambda c: _set(c, 4, "age", "C"), task="regression", target="age")),
    BadInput("cbioportal_profile_not_named", "a cBioPortal study of two expression profiles, none named", "import",
             "{dir}: 2 expression profiles (rna_seq_mrna (data_mrna_seq.txt), rna_seq_mrna_Zscores "
             "(data_mrna_seq_zscores.txt)); name one with cbioportal.profile",
             lambda directory: {**(entry := _study("meta_study.txt", lambda text: text)(directory)),
                                "cbioportal": {"study": entry["cbioportal"]["study"]}},
             snakemake_message="InputError: {dir}: 2 expression profiles"),
    BadInput("k_equals_patients", "a cohort of 3 patients with n_clusters 3 (formerly a crash in genes)", "train",
             "{results}/normalized.h5ad: n_clusters=3 equals the 3 samples, which leaves a cluster per patient or "
             "fewer: set model.n_clusters below 3", _first_patients(3)),
    BadInput("k_not_below_objective_folds", "task survival on 5 patients with n_clusters 3 (the objective's 3-fold "
             "choice trains on 3)", "train", "{results}/normalized.h5ad: n_clusters=3 equals the 3 patients a fit "
             "trains on in the objective's 3-fold choice (task survival, objective auto) of the 5 samples",
             _first_patients(5, task="survival")),
    BadInput("gzip_named_txt", "a gzip-compressed matrix named .txt (formerly 'not UTF-8 (Latin-1?)')", "normalize",
             "{dir}/expression.txt: is gzip-compressed: name it expression.txt.gz or decompress it", _gzip_named_txt),
    BadInput("geo_gzip_named_txt", "a GEO series matrix, gzip-compressed, saved as .txt", "import",
             "{dir}/GSE99999_series_matrix.txt: is gzip-compressed: name it GSE99999_series_matrix.txt.gz or "
             "decompress it", _geo_series_named_txt),
    BadInput("geo_probes_with_several_genes", "a GEO platform table whose every probe names several genes "
             "('A /// B')", "import", "{dir}/GPL99999-tbl-1.txt: no probe of the series matrix maps to one gene (of "
             "its 139 probes, 1 are not in the platform table, 1 have no symbol, 138 map to several genes ('A /// "
             "B')); name a column of one gene per probe with geo.gene_column",
             _geo(edit_platform=_platform_rows(lambda row: [*row[:2], f"{row[2]} /// {row[2]}B", *row[3:]]))),
    BadInput("geo_soft_platform", "a GEO SOFT file given as the platform table (formerly 'Expected 1 fields in line "
             "6')", "import", "{dir}/GPL99999-tbl-1.txt: a GEO SOFT file (it starts '^PLATFORM'), not a platform "
             "table: give the platform's full table (on the GPL's GEO page, 'Download full table': tab-separated, "
             "with an ID and a gene symbol column)", _geo(edit_platform=_as_soft)),
    BadInput("h5mu_views_disjoint", "a MuData cohort whose two modalities share no patient (30 and 30 others)",
             "normalize", "{dir}/cohort.h5mu: views 'rna' (30 patients) and 'protein' (30 patients) share no "
             "patient, so the clusters would only say which view a patient has",
             _h5mu(modalities=lambda e: {"rna": e.iloc[:30], "protein": e.iloc[30:, :20].add_suffix("_protein")})),
    BadInput("cohort_name_output_path", "a cohort named summary.tsv (an output's path; formerly Snakemake's "
             "ChildIOException)", "config", "cohort name 'summary.tsv': use letters, digits, '_' and '-' only",
             _settings(), cohort_name="summary.tsv"),
    BadInput("constant_cox_covariate", "a Cox covariate with one value for every patient (sex 'female')",
             "normalize", "{dir}/clinical.tsv: Cox covariate 'sex' has the one value 'female' for all 60 patients "
             "that have it, so it adjusts for nothing and no Cox model can be fitted with it: remove it from "
             "survival.covariates", _edit_clinical(lambda c: c.assign(sex="female"), survival={"covariates": ["sex"]})),
    BadInput("cbioportal_unknown_target", "an imported cBioPortal study whose target is not an attribute: the "
             "error names the study, not results/<cohort>/input/clinical.tsv", "normalize",
             "{dir} (its clinical attribute files): target column 'PAM50' not found",
             lambda directory: {**_study("meta_study.txt", lambda text: text)(directory), "target": "PAM50"},
             cli=False),
    BadInput("geo_unknown_covariate", "an imported GEO series whose Cox covariate is not a characteristic: the "
             "error names the series matrix", "normalize", "{dir}/GSE99999_series_matrix.txt.gz (its !Sample_ "
             "lines): Cox covariate column 'stage' not found",
             lambda directory: {**(entry := _geo()(directory)),
                                "survival": {**entry["survival"], "covariates": ["stage"]}}, cli=False),
    BadInput("cbioportal_binary_three_classes", "task binary on an imported cBioPortal study whose SUBTYPE has "
             "three classes: the train error names the study", "train", "{dir} (its clinical attribute files): "
             "target column 'SUBTYPE' has 3 classes ('type_0', 'type_1', 'type_2')",
             lambda directory: {**_study("meta_study.txt", lambda text: text)(directory), "task": "binary"},
             cli=False),
]


#: The model settings of both test modules: :data:`~tests.conftest.FAST_MODEL`, shorter.
QUICK_MODEL = {**FAST_MODEL, "pretrain_steps": 60, "joint_steps": 10, "max_rounds": 2}
#: What each stage writes, per cohort (relative to results/<cohort>/): must be absent after an error.
STAGE_OUTPUTS = {
    "import": ["input"],
    "predict": ["normalized.h5ad", "clusters.tsv", "overlap.tsv"],
    "normalize": ["normalized.h5ad"],
    "train": ["model", "embedding.h5ad", "tuning.tsv", "k_selection.tsv", "fits.tsv", "plots/training_history.png"],
    "validate": ["validation_folds", "validation"],
    "survival": ["survival"],
    "genes": ["gene_importance.tsv", "markers.tsv"],
}


def write_cases(directory: Path) -> Path:
    """Every case's files under ``directory/data/<case>/`` (and an unbroken cohort in ``data/good/``);
    ``directory/entries.json`` holds their config entries. Returns ``directory``."""
    with contextlib.chdir(directory):
        entries = {case.name: case.build(Path("data") / case.name) for case in CASES}
        entries["good"] = write_cohort(Path("data") / "good")
    (directory / "entries.json").write_text(json.dumps(entries))
    return directory


def case_entry(workdir: Path, name: str) -> dict[str, Any]:
    """The config entry of case ``name`` (or ``good``), as :func:`write_cases` wrote it in ``workdir``."""
    return json.loads((workdir / "entries.json").read_text())[name]


def skip_where_available(case: BadInput) -> None:
    """Skip a case of a device this machine has (``device: cuda`` where torch sees a GPU)."""
    import pytest
    import torch

    if case.settings.get("device", "cpu").startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the case is a machine without it")


def case_source(workdir: Path, case: BadInput) -> str:
    """What an import case reads: ``cbioportal`` or ``geo``."""
    return "geo" if "geo" in case_entry(workdir, case.name) else "cbioportal"


def markdown_table() -> str:
    """``docs/bad-inputs.md``: the catalogue as a table."""
    lines = [
        "# Bad inputs: what each one gets",
        "",
        "Every case below is a test: `tests/bad_inputs.py` writes the broken cohort, `tests/unit/test_bad_inputs.py`",
        "runs it through the `deepsubtype` command and `tests/workflow/test_bad_inputs.py` through `snakemake`;",
        "both check the one-line message and that",
        "the stage left no output behind. Errors stop with exit status 2 (`deepsubtype`) or a failed job whose log",
        "ends with the message (`snakemake`); warnings are logged and the run goes on. `data/<case>/` holds the",
        "case's input files and `results/<case>/` its outputs, as in a pipeline run.",
        "Regenerate with `python -m tests.bad_inputs > docs/bad-inputs.md`.",
        "",
        f"{len(CASES)} cases.",
        "",
        "| # | input | stage | outcome | message | test |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for number, case in enumerate(CASES, 1):
        entry_points = [name for name, used in (("cli", case.cli), ("snakemake", case.snakemake)) if used]
        tests = ", ".join(f"`test_{point}[{case.name}]`" for point in entry_points)
        messages = {case.expected(point) for point in entry_points}
        message = " / ".join(f"`{text}`" for text in sorted(messages)).replace("|", "\\|")
        lines.append(f"| {number} | {case.input} | {case.stage} | {case.outcome} | {message} | {tests} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")

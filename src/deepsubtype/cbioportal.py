"""Reading a cBioPortal study folder (as docs.cbioportal.org/file-formats defines it) into the pair every
other stage reads: an expression matrix (samples x genes) and one clinical table indexed by sample.

What a study folder holds and how it is read:

- ``meta_*.txt`` files, ``key: value`` lines. An expression profile is a meta file with
  ``genetic_alteration_type: MRNA_EXPRESSION`` (or ``PROTEIN_LEVEL``, ``METHYLATION``); it is chosen by its
  ``stable_id`` (``mrna``, ``rna_seq_v2_mrna``; the portal's ``<study>_mrna`` form too) or its
  ``data_filename``. One profile of those kinds is taken without being named.
- The profile's data file: genes x samples, tab-separated, with ``Hugo_Symbol`` and/or ``Entrez_Gene_Id``
  before the sample columns (``NA`` or empty = missing). A gene is its symbol; a row without one takes its
  Entrez id (``Entrez:<id>``); a row with neither is dropped. Rows that share a symbol are collapsed to the
  one with the largest variance across samples (the rule most array studies use for probes). All of it is
  counted and named in :attr:`ImportedCohort.report` and in the log.
- ``data_clinical_patient.txt`` and ``data_clinical_sample.txt`` (or the files their meta files name):
  four ``#`` header lines (display name, description, datatype, priority), then a header of attribute ids.
  Samples are joined to patients through ``PATIENT_ID``; a sample whose patient is missing from the
  patient file is an error. Cells such as ``[Not Available]`` are missing.
- The attribute used as the survival event (``event_column``: ``OS_STATUS``, ``DFS_STATUS``, ...) must carry
  cBioPortal's code (``1:DECEASED``, ``0:LIVING``) or read 0/1; an uncoded value is an error naming patient and
  value. Every other attribute, ``*_STATUS`` ones included (``VITAL_STATUS: Living``, ``ER_STATUS: Positive``),
  is plain text.
- ``case_lists/*.txt``: ``case_list_ids`` restricts the samples when ``case_list`` names one by its
  ``stable_id`` (with or without the study prefix) or file name.
- Analysis units are tumour samples; survival belongs to patients. A sample's type is its ``SAMPLE_TYPE``
  attribute where that names one (``Primary``, ``Metastasis``, ``Recurrence``, ``Normal``, ...), else the TCGA
  sample-type code, the two digits after the patient id in the sample id (``TCGA-A1-A0SB-01A``, ``PT-7-11``):
  01-09 tumour, 10-19 normal, 20-29 control. Normal and control samples are dropped; a patient with several
  tumour samples keeps the one of the lowest code (01, the primary tumour, first), so no patient counts twice
  in a survival test and no normal sample becomes a class. A patient whose samples no type tells apart is an
  error naming the patients. Every sample dropped is named, with its type, in the log and the report.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from .errors import InputError
from .io import ImportedCohort, most_variable_per_name
from .tables import CELL_MISSING, clean_ids, clean_labels, examples, leading_comment_lines, parser_errors_named

__all__ = ["read_study", "study_files"]

logger = logging.getLogger(__name__)

#: Profile kinds whose data files are continuous genes x samples matrices.
EXPRESSION_KINDS = ("MRNA_EXPRESSION", "PROTEIN_LEVEL", "METHYLATION")
#: Columns of a profile's data file that are not samples.
_GENE_COLUMNS = ("Hugo_Symbol", "Entrez_Gene_Id", "Composite.Element.REF")
#: cBioPortal's placeholders for missing clinical values, on top of the usual missing tokens.
_CLINICAL_MISSING = [*CELL_MISSING, "[Not Available]", "[Not Applicable]", "[Unknown]", "[Not Evaluated]",
                     "[Discrepancy]", "[Completed]", "[Not Reported]", "[Pending]"]
#: A value of the survival event attribute: cBioPortal's ``1:DECEASED``/``0:LIVING``, or a bare 0/1.
_CODED_STATUS = re.compile(r"^\s*[01]\s*(:|$)")
#: Words of a ``SAMPLE_TYPE`` value (lower-cased) and the TCGA sample-type code each stands for, tried in order.
_SAMPLE_TYPE_WORDS = (("normal", 11), ("control", 20), ("metasta", 6), ("recurren", 2), ("primary", 1))
#: The TCGA sample-type code in a sample id: two digits right after the patient id (``-01A``, ``-11``).
_CODE_AFTER_PATIENT = re.compile(r"-(\d{2})(?!\d)")
#: What TCGA sample-type codes stand for: 01-09 tumour, 10-19 normal, 20-29 control (other codes: unknown).
_CODE_KINDS = {**dict.fromkeys(range(1, 10), "tumour"), **dict.fromkeys(range(10, 20), "normal"),
               **dict.fromkeys(range(20, 30), "control")}


def _meta(path: Path) -> dict[str, str]:
    """A meta or case-list file's ``key: value`` lines (the value may hold further colons)."""
    fields = {}
    with parser_errors_named(path):
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            key, colon, value = line.partition(":")
            if colon and key.strip():
                fields[key.strip()] = value.strip()
    return fields


def _metas(folder: Path) -> dict[Path, dict[str, str]]:
    if not folder.is_dir():
        raise InputError(f"{folder}: not a cBioPortal study folder (no such directory)")
    metas = {path: _meta(path) for path in sorted(folder.glob("meta_*.txt"))}
    if not metas:
        raise InputError(f"{folder}: no meta_*.txt file: not a cBioPortal study folder")
    return metas


def _profile(folder: Path, metas: dict[Path, dict[str, str]], profile: str | None) -> tuple[Path, dict[str, str]]:
    """(data file, meta fields) of the expression profile named ``profile`` (None: the only one)."""
    study = next((meta.get("cancer_study_identifier", "") for meta in metas.values()
                  if meta.get("cancer_study_identifier")), "")
    candidates = {path: meta for path, meta in metas.items()
                  if meta.get("genetic_alteration_type", "").upper() in EXPRESSION_KINDS}
    names = ", ".join(f"{meta.get('stable_id', '?')} ({meta.get('data_filename', '?')})"
                      for meta in candidates.values()) or "none"
    if profile is None:
        if len(candidates) != 1:
            raise InputError(f"{folder}: {len(candidates)} expression profiles ({names}); name one with "
                             "cbioportal.profile")
        path, meta = next(iter(candidates.items()))
    else:
        chosen = [(path, meta) for path, meta in candidates.items()
                  if profile in (meta.get("stable_id"), f"{study}_{meta.get('stable_id')}", meta.get("data_filename"))]
        if not chosen:
            raise InputError(f"{folder}: no expression profile {profile!r} (profiles: {names})")
        path, meta = chosen[0]
    if "data_filename" not in meta:
        raise InputError(f"{path}: no data_filename line")
    return folder / meta["data_filename"], {**meta, "meta_file": path.name}


def _clinical_file(folder: Path, metas: dict[Path, dict[str, str]], kind: str) -> Path | None:
    """The ``PATIENT`` or ``SAMPLE`` attributes file: the one its meta file names, else the usual name."""
    for meta in metas.values():
        if (meta.get("genetic_alteration_type", "").upper() == "CLINICAL"
                and meta.get("datatype", "").upper() == f"{kind}_ATTRIBUTES" and "data_filename" in meta):
            return folder / meta["data_filename"]
    default = folder / f"data_clinical_{kind.lower()}.txt"
    return default if default.exists() else None


def study_files(folder: str | Path, profile: str | None = None, case_list: str | None = None) -> list[Path]:
    """Every file :func:`read_study` reads for this profile and case list (a workflow's inputs)."""
    folder = Path(folder)
    metas = _metas(folder)
    data, meta = _profile(folder, metas, profile)
    clinical = [path for kind in ("PATIENT", "SAMPLE") if (path := _clinical_file(folder, metas, kind))]
    cases = [_case_list_file(folder, case_list)[0]] if case_list else []
    return [folder / meta["meta_file"], data, *clinical, *cases]


def _read_attributes(path: Path, id_column: str) -> pd.DataFrame:
    """A clinical attributes file past its ``#`` header lines, indexed by ``id_column``, missing cells NaN."""
    skip = leading_comment_lines(path)
    with parser_errors_named(path):
        frame = pd.read_csv(path, sep="\t", skiprows=skip, dtype=str, keep_default_na=False,
                            na_values=_CLINICAL_MISSING, encoding="utf-8-sig")
    frame.columns = clean_ids(frame.columns, path, "column")
    if id_column not in frame.columns:
        raise InputError(f"{path}: no {id_column} column (columns: {examples(frame.columns, 6)})")
    if frame[id_column].isna().any():
        row = int(np.flatnonzero(frame[id_column].isna())[0])
        raise InputError(f"{path}: empty {id_column} in data row {row + 1}")
    frame = frame.set_index(id_column)
    frame.index = clean_ids(frame.index, path, id_column)
    if frame.index.has_duplicates:
        raise InputError(f"{path}: duplicate {id_column} {frame.index[frame.index.duplicated()][0]!r}")
    frame.index.name = None
    return clean_labels(frame, path)


def _check_event_codes(frame: pd.DataFrame, path: Path, what: str, event_column: str | None) -> None:
    """The survival event attribute, where ``frame`` holds it, must carry cBioPortal's ``0:``/``1:`` code (or read
    0/1); other status attributes are plain text."""
    if event_column not in frame.columns:
        return
    values = frame[event_column].dropna().astype(str)
    uncoded = values[~values.str.match(_CODED_STATUS)]
    if len(uncoded):
        raise InputError(f"{path}: {event_column} value {uncoded.iloc[0]!r} of {what} {uncoded.index[0]!r} has no "
                         f"0:/1: code (cBioPortal writes e.g. 1:DECEASED, 0:LIVING; {len(uncoded)} such values); "
                         "survival.event must name a coded status attribute such as OS_STATUS")


def _case_list_file(folder: Path, name: str) -> tuple[Path, dict[str, str]]:
    lists = {path: _meta(path) for path in sorted((folder / "case_lists").glob("*.txt"))}
    for path, meta in lists.items():
        stable_id = meta.get("stable_id", "")
        study = meta.get("cancer_study_identifier", "")
        if name in (stable_id, stable_id.removeprefix(f"{study}_"), path.name, path.stem):
            if "case_list_ids" not in meta:
                raise InputError(f"{path}: no case_list_ids line")
            return path, meta
    known = ", ".join(meta.get("stable_id", path.name) for path, meta in lists.items()) or "none"
    raise InputError(f"{folder}: no case list {name!r} in case_lists/ (case lists: {known})")


def _read_profile(path: Path) -> tuple[np.ndarray, pd.Index, pd.DataFrame]:
    """(values genes x samples float32, sample ids, gene id columns) of a profile's data file."""
    if not path.exists():
        raise InputError(f"{path}: the profile's data file does not exist")
    with parser_errors_named(path):
        header = pd.read_csv(path, sep="\t", nrows=0, encoding="utf-8-sig").columns
        # missing tokens in sample columns only: a gene may be called "NA" in no table, but keep ids as written
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8-sig",
                            na_values={name: CELL_MISSING for name in header if name not in _GENE_COLUMNS})
    frame.columns = clean_ids(frame.columns, path, "column")
    id_columns = [column for column in frame.columns if column in _GENE_COLUMNS]
    if not {"Hugo_Symbol", "Entrez_Gene_Id"} & set(id_columns):
        raise InputError(f"{path}: neither a Hugo_Symbol nor an Entrez_Gene_Id column (columns: "
                         f"{examples(frame.columns, 4)})")
    samples = frame.columns.drop(id_columns)
    if samples.has_duplicates:
        raise InputError(f"{path}: duplicate sample column {samples[samples.duplicated()][0]!r}")
    if len(samples) == 0:
        raise InputError(f"{path}: no sample columns")
    values = frame[samples].apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & frame[samples].notna()
    if bad.to_numpy().any():
        row, column = (int(position[0]) for position in np.nonzero(bad.to_numpy()))
        gene = frame["Hugo_Symbol"].iloc[row] if "Hugo_Symbol" in frame else frame["Entrez_Gene_Id"].iloc[row]
        raise InputError(f"{path}: non-numeric value {frame[samples].iat[row, column]!r} for sample "
                         f"{samples[column]!r} at gene {gene!r}")
    return values.to_numpy(np.float32), samples, frame[id_columns]


def _gene_names(ids: pd.DataFrame, values: np.ndarray, path: Path,
                report: dict[str, Any]) -> tuple[np.ndarray, pd.Index]:
    """Rows kept and their gene names: symbol, else ``Entrez:<id>``; one row per symbol (largest variance)."""
    empty = pd.Series("", index=ids.index)
    symbol = ids.get("Hugo_Symbol", empty).str.strip()
    entrez = ids.get("Entrez_Gene_Id", empty).str.strip()
    symbol = symbol.where(~symbol.isin(["", "NA"]))  # "NA": how R writes a missing symbol
    entrez = entrez.where(~entrez.isin(["", "0", "NA"]))
    names = symbol.where(symbol.notna(), "Entrez:" + entrez)
    unnamed = names.isna().to_numpy()
    by_entrez = int((symbol.isna() & entrez.notna()).sum())
    if unnamed.all():
        raise InputError(f"{path}: no row has a Hugo_Symbol or an Entrez_Gene_Id")
    if unnamed.any():
        logger.warning("%s: %d rows have neither a Hugo_Symbol nor an Entrez_Gene_Id: dropped", path, unnamed.sum())
    if by_entrez:
        logger.warning("%s: %d rows without a Hugo_Symbol are named by their Entrez id (e.g. %s)", path, by_entrez,
                       examples(names[symbol.isna() & entrez.notna()]))
    kept = most_variable_per_name(values, names)
    named = names.dropna()
    duplicated = named[named.duplicated()].unique()
    collapsed = len(named) - len(kept)
    if len(duplicated):
        logger.warning("%s: %d gene symbols on several rows (e.g. %s): the row with the largest variance kept, "
                       "%d rows dropped", path, len(duplicated), examples(duplicated), collapsed)
    report.update(rows=int(len(names)), rows_without_gene=int(unnamed.sum()), rows_named_by_entrez=by_entrez,
                  symbols_on_several_rows=int(len(duplicated)), rows_collapsed=int(collapsed),
                  collapse_rule="the row with the largest variance across samples", genes=int(len(kept)))
    return kept.index.to_numpy(), pd.Index(kept.astype(str))


def _attribute_tables(folder: Path, metas: dict[Path, dict[str, str]], event_column: str | None
                      ) -> tuple[Path, pd.DataFrame, Path | None, pd.DataFrame]:
    """The sample attributes (indexed by SAMPLE_ID, with PATIENT_ID) and the patient attributes (indexed by
    PATIENT_ID; empty without the file) with their paths, checked against each other and for the codes of the
    survival event attribute ``event_column``."""
    sample_path = _clinical_file(folder, metas, "SAMPLE")
    if sample_path is None:
        raise InputError(f"{folder}: no sample attributes file (data_clinical_sample.txt or a meta file naming one)")
    sample_table = _read_attributes(sample_path, "SAMPLE_ID")
    if "PATIENT_ID" not in sample_table.columns:
        raise InputError(f"{sample_path}: no PATIENT_ID column")
    if sample_table["PATIENT_ID"].isna().any():
        raise InputError(f"{sample_path}: sample {sample_table.index[sample_table['PATIENT_ID'].isna()][0]!r} "
                         "has no PATIENT_ID")
    sample_table["PATIENT_ID"] = sample_table["PATIENT_ID"].astype(str)
    patient_path = _clinical_file(folder, metas, "PATIENT")
    patient_table = _read_attributes(patient_path, "PATIENT_ID") if patient_path else pd.DataFrame()
    if patient_path is not None:
        _check_event_codes(patient_table, patient_path, "patient", event_column)
        orphans = sample_table.index[~sample_table["PATIENT_ID"].isin(patient_table.index)]
        if len(orphans):
            raise InputError(f"{sample_path}: sample {orphans[0]!r} has patient "
                             f"{sample_table.at[orphans[0], 'PATIENT_ID']!r}, who is not in {patient_path.name} "
                             f"({len(orphans)} such samples)")
        both = sample_table.columns.drop("PATIENT_ID").intersection(patient_table.columns)
        if len(both):
            raise InputError(f"{sample_path}: attribute {both[0]!r} is in {patient_path.name} too; cBioPortal keeps "
                             "each attribute in one of the two files")
    _check_event_codes(sample_table, sample_path, "sample", event_column)

    return sample_path, sample_table, patient_path, patient_table


def _listed_samples(folder: Path, case_list: str, samples: pd.Index, data_path: Path,
                    report: dict[str, Any]) -> pd.Index:
    """The profiled ``samples`` that the case list ``case_list`` names (its file and the count left out go in
    ``report``)."""
    case_path, case_meta = _case_list_file(folder, case_list)
    listed = pd.Index([value for value in re.split(r"[\t ,]+", case_meta["case_list_ids"]) if value])
    absent = listed.difference(samples, sort=False)
    if len(absent):
        logger.warning("%s: %d listed samples are not in the profile (e.g. %s)", case_path, len(absent),
                       examples(absent))
    profiled = samples[samples.isin(listed)]
    report["case_list_file"] = case_path.name
    report["samples_not_in_case_list"] = int(len(samples) - len(profiled))
    if len(profiled) == 0:
        raise InputError(f"{case_path}: none of its samples is in the profile {data_path.name}")
    return profiled


def _sample_type_code(sample: str, patient: str, sample_type: object) -> int | None:
    """A sample's TCGA sample-type code: from its ``SAMPLE_TYPE`` value where that names a type, else the two
    digits after the patient id in its id; None when neither says (or the code is not one of 01-29)."""
    text = sample_type.casefold() if isinstance(sample_type, str) else ""
    code = next((code for word, code in _SAMPLE_TYPE_WORDS if word in text), None)
    if code is None and sample.startswith(patient):
        match = _CODE_AFTER_PATIENT.match(sample, len(patient))
        code = int(match.group(1)) if match else None
    return code if code in _CODE_KINDS else None


def _one_tumour_per_patient(profiled: pd.Index, sample_table: pd.DataFrame, sample_path: Path,
                            report: dict[str, Any]) -> pd.Index:
    """The ``profiled`` samples kept, one tumour per patient (see the module): normal and control samples
    dropped, then each patient's tumour of the lowest sample-type code. Every sample dropped is named in the
    log and in ``report``; patients whose samples no type tells apart are refused, named."""
    attributes = sample_table.loc[profiled]
    types = attributes.get("SAMPLE_TYPE", pd.Series(np.nan, index=profiled))
    codes = pd.Series([_sample_type_code(sample, patient, value) for sample, patient, value
                       in zip(profiled, attributes["PATIENT_ID"], types, strict=True)], index=profiled, dtype=float)
    described = {sample: f"{_CODE_KINDS[int(code)]} {int(code):02d}" for sample, code in codes.dropna().items()}
    not_tumour = profiled[codes.ge(10).to_numpy()]
    if len(not_tumour):
        logger.warning("%s: %d normal or control samples dropped (a subtype is a tumour's; type from SAMPLE_TYPE, "
                       "else the sample-type code after the patient id): %s", sample_path, len(not_tumour),
                       ", ".join(f"{sample} ({described[sample]})" for sample in not_tumour))
    tumours = profiled.difference(not_tumour, sort=False)
    if len(tumours) == 0:
        raise InputError(f"{sample_path}: every profiled sample is a normal or control sample (e.g. "
                         f"{not_tumour[0]!r}: {described[not_tumour[0]]}); there is no tumour to subtype")
    patients = attributes.loc[tumours, "PATIENT_ID"]
    several = patients[patients.duplicated(keep=False).to_numpy()]
    undecided, others = [], []
    for patient, samples in several.groupby(several, sort=False).groups.items():
        ranks = codes[samples]
        if ranks.isna().any() or int((ranks == ranks.min()).sum()) > 1:
            undecided.append(f"{patient} ({', '.join(samples)})")
        else:
            others += [sample for sample in samples if ranks[sample] != ranks.min()]
    if undecided:
        raise InputError(f"{sample_path}: {len(undecided)} patients have several profiled samples that neither "
                         "SAMPLE_TYPE nor a sample-type code after the patient id (TCGA: -01 primary tumour, -11 "
                         f"normal) tells apart: {'; '.join(undecided)}; give those samples a SAMPLE_TYPE (Primary, "
                         "Metastasis, Normal) or name a case list of one sample per patient (cbioportal.case_list)")
    if others:
        logger.warning("%s: %d patients have several tumour samples: each keeps its primary tumour (the lowest "
                       "sample-type code), dropped: %s", sample_path, patients[others].nunique(),
                       ", ".join(f"{sample} ({described[sample]})" for sample in others))
    report.update(samples_dropped_not_tumour={str(sample): described[sample] for sample in not_tumour},
                  samples_dropped_same_patient=[str(sample) for sample in others],
                  sample_type_rule="SAMPLE_TYPE, else the TCGA sample-type code after the patient id (01-09 tumour, "
                                   "10-19 normal, 20-29 control); normal and control samples dropped; per patient "
                                   "the tumour of the lowest code (01 primary first)")
    return tumours.difference(pd.Index(others), sort=False)


def read_study(folder: str | Path, *, profile: str | None = None, case_list: str | None = None,
               event_column: str | None = None) -> ImportedCohort:
    """Read a cBioPortal study folder: the expression profile ``profile`` (a stable id or data file name;
    None = the study's only expression profile) of the samples of ``case_list`` (None = every profiled
    sample), one tumour sample per patient, with sample and patient attributes joined per sample;
    ``event_column``, the attribute used as the survival event, must carry cBioPortal's 0:/1: code. Raises
    :class:`InputError` with one line naming the file and the sample, patient, column or value at fault."""
    folder = Path(folder)
    metas = _metas(folder)
    data_path, meta = _profile(folder, metas, profile)
    report: dict[str, Any] = {"study": str(folder), "profile": meta.get("stable_id"),
                              "profile_name": meta.get("profile_name"), "data_file": data_path.name,
                              "datatype": meta.get("datatype"), "case_list": case_list}
    values, samples, ids = _read_profile(data_path)
    rows, genes = _gene_names(ids, values, data_path, report)
    values = values[rows]

    sample_path, sample_table, patient_path, patient_table = _attribute_tables(folder, metas, event_column)
    profiled = samples if case_list is None else _listed_samples(folder, case_list, samples, data_path, report)
    unknown = profiled.difference(sample_table.index, sort=False)
    if len(unknown):
        raise InputError(f"{data_path}: sample {unknown[0]!r} is not in {sample_path.name} ({len(unknown)} such "
                         "samples)")
    keep = _one_tumour_per_patient(profiled, sample_table, sample_path, report)
    report.update(samples_in_profile=int(len(samples)), samples=int(len(keep)), patients=int(len(keep)))

    columns = samples.get_indexer(keep)
    expression = ad.AnnData(X=np.ascontiguousarray(values[:, columns].T), obs=pd.DataFrame(index=keep),
                            var=pd.DataFrame(index=genes))
    clinical = sample_table.loc[keep]
    if patient_path is not None:
        clinical = clinical.join(patient_table, on="PATIENT_ID")
    clinical.index.name = "SAMPLE_ID"
    logger.info("%s: profile %s (%s), %d samples of %d patients x %d genes", folder, meta.get("stable_id"),
                data_path.name, expression.n_obs, len(keep), expression.n_vars)
    return ImportedCohort(expression=expression, clinical=clinical, report=report)

"""Reading a GEO series matrix (``GSExxxx_series_matrix.txt.gz``) into an expression matrix and a clinical table.

GEOparse, the maintained Python parser of GEO, reads SOFT files but not series matrices, so the format is read
here as GEO documents it: ``!Series_*`` lines about the series, ``!Sample_*`` lines with one tab-separated,
quoted cell per sample, and the probes x samples table between ``!series_matrix_table_begin`` and
``!series_matrix_table_end`` (header ``ID_REF`` then the samples' GSM accessions; ``null`` or empty = missing).

- Clinical columns: each ``!Sample_characteristics_ch1`` line holds ``key: value`` cells (one line per key,
  though submitters mix keys within a line, so each cell is read by its own key); a non-empty cell without
  ``key:`` goes to ``characteristics_ch1_<line>``. Keys that differ only by case (``Subtype:``, ``subtype:``)
  are one column, named by the spelling most samples use (logged, and listed in the report); a sample with two
  different values for one key is an error naming the sample and the keys. ``title``, ``source_name_ch1`` and
  the other single-valued ``!Sample_`` fields are kept as columns too. Sample ids are the GSM accessions.
- A file whose table has no ``!series_matrix_table_end`` line was cut off (a partial download): an error
  saying so, not a matrix of the probes that arrived.
- Probes to genes, given the platform's annotation table (GEO's "full table" download of the GPL: ``#`` lines,
  then a header with ``ID`` and a gene-symbol column): a probe is its symbol; probes without one, and probes
  annotated with several genes (``A /// B``), are dropped; a gene measured by several probes keeps its most
  variable probe. Without a platform table the probe ids are the gene ids. Every count is in the report.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from .errors import InputError
from .io import ImportedCohort, most_variable_per_name
from .tables import CELL_MISSING, clean_labels, examples, leading_comment_lines, open_text, parser_errors_named

__all__ = ["read_series_matrix", "SYMBOL_COLUMNS"]

logger = logging.getLogger(__name__)

#: Gene-symbol columns of GEO platform tables, tried in this order when ``gene_column`` is not given.
SYMBOL_COLUMNS = ("Gene Symbol", "GENE_SYMBOL", "Symbol", "SYMBOL", "gene_symbol", "Gene symbol", "ORF")
_TABLE_BEGIN, _TABLE_END = "!series_matrix_table_begin", "!series_matrix_table_end"
#: Cells read as missing: they never conflict with a value of the same key.
_MISSING_CELLS = frozenset([*CELL_MISSING, "null"])


def _cells(line: str) -> list[str]:
    return [cell.strip().strip('"').strip() for cell in line.rstrip("\n").split("\t")[1:]]


def _characteristics(lines: list[tuple[str, list[str]]], accessions: list[str], path: Path,
                     report: dict[str, Any]) -> dict[str, list[str | None]]:
    """The cells of the ``!Sample_characteristics_*`` lines by key, one column per key regardless of its case
    (named by the spelling most samples use; the joins logged and put in ``report``); a sample with two
    different values for one key is refused."""
    values: dict[str, list[str | None]] = {}
    spellings: dict[str, list[str | None]] = {}  # per column, each sample's key as written
    for number, (line, cells) in enumerate(lines):
        name = line.removeprefix("!Sample_")
        if not name.startswith("characteristics_"):
            continue
        for sample, cell in enumerate(cells):
            if not cell:  # a line of one key leaves the samples without it empty
                continue
            label, colon, value = cell.partition(":")
            key, text = (label.strip(), value.strip()) if colon and label.strip() else (f"{name}_{number}", cell)
            column = values.setdefault(key.casefold(), [None] * len(accessions))
            written = spellings.setdefault(key.casefold(), [None] * len(accessions))
            previous = column[sample]
            if previous not in (None, *_MISSING_CELLS) and text not in _MISSING_CELLS and text != previous:
                raise InputError(f"{path}: sample {accessions[sample]!r} has two values for one characteristic: "
                                 f"'{written[sample]}: {previous}' and '{key}: {text}' (keys are read regardless "
                                 "of case); edit its !Sample_characteristics_ch1 cells so that one remains")
            if previous in (None, *_MISSING_CELLS):
                column[sample], written[sample] = text, key
    named = {}
    for folded, column in values.items():
        counts = Counter(key for key in spellings[folded] if key is not None)
        name = counts.most_common(1)[0][0]
        if len(counts) > 1:
            logger.warning("%s: characteristics keys %s differ only by case: joined into one column %r (samples "
                           "per key: %s)", path, ", ".join(repr(key) for key in counts), name,
                           ", ".join(f"{key} {count}" for key, count in counts.items()))
            report.setdefault("characteristics_joined", {})[name] = list(counts)
        named[name] = column
    return named


def _sample_table(lines: list[tuple[str, list[str]]], path: Path, report: dict[str, Any]) -> pd.DataFrame:
    """The ``!Sample_*`` lines as one row per sample: characteristics by key (:func:`_characteristics`), other
    fields by name."""
    accessions = next((cells for key, cells in lines if key == "!Sample_geo_accession"), None)
    if accessions is None:
        raise InputError(f"{path}: no !Sample_geo_accession line: not a GEO series matrix")
    for key, cells in lines:
        if len(cells) != len(accessions):
            raise InputError(f"{path}: line {key} has {len(cells)} cells for {len(accessions)} samples")
    characteristics = _characteristics(lines, accessions, path, report)
    columns: dict[str, list[Any]] = {}
    for key, cells in lines:
        name = key.removeprefix("!Sample_")
        if name.startswith("characteristics_"):
            columns.update(characteristics)  # where the first characteristics line is
        elif name != "geo_accession" and name not in columns:  # repeated fields (e.g. contact lines): the first
            columns[name] = cells
    table = pd.DataFrame(columns, index=pd.Index(accessions, name="sample"))
    table = table.mask(table.isin(list(_MISSING_CELLS)))  # mask: replace re-types a column left all missing
    return clean_labels(table, path)


def _read(path: Path, report: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """(probes x samples values, samples x fields, series fields) of a series matrix; what the sample table
    joined goes in ``report``."""
    sample_lines: list[tuple[str, list[str]]] = []
    series: dict[str, str] = {}
    table_lines: list[str] = []
    with parser_errors_named(path), open_text(path) as handle:
        inside = ended = False
        for line in handle:
            if line.startswith(_TABLE_BEGIN):
                inside = True
            elif line.startswith(_TABLE_END):
                inside, ended = False, True
            elif inside:
                table_lines.append(line)
            elif line.startswith("!Sample_"):
                sample_lines.append((line.split("\t", 1)[0], _cells(line)))
            elif line.startswith("!Series_"):
                series.setdefault(line.split("\t", 1)[0].removeprefix("!Series_"), " ".join(_cells(line)))
    if not table_lines:
        raise InputError(f"{path}: no data table between {_TABLE_BEGIN} and {_TABLE_END}")
    if not ended:
        raise InputError(f"{path}: truncated: {len(table_lines) - 1} table rows read and no {_TABLE_END} line after "
                         "them (the download was cut off); download the series matrix again")
    with parser_errors_named(path):
        text = pd.read_csv(io.StringIO("".join(table_lines)), sep="\t", dtype=str, quotechar='"',
                           keep_default_na=False)
    if text.columns[0] != "ID_REF":
        raise InputError(f"{path}: the data table starts with {text.columns[0]!r}, not ID_REF")
    text = text.set_index("ID_REF")
    text = text.mask(text.isin([*CELL_MISSING, "null"]))
    values = text.apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & text.notna()
    if bad.to_numpy().any():
        row, column = (int(position[0]) for position in np.nonzero(bad.to_numpy()))
        raise InputError(f"{path}: non-numeric value {text.iat[row, column]!r} for sample {text.columns[column]!r} "
                         f"at probe {text.index[row]!r}")
    return values, _sample_table(sample_lines, path, report), series


def _platform_symbols(path: Path, gene_column: str | None) -> tuple[pd.Series, str]:
    """Probe id -> gene symbol (text, possibly empty) from a GEO platform table, and the column used; a SOFT
    file (``^PLATFORM``, ``!Platform_`` lines) given instead is refused, naming the table expected."""
    skip = leading_comment_lines(path)
    with parser_errors_named(path), open_text(path) as handle:
        first = next((line for number, line in enumerate(handle) if number == skip), "")
    if first.startswith(("^", "!Platform_", "!platform_")):
        raise InputError(f"{path}: a GEO SOFT file (it starts {first.split(' =')[0].strip()!r}), not a platform "
                         "table: give the platform's full table (on the GPL's GEO page, 'Download full table': "
                         "tab-separated, with an ID and a gene symbol column)")
    with parser_errors_named(path):
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, skiprows=skip)
    if "ID" not in table.columns:
        raise InputError(f"{path}: no ID column in the platform table (columns: {examples(table.columns, 5)})")
    column = gene_column or next((name for name in SYMBOL_COLUMNS if name in table.columns), None)
    if column is None or column not in table.columns:
        raise InputError(f"{path}: no gene symbol column{f' {gene_column!r}' if gene_column else ''} (columns: "
                         f"{examples(table.columns, 8)}); name it with geo.gene_column")
    return table.set_index("ID")[column].str.strip(), column


def _probes_to_genes(values: pd.DataFrame, symbols: pd.Series, platform: Path,
                     report: dict[str, Any]) -> pd.DataFrame:
    """One row per gene: each probe's symbol, single-gene probes only, the most variable probe per gene."""
    symbol = symbols.reindex(values.index).fillna("")
    unknown = ~values.index.isin(symbols.index)
    several = symbol.str.contains("///", regex=False)
    without = (symbol == "") | symbol.isin(["---", "NA"])
    keep = ~(without | several)
    if not keep.any():
        hint = "; name a column of one gene per probe with geo.gene_column" if several.any() else ""
        raise InputError(f"{platform}: no probe of the series matrix maps to one gene (of its {len(values)} probes, "
                         f"{int(unknown.sum())} are not in the platform table, {int(without.sum())} have no symbol, "
                         f"{int(several.sum())} map to several genes ('A /// B')){hint}")
    chosen = most_variable_per_name(values.to_numpy(np.float64), symbol.where(keep))
    report.update(probes=int(len(values)), probes_not_in_platform=int(unknown.sum()),
                  probes_without_gene=int(without.sum()), probes_with_several_genes=int(several.sum()),
                  probes_collapsed=int(keep.sum() - len(chosen)), genes=int(len(chosen)),
                  collapse_rule="the probe with the largest variance across samples per gene")
    logger.warning("%s: %d probes -> %d genes: %d without a gene symbol (%d not in the platform table) and %d "
                   "annotated with several genes dropped; %d probes of genes measured twice or more dropped (the "
                   "most variable kept)", platform, len(values), len(chosen), without.sum(), unknown.sum(),
                   several.sum(), keep.sum() - len(chosen))
    genes = values.loc[chosen.index]
    genes.index = pd.Index(chosen.astype(str))
    return genes


def read_series_matrix(path: str | Path, *, platform: str | Path | None = None,
                       gene_column: str | None = None) -> ImportedCohort:
    """Read a GEO series matrix: samples x genes (probes collapsed to genes when the ``platform`` table is
    given, by its ``gene_column``; None = the first of :data:`SYMBOL_COLUMNS` present) and one clinical row per
    sample (GSM accession), its characteristics by key. Raises :class:`InputError` naming the file and the
    line, sample or probe at fault."""
    path = Path(path)
    report: dict[str, Any] = {"series_matrix": str(path)}
    values, samples, series = _read(path, report)
    absent = values.columns.difference(samples.index, sort=False)
    if len(absent):
        raise InputError(f"{path}: sample {absent[0]!r} of the data table has no !Sample_geo_accession entry")
    report.update(series=series.get("geo_accession"), platform_id=series.get("platform_id"),
                  samples=int(values.shape[1]))
    if values.index.has_duplicates:
        raise InputError(f"{path}: probe {values.index[values.index.duplicated()][0]!r} on two rows")
    if platform is not None:
        symbols, column = _platform_symbols(Path(platform), gene_column)
        report.update(platform_table=str(platform), gene_column=column)
        values = _probes_to_genes(values, symbols, Path(platform), report)
    else:
        report.update(probes=int(len(values)), genes=int(len(values)), gene_ids="probe ids (no platform table)")
        logger.warning("%s: no platform table: the %d probe ids are the gene ids", path, len(values))
    expression = ad.AnnData(X=np.ascontiguousarray(values.to_numpy(np.float32).T),
                            obs=pd.DataFrame(index=pd.Index(values.columns.astype(str))),
                            var=pd.DataFrame(index=values.index.astype(str)))
    clinical = samples.loc[expression.obs_names]
    report["clinical_columns"] = [str(name) for name in clinical.columns]
    logger.info("%s: %s, %d samples x %d genes, clinical columns %s", path, series.get("geo_accession", "?"),
                expression.n_obs, expression.n_vars, examples(clinical.columns, 8))
    return ImportedCohort(expression=expression, clinical=clinical, report=report)


"""Reading expression matrices and clinical tables into aligned AnnData objects.

Every reader raises :class:`InputError` with one line naming the file and the
offending column or sample, so that a pipeline run stops before writing output.

Text policy, applied to every id and label read (:func:`clean_ids`, :func:`clean_labels`): surrounding
whitespace is removed (and the ids or cells affected are named in a warning); an empty id is refused; ids
that become equal once stripped are refused; labels of one column that differ only by case are named in a
warning (they stay separate classes); sample ids of the two tables that differ only by case are refused.
Text files are read as UTF-8 (a byte-order mark is dropped).
"""

from __future__ import annotations

import gzip
import logging
import re
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

import anndata as ad
import numpy as np
import pandas as pd
from pandas.io.parsers import TextFileReader

from .errors import InputError

__all__ = [
    "InputError",
    "ImportedCohort",
    "Orientation",
    "read_expression",
    "read_clinical",
    "attach_clinical",
    "COHORT_NAME",
    "check_cohort_name",
]

logger = logging.getLogger(__name__)

Orientation = Literal["samples_x_genes", "genes_x_samples"]

_TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
#: Cells read as missing in clinical tables, on top of pandas' defaults.
MISSING_TOKENS = ["NA", "na", "N/A", "n/a", "NaN", "nan", "", "null", "NULL", "None", "."]
#: Missing tokens of every column but the id column: ours plus pandas' defaults (``keep_default_na``).
_CELL_MISSING = sorted({*MISSING_TOKENS, "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                        "1.#IND", "1.#QNAN", "<NA>"})
#: Cells per parsed chunk of a text matrix (2^22 float64 = 32 MB): bounds the parser's working memory.
_CHUNK_CELLS = 2**22
#: Cells per float32 slab collecting the chunks (2^24 = 64 MB, above glibc's largest mmap threshold, 32 MB).
_SLAB_CELLS = 2**24


@dataclass
class ImportedCohort:
    """A cohort read from a source that holds matrix and clinical data together (a cBioPortal study, a GEO
    series matrix): ``expression`` samples x genes (float32), ``clinical`` one row per sample of ``expression``,
    ``report`` what was read, dropped and collapsed (JSON-ready)."""

    expression: ad.AnnData
    clinical: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)


def open_text(path: Path) -> TextIO:
    """``path`` opened as UTF-8 text (gunzipped when it ends in ``.gz``); a missing file is an :class:`InputError`."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    return gzip.open(path, "rt", encoding="utf-8-sig") if path.suffix == ".gz" else path.open(encoding="utf-8-sig")


def leading_comment_lines(path: Path) -> int:
    """How many lines at the top of a text file (optionally gzipped) start with ``#`` (a cBioPortal clinical
    file's four header lines, the column notes of a GEO platform table)."""
    with _parser_errors_named(path), open_text(path) as handle:
        count = 0
        for line in handle:
            if not line.startswith("#"):
                break
            count += 1
    return count


def most_variable_per_name(values: np.ndarray, names: pd.Series) -> pd.Series:
    """Of the rows of ``values`` (rows x samples) that have a name (``names``, one per row, NaN = none), the one
    with the largest variance across samples per name (rows of missing values only rank last; ties: the first):
    the kept rows' names, in row order, indexed as ``names``. How probes or duplicate symbols become genes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row of missing values only: variance NaN
        variance = np.nan_to_num(np.nanvar(values, axis=1), nan=-1.0)
    named = np.flatnonzero(names.notna().to_numpy())
    by_variance = named[np.argsort(-variance[named], kind="stable")]
    first = ~pd.Series(names.to_numpy()[by_variance]).duplicated().to_numpy()
    return names.iloc[np.sort(by_variance[first])]


#: What a cohort name may be (it becomes a directory and a wildcard): no path separators, spaces or shell
#: characters. ``src/deepsubtype/schemas/config.schema.yaml`` holds the same pattern for the config check.
COHORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_cohort_name(name: str) -> str:
    """Return ``name`` if it matches :data:`COHORT_NAME`; raise :class:`InputError` otherwise."""
    if not COHORT_NAME.match(name):
        raise InputError(f"cohort name {name!r} does not match {COHORT_NAME.pattern} (letters, digits, '_', '.', "
                         "'-'; no path separators, spaces or shell characters)")
    return name


def _table_kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in {".gz", ".bz2", ".xz", ".zst"}:
        suffixes = suffixes[:-1]
    if not suffixes:
        raise InputError(f"{path}: cannot tell the format from the file name; "
                         "use .h5ad, .h5mu, .csv, .tsv, .txt or .parquet")
    return suffixes[-1]


def _check_exists(path: Path) -> None:
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")


def _separator(path: Path, kind: str) -> str:
    if kind not in _TEXT_SUFFIXES:
        raise InputError(f"{path}: unsupported format '{kind}'; use .h5ad, .h5mu, .csv, .tsv, .txt or .parquet")
    return _TEXT_SUFFIXES[kind]


def _first_duplicate(index: pd.Index) -> str:
    return str(index[index.duplicated()][0])


def _examples(values: object, limit: int = 3) -> str:
    """The first ``limit`` values as reprs, comma-separated, with ``...`` when there are more."""
    values = list(values)  # type: ignore[call-overload]
    shown = ", ".join(repr(value) for value in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def clean_ids(ids: pd.Index, path: str | Path, what: str) -> pd.Index:
    """``ids`` as text with surrounding whitespace removed (the ids changed are named in a warning).

    Raises :class:`InputError` naming ``path`` for an empty id (e.g. an empty header cell or a trailing
    separator) and for two ids that are equal once stripped (``'G5'`` and ``'G5 '``). ``what`` says what
    the ids are ("sample", "gene", "column").
    """
    text = pd.Index([str(value) for value in ids], dtype=object, name=ids.name)
    stripped = text.str.strip()
    empty = np.flatnonzero(stripped == "")
    if len(empty):
        raise InputError(f"{path}: empty {what} id at position {empty[0] + 1} of {len(text)} ({len(empty)} empty in "
                         f"all; an empty header cell or a trailing separator?)")
    changed = text[text != stripped]
    for value in stripped[stripped.duplicated()].unique():
        spellings = text[stripped == value].unique()
        if len(spellings) > 1:
            raise InputError(f"{path}: {what} ids {_examples(spellings, 2)} are the same id once surrounding "
                             f"whitespace is removed")
    if len(changed):
        logger.warning("%s: surrounding whitespace removed from %d %s ids (%s)", path, len(changed), what,
                       _examples(changed))
    return stripped


def clean_labels(frame: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Text cells of ``frame`` with surrounding whitespace removed (blank cells become missing), in place.

    Warns naming the cells changed, and, per column, the labels that differ only by case (``'A'``/``'a'``:
    kept as separate values).
    """
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values):
            continue
        text = values.map(lambda cell: cell.strip() if isinstance(cell, str) else cell)
        text = text.mask(text.map(lambda cell: cell == "" if isinstance(cell, str) else False))
        changed = values.notna() & (text.isna() | (text.astype(object) != values.astype(object)))
        if changed.any():
            logger.warning("%s: surrounding whitespace removed in %d cells of column %r (%s)", path,
                           int(changed.sum()), column, _examples(values[changed].unique()))
        numeric = pd.to_numeric(text, errors="coerce")
        if numeric.notna().sum() == text.notna().sum():
            frame[column] = numeric  # " 12" read as text only for its space
            continue
        frame[column] = text
        labels = pd.Series(text.dropna().unique()).astype(str)
        for _, spellings in labels.groupby(labels.str.casefold()):
            if len(spellings) > 1:
                logger.warning("%s: column %r has labels that differ only by case: %s (kept as separate values)",
                               path, column, _examples(sorted(spellings)))
    return frame


@contextmanager
def _parser_errors_named(path: Path) -> Iterator[None]:
    """Turn pandas' parser errors (ragged rows, an unclosed quote) into a one-line :class:`InputError`."""
    try:
        yield
    except pd.errors.ParserError as error:
        raise InputError(f"{path}: cannot parse the table: {' '.join(str(error).split())}") from error
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise InputError(f"{path}: not a readable {path.suffix} file ({' '.join(str(error).split())}): truncated, "
                         f"or not compressed despite its name?") from error
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.object[error.start:error.start + 1]!r} at offset "
                         f"{error.start}; Latin-1 or another encoding?): save it as UTF-8") from error


def _refuse_other_formats(path: Path, names: list[str], separator: str) -> None:
    """Name what a text table looks like when its header is one field: a web page, or another separator."""
    if names and names[0].lstrip().lower().startswith(("<!doctype html", "<html", "<?xml")):
        raise InputError(f"{path}: looks like an HTML or XML page, not a table (a download that saved the web page?)")
    if len(names) != 1:
        return
    kinds = {",": ("comma", ".csv"), "\t": ("tab", ".tsv"), ";": ("semicolon", None)}
    for other, (name, suffix) in kinds.items():
        if other != separator and other in names[0]:
            fix = f"rename it to {suffix}" if suffix else "save it tab- or comma-separated"
            raise InputError(f"{path}: looks {name}-separated, but its name says {kinds[separator][0]}-separated; "
                             f"{fix}")


def _text_header(path: Path, separator: str) -> list[str]:
    """Column names of a text table as written, the id column's first.

    The id column's name is ``""`` when the header leaves it out (R's ``write.table``: one name fewer
    than data fields). Repeated names are refused here, as pandas would rename them ("G1", "G1.1").
    """
    try:
        header = pd.read_csv(path, sep=separator, header=None, nrows=1, dtype=object, na_filter=False,
                             encoding="utf-8-sig")
        first_row = pd.read_csv(path, sep=separator, nrows=1, na_filter=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as error:
        raise InputError(f"{path}: file is empty") from error
    names = [str(name) for name in header.iloc[0]]
    _refuse_other_formats(path, names, separator)
    id_unnamed = not isinstance(first_row.index, pd.RangeIndex)  # pandas took extra fields as the index
    if first_row.index.nlevels > 1:
        raise InputError(f"{path}: the first data row has {first_row.index.nlevels} fields more than the header")
    others = pd.Index(names if id_unnamed else names[1:])
    if others.has_duplicates:
        raise InputError(f"{path}: duplicate column id {_first_duplicate(others)!r} in the header")
    return ["", *names] if id_unnamed else names


def _read_csv(path: Path, separator: str, n_columns: int, id_position: int,
              **options: object) -> pd.DataFrame | TextFileReader:
    """``pd.read_csv`` past the header, columns labelled by position: the id column as text, the others
    reading missing tokens as NaN."""
    # A converter, not ``dtype={id_position: str}``: a dtype dict costs pandas a lookup per column and chunk.
    return pd.read_csv(path, sep=separator, header=0, names=range(n_columns), converters={id_position: str},
                       keep_default_na=False, low_memory=False, encoding="utf-8-sig", **options,
                       na_values={i: _CELL_MISSING for i in range(n_columns) if i != id_position})


def _read_table(path: Path, id_column: str | None = None) -> pd.DataFrame:
    """Read a small delimited or parquet table indexed by ``id_column`` (default: the first column).

    Text ids are kept as written ("007" stays "007", "NA" is an id); other cells read missing tokens as NaN.
    """
    kind = _table_kind(path)
    if kind == ".parquet":
        frame = pd.read_parquet(path)
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
        frame.columns = [str(name) for name in frame.columns]
    else:
        separator = _separator(path, kind)
        with _parser_errors_named(path):
            names = _text_header(path, separator)
            frame = _read_csv(path, separator, len(names), names.index(id_column) if id_column in names else 0)
        frame.columns = names
    column = id_column if id_column is not None else frame.columns[0]
    if column not in frame.columns and id_column is not None:
        stripped = {str(name).strip(): name for name in frame.columns}
        column = stripped.get(id_column.strip(), column)
    if column not in frame.columns:
        raise InputError(f"{path}: sample column {column!r} not found; columns are {list(frame.columns)}")
    frame = frame.set_index(column)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InputError(f"{path}: table has no data rows or no data columns")
    frame.index = frame.index.astype(str)
    return frame


def _non_numeric_cells(frame: pd.DataFrame) -> dict[int, tuple[str, object]]:
    """(row id, value) of the first non-numeric cell of each column that has one, by column position."""
    found = {}
    for position, dtype in enumerate(frame.dtypes):
        if not pd.api.types.is_numeric_dtype(dtype):
            cells = frame.iloc[:, position]
            cells = cells[pd.to_numeric(cells, errors="coerce").isna() & cells.notna()]
            if len(cells):
                found[position] = (cells.index[0], cells.iloc[0])
    return found


def _refuse_non_numeric(found: dict[int, tuple[str, object]], columns: pd.Index, path: Path,
                        orientation: Orientation) -> None:
    """Name the first column (as laid out in the file) with a non-numeric cell, if any."""
    if found:
        position = min(found)
        row, value = found[position]
        axis = "gene" if orientation == "samples_x_genes" else "sample"
        raise InputError(
            f"{path}: non-numeric value {value!r} for {axis} {columns[position]!r} at {row!r}"
            f" ({len(found)} columns affected); is the orientation ({orientation}) right?"
        )


def _read_text_matrix(path: Path, separator: str, orientation: Orientation) -> tuple[np.ndarray, pd.Index, pd.Index]:
    """Read a text matrix in row chunks: float32 values (n_samples, n_genes), sample ids, gene ids.

    Chunks are copied into float32 slabs of at least 64 MB, which the allocator maps separately and so
    returns to the system when freed; the matrix is filled slab by slab, freeing each. Peak memory is about
    the float32 matrix, one slab and one chunk's parser buffers (genes x samples: twice the matrix, as
    each transposed slab touches all of it), instead of pandas' float64 frame, a float32 copy and a transpose.
    """
    names = _text_header(path, separator)
    n_columns = len(names) - 1
    slab_rows = max(1, _SLAB_CELLS // max(1, n_columns))
    slabs: list[np.ndarray] = []
    n_rows = 0
    row_ids: list[pd.Index] = []
    found: dict[int, tuple[str, object]] = {}
    with _read_csv(path, separator, len(names), 0, index_col=0, chunksize=max(1, _CHUNK_CELLS // len(names))) as reader:
        for chunk in reader:
            row_ids.append(chunk.index)
            for position, cell in _non_numeric_cells(chunk).items():
                found.setdefault(position, cell)
            if found:
                slabs.clear()  # read on only to name the first bad column and count them
                continue
            block = chunk.to_numpy(dtype=np.float32)
            while len(block):
                offset = n_rows % slab_rows
                if offset == 0:
                    slabs.append(np.empty((slab_rows, n_columns), dtype=np.float32))
                taken = min(len(block), slab_rows - offset)
                slabs[-1][offset:offset + taken] = block[:taken]
                block = block[taken:]
                n_rows += taken
    rows = pd.Index([], dtype=object).append(row_ids).rename(names[0] or None)
    columns = pd.Index(names[1:], dtype=object)
    _refuse_non_numeric(found, columns, path, orientation)
    if n_rows == 0 or n_columns == 0:
        raise InputError(f"{path}: table has no data rows or no data columns")
    transpose = orientation == "genes_x_samples"
    values = np.empty((n_columns, n_rows) if transpose else (n_rows, n_columns), dtype=np.float32)
    slabs.reverse()
    for start in range(0, n_rows, slab_rows):
        slab = slabs.pop()[:n_rows - start]  # the previous slab is freed here
        if transpose:
            values[:, start:start + len(slab)] = slab.T
        else:
            values[start:start + len(slab)] = slab
    return (values, columns, rows) if transpose else (values, rows, columns)


def _clean_axes(samples: pd.Index, genes: pd.Index, path: Path) -> tuple[pd.Index, pd.Index]:
    """Sample and gene ids under the text policy (:func:`clean_ids`); duplicates refused."""
    samples, genes = clean_ids(samples, path, "sample"), clean_ids(genes, path, "gene")
    if samples.has_duplicates:
        raise InputError(f"{path}: duplicate sample id {_first_duplicate(samples)!r}")
    if genes.has_duplicates:
        raise InputError(f"{path}: duplicate gene id {_first_duplicate(genes)!r}")
    return samples, genes


def read_expression(path: str | Path, *, orientation: Orientation = "samples_x_genes",
                    modality: str | None = None) -> ad.AnnData:
    """Read an expression matrix into AnnData (samples x genes, float32).

    Parameters
    ----------
    path
        ``.h5ad``, ``.h5mu`` (one modality: ``modality``, which may be left out when the file has one),
        ``.csv``/``.tsv``/``.txt`` (optionally ``.gz``) or ``.parquet``.
        Text and parquet files hold ids in the first column; text ids are kept as written ("007").
        Text files are read in row chunks: peak memory is about 1.6 (samples x genes) to 2.4
        (genes x samples) times the float32 matrix (``benchmarks/read_memory.py``).
    orientation
        How the file is laid out: ``samples_x_genes`` (rows are samples) or
        ``genes_x_samples``. AnnData files are samples x genes by convention.

    Returns
    -------
    AnnData with ``obs_names`` = sample ids, ``var_names`` = gene ids and
    ``X`` a dense float32 array of shape (n_samples, n_genes).
    """
    path = Path(path)
    _check_exists(path)
    if orientation not in ("samples_x_genes", "genes_x_samples"):
        raise InputError(f"{path}: orientation must be samples_x_genes or genes_x_samples, got {orientation!r}")
    kind = _table_kind(path)
    if modality is not None and kind != ".h5mu":
        raise InputError(f"{path}: modality {modality!r} is for a .h5mu file, and this is a {kind} file")
    if kind in (".h5ad", ".h5mu"):
        if kind == ".h5ad":
            adata = ad.read_h5ad(path)
        else:
            from .h5mu import read_modality

            adata = read_modality(path, modality)
        if orientation == "genes_x_samples":
            adata = adata.T
        if not isinstance(adata.X, np.ndarray):
            adata.X = adata.X.toarray()
        adata.X = np.asarray(adata.X, dtype=np.float32)
    elif kind == ".parquet":
        frame = _read_table(path)
        _refuse_non_numeric(_non_numeric_cells(frame), frame.columns, path, orientation)
        if orientation == "genes_x_samples":
            frame = frame.T
        samples, genes = _clean_axes(frame.index, frame.columns, path)  # before AnnData, which warns
        adata = ad.AnnData(X=frame.to_numpy(dtype=np.float32),
                           obs=pd.DataFrame(index=samples), var=pd.DataFrame(index=genes))
    else:
        with _parser_errors_named(path):
            values, samples, genes = _read_text_matrix(path, _separator(path, kind), orientation)
        samples, genes = _clean_axes(samples, genes, path)
        adata = ad.AnnData(X=values, obs=pd.DataFrame(index=samples), var=pd.DataFrame(index=genes))
    if kind in (".h5ad", ".h5mu"):
        adata.obs_names, adata.var_names = _clean_axes(adata.obs_names, adata.var_names, path)
    adata.uns["source"] = {"path": str(path), "orientation": orientation,
                           **({"modality": modality} if modality is not None else {})}
    return adata


def read_clinical(path: str | Path, *, sample_column: str | None = None) -> pd.DataFrame:
    """Read a clinical table indexed by sample id (from a ``.h5mu`` file: its global ``obs``).

    ``sample_column`` names the id column; when ``None`` the first column is used (a ``.h5mu``'s obs names).
    Ids are kept as written ("007", "NA") but for surrounding whitespace; other cells such as ``NA``, ``na``,
    ``.`` or empty are read as missing, and text cells are stripped (:func:`clean_labels`).
    """
    path = Path(path)
    _check_exists(path)
    if _table_kind(path) == ".h5mu":
        from .h5mu import read_global_obs

        frame = read_global_obs(path)
        if sample_column is not None:
            if sample_column not in frame:
                raise InputError(f"{path}: no column {sample_column!r} in the global obs")
            frame = frame.set_index(sample_column)
        frame.index = frame.index.astype(str)
        frame.index.name = frame.index.name or "obs_names"
    else:
        frame = _read_table(path, sample_column)
    column = frame.index.name
    frame.columns = clean_ids(frame.columns, path, "column")
    if frame.columns.has_duplicates:
        raise InputError(f"{path}: duplicate column {_first_duplicate(frame.columns)!r} in the header")
    frame.index = clean_ids(frame.index, path, "sample")
    frame.index.name = None
    clean_labels(frame, path)
    if frame.index.has_duplicates:
        raise InputError(f"{path}: duplicate sample id {_first_duplicate(frame.index)!r} in column {column!r}")
    return frame


def attach_clinical(adata: ad.AnnData, clinical: pd.DataFrame, *, source: str = "clinical table") -> ad.AnnData:
    """Keep the samples present in both tables and copy clinical columns into ``obs``.

    Samples found in only one table are dropped with a logged warning; no shared
    sample raises :class:`InputError`, and so does a matrix whose gene ids, rather
    than its sample ids, match the clinical table (wrong orientation). When every
    sample is shared, ``adata`` itself is returned with the columns added (no copy). The counts are recorded in
    ``adata.uns["alignment"]``.
    """
    shared = adata.obs_names.intersection(clinical.index, sort=False)
    transposed = adata.var_names.intersection(clinical.index, sort=False)
    if len(transposed) > len(shared):
        orientation = adata.uns.get("source", {}).get("orientation", "samples_x_genes")
        other = "genes_x_samples" if orientation == "samples_x_genes" else "samples_x_genes"
        raise InputError(
            f"{source}: the expression matrix looks transposed: {len(transposed)} of its gene ids "
            f"(e.g. {transposed[0]!r}) but {len(shared)} of its sample ids are clinical sample ids; "
            f"set orientation to {other}"
        )
    matrix_only = adata.obs_names.difference(clinical.index, sort=False)
    clinical_only = clinical.index.difference(adata.obs_names, sort=False)
    by_case = dict(zip(clinical_only.str.casefold(), clinical_only, strict=True))
    for sample in matrix_only:
        if sample.casefold() in by_case:
            raise InputError(f"{source}: sample {by_case[sample.casefold()]!r} and the matrix's {sample!r} differ "
                             "only by case; write the ids the same way in both tables")
    if len(shared) == 0:
        raise InputError(
            f"{source}: no sample id is shared with the expression matrix "
            f"(expression e.g. {adata.obs_names[0]!r}, clinical e.g. {clinical.index[0]!r})"
        )
    only_expression, only_clinical = len(matrix_only), len(clinical_only)
    if only_expression or only_clinical:
        logger.warning("%s: %d samples shared; %d only in the matrix (dropped%s), %d only in the clinical table "
                       "(no values%s)", source, len(shared), only_expression,
                       f": {_examples(matrix_only)}" if only_expression else "", only_clinical,
                       f": {_examples(clinical_only)}" if only_clinical else "")
    # Every sample shared, in order: add the columns to adata itself rather than copy a large matrix.
    aligned = adata if shared.equals(adata.obs_names) else adata[shared].copy()
    for column in clinical.columns:
        values = clinical.loc[shared, column]
        if not pd.api.types.is_numeric_dtype(values):
            values = values.astype("category")  # text columns: categories, missing kept as NaN
        aligned.obs[column] = values.values
    aligned.uns["alignment"] = {
        "n_shared": int(len(shared)),
        "n_only_expression": int(only_expression),
        "n_only_clinical": int(only_clinical),
    }
    return aligned

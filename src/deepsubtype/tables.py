"""How every text table is read: file kinds, encoding, missing cells, and the policy for ids and labels.

Shared by the cohort readers (:mod:`deepsubtype.io`, :mod:`deepsubtype.cbioportal`, :mod:`deepsubtype.geo`).
Every function raises :class:`~deepsubtype.errors.InputError` with one line naming the file and the offending
column or sample.

Text policy, applied to every id and label read (:func:`clean_ids`, :func:`clean_labels`): surrounding
whitespace is removed (and the ids or cells affected are named in a warning); an empty id is refused; ids
that become equal once stripped are refused; labels of one column that differ only by case are named in a
warning (they stay separate classes); sample ids of the two tables that differ only by case are refused
(:func:`~deepsubtype.io.attach_clinical`). Text files are read as UTF-8 (a byte-order mark is dropped).
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
from pandas.io.parsers import TextFileReader

from .errors import InputError

__all__ = ["MISSING_TOKENS", "CELL_MISSING", "TEXT_SUFFIXES", "open_text", "leading_comment_lines", "table_kind",
           "check_exists", "separator_of", "first_duplicate", "examples", "clean_ids", "clean_labels",
           "parser_errors_named", "refuse_other_formats", "text_header", "read_csv", "read_table"]

logger = logging.getLogger("deepsubtype.io")


TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
#: Cells read as missing in clinical tables, on top of pandas' defaults.
MISSING_TOKENS = ["NA", "na", "N/A", "n/a", "NaN", "nan", "", "null", "NULL", "None", "."]
#: Missing tokens of every column but the id column: ours plus pandas' defaults (``keep_default_na``).
CELL_MISSING = sorted({*MISSING_TOKENS, "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                        "1.#IND", "1.#QNAN", "<NA>"})


def open_text(path: Path) -> TextIO:
    """``path`` opened as UTF-8 text (gunzipped when it ends in ``.gz``); a missing file is an :class:`InputError`."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    return gzip.open(path, "rt", encoding="utf-8-sig") if path.suffix == ".gz" else path.open(encoding="utf-8-sig")


def leading_comment_lines(path: Path) -> int:
    """How many lines at the top of a text file (optionally gzipped) start with ``#`` (a cBioPortal clinical
    file's four header lines, the column notes of a GEO platform table)."""
    with parser_errors_named(path), open_text(path) as handle:
        count = 0
        for line in handle:
            if not line.startswith("#"):
                break
            count += 1
    return count


def table_kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in {".gz", ".bz2", ".xz", ".zst"}:
        suffixes = suffixes[:-1]
    if not suffixes:
        raise InputError(f"{path}: cannot tell the format from the file name; "
                         "use .h5ad, .h5mu, .csv, .tsv, .txt or .parquet")
    return suffixes[-1]


def check_exists(path: Path) -> None:
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")


def separator_of(path: Path, kind: str) -> str:
    if kind not in TEXT_SUFFIXES:
        raise InputError(f"{path}: unsupported format '{kind}'; use .h5ad, .h5mu, .csv, .tsv, .txt or .parquet")
    return TEXT_SUFFIXES[kind]


def first_duplicate(index: pd.Index) -> str:
    return str(index[index.duplicated()][0])


def examples(values: object, limit: int = 3) -> str:
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
            raise InputError(f"{path}: {what} ids {examples(spellings, 2)} are the same id once surrounding "
                             f"whitespace is removed")
    if len(changed):
        logger.warning("%s: surrounding whitespace removed from %d %s ids (%s)", path, len(changed), what,
                       examples(changed))
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
                           int(changed.sum()), column, examples(values[changed].unique()))
        numeric = pd.to_numeric(text, errors="coerce")
        if numeric.notna().sum() == text.notna().sum():
            frame[column] = numeric  # " 12" read as text only for its space
            continue
        frame[column] = text
        labels = pd.Series(text.dropna().unique()).astype(str)
        for _, spellings in labels.groupby(labels.str.casefold()):
            if len(spellings) > 1:
                logger.warning("%s: column %r has labels that differ only by case: %s (kept as separate values)",
                               path, column, examples(sorted(spellings)))
    return frame


@contextmanager
def parser_errors_named(path: Path) -> Iterator[None]:
    """Turn pandas' parser errors (ragged rows, an unclosed quote) into a one-line :class:`InputError`."""
    try:
        yield
    except pd.errors.ParserError as error:
        raise InputError(f"{path}: cannot parse the table: {' '.join(str(error).split())}") from error
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise InputError(f"{path}: not a readable {path.suffix} file ({' '.join(str(error).split())}): truncated, "
                         f"or not compressed despite its name?") from error
    except UnicodeDecodeError as error:
        if path.suffix != ".gz" and _is_gzip(path):
            raise InputError(f"{path}: is gzip-compressed: name it {path.name}.gz or decompress it") from error
        raise InputError(f"{path}: not UTF-8 text (byte {error.object[error.start:error.start + 1]!r} at offset "
                         f"{error.start}; Latin-1 or another encoding?): save it as UTF-8") from error


def _is_gzip(path: Path) -> bool:
    """Whether ``path`` starts with gzip's magic bytes (whatever its name says)."""
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def refuse_other_formats(path: Path, names: list[str], separator: str) -> None:
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


def text_header(path: Path, separator: str) -> list[str]:
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
    refuse_other_formats(path, names, separator)
    id_unnamed = not isinstance(first_row.index, pd.RangeIndex)  # pandas took extra fields as the index
    if first_row.index.nlevels > 1:
        raise InputError(f"{path}: the first data row has {first_row.index.nlevels} fields more than the header")
    others = pd.Index(names if id_unnamed else names[1:])
    if others.has_duplicates:
        raise InputError(f"{path}: duplicate column id {first_duplicate(others)!r} in the header")
    return ["", *names] if id_unnamed else names


def read_csv(path: Path, separator: str, n_columns: int, id_position: int,
              **options: object) -> pd.DataFrame | TextFileReader:
    """``pd.read_csv`` past the header, columns labelled by position: the id column as text, the others
    reading missing tokens as NaN."""
    # A converter, not ``dtype={id_position: str}``: a dtype dict costs pandas a lookup per column and chunk.
    return pd.read_csv(path, sep=separator, header=0, names=range(n_columns), converters={id_position: str},
                       keep_default_na=False, low_memory=False, encoding="utf-8-sig", **options,
                       na_values={i: CELL_MISSING for i in range(n_columns) if i != id_position})


def read_table(path: Path, id_column: str | None = None) -> pd.DataFrame:
    """Read a small delimited or parquet table indexed by ``id_column`` (default: the first column).

    Text ids are kept as written ("007" stays "007", "NA" is an id); other cells read missing tokens as NaN.
    """
    kind = table_kind(path)
    if kind == ".parquet":
        frame = pd.read_parquet(path)
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
        frame.columns = [str(name) for name in frame.columns]
    else:
        separator = separator_of(path, kind)
        with parser_errors_named(path):
            names = text_header(path, separator)
            frame = read_csv(path, separator, len(names), names.index(id_column) if id_column in names else 0)
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

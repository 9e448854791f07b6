"""Reading expression matrices and clinical tables into aligned AnnData objects.

Every reader raises :class:`InputError` with one line naming the file and the
offending column or sample, so that a pipeline run stops before writing output.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import anndata as ad
import numpy as np
import pandas as pd
from pandas.io.parsers import TextFileReader

__all__ = [
    "InputError",
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


class InputError(ValueError):
    """A user-supplied file is unusable; the message names the file and the problem."""


#: What a cohort name may be (it becomes a directory and a wildcard): no path separators, spaces or shell
#: characters. ``workflow/schemas/config.schema.yaml`` holds the same pattern for Snakemake's validation.
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
        raise InputError(f"{path}: cannot tell the format from the file name; use .h5ad, .csv, .tsv, .txt or .parquet")
    return suffixes[-1]


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")


def _separator(path: Path, kind: str) -> str:
    if kind not in _TEXT_SUFFIXES:
        raise InputError(f"{path}: unsupported format '{kind}'; use .h5ad, .csv, .tsv, .txt or .parquet")
    return _TEXT_SUFFIXES[kind]


def _first_duplicate(index: pd.Index) -> str:
    return str(index[index.duplicated()][0])


@contextmanager
def _parser_errors_named(path: Path) -> Iterator[None]:
    """Turn pandas' parser errors (ragged rows, an unclosed quote) into a one-line :class:`InputError`."""
    try:
        yield
    except pd.errors.ParserError as error:
        raise InputError(f"{path}: cannot parse the table: {' '.join(str(error).split())}") from error


def _text_header(path: Path, separator: str) -> list[str]:
    """Column names of a text table as written, the id column's first.

    The id column's name is ``""`` when the header leaves it out (R's ``write.table``: one name fewer
    than data fields). Repeated names are refused here, as pandas would rename them ("G1", "G1.1").
    """
    try:
        header = pd.read_csv(path, sep=separator, header=None, nrows=1, dtype=object, na_filter=False)
        first_row = pd.read_csv(path, sep=separator, nrows=1, na_filter=False)
    except pd.errors.EmptyDataError as error:
        raise InputError(f"{path}: file is empty") from error
    names = [str(name) for name in header.iloc[0]]
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
                       keep_default_na=False, low_memory=False, **options,
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


def _refuse_duplicates(samples: pd.Index, genes: pd.Index, path: Path) -> None:
    if samples.has_duplicates:
        raise InputError(f"{path}: duplicate sample id {_first_duplicate(samples)!r}")
    if genes.has_duplicates:
        raise InputError(f"{path}: duplicate gene id {_first_duplicate(genes)!r}")


def read_expression(path: str | Path, *, orientation: Orientation = "samples_x_genes") -> ad.AnnData:
    """Read an expression matrix into AnnData (samples x genes, float32).

    Parameters
    ----------
    path
        ``.h5ad``, ``.csv``/``.tsv``/``.txt`` (optionally ``.gz``) or ``.parquet``.
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
    if kind == ".h5ad":
        adata = ad.read_h5ad(path)
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
        _refuse_duplicates(frame.index, frame.columns, path)  # before AnnData, which warns about them
        adata = ad.AnnData(X=frame.to_numpy(dtype=np.float32),
                           obs=pd.DataFrame(index=frame.index), var=pd.DataFrame(index=frame.columns))
    else:
        with _parser_errors_named(path):
            values, samples, genes = _read_text_matrix(path, _separator(path, kind), orientation)
        _refuse_duplicates(samples, genes, path)
        adata = ad.AnnData(X=values, obs=pd.DataFrame(index=samples), var=pd.DataFrame(index=genes))
    adata.obs_names = adata.obs_names.astype(str)
    adata.var_names = adata.var_names.astype(str)
    _refuse_duplicates(adata.obs_names, adata.var_names, path)
    adata.uns["source"] = {"path": str(path), "orientation": orientation}
    return adata


def read_clinical(path: str | Path, *, sample_column: str | None = None) -> pd.DataFrame:
    """Read a clinical table indexed by sample id.

    ``sample_column`` names the id column; when ``None`` the first column is used. Ids are kept as
    written ("007", "NA"); other cells such as ``NA``, ``na``, ``.`` or empty are read as missing.
    """
    path = Path(path)
    _check_exists(path)
    frame = _read_table(path, sample_column)
    column = frame.index.name
    frame.index.name = None
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
    if len(shared) == 0:
        raise InputError(
            f"{source}: no sample id is shared with the expression matrix "
            f"(expression e.g. {adata.obs_names[0]!r}, clinical e.g. {clinical.index[0]!r})"
        )
    only_expression = adata.n_obs - len(shared)
    only_clinical = clinical.shape[0] - len(shared)
    if only_expression or only_clinical:
        logger.warning("%s: %d samples shared; %d only in the matrix (dropped), %d only in the clinical table "
                       "(no values)", source, len(shared), only_expression, only_clinical)
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

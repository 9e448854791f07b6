"""Reading expression matrices and clinical tables into aligned AnnData objects.

Every reader raises :class:`InputError` with one line naming the file and the
offending column or sample, so that a pipeline run stops before writing output.

Every id and label read follows the text policy of :mod:`deepsubtype.tables`, which also parses the text
files.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anndata as ad
import numpy as np
import pandas as pd

from .errors import InputError
from .tables import (
    check_exists,
    clean_ids,
    clean_labels,
    examples,
    first_duplicate,
    parser_errors_named,
    read_csv,
    read_table,
    separator_of,
    table_kind,
    text_header,
)

__all__ = [
    "InputError",
    "ImportedCohort",
    "Orientation",
    "read_expression",
    "read_clinical",
    "attach_clinical",
]

logger = logging.getLogger(__name__)

Orientation = Literal["samples_x_genes", "genes_x_samples"]

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
    names = text_header(path, separator)
    n_columns = len(names) - 1
    slab_rows = max(1, _SLAB_CELLS // max(1, n_columns))
    slabs: list[np.ndarray] = []
    n_rows = 0
    row_ids: list[pd.Index] = []
    found: dict[int, tuple[str, object]] = {}
    with read_csv(path, separator, len(names), 0, index_col=0, chunksize=max(1, _CHUNK_CELLS // len(names))) as reader:
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
        raise InputError(f"{path}: duplicate sample id {first_duplicate(samples)!r}")
    if genes.has_duplicates:
        raise InputError(f"{path}: duplicate gene id {first_duplicate(genes)!r}")
    return samples, genes


def _refuse_empty(adata: ad.AnnData, path: Path, modality: str | None) -> None:
    """Refuse an AnnData file, or a modality of a .h5mu file, without samples or without features."""
    if 0 in adata.shape:
        what, fix = ((f" (modality {modality!r})", "remove the empty modality from the file, or list the cohort's "
                      "views without it") if modality is not None else ("", "give a file with data"))
        raise InputError(f"{path}{what}: an empty matrix ({adata.n_obs} samples x {adata.n_vars} features); {fix}")


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
    check_exists(path)
    if orientation not in ("samples_x_genes", "genes_x_samples"):
        raise InputError(f"{path}: orientation must be samples_x_genes or genes_x_samples, got {orientation!r}")
    kind = table_kind(path)
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
        frame = read_table(path)
        _refuse_non_numeric(_non_numeric_cells(frame), frame.columns, path, orientation)
        if orientation == "genes_x_samples":
            frame = frame.T
        samples, genes = _clean_axes(frame.index, frame.columns, path)  # before AnnData, which warns
        adata = ad.AnnData(X=frame.to_numpy(dtype=np.float32),
                           obs=pd.DataFrame(index=samples), var=pd.DataFrame(index=genes))
    else:
        with parser_errors_named(path):
            values, samples, genes = _read_text_matrix(path, separator_of(path, kind), orientation)
        samples, genes = _clean_axes(samples, genes, path)
        adata = ad.AnnData(X=values, obs=pd.DataFrame(index=samples), var=pd.DataFrame(index=genes))
    if kind in (".h5ad", ".h5mu"):
        _refuse_empty(adata, path, modality)
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
    check_exists(path)
    if table_kind(path) == ".h5mu":
        from .h5mu import read_global_obs

        frame = read_global_obs(path)
        if sample_column is not None:
            if sample_column not in frame:
                raise InputError(f"{path}: no column {sample_column!r} in the global obs")
            frame = frame.set_index(sample_column)
        frame.index = frame.index.astype(str)
        frame.index.name = frame.index.name or "obs_names"
    else:
        frame = read_table(path, sample_column)
    column = frame.index.name
    frame.columns = clean_ids(frame.columns, path, "column")
    if frame.columns.has_duplicates:
        raise InputError(f"{path}: duplicate column {first_duplicate(frame.columns)!r} in the header")
    frame.index = clean_ids(frame.index, path, "sample")
    frame.index.name = None
    clean_labels(frame, path)
    if frame.index.has_duplicates:
        raise InputError(f"{path}: duplicate sample id {first_duplicate(frame.index)!r} in column {column!r}")
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
                       f": {examples(matrix_only)}" if only_expression else "", only_clinical,
                       f": {examples(clinical_only)}" if only_clinical else "")
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

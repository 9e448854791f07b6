"""Reading expression matrices and clinical tables into aligned AnnData objects.

Every reader raises :class:`InputError` with one line naming the file and the
offending column or sample, so that a pipeline run stops before writing output.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Literal

import anndata as ad
import numpy as np
import pandas as pd

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


def _read_table(path: Path) -> pd.DataFrame:
    """Read a delimited or parquet table with the first column as string index."""
    kind = _table_kind(path)
    if kind == ".parquet":
        frame = pd.read_parquet(path)
        if isinstance(frame.index, pd.RangeIndex):
            frame = frame.set_index(frame.columns[0])
    elif kind in _TEXT_SUFFIXES:
        separator = _TEXT_SUFFIXES[kind]
        # pandas renames repeated header names ("G1", "G1.1"); read the header raw to catch them.
        header = pd.read_csv(path, sep=separator, header=None, nrows=1, dtype=str).iloc[0, 1:]
        if header.duplicated().any():
            raise InputError(f"{path}: duplicate column id {header[header.duplicated()].iloc[0]!r} in the header")
        frame = pd.read_csv(path, sep=separator, index_col=0, na_values=MISSING_TOKENS,
                            keep_default_na=True, low_memory=False)
    else:
        raise InputError(f"{path}: unsupported format '{kind}'; use .h5ad, .csv, .tsv, .txt or .parquet")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InputError(f"{path}: table has no data rows or no data columns")
    frame.index = frame.index.astype(str)
    frame.columns = frame.columns.astype(str)
    return frame


def _first_duplicate(index: pd.Index) -> str:
    return str(index[index.duplicated()][0])


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
        Text and parquet files hold ids in the first column.
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
    else:
        frame = _read_table(path)
        if orientation == "genes_x_samples":
            frame = frame.T
        non_numeric = [c for c, t in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
        if non_numeric:
            column = non_numeric[0]
            series = frame[column]
            bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
            axis = "gene" if orientation == "samples_x_genes" else "sample"
            raise InputError(
                f"{path}: non-numeric value {bad.iloc[0]!r} for {axis} {column!r} at {bad.index[0]!r}"
                f" ({len(non_numeric)} columns affected); is the orientation ({orientation}) right?"
            )
        _refuse_duplicates(frame.index, frame.columns, path)
        adata = ad.AnnData(X=frame.to_numpy(dtype=np.float32),
                           obs=pd.DataFrame(index=frame.index), var=pd.DataFrame(index=frame.columns))
    adata.obs_names = adata.obs_names.astype(str)
    adata.var_names = adata.var_names.astype(str)
    _refuse_duplicates(adata.obs_names, adata.var_names, path)
    adata.uns["source"] = {"path": str(path), "orientation": orientation}
    return adata


def read_clinical(path: str | Path, *, sample_column: str | None = None) -> pd.DataFrame:
    """Read a clinical table indexed by sample id.

    ``sample_column`` names the id column; when ``None`` the first column is used.
    Cells such as ``NA``, ``na``, ``.`` or empty are read as missing.
    """
    path = Path(path)
    _check_exists(path)
    frame = _read_table(path).reset_index()
    column = sample_column or frame.columns[0]
    if column not in frame.columns:
        raise InputError(f"{path}: sample column {column!r} not found; columns are {list(frame.columns)}")
    frame[column] = frame[column].astype(str)
    frame = frame.set_index(column)
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
        logger.warning("%s: %d samples shared; %d only in expression, %d only in clinical (dropped)",
                       source, len(shared), only_expression, only_clinical)
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

"""Property tests: whatever the layout, id spelling, order and missing cells, reading and aligning keep
every value with its own sample and gene."""

from __future__ import annotations

import re
from pathlib import Path
from unittest.mock import patch

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepsubtype import io
from deepsubtype.io import InputError, attach_clinical, read_clinical, read_expression

#: Ids that pandas would read as numbers or missing values if it were allowed to guess.
TRICKY_IDS = ["007", "1.0", "1e3", "0", "-1", "NA", "nan", "None", "null", ".", "TRUE", "inf", "0x1F"]
ids = st.one_of(st.sampled_from(TRICKY_IDS), st.text(alphabet="ABCxyz0123456789._-", min_size=1, max_size=6))
#: Cells read back as NaN; empty cells too.
NA_SPELLINGS = ["NA", "", "nan", "NaN", "null", "N/A"]
SUFFIXES = [".tsv", ".tsv.gz", ".csv", ".csv.gz", ".txt"]
values = st.one_of(st.floats(-1e6, 1e6, width=32), st.sampled_from([np.inf, -np.inf]))


def _id_lists(min_size: int, max_size: int) -> st.SearchStrategy[list[str]]:
    return st.lists(ids, min_size=min_size, max_size=max_size, unique=True)


def _write(frame: pd.DataFrame, path: Path, na_rep: str = "NA") -> None:
    """Write ``frame`` with its index as the first column, separated as the suffix says."""
    separator = "," if ".csv" in path.suffixes else "\t"
    frame.to_csv(path, sep=separator, na_rep=na_rep)


@st.composite
def matrices(draw: st.DrawFn) -> pd.DataFrame:
    """Samples x genes float32-exact values with tricky ids in random order and random NaN cells."""
    samples = draw(_id_lists(1, 6))
    genes = draw(_id_lists(1, 6))
    cells = draw(st.lists(values, min_size=len(samples) * len(genes), max_size=len(samples) * len(genes)))
    matrix = np.array(cells, dtype=np.float64).reshape(len(samples), len(genes))
    missing = draw(st.lists(st.booleans(), min_size=matrix.size, max_size=matrix.size))
    matrix[np.array(missing).reshape(matrix.shape)] = np.nan
    return pd.DataFrame(matrix, index=samples, columns=genes)


@settings(deadline=None, max_examples=60)
@given(expression=matrices(), transposed=st.booleans(), suffix=st.sampled_from(SUFFIXES),
       na_rep=st.sampled_from(NA_SPELLINGS), chunk_cells=st.integers(1, 50), slab_cells=st.integers(1, 50))
def test_any_layout_round_trips_ids_values_and_nan(tmp_path_factory, expression: pd.DataFrame, transposed: bool,
                                                   suffix: str, na_rep: str, chunk_cells: int,
                                                   slab_cells: int) -> None:
    """Also with chunks and slabs small enough that rows span them."""
    path = tmp_path_factory.mktemp("matrix") / f"m{suffix}"
    _write(expression.T if transposed else expression, path, na_rep)
    with patch.object(io, "_CHUNK_CELLS", chunk_cells), patch.object(io, "_SLAB_CELLS", slab_cells):
        adata = read_expression(path, orientation="genes_x_samples" if transposed else "samples_x_genes")
    assert list(adata.obs_names) == list(expression.index)
    assert list(adata.var_names) == list(expression.columns)
    assert adata.X.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(adata.X), expression.isna().to_numpy())
    np.testing.assert_array_equal(adata.X, expression.to_numpy(np.float32))  # NaN == NaN here


@settings(deadline=None, max_examples=30)
@given(expression=matrices().filter(lambda m: m.shape[1] >= 2), transposed=st.booleans(), data=st.data())
def test_duplicate_gene_id_is_named(tmp_path_factory, expression: pd.DataFrame, transposed: bool,
                                    data: st.DataObject) -> None:
    genes = list(expression.columns)
    source, target = data.draw(st.lists(st.integers(0, len(genes) - 1), min_size=2, max_size=2, unique=True))
    genes[target] = genes[source]
    expression.columns = genes
    path = tmp_path_factory.mktemp("duplicate") / "m.tsv"
    _write(expression.T if transposed else expression, path)
    with pytest.raises(InputError, match=re.escape(repr(genes[source]))):
        read_expression(path, orientation="genes_x_samples" if transposed else "samples_x_genes")


@settings(deadline=None, max_examples=40)
@given(samples=_id_lists(1, 8), data=st.data())
def test_clinical_subset_aligns_to_expression_order(tmp_path_factory, samples: list[str],
                                                    data: st.DataObject) -> None:
    """A shuffled clinical table holding some of the samples and some others attaches to exactly the shared
    samples, in expression order, each with its own row."""
    shared = data.draw(st.lists(st.sampled_from(samples), min_size=1, unique=True))
    extra = data.draw(_id_lists(0, 3).map(lambda e: [i for i in e if i not in samples]))
    clinical_ids = data.draw(st.permutations(shared + extra))
    n = len(clinical_ids)
    clinical = pd.DataFrame({
        "age": data.draw(st.lists(st.integers(20, 90), min_size=n, max_size=n)),
        "subtype": data.draw(st.lists(st.sampled_from(["LumA", "Basal", None]), min_size=n, max_size=n)),
    }, index=clinical_ids)
    clinical.insert(data.draw(st.integers(0, 2)), "patient", clinical_ids)  # the id column anywhere
    directory = tmp_path_factory.mktemp("clinical")
    clinical.to_csv(directory / "c.tsv", sep="\t", index=False, na_rep="NA")
    expression = pd.DataFrame(np.arange(len(samples), dtype=float)[:, None], index=samples, columns=["g"])
    _write(expression, directory / "e.tsv")

    read = read_clinical(directory / "c.tsv", sample_column="patient")
    assert list(read.index) == clinical_ids
    aligned = attach_clinical(read_expression(directory / "e.tsv"), read)
    expected = [s for s in samples if s in shared]
    assert list(aligned.obs_names) == expected
    np.testing.assert_array_equal(aligned.X[:, 0], [samples.index(s) for s in expected])
    assert list(aligned.obs["age"]) == list(clinical.loc[expected, "age"])
    assert [None if pd.isna(v) else v for v in aligned.obs["subtype"]] == list(clinical.loc[expected, "subtype"])
    assert aligned.uns["alignment"] == {"n_shared": len(expected), "n_only_expression": len(samples) - len(expected),
                                        "n_only_clinical": len(extra)}


def test_numeric_looking_ids_are_kept_as_written(tmp_path: Path) -> None:
    path = tmp_path / "m.tsv"
    path.write_text("id\t007\t1.0\nNA\t1\t2\n007\t3\tNA\n1e3\t5\t6\n")
    adata = read_expression(path)
    assert list(adata.obs_names) == ["NA", "007", "1e3"]
    assert list(adata.var_names) == ["007", "1.0"]
    assert np.isnan(adata.X[1, 1])
    (tmp_path / "c.tsv").write_text("age\tid\n50\t007\n60\tNA\n")
    assert list(read_clinical(tmp_path / "c.tsv", sample_column="id").index) == ["007", "NA"]


@st.composite
def perturbed_cohorts(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, bool]:
    """A clean cohort (matrix, clinical table with a label column) and the same with random surrounding spaces on
    ids, gene ids and labels, case changes of some clinical ids, and a byte-order mark or not."""
    samples = draw(st.lists(st.text(alphabet="ABCxyz0123456789_", min_size=1, max_size=5), min_size=2,
                            max_size=6, unique_by=str.casefold))
    genes = draw(st.lists(st.text(alphabet="ABCxyz0123456789_", min_size=1, max_size=5), min_size=1, max_size=5,
                          unique=True))
    labels = draw(st.lists(st.sampled_from(["LumA", "Basal", "Her2"]), min_size=len(samples),
                           max_size=len(samples)))
    matrix = pd.DataFrame(np.arange(len(samples) * len(genes), dtype=np.float64).reshape(len(samples), -1),
                          index=samples, columns=genes)
    clinical = pd.DataFrame({"subtype": labels}, index=pd.Index(samples, name="sample"))
    pad = st.sampled_from(["", " ", "  "])
    spaced = lambda text: draw(pad) + text + draw(pad)  # noqa: E731
    recased = lambda text: text.swapcase() if draw(st.booleans()) else text  # noqa: E731
    messy_matrix = matrix.set_axis([spaced(s) for s in samples]).set_axis([spaced(g) for g in genes], axis=1)
    messy_clinical = pd.DataFrame({"subtype": [spaced(label) for label in labels]},
                                  index=pd.Index([spaced(recased(s)) for s in samples], name="sample"))
    return matrix, clinical, messy_matrix, messy_clinical, draw(st.booleans())


@settings(deadline=None, max_examples=60)
@given(cohort=perturbed_cohorts())
def test_whitespace_case_and_bom_give_the_clean_result_or_a_clear_error(tmp_path_factory, cohort) -> None:
    matrix, clinical, messy_matrix, messy_clinical, bom = cohort
    directory = tmp_path_factory.mktemp("messy")
    encoding = "utf-8-sig" if bom else "utf-8"
    messy_matrix.to_csv(directory / "e.tsv", sep="\t", index_label="sample", encoding=encoding)
    messy_clinical.to_csv(directory / "c.tsv", sep="\t", encoding=encoding)
    clean = attach_clinical(read_expression_frame(matrix), clinical)
    recased = [s for s, m in zip(clinical.index, messy_clinical.index, strict=True) if s != m.strip()]
    try:
        messy = attach_clinical(read_expression(directory / "e.tsv"),
                                read_clinical(directory / "c.tsv", sample_column="sample"))
    except InputError as error:
        assert recased and "differ only by case" in str(error), error
        return
    assert not recased, "ids differing by case must not be matched or dropped silently"
    assert list(messy.obs_names) == list(clean.obs_names) and list(messy.var_names) == list(clean.var_names)
    np.testing.assert_array_equal(messy.X, clean.X)
    assert messy.obs["subtype"].astype(str).tolist() == clean.obs["subtype"].astype(str).tolist()


def read_expression_frame(frame: pd.DataFrame) -> ad.AnnData:
    """The clean matrix as read_expression returns it, without a file."""
    return ad.AnnData(frame.to_numpy(np.float32), obs=pd.DataFrame(index=frame.index),
                      var=pd.DataFrame(index=frame.columns))


@pytest.mark.parametrize(("header", "message"), [
    ("sample\tG1\tG1 \n", "gene ids 'G1', 'G1 ' are the same id once surrounding whitespace is removed"),
    ("sample\tG1\t\tG3\n", "empty gene id at position 2 of 3"),
    ("sample\tG1\tG2\t\n", "empty gene id at position 3 of 3"),
])
def test_ids_that_collide_or_are_empty_are_refused(tmp_path, header: str, message: str) -> None:
    path = tmp_path / "e.tsv"
    path.write_text(header + "S1" + "\t1" * (header.count("\t")) + "\n")
    with pytest.raises(InputError, match=re.escape(f"{path}: {message}")):
        read_expression(path)


def test_latin1_file_is_named_not_a_traceback(tmp_path) -> None:
    path = tmp_path / "c.tsv"
    path.write_bytes("sample\tsite\nS1\tS\xe3o Paulo\n".encode("latin-1"))
    with pytest.raises(InputError, match=re.escape(f"{path}: not UTF-8 text")):
        read_clinical(path)


def test_labels_differing_only_by_case_are_named(tmp_path, caplog) -> None:
    path = tmp_path / "c.tsv"
    path.write_text("sample\tsubtype\nS1\tBasal\nS2\tbasal \nS3\tLumA\n")
    frame = read_clinical(path)
    assert frame["subtype"].tolist() == ["Basal", "basal", "LumA"]
    assert "column 'subtype' has labels that differ only by case: 'Basal', 'basal'" in caplog.text
    assert "surrounding whitespace removed in 1 cells of column 'subtype' ('basal ')" in caplog.text


def test_ids_all_in_another_case_are_named_not_reported_as_unshared() -> None:
    # found by the property test above: every id recased used to read "no sample id is shared"
    adata = read_expression_frame(pd.DataFrame(np.ones((2, 2)), index=["A", "B"], columns=["g1", "g2"]))
    with pytest.raises(InputError, match="sample 'a' and the matrix's 'A' differ only by case"):
        attach_clinical(adata, pd.DataFrame({"subtype": ["x", "y"]}, index=["a", "b"]))

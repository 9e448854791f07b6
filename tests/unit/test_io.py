from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepsubtype import io
from deepsubtype.io import InputError, attach_clinical, read_clinical, read_expression

from ..conftest import REPO


@pytest.mark.parametrize("name", ["m.tsv", "m.tsv.gz", "m.csv", "m.csv.gz", "m.txt", "m.parquet", "m.h5ad"])
def test_read_expression_formats_round_trip(tmp_path: Path, cohort, name: str) -> None:
    expression, _ = cohort
    path = tmp_path / name
    if name.endswith(".parquet"):
        expression.to_parquet(path)
    elif name.endswith(".h5ad"):
        ad.AnnData(expression.astype(np.float32)).write_h5ad(path)
    else:
        expression.to_csv(path, sep="," if ".csv" in name else "\t")
    adata = read_expression(path)
    assert adata.shape == expression.shape
    assert list(adata.obs_names) == list(expression.index)
    assert list(adata.var_names) == list(expression.columns)
    np.testing.assert_allclose(adata.X, expression.to_numpy(), rtol=1e-6)
    assert adata.X.dtype == np.float32


def test_genes_x_samples_is_transposed(tmp_path: Path, cohort) -> None:
    expression, _ = cohort
    path = tmp_path / "m.tsv"
    expression.T.to_csv(path, sep="\t")
    adata = read_expression(path, orientation="genes_x_samples")
    assert list(adata.obs_names) == list(expression.index)


def test_missing_and_empty_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.tsv: file not found"):
        read_expression(tmp_path / "missing.tsv")
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(InputError, match="empty.tsv: file is empty"):
        read_expression(tmp_path / "empty.tsv")


def test_non_numeric_cell_names_gene_and_sample(tmp_path: Path) -> None:
    path = tmp_path / "m.tsv"
    path.write_text("sample\tG1\tG2\nP1\t1.0\t2.0\nP2\tabc\t3.0\n")
    with pytest.raises(InputError, match=r"non-numeric value 'abc' for gene 'G1' at 'P2'"):
        read_expression(path)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.tsv"
    path.write_text("sample\tG1\tG1\nP1\t1\t2\nP2\t3\t4\n")
    with pytest.raises(InputError, match="duplicate column id 'G1' in the header"):
        read_expression(path)
    path.write_text("sample\tG1\tG2\nP1\t1\t2\nP1\t3\t4\n")
    with pytest.raises(InputError, match="duplicate sample id 'P1'"):
        read_expression(path)


def test_clinical_missing_tokens_and_sample_column(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    path.write_text("age\tid\ter\n50\tP1\tna\n60\tP2\tpositive\n")
    clinical = read_clinical(path, sample_column="id")
    assert list(clinical.index) == ["P1", "P2"]
    assert pd.isna(clinical.loc["P1", "er"])
    with pytest.raises(InputError, match="sample column 'patient' not found"):
        read_clinical(path, sample_column="patient")


def test_attach_clinical_partial_overlap_warns_and_counts(cohort, caplog) -> None:
    expression, clinical = cohort
    adata = ad.AnnData(expression.to_numpy(np.float32), obs=pd.DataFrame(index=expression.index),
                       var=pd.DataFrame(index=expression.columns))
    partial = clinical.set_index("sample").iloc[5:]
    aligned = attach_clinical(adata, partial)
    assert aligned.n_obs == len(expression) - 5
    assert aligned.uns["alignment"] == {"n_shared": 55, "n_only_expression": 5, "n_only_clinical": 0}
    assert "only in the matrix (dropped: 'P000', 'P001', 'P002', ...)" in caplog.text
    assert aligned.obs["subtype"].dtype == "category"


def test_attach_clinical_without_shared_samples_fails(cohort) -> None:
    expression, clinical = cohort
    adata = ad.AnnData(expression.to_numpy(np.float32), obs=pd.DataFrame(index=expression.index),
                       var=pd.DataFrame(index=expression.columns))
    other = clinical.assign(sample=lambda f: "X" + f["sample"]).set_index("sample")
    with pytest.raises(InputError, match="no sample id is shared"):
        attach_clinical(adata, other, source="c.tsv")


@settings(max_examples=25, deadline=None)
@given(
    n_samples=st.integers(2, 8),
    n_genes=st.integers(1, 6),
    transposed=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_any_layout_and_order_aligns_to_the_same_matrix(tmp_path_factory, n_samples, n_genes, transposed,
                                                       seed) -> None:
    """Whatever the orientation and row order of both files, each sample keeps its own values and clinical row."""
    rng = np.random.default_rng(seed)
    samples = [f"s{i}" for i in rng.permutation(n_samples)]
    values = pd.DataFrame(rng.normal(size=(n_samples, n_genes)).round(4), index=samples,
                          columns=[f"g{j}" for j in range(n_genes)])
    clinical = pd.DataFrame({"id": samples, "value": rng.integers(0, 100, n_samples)}).sample(frac=1, random_state=seed)
    directory = tmp_path_factory.mktemp("layout")
    (values.T if transposed else values).to_csv(directory / "e.tsv", sep="\t")
    clinical.to_csv(directory / "c.tsv", sep="\t", index=False)
    adata = read_expression(directory / "e.tsv", orientation="genes_x_samples" if transposed else "samples_x_genes")
    aligned = attach_clinical(adata, read_clinical(directory / "c.tsv", sample_column="id"))
    expected = values.loc[aligned.obs_names]
    np.testing.assert_allclose(aligned.X, expected.to_numpy(), atol=1e-6)
    lookup = clinical.set_index("id")["value"]
    assert list(aligned.obs["value"]) == list(lookup.loc[aligned.obs_names])


def test_genes_x_samples_non_numeric_names_sample_and_gene(tmp_path: Path) -> None:
    path = tmp_path / "m.tsv"
    path.write_text("gene\tS1\tS2\nG1\t1\t2\nG2\t3\tx\n")
    with pytest.raises(InputError, match=r"non-numeric value 'x' for sample 'S2' at 'G2' \(1 columns affected\); "
                                         r"is the orientation \(genes_x_samples\) right\?"):
        read_expression(path, orientation="genes_x_samples")


def test_non_numeric_names_the_first_bad_column_across_chunks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(io, "_CHUNK_CELLS", 3)  # one row per chunk
    path = tmp_path / "m.tsv"
    path.write_text("sample\tG1\tG2\nP1\t1\tabc\nP2\t2\t3\nP3\tdef\t4\n")
    with pytest.raises(InputError, match=r"non-numeric value 'def' for gene 'G1' at 'P3' \(2 columns affected\)"):
        read_expression(path)


def test_rows_spanning_chunks_and_slabs_keep_their_values(tmp_path: Path, cohort, monkeypatch) -> None:
    expression, _ = cohort
    monkeypatch.setattr(io, "_CHUNK_CELLS", 7 * expression.shape[1])
    monkeypatch.setattr(io, "_SLAB_CELLS", 5 * expression.shape[1])
    path = tmp_path / "m.tsv.gz"
    for orientation, layout in [("samples_x_genes", expression), ("genes_x_samples", expression.T)]:
        layout.to_csv(path, sep="\t")
        adata = read_expression(path, orientation=orientation)
        assert list(adata.obs_names) == list(expression.index)
        np.testing.assert_allclose(adata.X, expression.to_numpy(), rtol=1e-6)


def test_header_without_id_name_and_infinite_values(tmp_path: Path) -> None:
    """R's write.table leaves the id column out of the header; inf and -inf are values, NA is missing."""
    path = tmp_path / "m.txt"
    path.write_text("G1\tG2\nP1\tinf\t-inf\nP2\tNA\t2.5\n")
    adata = read_expression(path)
    assert list(adata.obs_names) == ["P1", "P2"] and list(adata.var_names) == ["G1", "G2"]
    np.testing.assert_array_equal(adata.X, np.array([[np.inf, -np.inf], [np.nan, 2.5]], dtype=np.float32))


@pytest.mark.parametrize(("text", "message"), [
    ("sample\tG1\nP1\t1\nP2\t1\t2\n", "cannot parse the table: .*Expected 2 fields in line 3, saw 3"),
    ("sample\tG1\nP1\t1\t2\t3\n", "the first data row has 2 fields more than the header"),
    ('sample\tG1\n"P1\t1\n', "cannot parse the table: .*EOF inside string"),
    ("\n", "file is empty"),
    ("sample\n", "table has no data rows or no data columns"),
])
def test_unreadable_text_is_one_line_input_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "m.tsv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as raised:
        read_expression(path)
    assert "\n" not in str(raised.value)
    if "\t" in text:
        with pytest.raises(InputError, match=message):
            read_clinical(path)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="measures peak memory through Linux /proc")
def test_reading_text_keeps_peak_memory_bounded(tmp_path: Path) -> None:
    """Peak memory above the baseline while reading a 1,000 x 4,000 TSV (15 MB as float32) in either
    orientation stays under 4.5x the float32 matrix (about 3x in chunks; read whole, as before, about 8x)."""
    child = f"""
import json, sys
from pathlib import Path
sys.path.insert(0, {str(REPO / "benchmarks")!r})
import read_memory
from deepsubtype import io
io._CHUNK_CELLS = 2**18  # 65 rows of 4,000 genes per chunk: 1/16 of the file, as the default is at 5,000 x 20,000
for orientation in ("samples_x_genes", "genes_x_samples"):
    path = Path({str(tmp_path)!r}) / (orientation + ".tsv")
    read_memory.write_matrix(path, 1000, 4000, orientation, 0.001, 0)
    print(json.dumps(read_memory.measure(path, orientation)))
"""
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(Path(io.__file__).parents[1])})
    for line in result.stdout.splitlines():
        measured = json.loads(line)
        assert measured["shape"] == [1000, 4000]
        assert measured["ratio"] < 4.5, measured

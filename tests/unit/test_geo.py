"""GEO series matrices: the reader on the shipped test series and its refusals."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from deepsubtype.geo import read_series_matrix
from deepsubtype.io import InputError

from ..conftest import GEO_SERIES, make_cohort

SERIES = GEO_SERIES / "GSE99999_series_matrix.txt.gz"
PLATFORM = GEO_SERIES / "GPL99999-tbl-1.txt"


def test_characteristics_become_clinical_columns_and_probes_genes() -> None:
    result = read_series_matrix(SERIES, platform=PLATFORM)
    expression, clinical = make_cohort(n_samples=60, n_genes=120)
    assert result.expression.shape == (60, 120) and list(result.expression.var_names) == list(expression.columns)
    # each gene keeps its most variable probe: the original one, not the flatter _s_at copy
    assert np.allclose(result.expression.X, expression.to_numpy(), atol=1e-4)
    assert list(result.clinical.index) == [f"GSM{9000 + i}" for i in range(60)]
    assert list(result.clinical["age"]) == list(clinical["age"])
    assert np.allclose(result.clinical["os time (months)"], clinical["time"])
    assert list(result.clinical["subtype"].isna()) == list(clinical["subtype"].isna())
    assert result.clinical["source_name_ch1"].eq("primary breast tumour").all()
    report = result.report
    assert (report["probes"], report["probes_without_gene"], report["probes_with_several_genes"],
            report["probes_not_in_platform"], report["probes_collapsed"]) == (139, 6, 3, 1, 10)
    assert report["gene_column"] == "Gene Symbol" and report["series"] == "GSE99999"


def test_without_a_platform_table_the_probes_are_the_genes() -> None:
    result = read_series_matrix(SERIES)
    assert result.expression.n_vars == 139 and "AFFX-Ctrl-0_at" in result.expression.var_names


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    with gzip.open(SERIES, "rt") as handle:
        text = handle.read()
    assert old in text
    path = tmp_path / SERIES.name
    with gzip.open(path, "wt") as handle:
        handle.write(text.replace(old, new, 1))
    return path


def test_null_cells_are_missing_and_a_gene_column_is_named(tmp_path: Path) -> None:
    path = _edited(tmp_path, '"1000_at"\t9.1257', '"1000_at"\tnull')
    result = read_series_matrix(path, platform=PLATFORM, gene_column="Gene Symbol")
    assert np.isnan(result.expression[0, "G0000"].X).all()
    with pytest.raises(InputError, match="no gene symbol column 'SYMBOL'"):
        read_series_matrix(path, platform=PLATFORM, gene_column="SYMBOL")


def test_a_file_that_is_not_a_series_matrix_is_named(tmp_path: Path) -> None:
    path = tmp_path / "GSE1_family.soft"
    path.write_text("^SERIES = GSE1\n!Series_title = x\n")
    with pytest.raises(InputError, match="GSE1_family.soft: no data table between !series_matrix_table_begin"):
        read_series_matrix(path)
    with pytest.raises(InputError, match="no such.txt.gz: file not found"):
        read_series_matrix(tmp_path / "no such.txt.gz")


def _series_text() -> str:
    with gzip.open(SERIES, "rt") as handle:
        return handle.read()


def _written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / SERIES.name
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    return path


@pytest.mark.parametrize("cut", ['"1050_at"', '\t6.7876\t7.2969'], ids=["row boundary", "mid-row"])
def test_a_series_matrix_cut_off_inside_its_table_is_named_truncated(tmp_path: Path, cut: str) -> None:
    text = _series_text()
    path = _written(tmp_path, text[:text.index(cut)])
    with pytest.raises(InputError, match=r"GSE99999_series_matrix.txt.gz: truncated: \d+ table rows read and no "
                                         r"!series_matrix_table_end line after them \(the download was cut off\); "
                                         "download the series matrix again"):
        read_series_matrix(path, platform=PLATFORM)


def _characteristics_line(cells: list[str]) -> str:
    return "!Sample_characteristics_ch1\t" + "\t".join(f'"{cell}"' for cell in cells) + "\n"


def test_characteristics_keys_that_differ_by_case_are_one_column(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    # as submitters write them: the label of 15 samples on a line of its own, 'Subtype:', others' cells empty
    original = read_series_matrix(SERIES).clinical["subtype"]
    text = _series_text()
    start = text.index('!Sample_characteristics_ch1\t"subtype')
    end = text.index("\n", start) + 1
    cells = [cell.strip('"') for cell in text[start:end].rstrip("\n").split("\t")[1:]]
    lower = [cell if sample >= 15 else "" for sample, cell in enumerate(cells)]
    upper = ["S" + cell[1:] if sample < 15 else "" for sample, cell in enumerate(cells)]
    path = _written(tmp_path, text[:start] + _characteristics_line(upper) + _characteristics_line(lower) + text[end:])
    with caplog.at_level("WARNING"):
        result = read_series_matrix(path)
    assert "Subtype" not in result.clinical and result.clinical["subtype"].equals(original)
    assert result.report["characteristics_joined"] == {"subtype": ["Subtype", "subtype"]}
    assert ("characteristics keys 'Subtype', 'subtype' differ only by case: joined into one column 'subtype' "
            "(samples per key: Subtype 15, subtype 45)") in caplog.text


def test_a_sample_with_two_values_for_one_key_is_refused(tmp_path: Path) -> None:
    text = _series_text()
    start = text.index('!Sample_characteristics_ch1\t"subtype')
    extra = _characteristics_line(["Subtype: type_1", *["Subtype: NA"] * 59])
    path = _written(tmp_path, text[:start] + extra + text[start:])
    with pytest.raises(InputError, match="GSE99999_series_matrix.txt.gz: sample 'GSM9000' has two values for one "
                                         "characteristic: 'Subtype: type_1' and 'subtype: type_0' "):
        read_series_matrix(path)
    # the same value twice, or a value and a missing one, is no conflict
    path = _written(tmp_path, text[:start] + extra.replace("type_1", "type_0") + text[start:])
    assert read_series_matrix(path).clinical["subtype"].iloc[0] == "type_0"

"""cBioPortal study folders: the reader on the shipped test study, its refusals, the config's study entries."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from deepsubtype.cbioportal import read_study, study_files
from deepsubtype.io import InputError
from deepsubtype.schema import check_config

from ..conftest import CBIOPORTAL_STUDY, REPO


@pytest.fixture(scope="module")
def study():
    return read_study(CBIOPORTAL_STUDY, profile="rna_seq_mrna", case_list="tiny_brca_rna_seq_mrna")


def _profile_rows() -> pd.DataFrame:
    return pd.read_csv(CBIOPORTAL_STUDY / "data_mrna_seq.txt", sep="\t", dtype={"Hugo_Symbol": str,
                                                                                "Entrez_Gene_Id": str})


def test_the_study_reads_into_one_row_per_patient(study) -> None:
    # 61 profiled samples; the case list leaves out 2, PT-007's second sample is dropped
    assert study.expression.shape == (58, 121)
    assert list(study.expression.obs_names) == list(study.clinical.index)
    assert "PT-007-06" not in study.expression.obs_names and "PT-058-01" not in study.expression.obs_names
    assert study.clinical["PATIENT_ID"].is_unique
    assert study.report["samples_dropped_same_patient"] == ["PT-007-06"]
    assert study.report["samples_not_in_case_list"] == 2
    # sample attributes and patient attributes side by side, cBioPortal's placeholders read as missing
    row = study.clinical.loc["PT-000-01"]
    assert row["OS_STATUS"] == "1:DECEASED" and row["SAMPLE_TYPE"] == "Primary" and row["AGE"] == 68
    assert list(study.clinical.index[study.clinical["SUBTYPE"].isna()]) == ["PT-001-01", "PT-005-01"]
    assert pd.api.types.is_float_dtype(study.clinical["OS_MONTHS"])


def test_gene_rows_are_named_and_collapsed_as_documented(study) -> None:
    rows = _profile_rows()
    genes = study.expression.var_names
    assert "Entrez:99999" in genes and genes.is_unique and "nan" not in genes
    assert study.report["rows_without_gene"] == 1 and study.report["rows_collapsed"] == 1
    copies = rows[rows["Hugo_Symbol"] == "G0005"]
    kept = copies.iloc[int(np.argmax(copies[study.expression.obs_names].var(axis=1).to_numpy()))]
    assert np.allclose(study.expression[:, "G0005"].X.ravel(), kept[study.expression.obs_names].to_numpy(float))


def test_the_profile_must_be_named_when_the_study_has_several() -> None:
    with pytest.raises(InputError, match=r"2 expression profiles \(rna_seq_mrna \(data_mrna_seq.txt\), "
                                         r"rna_seq_mrna_Zscores"):
        read_study(CBIOPORTAL_STUDY)
    with pytest.raises(InputError, match="no expression profile 'mrna' "):
        read_study(CBIOPORTAL_STUDY, profile="mrna")
    with pytest.raises(InputError, match="no case list 'sequenced' in case_lists/"):
        read_study(CBIOPORTAL_STUDY, profile="rna_seq_mrna", case_list="sequenced")
    # the portal's prefixed stable id and the data file name name the same profile
    by_file = read_study(CBIOPORTAL_STUDY, profile="data_mrna_seq_zscores.txt")
    assert by_file.report["datatype"] == "Z-SCORE" and by_file.expression.n_obs == 60


def test_the_workflow_inputs_are_the_files_read() -> None:
    names = [path.name for path in study_files(CBIOPORTAL_STUDY, "tiny_brca_rna_seq_mrna", "rna_seq_mrna")]
    assert names == ["meta_mrna_seq.txt", "data_mrna_seq.txt", "data_clinical_patient.txt",
                     "data_clinical_sample.txt", "cases_rna_seq_mrna.txt"]


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(CBIOPORTAL_STUDY, tmp_path / "study"))


def test_missing_and_non_numeric_values_in_a_profile(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "data_mrna_seq.txt"
    rows = path.read_text().splitlines()
    cells = rows[1].split("\t")
    cells[2], cells[3] = "NA", ""
    rows[1] = "\t".join(cells)
    path.write_text("\n".join(rows) + "\n")
    result = read_study(folder, profile="rna_seq_mrna")
    assert np.isnan(result.expression[["PT-000-01", "PT-001-01"], "G0000"].X).all()
    cells[4] = "high"
    rows[1] = "\t".join(cells)
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"data_mrna_seq.txt: non-numeric value 'high' for sample 'PT-002-01' at "
                                         r"gene 'G0000'"):
        read_study(folder, profile="rna_seq_mrna")


def test_attributes_in_both_clinical_files_are_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "data_clinical_sample.txt"
    path.write_text(path.read_text().replace("\tSAMPLE_TYPE\n", "\tAGE\n"))
    with pytest.raises(InputError, match="attribute 'AGE' is in data_clinical_patient.txt too"):
        read_study(folder, profile="rna_seq_mrna")


def test_a_cbioportal_cohort_takes_no_clinical_file_or_layout() -> None:
    study = {"study": "data/brca_metabric"}
    check_config({"cohorts": {"metabric": {"cbioportal": study}}})
    with pytest.raises(InputError, match="cohorts.metabric"):
        check_config({"cohorts": {"metabric": {"cbioportal": study, "clinical": "clinical.tsv"}}})
    with pytest.raises(InputError, match="orientation is not for a cbioportal cohort"):
        check_config({"cohorts": {"metabric": {"cbioportal": study, "orientation": "genes_x_samples"}}})
    with pytest.raises(InputError, match="cohorts.plain"):
        check_config({"cohorts": {"plain": {"expression": "expression.tsv"}}})


def test_the_metabric_config_is_valid() -> None:
    check_config(yaml.safe_load((REPO / "config" / "metabric.yaml").read_text()))

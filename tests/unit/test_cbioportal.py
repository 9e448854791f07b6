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

from ..conftest import CBIOPORTAL_STUDY, REPO, add_study_samples, write_metabric_like_study


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


def test_the_metabric_config_imports_a_study_shaped_like_brca_metabric(tmp_path: Path) -> None:
    cohort = yaml.safe_load((REPO / "config" / "metabric.yaml").read_text())["cohorts"]["metabric"]
    folder = write_metabric_like_study(tmp_path / "brca_metabric")
    study = read_study(folder, profile=cohort["cbioportal"]["profile"], case_list=cohort["cbioportal"]["case_list"],
                       event_column=cohort["survival"]["event"])
    assert study.expression.shape == (60, 120) and study.report["samples_dropped_not_tumour"] == {}
    clinical = study.clinical
    # status attributes other than the survival event are plain text attributes
    assert set(clinical["VITAL_STATUS"]) <= {"Living", "Died of Disease", "Died of Other Causes"}
    assert set(clinical["ER_STATUS"]) == {"Positive", "Negative"} and "HER2_STATUS" in clinical
    assert clinical["OS_STATUS"].str.match(r"[01]:").all()
    for column in (cohort["target"], cohort["survival"]["time"], *cohort["survival"]["covariates"]):
        assert clinical[column].notna().sum() >= 58, column


def test_only_the_survival_event_attribute_needs_a_0_1_code(tmp_path: Path) -> None:
    folder = write_metabric_like_study(tmp_path / "brca_metabric")
    assert read_study(folder, profile="mrna").clinical["VITAL_STATUS"].notna().all()  # no event named: no check
    with pytest.raises(InputError, match=r"data_clinical_patient.txt: VITAL_STATUS value '(Living|Died of \w+ "
                                         r"\w+)' of patient 'MB-0000' has no 0:/1: code .*survival.event must name a "
                                         "coded status attribute"):
        read_study(folder, profile="mrna", event_column="VITAL_STATUS")
    path = folder / "data_clinical_patient.txt"
    path.write_text(path.read_text().replace("1:DECEASED", "1", 3))  # a bare 0/1 reads as the code
    assert read_study(folder, profile="mrna", event_column="OS_STATUS").clinical["OS_STATUS"].isin(
        ["1", "1:DECEASED", "0:LIVING"]).all()


def test_the_primary_tumour_is_kept_and_normal_samples_are_dropped_by_name(tmp_path: Path,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    folder = _copy(tmp_path)
    # TCGA codes in the ids (SAMPLE_TYPE not given), SAMPLE_TYPE words with ids that carry no code; all the
    # normal samples come first in the profile, where "each patient keeps its first" would have kept them
    add_study_samples(folder, {"PT-000-11": ("PT-000", "[Not Available]"), "PT-001-10A": ("PT-001", ""),
                               "PT-002-N": ("PT-002", "Solid Tissue Normal"), "PT-003-X": ("PT-003", "Normal")})
    with caplog.at_level("WARNING"):
        study = read_study(folder, profile="rna_seq_mrna")
    assert study.expression.n_obs == 60 and study.clinical["PATIENT_ID"].is_unique
    assert "Normal" not in set(study.clinical["SUBTYPE"].dropna())
    assert study.report["samples_dropped_not_tumour"] == {"PT-000-11": "normal 11", "PT-001-10A": "normal 10",
                                                          "PT-002-N": "normal 11", "PT-003-X": "normal 11"}
    assert study.report["samples_dropped_same_patient"] == ["PT-007-06"]  # SAMPLE_TYPE Metastasis after Primary
    assert ("data_clinical_sample.txt: 4 normal or control samples dropped (a subtype is a tumour's; type from "
            "SAMPLE_TYPE, else the sample-type code after the patient id): PT-000-11 (normal 11), PT-001-10A "
            "(normal 10)") in caplog.text
    assert "dropped: PT-007-06 (tumour 06)" in caplog.text


def test_patients_whose_samples_no_type_tells_apart_are_refused_by_name(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    add_study_samples(folder, {"PT-003-01B": ("PT-003", "[Not Available]"), "PT-004-b": ("PT-004", "[Unknown]")})
    path = folder / "data_clinical_sample.txt"
    path.write_text(path.read_text().replace("PT-003\tPT-003-01\ttype_0\tPrimary",
                                             "PT-003\tPT-003-01\ttype_0\t[Not Available]"))
    with pytest.raises(InputError, match=r"data_clinical_sample.txt: 2 patients have several profiled samples that "
                                         r"neither SAMPLE_TYPE nor .* tells apart: PT-003 \(PT-003-01B, PT-003-01\); "
                                         r"PT-004 \(PT-004-b, PT-004-01\); give those samples a SAMPLE_TYPE"):
        read_study(folder, profile="rna_seq_mrna")
    # the study's own SAMPLE_TYPE decides where the ids do not
    path.write_text(path.read_text().replace("PT-004-b\tNormal\t[Unknown]", "PT-004-b\tNormal\tRecurrence")
                    .replace("PT-003-01B\tNormal\t[Not Available]", "PT-003-01B\tNormal\tMetastasis")
                    .replace("PT-003\tPT-003-01\ttype_0\t[Not Available]", "PT-003\tPT-003-01\ttype_0\tPrimary"))
    study = read_study(folder, profile="rna_seq_mrna")
    assert study.report["samples_dropped_same_patient"] == ["PT-003-01B", "PT-004-b", "PT-007-06"]


def test_a_study_of_normal_samples_only_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "data_clinical_sample.txt"
    path.write_text(path.read_text().replace("\tPrimary\n", "\tNormal\n").replace("\tMetastasis\n", "\tNormal\n"))
    with pytest.raises(InputError, match="every profiled sample is a normal or control sample"):
        read_study(folder, profile="rna_seq_mrna")

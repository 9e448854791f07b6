"""MuData (.h5mu) cohorts: modalities as views, the global obs as the clinical table, normalized.h5mu."""

from __future__ import annotations

from pathlib import Path

import mudata
import numpy as np
import pytest

from deepsubtype import InputError
from deepsubtype.h5mu import modalities, read_modality, to_mudata
from deepsubtype.io import read_clinical, read_expression
from deepsubtype.stages import export_mudata_stage, normalize_stage

from ..conftest import write_h5mu


def test_modalities_are_views_and_the_global_obs_is_the_clinical_table(tmp_path: Path) -> None:
    path, specs = write_h5mu(tmp_path)
    assert modalities(path) == ["signal", "noise_b", "noise_c"], "the file's order, not h5py's alphabetical one"
    from_h5mu = normalize_stage(path, path, tmp_path / "from_h5mu.h5ad")
    from_text = normalize_stage(specs, tmp_path / "clinical.tsv", tmp_path / "from_text.h5ad")
    assert list(from_h5mu.var_names) == list(from_text.var_names) and list(from_h5mu.obs_names) == list(
        from_text.obs_names)
    np.testing.assert_array_equal(from_h5mu.X, from_text.X)
    assert from_h5mu.obs["group"].tolist() == from_text.obs["group"].tolist()
    assert read_clinical(path).shape == (60, 3)


def test_normalized_h5mu_holds_each_view_with_its_own_patients(tmp_path: Path) -> None:
    path, _ = write_h5mu(tmp_path)
    normalized = normalize_stage(path, path, tmp_path / "normalized.h5ad")
    export_mudata_stage(tmp_path / "normalized.h5ad", tmp_path / "normalized.h5mu")
    with mudata.set_options(pull_on_update=False):
        written = mudata.read_h5mu(tmp_path / "normalized.h5mu")
    assert list(written.mod) == ["signal", "noise_b", "noise_c"]
    assert written["noise_b"].n_obs == 52 and written["signal"].n_obs == 60
    rows = normalized.obs_names.get_indexer(written["noise_b"].obs_names)
    columns = np.flatnonzero(normalized.var["view"] == "noise_b")
    np.testing.assert_array_equal(written["noise_b"].X, normalized.X[np.ix_(rows, columns)])
    assert list(written["noise_b"].var_names) == [f"noise_b_{j}" for j in range(20)]
    assert written.obs["group"].tolist() == normalized.obs["group"].tolist()
    kept = normalized.uns["normalize"]["signal"]["n_genes_kept"]
    assert written["signal"].uns["normalize"]["n_genes_kept"] == kept == 30
    single = to_mudata(normalize_stage(tmp_path / "signal.tsv", tmp_path / "clinical.tsv", tmp_path / "one.h5ad"))
    assert list(single.mod) == ["expression"] and single["expression"].n_vars == 30


def test_h5mu_mistakes_are_one_line_naming_the_file(tmp_path: Path) -> None:
    path, _ = write_h5mu(tmp_path)
    with pytest.raises(InputError, match=r"cohort.h5mu: 3 modalities \(signal, noise_b, noise_c\); name one"):
        read_modality(path)
    with pytest.raises(InputError, match=r"cohort.h5mu: no modality 'rna' \(modalities: signal, noise_b"):
        read_expression(path, modality="rna")
    with pytest.raises(InputError, match=r"clinical.tsv: modality 'rna' is for a .h5mu file"):
        read_expression(tmp_path / "clinical.tsv", modality="rna")
    (tmp_path / "bare").mkdir()
    bare, _ = write_h5mu(tmp_path / "bare", obs=False)
    with pytest.raises(InputError, match="the global obs has no columns.*give the cohort a `clinical` file"):
        normalize_stage(bare, bare, tmp_path / "none.h5ad")
    assert not (tmp_path / "none.h5ad").exists()
    (tmp_path / "broken.h5mu").write_text("not hdf5")
    with pytest.raises(InputError, match=r"broken.h5mu: not a readable .h5mu file"):
        modalities(tmp_path / "broken.h5mu")

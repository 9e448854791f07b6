from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from deepsubtype.io import InputError
from deepsubtype.normalize import detect_scale, normalize


def _adata(X: np.ndarray) -> ad.AnnData:
    return ad.AnnData(X.astype(np.float32), obs=pd.DataFrame(index=[f"s{i}" for i in range(X.shape[0])]),
                      var=pd.DataFrame(index=[f"g{j}" for j in range(X.shape[1])]))


def test_detect_scale() -> None:
    rng = np.random.default_rng(0)
    assert detect_scale(rng.poisson(500, (10, 20)).astype(float))[0] == "counts"
    assert detect_scale(rng.gamma(2.0, 300.0, (10, 20)))[0] == "linear"
    assert detect_scale(rng.normal(8, 2, (10, 20)).clip(0, 16))[0] == "log"
    scale, reason = detect_scale(rng.normal(0, 1, (10, 20)))
    assert scale == "log" and "negative" in reason


def test_counts_are_library_size_normalized_and_logged() -> None:
    rng = np.random.default_rng(1)
    counts = rng.poisson(100, (12, 30)).astype(float)
    counts[0] *= 10  # a deeper library: same profile after normalize_total
    result = normalize(_adata(counts), n_top_genes=None, zscore=False)
    assert result.uns["normalize"]["scale"] == "counts"
    totals = np.expm1(result.X).sum(1)
    np.testing.assert_allclose(totals, 1e6, rtol=1e-3)


def test_top_genes_by_variance_then_zscore() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(0, 1, (40, 50)) * 1.3 ** np.arange(50)
    result = normalize(_adata(X), n_top_genes=10)
    assert list(result.var_names) == [f"g{j}" for j in range(40, 50)]
    assert set(result.var["variance_rank"]) == set(range(1, 11))
    np.testing.assert_allclose(result.X.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(result.X.std(0, ddof=1), 1, atol=1e-3)
    np.testing.assert_allclose(result.layers["log"], X[:, 40:], rtol=1e-5)
    steps = result.uns["normalize"]
    assert steps["n_genes_input"] == 50 and steps["n_genes_kept"] == 10 and steps["zscore"]


def test_zero_variance_genes_are_dropped_and_counted() -> None:
    X = np.random.default_rng(3).normal(size=(10, 5))
    X[:, 2] = 1.5
    result = normalize(_adata(X), n_top_genes=None)
    assert "g2" not in result.var_names
    assert result.uns["normalize"]["n_genes_zero_variance"] == 1


def test_missing_values_are_refused_with_location() -> None:
    X = np.random.default_rng(4).normal(size=(4, 3))
    X[2, 1] = np.nan
    with pytest.raises(InputError, match=r"1 missing or infinite values, first at sample 's2', gene 'g1'; "
                                          r"set normalize.missing"):
        normalize(_adata(X))


def _with_gaps() -> np.ndarray:
    X = np.random.default_rng(5).normal(size=(6, 4))
    X[1, 0] = np.nan
    X[3, 0] = np.inf
    X[:, 3] = np.nan
    return X


def test_drop_genes_policy_removes_every_gene_with_a_gap() -> None:
    result = normalize(_adata(_with_gaps()), missing="drop_genes", n_top_genes=None, zscore=False)
    assert list(result.var_names) == ["g1", "g2"]
    steps = result.uns["normalize"]
    assert steps["n_values_missing"] == 8 and steps["n_genes_dropped_missing"] == 2
    assert steps["missing_policy"] == "drop_genes"


def test_impute_policy_fills_gene_medians_and_drops_empty_genes() -> None:
    X = _with_gaps()
    result = normalize(_adata(X), missing="impute", n_top_genes=None, zscore=False)
    assert list(result.var_names) == ["g0", "g1", "g2"]
    observed = X[[0, 2, 4, 5], 0]
    assert result.X[1, 0] == pytest.approx(np.median(observed), rel=1e-6)
    assert result.X[3, 0] == pytest.approx(np.median(observed), rel=1e-6)
    np.testing.assert_allclose(result.X[:, 1:], X[:, 1:3], rtol=1e-6)
    assert result.uns["normalize"]["n_values_imputed"] == 2


def test_missing_everywhere_is_refused_under_any_policy() -> None:
    X = np.full((3, 2), np.nan)
    for policy in ("drop_genes", "impute"):
        with pytest.raises(InputError, match="every gene has a missing or infinite value"):
            normalize(_adata(X), missing=policy)  # type: ignore[arg-type]


def test_declared_scale_contradicted_by_the_values_is_refused() -> None:
    counts = np.random.default_rng(6).poisson(400, (8, 10)).astype(float)
    with pytest.raises(InputError, match="scale is set to 'log' but the values look like raw counts"):
        normalize(_adata(counts), scale="log")
    ratios = np.random.default_rng(7).normal(size=(8, 10))
    with pytest.raises(InputError, match="scale is set to 'counts' but the values include negatives"):
        normalize(_adata(ratios), scale="counts")
    with pytest.raises(InputError, match="scale is set to 'counts' but the values are not integers"):
        normalize(_adata(np.abs(ratios) * 500), scale="counts")

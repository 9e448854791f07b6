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


def test_one_corrupt_cell_does_not_change_the_scale_and_is_named() -> None:
    # on the maximum, one 1e30 made a log-scale matrix "linear" and log1p went over every value
    X = np.random.default_rng(0).normal(8, 2, (30, 40)).clip(0, 16)
    X[7, 11] = 1e30
    assert detect_scale(X)[0] == "log"
    with pytest.raises(InputError, match=r"expression: value 1e\+30 at sample 's7', gene 'g11' on a log scale"):
        normalize(_adata(X))
    counts = np.random.default_rng(1).poisson(500, (30, 40)).astype(float)
    counts[3, 5] = -4
    assert detect_scale(counts)[0] == "counts"
    with pytest.raises(InputError, match="negative value -4 at sample 's3', gene 'g5' in counts data"):
        normalize(_adata(counts))
    counts[3, 5] = 1e12
    with pytest.raises(InputError, match="value 1e\\+12 at sample 's3', gene 'g5' is over 10000 times"):
        normalize(_adata(counts))


def test_low_integers_are_named_and_binary_calls_are_not(caplog) -> None:
    rng = np.random.default_rng(2)
    result = normalize(_adata(rng.poisson(3, (20, 30)).astype(float)), n_top_genes=None)
    assert result.uns["normalize"]["scale"] == "log"
    assert "non-negative integers up to" in caplog.text and "set scale to counts" in caplog.text
    assert "WARNING" in caplog.text
    caplog.clear()
    calls = normalize(_adata(rng.integers(0, 2, (20, 30)).astype(float)), n_top_genes=None)
    assert calls.uns["normalize"]["scale_reason"] == "binary 0/1 values: used as they are"
    assert "WARNING" not in caplog.text


def test_the_detected_scale_and_its_reason_are_logged(caplog) -> None:
    import logging
    caplog.set_level(logging.INFO)
    normalize(_adata(np.random.default_rng(3).gamma(2.0, 300.0, (10, 20))), n_top_genes=None)
    assert "scale detected as linear (non-negative non-integers with 99.9th percentile" in caplog.text
    assert "scale linear (detected), transform log1p" in caplog.text


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


def test_minmax_maps_each_gene_to_the_unit_interval_and_new_patients_by_the_training_range() -> None:
    from deepsubtype.transfer import transfer_normalization
    from deepsubtype.validation import fold_normalized, fold_scaled

    rng = np.random.default_rng(0)
    X = rng.normal(8, 2, (40, 25)) * rng.uniform(0.2, 3.0, 25)  # genes of different spreads
    training = normalize(_adata(X[:30]), n_top_genes=None, minmax=True, scale="log")
    assert np.allclose(training.X.min(0), 0) and np.allclose(training.X.max(0), 1)
    assert training.uns["normalize"]["minmax"] and np.allclose(training.layers["log"], X[:30].astype(np.float32))
    # the same map as min-max of the log values: the z-score before it changes nothing
    low, high = X[:30].min(0), X[:30].max(0)
    assert np.allclose(training.X, (X[:30] - low) / (high - low), atol=1e-5)
    # new patients: the training range, so values may leave [0, 1]; the training patients map onto themselves
    new = transfer_normalization(_adata(X[30:]), training, scale="log").adata
    assert np.allclose(new.X, (X[30:] - low) / (high - low), atol=1e-5)
    assert np.allclose(transfer_normalization(_adata(X[:30]), training, scale="log").adata.X, training.X, atol=1e-5)
    # inside a fold, the range of the fold's training patients
    train, test = np.arange(20), np.arange(20, 30)
    for fold_train, fold_test in (fold_scaled(training, train, test),
                                  fold_normalized(_adata(X[:30]), training.uns["normalize"], train, test)):
        fold_low, fold_high = X[train].min(0), X[train].max(0)
        assert np.allclose(fold_train.X, (X[train] - fold_low) / (fold_high - fold_low), atol=1e-5)
        assert np.allclose(fold_test.X, (X[test] - fold_low) / (fold_high - fold_low), atol=1e-5)
    assert not normalize(_adata(X), n_top_genes=None, scale="log").uns["normalize"]["minmax"]


def test_the_normalize_stage_loads_no_heavy_library() -> None:
    """Every normalize job (one per cohort, 41 in the bad-input catalogue) pays its imports: the stage needs
    none of torch, scanpy, lifelines, scikit-learn, matplotlib or scipy.stats (a task's target reader once pulled in
    torch; the survival module's p-values pulled in scipy.stats, 0.7 of the stage's 1.4 s of imports)."""
    import subprocess
    import sys

    heavy = ("torch", "scanpy", "lifelines", "sklearn", "matplotlib", "scipy.stats")
    code = f"import sys, deepsubtype.stages.normalize; print(','.join(m for m in {heavy} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"the normalize stage imports {loaded}"

"""Nested out-of-fold validation: whatever looks at the data is refitted inside each fold."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from deepsubtype import DeepType
from deepsubtype.ensemble import DeepTypeEnsemble
from deepsubtype.normalize import normalize
from deepsubtype.validation import fold_estimator, fold_scaled, out_of_fold_clusters

from .conftest import FAST_MODEL, make_cohort

MODEL = {**FAST_MODEL, "hidden_layers": tuple(FAST_MODEL["hidden_layers"]), "device": "cpu"}


@pytest.fixture(scope="module")
def normalized() -> ad.AnnData:
    expression, clinical = make_cohort()
    adata = ad.AnnData(expression.to_numpy(np.float32), obs=clinical.set_index("sample").loc[expression.index],
                       var=pd.DataFrame(index=expression.columns))
    return normalize(adata, n_top_genes=100)


def test_fold_scaling_uses_the_training_patients_alone(normalized) -> None:
    train, test = np.arange(0, 45), np.arange(45, 60)
    fitted, held_out = fold_scaled(normalized, train, test)
    assert np.allclose(fitted.X.mean(0), 0, atol=1e-5) and np.allclose(fitted.X.std(0, ddof=1), 1, atol=1e-4)
    log = np.asarray(normalized.layers["log"], dtype=np.float64)
    expected = (log[test] - log[train].mean(0)) / log[train].std(0, ddof=1)
    assert np.allclose(held_out.X, expected, atol=1e-4)
    assert not np.allclose(held_out.X, normalized.X[test], atol=1e-3), "not the all-patient z-score"
    assert list(held_out.obs_names) == list(normalized.obs_names[test])


def test_fold_estimator_copies_the_procedure() -> None:
    single = DeepType(**MODEL)
    ensemble = DeepTypeEnsemble(single, n_fits=3)
    assert isinstance(fold_estimator(single, None, 5), DeepType)
    assert fold_estimator(ensemble, None, 5).n_fits == 3 and fold_estimator(ensemble, None, 5).random_state == 5
    assert isinstance(fold_estimator(ensemble, 1, 5), DeepType)
    assert fold_estimator(single, 2, 5).n_fits == 2


def test_folds_choose_their_own_number_of_clusters(normalized) -> None:
    y = normalized.obs["subtype"].to_numpy(dtype=object)
    model = DeepType(**{**MODEL, "n_clusters": "auto", "n_clusters_range": (2, 4)}).fit(normalized, y)
    reference = model.labels_
    oof = out_of_fold_clusters(model, normalized, y, reference, folds=3, seed=0)
    assert sorted(oof["index"]) == list(range(60))
    assert oof["cluster"].min() >= 0 and (oof["cluster"] == oof["in_sample_cluster"]).mean() >= 0.8

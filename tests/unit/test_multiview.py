"""Several views (omics) per patient: network branches, masking, per-view genes, normalization."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepsubtype import DeepType, InputError
from deepsubtype.stages import genes_stage, normalize_stage

from ..conftest import FAST_MODEL, VIEWS, three_views, write_three_views


def _model(**params: object) -> DeepType:
    settings = {**FAST_MODEL, "alpha": 0.01, "pretrain_steps": 600, "device": "cpu", **params}
    settings["hidden_layers"] = tuple(settings["hidden_layers"])  # type: ignore[arg-type]
    return DeepType(views=VIEWS, **settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fitted() -> tuple[DeepType, np.ndarray, np.ndarray]:
    X, groups = three_views()
    X[:10, 30:50] = np.nan  # ten patients lack the second view
    return _model().fit(X, groups), X, groups


def test_signal_in_one_view_ranks_its_features_first(fitted) -> None:
    model, _, groups = fitted
    importance = model.first_layer_importances_  # the L2,1 penalty's selection, per view
    pattern = model.pattern_importances_
    assert len(set(np.argsort(-pattern)[:12]) & set(range(12))) >= 10
    assert importance.shape == (75,)
    assert len(set(np.argsort(-importance)[:12]) & set(range(12))) >= 10, "the signal view's informative features lead"
    assert importance[:12].mean() > 3 * importance[12:30].mean()
    for start, stop in ((30, 50), (50, 75)):
        assert importance[start:stop].mean() < 0.05 * importance.max(), "noise views are driven to ~0"
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(groups, model.labels_) > 0.9


def test_a_missing_view_never_reaches_the_representation(fitted) -> None:
    model, X, _ = fitted
    changed = X.copy()
    changed[:10, 30:50] = np.nan
    changed[10:, 30:50] += 5.0
    before, after = model.transform(X), model.transform(changed)
    np.testing.assert_array_equal(before[:10], after[:10])
    assert not np.allclose(before[10:], after[10:])
    partial = X.copy()
    partial[12, 31] = np.nan
    with pytest.raises(ValueError, match="view 'noise_b': missing or infinite values inside a present view"):
        model.predict(partial)


def test_per_view_alpha_and_saved_views(fitted, tmp_path: Path) -> None:
    model, X, _ = fitted
    model.save(tmp_path / "model")
    loaded = DeepType.load(tmp_path / "model")
    assert loaded.views == VIEWS
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    table = genes_stage(tmp_path / "model", tmp_path / "genes.tsv", by_view=tmp_path / "genes")
    assert {"view", "feature", "rank_in_view", "relative_in_view"} <= set(table.columns)
    per_view = {path.stem: pd.read_csv(path, sep="\t") for path in (tmp_path / "genes").iterdir()}
    assert sorted(per_view) == ["noise_b", "noise_c", "signal"]
    assert list(per_view["signal"]["rank"]) == list(range(1, 31)) and per_view["signal"]["relative_importance"][0] == 1
    with pytest.raises(ValueError, match="alpha has 2 values for 3 views"):
        _model(alpha=(0.01, 0.02), pretrain_steps=5).fit(*three_views())


def test_views_are_normalized_apart_and_joined(tmp_path: Path) -> None:
    specs = write_three_views(tmp_path)
    specs["noise_c"]["n_top_genes"] = 10
    masked = normalize_stage(specs, tmp_path / "clinical.tsv", tmp_path / "masked.h5ad")
    assert masked.shape == (60, 30 + 20 + 10)
    assert list(pd.unique(masked.var["view"])) == ["signal", "noise_b", "noise_c"]
    assert masked.uns["views"]["noise_b"] == {"n_features": 20, "n_patients": 52}
    assert np.isnan(masked.X[:8, 30:50]).all() and not np.isnan(masked.X[8:]).any()
    np.testing.assert_allclose(np.nanmean(masked.X, axis=0), 0, atol=1e-5)  # each view z-scored on its own patients
    dropped = normalize_stage(specs, tmp_path / "clinical.tsv", tmp_path / "dropped.h5ad", missing_views="drop")
    assert dropped.n_obs == 52 and dropped.uns["views_dropped"]["n_patients_dropped"] == 8
    clinical = pd.read_csv(tmp_path / "clinical.tsv", sep="\t")
    pd.concat([clinical, clinical.tail(1).assign(sample="P999")]).to_csv(tmp_path / "more.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match="patient 'P999' is in no view"):
        normalize_stage(specs, tmp_path / "more.tsv", tmp_path / "none.h5ad")
    assert not (tmp_path / "none.h5ad").exists()

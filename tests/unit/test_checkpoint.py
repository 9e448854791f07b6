"""Per-round checkpoints: an interrupted fit resumes to the very result of an uninterrupted one."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import deepsubtype.training
from deepsubtype import DeepType
from deepsubtype.cli import main

# Dropout (global RNG), validation early stopping (held-out split) and tol < 0 (every round runs).
PARAMS: dict[str, Any] = dict(hidden_layers=(16, 8), n_clusters=3, dropout=0.2, batch_size=32, pretrain_steps=60,
                              validation_fraction=0.2, patience=3, joint_steps=15, max_rounds=3, tol=-1.0,
                              kmeans_n_init=2, alpha_ramp_steps=20, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 10)).astype(np.float32)
    return X, np.where(X[:, 0] + X[:, 1] > 0, "a", "b")


@pytest.fixture(scope="module")
def reference(data) -> DeepType:
    """The uninterrupted fit, without a checkpoint."""
    return DeepType(**PARAMS).fit(*data)


def _interrupt(monkeypatch: pytest.MonkeyPatch, at_call: int) -> list[int]:
    """Make the ``at_call``-th k-means round raise KeyboardInterrupt; returns the list of calls made."""
    calls: list[int] = []
    kmeans = deepsubtype.training.kmeans

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(calls) + 1)
        if len(calls) == at_call:
            raise KeyboardInterrupt
        return kmeans(*args, **kwargs)

    monkeypatch.setattr(deepsubtype.training, "kmeans", interrupted)
    return calls


def _assert_same_fit(model: DeepType, reference: DeepType) -> None:
    assert np.array_equal(model.labels_, reference.labels_)
    assert np.array_equal(model.cluster_centers_, reference.cluster_centers_)
    assert np.array_equal(model.feature_importances_, reference.feature_importances_)
    assert model.history_ == reference.history_
    assert model.k_scores_ == reference.k_scores_ and model.n_clusters_ == reference.n_clusters_


@pytest.mark.parametrize("at_call", [1, 3])
def test_interrupted_fit_resumes_to_the_uninterrupted_result(data, reference, at_call: int, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    checkpoint = tmp_path / "run" / "train.pt"
    with monkeypatch.context() as patch:
        _interrupt(patch, at_call)
        with pytest.raises(KeyboardInterrupt):
            DeepType(**PARAMS, checkpoint=checkpoint).fit(*data)
    state = torch.load(checkpoint, weights_only=True)
    assert state["round"] == at_call - 1, "written after pretraining and after every joint round"
    assert list(checkpoint.parent.iterdir()) == [checkpoint], "no temporary file left behind"

    calls = _interrupt(monkeypatch, 0)
    with caplog.at_level(logging.INFO, logger="deepsubtype.estimator"):
        model = DeepType(**PARAMS, checkpoint=checkpoint).fit(*data)
    assert f"resuming from checkpoint {checkpoint} at round {at_call}" in caplog.text
    assert len(calls) == PARAMS["max_rounds"] + 2 - at_call, "finished rounds are not run again"
    _assert_same_fit(model, reference)
    assert not checkpoint.exists(), "deleted once the fit succeeded"
    model.save(tmp_path / "model")
    assert DeepType.load(tmp_path / "model").checkpoint is None, "a saved model's refits do not share it"


def test_interrupted_fit_with_an_alpha_path_resumes_to_the_uninterrupted_result(data, tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch
                                                                                ) -> None:
    params = {**PARAMS, "validation_fraction": 0.0, "alpha": "auto", "alpha_grid": (0.0, 0.01, 0.1),
              "path_steps": 10}
    reference = DeepType(**params).fit(*data)
    checkpoint = tmp_path / "train.pt"
    with monkeypatch.context() as patch:
        _interrupt(patch, 2)
        with pytest.raises(KeyboardInterrupt):
            DeepType(**params, checkpoint=checkpoint).fit(*data)
    model = DeepType(**params, checkpoint=checkpoint).fit(*data)
    _assert_same_fit(model, reference)
    assert model.alpha_path_ == reference.alpha_path_ and model.alpha_ == reference.alpha_


def test_checkpoint_of_other_data_or_settings_is_ignored(data, reference, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    X, y = data
    checkpoint = tmp_path / "train.pt"
    for other_X, other_params in [(X + 1.0, PARAMS), (X, {**PARAMS, "alpha": 0.01})]:
        with monkeypatch.context() as patch:
            _interrupt(patch, 3)
            with pytest.raises(KeyboardInterrupt):
                DeepType(**other_params, checkpoint=checkpoint).fit(other_X, y)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="deepsubtype.estimator"):
            model = DeepType(**PARAMS, checkpoint=checkpoint).fit(X, y)
        assert "written for other data, target or hyperparameters" in caplog.text
        assert "resuming" not in caplog.text
        _assert_same_fit(model, reference)
        assert not checkpoint.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04truncated zip"])
def test_corrupt_checkpoint_is_ignored(data, reference, content: bytes, tmp_path: Path, caplog) -> None:
    checkpoint = tmp_path / "train.pt"
    checkpoint.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="deepsubtype.estimator"):
        model = DeepType(**PARAMS, checkpoint=checkpoint).fit(*data)
    assert f"ignoring checkpoint {checkpoint}: unreadable" in caplog.text
    _assert_same_fit(model, reference)
    assert not checkpoint.exists()


def test_tensor_file_of_another_kind_is_ignored(data, reference, tmp_path: Path, caplog) -> None:
    checkpoint = tmp_path / "train.pt"
    torch.save({"weights": torch.zeros(3)}, checkpoint)
    with caplog.at_level(logging.WARNING, logger="deepsubtype.estimator"):
        model = DeepType(**PARAMS, checkpoint=checkpoint).fit(*data)
    assert "not a deepsubtype checkpoint" in caplog.text
    _assert_same_fit(model, reference)


class _Payload:
    """Unpickling this would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def test_pickled_objects_in_a_checkpoint_are_never_executed(data, reference, tmp_path: Path, caplog) -> None:
    checkpoint, marker = tmp_path / "train.pt", tmp_path / "executed"
    torch.save({"format": "deepsubtype.DeepType.checkpoint", "version": 1, "network": _Payload(marker)}, checkpoint)
    with caplog.at_level(logging.WARNING, logger="deepsubtype.estimator"):
        model = DeepType(**PARAMS, checkpoint=checkpoint).fit(*data)
    assert not marker.exists()
    assert "unreadable (UnpicklingError" in caplog.text
    _assert_same_fit(model, reference)


def test_command_line_train_resumes_from_its_checkpoint(cohort_files, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    normalized, checkpoint = tmp_path / "normalized.h5ad", tmp_path / "checkpoints" / "train.pt"
    assert main(["normalize", str(cohort_files["expression"]), str(cohort_files["clinical"]), str(normalized),
                 "--sample-column", "sample", "--n-top-genes", "50"]) == 0
    settings = [f"--set={key}={value}" for key, value in [("hidden_layers", "[16, 8]"), ("pretrain_steps", 60),
                                                          ("joint_steps", 15), ("max_rounds", 2), ("batch_size", 32)]]

    def train(name: str, *extra: str) -> list[str]:
        return ["train", str(normalized), str(tmp_path / name / "model"), str(tmp_path / name / "embedding.h5ad"),
                "--target", "subtype", "--device", "cpu", *settings, *extra]

    assert main(train("uninterrupted")) == 0
    with monkeypatch.context() as patch:
        _interrupt(patch, 2)
        with pytest.raises(KeyboardInterrupt):
            main(train("resumed", "--checkpoint", str(checkpoint)))
    assert checkpoint.exists() and not (tmp_path / "resumed" / "model").exists()
    with caplog.at_level(logging.INFO, logger="deepsubtype.estimator"):
        assert main(train("resumed", "--checkpoint", str(checkpoint))) == 0
    assert f"resuming from checkpoint {checkpoint} at round 2" in caplog.text
    assert not checkpoint.exists()
    resumed, uninterrupted = (DeepType.load(tmp_path / name / "model") for name in ("resumed", "uninterrupted"))
    _assert_same_fit(resumed, uninterrupted)

"""The CUDA path; skipped where no CUDA device is present (as in CI)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.metrics import adjusted_rand_score

from deepsubtype import DeepType

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_cuda_fit_keeps_everything_on_the_device_and_agrees_with_cpu() -> None:
    X, y = make_classification(n_samples=600, n_features=30, n_informative=5, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, class_sep=3.0, shuffle=False, random_state=0)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    params = dict(hidden_layers=(64, 32), n_clusters=3, learning_rate=0.005, pretrain_steps=300, joint_steps=30,
                  max_rounds=5, random_state=0)
    on_gpu = DeepType(device="cuda", **params).fit(X, y)
    on_cpu = DeepType(device="cpu", **params).fit(X, y)
    assert on_gpu.device_.startswith("cuda")
    assert next(on_gpu.network_.parameters()).is_cuda
    assert adjusted_rand_score(on_gpu.labels_, on_cpu.labels_) > 0.9
    assert set(np.argsort(-on_gpu.feature_importances_)[:5]) == {0, 1, 2, 3, 4}

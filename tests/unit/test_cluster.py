from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from deepsubtype.cluster import kmeans, match_labels, relabel_by_size


def test_kmeans_recovers_separated_blobs() -> None:
    points, truth = make_blobs(n_samples=300, centers=4, cluster_std=0.5, random_state=0)
    result = kmeans(torch.tensor(points, dtype=torch.float32), 4, n_init=5,
                    generator=torch.Generator().manual_seed(0))
    assert adjusted_rand_score(truth, result.labels.numpy()) == 1.0
    assert result.centers.shape == (4, 2)
    within = ((points - result.centers.numpy()[result.labels.numpy()]) ** 2).sum()
    assert result.inertia == np.float32(within) or abs(result.inertia - within) / within < 1e-4


def test_kmeans_is_deterministic_for_a_seed() -> None:
    points = torch.randn(200, 5, generator=torch.Generator().manual_seed(1))
    first = kmeans(points, 3, generator=torch.Generator().manual_seed(7))
    second = kmeans(points, 3, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first.labels, second.labels)


def test_kmeans_with_more_clusters_than_distinct_points_still_returns_k_centres() -> None:
    points = torch.tensor([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5)
    result = kmeans(points, 3, n_init=2, generator=torch.Generator().manual_seed(0))
    assert result.centers.shape == (3, 2) and result.inertia == 0.0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=4, max_size=40), st.permutations(range(4)))
def test_match_labels_undoes_a_permutation(labels, permutation) -> None:
    reference = np.asarray(labels)
    permuted = np.asarray(permutation)[reference]
    mapping = match_labels(permuted, reference, 4)
    assert np.array_equal(mapping[permuted], reference)


def test_relabel_by_size_puts_largest_first() -> None:
    labels = np.array([2, 2, 2, 0, 1, 1])
    order = relabel_by_size(labels, 3)
    assert list(order[labels]) == [0, 0, 0, 2, 1, 1]


def test_silhouette_matches_scikit_learn_and_scores_pick_the_true_k() -> None:
    from sklearn.metrics import silhouette_score

    from deepsubtype.cluster import _silhouette, score_n_clusters

    points, _ = make_blobs(n_samples=400, centers=4, cluster_std=0.6, random_state=0)
    tensor = torch.tensor(points, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    labels = kmeans(tensor, 3, generator=generator).labels
    assert _silhouette(tensor, labels, 3) == pytest.approx(silhouette_score(points, labels.numpy()), rel=1e-9)
    scores = score_n_clusters(tensor, [2, 3, 4, 5, 6], generator=generator, n_resamples=5)
    assert [r["n_clusters"] for r in scores] == [2, 3, 4, 5, 6]
    assert max(scores, key=lambda r: r["silhouette"])["n_clusters"] == 4
    assert next(r for r in scores if r["n_clusters"] == 4)["stability"] > 0.95


def test_match_labels_numbers_extra_clusters_after_the_reference() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2, 3])
    reference = np.array([1, 1, 0, 0, 0, 1, 1])
    permutation = match_labels(labels, reference, 4, 2)
    assert sorted(permutation[[0, 1]]) == [0, 1] and permutation[0] == 1 and permutation[1] == 0
    assert sorted(permutation[[2, 3]]) == [2, 3]

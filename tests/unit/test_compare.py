from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import spectral_clustering
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from deepsubtype.compare import (
    clustering_accuracy,
    consensus_clustering,
    fuse_networks,
    label_agreement,
    run_baselines,
    snf_affinity,
)


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=90, n_features=30, centers=3, cluster_std=1.0, random_state=0)
    return X.astype(np.float32), y


def test_consensus_clustering_recovers_blobs_and_its_cdf_prefers_the_true_k(blobs) -> None:
    X, y = blobs
    result = consensus_clustering(X, [2, 3, 4, 5], n_resamples=20, seed=0)
    assert adjusted_rand_score(y, result.labels[3]) == 1.0
    matrix = result.consensus[3]
    assert matrix.shape == (90, 90) and np.allclose(matrix, matrix.T) and np.all(np.diag(matrix) == 1)
    deltas = result.delta_area
    assert deltas[3] > deltas[4] and deltas[3] > deltas[5], "the area stops growing past the true K"


def test_snf_affinity_and_fusion(blobs) -> None:
    X, y = blobs
    W = snf_affinity(X)
    assert np.allclose(W, W.T) and np.all((W > 0) & (W <= 1))
    noisy = X + np.random.default_rng(0).normal(scale=3.0, size=X.shape)
    fused = fuse_networks([W, snf_affinity(noisy)])
    assert np.allclose(fused, fused.T)
    labels = spectral_clustering(fused, n_clusters=3, random_state=0, assign_labels="discretize")
    assert adjusted_rand_score(y, labels) > 0.9


def test_clustering_accuracy_uses_the_best_matching() -> None:
    truth = np.array(["a", "a", "b", "b", "c", "c"])
    assert clustering_accuracy(truth, np.array([2, 2, 0, 0, 1, 1])) == 1.0
    assert clustering_accuracy(truth, np.array([0, 0, 0, 0, 1, 1])) == pytest.approx(4 / 6)
    agreement = label_agreement(pd.Series(["a", None, "b", "b"]), np.array([1, 0, 0, 0]))
    assert agreement["acc"] == 1.0 and agreement["ari"] == 1.0


def test_every_baseline_finds_separated_groups(blobs) -> None:
    X, y = blobs
    results = run_baselines(X, 3, seed=0, n_components=10, consensus_resamples=10,
                            autoencoder_params={"hidden_layers": (16, 8), "pretrain_steps": 200,
                                                "learning_rate": 0.01, "joint_steps": 10, "max_rounds": 2,
                                                "device": "cpu"})
    assert [r.method for r in results] == ["kmeans", "pca_kmeans", "consensus", "snf", "autoencoder"]
    for result in results:
        assert adjusted_rand_score(y, result.labels) > 0.9, result.method
        assert result.seconds >= 0


def test_cluster_stability_counts_pairs_kept_together() -> None:
    from deepsubtype.validation import cluster_stability

    reference = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    rows = np.arange(8)
    kept = (rows, reference.copy())
    split = (rows, np.array([0, 0, 1, 1, 1, 1, 1, 1]))  # cluster 0 split in halves
    table = cluster_stability(reference, [kept, split]).set_index("cluster")
    assert table.loc[1, "consensus"] == 1.0
    assert table.loc[0, "min_consensus"] == pytest.approx(4 / 12)  # pairs within {0,1} and {2,3}
    assert table.loc[0, "consensus"] == pytest.approx((1 + 4 / 12) / 2)


def test_baselines_are_reproducible_with_the_same_seed(blobs) -> None:
    X, _ = blobs
    settings = dict(seed=3, n_components=10, consensus_resamples=10,
                    autoencoder_params={"hidden_layers": (16, 8), "pretrain_steps": 50, "max_rounds": 1,
                                        "device": "cpu"})
    first, second = run_baselines(X, 3, **settings), run_baselines(X, 3, **settings)
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a.labels, b.labels), a.method
        assert np.array_equal(a.space, b.space), a.method


def test_the_summary_over_seeds_says_what_made_each_methods_clusters() -> None:
    # a DeepType refit at another seed may learn a baseline's clusters (objective: auto): the summary's median
    # then mixes them, and clusters_by says so
    from deepsubtype.stages.compare import _summarize_over_seeds

    table = pd.DataFrame({"method": ["deepsubtype", "kmeans"] * 3, "seed": [0, 0, 1, 1, 2, 2],
                          "clusters_by": ["deeptype", "kmeans", "pca_kmeans", "kmeans", "deeptype", "kmeans"],
                          "logrank_p": [0.01, 0.2, 0.02, 0.3, 0.03, 0.4]})
    summary = _summarize_over_seeds(table, ["logrank_p"]).set_index("method")
    assert list(summary.columns[:2]) == ["n_seeds", "clusters_by"]
    assert summary.loc["deepsubtype", "clusters_by"] == "deeptype,pca_kmeans"
    assert summary.loc["kmeans", "clusters_by"] == "kmeans"
    assert summary.loc["deepsubtype", "logrank_p_median"] == pytest.approx(0.02)

"""Several seeds combined: consensus clusters, majority calls, median gene importances."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from deepsubtype import DeepType
from deepsubtype.ensemble import DeepTypeEnsemble, consensus_labels, consensus_support, fit_table, load_model
from deepsubtype.importance import gene_importance
from deepsubtype.validation import fold_estimator

from ..conftest import separated_classes

SMALL = dict(hidden_layers=(32, 16), learning_rate=0.005, batch_size=128, pretrain_steps=300, joint_steps=30,
             max_rounds=5, kmeans_n_init=5, alpha=0.006, alpha_ramp_steps=50, device="cpu")


def test_consensus_recovers_the_majority_partition_whatever_the_label_names() -> None:
    truth = np.repeat([0, 1, 2], [6, 4, 2])
    renamed = np.array([2, 0, 1])[truth]
    noisy = truth.copy()
    noisy[0] = 1  # one fit puts one sample elsewhere
    labels, co_assignment = consensus_labels([truth, renamed, noisy], 3)
    assert adjusted_rand_score(truth, labels) == 1.0
    assert list(np.bincount(labels)) == [6, 4, 2], "numbered from the largest cluster"
    assert co_assignment[0, 1] == pytest.approx(2 / 3) and co_assignment[1, 2] == 1.0
    support = consensus_support(co_assignment, labels)
    assert support[1] == pytest.approx(1.0 - (1 / 3) / 5) and support[0] == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return separated_classes(600, 3, random_state=1)


@pytest.fixture(scope="module")
def ensemble(data) -> DeepTypeEnsemble:
    X, y = data
    return DeepTypeEnsemble(DeepType(n_clusters=3, **SMALL), n_fits=3, random_state=4).fit(X, y)


def test_ensemble_clusters_predictions_and_genes(ensemble, data) -> None:
    X, y = data
    assert [fit.random_state for fit in ensemble.fits_] == [4, 5, 6]
    assert adjusted_rand_score(y, ensemble.labels_) >= 0.9
    assert ensemble.fit_agreement_.shape == (3, 3) and np.allclose(np.diag(ensemble.fit_agreement_), 1)
    assert np.mean(ensemble.predict(X) == ensemble.labels_) >= 0.97
    assert ensemble.confidence(X).min() >= 1 / 3 and ensemble.cluster_centers_.shape == (3, 16)
    assert ensemble.transform(X).shape == (600, 16) and ensemble.distances(X).shape == (600, 3)
    per_fit = ensemble.importance_per_fit()
    assert np.allclose(per_fit.sum(1), 1.0), "each fit's importances as shares of its total"
    np.testing.assert_allclose(ensemble.feature_importances_, np.median(per_fit, axis=0))
    table = gene_importance(ensemble)
    paper = table.sort_values("first_layer_rank")
    assert set(paper["gene"].head(5)) == {f"gene_{i}" for i in range(5)}, "informative features first"
    assert (table["importance_measure"] == "pattern_minmax").all()
    assert np.allclose(table["importance"], table["pattern_minmax_importance"]) and list(
        table["pattern_minmax_rank"]) == list(table["rank"])
    assert {"top50_frequency", "median_rank_in_fits", "rank_iqr"} <= set(table.columns)
    fits = fit_table(ensemble)
    assert list(fits["seed"]) == [4, 5, 6] and fits["representative"].sum() == 1
    assert (fits["alpha"] == "0.006").all() and fits["ari_with_consensus"].min() >= 0.9


def test_ensemble_round_trips_through_its_directory(ensemble, data, tmp_path) -> None:
    X, _ = data
    ensemble.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert isinstance(loaded, DeepTypeEnsemble) and loaded.task == "classification"
    assert np.array_equal(loaded.labels_, ensemble.labels_)
    assert np.array_equal(loaded.predict(X), ensemble.predict(X))
    assert np.allclose(loaded.cluster_centers_, ensemble.cluster_centers_)
    assert isinstance(load_model(tmp_path / "model" / "fit_0"), DeepType)
    # each fit stores the objective chosen for it; the procedure a validation fold refits is the configured one
    assert {fit.objective for fit in loaded.fits_} == {"primary"} and ensemble.estimator.objective == "auto"
    assert loaded.estimator.objective == "auto" and fold_estimator(loaded, None, 0).estimator.objective == "auto"


def test_ensemble_refuses_no_fits(data) -> None:
    with pytest.raises(ValueError, match="n_fits"):
        DeepTypeEnsemble(DeepType(**SMALL), n_fits=0).fit(*data)


def test_fits_log_a_line_per_phase_round_and_fit(data, caplog) -> None:
    X, y = data
    caplog.set_level(logging.INFO)
    DeepTypeEnsemble(DeepType(n_clusters=3, **{**SMALL, "max_rounds": 2}), n_fits=2, random_state=0).fit(X, y)
    text = caplog.text
    assert "pretrain: " in text and "steps (" in text and ") in " in text and "loss primary" in text
    assert "round 1 of at most 3: k-means inertia" in text and "first assignment" in text
    assert "joint (round 1): " in text and "of patients changed cluster" in text
    assert "fit 1 of 2 (seed 0) done" in text and "fit 2 of 2 (seed 1) done" in text and "s left" in text


def _path(losses: list[list[float]], collapsed: list[str]) -> Any:
    from deepsubtype.alpha_path import AlphaPath

    return AlphaPath(alphas=[0.0, 0.01, 0.1, 1.0][:len(losses)], terms=[np.array(terms) for terms in losses],
                     n_genes_tenth=[10] * len(losses), collapsed=collapsed)


def test_alpha_choice_pools_the_fits_and_skips_collapsed_branches_and_their_neighbours() -> None:
    from deepsubtype.alpha_path import choose_alpha

    first = _path([[1.0, 3.0], [0.6, 1.0], [0.5, 0.7], [0.4, 0.5]], ["", "", "", "collapsed"])
    second = _path([[2.0, 2.0], [0.9, 0.7], [0.3, 0.5], [0.45, 0.5]], ["", "", "", ""])
    chosen, records = choose_alpha([first, second])
    assert [r["n_selection"] for r in records] == [4] * 4 and records[0]["n_fits"] == 2
    assert records[3]["collapsed"] == "collapsed", "collapsed in one fit: not eligible for any"
    # 1.0 collapsed, 0.1 sits beside it: the choice falls among 0 and 0.01
    assert chosen == 1 and records[1]["chosen"] and sum(r["chosen"] for r in records) == 1
    # alone, the second fit has no collapse: 1.0 (mean 0.475) is within one SE (0.1) of the lowest (0.4)
    assert choose_alpha([second])[0] == 3, "without the collapse the largest within one SE wins"
    everything = _path([[1.0, 1.1], [1.0, 1.1]], ["collapsed", "collapsed"])
    assert choose_alpha([everything])[0] == 0, "when every branch collapses the smallest alpha is kept"


def test_an_ensemble_chooses_one_alpha_for_all_its_fits(data, tmp_path) -> None:
    X, y = data
    base = DeepType(**{**SMALL, "alpha": "auto", "pretrain_steps": 150, "max_rounds": 2},
                    alpha_grid=(0.0, 0.003, 0.03), path_steps=40, checkpoint=tmp_path / "train.pt")
    model = DeepTypeEnsemble(base, n_fits=3, random_state=0).fit(X, y)
    assert len({fit.alpha_ for fit in model.fits_}) == 1
    seconds = sum(fit.fit_seconds_ for fit in model.fits_)
    assert 0.9 * model.fit_seconds_ <= seconds <= model.fit_seconds_, "a fit's seconds count its path too"
    path = model.fits_[0].alpha_path_
    assert [record["n_fits"] for record in path] == [3, 3, 3]
    assert path[0]["n_selection"] == 3 * round(0.2 * len(y)), "every fit's held-out patients pooled"
    assert [r["selection_loss"] for r in path] == [r["selection_loss"] for r in model.fits_[2].alpha_path_]
    assert [r["fit_selection_loss"] for r in path] != [r["fit_selection_loss"] for r in model.fits_[2].alpha_path_]
    assert not list(tmp_path.iterdir()), "each fit's own checkpoint (train.seed{N}.pt) deleted when it finished"
    # one fit alone, on the same seed, walks the same branches: its own scores are the ensemble fit's
    alone = DeepType(**{**base.get_params(), "checkpoint": None}).fit(X, y)
    assert [r["fit_selection_loss"] for r in alone.alpha_path_] == [r["fit_selection_loss"] for r in path]
    assert alone.alpha_path_[0]["n_fits"] == 1


def test_a_progress_bar_on_a_terminal_and_none_in_a_log(data, monkeypatch) -> None:
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    X, y = data
    settings = {**SMALL, "pretrain_steps": 20, "joint_steps": 5, "max_rounds": 1}
    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        DeepTypeEnsemble(DeepType(n_clusters=3, **settings), n_fits=2, random_state=0).fit(X[::6], y[::6])
        # the bar's first render ("0/2") is always written; later ones wait on tqdm's refresh interval
        assert ("DeepType fits" in stream.getvalue()) is shown and ("0/2" in stream.getvalue()) is shown

"""Several DeepType fits of one cohort combined, so that subtypes and gene rankings do not hinge on a seed.

A single fit's clusters move with the seed and even with the last bits of floating-point rounding
(another CPU's matrix kernels). :class:`DeepTypeEnsemble` fits the same DeepType with ``n_fits``
seeds and combines them as consensus clustering does for k-means (Monti et al. 2003):

- **clusters**: the co-assignment matrix (share of fits that put two patients in one cluster) is cut
  into K groups by average-linkage hierarchical clustering on ``1 - co-assignment``;
- **new patients**: every fit assigns them to its nearest centre, each fit's clusters are renamed to the
  consensus clusters by Hungarian matching on the training patients, and the majority wins;
- **genes**: each fit's importances (its ``importance``: activation pattern or first-layer column norms) as
  shares of that fit's total, and per gene the median share over fits (chosen by measurement over the mean,
  the mean rank and the geometric mean: on the demo the median's top 20 agrees between seed blocks at
  Jaccard >= 0.90 where the mean's falls to 0.74, with the same markers; ``benchmarks/RESULTS.md``);
  with every gene's rank in each fit, the rank spread and how often it is in a fit's top N.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.base import BaseEstimator, ClusterMixin, clone
from sklearn.metrics import adjusted_rand_score
from tqdm import tqdm

from . import fitting
from .alpha_path import AlphaPath, alpha_text, choose_alpha
from .cluster import cluster_means, match_labels, relabel_by_size
from .errors import InputError
from .estimator import DeepType
from .training import steps_by_phase

__all__ = ["DeepTypeEnsemble", "consensus_labels", "consensus_support", "fit_table", "load_model"]

logger = logging.getLogger(__name__)

_ENSEMBLE_FILE = "ensemble.json"
#: Facts of the representative fit that the ensemble shows as its own (see ``DeepTypeEnsemble.__getattr__``).
_FROM_REPRESENTATIVE = frozenset({"task", "views", "classes_", "alpha_", "alpha_path_", "history_", "k_scores_",
                                  "k_criterion", "n_rounds_", "converged_", "device_", "precision_", "beta",
                                  "n_clusters", "objective_", "objective_scores_",
                                  "hidden_layers", "_view_sizes", "importance"})


def _checkpoint_of(checkpoint: str | Path | None, seed: int) -> Path | None:
    """Each fit's own checkpoint file beside ``checkpoint`` (``train.pt`` -> ``train.seed3.pt``), so that the fits
    of an interrupted ensemble (all paths are walked before any fit goes on) resume without overwriting each
    other's state."""
    if checkpoint is None:
        return None
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}.seed{seed}{path.suffix}")


def consensus_labels(labelings: list[np.ndarray], n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Consensus of several clusterings of the same n samples.

    Returns ``(labels, co_assignment)``: labels (n,) numbered 0 = largest, from average-linkage
    clustering of ``1 - co_assignment`` cut into ``n_clusters`` groups; co_assignment (n, n), the share of
    clusterings that put two samples together.
    """
    stacked = np.stack([np.asarray(labels) for labels in labelings])
    co_assignment = np.mean([labels[:, None] == labels[None, :] for labels in stacked], axis=0)
    if n_clusters < 2 or stacked.shape[1] < 2:
        return np.zeros(stacked.shape[1], dtype=np.int64), co_assignment
    distance = squareform(1.0 - co_assignment, checks=False)
    tree = linkage(distance, method="average")
    labels = fcluster(tree, t=n_clusters, criterion="maxclust") - 1
    found = int(labels.max()) + 1
    return relabel_by_size(labels, found)[labels].astype(np.int64), co_assignment


class DeepTypeEnsemble(ClusterMixin, BaseEstimator):
    """``n_fits`` fits of ``estimator`` (seeds ``random_state``, ``random_state + 1``, ...) combined.

    Parameters
    ----------
    estimator
        The :class:`~deepsubtype.DeepType` to fit (its own ``random_state`` is replaced).
    n_fits
        Number of fits (seeds).
    random_state
        First seed.
    top_n
        Size of the top lists whose membership frequency is reported per gene.

    Attributes
    ----------
    fits_ : list of DeepType
        The fitted models, in seed order.
    labels_ : ndarray (n_samples,)
        Consensus clusters, 0 = largest.
    n_clusters_ : int
        K: the fits' most common K (several only differ with ``n_clusters="auto"``).
    co_assignment_ : ndarray (n_samples, n_samples)
        Share of fits that put two patients in one cluster.
    fit_agreement_ : ndarray (n_fits, n_fits)
        Adjusted Rand index between the fits' clusters (1 on the diagonal).
    representative_ : int
        Index of the fit that agrees best with the consensus (highest ARI); its representation is
        :meth:`transform`'s and ``cluster_centers_`` are the consensus clusters' means in it.
    feature_importances_ : ndarray (n_features_in_,)
        Median over fits of each fit's importances divided by their sum (:meth:`combined_importances`).
    fit_warnings_ : list of str
        The fits' warnings, each prefixed with its seed.
    """

    def __init__(self, estimator: DeepType | None = None, *, n_fits: int = 5, random_state: int = 0,
                 top_n: int = 50) -> None:
        self.estimator = estimator
        self.n_fits = n_fits
        self.random_state = random_state
        self.top_n = top_n

    # ----------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any = None) -> DeepTypeEnsemble:
        """Fit ``n_fits`` seeds of ``estimator`` on ``X`` (n_samples, n_genes) and ``y``; combine them."""
        if int(self.n_fits) < 1:
            raise ValueError(f"n_fits must be at least 1, got {self.n_fits!r}")
        base = DeepType() if self.estimator is None else self.estimator
        started = time.perf_counter()
        seeds = [int(self.random_state) + index for index in range(int(self.n_fits))]
        # what the fits train on is settled once, by the first seed (for a survival task with objective
        # "auto", the cross-validated choice of deepsubtype.objective), and shared: every fit learns one target
        first = clone(base).set_params(random_state=seeds[0], checkpoint=None)
        objective, scores, target, _, _ = fitting.objective_and_target(first, X, y)
        models = [clone(base).set_params(random_state=seed, checkpoint=_checkpoint_of(base.checkpoint, seed),
                                         objective=objective) for seed in seeds]
        for model in models:
            model.objective_, model.baseline_rule_ = objective, first.baseline_rule_
        paths: list[AlphaPath | None] = [None] * len(models)
        records: list[dict[str, Any]] = []
        if base.alpha == "auto":  # every fit walks its path, the pooled held-out scores choose one alpha for all
            paths = [fitting.alpha_path(model, X, target) for model in models]
            walked = [path for path in paths if path is not None]
            if walked:
                records = choose_alpha(walked)[1]
            logger.info("alpha paths of %d fits walked: %.0f s", len(walked), time.perf_counter() - started)
        self.fits_ = []
        # a progress bar on a terminal only (tqdm's disable=None); logs and CI get the log lines
        for index, (model, path) in enumerate(tqdm(list(zip(models, paths, strict=True)), desc="DeepType fits",
                                                   unit="fit", disable=None, leave=False)):
            self.fits_.append(fitting.fit_along(model, X, target, path, records) if records
                              else fitting.fit_primary(model, X, target))
            model.objective_scores_ = scores
            elapsed = time.perf_counter() - started
            logger.info("fit %d of %d (seed %d) done: %.0f s so far, about %.0f s left", index + 1, self.n_fits,
                        seeds[index], elapsed, elapsed / (index + 1) * (int(self.n_fits) - index - 1))
        self._combine()
        points = self.representative.transform(X).astype(np.float64)
        self.cluster_centers_ = cluster_means(points, self.labels_, int(self.labels_.max()) + 1)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _combine(self) -> None:
        """Consensus clusters, agreement, representative fit and renamings from ``fits_``."""
        fits = self.fits_
        ks = [int(fit.n_clusters_) for fit in fits]
        self.n_clusters_ = max(set(ks), key=lambda k: (ks.count(k), -k))
        self.labels_, self.co_assignment_ = consensus_labels([fit.labels_ for fit in fits], self.n_clusters_)
        n = len(fits)
        agreement = np.ones((n, n))
        for i, j in itertools.combinations(range(n), 2):
            agreement[i, j] = agreement[j, i] = adjusted_rand_score(fits[i].labels_, fits[j].labels_)
        self.fit_agreement_ = agreement
        with_consensus = [adjusted_rand_score(self.labels_, fit.labels_) for fit in fits]
        self.representative_ = int(np.argmax(with_consensus))
        self.n_features_in_ = fits[0].n_features_in_
        if hasattr(fits[0], "feature_names_in_"):
            self.feature_names_in_ = fits[0].feature_names_in_
        self.fit_warnings_ = [f"seed {fit.random_state}: {sentence}" for fit in fits for sentence in fit.fit_warnings_]
        n_found = int(self.labels_.max()) + 1
        # each fit's clusters renamed to the consensus ones (by its training patients), for predict
        self._renaming = [match_labels(fit.labels_, self.labels_, int(fit.n_clusters_), n_found) for fit in fits]

    # --------------------------------------------------------------- inference
    @property
    def representative(self) -> DeepType:
        """The fit whose clusters agree best with the consensus."""
        return self.fits_[self.representative_]

    def votes(self, X: Any) -> np.ndarray:
        """Share of fits assigning each sample of ``X`` to each consensus cluster: (n_samples, n_clusters)."""
        n_found = int(self.labels_.max()) + 1
        calls = np.stack([renaming[fit.predict(X)] for fit, renaming in zip(self.fits_, self._renaming, strict=True)])
        # a fit's clusters without a consensus match are numbered from n_found on: counted, then left out
        counts = np.zeros((calls.shape[1], max(n_found, int(calls.max()) + 1)))
        np.add.at(counts, (np.broadcast_to(np.arange(calls.shape[1]), calls.shape), calls), 1.0)
        return counts[:, :n_found] / len(self.fits_)

    def predict(self, X: Any) -> np.ndarray:
        """Consensus cluster of each sample of ``X``: the majority of the fits' calls, shape (n_samples,)."""
        return self.votes(X).argmax(1)

    def confidence(self, X: Any) -> np.ndarray:
        """Share of fits that agree with each sample's consensus call (1 = unanimous), shape (n_samples,)."""
        return self.votes(X).max(1)

    def transform(self, X: Any) -> np.ndarray:
        """Representation of ``X`` by the representative fit: (n_samples, hidden_layers[-1])."""
        return self.representative.transform(X)

    def distances(self, X: Any) -> np.ndarray:
        """Euclidean distances to the consensus centres in the representative fit's space: (n_samples, K)."""
        hidden = self.transform(X).astype(np.float64)
        return np.sqrt(((hidden[:, None, :] - self.cluster_centers_[None, :, :]) ** 2).sum(-1))

    def predict_target(self, X: Any) -> np.ndarray:
        """The representative fit's primary-task prediction (see :meth:`DeepType.predict_target`)."""
        return self.representative.predict_target(X)

    @property
    def feature_importances_(self) -> np.ndarray:
        """Median over fits of each fit's importances as shares of its total: (n_features_in_,)."""
        return self.combined_importances()

    def combined_importances(self, measure: str | None = None) -> np.ndarray:
        """Per gene, the median over fits of its share of the fit's total importance (``measure``: one of
        :data:`~deepsubtype.estimator.IMPORTANCE_MEASURES`; default the fits' own ``importance``): (n_features_in_,)."""
        return np.median(self.importance_per_fit(measure), axis=0)

    def importance_per_fit(self, measure: str | None = None) -> np.ndarray:
        """Each fit's importances divided by their sum: (n_fits, n_features_in_); ``measure`` (one of
        :data:`~deepsubtype.estimator.IMPORTANCE_MEASURES`) instead of the fits' own ``importance``."""
        attribute = "feature_importances_" if measure is None else f"{measure}_importances_"
        values = np.stack([getattr(fit, attribute) for fit in self.fits_]).astype(np.float64)
        return values / np.where(values.sum(1, keepdims=True) > 0, values.sum(1, keepdims=True), 1.0)

    def gene_stability(self) -> pd.DataFrame:
        """Per gene (input order): ``top_n_frequency`` (share of fits ranking it in their top ``top_n``),
        ``median_rank_in_fits`` and ``rank_iqr`` (interquartile range of its rank over fits; 1 = best)."""
        per_fit = self.importance_per_fit()
        ranks = (-per_fit).argsort(1, kind="stable").argsort(1, kind="stable") + 1
        return pd.DataFrame({
            "top_n_frequency": (ranks <= self.top_n).mean(0),
            "median_rank_in_fits": np.median(ranks, 0),
            "rank_iqr": np.subtract(*np.percentile(ranks, [75, 25], axis=0)),
        })

    def __getattr__(self, name: str) -> Any:
        # the hyperparameters and training facts of _FROM_REPRESENTATIVE (task, views, classes_, alpha_,
        # ...) are the representative fit's
        if name not in _FROM_REPRESENTATIVE or "fits_" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.fits_[self.representative_], name)

    # -------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> None:
        """Write ``ensemble.json`` and one DeepType model directory per fit (``fit_0``, ``fit_1``, ...)."""
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        for index, fit in enumerate(self.fits_):
            fit.save(directory / f"fit_{index}")
        meta = {"format": "deepsubtype.DeepTypeEnsemble", "n_fits": len(self.fits_),
                "random_state": int(self.random_state), "top_n": int(self.top_n),
                "representative": self.representative_, "n_clusters": int(self.n_clusters_),
                "labels": self.labels_.tolist(), "cluster_centers": self.cluster_centers_.tolist(),
                "fit_seconds": self.fit_seconds_, "fit_agreement": self.fit_agreement_.tolist(),
                # the configured objective: each fit stores the one chosen for it ("auto" resolved), and a refit
                # of the procedure (a validation fold) must choose again on its own patients
                "objective": (DeepType() if self.estimator is None else self.estimator).objective}
        (directory / _ENSEMBLE_FILE).write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu") -> DeepTypeEnsemble:
        """Read an ensemble written by :meth:`save`."""
        directory = Path(path)
        try:
            meta = json.loads((directory / _ENSEMBLE_FILE).read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{directory / _ENSEMBLE_FILE}: not a deepsubtype ensemble file") from error
        if not isinstance(meta, dict) or meta.get("format") != "deepsubtype.DeepTypeEnsemble":
            raise InputError(f"{directory / _ENSEMBLE_FILE}: not a deepsubtype ensemble file")
        fits = [DeepType.load(directory / f"fit_{index}", device=device) for index in range(meta["n_fits"])]
        base = clone(fits[0]).set_params(random_state=meta["random_state"],
                                         objective=meta.get("objective", fits[0].objective))
        ensemble = cls(base, n_fits=meta["n_fits"], random_state=meta["random_state"], top_n=meta["top_n"])
        ensemble.fits_ = fits
        ensemble._combine()
        ensemble.cluster_centers_ = np.asarray(meta["cluster_centers"], dtype=np.float64)
        ensemble.fit_seconds_ = float(meta["fit_seconds"])
        return ensemble


def load_model(path: str | Path, *, device: str = "cpu") -> DeepType | DeepTypeEnsemble:
    """The model in directory ``path``: a :class:`DeepTypeEnsemble` where ``ensemble.json`` is, else a
    :class:`DeepType`."""
    if (Path(path) / _ENSEMBLE_FILE).is_file():
        return DeepTypeEnsemble.load(path, device=device)
    return DeepType.load(path, device=device)



def consensus_support(co_assignment: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per sample, the mean share of fits that put it with each other member of its consensus cluster:
    (n_samples,), 1 = always with them; NaN for a sample alone in its cluster."""
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    counts = same.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, (co_assignment * same).sum(1) / counts, np.nan)


def fit_table(model: DeepType | DeepTypeEnsemble) -> pd.DataFrame:
    """One row per fit: ``seed``, ``n_clusters``, ``alpha`` (chosen or fixed), ``cluster_sizes``,
    ``ari_with_consensus`` and ``median_ari_with_other_fits`` (1 for a single fit), ``n_rounds``,
    ``converged``, ``seconds``, the optimizer steps ``steps_path`` (the alpha path's trunk and branches),
    ``steps_pretrain`` (pretraining at the fit's alpha) and ``steps_joint`` (all joint rounds), ``representative``
    and ``warnings`` (failed-fit signs, ``;``-separated)."""
    fits = model.fits_ if isinstance(model, DeepTypeEnsemble) else [model]
    rows = []
    for index, fit in enumerate(fits):
        others = (np.delete(model.fit_agreement_[index], index) if isinstance(model, DeepTypeEnsemble)
                  and len(fits) > 1 else np.ones(1))
        rows.append({
            "seed": fit.random_state, "n_clusters": int(fit.n_clusters_), "alpha": alpha_text(fit.alpha_),
            "cluster_sizes": ",".join(str(n) for n in np.bincount(fit.labels_, minlength=fit.n_clusters_)),
            "ari_with_consensus": adjusted_rand_score(model.labels_, fit.labels_),
            "median_ari_with_other_fits": float(np.median(others)),
            "n_rounds": int(fit.n_rounds_), "converged": bool(fit.converged_), "seconds": float(fit.fit_seconds_),
            **{f"steps_{phase}": steps for phase, steps in steps_by_phase(fit.history_).items()},
            "representative": index == getattr(model, "representative_", 0),
            "warnings": "; ".join(fit.fit_warnings_),
        })
    return pd.DataFrame(rows)

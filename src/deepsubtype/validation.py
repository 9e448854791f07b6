"""Out-of-fold cluster assignments, so that survival differences are not judged on the data that made them.

For each of ``repeats`` shuffled K-fold splits, DeepType is refitted on K-1 folds and the held-out
patients are assigned with :meth:`DeepType.predict`. Everything the model chooses from the data is
chosen again inside each fold from its training patients alone: given the cohort's raw matrix, the whole
normalization (the top-variance gene filter and the per-gene z-score, with the scale detected on the
cohort; :func:`fold_normalized`), applied to the held-out patients as to a new cohort
(:func:`~deepsubtype.transfer.transfer_normalization`: the fold's genes, means and SDs); without it,
the z-score alone (from the log-scale values kept in ``layers["log"]``; :func:`fold_scaled`); then
alpha (``alpha="auto"``) and the number of clusters (``n_clusters="auto"``). Several views keep the
cohort's normalization (the transfer takes one matrix). The fold model's clusters are renamed to the
full-data clusters by Hungarian matching on the training patients, so that "cluster 1" means the same
subtype in every fold (a fold that finds more clusters than the full data numbers its extra ones after them).
The baselines a survival fit may learn (k-means, PCA + k-means) are validated on the same splits and fold
normalization (:func:`baseline_out_of_fold`), so that DeepType's out-of-fold p has a like-for-like neighbour.
The calibrated test (below :func:`cluster_stability`) ranks the out-of-fold statistics among permutations of the
outcomes, every fold refitted on each permuted cohort for a procedure that learns from survival.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold
from tqdm import tqdm

from .cluster import match_labels
from .ensemble import DeepTypeEnsemble
from .estimator import DeepType
from .normalize import minmax_scaled, normalize
from .objective import baseline_rule
from .survival import group_log_hazard, per_fold_logrank
from .transfer import transfer_normalization

__all__ = ["out_of_fold_clusters", "fit_split", "match_folds", "baseline_out_of_fold", "cluster_stability",
           "fold_matrices", "fold_normalized", "fold_scaled", "permutation_order", "permuted_survival",
           "STATISTICS", "unmatched_assignments", "out_of_fold_statistics", "fixed_cluster_statistics",
           "refitted_statistics", "permutation_p", "held_out_c_index"]

logger = logging.getLogger(__name__)


def fold_scaled(adata: ad.AnnData, train: np.ndarray, test: np.ndarray) -> tuple[ad.AnnData, ad.AnnData]:
    """The ``train`` and ``test`` rows of ``adata``, z-scored per gene with the training rows' mean and SD
    (ddof 1) of ``layers["log"]`` (and min-max scaled by the training rows' range, where the file was), where
    the file was z-scored from that layer; else its rows as they are."""
    steps = adata.uns.get("normalize", {})
    if not steps.get("zscore", False) or "log" not in adata.layers or "view" in adata.var.columns:
        return adata[train], adata[test]
    log = np.asarray(adata.layers["log"], dtype=np.float64)
    mean, std = log[train].mean(0), log[train].std(0, ddof=1)
    std = np.where(std > 0, std, 1.0)
    scaled = (log - mean) / std
    if steps.get("minmax"):
        scaled = minmax_scaled(scaled, scaled[train].min(0), scaled[train].max(0))
    train_part, test_part = (ad.AnnData(scaled[rows].astype(np.float32), obs=adata.obs.iloc[rows],
                                        var=adata.var[[]]) for rows in (train, test))
    return train_part, test_part


def fold_normalized(raw: ad.AnnData, steps: dict[str, Any], train: np.ndarray, test: np.ndarray
                    ) -> tuple[ad.AnnData, ad.AnnData]:
    """The ``train`` rows of the raw matrix ``raw`` (samples x genes, as read) normalized as the cohort was
    (``steps``: its ``uns["normalize"]``; the scale it detected, its ``n_top_genes``, z-score and missing-value
    policy), so the gene filter and the z-score see the fold's training patients only; the ``test`` rows
    brought to those genes, log scale and per-gene means and SDs by
    :func:`~deepsubtype.transfer.transfer_normalization`."""
    n_top = steps.get("n_top_genes", "all")
    settings = {"scale": steps["scale"], "zscore": bool(steps.get("zscore", True)),
                "minmax": bool(steps.get("minmax", False)), "missing": steps.get("missing_policy", "fail")}
    # both copy the rows they are given (normalize's copy=True, the transfer's own copy)
    train_part = normalize(raw[train], n_top_genes=None if n_top == "all" else int(n_top),
                           source="fold training patients", **settings)
    test_part = transfer_normalization(raw[test], train_part, scale=settings["scale"],
                                       missing=settings["missing"], max_missing_share=1.0,
                                       source="fold held-out patients").adata
    return train_part, test_part


def fold_estimator(model: DeepType | DeepTypeEnsemble, n_fits: int | None, seed: int) -> DeepType | DeepTypeEnsemble:
    """An unfitted copy of ``model``'s procedure for a fold: the same ensemble, or ``n_fits`` fits of its base
    DeepType (a single one for 1), with seeds from ``seed``."""
    base = model.estimator if isinstance(model, DeepTypeEnsemble) else model
    n_fits = (model.n_fits if isinstance(model, DeepTypeEnsemble) else 1) if n_fits is None else n_fits
    if n_fits == 1:
        return clone(base).set_params(random_state=seed)
    return DeepTypeEnsemble(clone(base), n_fits=n_fits, random_state=seed)


def fold_matrices(X: Any, raw: ad.AnnData | None, n_samples: int, *, folds: int = 5, repeats: int = 1,
                  seed: int = 0, only: tuple[int, int] | None = None
                  ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, Any, Any]]:
    """``(repeat, fold, train, test, X_train, X_test)`` for each of ``repeats`` shuffled ``folds``-fold splits
    of ``n_samples`` rows (split ``repeat`` shuffled with seed ``seed + repeat``): the rows of ``X`` normalized
    inside the fold by :func:`fold_normalized` from ``raw``, else (an AnnData) by :func:`fold_scaled`, else
    (a DataFrame or an array) as they are; ``only=(repeat, fold)`` gives that split alone. Every out-of-fold
    procedure of this module uses these splits."""
    splits = [(repeat, fold, train, test) for repeat in range(repeats) for fold, (train, test) in
              enumerate(KFold(folds, shuffle=True, random_state=seed + repeat).split(np.zeros(n_samples)))
              if only is None or (repeat, fold) == tuple(only)]
    if not splits:
        raise ValueError(f"no split {only} among {repeats} repeat(s) of {folds} folds")
    # a progress bar on a terminal only (tqdm's disable=None); logs and CI get the log lines
    for repeat, fold, train, test in tqdm(splits, desc="out-of-fold refits", unit="fold", disable=None):
        if raw is not None:
            X_train, X_test = fold_normalized(raw, X.uns["normalize"], train, test)
        elif isinstance(X, ad.AnnData):
            X_train, X_test = fold_scaled(X, train, test)
        elif isinstance(X, pd.DataFrame):
            X_train, X_test = X.iloc[train], X.iloc[test]  # rows, not column labels
        else:
            X_train, X_test = np.asarray(X)[train], np.asarray(X)[test]
        yield repeat, fold, train, test, X_train, X_test


def out_of_fold_clusters(model: DeepType | DeepTypeEnsemble, X: Any, y: Any, reference: np.ndarray, *,
                         folds: int = 5, repeats: int = 1, seed: int = 0, n_fits: int | None = None,
                         raw: ad.AnnData | None = None) -> pd.DataFrame:
    """Assign every sample of ``X`` out of fold, ``repeats`` times.

    ``model`` gives the procedure (each fold chooses its own alpha and K where they are
    ``auto``; ``n_fits`` fits per fold, default the model's own); ``X`` an AnnData (normalized inside
    each fold from ``raw``, the same patients' raw matrix, by :func:`fold_normalized`; without ``raw``
    z-scored by :func:`fold_scaled`) or an array; ``reference`` (n_samples,) holds the full-data
    clusters that fold clusters are matched to. Returns one row per sample and
    repeat: ``repeat``, ``fold``, ``cluster`` (out of fold, matched), ``in_sample_cluster``.
    ``attrs["training_labels"]`` keeps, per fold, the training rows and the fold model's
    matched clusters of them, for :func:`cluster_stability`. The same as :func:`fit_split` for every
    split, then :func:`match_folds`.
    """
    tables = [fit_split(model, split, y, n_fits=n_fits, seed=seed)
              for split in fold_matrices(X, raw, len(reference), folds=folds, repeats=repeats, seed=seed)]
    return match_folds(tables, reference, int(model.n_clusters_))


def fit_split(model: DeepType | DeepTypeEnsemble, split: tuple[int, int, np.ndarray, np.ndarray, Any, Any], y: Any,
              *, n_fits: int | None = None, seed: int = 0) -> pd.DataFrame:
    """One split of :func:`fold_matrices` (``(repeat, fold, train, test, X_train, X_test)``) fitted on its own, so
    that the folds can run as separate jobs: ``model``'s procedure (``n_fits`` and ``seed`` as in
    :func:`out_of_fold_clusters`) on the training rows. One row per sample of the split: ``index``, ``repeat``,
    ``fold``, ``held_out`` and ``fold_cluster`` (the fold model's cluster: ``labels_`` of a training sample,
    ``predict`` of a held-out one, not yet matched to the full data's) and ``n_fold_clusters``. Tables of every
    split, given to :func:`match_folds`, give :func:`out_of_fold_clusters`' result."""
    repeat, fold, train, test, X_train, X_test = split
    y = None if y is None else np.asarray(y, dtype=object if np.asarray(y).ndim == 1 else float)
    fold_model = fold_estimator(model, n_fits, seed + repeat)
    fold_model.fit(X_train, None if y is None else y[train])
    return pd.DataFrame({"index": np.concatenate([train, test]), "repeat": repeat, "fold": fold,
                         "held_out": np.repeat([False, True], [len(train), len(test)]),
                         "fold_cluster": np.concatenate([fold_model.labels_, fold_model.predict(X_test)]),
                         "n_fold_clusters": int(fold_model.n_clusters_)})


def match_folds(tables: list[pd.DataFrame], reference: np.ndarray, n_reference: int) -> pd.DataFrame:
    """:func:`out_of_fold_clusters`' result from :func:`fit_split`'s ``tables`` (one per split): each fold's
    clusters renamed to the full-data clusters ``reference`` (n_samples,; ``n_reference`` clusters) by Hungarian
    matching on its training samples."""
    reference = np.asarray(reference)
    rows, training_labels = [], []
    for table in sorted(tables, key=lambda table: (int(table["repeat"].iloc[0]), int(table["fold"].iloc[0]))):
        repeat, fold = int(table["repeat"].iloc[0]), int(table["fold"].iloc[0])
        held_out = table["held_out"].to_numpy(dtype=bool)
        train, test = table["index"].to_numpy()[~held_out], table["index"].to_numpy()[held_out]
        labels = table["fold_cluster"].to_numpy()
        permutation = match_labels(labels[~held_out], reference[train], int(table["n_fold_clusters"].iloc[0]),
                                   max(n_reference, int(reference.max()) + 1))
        assigned = permutation[labels[held_out]]
        training_labels.append((train, permutation[labels[~held_out]]))
        rows.append(pd.DataFrame({"index": test, "repeat": repeat, "fold": fold, "cluster": assigned,
                                  "in_sample_cluster": reference[test]}))
        logger.info("repeat %d fold %d: %d held-out samples, %.0f %% in their in-sample cluster", repeat, fold,
                    len(test), 100 * np.mean(assigned == reference[test]))
    result = pd.concat(rows).sort_values(["repeat", "index"]).reset_index(drop=True)
    result.attrs["training_labels"] = training_labels
    return result


def baseline_out_of_fold(name: str, X: Any, reference: np.ndarray, *, folds: int = 5, repeats: int = 1,
                         seed: int = 0, raw: ad.AnnData | None = None) -> pd.DataFrame:
    """Baseline ``name`` (``kmeans`` or ``pca_kmeans``) validated as DeepType is, for a like-for-like figure:
    on the splits and fold normalization of :func:`out_of_fold_clusters` (same ``X``, ``raw``, ``folds``,
    ``repeats`` and ``seed``), fitted on each fold's training patients with K = the number of clusters of
    ``reference`` (n_samples,: the baseline's own clusters of all patients), the held-out patients assigned
    to its nearest centre (:class:`~deepsubtype.objective.BaselineRule`) and the clusters matched to
    ``reference`` on the training patients. Returns :func:`out_of_fold_clusters`' columns and
    ``attrs["training_labels"]``."""
    reference = np.asarray(reference)
    n_clusters = int(reference.max()) + 1
    rows, training_labels = [], []
    for repeat, fold, train, test, X_train, X_test in fold_matrices(X, raw, len(reference), folds=folds,
                                                                     repeats=repeats, seed=seed):
        train_matrix, test_matrix = (np.asarray(part.X if isinstance(part, ad.AnnData) else part, dtype=np.float64)
                                     for part in (X_train, X_test))
        rule = baseline_rule(name, train_matrix, n_clusters, seed=seed + repeat)
        permutation = match_labels(rule.assign(train_matrix), reference[train], rule.n_clusters, n_clusters)
        training_labels.append((train, permutation[rule.assign(train_matrix)]))
        rows.append(pd.DataFrame({"index": test, "repeat": repeat, "fold": fold,
                                  "cluster": permutation[rule.assign(test_matrix)],
                                  "in_sample_cluster": reference[test]}))
    result = pd.concat(rows).sort_values(["repeat", "index"]).reset_index(drop=True)
    result.attrs["training_labels"] = training_labels
    return result


def cluster_stability(reference: np.ndarray, training_labels: list[tuple[np.ndarray, np.ndarray]]
                      ) -> pd.DataFrame:
    """Per-cluster consensus over refits on subsamples (here: the folds' training sets).

    For each full-data cluster: ``consensus`` = mean over refits of the share of its
    member pairs (both in the refit's sample) that the refit keeps in one cluster;
    ``min_consensus`` the worst refit. 1 = the cluster is reproduced every time.
    """
    reference = np.asarray(reference)
    rows = []
    for cluster in np.unique(reference):
        shares = []
        for rows_used, labels in training_labels:
            members = labels[reference[rows_used] == cluster]
            if len(members) < 2:
                continue
            counts = np.bincount(members)
            shares.append(float((counts * (counts - 1)).sum() / (len(members) * (len(members) - 1))))
        rows.append({"cluster": int(cluster), "n": int(np.sum(reference == cluster)),
                     "consensus": float(np.mean(shares)) if shares else float("nan"),
                     "min_consensus": float(np.min(shares)) if shares else float("nan"),
                     "n_refits": len(shares)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ the calibrated test
# The statistics of the out-of-fold survival test (STATISTICS) need no matching of a fold's clusters to the full
# data's, so a permutation of the outcomes needs the folds refitted, not the full-data model. Under the null
# (survival independent of expression and target) the (time, event) pairs are exchangeable between patients; a
# procedure that never sees survival keeps its clusters under any permutation, one that learns from it (task
# survival: the Cox loss, the objective and beta choices) must be refitted on every permuted cohort. Only then is
# the observed statistic's rank among the permuted ones a valid p (Simon, Subramanian, Li & Menezes, Brief.
# Bioinform. 2011): the chi-square p of the same statistic is not, for a procedure that saw the outcomes of the
# other folds (benchmarks/null_calibration.py).


def permutation_order(n_samples: int, permutation: int, seed: int) -> np.ndarray:
    """Patients' row order of permutation number ``permutation`` of ``n_samples`` survival records (the (time,
    event) pair of patient ``order[i]`` goes to patient ``i``): the identity for 0 (the observed outcomes), else
    a shuffle drawn from ``(seed, permutation)`` alone, so that a permutation is the same in every job."""
    if permutation == 0:
        return np.arange(n_samples)
    return np.random.default_rng([int(seed), int(permutation)]).permutation(n_samples)


def permuted_survival(clinical: pd.DataFrame, columns: tuple[str, str], permutation: int, seed: int) -> pd.DataFrame:
    """A copy of ``clinical`` (samples x columns) with its survival ``columns`` (time, event) moved together by
    :func:`permutation_order`; every other column (target, covariates) stays with its patient."""
    order = permutation_order(len(clinical), permutation, seed)
    permuted = clinical.copy()
    for column in columns:
        permuted[column] = clinical[column].to_numpy()[order]
    return permuted


#: The out-of-fold test's statistics: ``logrank``, each fold's held-out clusters log-rank tested on their own and
#: the chi-squares summed (no matching across folds); ``c_index``, Harrell's C of the held-out patients ranked by
#: their cluster's hazard estimated on the fold's training patients (:func:`held_out_c_index`: directional, pooled
#: over the folds). Each is averaged over repeats.
STATISTICS = ("logrank", "c_index")


def unmatched_assignments(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The held-out rows of :func:`fit_split`'s ``tables`` (one per split) as out-of-fold assignments (``index``,
    ``repeat``, ``fold``, ``cluster``: the fold model's own cluster numbers, not matched to the full data's),
    with ``attrs["training_labels"]`` (per split in (repeat, fold) order: the training rows and their fold
    clusters): what :func:`out_of_fold_statistics` needs, without a full-data model to match to."""
    tables = sorted(tables, key=lambda table: (int(table["repeat"].iloc[0]), int(table["fold"].iloc[0])))
    held_out = [table[table["held_out"].to_numpy(dtype=bool)] for table in tables]
    result = pd.concat(held_out, ignore_index=True)[["index", "repeat", "fold", "fold_cluster"]].rename(
        columns={"fold_cluster": "cluster"})
    result.attrs["training_labels"] = [
        (table.loc[~table["held_out"].to_numpy(dtype=bool), "index"].to_numpy(),
         table.loc[~table["held_out"].to_numpy(dtype=bool), "fold_cluster"].to_numpy()) for table in tables]
    return result


def out_of_fold_statistics(assignments: pd.DataFrame, time: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    """The out-of-fold test's :data:`STATISTICS` of held-out ``assignments`` (``index``, ``repeat``, ``fold``,
    ``cluster``, and ``attrs["training_labels"]``; ``index`` into ``time``/``event``, (n_samples,), NaN where
    unknown). One row per repeat: ``repeat``, ``logrank``, ``degrees_of_freedom`` (summed over the folds),
    ``c_index``."""
    time, event = np.asarray(time, dtype=np.float64), np.asarray(event, dtype=np.float64)
    c_index = held_out_c_index(assignments, time, event)
    rows = []
    for repeat, group in assignments.groupby("repeat", sort=True):
        index = group["index"].to_numpy()
        known = np.isfinite(time[index]) & np.isfinite(event[index])
        frame = pd.DataFrame({"cluster": group["cluster"].to_numpy()[known], "time": time[index][known],
                              "event": event[index][known]})
        statistic, df, _ = per_fold_logrank(frame, group["fold"].to_numpy()[known])
        rows.append({"repeat": int(repeat), "logrank": statistic, "degrees_of_freedom": df,
                     "c_index": c_index[int(repeat)]})
    return pd.DataFrame(rows)


def fixed_cluster_statistics(assignments: pd.DataFrame, time: np.ndarray, event: np.ndarray, *, permutations: int,
                             seed: int = 0) -> pd.DataFrame:
    """:func:`out_of_fold_statistics` (means over repeats) of ``assignments`` under permutations
    1..``permutations`` of the outcomes (:func:`permutation_order`) with the clusters held fixed: the permutation
    distribution of a procedure that never saw survival. One row per permutation, a column per statistic."""
    time, event = np.asarray(time, dtype=np.float64), np.asarray(event, dtype=np.float64)
    draws = []
    for permutation in range(1, permutations + 1):
        order = permutation_order(len(time), permutation, seed)
        draws.append(out_of_fold_statistics(assignments, time[order], event[order])[list(STATISTICS)].mean())
    return pd.DataFrame(draws, columns=list(STATISTICS))


def permutation_p(observed: float, permuted: np.ndarray) -> float:
    """``(1 + #{permuted >= observed}) / (1 + B)``: the permutation p of ``observed`` among ``permuted`` (B,),
    valid at every level (the observed statistic counts as one of the B + 1 draws; ties count against it,
    within 1e-9 relative rounding); NaN without permutations."""
    permuted = np.asarray(permuted, dtype=np.float64)
    if permuted.size == 0:
        return float("nan")
    at_least = permuted >= observed - 1e-9 * max(1.0, abs(observed))
    return float((1 + at_least.sum()) / (1 + permuted.size))


def refitted_statistics(model: DeepType | DeepTypeEnsemble, X: Any, y: Any, time: np.ndarray, event: np.ndarray, *,
                        permutations: int, folds: int = 5, repeats: int = 1, seed: int = 0,
                        n_fits: int | None = None, raw: ad.AnnData | None = None) -> pd.DataFrame:
    """:func:`out_of_fold_statistics` (means over repeats) under permutations 1..``permutations`` of the outcomes,
    every split of :func:`fold_matrices` refitted by ``model``'s procedure (:func:`fit_split`) on the permuted
    cohort: the permutation distribution of a procedure that learns from survival. ``y`` (n_samples, ...) is
    the target it learns, moved with the outcomes (for ``task="survival"`` the (time, event) pairs themselves);
    ``time``, ``event`` (n_samples,) the outcomes the statistics test. One row per permutation."""
    time, event = np.asarray(time, dtype=np.float64), np.asarray(event, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    draws = []
    for permutation in range(1, permutations + 1):
        order = permutation_order(len(time), permutation, seed)
        tables = [fit_split(model, split, y[order], n_fits=n_fits, seed=seed)
                  for split in fold_matrices(X, raw, len(time), folds=folds, repeats=repeats, seed=seed)]
        draws.append(out_of_fold_statistics(unmatched_assignments(tables), time[order], event[order])[
            list(STATISTICS)].mean())
        logger.info("permutation %d of %d: %s", permutation, permutations,
                    ", ".join(f"{name} {draws[-1][name]:.3f}" for name in STATISTICS))
    return pd.DataFrame(draws, columns=list(STATISTICS))


def held_out_c_index(assignments: pd.DataFrame, time: np.ndarray, event: np.ndarray) -> pd.Series:
    """Harrell's C of the held-out patients' risk, per repeat (a Series by repeat): a held-out patient's risk is
    its cluster's log hazard estimated on the fold's *training* patients alone
    (:func:`~deepsubtype.survival.group_log_hazard` of the fold model's clusters of them, from
    ``assignments.attrs["training_labels"]`` as :func:`match_folds` and :func:`baseline_out_of_fold` keep them),
    so no outcome a patient's risk is scored on was used to estimate it. ``assignments`` as
    :func:`out_of_fold_clusters` returns them; ``time``, ``event`` (n_samples,), NaN where unknown."""
    from lifelines.utils import concordance_index

    time, event = np.asarray(time, dtype=np.float64), np.asarray(event, dtype=np.float64)
    known = np.isfinite(time) & np.isfinite(event)
    repeats, folds = assignments["repeat"].to_numpy(), assignments["fold"].to_numpy()
    index, clusters = assignments["index"].to_numpy(), assignments["cluster"].to_numpy()
    splits = sorted({(int(r), int(f)) for r, f in zip(repeats, folds, strict=True)})
    risk = np.zeros(len(assignments))
    for (repeat, fold), (train, labels) in zip(splits, assignments.attrs["training_labels"], strict=True):
        rows = known[train]
        hazard = group_log_hazard(time[train][rows], event[train][rows], np.asarray(labels)[rows])
        held_out = (repeats == repeat) & (folds == fold)
        names = hazard.index.to_numpy()
        position = np.clip(np.searchsorted(names, clusters[held_out]), 0, len(names) - 1)
        # a held-out cluster without training patients gets the cohort's hazard (log 1 = 0)
        risk[held_out] = np.where(names[position] == clusters[held_out], hazard.to_numpy()[position], 0.0)
    result = {}
    for repeat in np.unique(repeats):
        rows = (repeats == repeat) & known[index]
        patients = index[rows]
        result[int(repeat)] = (float(concordance_index(time[patients], -risk[rows], event[patients]))
                               if event[patients].any() else float("nan"))
    return pd.Series(result, name="c_index")

"""Is the out-of-fold survival p of a procedure that learns from survival calibrated? Type-I error under the null
and power with a planted prognostic subgroup, for every p the validate stage prints, with the project's own code.

Each draw is a synthetic cohort: ``n`` patients x ``genes`` standard-normal genes, exponential survival times
and ~35 % events. ``null``: survival independent of everything. ``planted``: a third of the patients have 20
genes raised by ``--effect`` SDs and a hazard ``--hazard-ratio`` times the others'. The procedure (``--rule``):

- ``cox_split``: a fast stand-in that learns from survival, as ``task: survival`` does: on its training
  patients, the gene with the largest Cox score statistic (``deepsubtype.survival.cox_score_test``), split at
  its median into two clusters; held-out patients by the same threshold;
- ``median_split``: the same split on the gene of largest variance: never sees survival;
- ``deeptype``: ``DeepType(task="survival", objective="primary")``, small and fast (hidden 32 x 16, 60
  pretraining steps, K = 2), the Cox-trained network itself.

Per draw, with ``deepsubtype.validation``'s splits (``fold_matrices``), refits (``fit_split``), matching
(``match_folds``) and statistics: ``in_sample_p`` (the full-data clusters' log-rank p), ``pooled_p`` (held-out
clusters matched to the full-data ones and tested together: oof_methods.tsv's ``out_of_fold_p``),
``per_fold_p`` (the folds' chi-squares summed: ``out_of_fold_p_per_fold`` and oof_test.tsv's ``chi_square_p``),
``logrank_permutation_p`` and ``c_index_permutation_p`` (oof_test.tsv's: the per-fold log-rank sum's and the
out-of-fold C-index's rank among ``--permutations`` permuted cohorts, every fold refitted on each for a rule that
learns from survival, clusters held fixed for one that does not).
Prints each p's rejection rate at 0.05 with its 95 % Wilson interval and writes every draw to ``--out``.

    python benchmarks/null_calibration.py --rule cox_split --draws 1000 --permutations 39
    python benchmarks/null_calibration.py --rule cox_split --scenario planted --draws 200 --permutations 39
    python benchmarks/null_calibration.py --rule deeptype --draws 50 --permutations 19 --n 60 --genes 100 --folds 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator

from deepsubtype import DeepType
from deepsubtype.survival import cox_score_test, logrank_statistic, summed_logrank
from deepsubtype.validation import (
    fit_split,
    fixed_cluster_statistics,
    fold_matrices,
    match_folds,
    out_of_fold_statistics,
    permutation_p,
    refitted_statistics,
)


class GeneSplit(BaseEstimator):
    """Two clusters: one gene above or below its training median. ``by="cox"`` picks the gene of largest Cox
    score statistic on ``y`` (n, 2: time, event), ``by="variance"`` the gene of largest variance (``y`` unused)."""

    def __init__(self, by: str = "cox", random_state: int = 0) -> None:
        self.by = by
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> GeneSplit:
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if self.by == "cox":
            known = np.isfinite(y).all(1)
            z, _ = cox_score_test(X[known], y[known, 0], y[known, 1])
            self.gene_ = int(np.argmax(np.abs(z)))
        else:
            self.gene_ = int(np.argmax(X.var(0)))
        self.threshold_ = float(np.median(X[:, self.gene_]))
        self.n_clusters_ = 2
        self.labels_ = self.predict(X)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64)[:, self.gene_] > self.threshold_).astype(np.int64)


def procedure(rule: str) -> BaseEstimator:
    if rule == "deeptype":
        return DeepType(task="survival", objective="primary", hidden_layers=(32, 16), alpha=0.002,
                        alpha_ramp_steps=30, n_clusters=2, learning_rate=0.005, batch_size=64, pretrain_steps=60,
                        joint_steps=10, max_rounds=2, kmeans_n_init=3, device="cpu", precision="float32")
    return GeneSplit(by="cox" if rule == "cox_split" else "variance")


def cohort(rng: np.random.Generator, scenario: str, n: int, genes: int, effect: float, hazard_ratio: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """(X (n, genes) float32, y (n, 2): time, event)."""
    X = rng.normal(size=(n, genes))
    hazard = np.ones(n)
    if scenario == "planted":
        members = rng.random(n) < 1 / 3
        X[members, :20] += effect
        hazard[members] = hazard_ratio
    time_to_event = rng.exponential(1.0 / hazard)
    censoring = rng.exponential(1.0 / 1.86, n)  # P(event) = 1 / (1 + 1.86) = 35 % at hazard 1
    event = (time_to_event <= censoring).astype(np.float64)
    return X.astype(np.float32), np.column_stack([np.minimum(time_to_event, censoring), event])


def one_draw(rule: str, X: np.ndarray, y: np.ndarray, *, folds: int, permutations: int, seed: int
             ) -> dict[str, float]:
    model = procedure(rule)
    time_, event = y[:, 0], y[:, 1]
    reference = model.fit(X, y).labels_
    tables = [fit_split(model, split, y, seed=seed) for split in fold_matrices(X, None, len(X), folds=folds, seed=seed)]
    matched = match_folds(tables, reference, 2)
    observed = out_of_fold_statistics(matched, time_, event)
    if rule == "median_split":
        permuted = fixed_cluster_statistics(matched, time_, event, permutations=permutations, seed=seed)
    else:
        permuted = refitted_statistics(model, X, y, time_, event, permutations=permutations, folds=folds, seed=seed)
    pooled, pooled_df = logrank_statistic(time_[matched["index"]], event[matched["index"]], matched["cluster"])
    in_sample, in_sample_df = logrank_statistic(time_, event, reference)
    return {"c_index": float(observed["c_index"].mean()),
            "in_sample_p": summed_logrank([(in_sample, in_sample_df)])[2],
            "pooled_p": summed_logrank([(pooled, pooled_df)])[2],
            "per_fold_p": summed_logrank([(float(observed["logrank"].iloc[0]),
                                           int(observed["degrees_of_freedom"].iloc[0]))])[2],
            "logrank_permutation_p": permutation_p(float(observed["logrank"].mean()), permuted["logrank"].to_numpy()),
            "c_index_permutation_p": permutation_p(float(observed["c_index"].mean()), permuted["c_index"].to_numpy())}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    centre = (k + z**2 / 2) / (n + z**2)
    half = z * np.sqrt(k * (n - k) / n + z**2 / 4) / (n + z**2)
    return centre - half, centre + half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rule", choices=["cox_split", "median_split", "deeptype"], default="cox_split")
    parser.add_argument("--scenario", choices=["null", "planted"], default="null")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--permutations", type=int, default=39)
    parser.add_argument("--n", type=int, default=115)
    parser.add_argument("--genes", type=int, default=200)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--effect", type=float, default=1.0)
    parser.add_argument("--hazard-ratio", type=float, default=2.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="TSV of every draw's p-values")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows, started = [], time.perf_counter()
    for draw in range(args.draws):
        rng = np.random.default_rng([args.seed, draw])
        X, y = cohort(rng, args.scenario, args.n, args.genes, args.effect, args.hazard_ratio)
        rows.append({"draw": draw, "events": int(y[:, 1].sum()),
                     **one_draw(args.rule, X, y, folds=args.folds, permutations=args.permutations, seed=draw)})
        if (draw + 1) % 50 == 0 and args.out:
            pd.DataFrame(rows).to_csv(args.out, sep="\t", index=False)
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, sep="\t", index=False)
    print(f"rule {args.rule}, {args.scenario} (effect {args.effect}, HR {args.hazard_ratio}), {args.draws} draws "
          f"of {args.n} patients x {args.genes} genes, {args.folds} folds, {args.permutations} permutations, "
          f"mean events {table['events'].mean():.1f}, mean out-of-fold C {table['c_index'].mean():.3f}, "
          f"{time.perf_counter() - started:.0f} s")
    print("| p | rejected at 0.05 | 95 % interval |\n| --- | --- | --- |")
    for column in ("in_sample_p", "pooled_p", "per_fold_p", "logrank_permutation_p", "c_index_permutation_p"):
        k = int((table[column] <= 0.05).sum())
        low, high = wilson(k, len(table))
        print(f"| {column} | {k / len(table):.1%} ({k}/{len(table)}) | {low:.1%}-{high:.1%} |")


if __name__ == "__main__":
    main()

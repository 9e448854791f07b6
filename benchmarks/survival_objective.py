"""Which objective should `task: survival` train? Nested out-of-fold log-rank p of DeepType's clusters for
several objectives (``--objectives``: ``primary`` is the Cox loss, ``auto`` the cross-validated choice of
``deepsubtype.objective`` between it and the baselines' clusters, repeated inside every fold) and weights of
the reconstruction term beside the Cox loss, against k-means and PCA + k-means.

A cohort is a bundled one (its normalized h5ad and raw matrix, as the pipeline wrote and read them: every
fold redoes the normalization on its training patients) or a synthetic one:

- ``dominant``: 150 patients x 2,000 z-scored genes; a strong module of 60 genes splits the patients in
  two, a weaker module of 30 genes splits them again independently; the hazard follows the *strong* split
  (hazard ratio 3). Unsupervised methods see it at once.
- ``hidden``: the same, with the hazard following the *weak* split, which k-means on the genes does not
  see; an outcome-trained model can.

For each objective and weight: one fit on all patients (in-sample p and the reference the folds' clusters are
matched to) and 5 folds of one fit each (the pipeline's `validation: {folds: 5, n_fits: 1}`), K = 3 (2 for
synthetic cohorts), every other setting the library's default. Prints a Markdown table, one row per fit, with
the objective that the full-data fit and each fold's fit chose.

    python benchmarks/survival_objective.py --cohort gse4335 --weights 0 1
    python benchmarks/survival_objective.py --cohort miniacc_mrna --hidden-layers 256 64 --weights 0 1
    python benchmarks/survival_objective.py --cohort dominant --weights 0 1
    python benchmarks/survival_objective.py --cohort gse4335 --objectives auto --weights 0 --threads 1
"""

from __future__ import annotations

import argparse
import logging
import re
import time

import anndata as ad
import numpy as np
import pandas as pd
import torch

from deepsubtype import DeepType
from deepsubtype.objective import baseline_labels
from deepsubtype.stages._inputs import _read_raw
from deepsubtype.survival import logrank_table, per_fold_logrank
from deepsubtype.validation import baseline_out_of_fold, out_of_fold_clusters

BUNDLED = {  # normalized file, raw matrix, clinical table, time and event columns
    "gse4335": ("results/gse4335/normalized.h5ad", "resources/gse4335/expression.tsv.gz",
                "resources/gse4335/clinical.tsv"),
    "miniacc_mrna": ("results/miniacc_mrna/normalized.h5ad", "resources/miniacc/rnaseq.tsv",
                     "resources/miniacc/clinical.tsv"),
}


def synthetic(kind: str, seed: int = 0, n: int = 150, p: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """(X (n, p) float32 z-scored, y (n, 2) time and event) of the ``dominant`` or ``hidden`` scenario."""
    rng = np.random.default_rng(seed)
    strong, weak = rng.integers(0, 2, n), rng.integers(0, 2, n)
    X = rng.normal(size=(n, p))
    X[:, :60] += 1.5 * (strong[:, None] - 0.5) + 0.5 * rng.normal(size=(n, 1))
    X[:, 60:90] += 0.8 * (weak[:, None] - 0.5) + 0.5 * rng.normal(size=(n, 1))
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    risky = strong if kind == "dominant" else weak
    event_time = rng.exponential(1.0 / np.where(risky == 1, 3.0, 1.0))
    censor_time = rng.exponential(1.5, n)
    y = np.column_stack([np.minimum(event_time, censor_time), (event_time <= censor_time).astype(float)])
    return X, y.astype(np.float32)


def logrank_p(labels: np.ndarray, y: np.ndarray) -> float:
    frame = pd.DataFrame({"cluster": labels, "time": y[:, 0], "event": y[:, 1].astype(np.int64)})
    return float(logrank_table(frame)["p_value"].iloc[0])


def per_fold_p(oof: pd.DataFrame, y: np.ndarray) -> float:
    """Out-of-fold p that needs no cluster matching across folds (``deepsubtype.survival.per_fold_logrank``)."""
    rows = oof["index"].to_numpy()
    frame = pd.DataFrame({"cluster": oof["cluster"].to_numpy(), "time": y[rows, 0],
                          "event": y[rows, 1].astype(np.int64)})
    return per_fold_logrank(frame, oof["fold"].to_numpy())[2]


class ChoiceLog(logging.Handler):
    """Collects the objective each fit chose (the "(chosen)" lines of ``deepsubtype.objective``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.chosen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = re.match(r"objective (\S+): .*\(chosen\)$", record.getMessage())
        if found:
            self.chosen.append(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohort", required=True, choices=[*BUNDLED, "dominant", "hidden"])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 1.0, 5.0])
    parser.add_argument("--objectives", nargs="+", default=["primary"], choices=["primary", "auto"])
    parser.add_argument("--hidden-layers", type=int, nargs="+", default=[1024, 512])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    raw = None
    if arguments.cohort in BUNDLED:
        normalized, expression, clinical = BUNDLED[arguments.cohort]
        X = ad.read_h5ad(normalized)
        y = X.obs[["time", "event"]].to_numpy(dtype=np.float32)
        raw = _read_raw(expression, "samples_x_genes", clinical, "sample")[X.obs_names].copy()
        matrix, n_clusters = np.asarray(X.X), 3
    else:
        X, y = synthetic(arguments.cohort, arguments.seed)
        matrix, n_clusters = X, 2
    known = ~np.isnan(y).any(1)
    X, y, matrix = X[known], y[known], matrix[known]
    if raw is not None:
        raw = raw[known].copy()
    kmeans, pca = (baseline_labels(name, matrix, n_clusters, seed=arguments.seed) for name in ("kmeans", "pca_kmeans"))
    print(f"{arguments.cohort}: {len(y)} patients, {int(y[:, 1].sum())} events; k-means p {logrank_p(kmeans, y):.2g}, "
          f"PCA + k-means p {logrank_p(pca, y):.2g}")
    for name, reference in (("kmeans", kmeans), ("pca_kmeans", pca)):
        oof = baseline_out_of_fold(name, X if raw is not None else np.nan_to_num(matrix), reference, folds=5,
                                   seed=arguments.seed, raw=raw)
        print(f"{name} out of fold: p {logrank_p(oof['cluster'].to_numpy(), y):.2g} (matched, pooled), "
              f"{per_fold_p(oof, y):.2g} (per fold)")
    choices = ChoiceLog()
    logging.getLogger("deepsubtype.objective").addHandler(choices)
    logging.getLogger("deepsubtype.objective").setLevel(logging.INFO)
    print("| objective | reconstruction weight | in-sample p | nested out-of-fold p (matched, pooled) | "
          "nested out-of-fold p (per fold) | in-sample clusters | chosen (full data; folds) | s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for objective in arguments.objectives:
        for weight in arguments.weights:
            started = time.perf_counter()
            choices.chosen.clear()
            model = DeepType(task="survival", objective=objective, reconstruction_weight=weight,
                             hidden_layers=tuple(arguments.hidden_layers), n_clusters=n_clusters, device="cpu",
                             random_state=arguments.seed).fit(X, y)
            oof = out_of_fold_clusters(model, X, y, model.labels_, folds=5, seed=arguments.seed, n_fits=1, raw=raw)
            sizes = "/".join(str(count) for count in np.bincount(model.labels_))
            chosen = f"{choices.chosen[0]}; {', '.join(choices.chosen[1:])}" if choices.chosen else "-"
            print(f"| {objective} | {weight:g} | {logrank_p(model.labels_, y):.2g} | "
                  f"{logrank_p(oof['cluster'].to_numpy(), y):.2g} | {per_fold_p(oof, y):.2g} | {sizes} | {chosen} | "
                  f"{time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()

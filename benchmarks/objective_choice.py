"""How stable is `objective: auto`'s choice over the seed of its inner split, and do a pooled test or the
one-standard-error rule help?

On all patients of a cohort (as the fit on all patients chooses), for several seeds of the inner 3-fold split,
the held-out log-rank p of each candidate of ``deepsubtype.objective`` two ways:

- ``per fold`` (the library's): each fold's held-out clusters tested on their own, chi-squares summed
  (K - 1 degrees of freedom per fold);
- ``pooled``: every fold model assigns all patients, its labels are matched (Hungarian) to the first fold
  model's labels of all patients, and each patient keeps the matched label of the fold that held it out; one
  log-rank test on all patients (K - 1 degrees of freedom). The matching looks at no outcome.

Each candidate's mean fold z (Stouffer's z of each fold's p) is printed beside them, and the choice three
ways: the lowest per-fold p (the rule until 2026-12-05), the lowest pooled p, and the library's rule
(``deepsubtype.objective.choose_objective``: a significant baseline unless the Cox loss beats it by one SE).

The Cox candidate is DeepType at the alpha its path chooses on all patients (walked once).

    PYTHONPATH=benchmarks python benchmarks/objective_choice.py --cohort miniacc_mrna \
        --hidden-layers 256 64 --seeds 0 1 2 --threads 1
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy.stats import chi2
from sklearn.base import clone
from sklearn.model_selection import KFold
from survival_objective import BUNDLED, logrank_p, synthetic

from deepsubtype import DeepType, fitting
from deepsubtype.alpha_path import choose_alpha
from deepsubtype.cluster import match_labels
from deepsubtype.objective import (
    BASELINE_OBJECTIVES,
    OBJECTIVES,
    _baseline_k,
    _fold_z,
    _logrank_statistic,
    baseline_pipeline,
    choose_objective,
)


def scores(model: DeepType, X: np.ndarray, y: np.ndarray, alpha: float,
           seed: int) -> tuple[dict[str, tuple[float, float, float]], str]:
    """``({candidate: (per-fold p, pooled p, mean fold z)}, the library's choice)`` for the inner split of
    ``seed``."""
    statistics: dict[str, list[tuple[float, int]]] = {name: [] for name in OBJECTIVES}
    pooled = {name: np.full(len(X), -1) for name in OBJECTIVES}
    first: dict[str, tuple[np.ndarray, int]] = {}
    for train, test in KFold(3, shuffle=True, random_state=seed).split(X):
        assigned: dict[str, tuple[np.ndarray, int]] = {}
        fold = clone(model).set_params(objective="primary", alpha=alpha, random_state=seed).fit(X[train], y[train])
        assigned["primary"] = fold.predict(X), int(fold.n_clusters_)
        for name in BASELINE_OBJECTIVES:
            k = _baseline_k(name, X[train], model.n_clusters, tuple(model.n_clusters_range), seed)
            assigned[name] = baseline_pipeline(name, k, X[train].shape, seed=seed).fit(X[train]).predict(X), k
        for name, (labels, k) in assigned.items():
            statistics[name].append(_logrank_statistic(labels[test], y[test]))
            reference, k_reference = first.setdefault(name, (labels, k))
            permutation = match_labels(labels, reference, k, max(k, k_reference))
            pooled[name][test] = permutation[labels[test]]
    result, records = {}, []
    for name in OBJECTIVES:
        statistic, df = (sum(values) for values in zip(*statistics[name], strict=True))
        fold_z = [_fold_z(*fold) for fold in statistics[name]]
        result[name] = (float(chi2.sf(statistic, df)) if df > 0 else 1.0, logrank_p(pooled[name], y),
                        float(np.mean(fold_z)))
        records.append({"held_out_p": result[name][0], "fold_z": fold_z})
    return result, OBJECTIVES[choose_objective(records)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohort", required=True, choices=[*BUNDLED, "dominant", "hidden"])
    parser.add_argument("--hidden-layers", type=int, nargs="+", default=[1024, 512])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    if arguments.cohort in BUNDLED:
        import anndata as ad

        adata = ad.read_h5ad(BUNDLED[arguments.cohort][0])
        X, y, n_clusters = np.asarray(adata.X), adata.obs[["time", "event"]].to_numpy(np.float32), 3
    else:
        X, y = synthetic(arguments.cohort)
        n_clusters = 2
    known = ~np.isnan(y).any(1)
    X, y = np.nan_to_num(X[known]).astype(np.float32), y[known]
    model = DeepType(task="survival", hidden_layers=tuple(arguments.hidden_layers), n_clusters=n_clusters,
                     device="cpu", random_state=0)
    training = fitting.start(model, X, y)
    with training.own_random_state():
        path = training.walk_alpha_path()
    alpha = next(record["alpha"] for record in choose_alpha([path])[1] if record["chosen"])
    print(f"{arguments.cohort}: {len(y)} patients, {int(y[:, 1].sum())} events, alpha {alpha:g}")
    print("| inner split seed | " + " | ".join(f"{name}: per fold / pooled / mean z" for name in OBJECTIVES)
          + " | chosen: per fold / pooled / one-SE rule |")
    print("| --- " * (len(OBJECTIVES) + 2) + "|")
    for seed in arguments.seeds:
        result, rule = scores(model, X, y, alpha, seed)
        chosen = [min(OBJECTIVES, key=lambda name, way=way: (result[name][way], OBJECTIVES.index(name)))
                  for way in (0, 1)]
        print(f"| {seed} | " + " | ".join(f"{result[name][0]:.2g} / {result[name][1]:.2g} / {result[name][2]:.2f}"
                                         for name in OBJECTIVES)
              + f" | {chosen[0]} / {chosen[1]} / {rule} |", flush=True)


if __name__ == "__main__":
    main()

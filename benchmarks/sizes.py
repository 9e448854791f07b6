"""Do the default hyperparameters train across cohort sizes, with nothing set by hand?

Synthetic cohorts of N patients x P genes (z-scored): 3 subtypes, each raising its own 30 genes by a shared
latent factor (a module, as co-regulated genes are), every other gene noise; 10 % of the labels flipped,
as real subtype calls are imperfect. For every (N, P), one ``DeepType()`` with the library's defaults
(the paper's architecture and weights, the decaying learning rate; K = 3) is fitted on 80 % of the
patients and the rest are held out. Reported: training and held-out accuracy of the primary task against
the *true* subtype, ARI of the clusters with it, the failed-fit warnings, the pattern importance's
precision at 90 (share of the top 90 genes that are module genes) and the seconds.

    python benchmarks/sizes.py --patients 60 300 3000 10000 --genes 500 5000
    python benchmarks/sizes.py --patients 60 1000 --genes 20000
    python benchmarks/sizes.py --set validation_fraction=0.2      # a setting other than the default
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import yaml
from sklearn.metrics import adjusted_rand_score

from deepsubtype import DeepType

N_GROUPS, MODULE = 3, 30


def cohort(n: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X (n, p) float32 z-scored, observed labels with 10 % flipped, true labels)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, N_GROUPS, size=n)
    X = rng.normal(size=(n, p)).astype(np.float32)
    for group in range(N_GROUPS):
        factor = 0.5 * rng.normal(size=n) + 1.0 * (truth == group)
        X[:, group * MODULE:(group + 1) * MODULE] += factor[:, None].astype(np.float32)
    X = (X - X.mean(0)) / X.std(0)
    observed = truth.copy()
    flip = rng.random(n) < 0.1
    observed[flip] = (truth[flip] + rng.integers(1, N_GROUPS, size=int(flip.sum()))) % N_GROUPS
    return X, observed, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, nargs="+", default=[60, 300, 3000, 10000])
    parser.add_argument("--genes", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="DeepType setting instead of its default, e.g. validation_fraction=0.2 (repeatable)")
    arguments = parser.parse_args()
    settings = {key: yaml.safe_load(value) for key, value in (o.split("=", 1) for o in arguments.overrides)}
    torch.set_num_threads(arguments.threads)
    print("| patients | genes | train acc | held-out acc | cluster ARI | pattern precision@90 | rounds | warnings "
          "| s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for p in arguments.genes:
        for n in arguments.patients:
            X, observed, truth = cohort(n, p, arguments.seed)
            held_out = np.random.default_rng(arguments.seed + 1).random(n) < 0.2
            started = time.perf_counter()
            model = DeepType(random_state=arguments.seed, device="cpu", **settings).fit(X[~held_out],
                                                                                       observed[~held_out])
            seconds = time.perf_counter() - started
            train_acc = float(np.mean(model.predict_target(X[~held_out]) == truth[~held_out]))
            test_acc = float(np.mean(model.predict_target(X[held_out]) == truth[held_out]))
            precision = float(np.mean(np.argsort(-model.pattern_importances_)[:N_GROUPS * MODULE] < N_GROUPS * MODULE))
            print(f"| {n} | {p} | {train_acc:.2f} | {test_acc:.2f} | "
                  f"{adjusted_rand_score(truth[~held_out], model.labels_):.2f} | {precision:.2f} | {model.n_rounds_} | "
                  f"{'; '.join(model.fit_warnings_) or 'none'} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()

"""Do DeepType's rankings find the markers of a rare subtype? A synthetic check of each importance measure.

300 patients x 1,000 genes (standard normal, z-scored): subtypes of 150, 120 and 30 patients, each raising
its own module of 20 genes through one shared factor (``--shift`` SDs for its patients, 0.5 SD of
patient-level spread), DeepType trained on the subtype labels. For each seed, the module genes of each
subtype found in the top 60 of ``pattern``, ``pattern_minmax`` and ``first_layer``, and of the one-way ANOVA
F on the same matrix. Dividing by a gene's range (``pattern_minmax``) discounts genes raised in few
patients, whose range is wide for their SD: this measures what that costs.

    python benchmarks/rare_subtype_markers.py --seeds 5 --shift 1.5 1.0
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy import stats

from deepsubtype import DeepType
from deepsubtype.importance import importance_measures

SIZES = (150, 120, 30)
MODULE = 20
SETTINGS = dict(hidden_layers=(64, 32), learning_rate=0.005, batch_size=128, pretrain_steps=200, joint_steps=30,
                max_rounds=2, kmeans_n_init=5, alpha_ramp_steps=50, device="cpu")


def cohort(seed: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """(patients x genes float32, subtype labels)."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(len(SIZES)), SIZES)
    X = rng.normal(size=(len(groups), 1000))
    for group in range(len(SIZES)):
        factor = rng.normal(size=len(groups)) * 0.5 + (groups == group) * shift
        X[:, group * MODULE:(group + 1) * MODULE] += factor[:, None]
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), groups


def found(score: np.ndarray, top: int = 60) -> list[int]:
    """Module genes of each subtype among the ``top`` genes by ``score``."""
    best = np.argsort(-score, kind="stable")[:top]
    return [int(np.sum((best >= g * MODULE) & (best < (g + 1) * MODULE))) for g in range(len(SIZES))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--shift", type=float, nargs="+", default=[1.5, 1.0])
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    print("| shift | seed | " + " | ".join(f"{name} ({'/'.join(map(str, SIZES))})" for name in
                                         ("pattern", "pattern_minmax", "first_layer", "ANOVA F")) + " |")
    print("| --- | --- | --- | --- | --- | --- |")
    for shift in arguments.shift:
        for seed in range(arguments.seeds):
            X, groups = cohort(seed, shift)
            model = DeepType(n_clusters=len(SIZES), random_state=seed, **SETTINGS).fit(X, groups)
            measures = importance_measures(model)
            anova = stats.f_oneway(*[X[groups == g] for g in range(len(SIZES))]).statistic
            cells = [found(measures[name]) for name in ("pattern", "pattern_minmax", "first_layer")] + [found(anova)]
            print(f"| {shift} | {seed} | " + " | ".join("/".join(map(str, c)) for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()

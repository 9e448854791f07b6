"""Do DeepType's rankings find the markers of a rare subtype? A synthetic check of each importance measure.

300 patients x 1,000 genes (standard normal, z-scored) in three subtypes: a rare one of ``--rare`` shares of
the patients (default 5, 10 and 20 %) and two that split the rest. Each subtype raises its own module of 20
genes through one shared factor (``--shift`` SDs for its patients, 0.5 SD of patient-level spread).
DeepType is trained on the subtype labels (the paper's alpha 0.006, pinned: this measures the rankings of a
healthy fit, not the alpha path). For each seed, the recall of each subtype's module in the top 60 genes of
every importance measure DeepType offers (``pattern``, ``pattern_minmax``, ``cluster_axis``, ``first_layer``)
and of the one-way ANOVA F on the same matrix (a univariate ranking that knows the labels).

    python benchmarks/rare_subtype_markers.py --seeds 3 --shift 1.5 1.0 --rare 0.05 0.1 0.2
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy import stats

from deepsubtype import DeepType
from deepsubtype.estimator import IMPORTANCE_MEASURES
from deepsubtype.importance import importance_measures

N_PATIENTS, N_GENES, MODULE = 300, 1000, 20
SETTINGS = dict(hidden_layers=(64, 32), learning_rate=0.005, batch_size=128, pretrain_steps=200, joint_steps=30,
                max_rounds=2, kmeans_n_init=5, alpha_ramp_steps=50, alpha=0.006, device="cpu")


def subtype_sizes(rare: float) -> tuple[int, int, int]:
    """Patients of the two common subtypes and the rare one (last)."""
    n_rare = round(rare * N_PATIENTS)
    common = N_PATIENTS - n_rare
    return common - common // 2, common // 2, n_rare


def cohort(seed: int, shift: float, sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(patients x genes float32, subtype labels): subtype g raises genes g*MODULE .. (g+1)*MODULE - 1."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    X = rng.normal(size=(len(groups), N_GENES))
    for group in range(len(sizes)):
        factor = rng.normal(size=len(groups)) * 0.5 + (groups == group) * shift
        X[:, group * MODULE:(group + 1) * MODULE] += factor[:, None]
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), groups


def found(score: np.ndarray, n_subtypes: int = 3, top: int = 60) -> list[int]:
    """Module genes of each subtype among the ``top`` genes by ``score``."""
    best = np.argsort(-score, kind="stable")[:top]
    return [int(np.sum((best >= g * MODULE) & (best < (g + 1) * MODULE))) for g in range(n_subtypes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--shift", type=float, nargs="+", default=[1.5, 1.0])
    parser.add_argument("--rare", type=float, nargs="+", default=[0.05, 0.1, 0.2], help="rare subtype's share")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    names = [*IMPORTANCE_MEASURES, "ANOVA F"]
    print("Module genes in the top 60, per subtype (common / common / rare), one row per seed.\n")
    print("| rare share | shift (SD) | seed | " + " | ".join(names) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in names) + " |")
    rare_recall: dict[tuple[float, float], dict[str, list[float]]] = {}
    for rare in arguments.rare:
        sizes = subtype_sizes(rare)
        for shift in arguments.shift:
            recall = rare_recall.setdefault((rare, shift), {name: [] for name in names})
            for seed in range(arguments.seeds):
                X, groups = cohort(seed, shift, sizes)
                model = DeepType(n_clusters=len(sizes), random_state=seed, **SETTINGS).fit(X, groups)
                scores = {**importance_measures(model),
                          "ANOVA F": stats.f_oneway(*[X[groups == g] for g in range(len(sizes))]).statistic}
                cells = {name: found(scores[name]) for name in names}
                for name in names:
                    recall[name].append(cells[name][-1] / MODULE)
                print(f"| {rare:.0%} ({sizes[-1]}) | {shift} | {seed} | "
                      + " | ".join("/".join(map(str, cells[name])) for name in names) + " |", flush=True)
    print("\nRecall of the rare subtype's module in the top 60, mean over seeds.\n")
    print("| rare share | shift (SD) | " + " | ".join(names) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in names) + " |")
    for (rare, shift), recall in rare_recall.items():
        print(f"| {rare:.0%} | {shift} | " + " | ".join(f"{np.mean(recall[name]):.2f}" for name in names) + " |")


if __name__ == "__main__":
    main()

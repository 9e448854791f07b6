"""Steps per phase and seconds per fit with ``schedule="fixed"`` (every phase runs all its steps) against
``"converged"`` (the fit's pretraining and each joint round end when their loss stops improving), side by
side on one machine.

Two cohorts: the demo's ``normalized.h5ad`` (``--demo``, the config's model: ``alpha="auto"``, so the alpha
path runs too) and a synthetic large one (``--patients`` x ``--genes``, 4 groups each raising 50 genes by
``--shift`` SD, the scale benchmark's model: alpha 0.006 pinned, K 3). The schedules alternate for
``--rounds`` rounds, each fit in a fresh process with ``--threads`` threads and passive OpenMP waits. Per fit:
the steps of the alpha path, of the pretraining at the fit's alpha and of the joint rounds, seconds, the
adjusted Rand index of its clusters with the fixed schedule's, and the planted or ER-pathway genes in the
top 20 of the default importance.

    python benchmarks/schedule.py --demo results/gse4335/normalized.h5ad --target er_status \
        --patients 11000 --genes 5000 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

_MARKERS = Path(__file__).with_name("markers.tsv")


def _synthetic(patients: int, genes: int, shift: float) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """(patients x genes z-scored float32, group labels 0-3, the planted genes' columns)."""
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 4, size=patients)
    X = rng.normal(size=(patients, genes)).astype(np.float32)
    for group in range(4):
        X[groups == group, group * 50:(group + 1) * 50] += shift
    X -= X.mean(0)
    X /= X.std(0)
    return X, groups, set(range(200))


def _one_fit(arguments: argparse.Namespace) -> dict[str, object]:
    import time

    import anndata as ad
    import pandas as pd
    import torch
    import yaml

    from deepsubtype import DeepType
    from deepsubtype._allocator import keep_freed_memory
    from deepsubtype.training import steps_by_phase

    keep_freed_memory()
    torch.set_num_threads(arguments.threads)
    if arguments.cohort == "demo":
        adata = ad.read_h5ad(arguments.demo)
        target = adata.obs[arguments.target]
        y = target.astype(object).where(target.notna(), None).to_numpy()
        X = np.asarray(adata.X, dtype=np.float32)
        model = yaml.safe_load(Path(arguments.config).read_text())["model"]
        params = {key: value for key, value in model.items() if key != "n_fits"}
        params["hidden_layers"] = tuple(params["hidden_layers"])
        params["n_clusters_range"] = tuple(params["n_clusters_range"])
        table = pd.read_csv(_MARKERS, sep="\t")
        markers = set(table.loc[table["set"] == "er_pathway", "gene"])
        planted = {index for index, gene in enumerate(adata.var_names) if gene in markers}
    else:
        X, y, planted = _synthetic(arguments.patients, arguments.genes, arguments.shift)
        params = {"alpha": 0.006, "n_clusters": 3}
    started = time.perf_counter()
    fitted = DeepType(random_state=arguments.seed, schedule=arguments.schedule, **params).fit(X, y)
    seconds = time.perf_counter() - started
    top = np.argsort(-fitted.feature_importances_, kind="stable")[:20]
    return {"seconds": seconds, "steps": steps_by_phase(fitted.history_), "labels": fitted.labels_.tolist(),
            "alpha": str(fitted.alpha_), "planted_top20": int(sum(int(gene) in planted for gene in top)),
            "warnings": len(fitted.fit_warnings_)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", help="the demo's normalized.h5ad")
    parser.add_argument("--target", default="er_status")
    parser.add_argument("--config", default="config/config.yaml", help="the model settings of the demo fit")
    parser.add_argument("--patients", type=int, default=0, help="synthetic cohort's patients (0: none)")
    parser.add_argument("--genes", type=int, default=5000)
    parser.add_argument("--shift", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cohort", help=argparse.SUPPRESS)
    parser.add_argument("--schedule", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.cohort:
        print(json.dumps(_one_fit(arguments)))
        return
    from sklearn.metrics import adjusted_rand_score

    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    print(f"CPU: {cpu}; {arguments.threads} threads, OMP_WAIT_POLICY=PASSIVE\n")
    print("| cohort | round | schedule | alpha | steps: path / pretrain / joint | fit s | ARI with fixed | "
          "planted (ER) genes in top 20 | failed-fit warnings |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    cohorts = (["demo"] if arguments.demo else []) + ([f"{arguments.patients} x {arguments.genes}"]
                                                      if arguments.patients else [])
    environment = {**os.environ, "OMP_NUM_THREADS": str(arguments.threads), "OMP_WAIT_POLICY": "PASSIVE"}
    for cohort in cohorts:
        for round_index in range(arguments.rounds):
            fixed_labels = None
            for schedule in ("fixed", "converged"):
                command = [sys.executable, __file__, "--cohort", "demo" if cohort == "demo" else "synthetic",
                           "--schedule", schedule, "--target", arguments.target, "--config", arguments.config,
                           "--patients", str(arguments.patients), "--genes", str(arguments.genes),
                           "--shift", str(arguments.shift), "--threads", str(arguments.threads),
                           "--seed", str(arguments.seed)] + (["--demo", arguments.demo] if arguments.demo else [])
                output = subprocess.run(command, capture_output=True, text=True, check=True, env=environment).stdout
                result = json.loads(output.splitlines()[-1])
                fixed_labels = result["labels"] if schedule == "fixed" else fixed_labels
                steps = result["steps"]
                print(f"| {cohort} | {round_index} | {schedule} | {result['alpha']} | {steps['path']} / "
                      f"{steps['pretrain']} / {steps['joint']} | {result['seconds']:.1f} | "
                      f"{adjusted_rand_score(fixed_labels, result['labels']):.3f} | {result['planted_top20']} | "
                      f"{result['warnings']} |", flush=True)


if __name__ == "__main__":
    main()

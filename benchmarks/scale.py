"""Scale benchmark: generated cohorts of N patients x 20,000 genes through the workflow, per-rule time and memory.

For each N, writes ``<workdir>/n<N>/`` with ``expression.tsv`` (log2 scale, 4 groups that
each raise 50 genes; 3 decimals, as GEO/TCGA matrices are shipped), ``clinical.tsv`` (group
label, survival months shorter for higher groups, age) and ``config.yaml`` (the demo's model:
paper architecture and loss weights, 5,000 genes by variance), runs ``snakemake --cores C`` on
normalize, train, cluster, genes and survival, and reads each rule's ``benchmark:`` file (wall
seconds ``s`` and peak resident memory ``max_rss`` in MB). Prints a Markdown table; ``--json``
also writes the raw figures.

    python benchmarks/scale.py --patients 1000 3000 11000 --workdir /tmp/scale --cores 2

Validation (refits the model folds x repeats times) and the method comparison (consensus
clustering and SNF hold n x n matrices) are left out: they are analyses on top of the
pipeline and scale differently; their cost is reported on the demo cohort in the README.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
RULES = ["normalize", "train", "cluster", "genes", "survival"]


def write_cohort(directory: Path, n_patients: int, n_genes: int, seed: int = 0) -> None:
    """``expression.tsv`` (patients x genes) and ``clinical.tsv``, written in row chunks."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "expression.tsv").exists():
        return
    rng = np.random.default_rng(seed)
    groups = np.arange(n_patients) % 4
    genes = [f"GENE{j:05d}" for j in range(n_genes)]
    samples = [f"TCGA-{i:06d}" for i in range(n_patients)]
    base = rng.uniform(2.0, 12.0, n_genes)
    with open(directory / ".expression.tsv", "w") as handle:
        handle.write("sample\t" + "\t".join(genes) + "\n")
        for start in range(0, n_patients, 500):
            stop = min(start + 500, n_patients)
            block = base + rng.normal(0.0, 1.0, (stop - start, n_genes))
            for group in range(4):
                block[groups[start:stop] == group, group * 50:(group + 1) * 50] += 2.0
            pd.DataFrame(block, index=samples[start:stop]).to_csv(handle, sep="\t", header=False,
                                                                  float_format="%.3f")
    (directory / ".expression.tsv").rename(directory / "expression.tsv")
    pd.DataFrame({
        "sample": samples,
        "group": [f"group_{g}" for g in groups],
        "time": rng.exponential(60.0 / (1 + 0.5 * groups)).round(1),
        "event": (rng.random(n_patients) < 0.6).astype(int),
        "age": rng.integers(30, 85, n_patients),
    }).to_csv(directory / "clinical.tsv", sep="\t", index=False)


def write_config(directory: Path, device: str) -> None:
    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config = {
        "seed": 0,
        "device": device,
        "cohorts": {"scale": {
            "expression": "expression.tsv", "clinical": "clinical.tsv", "sample_column": "sample",
            "task": "classification", "target": "group",
            "survival": {"time": "time", "event": "event", "unit": "months", "covariates": ["age"],
                         "horizon": 60},
        }},
        "normalize": demo["normalize"],
        "model": {**demo["model"], "learning_rate": 0.001},  # the paper's rate: batches of 256 of many patients
        "validation": {"folds": 0},
        "compare": {"run": False},
    }
    (directory / "config.yaml").write_text(yaml.safe_dump(config))


def run(directory: Path, cores: int) -> dict[str, object]:
    targets = [f"results/scale/{name}" for name in
               ("clusters.tsv", "gene_importance.tsv", "plots/top_genes_heatmap.png", "survival/logrank.tsv")]
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                             "--directory", str(directory), "--configfile", str(directory / "config.yaml"),
                             "--cores", str(cores), "--forceall", *targets], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stderr[-4000:])
    rules = {}
    for rule in RULES:
        table = pd.read_csv(directory / "results" / "scale" / "benchmarks" / f"{rule}.tsv", sep="\t")
        rules[rule] = {"seconds": float(table["s"].iloc[0]), "max_rss_mb": float(table["max_rss"].iloc[0])}
    embedding = directory / "results" / "scale" / "clusters.tsv"
    sizes = pd.read_csv(embedding, sep="\t")["cluster"].value_counts().sort_index().tolist()
    return {"wall_seconds": wall, "rules": rules, "cluster_sizes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[1000, 3000, 11000])
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/deepsubtype-scale"))
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="training device, e.g. cuda (train then requests gpu=1)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    arguments = parser.parse_args()

    figures = {}
    for n in arguments.patients:
        directory = arguments.workdir / f"n{n}"
        write_cohort(directory, n, arguments.genes)
        write_config(directory, arguments.device)
        figures[n] = run(directory, arguments.cores)
        matrix_mb = n * arguments.genes * 4 / 2**20
        figures[n]["matrix_float32_mb"] = matrix_mb
        print(f"n={n}: {figures[n]['wall_seconds']:.0f} s end to end", file=sys.stderr)
    if arguments.json:
        arguments.json.write_text(json.dumps(figures, indent=1))

    header = "| patients | float32 matrix | end to end | " + " | ".join(RULES) + " | peak memory / matrix |"
    print(header)
    print("|" + " --- |" * (4 + len(RULES)))
    for n, record in figures.items():
        rules = record["rules"]
        peak = max(r["max_rss_mb"] for r in rules.values())
        cells = [f"{rules[r]['seconds']:.0f} s, {rules[r]['max_rss_mb']:.0f} MB" for r in RULES]
        print(f"| {n:,} | {record['matrix_float32_mb']:.0f} MB | {record['wall_seconds']:.0f} s | "
              + " | ".join(cells) + f" | {peak / record['matrix_float32_mb']:.2f}x |")


if __name__ == "__main__":
    main()

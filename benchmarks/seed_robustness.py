"""Do the subtypes, their survival difference and the gene ranking survive a change of seed?

For one cohort's ``normalized.h5ad`` and its config, ``--seeds`` blocks of ``n_fits`` fits each are trained
(seeds 0 .. seeds * n_fits - 1; ``--n-fits`` overrides the config). Per seed block it records, for the
block's first fit alone ("one fit") and for the block's consensus ("N fits", as the pipeline runs it):

- the clusters: pairwise adjusted Rand index between seed blocks, and the in-sample log-rank p;
- with ``--validation COHORT`` (a ``model_from`` cohort of the config): that cohort's calls under the
  model and their log-rank p (the external validation), across all clusters and among those of at least
  ``survival.min_cluster_size`` patients (default 5), as the survival stage reports both;
- the gene rankings, each DeepType offers (``pattern``: covariance with the representation;
  ``pattern_minmax``: the same per unit of the gene's range; ``first_layer``: the paper's first-layer weight
  norm): established markers (``benchmarks/markers.tsv``, set ``--markers``)
  in the top 20 and 50, the univariate test's count beside them, and the pairwise Jaccard index of the
  top 20 / 50 between seed blocks;
- how a block's fits are best combined into one ranking: the same counts and Jaccard indices for each
  aggregation of ``AGGREGATIONS`` (the pipeline's is the median share).

Prints Markdown tables. Example (the demo, as in benchmarks/RESULTS.md):

    python benchmarks/seed_robustness.py results/gse4335/normalized.h5ad --config config/config.yaml \\
        --cohort gse4335 --validation gse1992 --markers er_pathway --seeds 5
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch
import yaml
from sklearn.metrics import adjusted_rand_score

from deepsubtype import DeepType
from deepsubtype.ensemble import DeepTypeEnsemble
from deepsubtype.estimator import IMPORTANCE_MEASURES
from deepsubtype.importance import gene_importance, univariate_ranking
from deepsubtype.io import attach_clinical, read_clinical, read_expression
from deepsubtype.stages._inputs import _estimator_params, _target
from deepsubtype.survival import MIN_CLUSTER_SIZE, logrank_table, survival_frame
from deepsubtype.transfer import transfer_normalization

HERE = Path(__file__).parent


def _ranks(values: np.ndarray) -> np.ndarray:
    """Rank of each gene in each row of values (n_fits, n_genes), 1 = largest."""
    return (-values).argsort(1, kind="stable").argsort(1, kind="stable") + 1


#: ways to combine one block's per-fit importance shares (n_fits, n_genes) into one score per gene (larger first)
AGGREGATIONS = {
    "mean share": lambda shares: shares.mean(0),
    "median share": lambda shares: np.median(shares, 0),
    "mean rank": lambda shares: -_ranks(shares).mean(0),
    "mean log share": lambda shares: np.log(np.maximum(shares, 1e-300)).mean(0),
}


def logrank_p(labels: np.ndarray, obs: pd.DataFrame, survival: dict) -> tuple[float, float]:
    """Log-rank p across all clusters and among the clusters of at least ``survival.min_cluster_size``
    patients (the survival stage's two p-values)."""
    frame, _ = survival_frame(pd.Series(labels, index=obs.index), obs, time_column=survival["time"],
                              event_column=survival["event"])
    test = logrank_table(frame, min_cluster_size=survival.get("min_cluster_size", MIN_CLUSTER_SIZE)).iloc[0]
    return float(test["p_value"]), float(test["p_value_without_small"])


def cohort_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the arguments :func:`read_cohort` takes: the cohort's ``normalized.h5ad``, ``--config``,
    ``--cohort`` and ``--validation``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("normalized")
    parser.add_argument("--config", required=True)
    parser.add_argument("--cohort", required=True)
    parser.add_argument("--validation", help="a model_from cohort of the config to call with each model")
    return parser


def read_cohort(config_path: str, name: str, normalized: str, validation: str | None = None,
                overrides: dict | None = None) -> tuple[dict, ad.AnnData, np.ndarray, ad.AnnData | None, dict]:
    """(config, the cohort's normalized AnnData, its primary target, the ``validation`` cohort normalized with
    its settings or None, the cohort's model settings with ``overrides``) for a cohort of a config file."""
    config = yaml.safe_load(Path(config_path).read_text())
    cohort = config["cohorts"][name]
    model_params = {**config.get("model", {}), **cohort.get("model", {}), **(overrides or {})}
    survival = cohort.get("survival", {})
    adata = ad.read_h5ad(normalized)
    y = _target(adata, cohort.get("task", "classification"), cohort.get("target"), survival.get("time"),
                survival.get("event"), normalized)
    external = None
    if validation:
        other = config["cohorts"][validation]
        raw = attach_clinical(read_expression(other["expression"], orientation=other.get("orientation",
                                                                                           "samples_x_genes")),
                              read_clinical(other["clinical"], sample_column=other.get("sample_column")))
        external = transfer_normalization(raw, adata, centering=config.get("predict", {}).get("centering",
                                                                                                "training")).adata
    return config, adata, y, external, model_params


def mean_pairwise(values: list, score) -> tuple[float, float, float]:
    scores = [score(a, b) for a, b in itertools.combinations(values, 2)]
    return float(np.min(scores)), float(np.median(scores)), float(np.max(scores))


def main() -> None:
    parser = cohort_parser(__doc__)
    parser.add_argument("--markers", help="marker set name in benchmarks/markers.tsv")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-fits", type=int, help="fits per seed block (default: the config's model.n_fits)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="model setting to override, e.g. learning_rate=0.0001 (repeatable)")
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    overrides = {key: yaml.safe_load(value) for key, value in (o.split("=", 1) for o in arguments.overrides)}
    config, adata, y, external, model_params = read_cohort(arguments.config, arguments.cohort, arguments.normalized,
                                                           arguments.validation, overrides)
    cohort = config["cohorts"][arguments.cohort]
    survival = cohort.get("survival", {})
    task = cohort.get("task", "classification")
    params = _estimator_params(model_params, task, 0, "cpu", adata)
    n_fits = arguments.n_fits or int(model_params.get("n_fits", 1))

    name = lambda gene: str(gene).split(":", 1)[-1]  # noqa: E731  (several views: "view:gene")
    present: set[str] = set()
    if arguments.markers:
        table = pd.read_csv(HERE / "markers.tsv", sep="\t")
        present = {name(g) for g in adata.var_names} & set(table.loc[table["set"] == arguments.markers, "gene"])
    count = lambda ranked, size: len({name(g) for g in ranked[:size]} & present)  # noqa: E731

    runs: dict[str, dict[str, list]] = {"one fit": {}, f"{n_fits} fits": {}}
    for record in runs.values():
        record.update(labels=[], p=[], external_p=[], external_p_large=[], external_sizes=[], sizes=[],
                      genes={measure: [] for measure in IMPORTANCE_MEASURES})
    seconds = []
    shares_per_block: dict[str, list[np.ndarray]] = {measure: [] for measure in IMPORTANCE_MEASURES}
    for block in range(arguments.seeds):
        started = time.perf_counter()
        ensemble = DeepTypeEnsemble(DeepType(**params), n_fits=n_fits, random_state=block * n_fits).fit(adata, y)
        seconds.append(time.perf_counter() - started)
        for measure in IMPORTANCE_MEASURES:
            shares_per_block[measure].append(ensemble.importance_per_fit(measure))
        for label, model in (("one fit", ensemble.fits_[0]), (f"{n_fits} fits", ensemble)):
            record = runs[label]
            record["labels"].append(model.labels_)
            record["sizes"].append("/".join(str(n) for n in np.bincount(model.labels_)))
            record["p"].append(logrank_p(model.labels_, adata.obs, survival)[0] if survival else float("nan"))
            ranking = gene_importance(model)
            for measure in IMPORTANCE_MEASURES:
                record["genes"][measure].append(list(ranking.sort_values(f"{measure}_rank")["gene"]))
            if external is not None:
                calls = model.predict(external)
                record["external_sizes"].append("/".join(str(n) for n in np.bincount(calls)))
                whole, large = logrank_p(calls, external.obs, config["cohorts"][arguments.validation]["survival"])
                record["external_p"].append(whole)
                record["external_p_large"].append(large)
        print(f"seed block {block} ({seconds[-1]:.0f} s): " + "; ".join(
            f"{label}: {r['sizes'][-1]}, p {r['p'][-1]:.2g}"
            + (f", {arguments.validation} {r['external_sizes'][-1]} p {r['external_p'][-1]:.2g} (without small "
               f"clusters {r['external_p_large'][-1]:.2g})" if external is not None
               else "") + ("".join(f", markers top 20 {measure} {count(r['genes'][measure][-1], 20)}"
                                   for measure in IMPORTANCE_MEASURES) if present else "")
            for label, r in runs.items()), flush=True)

    print(f"\n{arguments.cohort}: {arguments.seeds} seed blocks of {n_fits} fits, {np.mean(seconds):.0f} s each; "
          f"settings {model_params}\n")
    print("| | clusters per seed | pairwise ARI (min / median / max) | log-rank p (min - max) |"
          + (f" {arguments.validation} calls | {arguments.validation} p (min - max) | p < 0.05 | p without small "
             "clusters (min - max) | p < 0.05 |" if external is not None else ""))
    print("| --- | --- | --- | --- |" + (" --- | --- | --- | --- | --- |" if external is not None else ""))
    for label, r in runs.items():
        ari = mean_pairwise(r["labels"], adjusted_rand_score)
        line = (f"| {label} | {', '.join(r['sizes'])} | {ari[0]:.2f} / {ari[1]:.2f} / {ari[2]:.2f} | "
                f"{np.nanmin(r['p']):.2g} - {np.nanmax(r['p']):.2g} |")
        if external is not None:
            line += f" {', '.join(r['external_sizes'])} |"
            for values in (r["external_p"], r["external_p_large"]):
                line += (f" {np.nanmin(values):.2g} - {np.nanmax(values):.2g} | "
                         f"{sum(p < 0.05 for p in values)} of {len(values)} |")
        print(line)
    if present:
        jaccard = lambda a, b, size: len(set(a[:size]) & set(b[:size])) / len(set(a[:size]) | set(b[:size]))  # noqa: E731
        univariate = list(univariate_ranking(np.asarray(adata.X), y, task, adata.var_names)["gene"])
        print(f"\n{len(present)} '{arguments.markers}' markers among the {adata.n_vars} features\n")
        print("| ranking | markers in top 20 (per seed) | in top 50 | Jaccard top 20 (min / median / max) | "
              "Jaccard top 50 |")
        print("| --- | --- | --- | --- | --- |")
        for label, r in runs.items():
            for measure, genes in r["genes"].items():
                j20 = mean_pairwise(genes, lambda a, b: jaccard(a, b, 20))
                j50 = mean_pairwise(genes, lambda a, b: jaccard(a, b, 50))
                print(f"| DeepType {measure}, {label} | {', '.join(str(count(g, 20)) for g in genes)} | "
                      f"{', '.join(str(count(g, 50)) for g in genes)} | {j20[0]:.2f} / {j20[1]:.2f} / {j20[2]:.2f} | "
                      f"{j50[0]:.2f} / {j50[1]:.2f} / {j50[2]:.2f} |")
        print(f"| univariate test | {count(univariate, 20)} | {count(univariate, 50)} | 1 (no seed) | 1 (no seed) |")
        print(f"\nAggregations of each block's {n_fits} fits\n")
        print("| importance | aggregation | markers in top 20 (per seed) | in top 50 | Jaccard top 20 | "
              "Jaccard top 50 |")
        print("| --- | --- | --- | --- | --- | --- |")
        names = np.asarray(adata.var_names)
        for measure, blocks in shares_per_block.items():
            for aggregation, combine in AGGREGATIONS.items():
                genes = [list(names[np.argsort(-combine(shares), kind="stable")]) for shares in blocks]
                j20 = mean_pairwise(genes, lambda a, b: jaccard(a, b, 20))
                j50 = mean_pairwise(genes, lambda a, b: jaccard(a, b, 50))
                print(f"| {measure} | {aggregation} | {', '.join(str(count(g, 20)) for g in genes)} | "
                      f"{', '.join(str(count(g, 50)) for g in genes)} | {j20[0]:.2f} / {j20[1]:.2f} / {j20[2]:.2f} | "
                      f"{j50[0]:.2f} / {j50[1]:.2f} / {j50[2]:.2f} |")


if __name__ == "__main__":
    main()

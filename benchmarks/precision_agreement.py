"""Does bfloat16 training change what a user would publish? float32 against bf16 on one cohort.

For one cohort's ``normalized.h5ad`` and its config, per seed block an ensemble of ``n_fits`` fits (the
pipeline's defaults: alpha from the data, consensus clusters) is trained once with ``precision=float32`` and
once with ``precision=bf16``, alternating in one process (the machine is shared and noisy). Prints per block
the seconds of each, the consensus clusters, their adjusted Rand index between the precisions, the in-sample
log-rank p, the chosen alpha, the external cohort's calls and p (``--validation``) and the Jaccard index of
the top 20 / 50 genes of the default ranking between the precisions.

    python benchmarks/precision_agreement.py results/gse4335/normalized.h5ad --config config/config.yaml \\
        --cohort gse4335 --validation gse1992 --blocks 0 5
"""

from __future__ import annotations

import numpy as np
import torch
from seed_robustness import cohort_parser, logrank_p, read_cohort  # benchmarks/ is the script's directory
from sklearn.metrics import adjusted_rand_score

from deepsubtype import DeepType
from deepsubtype.ensemble import DeepTypeEnsemble
from deepsubtype.importance import gene_importance
from deepsubtype.stages._inputs import _estimator_params

PRECISIONS = ("float32", "bf16")


def main() -> None:
    parser = cohort_parser(__doc__)
    parser.add_argument("--blocks", type=int, nargs="+", default=[0], help="first seed of each block")
    parser.add_argument("--n-fits", type=int, help="fits per block (default: the config's model.n_fits)")
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    config, adata, y, external, model_params = read_cohort(arguments.config, arguments.cohort, arguments.normalized,
                                                           arguments.validation)
    cohort = config["cohorts"][arguments.cohort]
    survival = cohort.get("survival", {})
    task = cohort.get("task", "classification")
    n_fits = arguments.n_fits or int(model_params.get("n_fits", 1))

    jaccard = lambda a, b, size: len(set(a[:size]) & set(b[:size])) / len(set(a[:size]) | set(b[:size]))  # noqa: E731
    print(f"{arguments.cohort}: {n_fits} fits per block, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, CPU capabilities amx_bf16="
          f"{torch.cpu.get_capabilities().get('amx_bf16')}\n")
    print("| first seed | float32 s | bf16 s | float32 / bf16 | clusters (float32 / bf16) | ARI | "
          "log-rank p (float32 / bf16) | alpha (float32 / bf16) | Jaccard top 20 | top 50 |"
          + (f" {arguments.validation} calls | {arguments.validation} p |" if external is not None else ""))
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |" + (" --- | --- |" if external else ""))
    for first in arguments.blocks:
        fitted = {}
        for precision in PRECISIONS:
            params = {**_estimator_params(model_params, task, 0, "cpu", adata), "precision": precision}
            fitted[precision] = DeepTypeEnsemble(DeepType(**params), n_fits=n_fits, random_state=first).fit(adata, y)
        single, half = (fitted[p] for p in PRECISIONS)
        genes = [list(gene_importance(m).sort_values("rank")["gene"]) for m in (single, half)]
        sizes = ["/".join(str(n) for n in np.bincount(m.labels_)) for m in (single, half)]
        p = [logrank_p(m.labels_, adata.obs, survival)[0] for m in (single, half)]
        line = (f"| {first} | {single.fit_seconds_:.0f} | {half.fit_seconds_:.0f} | "
                f"{single.fit_seconds_ / half.fit_seconds_:.2f} | {sizes[0]} / {sizes[1]} | "
                f"{adjusted_rand_score(single.labels_, half.labels_):.2f} | {p[0]:.2g} / {p[1]:.2g} | "
                f"{single.alpha_:g} / {half.alpha_:g} | {jaccard(*genes, 20):.2f} | {jaccard(*genes, 50):.2f} |")
        if external is not None:
            calls = [m.predict(external) for m in (single, half)]
            external_survival = config["cohorts"][arguments.validation]["survival"]
            line += (f" {' / '.join('/'.join(str(n) for n in np.bincount(c)) for c in calls)} | "
                     f"{' / '.join(f'{logrank_p(c, external.obs, external_survival)[0]:.2g}' for c in calls)} |")
        print(line, flush=True)


if __name__ == "__main__":
    main()

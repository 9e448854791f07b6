"""Cost and stability of choosing alpha from the data (``alpha="auto"``) beside fixed-alpha fits.

Per seed block, an ensemble of ``--n-fits`` fits with the fixed alpha and one with ``alpha="auto"`` (every
fit walks its path, the pooled held-out scores choose one alpha for all) run side by side in one process on
the same data and seeds (the machine is shared and noisy). Prints per block the seconds, their ratio, the
chosen alpha, training accuracy of the representative fit, consensus cluster sizes and the pooled path; then
the adjusted Rand index of the consensus clusters between blocks, per setting.

    python benchmarks/alpha_path_cost.py results/gse4335/normalized.h5ad --target er_status --blocks 0 5 10
"""

from __future__ import annotations

import argparse
import itertools

import anndata as ad
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import adjusted_rand_score

from deepsubtype import DeepType, DeepTypeEnsemble


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("normalized")
    parser.add_argument("--target", required=True, help="clinical column to classify")
    parser.add_argument("--blocks", type=int, nargs="+", default=[0], help="first seed of each block")
    parser.add_argument("--n-fits", type=int, default=5)
    parser.add_argument("--fixed-alpha", type=float, default=0.006)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    adata = ad.read_h5ad(arguments.normalized)
    y = adata.obs[arguments.target].astype(object).where(adata.obs[arguments.target].notna(), None).to_numpy()
    known = pd.notna(y)
    labels: dict[str, list[np.ndarray]] = {"fixed": [], "auto": []}
    print(f"| first seed | fixed alpha {arguments.fixed_alpha:g}: s | auto: s | auto / fixed | chosen alpha "
          "| training accuracy (fixed / auto) | clusters (fixed / auto) | pooled path (alpha: held-out loss, "
          "x = collapsed) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for first in arguments.blocks:
        models = {}
        for name, alpha in (("fixed", arguments.fixed_alpha), ("auto", "auto")):
            models[name] = DeepTypeEnsemble(DeepType(alpha=alpha, device="cpu"), n_fits=arguments.n_fits,
                                            random_state=first).fit(adata, y)
            labels[name].append(models[name].labels_)
        fixed, auto = models["fixed"], models["auto"]
        accuracy = [float(np.mean(m.predict_target(adata)[known] == y[known])) for m in (fixed, auto)]
        sizes = ["/".join(str(n) for n in np.bincount(m.labels_)) for m in (fixed, auto)]
        path = ", ".join(f"{r['alpha']:g}: {r['selection_loss']:.3f}{' x' if r['collapsed'] else ''}"
                         for r in auto.alpha_path_)
        print(f"| {first} | {fixed.fit_seconds_:.0f} | {auto.fit_seconds_:.0f} | "
              f"{auto.fit_seconds_ / fixed.fit_seconds_:.2f} | {auto.alpha_:g} | {accuracy[0]:.3f} / "
              f"{accuracy[1]:.3f} | {sizes[0]} / {sizes[1]} | {path} |", flush=True)
    for name, found in labels.items():
        pairs = [adjusted_rand_score(a, b) for a, b in itertools.combinations(found, 2)]
        if pairs:
            print(f"{name}: ARI of the consensus clusters between blocks min {min(pairs):.2f}, "
                  f"median {float(np.median(pairs)):.2f}, max {max(pairs):.2f}")


if __name__ == "__main__":
    main()

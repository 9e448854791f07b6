"""Cost of choosing alpha from the data (``alpha="auto"``: a warm-started path) beside one fixed-alpha fit.

Both fits run side by side in one process on the same data and seed (the machine is shared and noisy).
The cross-validation it replaces cost folds x grid + 1 fits (5 x 7 + 1 = 36 with the default grid).

    python benchmarks/alpha_path_cost.py results/gse4335/normalized.h5ad --target er_status --seeds 0 1 2
"""

from __future__ import annotations

import argparse

import anndata as ad
import numpy as np
import pandas as pd
import torch

from deepsubtype import DeepType


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("normalized")
    parser.add_argument("--target", required=True, help="clinical column to classify")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    adata = ad.read_h5ad(arguments.normalized)
    y = adata.obs[arguments.target].astype(object).where(adata.obs[arguments.target].notna(), None).to_numpy()
    known = pd.notna(y)
    print("| seed | fixed alpha 0.006: s | accuracy | auto: s | ratio | chosen alpha | accuracy "
          "| path (alpha: held-out loss) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for seed in arguments.seeds:
        fixed = DeepType(alpha=0.006, device="cpu", random_state=seed).fit(adata, y)
        auto = DeepType(alpha="auto", device="cpu", random_state=seed).fit(adata, y)
        accuracy = [float(np.mean(m.predict_target(adata)[known] == y[known])) for m in (fixed, auto)]
        path = ", ".join(f"{r['alpha']:g}: {r['selection_loss']:.3f}" for r in auto.alpha_path_)
        print(f"| {seed} | {fixed.fit_seconds_:.1f} | {accuracy[0]:.3f} | {auto.fit_seconds_:.1f} | "
              f"{auto.fit_seconds_ / fixed.fit_seconds_:.2f} | {auto.alpha_:g} | {accuracy[1]:.3f} | {path} |",
              flush=True)


if __name__ == "__main__":
    main()

"""The first fit of a fresh process, with glibc's default allocator settings and with the pipeline's
(:func:`deepsubtype._allocator.keep_freed_memory`), alternating in fresh processes.

Each process fits DeepType once on a normalized cohort (``--steps`` pretraining steps at alpha 0.03, one short
round) and prints the seconds, the page faults per step and the system CPU seconds of the fit.

    python benchmarks/first_fit.py results/gse4335/normalized.h5ad --target er_status --rounds 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def _one_fit(arguments: argparse.Namespace) -> dict[str, float]:
    import resource
    import time

    import anndata as ad
    import numpy as np
    import torch

    from deepsubtype import DeepType
    from deepsubtype._allocator import keep_freed_memory

    if arguments.keep:
        keep_freed_memory()
    torch.set_num_threads(arguments.threads)
    adata = ad.read_h5ad(arguments.normalized)
    target = adata.obs[arguments.target]
    y = target.astype(object).where(target.notna(), None).to_numpy()
    X = np.asarray(adata.X, dtype=np.float32)
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    DeepType(random_state=0, alpha=0.03, pretrain_steps=arguments.steps, max_rounds=1, joint_steps=1,
             schedule="fixed").fit(X, y)
    seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    return {"seconds": seconds, "faults_per_step": (after.ru_minflt - before.ru_minflt) / arguments.steps,
            "system_seconds": after.ru_stime - before.ru_stime}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("normalized")
    parser.add_argument("--target", required=True, help="clinical column to classify")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        print(json.dumps(_one_fit(arguments)))
        return
    print("| allocator | round | fit s | page faults a step | system CPU s |")
    print("| --- | --- | --- | --- | --- |")
    for round_index in range(arguments.rounds):
        for keep in (False, True):
            command = [sys.executable, __file__, arguments.normalized, "--target", arguments.target, "--steps",
                       str(arguments.steps), "--threads", str(arguments.threads), "--worker"] + (["--keep"] * keep)
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            result = json.loads(output.splitlines()[-1])
            name = "keep_freed_memory" if keep else "glibc defaults"
            print(f"| {name} | {round_index} | {result['seconds']:.1f} | {result['faults_per_step']:.0f} | "
                  f"{result['system_seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    main()

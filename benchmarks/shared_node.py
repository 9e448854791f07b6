"""One training job alone and beside a busy neighbour, with OpenMP's default (spinning) wait policy and with
``OMP_WAIT_POLICY=PASSIVE`` (what the Snakefile sets for every pipeline job).

Each case runs in a fresh process with ``OMP_NUM_THREADS`` = ``--threads`` (as Snakemake sets it from a rule's
``threads:``): a fit of ``--steps`` pretraining steps at alpha 0.03 on a normalized cohort. The neighbour is
``--neighbours`` processes that each keep one core busy (another user's job on a shared node). The cases
alternate for ``--rounds`` rounds, since the machine itself is shared and noisy.

    python benchmarks/shared_node.py results/gse4335/normalized.h5ad --target er_status --steps 300 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

_BUSY = "import time\nend = time.time() + 3600\nwhile time.time() < end:\n    pass\n"


def _one_fit(arguments: argparse.Namespace) -> float:
    import anndata as ad
    import numpy as np

    from deepsubtype import DeepType

    adata = ad.read_h5ad(arguments.normalized)
    target = adata.obs[arguments.target]
    y = target.astype(object).where(target.notna(), None).to_numpy()
    X = np.asarray(adata.X, dtype=np.float32)
    started = time.perf_counter()
    DeepType(random_state=0, alpha=0.03, pretrain_steps=arguments.steps, max_rounds=1, joint_steps=1,
             schedule="fixed").fit(X, y)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("normalized")
    parser.add_argument("--target", required=True, help="clinical column to classify")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--neighbours", type=int, default=1, help="busy processes beside the job")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        print(json.dumps(_one_fit(arguments)))
        return
    print(f"CPU: {_cpu_name()}; {os.cpu_count()} cores; OMP_NUM_THREADS={arguments.threads}; "
          f"{arguments.steps} steps")
    print("| round | OMP_WAIT_POLICY | neighbour | fit s |")
    print("| --- | --- | --- | --- |")
    for round_index in range(arguments.rounds):
        for busy in (False, True):
            for policy in ("default", "PASSIVE"):
                environment = {**os.environ, "OMP_NUM_THREADS": str(arguments.threads)}
                environment.pop("OMP_WAIT_POLICY", None)
                if policy == "PASSIVE":
                    environment["OMP_WAIT_POLICY"] = "PASSIVE"
                neighbours = [subprocess.Popen([sys.executable, "-c", _BUSY])
                              for _ in range(arguments.neighbours if busy else 0)]
                try:
                    command = [sys.executable, __file__, arguments.normalized, "--target", arguments.target,
                               "--steps", str(arguments.steps), "--worker"]
                    output = subprocess.run(command, capture_output=True, text=True, check=True,
                                            env=environment).stdout
                finally:
                    for neighbour in neighbours:
                        neighbour.kill()
                        neighbour.wait()
                seconds = json.loads(output.splitlines()[-1])
                label = f"{arguments.neighbours} busy" if busy else "alone"
                print(f"| {round_index} | {policy} | {label} | {seconds:.1f} |", flush=True)


def _cpu_name() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        return next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")


if __name__ == "__main__":
    main()

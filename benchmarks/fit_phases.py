"""Where one fit's time goes, per phase, for one or more checkouts of deepsubtype side by side.

Each ``--source`` (a checkout's root; its ``src/`` is imported) runs in its own process, the sources
alternating for ``--rounds`` rounds (the machine is shared and noisy, so only figures of one run compare). A run
fits DeepType with ``alpha="auto"`` on a normalized cohort with shortened phases (``--pretrain`` steps, the
path's branches ``--branch`` steps each, one joint round), then prints the seconds and milliseconds per step
of the alpha path's trunk, its branches and the fit afresh, and the cluster sizes (which must agree between
sources that only change speed). ``--profile`` adds the share of ``torch.profiler``'s self CPU time in matrix
products and the ten largest operators, from a second, profiled fit.

    python benchmarks/fit_phases.py results/gse4335/normalized.h5ad --target er_status \
        --source /tmp/before --source . --rounds 2 --profile
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

_MATRIX_PRODUCTS = ("aten::mm", "aten::addmm", "aten::bmm")


def _one_run(arguments: argparse.Namespace) -> dict[str, object]:
    """The fit of one process (``--worker``): phase seconds, cluster sizes, and the profile when asked."""
    import io
    import logging

    import anndata as ad
    import numpy as np
    import torch

    from deepsubtype import DeepType

    torch.set_num_threads(arguments.threads)
    adata = ad.read_h5ad(arguments.normalized)
    y = adata.obs[arguments.target].astype(object).where(adata.obs[arguments.target].notna(), None).to_numpy()
    X = np.asarray(adata.X, dtype=np.float32)
    settings = {"random_state": 0, "pretrain_steps": arguments.pretrain, "path_steps": arguments.branch,
                "max_rounds": 1}
    stream = io.StringIO()
    logging.basicConfig(level=logging.INFO, stream=stream, format="%(message)s", force=True)
    model = DeepType(**settings).fit(X, y)
    phases = re.findall(r"^(pretrain|path \(alpha [0-9.e-]+\)): (\d+) steps \([a-z -]+\) in ([0-9.]+) s",
                        stream.getvalue(), re.M)
    branches = [(int(steps), float(seconds)) for name, steps, seconds in phases if name.startswith("path")]
    result: dict[str, object] = {
        "trunk": (int(phases[0][1]), float(phases[0][2])),
        "branches": (sum(s for s, _ in branches), sum(t for _, t in branches)),
        "afresh": (int(phases[len(branches) + 1][1]), float(phases[len(branches) + 1][2])),
        "fit": float(model.fit_seconds_),
        "sizes": np.bincount(model.labels_).tolist(),
    }
    if arguments.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            DeepType(**settings).fit(X, y)
        times = {event.key: event.self_cpu_time_total / 1e6 for event in profiler.key_averages()}
        total = sum(times.values())
        result["matrix_share"] = sum(times.get(name, 0.0) for name in _MATRIX_PRODUCTS) / total
        result["largest"] = [(name, seconds / total) for name, seconds in
                             sorted(times.items(), key=lambda item: -item[1])[:10]]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("normalized")
    parser.add_argument("--target", required=True, help="clinical column to classify")
    parser.add_argument("--source", action="append", default=[], help="a checkout's root (repeat to compare)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pretrain", type=int, default=400)
    parser.add_argument("--branch", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        print(json.dumps(_one_run(arguments)))
        return
    forwarded = [arguments.normalized, "--target", arguments.target, "--pretrain", str(arguments.pretrain),
                 "--branch", str(arguments.branch), "--threads", str(arguments.threads),
                 *(["--profile"] if arguments.profile else []), "--worker"]
    print("| source | round | trunk s (ms/step) | branches s (ms/step) | fit afresh s (ms/step) | fit s | clusters |"
          + (" matrix products |" if arguments.profile else ""))
    print("| --- | --- | --- | --- | --- | --- | --- |" + (" --- |" if arguments.profile else ""))
    for round_index in range(arguments.rounds):
        for source in arguments.source or ["."]:
            src = str(Path(source).resolve() / "src")
            output = subprocess.run([sys.executable, __file__, *forwarded], capture_output=True, text=True,
                                    check=True, env={**os.environ, "PYTHONPATH": src}).stdout
            run = json.loads(output.strip().splitlines()[-1])
            cells = [f"{run[key][1]:.1f} ({1000 * run[key][1] / max(run[key][0], 1):.1f})"
                     for key in ("trunk", "branches", "afresh")]
            share = f" {100 * run['matrix_share']:.0f} % |" if arguments.profile else ""
            print(f"| {source} | {round_index} | {' | '.join(cells)} | {run['fit']:.1f} | "
                  f"{'/'.join(map(str, run['sizes']))} |{share}")
            if arguments.profile and round_index == arguments.rounds - 1:
                print("  largest: " + ", ".join(f"{name} {100 * share:.0f} %" for name, share in run["largest"]),
                      file=sys.stderr)


if __name__ == "__main__":
    main()

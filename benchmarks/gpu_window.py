"""Issue 17 item 5 in one short device loan: the GPU figures, each step under its own time limit.

Runs, on ``--device`` (default ``cuda``), one after the other, and prints a Markdown table per step (also to
``--out``/gpu_window.md, with the raw figures in gpu_window.json):

1. the matrix-product ceiling of the first layer's forward product (256 x 20,000 x 1,024) in float32, tf32
   and bf16;
2. paper scale: ``DeepType.fit`` on 2,133 x 20,000 (synthetic, 4 classes) with the paper's schedule
   (1,200 pretraining steps, 12 rounds of 100 joint steps at 9 batches an epoch, alpha 0.006 pinned) in
   float32, tf32 and bf16, and torch-deeptype 0.1.2 at the same steps where it is installed
   (``benchmarks/bench_vs_torch_deeptype.py`` does the fitting);
3. the 11,000-patient scale run's training: ``DeepType.fit`` on 11,000 x 5,000 (the scale benchmark's cohort
   after its gene filter) with the demo config's model (``alpha: auto`` and all), one fit per precision.

Only torch, numpy, pandas and scikit-learn are needed (``deepsubtype`` from ``src/``; the estimator loads no
omics library). On a device machine whose Python holds a CUDA torch, from the repository root::

    PYTHONPATH=src python3 benchmarks/gpu_window.py --out "$OUT"

torch-deeptype is pure Python: carry its wheel (``pip download --no-deps torch-deeptype==0.1.2 -d .whl``) and
install it with ``pip install --no-deps --target /tmp/site .whl/*.whl`` first (``PYTHONPATH=/tmp/site:src``).
A CPU smoke run of the whole script, small: ``--device cpu --scale 0.02``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
PRECISIONS = ("float32", "tf32", "bf16")


def _bench_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_vs_torch_deeptype", REPO / "benchmarks" /
                                                  "bench_vs_torch_deeptype.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def ceiling(device: str, m: int, k: int, n: int, repeats: int = 20) -> dict[str, float]:
    """Median TFLOP/s of (m, k) @ (k, n) per precision (tf32: float32 inputs with TF32 products allowed)."""
    result: dict[str, Any] = {"shape": f"{m} x {k} x {n}"}
    for precision in PRECISIONS:
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        a, b = torch.randn(m, k, device=device).to(dtype), torch.randn(k, n, device=device).to(dtype)
        a @ b
        _synchronize(device)
        rates = []
        for _ in range(repeats):
            started = time.perf_counter()
            a @ b
            _synchronize(device)
            rates.append(2 * m * k * n / (time.perf_counter() - started) / 1e12)
        result[precision] = statistics.median(rates)
    torch.backends.cuda.matmul.allow_tf32 = False
    return result


def paper_scale(device: str, scale: float) -> dict[str, Any]:
    """Seconds and optimizer steps of DeepType per precision and of torch-deeptype, 2,133 x 20,000 x ``scale``."""
    bench = _bench_module()
    samples, genes = max(64, round(2133 * scale)), max(64, round(20000 * scale))
    args = SimpleNamespace(hidden=[1024, 512], batch_size=256, pretrain_epochs=max(1, round(135 * scale)),
                           joint_epochs=max(1, round(12 * scale)), inner_steps=10)
    X, y = bench.make_data(samples, genes, seed=0)
    figures: dict[str, Any] = {"samples": samples, "genes": genes}
    warm_up = SimpleNamespace(**{**vars(args), "pretrain_epochs": 1, "joint_epochs": 1, "inner_steps": 1})
    bench.time_deepsubtype(X[:256], y[:256], warm_up, device, "float32")  # CUDA context, kernels, allocator
    for precision in PRECISIONS:
        seconds, steps = bench.time_deepsubtype(X, y, args, device, precision)
        figures[f"deepsubtype {precision}"] = {"seconds": seconds, "steps": steps}
        print(f"paper scale, deepsubtype {precision}: {seconds:.2f} s, {steps} steps", flush=True)
    if importlib.util.find_spec("torch_deeptype") is not None:
        seconds, steps = bench.time_torch_deeptype(X, y, args, device)
        figures["torch-deeptype float32"] = {"seconds": seconds, "steps": steps}
        print(f"paper scale, torch-deeptype: {seconds:.2f} s, {steps} steps", flush=True)
    return figures


def scale_run(device: str, scale: float) -> dict[str, Any]:
    """Seconds of one fit with the demo config's model on 11,000 x 5,000 x ``scale`` (4 groups raising 50
    genes each, z-scored), per precision, with the fit's K, alpha and cluster sizes."""
    from deepsubtype import DeepType

    model = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["model"]
    n_patients, n_genes = max(200, round(11000 * scale)), max(100, round(5000 * scale))
    rng = np.random.default_rng(0)
    groups = np.arange(n_patients) % 4
    X = rng.normal(size=(n_patients, n_genes))
    for group in range(4):
        X[groups == group, group * 25:(group + 1) * 25] += 1.0
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    settings = {key: value for key, value in model.items() if key not in ("n_fits",)}
    if scale < 1:
        settings.update(pretrain_steps=max(20, round(1200 * scale)), path_steps=20, joint_steps=20)
    figures: dict[str, Any] = {"patients": n_patients, "genes": n_genes}
    for precision in PRECISIONS:
        estimator = DeepType(**{**settings, "device": device, "precision": precision, "random_state": 0})
        started = time.perf_counter()
        estimator.fit(X, groups)
        _synchronize(device)
        seconds = time.perf_counter() - started
        figures[precision] = {"seconds": seconds, "alpha": float(estimator.alpha_),
                              "clusters": np.bincount(estimator.labels_).tolist()}
        print(f"scale run, {precision}: {seconds:.1f} s, alpha {estimator.alpha_}, clusters "
              f"{figures[precision]['clusters']}", flush=True)
    return figures


def markdown(figures: dict[str, Any]) -> str:
    lines = [f"device: {figures['device']}, torch {figures['torch']}", ""]
    if "ceiling" in figures:
        rates = " | ".join(f"{figures['ceiling'][p]:.1f}" for p in PRECISIONS)
        lines += ["| first-layer product | " + " | ".join(f"{p} TFLOP/s" for p in PRECISIONS) + " |",
                  "| --- |" + " --- |" * len(PRECISIONS), f"| {figures['ceiling']['shape']} | {rates} |", ""]
    if "paper_scale" in figures:
        paper = figures["paper_scale"]
        reference = paper.get("torch-deeptype float32", {}).get("seconds")
        lines += [f"paper scale {paper['samples']} x {paper['genes']}:", "",
                  "| implementation | seconds | steps | x torch-deeptype |", "| --- | --- | --- | --- |"]
        for name, run in paper.items():
            if isinstance(run, dict):
                ratio = f"{reference / run['seconds']:.1f}" if reference else "-"
                lines.append(f"| {name} | {run['seconds']:.2f} | {run['steps']} | {ratio} |")
        lines.append("")
    if "scale_run" in figures:
        run = figures["scale_run"]
        lines += [f"scale run {run['patients']} x {run['genes']}, one fit with the demo's model:", "",
                  "| precision | seconds | alpha | clusters |", "| --- | --- | --- | --- |"]
        lines += [f"| {p} | {run[p]['seconds']:.1f} | {run[p]['alpha']:g} | {run[p]['clusters']} |"
                  for p in PRECISIONS if p in run]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink every size (a smoke run: 0.02)")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for gpu_window.md and .json")
    parser.add_argument("--steps", nargs="+", default=["ceiling", "paper_scale", "scale_run"])
    arguments = parser.parse_args()
    name = torch.cuda.get_device_name(arguments.device) if arguments.device.startswith("cuda") else "cpu"
    figures: dict[str, Any] = {"device": name, "torch": torch.__version__}
    arguments.out.mkdir(parents=True, exist_ok=True)
    for step in arguments.steps:
        started = time.perf_counter()
        if step == "ceiling":
            figures[step] = ceiling(arguments.device, *(max(8, round(size * arguments.scale ** 0.5))
                                                        for size in (256, 20000, 1024)))
        elif step == "paper_scale":
            figures[step] = paper_scale(arguments.device, arguments.scale)
        elif step == "scale_run":
            figures[step] = scale_run(arguments.device, arguments.scale)
        else:
            sys.exit(f"unknown step {step!r}: ceiling, paper_scale or scale_run")
        print(f"{step}: {time.perf_counter() - started:.0f} s", flush=True)
        (arguments.out / "gpu_window.json").write_text(json.dumps(figures, indent=1))  # what is done survives a kill
        (arguments.out / "gpu_window.md").write_text(markdown(figures))
    print(markdown(figures))


if __name__ == "__main__":
    main()

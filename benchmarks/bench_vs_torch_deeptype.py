"""Time DeepType.fit against torch-deeptype 0.1.2 at equal architecture and equal optimizer steps.

Both train the same network (sigmoid layers ``--hidden``, softmax output, Adam, batch 256) on the same
synthetic cohort: ``--pretrain-epochs`` epochs of primary + sparsity, then joint training. torch-deeptype's
joint phase runs ``--joint-epochs`` epochs of ``--inner-steps`` updates per batch (k-means on each batch);
ours runs the same number of updates as rounds of {k-means on all samples, ``--inner-steps`` x
batches-per-epoch updates} with ``tol=-1`` so that no round is skipped.

torch-deeptype is installed only in the benchmark environment (it depends on an unpinned torch, so
install it with ``--no-deps``)::

    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -r envs/requirements.lock.txt
    .venv-bench/bin/pip install --no-deps -e . torch-deeptype==0.1.2
    .venv-bench/bin/python benchmarks/bench_vs_torch_deeptype.py --samples 2000 --genes 2000

DeepType runs at the paper's alpha (0.006, pinned: ``alpha="auto"`` would add its path's steps) once per
``--precisions`` entry (``float32``, ``bf16``); torch-deeptype in float32, as it ships. Prints one line per
implementation (seconds, steps, the training loop's GFLOP/s: 6 x batch x the network's weights per step,
forward and backward) and each one's speed-up over torch-deeptype; set the GFLOP/s beside
``benchmarks/matmul_ceiling.py``'s float32 and bf16 ceilings.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from sklearn.datasets import make_classification
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from deepsubtype import DeepType


def make_data(n_samples: int, n_genes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=n_samples, n_features=n_genes, n_informative=min(50, n_genes),
                               n_redundant=0, n_classes=4, n_clusters_per_class=1, class_sep=2.0, shuffle=False,
                               random_state=seed)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), y


def time_torch_deeptype(X: np.ndarray, y: np.ndarray, args: argparse.Namespace, device: str) -> tuple[float, int]:
    from torch_deeptype import DeeptypeModel, DeeptypeTrainer

    sizes = [X.shape[1], *args.hidden]

    class Network(DeeptypeModel):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
                layers += [nn.Linear(n_in, n_out), nn.Sigmoid()]
            self.encoder = nn.Sequential(*layers)
            self.head = nn.Linear(sizes[-1], 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.get_hidden_representations(x))

        def get_input_layer_weights(self) -> torch.Tensor:
            return self.encoder[0].weight

        def get_hidden_representations(self, x: torch.Tensor) -> torch.Tensor:
            return self.encoder(x)

    torch.manual_seed(0)
    model = Network().to(device)
    # torch-deeptype leaves inputs where the loader puts them: on the CPU (its known limitation).
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=args.batch_size,
                        shuffle=True)
    trainer = DeeptypeTrainer(model, loader, nn.CrossEntropyLoss(), num_clusters=4)
    start = time.perf_counter()
    trainer.train(main_epochs=args.joint_epochs, main_lr=1e-3, pretrain_epochs=args.pretrain_epochs,
                  train_steps_per_batch=args.inner_steps)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    batches = len(loader)
    return time.perf_counter() - start, batches * (args.pretrain_epochs + args.joint_epochs * args.inner_steps)


def time_deepsubtype(X: np.ndarray, y: np.ndarray, args: argparse.Namespace, device: str,
                     precision: str) -> tuple[float, int]:
    batches = math.ceil(X.shape[0] / args.batch_size)
    model = DeepType(hidden_layers=tuple(args.hidden), n_clusters=4, batch_size=args.batch_size, alpha=0.006,
                     pretrain_steps=args.pretrain_epochs * batches, joint_steps=args.inner_steps * batches,
                     max_rounds=args.joint_epochs, tol=-1.0, kmeans_n_init=1, device=device, random_state=0,
                     precision=precision, schedule="fixed")  # the same steps as torch-deeptype's
    start = time.perf_counter()
    model.fit(X, y)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    steps = model.history_["steps"][-1]["step"]
    return time.perf_counter() - start, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--hidden", type=int, nargs="+", default=[1024, 512])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--pretrain-epochs", type=int, default=20)
    parser.add_argument("--joint-epochs", type=int, default=5)
    parser.add_argument("--inner-steps", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the median is reported")
    parser.add_argument("--precisions", nargs="+", default=["float32", "bf16"], help="DeepType's precisions")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    X, y = make_data(args.samples, args.genes, seed=0)
    sizes = [X.shape[1], *args.hidden, 4]
    flops_per_step = 6 * args.batch_size * sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    runs: dict[str, list[float]] = {f"deepsubtype {precision}": [] for precision in args.precisions}
    runs["torch-deeptype float32"] = []
    steps: dict[str, int] = {}
    for _ in range(args.repeats):  # interleaved, so that machine noise hits all alike
        for precision in args.precisions:
            seconds, steps[f"deepsubtype {precision}"] = time_deepsubtype(X, y, args, args.device, precision)
            runs[f"deepsubtype {precision}"].append(seconds)
        seconds, steps["torch-deeptype float32"] = time_torch_deeptype(X, y, args, args.device)
        runs["torch-deeptype float32"].append(seconds)
    print(f"data {args.samples} x {args.genes}, hidden {args.hidden}, device {args.device}, "
          f"torch threads {torch.get_num_threads()}")
    theirs = float(np.median(runs["torch-deeptype float32"]))
    for name, times in runs.items():
        median = float(np.median(times))
        print(f"{name:24s} {median:8.2f} s  {steps[name]} optimizer steps  "
              f"{flops_per_step * steps[name] / median / 1e9:6.0f} GFLOP/s  {theirs / median:5.2f} x torch-deeptype  "
              f"(median of {args.repeats}: {', '.join(f'{t:.2f}' for t in times)})")


if __name__ == "__main__":
    main()

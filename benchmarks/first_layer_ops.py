"""The first layer's per-step operations in its two storage layouts: out-major (``nn.Linear``'s (width, genes))
and genes-major (:class:`deepsubtype.model.InputLayer`'s (genes, width)).

Times, for a batch of ``--batch`` patients, ``--genes`` genes and ``--width`` units, alternating the layouts:
the forward product in bf16 (with the weight's cast), the weight gradient in bf16, the L2,1 column norms and
the L2,1 gradient's update (float32), and Adam's fused step (the same in both layouts, for scale). Prints
the median milliseconds of each.

    python benchmarks/first_layer_ops.py --batch 115 --genes 5000 --width 1024 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch


def median_ms(function: Callable[[], object], repeats: int) -> float:
    for _ in range(3):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=115)
    parser.add_argument("--genes", type=int, default=5000)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=40)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    torch.manual_seed(0)
    x = torch.randn(arguments.batch, arguments.genes).bfloat16()
    upstream = torch.randn(arguments.batch, arguments.width).bfloat16()
    out_major = 0.01 * torch.randn(arguments.width, arguments.genes)
    genes_major = out_major.t().contiguous()
    gradient = torch.randn(arguments.width, arguments.genes)
    gradient_t = gradient.t().contiguous()
    scale = 0.01 / torch.mul(out_major, out_major).sum(0).sqrt_()
    operations: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "forward product (bf16, with the weight's cast)": (lambda: x @ out_major.bfloat16().t(),
                                                           lambda: x @ genes_major.bfloat16()),
        "weight gradient (bf16)": (lambda: upstream.t() @ x, lambda: x.t() @ upstream),
        "L2,1 column norms": (lambda: torch.mul(out_major, out_major).sum(0).sqrt_(),
                              lambda: torch.linalg.vector_norm(genes_major, dim=1)),
        "L2,1 gradient update (addcmul_)": (lambda: gradient.addcmul_(out_major, scale),
                                            lambda: gradient_t.addcmul_(genes_major, scale[:, None])),
    }
    parameter = torch.nn.Parameter(genes_major.clone())
    parameter.grad = gradient_t.clone()
    adam = torch.optim.Adam([parameter], lr=1e-3, fused=True)
    print(f"batch {arguments.batch} x genes {arguments.genes} x width {arguments.width}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}\n")
    print("| operation | out-major ms | genes-major ms |")
    print("| --- | --- | --- |")
    for name, (before, after) in operations.items():
        first, second = [], []
        for _ in range(2):  # alternate, so a burst of load on a shared machine hits both
            first.append(median_ms(before, arguments.repeats // 2))
            second.append(median_ms(after, arguments.repeats // 2))
        print(f"| {name} | {min(first):.2f} | {min(second):.2f} |", flush=True)
    print(f"| Adam, fused (either layout) | {median_ms(adam.step, arguments.repeats):.2f} | |")


if __name__ == "__main__":
    main()

"""This machine's matrix-product ceiling in float32 and bfloat16: the yardstick for a fit's GFLOP/s.

Times ``a @ b`` for (m, k) by (k, n) in float32 and in bfloat16, alternating, and prints the best and median
GFLOP/s of each (2 m k n floating-point operations per product) with the CPU's bf16 capabilities as torch
sees them. The default shapes are a DeepType first layer's forward product: a batch of 256 patients by 2,000
or 5,000 genes into 1,024 units.

    python benchmarks/matmul_ceiling.py --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def gflops(m: int, k: int, n: int, dtype: torch.dtype, repeats: int) -> list[float]:
    """GFLOP/s of ``repeats`` timed products (m, k) @ (k, n) in ``dtype`` after one warm-up."""
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    a @ b
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        rates.append(2 * m * k * n / (time.perf_counter() - started) / 1e9)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", nargs="+", default=["256x2000x1024", "256x5000x1024", "1024x20000x1024"],
                        help="m x k x n of each product")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    capabilities = {key: value for key, value in torch.cpu.get_capabilities().items() if "bf16" in key}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {capabilities}\n")
    print("| m x k x n | float32 GFLOP/s (best / median) | bf16 GFLOP/s (best / median) | bf16 / float32 |")
    print("| --- | --- | --- | --- |")
    for shape in arguments.shapes:
        m, k, n = (int(size) for size in shape.split("x"))
        single, half = [], []
        for _ in range(2):  # alternate, so a burst of load on the shared machine hits both
            single += gflops(m, k, n, torch.float32, arguments.repeats // 2)
            half += gflops(m, k, n, torch.bfloat16, arguments.repeats // 2)
        print(f"| {m} x {k} x {n} | {max(single):.0f} / {statistics.median(single):.0f} | "
              f"{max(half):.0f} / {statistics.median(half):.0f} | "
              f"{statistics.median(half) / statistics.median(single):.1f} |", flush=True)


if __name__ == "__main__":
    main()

"""Peak memory and time of ``read_expression`` on a large synthetic text matrix.

Writes an N samples x M genes matrix (``--orientation`` decides whether rows are samples or genes;
``--gzip`` compresses it), then reads it with ``read_expression`` in a fresh Python process and reports
the peak resident memory above that process's baseline after importing deepsubtype (Linux: the
high-water mark ``VmHWM`` is reset through ``/proc/self/clear_refs`` before reading). The peak includes
the returned float32 matrix itself, so the ratio to the matrix size is at least 1::

    PYTHONPATH=src python benchmarks/read_memory.py --samples 5000 --genes 20000
    PYTHONPATH=src python benchmarks/read_memory.py --samples 5000 --genes 20000 --orientation genes_x_samples

Prints the matrix size (float32 MB), the peak extra MB, their ratio and the seconds spent reading, then
the same as one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

import numpy as np

MB = 1_000_000  # bytes; the 5,000 x 20,000 float32 matrix is 400 MB


def write_matrix(path: Path, n_samples: int, n_genes: int, orientation: str, missing: float, seed: int) -> None:
    """Write a tab-separated matrix of log-scale values (3 decimals) with ``missing`` of the cells ``NA``."""
    rng = np.random.default_rng(seed)
    # Formatting 10^8 floats one by one is slow; draw cells from a pool of formatted values instead.
    pool = np.array([f"{v:.3f}" for v in rng.normal(6.0, 2.0, 4095)] + ["NA"], dtype=object)
    samples = [f"S{i:05d}" for i in range(n_samples)]
    genes = [f"G{j:05d}" for j in range(n_genes)]
    rows, columns = (samples, genes) if orientation == "samples_x_genes" else (genes, samples)
    handle: TextIO
    with (gzip.open(path, "wt", compresslevel=1) if path.suffix == ".gz" else path.open("w")) as handle:
        handle.write("id\t" + "\t".join(columns) + "\n")
        for row in rows:
            cells = rng.integers(0, len(pool) - 1, len(columns))
            cells[rng.random(len(columns)) < missing] = len(pool) - 1
            handle.write(row + "\t" + "\t".join(pool[cells].tolist()) + "\n")


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def measure(path: Path, orientation: str) -> dict[str, float]:
    """Read ``path`` once in this process: seconds, peak extra MB over the post-import baseline, matrix MB."""
    from deepsubtype.io import read_expression  # here: the parent process need not import torch

    gc.collect()
    baseline_kb = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # reset VmHWM to the current resident size
    start = time.perf_counter()
    adata = read_expression(path, orientation=orientation)
    seconds = time.perf_counter() - start
    peak_kb = _status_kb("VmHWM")
    matrix_mb = adata.X.nbytes / MB
    extra_mb = (peak_kb - baseline_kb) * 1024 / MB  # /proc reports KiB
    return {"shape": list(adata.shape), "matrix_mb": matrix_mb, "peak_extra_mb": extra_mb,
            "ratio": extra_mb / matrix_mb, "seconds": seconds}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--orientation", choices=["samples_x_genes", "genes_x_samples"], default="samples_x_genes")
    parser.add_argument("--gzip", action="store_true", help="write and read matrix.tsv.gz")
    parser.add_argument("--missing", type=float, default=0.001, help="fraction of NA cells")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--directory", type=Path, help="where to write the matrix (default: a temporary one)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child process: read this file only
    args = parser.parse_args(argv)
    if args.measure:
        result = measure(args.measure, args.orientation)
        print(json.dumps(result))
        return result
    with tempfile.TemporaryDirectory(dir=args.directory) as directory:
        path = Path(directory) / ("matrix.tsv.gz" if args.gzip else "matrix.tsv")
        start = time.perf_counter()
        write_matrix(path, args.samples, args.genes, args.orientation, args.missing, args.seed)
        print(f"wrote {path.name}: {args.samples} samples x {args.genes} genes ({args.orientation}), "
              f"{path.stat().st_size / MB:.0f} MB in {time.perf_counter() - start:.1f} s", flush=True)
        child = subprocess.run([sys.executable, __file__, "--measure", str(path), "--orientation", args.orientation],
                               check=True, capture_output=True, text=True)
    result = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"matrix float32 {result['matrix_mb']:.0f} MB, peak extra {result['peak_extra_mb']:.0f} MB, "
          f"ratio {result['ratio']:.2f}, {result['seconds']:.1f} s")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""What every stage shares for writing: the log, atomic outputs, provenance, tables, figures, cluster files."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from ..io import InputError

__all__ = ["EMBEDDING_KEY", "errors_naming", "logging_to", "write_provenance", "check_checkout_library"]

logger = logging.getLogger(__name__)


#: ``obsm`` key of the DeepType representation in ``embedding.h5ad``.
EMBEDDING_KEY = "X_deeptype"


@contextlib.contextmanager
def logging_to(path: str | Path | None, level: int = logging.INFO) -> Iterator[None]:
    """Send log records and warnings to ``path`` (and stderr) for the duration; log any exception raised."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, mode="w"))
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    previous_level = root.level
    root.setLevel(level)
    logging.captureWarnings(True)
    try:
        yield
    except Exception as error:
        # Bad input is reported once by the caller on stderr; the log file gets it too.
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, "%s: %s",
                                   (type(error).__name__, error), None if isinstance(error, InputError) else
                                   sys.exc_info())
        for handler in handlers[1:] if isinstance(error, InputError) else handlers:
            handler.handle(record)
        raise
    finally:
        logging.captureWarnings(False)
        root.setLevel(previous_level)
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()


@contextlib.contextmanager
def errors_naming(names: dict[str, str]) -> Iterator[None]:
    """Raise an :class:`InputError` of the block again with every path of ``names`` in its message replaced by
    its name there (:func:`~deepsubtype.stages.study.imported_names`: the user's input a file was made from)."""
    try:
        yield
    except InputError as error:
        message = str(error)
        for path, name in names.items():
            message = message.replace(path, name)
        if message == str(error):
            raise
        raise InputError(message) from None


@contextlib.contextmanager
def _atomic(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".partial-{os.getpid()}-{target.name}")
    try:
        yield temporary
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(temporary, target)
    finally:
        if temporary.is_dir():
            shutil.rmtree(temporary)
        elif temporary.exists():
            temporary.unlink()


def _provenance(**settings: Any) -> str:
    """Package versions and stage settings as a JSON string, stored with every output."""
    return json.dumps(_versions() | {"settings": settings}, default=str, sort_keys=True)


def _versions() -> dict[str, Any]:
    packages = ["deepsubtype", "torch", "anndata", "scanpy", "scikit-learn", "lifelines", "numpy", "pandas"]
    return {"python": platform.python_version(), "packages": {name: _package_version(name) for name in packages}}


def _checksums(paths: Iterable[str | Path]) -> dict[str, str]:
    """SHA-256 of each file; a directory contributes every file under it."""
    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    sums = {}
    for file in files:
        digest = hashlib.sha256()
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        sums[str(file)] = digest.hexdigest()
    return sums


def write_provenance(path: str | Path, *, stage: str, settings: dict[str, Any],
                     inputs: Iterable[str | Path] = (), outputs: Iterable[str | Path] = ()) -> None:
    """Write what made a stage's outputs to ``path`` (JSON): package versions, the stage, its settings
    (seed and config included) and the SHA-256 of every input and output file. No time stamps, so the
    same inputs and settings give the same file."""
    record = _versions() | {"stage": stage, "settings": settings, "inputs": _checksums(inputs),
                            "outputs": _checksums(outputs)}
    with _atomic(path) as temporary:
        temporary.write_text(json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")


def check_checkout_library(scriptdir: str | Path | None) -> None:
    """Raise ``RuntimeError`` when ``scriptdir`` (``workflow/scripts`` of a checkout with ``src/deepsubtype``)
    belongs to a checkout whose library is not the one imported."""
    if scriptdir is None:
        return
    checkout = Path(scriptdir).resolve().parents[1] / "src" / "deepsubtype"
    imported = Path(__file__).resolve().parents[1]  # src/deepsubtype of the library imported
    if checkout.is_dir() and checkout != imported:
        raise RuntimeError(f"the workflow in {checkout.parents[1]} imported deepsubtype {__version__} from "
                           f"{imported}, not its own {checkout}; install the checkout (pip install -e .) or run "
                           f"with PYTHONPATH={checkout.parent}")


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return __version__ if name == "deepsubtype" else "not installed"


def _save_figure(figure: Any, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    with _atomic(path) as temporary:
        figure.savefig(temporary, dpi=150, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(figure)


def _to_tsv(frame: pd.DataFrame, path: str | Path) -> None:
    """The TSV format of every output table: no index, 6 significant digits, ``NA`` for missing."""
    frame.to_csv(path, sep="\t", index=False, float_format="%.6g", na_rep="NA")


def _write_table(frame: pd.DataFrame, path: str | Path) -> None:
    with _atomic(path) as temporary:
        _to_tsv(frame, temporary)


def _read_clusters(path: str | Path) -> pd.Series:
    """``clusters.tsv`` as a Series of cluster labels indexed by sample id."""
    return pd.read_csv(path, sep="\t", dtype={"sample": str}).set_index("sample")["cluster"]


#: ``clusters.tsv``'s ``method`` where the clusters are DeepType's own: k-means on its learned representation.
DEEPTYPE_METHOD = "deeptype"
#: Each ``method`` of ``clusters.tsv`` in words, for captions and the summary.
METHOD_TEXT = {DEEPTYPE_METHOD: "DeepType (k-means on its learned representation)",
               "kmeans": "k-means on the genes (DeepType's objective: it learnt these clusters)",
               "pca_kmeans": "PCA + k-means (DeepType's objective: it learnt these clusters)"}


def _cluster_method(objective: str) -> str:
    """What made the clusters of a model that trained ``objective`` (its ``objective_``): ``deeptype`` for the
    primary task (the Cox loss, a label, ...), else the baseline's name (``kmeans``, ``pca_kmeans``), whose
    clusters the model learnt as classes and assigns new patients by (``objective: auto`` chose it, or the
    config set it)."""
    return DEEPTYPE_METHOD if objective == "primary" else str(objective)


def _read_cluster_method(path: str | Path, default: str = DEEPTYPE_METHOD) -> str:
    """The ``method`` of ``clusters.tsv`` (:func:`_cluster_method`); ``default`` for a file without the column
    (written before it)."""
    methods = pd.read_csv(path, sep="\t", usecols=lambda column: column == "method")
    return str(methods["method"].iloc[0]) if "method" in methods and len(methods) else default

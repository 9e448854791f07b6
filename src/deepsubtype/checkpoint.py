"""Checkpoints of a fit in progress: what identifies the fit, and reading and writing the state file.

A :class:`~deepsubtype.training.Training` writes its whole state (weights, optimizer, random generators,
batching, history) after pretraining and after every round to ``DeepType(checkpoint=...)``; a fit of the same
data, target and hyperparameters on the same kind of device resumes from it, any other ignores it with a
warning. Files are written atomically and read with ``weights_only=True`` (tensors and plain values, never an
unpickled object).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from .training import Training

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "fingerprint", "read_checkpoint", "restore_training",
           "save_atomically", "training_state"]

CHECKPOINT_FORMAT = "deepsubtype.DeepType.checkpoint"
CHECKPOINT_VERSION = 5

logger = logging.getLogger(__name__)


def fingerprint(params: dict[str, Any], X: np.ndarray, target: np.ndarray) -> str:
    """SHA-256 of the data ``X`` (n, genes), the encoded ``target`` and the hyperparameters ``params`` (the
    estimator's ``get_params()``, less ``checkpoint`` and ``device``, which do not change the fit)."""
    params = {k: v for k, v in params.items() if k not in ("checkpoint", "device")}
    digest = hashlib.sha256(json.dumps({"X": X.shape, "target": [target.dtype.str, target.shape],
                                        "params": params}, sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(X).data)
    digest.update(np.ascontiguousarray(target).data)
    return digest.hexdigest()


def read_checkpoint(path: str | Path, expected: str, device: torch.device) -> dict[str, Any] | None:
    """The state in ``path`` if it is one of this fit (fingerprint ``expected``, same device type), else None
    (a missing file silently, any other with a warning saying why)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, corrupt, or holding objects other than tensors (never unpickled)
        logger.warning("ignoring checkpoint %s: unreadable (%s: %s)", path, type(error).__name__,
                       str(error).strip().split("\n")[0])
        return None
    if (not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT
            or state.get("version") != CHECKPOINT_VERSION):
        reason = f"not a deepsubtype checkpoint of format version {CHECKPOINT_VERSION}"
    elif state["fingerprint"] != expected:
        reason = "written for other data, target or hyperparameters"
    elif state["device_type"] != device.type:
        reason = f"written on {state['device_type']}, this fit runs on {device.type}"
    else:
        return state
    logger.warning("ignoring checkpoint %s: %s", path, reason)
    return None


def save_atomically(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.partial")
    try:
        torch.save(state, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def training_state(training: Training, round_index: int, alpha: Any, labels: np.ndarray | None,
                   centers: torch.Tensor | None) -> dict[str, Any]:
    """Everything the rounds after ``round_index`` depend on: weights, optimizer, RNGs, batching, history, K and
    alpha (CPU tensors and JSON text, what :func:`read_checkpoint` accepts)."""
    model = training.model
    state: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "fingerprint": training.fingerprint,
        "device_type": training.device.type, "round": round_index, "step": training.step,
        "network": {k: v.detach().cpu() for k, v in training.network.state_dict().items()},
        "optimizer": training.optimizer.state_dict(), "generator": training.generator.get_state(),
        "rng": torch.get_rng_state(), "batch_position": training.batches.position,
        "history": json.dumps(training.history), "n_clusters": model.n_clusters_,
        "k_scores": json.dumps(model.k_scores_), "alpha": json.dumps(alpha),
        "alpha_path": json.dumps(model.alpha_path_),
    }
    if training.device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(training.device)
    optional = {"batch_order": training.batches.order, "validation": training.validation, "centers": centers,
                "labels": None if labels is None else torch.from_numpy(labels)}
    state.update({key: value.cpu() for key, value in optional.items() if value is not None})
    return state


def restore_training(training: Training, resumed: dict[str, Any]) -> tuple[Any, np.ndarray | None,
                                                                          torch.Tensor | None, int]:
    """Put :func:`training_state`'s ``resumed`` back into ``training`` and its model; returns (alpha, the last
    round's labels or None, its centres or None, the first round still to run)."""
    model, device = training.model, training.device
    training.network.load_state_dict(resumed["network"])
    training.optimizer.load_state_dict(resumed["optimizer"])
    training.generator.set_state(resumed["generator"])
    torch.set_rng_state(resumed["rng"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(resumed["cuda_rng"], device)
    training.batches.order = resumed["batch_order"].to(device) if "batch_order" in resumed else None
    training.batches.position, training.step = resumed["batch_position"], resumed["step"]
    training.history = json.loads(resumed["history"])
    model.n_clusters_, model.k_scores_ = resumed["n_clusters"], json.loads(resumed["k_scores"])
    model.alpha_path_ = json.loads(resumed["alpha_path"])
    previous = centers = None
    if "labels" in resumed:
        previous, centers = resumed["labels"].numpy(), resumed["centers"].to(device)
    return json.loads(resumed["alpha"]), previous, centers, resumed["round"] + 1

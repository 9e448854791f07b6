"""A fitted :class:`~deepsubtype.estimator.DeepType` on disk: a directory of ``weights.pt`` (tensors only,
read with ``weights_only=True``) and ``model.json`` (hyperparameters, what the fit learnt about the target,
the fitted attributes that are not tensors, history). Files of older versions load with the defaults they
predate; anything else is refused with an :class:`~deepsubtype.io.InputError` naming the file.
"""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from . import __version__
from .errors import InputError
from .model import DeepTypeNetwork, resolve_device
from .objective import BaselineRule

if TYPE_CHECKING:
    from .estimator import DeepType

__all__ = ["save_model", "load_model"]

WEIGHTS_FILE = "weights.pt"
META_FILE = "model.json"


def save_model(model: DeepType, path: str | Path) -> None:
    """Write the fitted ``model`` to directory ``path``: ``weights.pt`` (tensors only) and ``model.json``."""
    check_is_fitted(model, "network_")
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    state = {f"network.{k}": v.detach().cpu() for k, v in model.network_.state_dict().items()}
    state["cluster_centers"] = torch.from_numpy(model.cluster_centers_)
    state["labels"] = torch.from_numpy(model.labels_)
    if getattr(model, "pattern_importances_", None) is not None:
        state["pattern_importances"] = torch.from_numpy(np.asarray(model.pattern_importances_))
    if getattr(model, "feature_ranges_", None) is not None:
        state["feature_ranges"] = torch.from_numpy(np.asarray(model.feature_ranges_))
    if getattr(model, "cluster_axis_importances_", None) is not None:
        state["cluster_axis_importances"] = torch.from_numpy(np.asarray(model.cluster_axis_importances_))
    rule = getattr(model, "baseline_rule_", None)
    if rule is not None:
        state["baseline_centers"] = torch.from_numpy(rule.centers)
        if rule.components is not None:
            state["baseline_mean"], state["baseline_components"] = (torch.from_numpy(rule.mean),
                                                                    torch.from_numpy(rule.components))
    torch.save(state, directory / WEIGHTS_FILE)
    meta: dict[str, Any] = {
        "format": "deepsubtype.DeepType",
        "deepsubtype_version": __version__,
        "params": {**model.get_params(), "hidden_layers": list(model.hidden_layers),
                   "views": [list(view) for view in model.views] if model.views else None,
                   "alpha": list(model.alpha) if isinstance(model.alpha, tuple | list) else model.alpha,
                   "alpha_grid": list(model.alpha_grid),
                   "n_clusters_range": list(model.n_clusters_range), "checkpoint": None},
        "n_clusters": int(model.n_clusters_),
        "k_scores": model.k_scores_,
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": [str(n) for n in getattr(model, "feature_names_in_", [])],
        "classes": [c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])],
        "target_mean": getattr(model, "_target_mean", None),
        "target_scale": getattr(model, "_target_scale", None),
        "converged": bool(model.converged_),
        "alpha": list(model.alpha_) if isinstance(model.alpha_, tuple) else model.alpha_,
        "alpha_path": model.alpha_path_,
        "objective": model.objective_,
        "objective_scores": model.objective_scores_,
        "fit_warnings": model.fit_warnings_,
        "fit_seconds": float(model.fit_seconds_),
        "precision": model.precision_,
        "history": model.history_,
    }
    (directory / META_FILE).write_text(json.dumps(meta, indent=1))


def load_model(cls: type[DeepType], path: str | Path, *, device: str = "cpu") -> DeepType:
    """The ``cls`` (:class:`~deepsubtype.estimator.DeepType`) written by :func:`save_model` to ``path``;
    tensors are loaded with ``weights_only=True``."""
    directory = Path(path)
    for name in (META_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise InputError(f"{directory}: not a deepsubtype model directory ({name} is missing)")
    try:
        meta = json.loads((directory / META_FILE).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{directory / META_FILE}: not a deepsubtype model file (not JSON)") from error
    if not isinstance(meta, dict) or meta.get("format") != "deepsubtype.DeepType":
        raise InputError(f"{directory / META_FILE}: not a deepsubtype model file")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols; we refuse them below
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            state = torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise InputError(f"{directory / WEIGHTS_FILE}: refused: holds objects other than tensors "
                         "(tampered or not written by deepsubtype)") from error
    try:
        return _restore(cls, meta, state, device)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
        raise InputError(f"{directory}: {META_FILE} and {WEIGHTS_FILE} do not describe one model "
                         f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})") from error

def _restore(cls: type[DeepType], meta: dict[str, Any], state: dict[str, torch.Tensor], device: str) -> DeepType:
    """The fitted estimator described by ``model.json`` (``meta``) and the tensors of ``weights.pt``."""
    params = {**meta["params"], "hidden_layers": tuple(meta["params"]["hidden_layers"]),
              "n_clusters_range": tuple(meta["params"]["n_clusters_range"]), "device": device}
    if params.get("views"):
        params["views"] = tuple((str(name), int(size)) for name, size in params["views"])
    if isinstance(params["alpha"], list):
        params["alpha"] = tuple(params["alpha"])
    if "alpha_grid" in params:
        params["alpha_grid"] = tuple(params["alpha_grid"])
    params.setdefault("importance", "first_layer")  # older model files: the paper's importance only
    model = cls(**params)
    model.n_features_in_ = meta["n_features_in"]
    if meta["feature_names_in"]:
        model.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
    if meta["classes"]:
        model.classes_ = np.asarray(meta["classes"])
    if meta["target_mean"] is not None:
        model._target_mean, model._target_scale = meta["target_mean"], meta["target_scale"]
    model.objective_ = meta.get("objective", "primary")  # absent in older model files: the task's own loss
    model.objective_scores_ = meta.get("objective_scores", [])
    network = DeepTypeNetwork(model.n_features_in_, list(model.hidden_layers), model._primary.n_outputs(model),
                              task=model._trained_task,
                              activation=model.activation, dropout=model.dropout,
                              view_sizes=model._view_sizes(), decoder=model.reconstruction_weight > 0)
    network.load_state_dict({k.removeprefix("network."): v for k, v in state.items() if k.startswith("network.")})
    model.network_ = network.to(resolve_device(device))
    model.cluster_centers_ = state["cluster_centers"].numpy()
    model.labels_ = state["labels"].numpy()
    pattern = state.get("pattern_importances")
    model.pattern_importances_ = None if pattern is None else pattern.numpy()
    ranges = state.get("feature_ranges")
    model.feature_ranges_ = None if ranges is None else ranges.numpy()
    axes = state.get("cluster_axis_importances")
    model.cluster_axis_importances_ = None if axes is None else axes.numpy()
    # absent in older model files and for other objectives: assignment in the representation
    model.baseline_rule_ = None if "baseline_centers" not in state else BaselineRule(
        state["baseline_centers"].numpy(), *(state[key].numpy() if key in state else None
                                             for key in ("baseline_mean", "baseline_components")))
    if model.baseline_rule_ is not None and model.baseline_rule_.n_features != model.n_features_in_:
        raise ValueError(f"the baseline rule reads {model.baseline_rule_.n_features} genes, the model "
                         f"{model.n_features_in_}")
    model.converged_ = meta["converged"]
    chosen = meta.get("alpha", params["alpha"])  # absent in older model files: the fixed alpha
    model.alpha_ = tuple(chosen) if isinstance(chosen, list) else chosen
    model.alpha_path_ = meta.get("alpha_path", [])
    model.fit_warnings_ = meta.get("fit_warnings", [])
    model.n_clusters_ = meta["n_clusters"]
    model.fit_seconds_ = meta.get("fit_seconds", float("nan"))  # absent in older model files
    model.k_scores_ = meta["k_scores"]
    model.history_ = meta["history"]
    model.n_rounds_ = len(meta["history"]["rounds"])
    model.device_ = str(resolve_device(device))
    # absent in older model files, which trained in the precision they name ("float32" unless set)
    model.precision_ = meta.get("precision", params.get("precision", "float32"))
    return model

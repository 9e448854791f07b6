"""Choice of DeepType's loss weights alpha (sparsity) and beta (k-means), and the table that records it.

``alpha="auto"`` is chosen inside :meth:`DeepType.fit` from branches of the pretrained network, one per
alpha (:mod:`deepsubtype.training`; about twice the cost of one fit). ``beta="auto"``, and an explicit
alpha grid, are cross-validated here as in the paper: every (alpha, beta) of a grid is scored by the
held-out primary-task loss over K folds (:meth:`DeepType.score`); alpha follows the one-standard-error
rule, i.e. the largest (sparsest) alpha whose mean score is within one standard error of the best, and
beta is the best for that alpha. A survival fit may train on a baseline's clusters instead of the Cox loss
(:mod:`deepsubtype.objective`): beta is then scored on those clusters as classes (:func:`beta_task`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from .alpha_path import alpha_text
from .estimator import DeepType
from .fitting import objective_and_target
from .objective import BASELINE_OBJECTIVES, SIGNIFICANCE

__all__ = ["alpha_path_table", "beta_task", "one_standard_error_choice", "tune_alpha_beta", "tuning_table"]

#: Default grids: a factor of ~3 apart around the paper's alpha = 0.006 and beta = 1.2.
DEFAULT_ALPHAS: tuple[float, ...] = (0.0, 0.0003, 0.001, 0.003, 0.006, 0.01)
DEFAULT_BETAS: tuple[float, ...] = (0.4, 1.2, 3.6)


def one_standard_error_choice(cv_results: dict[str, Any]) -> int:
    """Index into ``cv_results`` (scikit-learn layout) chosen by the one-standard-error rule on alpha.

    Candidates whose mean test score is at least ``best - SE(best)`` qualify; among
    them the largest alpha wins, then the best mean score. SE = fold standard
    deviation / sqrt(number of folds).
    """
    mean = np.asarray(cv_results["mean_test_score"], dtype=float)
    std = np.asarray(cv_results["std_test_score"], dtype=float)
    n_folds = sum(1 for key in cv_results if key.startswith("split") and key.endswith("_test_score"))
    best = int(np.nanargmax(mean))
    threshold = mean[best] - std[best] / np.sqrt(max(n_folds, 1))
    alphas = np.asarray(cv_results["param_alpha"], dtype=float)
    qualified = np.flatnonzero(mean >= threshold)
    largest = alphas[qualified].max()
    among = qualified[alphas[qualified] == largest]
    return int(among[np.argmax(mean[among])])


def tune_alpha_beta(estimator: DeepType, X: Any, y: Any = None, *, alphas: Sequence[float] | None = DEFAULT_ALPHAS,
                    betas: Sequence[float] | None = DEFAULT_BETAS, folds: int = 5,
                    n_jobs: int | None = None, refit: bool = True) -> GridSearchCV:
    """Cross-validate ``estimator`` over ``alphas`` x ``betas`` and refit with the chosen pair.

    ``alphas`` or ``betas`` = ``None`` keeps the estimator's own value (an ``alpha="auto"``
    estimator then chooses alpha along its path in every fit). Folds are
    shuffled with the estimator's ``random_state``. Returns the fitted
    :class:`~sklearn.model_selection.GridSearchCV`: ``best_params_``,
    ``best_estimator_`` (refitted on all samples; not with ``refit=False``) and ``cv_results_``.
    """
    grid: dict[str, list[Any]] = {
        "alpha": [float(a) for a in alphas] if alphas is not None else [estimator.alpha],
        "beta": [float(b) for b in betas] if betas is not None else [float(estimator.beta)],
    }
    search = GridSearchCV(estimator, grid, cv=KFold(folds, shuffle=True, random_state=estimator.random_state),
                          refit=(one_standard_error_choice if alphas is not None else True) if refit else False,
                          n_jobs=n_jobs, error_score="raise")
    return search.fit(X, y)


def beta_task(estimator: DeepType, X: Any, y: Any) -> tuple[DeepType, Any, str]:
    """What ``beta`` is cross-validated on: ``(estimator, target, objective)``, the unfitted estimator and the
    target of the task the fits of ``estimator`` on ``X`` (n_samples, n_genes), ``y`` train, and its objective.

    The objective is settled first, as the fit settles it (:func:`~deepsubtype.fitting.objective_and_target`;
    with ``task="survival"`` and ``objective="auto"`` the cross-validated choice of :mod:`deepsubtype.objective`,
    at the estimator's own beta) and pinned, so that every fold trains one task: ``primary``, a clone with
    ``objective="primary"`` and ``y``; a baseline's, a ``task="classification"`` clone and the baseline's
    clusters of all ``X`` (n_samples,) as classes: the target the fit trains its network on, scored by the
    held-out cross-entropy (a model that learnt a baseline's clusters has no score on ``y``)."""
    objective, _, target, _, _ = objective_and_target(clone(estimator).set_params(checkpoint=None), X, y)
    if objective in BASELINE_OBJECTIVES:
        return clone(estimator).set_params(task="classification", objective="primary"), target, objective
    return clone(estimator).set_params(objective="primary"), y, objective


#: Columns of :func:`tuning_table`, :func:`alpha_path_table` and :func:`objective_table` (``tuning.tsv``).
TUNING_COLUMNS = ["parameter", "alpha", "beta", "held_out_loss", "held_out_se", "n_genes_tenth", "chosen",
                  "criterion", "objective", "held_out_logrank_p"]
#: The dtypes of the columns that are numbers or flags, the same in every table whether a column is filled or
#: not, so that the tables concatenate to the same dtypes (``alpha`` is a number, or text for ``auto`` and per
#: view alphas; the rest are text).
_TUNING_DTYPES = {"beta": "float64", "held_out_loss": "float64", "held_out_se": "float64", "n_genes_tenth": "Int64",
                  "chosen": "bool", "held_out_logrank_p": "float64"}


def _tuning_frame(columns: dict[str, Any]) -> pd.DataFrame:
    """A ``tuning.tsv`` table from its ``columns`` (each of :data:`TUNING_COLUMNS`; empty when none is given)."""
    return pd.DataFrame(columns, columns=TUNING_COLUMNS).astype(_TUNING_DTYPES)


def _alpha_cell(value: Any) -> str | float:
    """An alpha as a ``tuning.tsv`` cell: a number stays a number, ``auto`` and per-view tuples are text."""
    return float(value) if isinstance(value, int | float) else alpha_text(value)


def tuning_table(search: GridSearchCV, objective: str = "primary") -> pd.DataFrame:
    """One row per (alpha, beta) of a cross-validation: the mean held-out primary loss over folds, its
    standard error, and which was chosen (``parameter`` names what was searched: alpha, beta or both);
    ``objective``: what the searched fits trained (:func:`beta_task`), a baseline's clusters as classes or
    the primary task."""
    results = search.cv_results_
    n_folds = sum(1 for key in results if key.startswith("split") and key.endswith("_test_score"))
    alphas, betas = results["param_alpha"], np.asarray(results["param_beta"], dtype=float)
    searched = [name for name, values in (("alpha", alphas), ("beta", betas)) if len(set(values)) > 1]
    return _tuning_frame({
        "parameter": "+".join(searched) or "none",
        "alpha": [_alpha_cell(value) for value in alphas],
        "beta": betas,
        "held_out_loss": -np.asarray(results["mean_test_score"], dtype=float),
        "held_out_se": np.asarray(results["std_test_score"], dtype=float) / np.sqrt(max(n_folds, 1)),
        "n_genes_tenth": np.nan,
        "chosen": np.arange(len(results["mean_test_score"])) == search.best_index_,
        "criterion": f"{n_folds}-fold cross-validated held-out "
                     + (f"loss on {objective}'s clusters as classes" if objective in BASELINE_OBJECTIVES
                        else "primary loss")
                     + (", one-standard-error rule on alpha" if "alpha" in searched else ", lowest"),
        "objective": objective,
    })


def alpha_path_table(model: DeepType) -> pd.DataFrame:
    """``tuning.tsv`` rows of a fitted model: its alpha path (``alpha="auto"``) or its fixed alpha and beta."""
    if not model.alpha_path_:
        return _tuning_frame({"parameter": ["none"], "alpha": [_alpha_cell(model.alpha_)], "beta": [model.beta],
                              "held_out_loss": [np.nan], "held_out_se": [np.nan], "n_genes_tenth": [np.nan],
                              "chosen": [True], "criterion": ["fixed in config"], "objective": [_objective(model)],
                              "held_out_logrank_p": [np.nan]})
    path = pd.DataFrame(model.alpha_path_)
    n_held_out, n_fits = int(path["n_selection"].iloc[0]), int(path["n_fits"].iloc[0])
    rule = (f"alpha branches from the pretrained network, primary loss of {n_held_out} held-out terms of "
            f"{n_fits} fit{'s' if n_fits > 1 else ''}, one-standard-error rule")
    collapsed = path["collapsed"].fillna("")
    beside = collapsed.shift(-1, fill_value="").ne("") & collapsed.eq("")
    notes = np.where(collapsed.ne(""), "; not eligible: the network collapsed (" + collapsed + ")",
                     np.where(beside, "; not eligible: the next larger alpha collapsed the network", ""))
    return _tuning_frame({
        "parameter": "alpha", "alpha": path["alpha"], "beta": model.beta,
        "held_out_loss": path["selection_loss"], "held_out_se": path["selection_se"],
        "n_genes_tenth": path["n_genes_tenth"], "chosen": path["chosen"],
        "criterion": [rule + note for note in notes], "objective": _objective(model), "held_out_logrank_p": np.nan,
    })


def _objective(model: Any) -> str:
    """The objective a fitted model trained (``primary`` for model files older than the choice)."""
    return str(getattr(model, "objective_", "primary"))


def objective_table(model: Any) -> pd.DataFrame:
    """``tuning.tsv`` rows of the survival objective's choice (``objective="auto"``; none otherwise): per
    candidate, the log-rank p of its cross-validated held-out clusters and whether it was trained."""
    scores = getattr(model, "objective_scores_", [])
    if not scores:
        return _tuning_frame({})
    frame = pd.DataFrame(scores)
    folds = int(frame["folds"].iloc[0])
    return _tuning_frame({
        "parameter": "objective", "alpha": _alpha_cell(model.alpha_), "beta": model.beta,
        "held_out_loss": np.nan, "held_out_se": np.nan, "n_genes_tenth": np.nan, "chosen": frame["chosen"],
        "criterion": f"log-rank test of {folds}-fold cross-validated held-out clusters: baselines with p < "
                     f"{SIGNIFICANCE:g}, then the simplest within one SE of the best mean fold z; the Cox fits at "
                     "the alpha chosen on all patients",
        "objective": frame["objective"], "held_out_logrank_p": frame["held_out_p"],
    })

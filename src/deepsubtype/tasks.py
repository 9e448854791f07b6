"""The primary tasks of DeepType: for each, how its target is encoded, which samples are labelled, its loss,
the best constant predictor and what the network's head predicts.

One class per task, registered in :data:`TASKS`; :func:`primary_task` returns the object of a task name. The
estimator, the training loop, the fit checks and persistence ask the object instead of testing the name, so
adding a task is one class here plus its tests (the configuration schema and the command line take their
choices from :data:`TASKS`).

Encoded targets (numpy on the way in, torch inside the loop; ``n`` samples):

- ``classification``: int64 class index (n,), -1 = missing or a class unseen in training;
- ``binary``: float32 class index 0/1 (n,), NaN = missing;
- ``regression``: float32 standardized value (n,), NaN = missing;
- ``survival``: float32 (n, 2) time and event (1 = event), NaN = missing;
- ``reconstruction``: no target (zeros (n,)); the loss compares the head's output with ``x`` itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.preprocessing import LabelEncoder
from torch.nn import functional as F

from .errors import InputError
from .model import cox_partial_likelihood_terms
from .survival import cox_score_test, survival_columns
from .tables import examples

if TYPE_CHECKING:
    from .estimator import DeepType

__all__ = ["Task", "TASKS", "PrimaryTask", "primary_task"]

logger = logging.getLogger(__name__)

Task = Literal["classification", "binary", "regression", "survival", "reconstruction"]


class PrimaryTask:
    """What the network's head learns. Stateless: what a fit learns about the target (classes, scale) is
    kept on the estimator."""

    name: ClassVar[str]
    #: False for a task whose loss reads ``x`` instead of a target (its held-out rows leave the batches).
    has_target: ClassVar[bool] = True

    def encode(self, model: DeepType, y: Any, n_samples: int, *, fit: bool) -> tuple[np.ndarray, int]:
        """``(encoded target, number of network outputs)`` of ``y`` for ``n_samples`` samples; ``fit=True``
        learns the encoding on ``model``, ``fit=False`` applies the learned one."""
        raise NotImplementedError

    def labelled(self, target: torch.Tensor) -> torch.Tensor:
        """Boolean (n,): the samples whose target is known."""
        return ~torch.isnan(target)

    def mask(self, target: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """A copy of ``target`` with ``rows`` marked missing."""
        masked = target.clone()
        masked[rows] = float("nan")
        return masked

    def loss_terms(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The loss of a batch split into its terms, one per labelled sample (per event for survival):
        (n_terms,); their mean is :meth:`loss`."""
        raise NotImplementedError

    def loss(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The loss of a batch (rows with a missing target ignored); 0 for a batch without a labelled row."""
        terms = self.loss_terms(output, target, x)
        return terms.mean() if terms.numel() else output.sum() * 0.0

    def trivial_output(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The output of the best constant predictor, shaped like ``output``."""
        raise NotImplementedError

    def predict(self, model: DeepType, output: torch.Tensor) -> np.ndarray:
        """What the head's ``output`` (n, outputs) predicts, in the target's own units."""
        return output[:, 0].cpu().numpy()

    def target_columns(self, target: str | None, time_column: str | None,
                       event_column: str | None) -> list[str | None]:
        """The clinical columns the task's target is read from, as the config names them (none: no target)."""
        return [target]

    def read_target(self, obs: pd.DataFrame, columns: list[str], source: str) -> np.ndarray | None:
        """The target of every sample from ``obs[columns]``, as ``DeepType.fit`` takes it (missing: None or
        NaN); an :class:`~deepsubtype.errors.InputError` naming ``source`` when the task cannot train on it."""
        column = columns[0]
        values = obs[column].astype(object).where(obs[column].notna(), None)
        known = values.dropna()
        self.check_known(known, column, source)
        logger.info("target %r: %d samples labelled, %d missing (kept for clustering)", column, len(known),
                    len(values) - len(known))
        return values.to_numpy()

    def check_known(self, known: pd.Series, column: str, source: str) -> None:
        """Refuse a target whose known values (``known``) the task cannot train on; any will do by default."""

    def univariate_test(self, X: np.ndarray, y: Any) -> tuple[np.ndarray, np.ndarray, str] | None:
        """Each gene (column of ``X`` (n, genes)) tested alone against the target ``y`` (samples with a missing
        target left out): ``(statistic, p_value, test name)``, each array (genes,); None without a target."""
        raise NotImplementedError

    def n_outputs(self, model: DeepType) -> int:
        """The head's width for a fitted ``model`` (its encoding learnt)."""
        return 1


def _known_values(y: Any, n_samples: int, *, fit: bool) -> tuple[pd.Series, np.ndarray]:
    """``y`` as a Series of ``n_samples`` values and its known (not missing) mask."""
    values = pd.Series(np.asarray(y, dtype=object).ravel())
    if len(values) != n_samples:
        raise ValueError(f"y has {len(values)} entries for {n_samples} samples")
    known = values.notna().to_numpy()
    if fit and not known.any():
        raise ValueError("y has no known value")
    return values, known


class _Labels(PrimaryTask):
    """Tasks on class labels: the classes are learnt as ``model.classes_``."""

    def class_index(self, model: DeepType, y: Any, n_samples: int, *, fit: bool) -> np.ndarray:
        """Index (n,) of each value of ``y`` in ``model.classes_`` (learnt when ``fit``); -1 = missing/unseen."""
        values, known = _known_values(y, n_samples, fit=fit)
        if fit:
            model.classes_ = LabelEncoder().fit(values[known].to_numpy()).classes_
            if len(model.classes_) < 2:
                raise ValueError(f"y has a single class ({model.classes_[0]!r}); the primary task needs at least two")
            if self.name == "binary" and len(model.classes_) != 2:
                raise ValueError(f"task='binary' needs two classes, y has {len(model.classes_)}")
        return pd.Index(model.classes_).get_indexer(values.where(known, None).to_numpy())

    def check_known(self, known: pd.Series, column: str, source: str) -> None:
        if known.nunique() < 2:
            raise InputError(f"{source}: target column {column!r} has {known.nunique()} distinct value(s); "
                             f"the {self.name} task needs at least two")

    def univariate_test(self, X: np.ndarray, y: Any) -> tuple[np.ndarray, np.ndarray, str]:
        """Welch's t-test with two classes (second class against the first), one-way ANOVA F with more."""
        labels = pd.Series(np.asarray(y, dtype=object))
        known = labels.notna().to_numpy()
        classes = sorted(labels[known].unique(), key=str)
        groups = [X[(labels == value).to_numpy()] for value in classes]
        if len(groups) == 2:
            statistic, p_value = stats.ttest_ind(groups[1], groups[0], equal_var=False)
            return statistic, p_value, f"Welch t-test ({classes[1]} vs {classes[0]})"
        statistic, p_value = stats.f_oneway(*groups)
        return statistic, p_value, "one-way ANOVA F"


class Classification(_Labels):
    """Cross-entropy on class labels; the head has one logit per class."""

    name = "classification"

    def encode(self, model: DeepType, y: Any, n_samples: int, *, fit: bool) -> tuple[np.ndarray, int]:
        return self.class_index(model, y, n_samples, fit=fit).astype(np.int64), len(model.classes_)

    def labelled(self, target: torch.Tensor) -> torch.Tensor:
        return target >= 0

    def mask(self, target: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        masked = target.clone()
        masked[rows] = -1
        return masked

    def loss_terms(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        known = target >= 0
        return F.cross_entropy(output[known], target[known], reduction="none")

    def trivial_output(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        counts = torch.bincount(target[target >= 0], minlength=output.shape[1]).to(output)
        return torch.log(counts.clamp_min(0.5) / counts.sum()).expand_as(output)

    def predict(self, model: DeepType, output: torch.Tensor) -> np.ndarray:
        return model.classes_[output.argmax(1).cpu().numpy()]

    def n_outputs(self, model: DeepType) -> int:
        return len(model.classes_)


class Binary(_Labels):
    """Logistic loss on two classes; the head has one logit."""

    name = "binary"

    def encode(self, model: DeepType, y: Any, n_samples: int, *, fit: bool) -> tuple[np.ndarray, int]:
        index = self.class_index(model, y, n_samples, fit=fit)
        return np.where(index >= 0, index, np.nan).astype(np.float32), 1

    def check_known(self, known: pd.Series, column: str, source: str) -> None:
        super().check_known(known, column, source)
        classes = sorted(known.unique(), key=str)
        if len(classes) != 2:
            raise InputError(f"{source}: target column {column!r} has {len(classes)} classes ({examples(classes)}); "
                             "the binary task needs exactly two: set task to classification, or give a column of two "
                             "classes")

    def loss_terms(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        known = ~torch.isnan(target)
        return F.binary_cross_entropy_with_logits(output[known, 0], target[known], reduction="none")

    def trivial_output(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.logit(torch.nanmean(target).clamp(1e-6, 1 - 1e-6)).expand_as(output)

    def predict(self, model: DeepType, output: torch.Tensor) -> np.ndarray:
        return model.classes_[(output[:, 0] > 0).long().cpu().numpy()]


class Regression(PrimaryTask):
    """Mean squared error on the target standardized by its training mean and SD (kept on the model)."""

    name = "regression"

    def check_known(self, known: pd.Series, column: str, source: str) -> None:
        text = known[pd.to_numeric(known, errors="coerce").isna()]
        if len(text):
            raise InputError(f"{source}: target column {column!r} has the non-numeric value {text.iloc[0]!r} for "
                             f"sample {text.index[0]!r} ({len(text)} such samples); the regression task needs "
                             "numbers: fix those cells (or leave them empty), or set task to classification")

    def encode(self, model: DeepType, y: Any, n_samples: int, *, fit: bool) -> tuple[np.ndarray, int]:
        values, _ = _known_values(y, n_samples, fit=fit)
        numeric = pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64)
        if fit:
            model._target_mean = float(np.nanmean(numeric))
            model._target_scale = float(np.nanstd(numeric)) or 1.0
        return ((numeric - model._target_mean) / model._target_scale).astype(np.float32), 1

    def loss_terms(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        known = ~torch.isnan(target)
        return F.mse_loss(output[known, 0], target[known], reduction="none")

    def trivial_output(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.nanmean(target).expand_as(output)

    def predict(self, model: DeepType, output: torch.Tensor) -> np.ndarray:
        return output[:, 0].cpu().numpy() * model._target_scale + model._target_mean


    def univariate_test(self, X: np.ndarray, y: Any) -> tuple[np.ndarray, np.ndarray, str]:
        """Spearman correlation, with the t approximation's p-value."""
        target = pd.to_numeric(pd.Series(np.asarray(y, dtype=object)), errors="coerce").to_numpy(dtype=np.float64)
        known = ~np.isnan(target)
        statistic = np.nan_to_num(_pearson(stats.rankdata(X[known], axis=0), stats.rankdata(target[known])))
        n = int(known.sum())
        t = statistic * np.sqrt((n - 2) / np.clip(1 - statistic**2, 1e-300, None))
        return statistic, 2 * stats.t.sf(np.abs(t), n - 2), "Spearman correlation"


def _pearson(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``matrix`` (n, p) with ``vector`` (n,)."""
    centred, target = matrix - matrix.mean(0), vector - vector.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        return centred.T @ target / (np.sqrt((centred**2).sum(0)) * np.sqrt((target**2).sum()))


class Survival(PrimaryTask):
    """Negative Cox partial likelihood (Breslow ties) on (time, event); the head's one output is a log
    hazard ratio, the prediction a risk score."""

    name = "survival"

    def encode(self, model: DeepType, y: Any, n_samples: int, *, fit: bool) -> tuple[np.ndarray, int]:
        target = np.asarray(y, dtype=np.float32)
        if target.ndim != 2 or target.shape != (n_samples, 2):
            raise ValueError(f"task='survival' needs y of shape (n_samples, 2) = (time, event), got {target.shape}")
        time, event = target[:, 0], target[:, 1]
        negative, not_binary = time < 0, ~np.isnan(event) & ~np.isin(event, (0, 1))
        if negative.any():
            row = int(np.flatnonzero(negative)[0])
            raise ValueError(f"task='survival': negative survival time {time[row]:g} in row {row}")
        if not_binary.any():
            row = int(np.flatnonzero(not_binary)[0])
            raise ValueError(f"task='survival': event must be 0 or 1, got {event[row]:g} in row {row}")
        if fit and not np.any(event == 1):
            raise ValueError("task='survival': no event among the samples; the Cox loss needs at least one")
        return target, 1

    def labelled(self, target: torch.Tensor) -> torch.Tensor:
        return ~torch.isnan(target).any(1)

    def target_columns(self, target: str | None, time_column: str | None,
                       event_column: str | None) -> list[str | None]:
        return [time_column, event_column]

    def read_target(self, obs: pd.DataFrame, columns: list[str], source: str) -> np.ndarray:
        time_column, event_column = columns
        time, event = survival_columns(obs, time_column=time_column, event_column=event_column, source=source)
        if not (event == 1).any():
            raise InputError(f"{source}: no event (1) in column {event_column!r}; the survival task needs events")
        return np.column_stack([time, event]).astype(np.float32)

    def univariate_test(self, X: np.ndarray, y: Any) -> tuple[np.ndarray, np.ndarray, str]:
        """The Cox score test (:func:`~deepsubtype.survival.cox_score_test`), z signed."""
        target = np.asarray(y, dtype=np.float64)
        known = ~np.isnan(target).any(1)
        z, p_value = cox_score_test(X[known], target[known, 0], target[known, 1])
        return z, p_value, "Cox score test (z)"

    def loss_terms(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        known = ~torch.isnan(target).any(dim=1)
        return cox_partial_likelihood_terms(output[known, 0], target[known, 0], target[known, 1])

    def trivial_output(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(output)


class Reconstruction(PrimaryTask):
    """An autoencoder: mean squared error of the decoder's output against ``x`` (NaN entries, missing views,
    ignored); no target."""

    name = "reconstruction"
    has_target = False

    def encode(self, model: DeepType, y: Any, n_samples: int, *, fit: bool) -> tuple[np.ndarray, int]:
        return np.zeros(n_samples, dtype=np.float32), 0

    def labelled(self, target: torch.Tensor) -> torch.Tensor:
        return torch.ones(target.shape[0], dtype=torch.bool, device=target.device)

    def loss_terms(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        observed = ~torch.isnan(x)
        squared = torch.where(observed, output - torch.nan_to_num(x), 0.0).square().sum(1)
        return squared / observed.sum(1).clamp_min(1)

    def loss(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        observed = ~torch.isnan(x)  # the mean over observed entries
        return F.mse_loss(output, x) if bool(observed.all()) else F.mse_loss(output[observed], x[observed])

    def trivial_output(self, output: torch.Tensor, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.nanmean(x, 0).nan_to_num().expand_as(output)

    def predict(self, model: DeepType, output: torch.Tensor) -> np.ndarray:
        return output.cpu().numpy()

    def n_outputs(self, model: DeepType) -> int:
        return 0

    def target_columns(self, target: str | None, time_column: str | None,
                       event_column: str | None) -> list[str | None]:
        return []

    def univariate_test(self, X: np.ndarray, y: Any) -> None:
        return None


_REGISTRY: dict[str, PrimaryTask] = {task.name: task for task in
                                     (Classification(), Binary(), Regression(), Survival(), Reconstruction())}
#: The task names, in the order the documentation lists them.
TASKS: tuple[str, ...] = tuple(_REGISTRY)


def primary_task(name: str) -> PrimaryTask:
    """The :class:`PrimaryTask` of ``name``, one of :data:`TASKS`."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"task must be one of {TASKS}, got {name!r}") from None

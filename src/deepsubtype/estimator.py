"""The DeepType estimator (Chen et al., Bioinformatics 2020), scikit-learn style.

Training, as in the paper:

1. pretrain on the primary task + alpha * L2,1 sparsity of the first-layer weights
   (alpha ramped in as ``alpha * (1 - exp(-step / alpha_ramp_steps))``);
2. repeat: k-means on the representation of *all* samples; joint training on
   primary + alpha * sparsity + beta * mean squared distance to the assigned centre;
   until the share of samples that change cluster is at most ``tol`` or
   ``max_rounds`` is reached.

With ``checkpoint`` set, the training state is written after pretraining and
after every round, so that an interrupted fit resumes where it stopped.
"""

from __future__ import annotations

import logging
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import fitting
from .alpha_path import one_standard_error
from .cluster import assignment_confidence, squared_distances
from .errors import InputError
from .fitting import as_frame_or_array
from .model import ACTIVATIONS, resolve_device
from .objective import BASELINE_OBJECTIVES, OBJECTIVES
from .persistence import load_model, save_model
from .tasks import TASKS, PrimaryTask, Task, primary_task

__all__ = ["DeepType", "DEFAULT_ALPHA_GRID", "IMPORTANCE_MEASURES", "PAPER_HYPERPARAMETERS", "one_standard_error",
           "resolve_device"]

#: The gene importances a fit offers (see the ``importance`` parameter of :class:`DeepType`).
IMPORTANCE_MEASURES: tuple[str, ...] = ("pattern", "pattern_minmax", "cluster_axis", "first_layer")
#: The regularization path of ``alpha="auto"``: L2,1 weights a factor of ~3 apart, from none to a weight that
#: collapses most networks (the paper's 0.006 suits 20,000 genes x 1,024 units; other shapes need other values).
DEFAULT_ALPHA_GRID: tuple[float, ...] = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)

#: The published setting (Chen et al. 2020, original code on METABRIC): the defaults of :class:`DeepType` but
#: alpha, which is chosen from the data by default (``alpha="auto"``; the paper's 0.006 was set for 20,000
#: genes x 1,024 units and is wrong for most other shapes).
PAPER_HYPERPARAMETERS: dict[str, Any] = {
    "hidden_layers": (1024, 512),
    "activation": "sigmoid",
    "dropout": 0.0,
    "alpha": 0.006,
    "alpha_ramp_steps": 300,
    "beta": 1.2,
    "learning_rate": 1e-3,
    "batch_size": 256,
    "pretrain_steps": 1200,
    "joint_steps": 100,
}

logger = logging.getLogger(__name__)


class DeepType(ClusterMixin, TransformerMixin, BaseEstimator):
    """Supervised deep clustering with L2,1 gene sparsity and a k-means loss.

    Parameters
    ----------
    task
        Primary task: ``classification`` (cross-entropy on labels), ``binary``
        (logistic), ``regression`` (MSE on a standardized target), ``survival``
        (Cox partial likelihood, Breslow ties; ``y`` is (n, 2): time, event) or
        ``reconstruction`` (autoencoder; ``y`` ignored).
    hidden_layers
        Widths of the encoder's hidden layers; the last one is the representation.
    activation, dropout
        Non-linearity (``sigmoid`` as in the paper, ``relu``, ``tanh``, ``elu``) and dropout rate.
    alpha
        Weight of the L2,1 norm of the first-layer weights (sum over genes of each gene's column norm);
        with ``views``, one weight for all views or a tuple with one per view. ``"auto"``: chosen
        from the data along a regularization path (:mod:`deepsubtype.training`): pretraining runs at the
        first value of ``alpha_grid``, then every alpha of the grid gets its own ``path_steps``-step branch
        from the pretrained network, scored by the primary loss of held-out samples (``validation_fraction``
        of the labelled ones, or 20 % when that is 0); the largest alpha whose loss is within one standard
        error of the lowest is kept (the paper's rule) and the fit is trained afresh at it, on all samples and
        with the same seed: the same fit as with that alpha pinned.
        In a :class:`~deepsubtype.ensemble.DeepTypeEnsemble` the fits' held-out scores are pooled and one
        alpha is chosen for all. Costs one pretraining and ``len(alpha_grid)`` branches of ``path_steps``
        steps beside one fit, instead of a cross-validation's folds x grid fits.
    alpha_grid, path_steps
        The path's alphas (increasing) and the steps of each branch.
    trunk_steps
        Steps of the path's trunk (pretraining at ``alpha_grid[0]``, along its own half cosine), at most
        ``pretrain_steps``. The trunk only has to fit the training samples, and the fit itself is trained
        afresh at the chosen alpha: where the trunk's length leaves the choice alone, the fit is the same.
    alpha_ramp_steps
        Time constant (optimizer steps) of alpha's exponential ramp; 0 applies alpha at once.
    beta
        Weight of the k-means loss (mean squared distance of a sample's representation to its centre).
    reconstruction_weight
        Weight of a reconstruction term beside a supervised primary task: a linear decoder maps the
        representation back to the genes and its mean squared error (z-score units) joins the loss in every
        phase, so the representation keeps the cohort's main axes of variation besides what the target
        rewards (a Cox loss on a few dozen events alone learns little else). 0 (default): the paper's loss.
    objective
        What the network's primary loss is trained on. ``"primary"``: the task's own loss on ``y`` (the paper).
        ``"kmeans"`` or ``"pca_kmeans"`` (``task="survival"`` only): the clusters that k-means on the genes, or
        on their first 50 principal components, finds among the training samples, learnt as classes.
        ``"auto"`` (default): ``"primary"`` for every task but ``survival``, where the fit chooses among the
        three by the log-rank p of each one's clusters on held-out samples of a 3-fold cross-validation
        inside the fit (:mod:`deepsubtype.objective`): a Cox loss on a few dozen events does not find the
        prognostic structure that unsupervised methods see unaided, and is kept only where it does better.
        Costs three fits of the Cox objective beside the fit.
    n_clusters
        Number of clusters K, or ``"auto"``: after pretraining, each K of
        ``n_clusters_range`` is scored on the representation of all samples and the
        best by ``k_criterion`` is kept (the paper chose K by silhouette).
    n_clusters_range
        Smallest and largest K tried by ``n_clusters="auto"``.
    views
        ``((name, n_features), ...)``: the columns of ``X`` are several views (omics) of
        the same patients, in this order; each gets its own first-layer branch and
        L2,1 penalty (see :class:`~deepsubtype.model.DeepTypeNetwork`). A patient
        missing a view has NaN in all of that view's columns. ``None``: one view.
    k_criterion
        ``silhouette`` (mean silhouette, as the paper) or ``stability`` (mean adjusted
        Rand index of k-means on 80 % subsamples against the full-data clustering).
    learning_rate, batch_size
        Adam learning rate and mini-batch size (a batch larger than the data uses all of it).
    lr_decay
        The learning rate falls along a half cosine from ``learning_rate`` to ``learning_rate * lr_decay``
        over pretraining and stays there for the joint rounds (the alpha path runs at ``learning_rate``);
        1 keeps it constant (the paper). With full-batch steps on a small cohort, a constant 1e-3 makes Adam oscillate
        around the L2,1 penalty's kink and can collapse the primary task; the decay lets it settle.
    pretrain_steps
        Optimizer steps of pretraining (primary + sparsity).
    joint_steps
        Optimizer steps of joint training per k-means round.
    schedule
        ``"fixed"`` (default): every phase runs all its steps (the paper's schedule, with ``lr_decay=1``);
        ``"converged"``: the fit's pretraining and every joint round end once their loss has stopped improving,
        ``pretrain_steps`` and ``joint_steps`` being caps (:mod:`deepsubtype.training` says how). Not the
        default: measured on the demo it moves the 5-fit consensus from block to block, and on noisy
        mini-batch Cox losses it stops before a slower term has done its work (``benchmarks/RESULTS.md``).
    max_rounds
        Most rounds of {k-means, joint training}.
    tol
        Training stops once at most this share of samples changes cluster between rounds;
        a negative value runs all ``max_rounds``.
    kmeans_n_init
        k-means++ restarts per round (the previous round's centres are tried too).
    validation_fraction
        Share of the labelled samples held out of the primary loss (they are still
        clustered) to score each pretraining epoch; 0 disables validation.
    patience
        With validation: pretraining stops after this many epochs without a lower
        validation loss and keeps the best weights (early stopping).
    importance
        What :attr:`feature_importances_` holds. ``"pattern"``: per gene, the norm over the
        representation's units of its covariance with the learned representation over the training samples,
        ``||cov(x_j, H)||`` (the model's *activation pattern*, Haufe et al. 2014, NeuroImage 87:96). With more
        genes than patients a fitted network's weights concentrate on the few genes that separate its hardest
        patients (on the demo cohort: none of 20 ER-pathway genes in the top 20 of ER status), while the
        pattern credits every gene that moves with the learned subtypes. ``"first_layer"``: the L2 norm of
        each gene's first-layer weight column, the paper's definition (the genes the L2,1 penalty kept).
        ``"pattern_minmax"`` (default): the pattern in the paper's min-max input units, ``||cov(x_j, H)||``
        divided by the gene's range (max - min) over the training samples; unchanged by any per-gene affine
        map of the input, it discounts genes whose covariance rides on a few outlying patients (on the demo,
        6 ER genes in the top 20 in every seed block against 4 for the pattern and 5 for a t-test; it also
        discounts a rare subtype's markers a little: ``benchmarks/RESULTS.md``).
        ``"cluster_axis"``: per gene, the largest absolute correlation with one cluster's axis in the
        representation (from the mean to the cluster's centre): scale-free, and a small cluster's axis counts
        as much as the main one's, so a rare subtype's markers are not buried under the main axis's genes.
        All are always available as ``pattern_importances_``, ``pattern_minmax_importances_``,
        ``cluster_axis_importances_`` and ``first_layer_importances_``.
    precision
        ``auto`` (default): ``bf16`` on devices with bfloat16 matrix units (CPUs with AMX-BF16 or AVX-512 BF16,
        CUDA GPUs of compute capability 8 and up), ``float32`` elsewhere; ``float32``; ``tf32``
        (TensorFloat-32 matrix products on CUDA) or ``bf16`` (bfloat16 autocast of the network's training
        forward and backward pass; weights, optimizer, losses, the L2,1 term, k-means, the representation
        that is clustered and the importances stay float32).
    device
        ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``cuda:N``.
    random_state
        Seed for weight initialization, batching and k-means; the same seed gives the same result on CPU.
        ``None`` draws a fresh seed from the operating system (recorded in ``seed_``).
    checkpoint
        File for the training state, or None. Written (atomically, tensors only) after
        pretraining and after every round; a fit finding a checkpoint of the same data,
        target, hyperparameters and device type resumes from it, with the same result
        as an uninterrupted fit on CPU. Any other file there is ignored (logged) and
        overwritten, and never unpickled. Deleted when the fit succeeds; not saved with the model.

    Attributes
    ----------
    seed_ : int
        The seed this fit used: ``random_state``, or the one drawn for ``random_state=None``.
    alpha_ : float or tuple of float
        The L2,1 weight used (chosen when ``alpha="auto"``).
    alpha_path_ : list of dict
        With ``alpha="auto"``: per alpha of the path, ``alpha``, the held-out primary loss
        (``selection_loss``, its standard error ``selection_se``, ``n_selection`` terms), the number of
        genes whose column norm is at least a tenth of the largest (``n_genes_tenth``) and ``chosen``.
    objective_ : str
        What the primary loss was trained on: ``primary`` (the task's loss on ``y``), ``kmeans`` or
        ``pca_kmeans`` (that baseline's clusters as classes; then ``classes_`` are its cluster numbers and
        :meth:`predict_target` predicts them).
    baseline_rule_ : BaselineRule or None
        Where ``objective_`` is a baseline, its fitted k-means centres (and PCA), by which :meth:`predict`
        assigns patients (:class:`~deepsubtype.objective.BaselineRule`); ``labels_`` are its clusters. None
        otherwise.
    objective_scores_ : list of dict
        With ``objective="auto"`` and ``task="survival"``: per candidate, ``objective``, ``n_clusters``, the
        log-rank ``held_out_p`` of its cross-validated held-out clusters, their per-fold z-scores ``fold_z``,
        ``folds`` and ``chosen``; else empty.
    precision_ : str
        The precision the fit trained in (``precision`` with ``auto`` resolved on its device).
    fit_warnings_ : list of str
        Signs of a failed fit (empty when none): a primary loss no better than the trivial
        predictor's, first-layer columns all near zero, or one cluster holding nearly every sample.
    n_clusters_ : int
        The number of clusters used (chosen when ``n_clusters="auto"``).
    k_scores_ : list of dict
        For each K scored on the pretrained representation: ``n_clusters``,
        ``inertia``, ``silhouette``, ``stability`` (only the fixed K when not ``auto``).
    labels_ : ndarray (n_samples,)
        Cluster of each training sample, 0 = largest cluster.
    cluster_centers_ : ndarray (n_clusters, hidden_layers[-1])
        Centres in the representation space.
    feature_importances_ : ndarray (n_features_in_,)
        ``{importance}_importances_``, as ``importance`` says.
    pattern_importances_ : ndarray (n_features_in_,)
        Norm of each gene's covariance with the representation (representation units x gene units; for a
        view some patients lack, over the patients who have it).
    feature_ranges_ : ndarray (n_features_in_,)
        Each gene's max - min over the training samples (input units).
    pattern_minmax_importances_ : ndarray (n_features_in_,)
        ``pattern_importances_ / feature_ranges_``: the pattern in min-max input units.
    cluster_axis_importances_ : ndarray (n_features_in_,)
        Each gene's largest absolute correlation with one cluster's axis in the representation
        (:func:`~deepsubtype.gene_scores.cluster_axis_correlation`), in [0, 1].
    first_layer_importances_ : ndarray (n_features_in_,)
        L2 norm of each gene's first-layer weight column.
    history_ : dict
        ``steps``: one record per epoch (phase, round, step, loss parts, and the
        ``validation`` loss when ``validation_fraction`` > 0);
        ``rounds``: one record per k-means round (inertia, share of samples that changed).
    classes_ : ndarray
        Class labels (``classification`` and ``binary``).
    """

    #: What each parameter accepts (checked by scikit-learn's ``_validate_params`` at the start of a fit);
    #: the checks that need the data (n_clusters against the samples, alpha per view) come later.
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "task": [StrOptions(set(TASKS))],
        "hidden_layers": [tuple, list],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left"), tuple, list, StrOptions({"auto"})],
        "alpha_grid": [tuple, list],
        "path_steps": [Interval(Integral, 1, None, closed="left")],
        "trunk_steps": [Interval(Integral, 0, None, closed="left")],
        "alpha_ramp_steps": [Interval(Integral, 0, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "reconstruction_weight": [Interval(Real, 0, None, closed="left")],
        "objective": [StrOptions({"auto", *OBJECTIVES})],
        "n_clusters": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "n_clusters_range": [tuple, list],
        "k_criterion": [StrOptions({"silhouette", "stability"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "lr_decay": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "pretrain_steps": [Interval(Integral, 0, None, closed="left")],
        "joint_steps": [Interval(Integral, 0, None, closed="left")],
        "schedule": [StrOptions({"converged", "fixed"})],
        "max_rounds": [Interval(Integral, 0, None, closed="left")],
        "tol": [Real],  # negative: every round runs (never converged)
        "kmeans_n_init": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "importance": [StrOptions(set(IMPORTANCE_MEASURES))],
        "precision": [StrOptions({"auto", "float32", "tf32", "bf16"})],
        "device": [str],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
        "checkpoint": [str, Path, None],
        "views": [tuple, list, None],
    }

    def __init__(
        self,
        *,
        task: Task = "classification",
        hidden_layers: tuple[int, ...] = (1024, 512),
        activation: str = "sigmoid",
        dropout: float = 0.0,
        alpha: float | tuple[float, ...] | str = "auto",
        alpha_grid: tuple[float, ...] = DEFAULT_ALPHA_GRID,
        path_steps: int = 200,
        trunk_steps: int = 400,
        alpha_ramp_steps: int = 300,
        beta: float = 1.2,
        reconstruction_weight: float = 0.0,
        objective: str = "auto",
        n_clusters: int | str = 3,
        n_clusters_range: tuple[int, int] = (2, 8),
        k_criterion: str = "silhouette",
        learning_rate: float = 1e-3,
        lr_decay: float = 0.1,
        batch_size: int = 256,
        pretrain_steps: int = 1200,
        joint_steps: int = 100,
        schedule: str = "fixed",
        max_rounds: int = 20,
        tol: float = 0.01,
        kmeans_n_init: int = 10,
        validation_fraction: float = 0.0,
        patience: int = 20,
        importance: str = "pattern_minmax",
        precision: str = "auto",
        device: str = "auto",
        random_state: int | None = 0,
        checkpoint: str | Path | None = None,
        views: tuple[tuple[str, int], ...] | None = None,
    ) -> None:
        self.task = task
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.dropout = dropout
        self.alpha = alpha
        self.alpha_grid = alpha_grid
        self.path_steps = path_steps
        self.trunk_steps = trunk_steps
        self.alpha_ramp_steps = alpha_ramp_steps
        self.views = views
        self.beta = beta
        self.reconstruction_weight = reconstruction_weight
        self.objective = objective
        self.n_clusters = n_clusters
        self.n_clusters_range = n_clusters_range
        self.k_criterion = k_criterion
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.pretrain_steps = pretrain_steps
        self.joint_steps = joint_steps
        self.schedule = schedule
        self.max_rounds = max_rounds
        self.tol = tol
        self.kmeans_n_init = kmeans_n_init
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.importance = importance
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.checkpoint = checkpoint

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self.task != "reconstruction"
        tags.non_deterministic = False
        return tags

    @property
    def _trained_task(self) -> str:
        """The task of the network's primary loss: ``classification`` when the objective is a baseline's
        clusters (``objective_`` one of :data:`~deepsubtype.objective.BASELINE_OBJECTIVES`), else ``task``."""
        return "classification" if getattr(self, "objective_", "primary") in BASELINE_OBJECTIVES else self.task

    @property
    def _primary(self) -> PrimaryTask:
        """The :class:`~deepsubtype.tasks.PrimaryTask` of :attr:`_trained_task`."""
        return primary_task(self._trained_task)

    def _check_objective(self) -> None:
        if self.objective in BASELINE_OBJECTIVES and self.task != "survival":
            raise ValueError(f"objective={self.objective!r} replaces a survival target; task is {self.task!r}")

    # ------------------------------------------------------------------ targets
    def _encode_target(self, y: Any, n_samples: int, *, fit: bool = True) -> tuple[np.ndarray, int]:
        """Encode ``y`` for the task; returns (encoded target, number of network outputs).

        ``fit=True`` learns the encoding (classes, regression scale); ``fit=False``
        applies the learned one, reading labels unseen in training as missing.
        """
        task = self._primary
        if task.has_target and y is None:
            raise ValueError(f"DeepType(task={self.task!r}) requires y to be passed, but the target y is None; "
                             "use task='reconstruction' to train without one")
        return task.encode(self, y, n_samples, fit=fit)

    # ----------------------------------------------------------------- training
    def _view_sizes(self) -> list[int] | None:
        return [int(size) for _, size in self.views] if self.views else None

    def _alphas(self, alpha: Any) -> list[float]:
        """The L2,1 weight of each first layer (one per view) for ``alpha`` (one value or one per view)."""
        n_layers = len(self.views) if self.views and len(self.views) > 1 else 1
        alphas = list(alpha) if isinstance(alpha, tuple | list) else [alpha] * n_layers
        if len(alphas) != n_layers:
            raise ValueError(f"alpha has {len(alphas)} values for {n_layers} views")
        return [float(a) for a in alphas]

    def _check_alpha(self) -> None:
        if isinstance(self.alpha, str):  # "auto", the only string _parameter_constraints admits
            grid = [float(value) for value in self.alpha_grid]
            if not grid or any(b <= a for a, b in zip(grid, grid[1:], strict=False)) or grid[0] < 0:
                raise ValueError(f"alpha_grid must be non-negative and increasing, got {tuple(self.alpha_grid)}")
        else:
            self._alphas(self.alpha)

    def _check_views(self, X: np.ndarray) -> None:
        """Views must cover the columns; a view is present (all finite) or missing (all NaN) per patient."""
        sizes = self._view_sizes()
        if sizes is None:
            return
        if sum(sizes) != X.shape[1]:
            raise ValueError(f"views {self.views} cover {sum(sizes)} columns, X has {X.shape[1]}")
        present = np.zeros((X.shape[0], len(sizes)), dtype=bool)
        for index, (block, (name, _)) in enumerate(zip(np.split(X, np.cumsum(sizes)[:-1], axis=1), self.views,
                                                       strict=True)):
            missing = np.isnan(block)
            partial = missing.any(1) & ~missing.all(1)
            if partial.any() or np.isinf(block).any():
                raise ValueError(f"view {name!r}: missing or infinite values inside a present view "
                                 f"(row {int(np.argmax(partial | np.isinf(block).any(1)))}); a missing view is NaN "
                                 "in all its columns")
            present[:, index] = ~missing.any(1)
        if not present.any(1).all():
            raise ValueError(f"row {int(np.argmin(present.any(1)))} has no view")

    @torch.no_grad()
    def _represent(self, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        self.network_.eval()
        parts = [self.network_(X[start:start + batch_size])[0] for start in range(0, X.shape[0], batch_size)]
        return torch.cat(parts)

    def _check_n_clusters(self, n_samples: int) -> None:
        if self.n_clusters == "auto":
            low, high = self.n_clusters_range
            if not 2 <= low <= high < n_samples:
                raise ValueError(f"n_clusters_range={tuple(self.n_clusters_range)} must satisfy "
                                 f"2 <= low <= high < n_samples ({n_samples})")
        elif not (isinstance(self.n_clusters, int | np.integer) and 1 <= self.n_clusters <= n_samples):
            raise ValueError(f"n_clusters={self.n_clusters!r} must be 'auto' or between 1 and the number of "
                             f"samples ({n_samples})")

    def fit(self, X: Any, y: Any = None) -> DeepType:
        """Train on ``X`` (n_samples, n_genes: numpy, pandas or AnnData) and primary target ``y``.

        Missing entries of ``y`` (NaN/None) are ignored by the primary loss; those
        samples still shape the clusters and are clustered.
        """
        return fitting.fit(self, X, y)

    # --------------------------------------------------------------- inference
    def _input(self, X: Any) -> torch.Tensor:
        check_is_fitted(self, "network_")
        X = self._by_name(X) if hasattr(X, "var_names") else as_frame_or_array(X)
        X = validate_data(self, as_frame_or_array(X), dtype=np.float32, reset=False,
                          ensure_all_finite="allow-nan" if self.views else True)
        self._check_views(X)
        return torch.from_numpy(X).to(next(self.network_.parameters()).device)

    def _by_name(self, adata: Any) -> Any:
        """An AnnData's genes are matched to the training genes by name: any order, extra genes ignored; one
        lacking some is refused, naming how many and the first
        (:func:`deepsubtype.transfer.transfer_normalization` fills them). DataFrames keep scikit-learn's rule
        (the training columns, in order)."""
        X = adata.to_df()
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return X
        columns = X.columns.astype(str)
        if len(columns) == len(names) and (columns == names).all():
            return X
        absent = pd.Index(names).difference(columns, sort=False)
        if len(absent):
            raise InputError(f"{len(absent)} of the model's {len(names)} genes are not columns of the input "
                             f"(first {absent[0]!r}); deepsubtype.transfer.transfer_normalization maps a new "
                             "cohort onto the training genes and fills absent ones")
        frame = X.copy(deep=False)
        frame.columns = columns
        return frame[list(names)]

    @property
    def first_layer_importances_(self) -> np.ndarray:
        """L2 norm of each gene's first-layer weight column (the paper's importance), shape (n_features_in_,)."""
        check_is_fitted(self, "network_")
        return self.network_.column_norms().cpu().numpy()

    @property
    def pattern_minmax_importances_(self) -> np.ndarray:
        """Activation pattern per unit of each gene's training range, ``||cov(x_j, H)|| / (max x_j - min x_j)``
        (0 for a constant gene): the pattern in min-max input units, shape (n_features_in_,)."""
        check_is_fitted(self, "network_")
        pattern, ranges = getattr(self, "pattern_importances_", None), getattr(self, "feature_ranges_", None)
        if pattern is None or ranges is None:
            raise AttributeError("this model has no pattern_minmax importances (its files predate them); refit")
        return np.divide(pattern, ranges, out=np.zeros_like(pattern), where=ranges > 0)

    @property
    def feature_importances_(self) -> np.ndarray:
        """The importance named by ``importance`` (``{importance}_importances_``), shape (n_features_in_,)."""
        check_is_fitted(self, "network_")
        values = getattr(self, f"{self.importance}_importances_", None)
        if values is None:
            raise AttributeError(f"this model has no {self.importance} importances (its files predate them); "
                                 "use importance='first_layer' or refit")
        return values

    def transform(self, X: Any) -> np.ndarray:
        """Representation (last hidden layer) of ``X``: (n_samples, hidden_layers[-1])."""
        return self._represent(self._input(X)).cpu().numpy()

    def predict(self, X: Any) -> np.ndarray:
        """Cluster of each sample of ``X``: index of the nearest centre (:meth:`distances`), shape (n_samples,)."""
        if getattr(self, "baseline_rule_", None) is not None:
            return self.baseline_rule_.assign(self._input(X).cpu().numpy())
        hidden = self._represent(self._input(X))
        centers = torch.from_numpy(self.cluster_centers_).to(hidden)
        return squared_distances(hidden, centers).argmin(1).cpu().numpy()

    def distances(self, X: Any) -> np.ndarray:
        """Euclidean distance of each sample to each cluster centre: (n_samples, n_clusters_).

        ``predict`` is the column of the smallest; the values are in representation units (those of
        ``distance_to_center`` in ``clusters.tsv``), or in the baseline's space (genes or principal
        components, :attr:`baseline_rule_`) for a model that learnt a baseline's clusters."""
        if getattr(self, "baseline_rule_", None) is not None:
            return self.baseline_rule_.distances(self._input(X).cpu().numpy())
        hidden = self._represent(self._input(X))
        centers = torch.from_numpy(self.cluster_centers_).to(hidden)
        return squared_distances(hidden, centers).clamp_min(0).sqrt().cpu().numpy()

    def confidence(self, X: Any) -> np.ndarray:
        """Confidence of each assignment, from :meth:`distances` (see :func:`assignment_confidence`)."""
        return assignment_confidence(self.distances(X))

    def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X, y).labels_

    @torch.no_grad()
    def predict_target(self, X: Any) -> np.ndarray:
        """Primary-task prediction: class labels, regression values, Cox risk scores or reconstructions (the
        baseline's cluster numbers where ``objective_`` is a baseline)."""
        x = self._input(X)
        self.network_.eval()
        return self._primary.predict(self, self.network_(x)[1])

    @torch.no_grad()
    def score(self, X: Any, y: Any = None) -> float:
        """Negative primary-task loss on ``X`` (higher is better), as used for cross-validation.

        Cross-entropy, logistic or standardized squared error, Cox partial likelihood, or
        reconstruction error; samples whose ``y`` is missing (or a class unseen in training) are ignored.
        """
        x = self._input(X)
        if self._trained_task != self.task:
            raise ValueError(f"this model learnt the clusters of {self.objective_!r}, not a {self.task} "
                             "prediction: its primary task has no score on y")
        target, _ = self._encode_target(y, x.shape[0], fit=False)
        self.network_.eval()
        output = self.network_(x)[1]
        return -float(self._primary.loss(output, torch.from_numpy(target).to(x.device), x))

    # -------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> None:
        """Write the fitted model to directory ``path``: ``weights.pt`` (tensors only) and ``model.json``
        (:func:`deepsubtype.persistence.save_model`)."""
        save_model(self, path)

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu") -> DeepType:
        """Read a model written by :meth:`save`; tensors are loaded with ``weights_only=True``."""
        return load_model(cls, path, device=device)

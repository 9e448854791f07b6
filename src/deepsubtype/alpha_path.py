"""The alpha path of ``alpha="auto"``: how each fit's branches are scored and how one alpha is chosen.

Pretraining runs at ``alpha_grid[0]`` (the trunk); from there, every alpha of the grid gets
its own branch of ``path_steps`` steps at that alpha, starting from the same trunk weights and random state,
with the learning rate along the pretraining's half cosine again (Adam moves a weight by about one learning
rate per step whatever the penalty, so an alpha needs a learning rate near ``learning_rate`` to act on the
weights); then the primary loss of held-out samples is scored. Branches instead of one chain of increasing
alphas (as glmnet walks its path) because a network keeps fitting its training samples with every step:
along a chain, a larger alpha is also a longer training, and the held-out loss would confound the two.
The scores of several fits can be pooled (:func:`choose_alpha`). The branches only rank the alphas: the fit
itself is then trained afresh at the chosen alpha (:meth:`~deepsubtype.training.Training.take_alpha`),
exactly as a fit with that alpha pinned, because a branch is not such a fit. Its short burst of a large
penalty at the full learning rate on an unpenalized, memorizing trunk prunes far harder than the same alpha
ramped in while the network learns
(60 x 500 synthetic, alpha 0.3: 14 genes left after the branch and 2 after the rounds, training accuracy 0.53,
against 40 genes and 0.82 when trained afresh; ``benchmarks/RESULTS.md``), while the branches' held-out losses
rank the alphas as the afresh fits' held-out losses do.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["AlphaPath", "alpha_text", "choose_alpha", "one_standard_error"]

logger = logging.getLogger("deepsubtype.estimator")


def one_standard_error(mean: np.ndarray, standard_error: np.ndarray, eligible: np.ndarray | None = None) -> int:
    """Index of the last (most regularized) candidate whose ``mean`` loss is within one standard error of the
    lowest, for candidates ordered from least to most regularized (the one-standard-error rule); only
    ``eligible`` candidates (default all) count, and the first candidate when none is."""
    mean = np.asarray(mean, dtype=float)
    eligible = np.ones(len(mean), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    if not eligible.any():
        return 0
    masked = np.where(eligible, mean, np.nan)
    best = int(np.nanargmin(masked))
    threshold = mean[best] + np.nan_to_num(np.asarray(standard_error, dtype=float)[best])
    return int(np.flatnonzero(eligible & (mean <= threshold)).max())


def alpha_text(value: Any) -> str:
    """An alpha as the output tables write it: a number (``%g``), ``auto``, or per view ``0.001,0.01``."""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple | list):
        return ",".join(f"{float(a):g}" for a in value)
    return f"{float(value):g}"


@dataclass
class AlphaPath:
    """One fit's alpha path: the trunk its branches start from and each branch's held-out scores.

    ``alphas`` (n_alphas,); ``terms``: per alpha, the held-out primary-loss terms (one per held-out sample,
    or per event for survival); ``n_genes_tenth``: per alpha, genes whose first-layer column norm is at least
    a tenth of the largest; ``collapsed``: per alpha, why its branch is a failed fit ('' when it is not:
    see :meth:`~deepsubtype.training.Training.collapse`); ``steps``: the optimizer step each branch ended at;
    ``seconds``: the time the path took; ``phases``: the trunk's and branches' steps and why each ended
    (the ``history["phases"]`` records of :meth:`~deepsubtype.training.Training.log_phase`).
    """

    alphas: list[float]
    terms: list[np.ndarray] = field(default_factory=list)
    n_genes_tenth: list[int] = field(default_factory=list)
    collapsed: list[str] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    seconds: float = 0.0
    phases: list[dict[str, Any]] = field(default_factory=list)


def choose_alpha(paths: Sequence[AlphaPath]) -> tuple[int, list[dict[str, Any]]]:
    """The alpha chosen from the pooled held-out terms of one or more fits' paths (same grid), by the
    one-standard-error rule among the eligible alphas: those whose branch, and the next larger alpha's, collapsed
    in no fit. A collapsed network's held-out loss is the trivial predictor's, which on a few held-out samples
    can be within one standard error of the best; and an alpha next to one that collapses a branch is on the
    edge: the joint rounds train longer at it, and the L2,1 penalty goes on shrinking every column (on the demo,
    0.1 beside a collapsing 0.3 collapsed the finished fit). Returns ``(index, records)``, one record per
    alpha: ``alpha``, ``selection_loss`` (mean of the pooled terms), ``selection_se``, ``n_selection`` (pooled
    terms), ``n_fits``, ``collapsed`` (the first fit's reason, '' when none collapsed), ``chosen``."""
    alphas = paths[0].alphas
    pooled = [np.concatenate([path.terms[index] for path in paths]) for index in range(len(alphas))]
    mean = np.array([terms.mean() for terms in pooled])
    se = np.array([terms.std(ddof=1) / math.sqrt(len(terms)) if len(terms) > 1 else 0.0 for terms in pooled])
    collapsed = [next((path.collapsed[index] for path in paths if path.collapsed[index]), "")
                 for index in range(len(alphas))]
    intact = np.array([reason == "" for reason in collapsed])
    eligible = intact & np.append(intact[1:], True)
    chosen = one_standard_error(mean, se, eligible)
    records = [{"alpha": float(alpha), "selection_loss": float(mean[index]), "selection_se": float(se[index]),
                "n_selection": len(pooled[index]), "n_fits": len(paths), "collapsed": collapsed[index],
                "chosen": index == chosen}
               for index, alpha in enumerate(alphas)]
    if all(collapsed):
        logger.warning("failed fit? every alpha of the path collapsed the network; alpha=%g kept", alphas[0])
    elif eligible[-1] and int(np.nanargmin(np.where(eligible, mean, np.nan))) == len(alphas) - 1:
        logger.warning("alpha path: the lowest held-out loss is at the grid's largest alpha (%g): a larger alpha "
                       "might do better (extend tuning.alphas)", alphas[-1])
    return chosen, records

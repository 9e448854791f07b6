"""One DeepType fit in progress: network, optimizer, mini-batches, random state and loss history.

:class:`~deepsubtype.estimator.DeepType` drives a :class:`Training` through its phases: pretraining, the
alpha path of ``alpha="auto"`` (:meth:`Training.walk_alpha_path`, :meth:`Training.take_alpha`), then rounds
of {k-means, joint training} (:meth:`Training.run_rounds`). A fit's random state lives here too, so that
several fits can be interleaved (the ensemble walks every fit's path before any of them goes on) and each
still gives the result it gives alone.

How the alpha path ranks alphas, and why the fit is then trained afresh: :mod:`deepsubtype.alpha_path`.

How long each phase runs (``schedule``): ``"fixed"`` (default) runs every phase's steps along
:func:`learning_rate_at`; ``"converged"`` ends the fit's pretraining and every joint round once their
objective has stopped improving (:class:`Convergence`), their step counts being caps. The alpha path's trunk
(``trunk_steps``) and branches keep a fixed length under both: the path only ranks alphas, and its guard
against collapsing alphas needs a trunk that has fitted its samples at a learning rate brought down to the
floor (on the demo, a trunk stopped by :class:`Convergence`, 240 steps, let the branch at alpha 0.3 keep the
primary task, so 0.3 was chosen and the fit at 0.3 collapsed).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .alpha_path import AlphaPath, alpha_text
from .checkpoint import restore_training, save_atomically, training_state
from .cluster import kmeans, match_labels, score_n_clusters
from .fit_checks import fit_warnings
from .model import DeepTypeNetwork, add_l21_gradient_, resolve_precision
from .tasks import primary_task

if TYPE_CHECKING:
    from .estimator import DeepType

__all__ = ["Convergence", "Training", "learning_rate_at", "steps_by_phase"]

logger = logging.getLogger("deepsubtype.estimator")

#: Share of the labelled samples held out of the primary loss to score the path when ``validation_fraction`` is 0.
SELECTION_FRACTION = 0.2
#: Without early stopping, the held-out loss enters every this many epoch records of a phase (and its last):
#: only the history shows it there, and on a small cohort, where an epoch is one step, an extra forward pass
#: of the held-out rows per step cost about a sixth of the step (the demo's trunk, 29 against 24 ms a step).
HELD_OUT_EVERY = 10


def learning_rate_at(learning_rate: float, lr_decay: float, phase: str, local: int, n_steps: int) -> float:
    """Adam's learning rate at step ``local`` of ``n_steps`` of a phase: along a half cosine from
    ``learning_rate`` down to ``learning_rate * lr_decay`` during pretraining and again in each branch of the
    alpha path, then constant in the joint rounds."""
    final = learning_rate * lr_decay
    if phase == "joint":
        return final
    return final + 0.5 * (learning_rate - final) * (1.0 + math.cos(math.pi * local / max(n_steps, 1)))


#: ``schedule="converged"``: a phase's loss is judged over windows of at least this many optimizer steps
#: (whole epochs) ...
CONVERGENCE_WINDOW = 20
#: ... a window whose mean loss is not below the best window's by this share of the best ...
CONVERGENCE_TOL = 0.01
#: ... plus this share of the phase's first primary loss (so that a loss on its way to zero, a network
#: memorizing its samples, converges too) does not count as progress ...
CONVERGENCE_ATOL = 0.001
#: ... and after this many such windows in a row the learning rate halves, or at its floor the phase ends.
CONVERGENCE_PATIENCE = 2


def steps_by_phase(history: dict[str, Any]) -> dict[str, int | None]:
    """Optimizer steps a fit's ``history`` spent on ``path`` (trunk and branches), ``pretrain`` (at the fit's
    alpha) and ``joint`` (all rounds); None each for a history saved before phases were recorded."""
    phases = history.get("phases")
    if phases is None:
        return {"path": None, "pretrain": None, "joint": None}
    total = {"path": 0, "pretrain": 0, "joint": 0}
    for record in phases:
        total["path" if record["phase"] in ("trunk", "path") else record["phase"]] += int(record["steps"])
    return total


class Convergence:
    """When a phase of ``schedule="converged"`` has done its work, judged on its training objective (with
    the full alpha, not the ramped one) once per window of :data:`CONVERGENCE_WINDOW` steps.

    The learning rate starts at ``learning_rate``; after :data:`CONVERGENCE_PATIENCE` windows without an
    improvement of :data:`CONVERGENCE_TOL` x the best window's loss + :data:`CONVERGENCE_ATOL` x the phase's
    first primary loss it halves, down to ``floor``; the phase is done when the loss stalls at the floor.
    Adam at a rate too high for the loss to settle makes the loss oscillate instead of falling, so the rate
    comes down when, and as far as, the loss needs it.
    """

    def __init__(self, learning_rate: float, floor: float, steps_per_epoch: int) -> None:
        self.learning_rate, self.floor = learning_rate, min(floor, learning_rate)
        self.epochs_per_window = max(1, math.ceil(CONVERGENCE_WINDOW / steps_per_epoch))
        self.window: list[float] = []
        self.best, self.stalled, self.first_primary = math.inf, 0, math.nan

    def done(self, epoch_loss: float, epoch_primary: float) -> bool:
        """Take one epoch's mean objective and primary loss; True once the phase has converged."""
        if math.isnan(self.first_primary):
            self.first_primary = abs(epoch_primary)
        self.window.append(epoch_loss)
        if len(self.window) < self.epochs_per_window:
            return False
        loss, self.window = sum(self.window) / len(self.window), []
        progress = CONVERGENCE_TOL * abs(self.best) + CONVERGENCE_ATOL * self.first_primary
        if math.isinf(self.best) or loss < self.best - progress:
            self.best, self.stalled = loss, 0
            return False
        self.best, self.stalled = min(self.best, loss), self.stalled + 1
        if self.stalled < CONVERGENCE_PATIENCE:
            return False
        if self.learning_rate <= self.floor:
            return True
        self.learning_rate, self.stalled = max(0.5 * self.learning_rate, self.floor), 0
        return False


class _BatchStream:
    """Endless mini-batches of ``rows`` (sample indices), reshuffled every epoch, last partial batch dropped.

    The current epoch's ``order`` and the ``position`` in it are its whole state, so a checkpoint can hold it.
    """

    def __init__(self, rows: torch.Tensor, batch_size: int, generator: torch.Generator) -> None:
        self.rows, self.batch_size, self.generator = rows, batch_size, generator
        self.order: torch.Tensor | None = None
        self.position = 0

    def __next__(self) -> torch.Tensor:
        if self.order is None or self.position + self.batch_size > len(self.rows):
            permutation = torch.randperm(len(self.rows), generator=self.generator, device=self.generator.device)
            self.order, self.position = self.rows[permutation.to(self.rows.device)], 0
        self.position += self.batch_size
        return self.order[self.position - self.batch_size:self.position]


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value.detach().to("cpu", copy=True) for key, value in state.items()}


class Training:
    """The state of one fit of ``model`` (a :class:`DeepType` whose hyperparameters it reads and whose fitted
    attributes it sets): ``X`` (n_samples, n_features) float32 and the encoded ``target`` on ``device``.

    ``resumed`` is the checkpoint state this fit goes on from (None for a fresh fit); ``alpha`` the L2,1 weight
    of this fit when it is not ``model.alpha`` (the alpha an ``"auto"`` path chose).
    """

    def __init__(self, model: DeepType, X: np.ndarray, target: np.ndarray, n_outputs: int, device: torch.device,
                 seed: int, fingerprint: str, resumed: dict[str, Any] | None, alpha: Any = None) -> None:
        self.model, self.device, self.fingerprint, self.resumed = model, device, fingerprint, resumed
        self.started = time.perf_counter()
        self.generator = torch.Generator(device=device).manual_seed(seed)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)  # initialization and dropout, without touching the caller's global RNG state
            model.network_ = DeepTypeNetwork(X.shape[1], list(model.hidden_layers), n_outputs, task=model._trained_task,
                                             activation=model.activation, dropout=model.dropout,
                                             view_sizes=model._view_sizes(),
                                             decoder=model.reconstruction_weight > 0).to(device)
            self.rng_state = torch.get_rng_state()
            self.cuda_rng_state = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
        self.network = model.network_
        self.optimizer = self.new_optimizer()
        self.X = torch.from_numpy(X).to(device)  # moved once; batches are index views
        self.full_target = torch.from_numpy(target).to(device)
        self.step = 0
        self.history: dict[str, list[dict[str, Any]]] = {"steps": [], "rounds": [], "phases": []}
        self.initial_norm = float(model.network_.column_norms().median())
        model.alpha_path_ = []
        self.alpha: Any = model.alpha if alpha is None else alpha  # "auto": walk_alpha_path, then a new Training
        self.walking_path = False  # in walk_alpha_path: its trunk and branches
        if resumed is None:
            self.validation = self.split_validation(self.full_target, self.generator)
        else:
            self.validation = resumed["validation"].to(device) if "validation" in resumed else None
        # alpha="auto" scores the path on held-out samples: the validation rows, else rows held out for it alone
        self.selection = self.validation
        if self.alpha == "auto" and self.validation is None and resumed is None:
            self.selection = self.split_validation(self.full_target, self.generator, SELECTION_FRACTION)
        self.batching(self.selection)
        self.precision = resolve_precision(model.precision, device)
        self.autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                                       enabled=self.precision == "bf16")

    # --------------------------------------------------------------- schedules
    def split_validation(self, target: torch.Tensor, generator: torch.Generator,
                         fraction: float | None = None) -> torch.Tensor | None:
        """Sorted rows of ``fraction`` (default ``validation_fraction``) of the labelled samples, held out;
        None when the fraction is 0."""
        fraction = self.model.validation_fraction if fraction is None else fraction
        if fraction <= 0:
            return None
        rows = torch.arange(target.shape[0], device=target.device)
        candidates = rows[self.model._primary.labelled(target)]
        n_validation = max(1, round(fraction * len(candidates)))
        if n_validation >= len(candidates):
            raise ValueError(f"validation_fraction={fraction} leaves no labelled sample to train on")
        shuffled = candidates[torch.randperm(len(candidates), generator=generator,
                                             device=generator.device).to(rows.device)]
        return shuffled[:n_validation].sort().values

    def hold_out(self, target: torch.Tensor, validation: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(training rows, target with the ``validation`` rows masked as missing so no training step sees them)."""
        rows = torch.arange(target.shape[0], device=target.device)
        if validation is None:
            return rows, target
        task = self.model._primary
        training = rows if task.has_target else rows[~torch.isin(rows, validation)]
        return training, task.mask(target, validation)

    def alphas_at(self, alpha: Any, step: int) -> list[float]:
        """:meth:`DeepType._alphas` with the ramp of ``alpha_ramp_steps`` applied at optimizer step ``step``."""
        if self.model.alpha_ramp_steps <= 0:
            return self.model._alphas(alpha)
        return [value * (1.0 - math.exp(-step / self.model.alpha_ramp_steps)) for value in self.model._alphas(alpha)]

    def choose_n_clusters(self, hidden: torch.Tensor, generator: torch.Generator) -> None:
        """Set the model's ``n_clusters_`` and ``k_scores_`` from the pretrained representation ``hidden``
        (n, width)."""
        model, n_samples = self.model, hidden.shape[0]
        if model.n_clusters == "auto":
            low, high = model.n_clusters_range
            candidates = list(range(low, high + 1))
        else:
            candidates = [int(model.n_clusters)] if 2 <= int(model.n_clusters) < n_samples else []
        model.k_scores_ = score_n_clusters(hidden, candidates, generator=generator, n_init=model.kmeans_n_init)
        if model.n_clusters == "auto":
            best = max(model.k_scores_, key=lambda record: (record[model.k_criterion], -record["n_clusters"]))
            model.n_clusters_ = int(best["n_clusters"])
        else:
            model.n_clusters_ = int(model.n_clusters)

    # ------------------------------------------------------------------ state
    def new_optimizer(self) -> torch.optim.Adam:
        # The fused kernel updates all parameters in one pass (fewer memory sweeps than the per-tensor loop).
        return torch.optim.Adam(self.network.parameters(), lr=self.model.learning_rate,
                                fused=self.device.type in ("cpu", "cuda"))

    def batching(self, held_out: torch.Tensor | None) -> None:
        """Mini-batches of the rows not ``held_out`` (their target masked so no training step sees them)."""
        rows, self.target = self.hold_out(self.full_target, held_out)
        self.batches = _BatchStream(rows, min(self.model.batch_size, len(rows)), self.generator)
        self.steps_per_epoch = max(1, len(rows) // self.batches.batch_size)

    @contextlib.contextmanager
    def own_random_state(self) -> Iterator[None]:
        """Run with this fit's global torch RNG (dropout) and TF32 setting; the caller's are restored after."""
        tf32 = torch.backends.cuda.matmul.allow_tf32
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.set_rng_state(self.rng_state)
            if self.cuda_rng_state is not None:
                torch.cuda.set_rng_state(self.cuda_rng_state, self.device)
            torch.backends.cuda.matmul.allow_tf32 = self.precision == "tf32"
            try:
                yield
            finally:
                self.rng_state = torch.get_rng_state()
                if self.cuda_rng_state is not None:
                    self.cuda_rng_state = torch.cuda.get_rng_state(self.device)
                torch.backends.cuda.matmul.allow_tf32 = tf32

    def _snapshot(self) -> dict[str, Any]:
        """Weights, random state, batching and step: what a branch of the path starts from (CPU copies)."""
        return {"network": _cpu_copy(self.network.state_dict()), "generator": self.generator.get_state(),
                "rng": torch.get_rng_state(), "step": self.step, "batch_position": self.batches.position,
                "batch_order": None if self.batches.order is None else self.batches.order.cpu()}

    def _restore(self, snapshot: dict[str, Any]) -> None:
        self.network.load_state_dict(snapshot["network"])
        self.generator.set_state(snapshot["generator"])
        torch.set_rng_state(snapshot["rng"])
        self.step, self.batches.position = snapshot["step"], snapshot["batch_position"]
        order = snapshot["batch_order"]
        self.batches.order = None if order is None else order.to(self.device)
        self.optimizer = self.new_optimizer()  # fresh moments: every branch starts alike

    # --------------------------------------------------------------- training
    @torch.no_grad()
    def _selection_output(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The held-out ``selection`` rows (n, n_genes) and the network's primary output on them, in eval mode."""
        self.network.eval()
        x = self.X[self.selection]
        output = self.network(x)[1].float()
        self.network.train()
        return x, output

    def selection_terms(self) -> np.ndarray:
        """Primary-loss terms of the held-out ``selection`` rows (one per sample, per event for survival)."""
        x, output = self._selection_output()
        terms = self.model._primary.loss_terms(output, self.full_target[self.selection], x)
        return terms.double().cpu().numpy()

    def validation_loss(self) -> float:
        """Primary loss of the held-out ``selection`` rows."""
        x, output = self._selection_output()
        return float(self.model._primary.loss(output, self.full_target[self.selection], x))

    @torch.no_grad()
    def collapse(self) -> str:
        """Why the network is a failed fit now, '' when it is not: a primary loss on the training rows no
        better than the trivial predictor's, or every first-layer column near zero (the checks of
        :func:`~deepsubtype.fit_checks.fit_warnings`)."""
        reasons = fit_warnings(self.model, self.X, self.target, None, self.initial_norm, log=False)
        return "; ".join(reasons)

    def train(self, n_steps: int, phase: str, alpha: Any, *, round_index: int = 0,
              centers: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> None:
        """At most ``n_steps`` optimizer steps of ``phase`` (pretrain, path or joint) at L2,1 weight ``alpha``.

        ``schedule="fixed"`` runs them all at the learning rate of :func:`learning_rate_at`; ``"converged"``
        ends the phase when its loss has stopped improving (:class:`Convergence`), except on the alpha path.
        Pretraining with validation rows (``validation_fraction``) stops early on their loss and keeps the best
        weights. The phase is logged and added to ``history["phases"]``.
        """
        model = self.model
        self.network.train()
        sums = torch.zeros(5, device=self.device)
        counted = 0
        # the alpha path (trunk, branches) keeps its length: which alpha it chooses depends on it (module docstring)
        converged = model.schedule == "converged" and not self.walking_path
        stopping = phase == "pretrain" and self.validation is not None
        best_loss, best_state, since_best = math.inf, None, 0
        convergence = Convergence(model.learning_rate * (model.lr_decay if phase == "joint" else 1.0),
                                  model.learning_rate * model.lr_decay, self.steps_per_epoch)
        phase_started = time.perf_counter()
        local, records, ended_by = -1, 0, "steps"
        for local in range(n_steps):
            learning_rate = (convergence.learning_rate if converged else
                             learning_rate_at(model.learning_rate, model.lr_decay, phase, local, n_steps))
            sums += self.step_once(alpha, learning_rate, centers, labels)
            self.step += 1
            counted += 1
            if counted == self.steps_per_epoch or local == n_steps - 1:
                means = (sums / counted).tolist()
                record = {"phase": phase, "round": round_index, "step": self.step, "primary": means[0],
                          "sparsity": means[1], "cluster": means[2], "total": means[3]}
                if phase == "path":
                    record["alpha"] = alpha
                sums.zero_()
                counted = 0
                records += 1
                if self.selection is not None and (stopping or local == n_steps - 1
                                                   or records % HELD_OUT_EVERY == 0):
                    record["validation"] = self.validation_loss()
                self.history["steps"].append(record)
                if stopping:
                    if record["validation"] < best_loss:
                        best_loss, since_best = record["validation"], 0
                        best_state = {k: v.detach().clone() for k, v in self.network.state_dict().items()}
                    else:
                        since_best += 1
                    if since_best >= model.patience:
                        ended_by = "held-out"
                        break
                elif converged and convergence.done(means[4], means[0]):
                    ended_by = "converged"
                    break
        if stopping and best_state is not None:  # early stopping keeps the best validated weights
            self.network.load_state_dict(best_state)
        self.log_phase(phase, alpha, round_index, local + 1, ended_by, time.perf_counter() - phase_started)

    def log_phase(self, phase: str, alpha: Any, round_index: int, n_steps: int, ended_by: str,
                  seconds: float) -> None:
        """Log a phase that ran ``n_steps`` in ``seconds`` (ended by ``ended_by``: steps, converged or held-out)
        and add it to ``history["phases"]`` (without the seconds: a fit's history is the same on every run)."""
        name = "trunk" if phase == "pretrain" and self.walking_path else phase
        self.history.setdefault("phases", []).append({"phase": name, "round": round_index, "alpha": alpha_text(alpha),
                                                      "steps": n_steps, "ended_by": ended_by})
        if not self.history["steps"] or n_steps <= 0:
            return
        last = self.history["steps"][-1]
        held_out = f", held-out {last['validation']:.4g}" if "validation" in last else ""
        where = {"joint": f" (round {round_index})", "path": f" (alpha {alpha})"}.get(phase, "")
        why = {"steps": "all steps", "converged": "loss converged", "held-out": "held-out loss stopped falling"}
        logger.info("%s%s: %d steps (%s) in %.1f s; loss primary %.4g, sparsity %.4g, cluster %.4g%s",
                    phase, where, n_steps, why[ended_by], seconds, last["primary"], last["sparsity"],
                    last["cluster"], held_out)

    def step_once(self, alpha: Any, learning_rate: float, centers: torch.Tensor | None,
                  labels: torch.Tensor | None) -> torch.Tensor:
        """One optimizer step on the next mini-batch: primary loss (+ reconstruction, + ``beta`` x the k-means
        loss to ``centers`` when given), the L2,1 gradient at ``alpha`` (ramped), Adam at ``learning_rate``.
        Returns (5,): the batch's primary, L2,1 norm, cluster and total losses, and the total with the full
        (unramped) ``alpha``: the objective the phase converges to."""
        model, device = self.model, self.device
        index = next(self.batches)
        x = self.X[index]
        with self.autocast:
            hidden, output = self.network(x)
        hidden, output = hidden.float(), output.float()
        primary = model._primary.loss(output, self.target[index], x)
        loss = primary
        if self.network.decoder is not None:  # every row: the held-out ones lack only their target
            loss = loss + model.reconstruction_weight * primary_task("reconstruction").loss(
                self.network.decoder(hidden), self.target[index], x)
        if centers is not None and labels is not None:
            cluster = (hidden - centers[labels[index]]).square().sum(1).mean()
            loss = loss + model.beta * cluster
        else:
            cluster = torch.zeros((), device=device)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        sparsity = penalty = full_penalty = torch.zeros((), device=device)
        for layer, weight, full in zip(self.network.first_layers, self.alphas_at(alpha, self.step),
                                       model._alphas(alpha), strict=True):
            norm = add_l21_gradient_(layer.weight_by_gene, weight)
            sparsity, penalty, full_penalty = sparsity + norm, penalty + weight * norm, full_penalty + full * norm
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        self.optimizer.step()
        return torch.stack([primary.detach(), sparsity, cluster.detach(), loss.detach() + penalty,
                            loss.detach() + full_penalty])

    def walk_alpha_path(self) -> AlphaPath:
        """The trunk at ``alpha_grid[0]``, then one branch per alpha of the grid, each scored on the held-out
        samples (see the module docstring)."""
        model = self.model
        path = AlphaPath(alphas=[float(value) for value in model.alpha_grid])
        self.walking_path = True
        self.train(min(model.trunk_steps, model.pretrain_steps), "pretrain", path.alphas[0])
        trunk = self._snapshot()
        for alpha in path.alphas:
            self._restore(trunk)
            self.train(int(model.path_steps), "path", alpha)
            norms = model.network_.column_norms()
            path.terms.append(self.selection_terms())
            path.n_genes_tenth.append(int((norms >= 0.1 * norms.max()).sum()))
            path.collapsed.append(self.collapse())
            path.steps.append(self.step)
        path.seconds = time.perf_counter() - self.started
        path.phases = list(self.history["phases"])
        self.walking_path = False
        return path

    def take_alpha(self, path: AlphaPath, records: list[dict[str, Any]]) -> None:
        """Record ``path`` and the alpha ``records`` mark as chosen (:func:`choose_alpha`), then pretrain at it:
        called on a fresh Training whose ``alpha`` is the chosen one, so that the fit is the fit with that alpha
        pinned (see the module docstring)."""
        model = self.model
        chosen = next(index for index, record in enumerate(records) if record["chosen"])
        model.alpha_path_ = [{**record, "step": step, "fit_selection_loss": float(terms.mean()),
                              "n_genes_tenth": n_genes}
                             for record, step, terms, n_genes in zip(records, path.steps, path.terms,
                                                                     path.n_genes_tenth, strict=True)]
        assert self.alpha == path.alphas[chosen], "take_alpha wants a Training at the chosen alpha"
        logger.info("alpha path: chose alpha=%g (held-out primary loss %.4g over %d terms of %d fit(s), lowest "
                    "%.4g); training afresh at it", self.alpha, records[chosen]["selection_loss"],
                    records[chosen]["n_selection"], records[chosen]["n_fits"],
                    min(record["selection_loss"] for record in records))
        self.history["phases"] = [*path.phases, *self.history["phases"]]
        self.train(model.pretrain_steps, "pretrain", self.alpha)

    # ----------------------------------------------------------------- rounds
    def save_checkpoint(self, round_index: int, alpha: Any, labels: np.ndarray | None,
                        centers: torch.Tensor | None) -> None:
        """Everything the rounds after ``round_index`` depend on (:func:`~deepsubtype.checkpoint.training_state`),
        to ``checkpoint`` when the model has one."""
        if self.model.checkpoint is not None:
            save_atomically(training_state(self, round_index, alpha, labels, centers), Path(self.model.checkpoint))

    def run_rounds(self) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        """After pretraining (or from the checkpoint ``resumed``): K, then rounds of {k-means on all samples,
        joint training} until assignments settle; returns (labels, centres, last representation)."""
        model, device = self.model, self.device
        previous: np.ndarray | None = None
        centers: torch.Tensor | None = None
        model.converged_ = False
        resumed, alpha = self.resumed, self.alpha
        if resumed is None:
            self.choose_n_clusters(model._represent(self.X), self.generator)
            self.save_checkpoint(0, alpha, None, None)
            first_round = 1
        else:
            alpha, previous, centers, first_round = restore_training(self, resumed)
            logger.info("resuming from checkpoint %s at round %d", model.checkpoint, first_round)
        self.alpha = alpha

        rounds_started = time.perf_counter()
        for round_index in range(first_round, model.max_rounds + 2):
            hidden = model._represent(self.X)
            result = kmeans(hidden, model.n_clusters_, n_init=model.kmeans_n_init, generator=self.generator,
                            init=centers)
            labels = result.labels.cpu().numpy()
            centers = result.centers
            changed = None
            if previous is not None:
                permutation = match_labels(labels, previous, model.n_clusters_)
                labels = permutation[labels]
                centers = centers[torch.from_numpy(np.argsort(permutation)).to(device)]
                changed = float(np.mean(labels != previous))
            self.history["rounds"].append({"round": round_index, "inertia": result.inertia,
                                           "changed_fraction": changed})
            elapsed = time.perf_counter() - rounds_started
            trained = round_index - first_round  # rounds whose joint training is done
            outlook = (f", about {elapsed / trained * (model.max_rounds + 1 - round_index):.0f} s more if every "
                       "round runs" if trained else "")
            logger.info("round %d of at most %d: k-means inertia %.4g, %s; %.1f s so far%s", round_index,
                        model.max_rounds + 1, result.inertia,
                        "first assignment" if changed is None else f"{changed:.1%} of patients changed cluster "
                        f"(stop at {model.tol:.1%})", elapsed, outlook)
            if changed is not None and changed <= model.tol:
                model.converged_ = True
                break
            if round_index > model.max_rounds:
                break
            previous = labels
            self.train(model.joint_steps, "joint", alpha, round_index=round_index, centers=centers,
                       labels=torch.from_numpy(labels).to(device))
            self.save_checkpoint(round_index, alpha, labels, centers)
        assert centers is not None
        return labels, centers, hidden

"""The DeepType network and its loss terms (torch).

Shapes: ``X`` is (batch, n_genes); the encoder maps it to the representation
``H`` (batch, hidden_layers[-1]); the head maps ``H`` to the primary-task output, whose loss is the task's
(:mod:`deepsubtype.tasks`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .errors import InputError

__all__ = ["ACTIVATIONS", "resolve_device", "resolve_precision", "InputLayer", "DeepTypeNetwork", "l21_norm",
           "add_l21_gradient_", "cox_partial_likelihood", "cox_partial_likelihood_terms"]


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA if available, then MPS, then CPU; anything else as torch understands it, refused with an
    :class:`~deepsubtype.errors.InputError` saying why and what to set instead when this machine lacks it."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return _available(device)


def _available(device: str) -> torch.device:
    """``device`` (not ``auto``) as torch understands it, if this machine has it (see :func:`resolve_device`)."""
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise InputError(f"device {device!r} is not a device torch knows: use auto, cpu, mps, cuda or cuda:N") from None
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (resolved.index or 0) >= count:
            reason = ("this torch was built without CUDA" if torch.version.cuda is None else
                      f"torch sees {count} CUDA device(s)")
            raise InputError(f"device {device!r} is not available on this machine ({reason}; torch "
                             f"{torch.__version__}): set device to cpu or auto, or run where a GPU is, with a CUDA "
                             "build of torch (envs/deepsubtype-gpu.yaml)")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {device!r} is not available on this machine (no Apple MPS): set device to cpu or "
                         "auto")
    return resolved


def has_bf16_matrix_units(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware: a CPU with AMX-BF16 or AVX-512 BF16, a CUDA
    GPU that supports bf16 (compute capability 8 and up). Other devices (MPS, ...) count as not."""
    if device.type == "cpu":
        capabilities = getattr(torch.cpu, "get_capabilities", dict)()  # torch >= 2.3
        return bool(capabilities.get("amx_bf16") or capabilities.get("avx512_bf16"))
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device)[0] >= 8
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` where ``device`` has bf16 matrix units (:func:`has_bf16_matrix_units`), else
    ``float32``; ``float32``, ``tf32`` and ``bf16`` as given."""
    if precision != "auto":
        return precision
    return "bf16" if has_bf16_matrix_units(device) else "float32"


#: The hidden layers' activation functions by name.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}


class InputLayer(nn.Module):
    """The first layer, ``x @ weight.T + bias`` as :class:`torch.nn.Linear` computes it, with its weight stored
    genes-major: ``weight_by_gene`` (n_genes, width), each gene's weights contiguous; ``weight`` is the
    (width, n_genes) view that ``nn.Linear`` would hold.

    The first layer is the network's largest tensor and the L2,1 penalty works on its gene columns: stored
    this way, the column norms are one contiguous pass, and the weight gradient ``x.T @ grad`` is the faster
    product for a small batch (115 patients, 5,000 genes x 1,024 units on an AVX-512 CPU, 2 threads: norms 0.25
    against 1.07 ms, bf16 gradient 3.0 against 3.7 ms; ``benchmarks/first_layer_ops.py``). State dicts, and so
    model files, keep ``nn.Linear``'s ``weight`` (width, n_genes); the optimizer's moments follow the parameter
    (genes-major).
    """

    def __init__(self, n_genes: int, width: int) -> None:
        super().__init__()
        self.in_features, self.out_features = n_genes, width
        self.weight_by_gene = nn.Parameter(torch.empty(n_genes, width))
        self.bias = nn.Parameter(torch.empty(width))
        # nn.Linear's initialization: uniform within +-1/sqrt(n_genes) for the weights and the bias
        bound = 1.0 / math.sqrt(n_genes) if n_genes > 0 else 0.0
        nn.init.uniform_(self.weight_by_gene, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    @property
    def weight(self) -> torch.Tensor:
        """The weights as ``nn.Linear`` holds them: (width, n_genes), a view of ``weight_by_gene``."""
        return self.weight_by_gene.t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x, self.weight_by_gene)

    def _save_to_state_dict(self, destination: dict[str, Any], prefix: str, keep_vars: bool) -> None:
        weight = self.weight_by_gene if keep_vars else self.weight_by_gene.detach()
        destination[prefix + "weight"] = weight.t().contiguous()
        destination[prefix + "bias"] = self.bias if keep_vars else self.bias.detach()

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        if prefix + "weight" in state_dict:
            state_dict[prefix + "weight_by_gene"] = state_dict.pop(prefix + "weight").t()
        super()._load_from_state_dict(state_dict, prefix, *args)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, genes-major"


def _mlp(sizes: list[int], activation: str, dropout: float, *, dropout_last: bool = True,
         input_layer: bool = False) -> nn.Sequential:
    """Linear + activation per consecutive pair of ``sizes``, each followed by dropout (when ``dropout`` > 0)
    except, with ``dropout_last=False``, the last: the representation the k-means loss compares with centres
    computed without dropout. With ``input_layer``, the first linear map is an :class:`InputLayer`."""
    layers: list[nn.Module] = []
    n_layers = len(sizes) - 1
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(InputLayer(n_in, n_out) if input_layer and index == 0 else nn.Linear(n_in, n_out))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0 and (dropout_last or index < n_layers - 1):
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class DeepTypeNetwork(nn.Module):
    """Encoder (fully connected, ``hidden_layers``) plus a task head.

    With ``view_sizes`` (features per view, in column order; several views), the
    first hidden layer is one branch per view (``hidden_layers[0]`` units each, its
    own first-layer weights); the branches' outputs, each times the view's presence
    (0 when the view is missing: its features are NaN), and the presence flags are
    concatenated into the shared layers ``hidden_layers[1:]``. One view: a plain
    fully connected encoder. The head is linear to ``n_outputs`` for supervised
    tasks and, for ``reconstruction``, a decoder mirroring the encoder back to
    ``n_features``. With ``decoder=True`` (a supervised task with a reconstruction term), a linear map
    from the representation back to ``n_features`` (``decoder``), used by the training loss only.
    """

    def __init__(self, n_features: int, hidden_layers: list[int], n_outputs: int, *,
                 task: str, activation: str = "sigmoid", dropout: float = 0.0,
                 view_sizes: list[int] | None = None, decoder: bool = False) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.view_sizes = list(view_sizes) if view_sizes and len(view_sizes) > 1 else None
        if self.view_sizes is not None:
            if sum(self.view_sizes) != n_features:
                raise ValueError(f"view sizes {self.view_sizes} do not add up to {n_features} features")
            if len(hidden_layers) < 2:
                raise ValueError("several views need at least two hidden layers: the view branches and a shared one")
            self.branches = nn.ModuleList(_mlp([size, hidden_layers[0]], activation, dropout, input_layer=True)
                                          for size in self.view_sizes)
            shared_input = len(self.view_sizes) * (hidden_layers[0] + 1)
            self.encoder = _mlp([shared_input, *hidden_layers[1:]], activation, dropout, dropout_last=False)
        else:
            self.encoder = _mlp([n_features, *hidden_layers], activation, dropout, dropout_last=False,
                                input_layer=True)
        if task == "reconstruction":
            decoder_sizes = [*reversed(hidden_layers)]
            self.head: nn.Module = nn.Sequential(_mlp(decoder_sizes, activation, dropout),
                                                 nn.Linear(decoder_sizes[-1], n_features))
        else:
            self.head = nn.Linear(hidden_layers[-1], n_outputs)
        self.decoder = nn.Linear(hidden_layers[-1], n_features) if decoder and task != "reconstruction" else None

    @property
    def first_layers(self) -> list[InputLayer]:
        """The input layers, one per view in column order; ``weight_by_gene`` (view features, hidden_layers[0])."""
        blocks = list(self.branches) if self.view_sizes is not None else [self.encoder]
        layers = [block[0] for block in blocks]
        assert all(isinstance(layer, InputLayer) for layer in layers)
        return layers  # type: ignore[return-value]

    @torch.no_grad()
    def column_norms(self) -> torch.Tensor:
        """L2 norm of every first-layer weight column (all views, in column order): (n_features,); the paper's
        gene importance."""
        return torch.cat([torch.linalg.vector_norm(layer.weight_by_gene.detach(), ord=2, dim=1)
                          for layer in self.first_layers])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(H, output)``: representation (batch, hidden[-1]) and head output."""
        if self.view_sizes is None:
            hidden = self.encoder(x)
        else:
            parts, flags = [], []
            for branch, view in zip(self.branches, torch.split(x, self.view_sizes, dim=1), strict=True):
                present = ~torch.isnan(view[:, :1])  # (batch, 1): a missing view is NaN throughout
                parts.append(branch(torch.nan_to_num(view, nan=0.0)) * present)
                flags.append(present.to(x.dtype))
            hidden = self.encoder(torch.cat([*parts, *flags], dim=1))
        return hidden, self.head(hidden)


def l21_norm(weight: torch.Tensor) -> torch.Tensor:
    """Sum over input genes of the L2 norm of each gene's weight column: ``sum_j ||W[:, j]||``."""
    return torch.linalg.vector_norm(weight, ord=2, dim=0).sum()


@torch.no_grad()
def add_l21_gradient_(weight_by_gene: torch.Tensor, alpha: float) -> torch.Tensor:
    """Add the gradient of ``alpha * l21_norm(weight)`` to ``weight_by_gene.grad``; return ``l21_norm(weight)``.

    ``weight_by_gene`` is an :class:`InputLayer`'s (n_genes, width). The gradient is ``alpha * w_j / ||w_j||``
    per gene ``j`` (0 for an all-zero row, a valid subgradient). Two passes over the weight instead of
    autograd's several: the first layer is the largest tensor of the network. Both are contiguous along each
    gene's weights: the norms one reduction along rows, the update one ``addcmul_``.
    """
    norms = torch.linalg.vector_norm(weight_by_gene, ord=2, dim=1)
    if alpha:
        assert weight_by_gene.grad is not None, "call after backward()"
        weight_by_gene.grad.addcmul_(weight_by_gene, (alpha / norms.clamp_min(torch.finfo(norms.dtype).tiny))[:, None])
    return norms.sum()


def cox_partial_likelihood_terms(risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor) -> torch.Tensor:
    """Each event's term of the negative Cox log partial likelihood (Breslow ties): (n_events,).

    ``risk`` (n,) log hazard ratios; ``time`` (n,) follow-up; ``event`` (n,) 1 = event.
    The term of event ``i`` is ``log sum_{j: t_j >= t_i} exp(risk_j) - risk_i``.
    """
    order = torch.argsort(time, descending=True, stable=True)
    risk, time, event = risk[order], time[order], event[order]
    log_cumulative = torch.logcumsumexp(risk, dim=0)
    # Breslow: every sample tied at t_i is in the risk set of t_i, so use the
    # cumulative value at the end of each run of equal times.
    _, inverse, counts = torch.unique_consecutive(time, return_inverse=True, return_counts=True)
    group_end = torch.cumsum(counts, dim=0) - 1
    log_risk_set = log_cumulative[group_end][inverse]
    return (log_risk_set - risk)[event > 0]


def cox_partial_likelihood(risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor) -> torch.Tensor:
    """Negative Cox log partial likelihood with Breslow ties, averaged over events (0 without events)."""
    terms = cox_partial_likelihood_terms(risk, time, event)
    return terms.mean() if terms.numel() else risk.sum() * 0.0

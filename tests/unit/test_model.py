from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deepsubtype import InputError
from deepsubtype.model import DeepTypeNetwork, cox_partial_likelihood, l21_norm, resolve_device
from deepsubtype.tasks import primary_task


def test_l21_norm_sums_gene_column_norms() -> None:
    weight = torch.tensor([[3.0, 0.0, 1.0], [4.0, 0.0, -1.0]])  # (units, genes)
    assert l21_norm(weight).item() == pytest.approx(5.0 + 0.0 + math.sqrt(2))


def _breslow_reference(risk: np.ndarray, time: np.ndarray, event: np.ndarray) -> float:
    """Direct transcription of the Breslow partial likelihood, one event at a time."""
    total = 0.0
    for i in np.flatnonzero(event):
        at_risk = time >= time[i]
        total += risk[i] - np.log(np.exp(risk[at_risk]).sum())
    return -total / event.sum()


@pytest.mark.parametrize("seed", range(5))
def test_cox_loss_matches_breslow_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 30
    risk = rng.normal(size=n)
    time = rng.integers(1, 8, n).astype(float)  # many ties
    event = (rng.random(n) < 0.6).astype(float)
    event[0] = 1.0
    loss = cox_partial_likelihood(torch.tensor(risk), torch.tensor(time), torch.tensor(event))
    assert loss.item() == pytest.approx(_breslow_reference(risk, time, event), rel=1e-10)


def test_cox_loss_without_events_is_zero_and_differentiable() -> None:
    risk = torch.randn(5, requires_grad=True)
    loss = cox_partial_likelihood(risk, torch.arange(5.0), torch.zeros(5))
    loss.backward()
    assert loss.item() == 0.0 and risk.grad is not None


def test_missing_targets_are_ignored() -> None:
    output = torch.randn(4, 3)
    target = torch.tensor([0, -1, 2, -1])
    expected = torch.nn.functional.cross_entropy(output[[0, 2]], target[[0, 2]])
    assert primary_task("classification").loss(output, target, torch.empty(0)).item() == pytest.approx(expected.item())
    regression = torch.tensor([1.0, float("nan"), 2.0, 0.5])
    value = primary_task("regression").loss(output[:, :1], regression, torch.empty(0))
    assert torch.isfinite(value)


@pytest.mark.parametrize(("task", "outputs", "shape"), [
    ("classification", 4, (5, 4)), ("binary", 1, (5, 1)), ("survival", 1, (5, 1)), ("reconstruction", 0, (5, 12)),
])
def test_network_shapes(task: str, outputs: int, shape: tuple[int, int]) -> None:
    network = DeepTypeNetwork(12, [8, 6], outputs, task=task)  # type: ignore[arg-type]
    hidden, output = network(torch.randn(5, 12))
    assert hidden.shape == (5, 6)
    assert output.shape == shape
    assert network.first_layers[0].weight.shape == (8, 12)


def test_analytic_l21_gradient_equals_autograd() -> None:
    from deepsubtype.model import add_l21_gradient_

    weight_by_gene = torch.randn(9, 6, dtype=torch.float64, requires_grad=True)  # 9 genes, 6 units
    (0.3 * l21_norm(weight_by_gene.t())).backward()
    expected = weight_by_gene.grad.clone()
    weight_by_gene.grad.zero_()
    value = add_l21_gradient_(weight_by_gene, 0.3)
    torch.testing.assert_close(weight_by_gene.grad, expected)
    assert value.item() == pytest.approx(l21_norm(weight_by_gene.t()).item())
    with torch.no_grad():
        weight_by_gene[0] = 0.0
    weight_by_gene.grad.zero_()
    add_l21_gradient_(weight_by_gene, 0.3)
    assert torch.all(weight_by_gene.grad[0] == 0), "zero columns get the zero subgradient, not NaN"


def test_input_layer_is_a_linear_map_stored_genes_major() -> None:
    from deepsubtype.model import InputLayer

    torch.manual_seed(0)
    linear, layer = torch.nn.Linear(7, 4), InputLayer(7, 4)
    layer.load_state_dict(linear.state_dict())  # nn.Linear's layout: weight (4, 7)
    assert layer.weight_by_gene.shape == (7, 4) and layer.weight_by_gene.is_contiguous()
    x = torch.randn(5, 7)
    torch.testing.assert_close(layer(x), linear(x))
    saved = layer.state_dict()
    assert set(saved) == {"weight", "bias"} and saved["weight"].shape == (4, 7) and saved["weight"].is_contiguous()
    torch.testing.assert_close(saved["weight"], linear.weight.detach())
    layer(x).sum().backward()
    linear(x).sum().backward()
    torch.testing.assert_close(layer.weight_by_gene.grad.t(), linear.weight.grad)
    bound = 1 / math.sqrt(7)  # nn.Linear's initialization range
    assert InputLayer(7, 4).weight_by_gene.abs().max() <= bound


def test_multi_view_network_masks_missing_views() -> None:
    torch.manual_seed(0)
    network = DeepTypeNetwork(7, [5, 4], 2, task="classification", view_sizes=[3, 4])
    assert [layer.weight.shape for layer in network.first_layers] == [(5, 3), (5, 4)]
    x = torch.randn(3, 7)
    x[1, 3:] = float("nan")  # second patient lacks the second view
    hidden, output = network(x)
    assert torch.isfinite(hidden).all() and torch.isfinite(output).all()
    changed = x.clone()
    changed[1, 3:] = float("nan")
    changed[0, 3:] += 1.0
    # the missing view's values never reach the representation; the present one's do
    assert torch.equal(network(changed)[0][1], hidden[1]) and not torch.equal(network(changed)[0][0], hidden[0])


def test_no_dropout_on_the_represented_layer() -> None:
    # the k-means loss compares the representation with centres computed without dropout
    single = DeepTypeNetwork(20, [8, 4], 2, task="classification", dropout=0.5)
    views = DeepTypeNetwork(20, [8, 4], 2, task="classification", dropout=0.5, view_sizes=[12, 8])
    for network in (single, views):
        assert not isinstance(network.encoder[-1], torch.nn.Dropout)
        assert any(isinstance(layer, torch.nn.Dropout) for layer in network.modules()), "dropout stays inside"


@pytest.mark.parametrize(("cuda_build", "gpus", "device", "reason"), [
    (None, 0, "cuda", "this torch was built without CUDA"),  # a CPU build: GPU-less CI, a laptop
    ("12.4", 0, "cuda", "torch sees 0 CUDA device(s)"),  # a CUDA build on a node without a GPU
    ("12.4", 1, "cuda:1", "torch sees 1 CUDA device(s)"),
])
def test_a_device_this_machine_lacks_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, cuda_build: str | None,
                                                          gpus: int, device: str, reason: str) -> None:
    # formerly torch's AssertionError "Torch not compiled with CUDA enabled", a traceback from the first fit
    monkeypatch.setattr(torch.version, "cuda", cuda_build)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    with pytest.raises(InputError) as error:
        resolve_device(device)
    assert str(error.value).startswith(f"device {device!r} is not available on this machine ({reason}; torch ")
    assert "set device to cpu or auto" in str(error.value)
    assert resolve_device("cpu").type == "cpu"


def test_a_device_torch_does_not_know_is_one_line() -> None:
    with pytest.raises(InputError, match="device 'gpu' is not a device torch knows: use auto, cpu, mps, cuda"):
        resolve_device("gpu")

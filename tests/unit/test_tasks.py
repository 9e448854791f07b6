"""The primary tasks (deepsubtype.tasks): encodings, masks, losses and the trivial predictor of every task."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from deepsubtype import DeepType, InputError
from deepsubtype.tasks import TASKS, primary_task

N = 12


def _target(task: str, rng: np.random.Generator) -> object:
    """A raw ``y`` of ``N`` samples for ``task`` with two missing entries (rows 3 and 7)."""
    if task == "survival":
        y = np.column_stack([rng.exponential(10, N), np.arange(N) % 2]).astype(float)
        y[[3, 7]] = np.nan
        return y
    if task == "regression":
        y = rng.normal(size=N)
        y[[3, 7]] = np.nan
        return y
    if task == "reconstruction":
        return None
    labels = np.array(["a", "b", "c"] if task == "classification" else ["a", "b"], dtype=object)[np.arange(N) % (
        3 if task == "classification" else 2)]
    labels[[3, 7]] = None
    return labels


@pytest.mark.parametrize("task", TASKS)
def test_encoding_masks_and_losses_agree(task: str) -> None:
    rng = np.random.default_rng(0)
    kind, model = primary_task(task), DeepType(task=task)
    encoded, n_outputs = kind.encode(model, _target(task, rng), N, fit=True)
    target = torch.from_numpy(encoded)
    labelled = kind.labelled(target)
    assert labelled.shape == (N,)
    if kind.has_target:
        assert labelled.tolist() == [row not in (3, 7) for row in range(N)]
    else:
        assert bool(labelled.all())
    x = torch.from_numpy(rng.normal(size=(N, 5)).astype(np.float32))
    output = torch.randn(N, n_outputs if n_outputs else 5)
    masked = kind.mask(target, torch.tensor([0, 1]))
    if kind.has_target:
        assert not bool(kind.labelled(masked)[[0, 1]].any())
        # a masked row is ignored: the loss equals the loss of the batch without it
        kept = torch.arange(2, N)
        assert float(kind.loss(output, masked, x)) == pytest.approx(float(kind.loss(output[kept], target[kept],
                                                                                      x[kept])), rel=1e-6)
    assert kind.predict(model, output).shape[0] == N
    assert torch.isfinite(kind.loss(output, target, x))


@pytest.mark.parametrize("task", [task for task in TASKS if task != "survival"])
def test_the_trivial_predictor_is_the_best_constant(task: str) -> None:
    """No other constant output has a lower loss than :meth:`trivial_output` (survival's is 0, the only constant
    risk: the Cox loss does not move with a constant)."""
    rng = np.random.default_rng(1)
    kind, model = primary_task(task), DeepType(task=task)
    encoded, n_outputs = kind.encode(model, _target(task, rng), N, fit=True)
    target = torch.from_numpy(encoded)
    x = torch.from_numpy(rng.normal(size=(N, 5)).astype(np.float32))
    output = torch.zeros(N, n_outputs if n_outputs else 5)
    trivial = kind.trivial_output(output, target, x)
    best = float(kind.loss(trivial, target, x))
    for _ in range(20):
        other = trivial + 0.3 * torch.randn(1, output.shape[1])
        assert float(kind.loss(other.expand_as(output), target, x)) >= best - 1e-6


def test_survival_losses_do_not_move_with_a_constant_risk() -> None:
    kind = primary_task("survival")
    y = torch.tensor([[5.0, 1.0], [3.0, 0.0], [8.0, 1.0], [1.0, 1.0]])
    zero = kind.loss(torch.zeros(4, 1), y, torch.empty(0))
    assert float(kind.loss(torch.full((4, 1), 2.5), y, torch.empty(0))) == pytest.approx(float(zero))


def test_an_unknown_task_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="task must be one of .*'classification'.*got 'ordinal'"):
        primary_task("ordinal")


def test_unseen_classes_read_as_missing_when_applying_an_encoding() -> None:
    kind, model = primary_task("classification"), DeepType()
    kind.encode(model, ["x", "y", "x"], 3, fit=True)
    encoded, _ = kind.encode(model, ["y", "z", None], 3, fit=False)
    assert encoded.tolist() == [1, -1, -1]


def test_the_config_schema_offers_every_task() -> None:
    """A task registered in tasks.py fails here until the schema (which Snakemake's validate reads) lists it."""
    from importlib.resources import files

    import yaml

    schema = yaml.safe_load(files("deepsubtype").joinpath("schemas/config.schema.yaml").read_text())

    def task_enums(node: object) -> list[list[str]]:
        if isinstance(node, dict):
            found = [node["task"]["enum"]] if isinstance(node.get("task"), dict) and "enum" in node["task"] else []
            return found + [enum for value in node.values() for enum in task_enums(value)]
        if isinstance(node, list):
            return [enum for value in node for enum in task_enums(value)]
        return []

    enums = task_enums(schema)
    assert enums and all(enum == list(TASKS) for enum in enums)


@pytest.mark.parametrize("task", TASKS)
def test_each_task_reads_its_target_and_tests_genes_alone(task: str) -> None:
    """The target read from clinical columns and the one-gene test are the task's own: the columns it names are
    read into what fit takes, and its univariate test gives one statistic and p-value per gene (none without a
    target)."""
    rng = np.random.default_rng(1)
    kind = primary_task(task)
    obs = pd.DataFrame({"label": ["a", "b"] * (N // 2), "value": rng.normal(size=N),
                        "time": rng.exponential(10, N), "event": np.arange(N) % 2})
    columns = kind.target_columns("value" if task == "regression" else "label", "time", "event")
    if not kind.has_target:
        assert columns == [] and kind.univariate_test(rng.normal(size=(N, 4)), None) is None
        return
    y = kind.read_target(obs, columns, "clinical.tsv")
    kind.encode(  # what fit takes: the encoding accepts it
        DeepType(task=task), y, N, fit=True)
    statistic, p_value, test = kind.univariate_test(rng.normal(size=(N, 4)), y)
    assert statistic.shape == p_value.shape == (4,) and test
    assert np.all((p_value >= 0) & (p_value <= 1))
    if task in ("classification", "binary"):
        with pytest.raises(InputError, match=r"clinical.tsv: target column 'label' has 1 distinct value"):
            kind.read_target(obs.assign(label="a"), columns, "clinical.tsv")
    if task == "survival":
        with pytest.raises(InputError, match=r"clinical.tsv: no event \(1\) in column 'event'"):
            kind.read_target(obs.assign(event=0), columns, "clinical.tsv")


@pytest.mark.parametrize(("task", "column", "message"), [
    ("binary", "subtype", "data: target column 'subtype' has 3 classes ('a', 'b', 'c'); the binary task needs "
                          "exactly two"),
    ("regression", "grade", "data: target column 'grade' has the non-numeric value 'C' for sample 'P2' (1 such "
                            "samples); the regression task needs numbers"),
])
def test_a_target_the_task_cannot_train_on_is_refused_naming_it(task: str, column: str, message: str) -> None:
    # formerly a ValueError (binary) or pandas' "Unable to parse string" (regression) from inside the fit
    obs = pd.DataFrame({"subtype": ["a", "b", "c", None], "grade": ["1", "2", "C", "3"]},
                       index=["P0", "P1", "P2", "P3"])
    with pytest.raises(InputError) as error:
        primary_task(task).read_target(obs, [column], "data")
    assert str(error.value).startswith(message)

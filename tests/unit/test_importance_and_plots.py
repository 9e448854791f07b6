from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from deepsubtype import DeepType
from deepsubtype.importance import gene_importance
from deepsubtype.model import DeepTypeNetwork
from deepsubtype.plots import kaplan_meier, top_genes, training_history


@pytest.fixture
def model_with_known_weights() -> DeepType:
    """A DeepType whose first-layer columns have norms 0, 5, 1 and 5."""
    model = DeepType(hidden_layers=(2, 2), n_clusters=1, importance="first_layer")
    model.network_ = DeepTypeNetwork(4, [2, 2], 2, task="classification")
    with torch.no_grad():
        model.network_.first_layers[0].weight.copy_(torch.tensor([[0.0, 3.0, 1.0, 0.0], [0.0, 4.0, 0.0, -5.0]]))
    model.feature_names_in_ = np.array(["A", "B", "C", "D"], dtype=object)
    return model


def test_importance_is_the_column_norm_ranked_with_stable_ties(model_with_known_weights) -> None:
    table = gene_importance(model_with_known_weights)
    assert list(table["gene"]) == ["B", "D", "C", "A"]
    assert list(table["importance"]) == [5.0, 5.0, 1.0, 0.0]
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert list(table["relative_importance"]) == [1.0, 1.0, 0.2, 0.0]
    assert (table["importance_measure"] == "first_layer").all()
    assert list(table["first_layer_rank"]) == [1, 2, 3, 4] and "pattern_importance" not in table, "none computed"


def test_importance_rejects_mismatched_names(model_with_known_weights) -> None:
    with pytest.raises(ValueError, match="3 gene names for 4 importances"):
        gene_importance(model_with_known_weights, ["a", "b", "c"])


def test_plots_return_figures() -> None:
    importance = pd.DataFrame({"gene": list("abc"), "importance": [3.0, 2.0, 1.0]})
    assert isinstance(top_genes(importance, n_top=2), Figure)
    frame = pd.DataFrame({"cluster": [0, 0, 1, 1], "time": [1.0, 2.0, 3.0, 4.0], "event": [1, 0, 1, 1]})
    figure = kaplan_meier(frame, time_unit="months", p_value=0.04)
    assert "p = 0.04" in figure.axes[0].get_title()
    history = {"steps": [{"phase": "pretrain", "round": 0, "step": s, "primary": 1.0 / s, "sparsity": 2.0,
                          "cluster": 0.0, "total": 1.0} for s in range(1, 5)]}
    assert len(training_history(history).axes) == 4


def test_training_history_shows_the_alpha_path_or_the_fixed_alpha() -> None:
    from types import SimpleNamespace

    from deepsubtype.tuning import alpha_path_table

    reason = "primary loss 0.69 is no better than the trivial predictor's 0.69"
    path = [{"alpha": alpha, "selection_loss": loss, "selection_se": 0.1, "n_selection": 46, "n_fits": 2,
             "n_genes_tenth": genes, "collapsed": collapsed, "chosen": alpha == 0.01}
            for alpha, loss, genes, collapsed in [(0.0, 1.5, 500, ""), (0.01, 0.6, 40, ""), (0.1, 0.5, 9, ""),
                                                  (1.0, 0.69, 500, reason)]]
    table = alpha_path_table(SimpleNamespace(alpha_path_=path, beta=1.2))
    assert table["criterion"].iloc[0].startswith("alpha branches from the pretrained network, primary loss of 46 "
                                                 "held-out terms of 2 fits")
    assert table["criterion"].iloc[3].endswith(f"; not eligible: the network collapsed ({reason})")
    assert table["criterion"].iloc[2].endswith("; not eligible: the next larger alpha collapsed the network")
    assert not table["criterion"].iloc[1].count("not eligible")
    history = {"steps": [{"phase": "pretrain", "round": 0, "step": s, "primary": 1.0 / s, "sparsity": 2.0,
                          "cluster": 0.0, "total": 1.0} for s in range(1, 5)]}
    figure = training_history(history, tuning=table)
    panel = figure.axes[-1]
    assert len(figure.axes) == 5 and panel.get_title() == "alpha path" and panel.get_xlabel() == "alpha"
    assert [text.get_text() for text in panel.get_legend().get_texts()] == [
        "eligible", "collapsed or beside a collapse", "chosen (0.01)"]
    fixed = alpha_path_table(SimpleNamespace(alpha_path_=[], alpha_=0.003, beta=1.2))
    assert "alpha fixed at 0.003" in training_history(history, tuning=fixed).axes[-1].texts[0].get_text()

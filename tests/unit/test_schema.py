"""Config mistakes the schema cannot express, refused by :func:`deepsubtype.schema.check_config` with one line
(the workflow parses a config through it; ``tests/workflow/test_bad_inputs.py`` runs the same cases through
Snakemake)."""

from __future__ import annotations

from typing import Any

import pytest

from deepsubtype import InputError
from deepsubtype.objective import BASELINE_OBJECTIVES
from deepsubtype.schema import BASELINE_OBJECTIVES as SCHEMA_BASELINES
from deepsubtype.schema import check_config, config_mistakes_exit

COHORT = {"expression": "expression.tsv", "clinical": "clinical.tsv", "target": "subtype"}


@pytest.mark.parametrize(("config", "message"), [
    ({"cohorts": {"summary.tsv": COHORT}}, "cohort name 'summary.tsv': use letters, digits, '_' and '-' only"),
    ({"cohorts": {"a": COHORT}, "tuning": {"alphas": [0.0, 0.01, 0.01]}},
     "config: tuning.alphas: [0.0, 0.01, 0.01] must be increasing, each alpha larger than the one before (the path "
     "walks them in order): e.g. [0.0, 0.01]"),
    ({"cohorts": {"a": COHORT}, "model": {"n_clusters_range": [5, 3]}},
     "config: model.n_clusters_range: [5, 3] is reversed"),
    ({"cohorts": {"a": {**COHORT, "model": {"n_clusters_range": [5, 3]}}}},
     "config: cohorts.a.model.n_clusters_range: [5, 3] is reversed"),
    ({"cohorts": {"a": COHORT}, "validation": {"folds": 1}}, "config: validation.folds: 1 is not a cross-validation"),
    ({"cohorts": {"a": COHORT}, "model": {"objective": "pca_kmeans"}},
     "config: cohorts.a: model.objective 'pca_kmeans' learns a baseline's clusters in place of a survival target"),
    ({"cohorts": {"a": {**COHORT, "task": "survival"}}}, "config: cohorts.a: task survival needs the cohort's "
                                                         "survival columns"),
])
def test_config_mistakes_the_schema_cannot_express_are_one_line(config: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as error:
        check_config(config)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_baseline_objective_with_survival_and_a_model_from_cohort_pass() -> None:
    check_config({"cohorts": {"a": {**COHORT, "task": "survival", "survival": {"time": "t", "event": "e"},
                                    "model": {"objective": "kmeans"}},
                              "b": {**COHORT, "model_from": "a"}}, "model": {"objective": "kmeans"}})


def test_a_config_mistake_exits_with_its_one_line() -> None:
    # while the workflow parses: Snakemake would print an exception with its chain of calls, not a SystemExit
    with pytest.raises(SystemExit) as stop, config_mistakes_exit():
        check_config({"cohorts": {"a/b": COHORT}})
    assert str(stop.value).startswith("InputError: cohort name 'a/b': ")


def test_the_schema_knows_the_baseline_objectives() -> None:
    assert SCHEMA_BASELINES == BASELINE_OBJECTIVES

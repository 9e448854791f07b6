"""Every case of the bad-input catalogue (tests/bad_inputs.py) through ``snakemake``.

The same cases through ``deepsubtype``: tests/unit/test_bad_inputs.py.

Errors must give one line naming the file and the column or sample, and leave no
output of the failing stage (nor a temporary file) behind; warnings must be logged
with their counts while the run goes on. No case may put a Python traceback on the console.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..bad_inputs import (
    CASES,
    QUICK_MODEL,
    STAGE_OUTPUTS,
    BadInput,
    case_entry,
    case_source,
    skip_where_available,
    write_cases,
)
from ..conftest import snakemake

SNAKEMAKE_CASES = [case for case in CASES if case.snakemake]
#: Cases Snakemake stops before any job runs (config schema, missing input files): one dry run each.
PARSE_CASES = [case for case in SNAKEMAKE_CASES if case.stage == "config" or case.snakemake_message]
#: Cases a job refuses: one ``snakemake --keep-going`` run per set of global settings (most cases have none),
#: one cohort each.
JOB_CASES = [case for case in SNAKEMAKE_CASES if case not in PARSE_CASES]
#: The job that refuses a case of each stage, where it is not the stage's name: (rule, log under logs/<case>/).
JOBS = {"validate": ("validate_fold", "validate_fold/repeat0_fold0")}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every case's files under ``data/<case>/`` (and an unbroken cohort in ``data/good/``); entries.json
    holds their config entries."""
    return write_cases(tmp_path_factory.mktemp("bad_inputs"))


def _config(workdir: Path, cases: list[BadInput]) -> dict[str, Any]:
    """The config of a run over ``cases`` (one set of settings: the first case's)."""
    cohorts = {case.name: case_entry(workdir, case.name) for case in cases}
    if any("model_from" in entry for entry in cohorts.values()):  # the predict cases take the unbroken one's model
        cohorts["good"] = case_entry(workdir, "good")
    config = {
        "seed": 0,
        "device": "cpu",
        "cohorts": cohorts,
        "normalize": {"n_top_genes": 100},
        "model": {**QUICK_MODEL, "n_fits": 1},  # a copy: the misspelled-key case edits it
        "validation": {"folds": 0},
        "compare": {"run": False},
    }
    for key, value in cases[0].settings.items():
        config[key] = {**config[key], **value} if isinstance(config.get(key), dict) else value
    return config


def _settings_key(case: BadInput) -> str:
    return json.dumps(case.settings, sort_keys=True)


def _snakemake_with_config(workdir: Path, config: dict[str, Any], *arguments: str,
                           edit: Callable[[str], str] | None = None) -> subprocess.CompletedProcess[str]:
    """Snakemake on ``config`` written to a new file (its text edited by ``edit``)."""
    path = workdir / f"config-{len(list(workdir.glob('config-*.yaml')))}.yaml"
    text = yaml.safe_dump(config)
    path.write_text(edit(text) if edit else text)
    return snakemake(*arguments, workdir=workdir, configfile=path)


def _target(case: BadInput) -> str:
    return {"normalize": f"results/{case.name}/normalized.h5ad",
            "train": f"results/{case.name}/embedding.h5ad",
            "survival": f"results/{case.name}/survival/logrank.tsv",
            "predict": f"results/{case.name}/clusters.tsv",
            "validate": f"results/{case.name}/validation_folds/repeat0_fold0.tsv",
            "import": f"results/{case.name}/input/clinical.tsv"}[case.stage]


@pytest.fixture(scope="module")
def snakemake_run(workdir: Path, request: pytest.FixtureRequest
                  ) -> Callable[[BadInput], subprocess.CompletedProcess[str]]:
    """The run of a job-level case: one run per set of settings over the job-level cases of this session (all, or
    those ``-k`` selects), each its own cohort, going on past failed jobs; made when a case first asks for it."""
    selected = {item.callspec.params["case"].name for item in request.session.items
                if hasattr(item, "callspec") and "case" in item.callspec.params}
    runs: dict[str, subprocess.CompletedProcess[str]] = {}

    def run(case: BadInput) -> subprocess.CompletedProcess[str]:
        key = _settings_key(case)
        if key not in runs:
            cases = [other for other in JOB_CASES if _settings_key(other) == key and other.name in selected]
            runs[key] = _snakemake_with_config(workdir, _config(workdir, cases), "--cores", "2", "--keep-going",
                                               *[_target(other) for other in cases])
        return runs[key]
    return run


@pytest.mark.parametrize("case", SNAKEMAKE_CASES, ids=[case.name for case in SNAKEMAKE_CASES])
def test_snakemake(case: BadInput, workdir: Path,
                   snakemake_run: Callable[[BadInput], subprocess.CompletedProcess[str]]) -> None:
    skip_where_available(case)
    if case in PARSE_CASES:
        config = _config(workdir, [case])
        if case.cohort_name:
            config["cohorts"][case.cohort_name] = config["cohorts"].pop(case.name)
        if case.misspelled_key:
            config["model"]["n_cluster"] = config["model"].pop("n_clusters")
        result = _snakemake_with_config(workdir, config, "--dry-run", edit=case.edit_config)
        assert result.returncode != 0
        assert case.expected("snakemake") in result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        return
    run = snakemake_run(case)
    assert "Traceback" not in run.stderr, "no traceback on the console, from this case's job or another's"
    rule, log_name = JOBS.get(case.stage, (case.stage, case.stage))
    log = (workdir / "logs" / case.name / f"{log_name}.log").read_text()
    results = workdir / "results" / case.name
    if case.outcome == "warning":
        assert (workdir / _target(case)).exists(), run.stderr[-3000:]
        assert case.expected("snakemake") in log
        return
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and case.expected("snakemake") in errors[0], log
    rule = f"import_{case_source(workdir, case)}" if case.stage == "import" else rule
    assert f"Error in rule {rule}" in run.stderr
    assert f"InputError: {case.expected('snakemake')}" in run.stderr, "its one line on the console"
    for name in STAGE_OUTPUTS[case.stage]:
        assert not (results / name).exists(), f"{name} left behind"
    assert not list(results.rglob(".partial-*")), "temporary file left behind"

"""Every case of the bad-input catalogue (tests/bad_inputs.py) through ``snakemake``.

The same cases through ``deepsubtype``: tests/unit/test_bad_inputs.py.

Errors must give one line naming the file and the column or sample, and leave no
output of the failing stage (nor a temporary file) behind; warnings must be logged
with their counts while the run goes on.
"""

from __future__ import annotations

import subprocess
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
    write_cases,
)
from ..conftest import snakemake

SNAKEMAKE_CASES = [case for case in CASES if case.snakemake]
#: Cases Snakemake stops before any job runs (config schema, missing input files): one dry run each.
PARSE_CASES = [case for case in SNAKEMAKE_CASES if case.stage == "config" or case.snakemake_message]
#: Cases a job refuses: all in one ``snakemake --keep-going`` run, one cohort each.
JOB_CASES = [case for case in SNAKEMAKE_CASES if case not in PARSE_CASES]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every case's files under ``data/<case>/`` (and an unbroken cohort in ``data/good/``); entries.json
    holds their config entries."""
    return write_cases(tmp_path_factory.mktemp("bad_inputs"))


def _config(workdir: Path, cases: list[BadInput]) -> dict[str, Any]:
    return {
        "seed": 0,
        "device": "cpu",
        "cohorts": {case.name: case_entry(workdir, case.name) for case in cases},
        "normalize": {"n_top_genes": 100},
        "model": {**QUICK_MODEL, "n_fits": 1},  # a copy: the misspelled-key case edits it
        "validation": {"folds": 0},
        "compare": {"run": False},
    }


def _snakemake_with_config(workdir: Path, config: dict[str, Any], *arguments: str) -> subprocess.CompletedProcess[str]:
    path = workdir / f"config-{len(list(workdir.glob('config-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return snakemake(*arguments, workdir=workdir, configfile=path)


def _target(case: BadInput) -> str:
    return {"normalize": f"results/{case.name}/normalized.h5ad",
            "train": f"results/{case.name}/embedding.h5ad",
            "survival": f"results/{case.name}/survival/logrank.tsv",
            "import": f"results/{case.name}/input/clinical.tsv"}[case.stage]


@pytest.fixture(scope="module")
def snakemake_run(workdir: Path) -> subprocess.CompletedProcess[str]:
    """One run over every job-level case, each its own cohort, going on past failed jobs."""
    return _snakemake_with_config(workdir, _config(workdir, JOB_CASES), "--cores", "2", "--keep-going",
                      *[_target(case) for case in JOB_CASES])


@pytest.mark.parametrize("case", SNAKEMAKE_CASES, ids=[case.name for case in SNAKEMAKE_CASES])
def test_snakemake(case: BadInput, workdir: Path, snakemake_run: subprocess.CompletedProcess[str]) -> None:
    if case in PARSE_CASES:
        config = _config(workdir, [case])
        if case.cohort_name:
            config["cohorts"][case.cohort_name] = config["cohorts"].pop(case.name)
        if case.misspelled_key:
            config["model"]["n_cluster"] = config["model"].pop("n_clusters")
        result = _snakemake_with_config(workdir, config, "--dry-run")
        assert result.returncode != 0
        assert case.expected("snakemake") in result.stdout + result.stderr
        return
    log = (workdir / "logs" / case.name / f"{case.stage}.log").read_text()
    results = workdir / "results" / case.name
    if case.outcome == "warning":
        assert (workdir / _target(case)).exists(), snakemake_run.stderr[-3000:]
        assert case.expected("snakemake") in log
        return
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and case.expected("snakemake") in errors[0], log
    rule = f"import_{case_source(workdir, case)}" if case.stage == "import" else case.stage
    assert f"Error in rule {rule}" in snakemake_run.stderr
    assert f"InputError: {case.expected('snakemake')}" in snakemake_run.stderr, "its one line on the console"
    assert "Traceback (most recent call last)" not in snakemake_run.stderr
    for name in STAGE_OUTPUTS[case.stage]:
        assert not (results / name).exists(), f"{name} left behind"
    assert not list(results.rglob(".partial-*")), "temporary file left behind"

"""Every case of the bad-input catalogue (tests/bad_inputs.py) through ``deepsubtype``, and its table in docs.

The same cases through ``snakemake``: tests/workflow/test_bad_inputs.py.

Errors must give one line naming the file and the column or sample, and leave no
output of the failing stage (nor a temporary file) behind; warnings must be logged
with their counts while the run goes on. No case may put a Python traceback on the console.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from deepsubtype.cli import main

from ..bad_inputs import (
    CASES,
    QUICK_MODEL,
    STAGE_OUTPUTS,
    BadInput,
    case_entry,
    case_source,
    markdown_table,
    skip_where_available,
    write_cases,
)
from ..conftest import REPO

CLI_CASES = [case for case in CASES if case.cli]
#: The subcommand of a stage, where its name differs from it (the import stages: per source, see case_source).
COMMANDS = {"config": "aggregate", "validate": "validate-fold"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every case's files under ``data/<case>/`` (and an unbroken cohort in ``data/good/``); entries.json
    holds their config entries."""
    return write_cases(tmp_path_factory.mktemp("bad_inputs"))


def _model_options(entry: dict[str, Any]) -> list[str]:
    params = {**QUICK_MODEL, **entry.get("model", {})}
    return [argument for key, value in params.items() for argument in ("--set", f"{key}={json.dumps(value)}")]


def _normalize(entry: dict[str, Any], output: Path) -> int:
    """The normalize subcommand as the rule runs it: with the columns later stages use, checked there."""
    settings = entry.get("normalize", {})
    survival = entry.get("survival", {})
    checked = [*(["--target", entry["target"]] if entry.get("target") else []),
               "--time", survival["time"], "--event", survival["event"],
               *[argument for name in survival.get("covariates", []) for argument in ("--covariate", name)],
               "--survival-invalid", survival.get("invalid", "fail")]
    expression = entry.get("expression", entry.get("mudata"))  # a mudata cohort: its .h5mu is both files
    sample_column = ["--sample-column", entry["sample_column"]] if entry.get("sample_column") else []
    return main(["normalize", expression, entry.get("clinical", expression), str(output), *sample_column,
                 "--n-top-genes", "100",
                 "--scale", settings.get("scale", "auto"), "--missing", settings.get("missing", "fail"), *checked])


@pytest.fixture(scope="module")
def good_run(workdir: Path) -> Path:
    """The unbroken cohort normalized, trained and clustered: clusters for the survival cases."""
    out = workdir / "good"
    with contextlib.chdir(workdir):
        entry = case_entry(workdir, "good")
        assert _normalize(entry, out / "normalized.h5ad") == 0
        assert main(["train", str(out / "normalized.h5ad"), str(out / "model"), str(out / "embedding.h5ad"),
                     "--target", "subtype", "--device", "cpu", *_model_options(entry)]) == 0
        assert main(["cluster", str(out / "embedding.h5ad"), str(out / "clusters.tsv")]) == 0
    return out


def _run_cli(case: BadInput, workdir: Path, good_run: Path) -> tuple[int, Path]:
    """Run the case's failing subcommand (after the stages it needs); return its exit status and output dir."""
    entry = case_entry(workdir, case.name)
    out = Path("results") / case.name
    if case.stage == "config":
        return main(["aggregate", str(out / "all.tsv"), f"{case.cohort_name}={good_run / 'clusters.tsv'}"]), out
    if case.stage == "genes":
        return main(["genes", f"data/{case.name}/model", str(out / "gene_importance.tsv")]), out
    if case.stage == "predict":  # the unbroken cohort's model (model_from: good)
        return main(["predict", str(good_run / "model"), str(good_run / "normalized.h5ad"), entry["expression"],
                     str(out), "--clinical", entry["clinical"], "--sample-column", entry["sample_column"]]), out
    if case.stage == "import":
        outputs = [str(out / "input" / name) for name in ("expression.h5ad", "clinical.tsv", "import.json")]
        if "geo" in entry:
            return main(["import-geo", entry["geo"]["series_matrix"], *outputs, "--platform",
                         entry["geo"]["platform"]]), out
        study = entry["cbioportal"]
        given = (("--profile", study.get("profile")), ("--case-list", study.get("case_list")),
                 ("--event", entry.get("survival", {}).get("event")))
        return main(["import-cbioportal", study["study"], *outputs,
                     *[argument for option, value in given if value for argument in (option, value)]]), out
    normalized = out / "normalized.h5ad"
    status = _normalize(entry, normalized)
    if case.stage == "normalize":
        return status, out
    assert status == 0
    procedure = ["--task", entry["task"], "--target", entry["target"], "--time", entry["survival"]["time"],
                 "--event", entry["survival"]["event"], "--device", case.settings.get("device", "cpu"),
                 *_model_options(entry)]
    if case.stage == "train":
        return main(["train", str(normalized), str(out / "model"), str(out / "embedding.h5ad"),
                     "--tuning", str(out / "tuning.tsv"), "--k-selection", str(out / "k_selection.tsv"),
                     *procedure]), out
    if case.stage == "validate":  # the first split's refit
        return main(["validate-fold", str(normalized), str(out / "validation_folds" / "repeat0_fold0.tsv"),
                     "--repeat", "0", "--fold", "0", "--folds", str(case.settings["validation"]["folds"]),
                     *procedure]), out
    survival = entry["survival"]
    covariates = [argument for name in survival.get("covariates", []) for argument in ("--covariate", name)]
    return main(["survival", str(good_run / "clusters.tsv"), str(normalized), str(out / "survival"),
                 "--time", survival["time"], "--event", survival["event"], *covariates]), out


@pytest.mark.parametrize("case", CLI_CASES, ids=[case.name for case in CLI_CASES])
def test_cli(case: BadInput, workdir: Path, good_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    skip_where_available(case)
    cli = workdir / "cli"  # beside snakemake's results/, with the same relative paths
    cli.mkdir(exist_ok=True)
    if not (cli / "data").exists():
        (cli / "data").symlink_to(workdir / "data")
        (cli / "entries.json").symlink_to(workdir / "entries.json")
    with contextlib.chdir(cli):
        status, out = _run_cli(case, cli, good_run)
        stderr = capsys.readouterr().err
        assert "Traceback" not in stderr
        if case.outcome == "warning":
            assert status == 0, stderr
            assert case.expected() in stderr
            return
        assert status == 2, stderr
        errors = [line for line in stderr.splitlines() if "error" in line.lower()]
        command = (f"import-{case_source(workdir, case)}" if case.stage == "import"
                   else COMMANDS.get(case.stage, case.stage))
        assert errors == [f"deepsubtype {command}: error: "
                          f"{errors[0].split(': error: ', 1)[1]}"] if errors else False, stderr
        assert case.expected() in errors[0]
        for name in STAGE_OUTPUTS.get(case.stage, ["all.tsv"]):
            assert not (out / name).exists(), f"{name} left behind"
        assert not [p for p in Path(".").rglob(".partial-*")], "temporary file left behind"


def test_catalogue_is_documented() -> None:
    assert len(CASES) >= 20
    assert len({case.name for case in CASES}) == len(CASES)
    assert (REPO / "docs" / "bad-inputs.md").read_text() == markdown_table(), \
        "regenerate with: python -m tests.bad_inputs > docs/bad-inputs.md"

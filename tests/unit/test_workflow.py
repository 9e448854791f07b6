"""The Snakemake workflow, not run: dry run and lint on the shipped config, config refusals, the scripts' library."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from ..conftest import REPO, snakemake


def test_dry_run_of_the_demo_config_lists_every_stage() -> None:
    result = snakemake("--dry-run", "--forceall", "--quiet", "rules")
    assert result.returncode == 0, result.stderr
    for rule in ("normalize", "train", "cluster", "genes", "survival", "validate", "compare"):
        assert rule in result.stdout


def test_scripts_refuse_a_library_other_than_the_checkouts(tmp_path: Path) -> None:
    from deepsubtype.stages import check_checkout_library

    check_checkout_library(REPO / "workflow" / "scripts")  # the checkout's own: runs
    (tmp_path / "workflow" / "scripts").mkdir(parents=True)
    (tmp_path / "src" / "deepsubtype").mkdir(parents=True)
    with pytest.raises(RuntimeError, match=f"the workflow in {tmp_path} imported deepsubtype .* not its own"):
        check_checkout_library(tmp_path / "workflow" / "scripts")


def test_lint_is_quiet() -> None:
    result = snakemake("--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def test_misspelled_config_key_is_named(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["model"]["n_cluster"] = config["model"].pop("n_clusters")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("--dry-run", "--configfile", str(tmp_path / "config.yaml"))
    assert result.returncode != 0
    assert "n_cluster" in result.stdout + result.stderr


@pytest.fixture(autouse=True, scope="module")
def _cleanup_snakemake_metadata():
    yield
    shutil.rmtree(REPO / ".snakemake" / "lint", ignore_errors=True)


def test_a_config_the_schema_refuses_is_one_line_with_a_hint(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["model"]["n_cluster"] = config["model"].pop("n_clusters")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("--dry-run", "--configfile", str(tmp_path / "bad.yaml"))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert ("config: model: Additional properties are not allowed ('n_cluster' was unexpected); did you mean "
            "'n_clusters'?") in output
    assert len(output.splitlines()) < 15, "no schema dump"

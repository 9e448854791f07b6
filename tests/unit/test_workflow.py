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


def test_a_key_written_twice_in_a_config_file_is_one_line_naming_both(tmp_path: Path) -> None:
    # a cohort block copied to make another and not renamed: YAML would keep the copy alone, silently
    text = (REPO / "config" / "config.yaml").read_text()
    lines = text.splitlines()
    start = lines.index("cohorts:") + 1
    end = next(number for number in range(start + 1, len(lines)) if lines[number][:1] not in (" ", "#", ""))
    block = lines[start:end]
    (tmp_path / "twice.yaml").write_text("\n".join([*lines[:end], *block, *lines[end:]]) + "\n")
    result = snakemake("--dry-run", "--configfile", str(tmp_path / "twice.yaml"))
    assert result.returncode != 0
    assert (f"InputError: {tmp_path / 'twice.yaml'}: key 'cohorts.{block[0].strip().rstrip(':')}' is written twice "
            f"(lines {start + 1} and {end + 1}) and YAML keeps only the second: remove or rename one"
            ) in result.stderr
    assert "Traceback" not in result.stderr and "File \"" not in result.stderr


def test_yaml_keys_written_twice_are_found_at_any_depth() -> None:
    from deepsubtype.errors import InputError
    from deepsubtype.schema import load_yaml

    assert load_yaml("a: 1\nb: [{c: 1}, {c: 2}]\n", "x.yaml") == {"a": 1, "b": [{"c": 1}, {"c": 2}]}
    with pytest.raises(InputError, match=r"^x.yaml: key 'b.1.c' is written twice \(lines 4 and 5\)"):
        load_yaml("a: 1\nb:\n  - {c: 1}\n  - c: 1\n    c: 2\n", "x.yaml")


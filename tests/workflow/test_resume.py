"""A Snakemake run killed during training resumes from the checkpoint and gives the uninterrupted run's files."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from ..conftest import FAST_MODEL, make_cohort, snakemake, snakemake_command

pytestmark = pytest.mark.e2e

TARGETS = ["results/tiny/clusters.tsv", "results/tiny/gene_importance.tsv"]
CHECKPOINT = "results/tiny/checkpoints/train.pt"


def _snakemake_ok(workdir: Path, *arguments: str, targets: list[str] = TARGETS) -> None:
    result = snakemake("--cores", "1", *arguments, *targets, workdir=workdir)
    assert result.returncode == 0, result.stderr[-5000:]


@pytest.fixture(scope="module")
def normalized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny cohort, normalized once; 800 joint steps keep training going for a second or more after the
    checkpoint of pretraining is written."""
    path = tmp_path_factory.mktemp("normalized")
    expression, clinical = make_cohort()
    (path / "data").mkdir()
    expression.to_csv(path / "data" / "expression.tsv", sep="\t")
    clinical.to_csv(path / "data" / "clinical.tsv", sep="\t", index=False, na_rep="NA")
    config = {
        "seed": 1,
        "device": "cpu",
        "cohorts": {"tiny": {"expression": "data/expression.tsv", "clinical": "data/clinical.tsv",
                             "sample_column": "sample", "task": "classification", "target": "subtype"}},
        "normalize": {"n_top_genes": 100},
        "model": {**FAST_MODEL, "dropout": 0.1, "pretrain_steps": 200, "joint_steps": 800, "max_rounds": 3,
                  "n_fits": 1},
        "validation": {"folds": 0},
        "compare": {"run": False},
    }
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    _snakemake_ok(path, targets=["results/tiny/normalized.h5ad"])
    return path


def _copy(normalized: Path, workdir: Path) -> Path:
    """A copy of the normalized run (times and Snakemake's records kept: normalize does not run again)."""
    shutil.copytree(normalized, workdir, dirs_exist_ok=True)
    return workdir


@pytest.fixture(scope="module")
def uninterrupted(normalized: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = _copy(normalized, tmp_path_factory.mktemp("uninterrupted"))
    _snakemake_ok(workdir)
    assert not (workdir / CHECKPOINT).exists(), "a finished run deletes its checkpoint"
    assert "resuming" not in (workdir / "logs/tiny/train.log").read_text()
    return workdir


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_training_resumes_with_rerun_incomplete(normalized: Path, uninterrupted: Path, tmp_path: Path,
                                                       signal_number: int) -> None:
    workdir = _copy(normalized, tmp_path)
    run = subprocess.Popen(snakemake_command("--cores", "1", *TARGETS, workdir=workdir), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONWARNINGS": "ignore"},
                           start_new_session=True)
    deadline = time.monotonic() + 120
    while not (workdir / CHECKPOINT).exists():
        assert run.poll() is None and time.monotonic() < deadline, "training ended without a checkpoint"
        time.sleep(0.02)
    os.killpg(run.pid, signal_number)  # snakemake and its jobs
    run.wait(timeout=60)
    assert not (workdir / "results/tiny/model").exists(), "killed during training"

    if signal_number == signal.SIGKILL:  # no clean-up ran: the lock is left behind
        _snakemake_ok(workdir, "--unlock")
    _snakemake_ok(workdir, "--rerun-incomplete")
    assert "resuming from checkpoint results/tiny/checkpoints/train.pt at round 1" in (
        workdir / "logs/tiny/train.log").read_text()
    assert not (workdir / CHECKPOINT).exists()
    for target in TARGETS:
        assert (workdir / target).read_bytes() == (uninterrupted / target).read_bytes(), target

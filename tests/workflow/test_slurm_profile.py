"""The SLURM workflow profile (workflow/profiles/slurm), tested without a cluster.

Stand-ins for `sbatch`, `srun`, `sacct` and `sinfo` go first on PATH. `sbatch` records its arguments
(one JSON line per call) and, in run mode, runs the job's `--wrap` command there and then, in the job's
directory with its output going to the `--output` log, as SLURM would on a node; the job step inside
calls `srun`, which runs its command. `sacct` reports each job's state in the `JobIdRaw|State` format
the plugin parses. So snakemake-executor-plugin-slurm drives the real workflow exactly as on a cluster,
and the recorded `sbatch` options are what each rule would ask SLURM for.

The tests need no GPU, so jobs really run with `device=cpu` only. Then, with `device=cuda` and
`--forceall`, `sbatch` records the submissions without running them and reports them COMPLETED over
the CPU run's outputs, which lets every rule be submitted once with the GPU requests in place.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..conftest import FAST_MODEL, REPO, write_tiny_cohort

pytest.importorskip("snakemake_executor_plugin_slurm", reason="needs the 'slurm' extra")

PROFILE = REPO / "workflow" / "profiles" / "slurm"
TRAINING_RULES = {"train", "validate_fold", "compare"}
CPU_RULES = {"normalize", "cluster", "genes", "survival", "validate", "compare_all", "summary"}

SBATCH = """#!{python}
import json, os, subprocess, sys
from pathlib import Path

state = Path(os.environ["FAKE_SLURM_DIR"])
argv = sys.argv[1:]
with open(state / "sbatch.jsonl", "a") as calls:
    calls.write(json.dumps(argv) + "\\n")
jobs = state / "jobs"
jobs.mkdir(exist_ok=True)
job_id = 1000
while True:  # a fresh job id, also when two submissions come at once
    try:
        os.close(os.open(jobs / str(job_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        break
    except FileExistsError:
        job_id += 1
status = "COMPLETED"
if os.environ["FAKE_SLURM_RUN"] == "1":
    wrap = next(arg.removeprefix("--wrap=") for arg in argv if arg.startswith("--wrap="))
    log = argv[argv.index("--output") + 1].replace("%j", str(job_id))
    with open(log, "w") as out:
        code = subprocess.run(["/bin/sh", "-c", wrap], cwd=argv[argv.index("-D") + 1], stdout=out,
                              stderr=subprocess.STDOUT, env={{**os.environ, "SLURM_JOB_ID": str(job_id)}}).returncode
    status = "COMPLETED" if code == 0 else "FAILED"
(jobs / str(job_id)).write_text(argv[argv.index("--job-name") + 1] + "|" + status)
print(job_id)
"""

SRUN = """#!{python}
import json, os, sys

argv = sys.argv[1:]
with open(os.path.join(os.environ["FAKE_SLURM_DIR"], "srun.jsonl"), "a") as calls:
    calls.write(json.dumps(argv) + "\\n")
while argv[0].startswith("-"):
    argv.pop(0)
os.execvp(argv[0], argv)
"""

SACCT = """#!{python}
import os, sys
from pathlib import Path

argv = sys.argv[1:]
if "--format=JobIdRaw,State" in argv:  # the status query; other calls (account guess, failure reasons) get nothing
    name = argv[argv.index("--name") + 1]
    for job in sorted((Path(os.environ["FAKE_SLURM_DIR"]) / "jobs").iterdir()):
        job_name, _, status = job.read_text().partition("|")
        if job_name == name:
            print(f"{{job.name}}|{{status or 'RUNNING'}}")
"""

SINFO = """#!/bin/sh
printf 'PARTITION\\ncpu*\\ngpu\\n'
"""


def _fake_slurm(directory: Path) -> None:
    """The stand-in commands, in ``directory/bin``."""
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in {"sbatch": SBATCH, "srun": SRUN, "sacct": SACCT, "sinfo": SINFO}.items():
        path = bin_dir / name
        path.write_text(text.format(python=sys.executable))
        path.chmod(0o755)


def _snakemake_on_slurm(workdir: Path, state: Path, *arguments: str,
                        run_jobs: bool) -> subprocess.CompletedProcess[str]:
    """snakemake with the SLURM profile in ``workdir``, the stand-ins recording into ``state``."""
    environment = {**os.environ, "PATH": f"{state / 'bin'}{os.pathsep}{os.environ['PATH']}",
                   "PYTHONWARNINGS": "ignore", "FAKE_SLURM_DIR": str(state), "FAKE_SLURM_RUN": "1" if run_jobs else "0"}
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--workflow-profile", str(PROFILE), "--configfile", str(workdir / "config.yaml"),
               # poll the stand-in sacct every second instead of SLURM-friendly 40 s
               "--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1", *arguments]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False, env=environment,
                          timeout=600)


#: The sbatch options that say what a job asks for (the others name the job, its log and its step).
RESOURCE_OPTIONS = ("-p", "--mem", "-t", "--gpus", "--gres", "--cpus-per-gpu", "--cpus-per-task")


def _submissions(state: Path) -> dict[str, dict[str, str]]:
    """Each rule's sbatch options (``--wrap`` left out), from the stand-in's record: one submission per rule and
    wildcards (``validate_fold`` has one per split), every job of a rule asking for the same resources."""
    by_rule: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    for line in (state / "sbatch.jsonl").read_text().splitlines():
        argv = json.loads(line)
        options: dict[str, str] = {}
        for index, argument in enumerate(argv):
            if argument.startswith("--wrap="):
                continue
            if argument.startswith("-"):
                name, equals, value = argument.partition("=")
                following = argv[index + 1] if index + 1 < len(argv) else "-"
                options[name] = value if equals else ("" if following.startswith("-") else following)
        assert options["--comment"] not in seen, f"{options['--comment']} submitted twice"
        seen.add(options["--comment"])
        rule = options["--comment"].removeprefix("rule_").split("_wildcards_")[0]
        if rule in by_rule:
            assert all(by_rule[rule].get(key) == options.get(key) for key in RESOURCE_OPTIONS), rule
        by_rule[rule] = options
    return by_rule


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The whole workflow on a tiny cohort (60 samples x 120 genes), every job through the stand-in sbatch."""
    workdir = tmp_path_factory.mktemp("slurm_workflow")
    config = {
        "seed": 1,
        "device": "cpu",
        "cohorts": {"tiny": write_tiny_cohort(workdir)},
        "normalize": {"n_top_genes": 100},
        "model": {**FAST_MODEL, "pretrain_steps": 100, "joint_steps": 10, "max_rounds": 2, "kmeans_n_init": 2,
                  "n_fits": 1},
        "genes": {"n_top_plot": 15},
        "validation": {"folds": 2, "repeats": 1},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    _fake_slurm(workdir / "cpu_slurm")
    return workdir, _snakemake_on_slurm(workdir, workdir / "cpu_slurm", run_jobs=True)


@pytest.mark.e2e
def test_the_profile_runs_the_workflow_through_sbatch(cpu_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    workdir, result = cpu_run
    assert result.returncode == 0, result.stderr[-5000:]
    for output in ("results/tiny/clusters.tsv", "results/tiny/validation/oof_logrank.tsv",
                   "results/tiny/compare/summary.tsv", "results/compare_summary.tsv"):
        assert (workdir / output).is_file(), output
    submissions = _submissions(workdir / "cpu_slurm")
    assert set(submissions) == TRAINING_RULES | CPU_RULES
    srun_calls = (workdir / "cpu_slurm" / "srun.jsonl").read_text().splitlines()
    jobs = (workdir / "cpu_slurm" / "sbatch.jsonl").read_text().splitlines()
    assert len(srun_calls) == len(jobs) > len(submissions), "each job (one per fold for validate_fold) ran as a step"
    for rule, options in submissions.items():
        assert "--gpus" not in options and "--gres" not in options, f"{rule}: device=cpu asks for no GPU"
        assert options["-p"] == ("gpu" if rule in TRAINING_RULES else "cpu"), rule
    assert submissions["train"]["--cpus-per-task"] == "4" and submissions["compare"]["--cpus-per-task"] == "2"


@pytest.mark.e2e
def test_only_training_rules_ask_for_a_gpu(cpu_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    """device=cuda, every rule submitted once; recorded, not run (no GPU here), over the CPU run's outputs."""
    workdir, first = cpu_run
    assert first.returncode == 0, first.stderr[-5000:]
    state = workdir / "cuda_slurm"
    _fake_slurm(state)
    result = _snakemake_on_slurm(workdir, state, "--forceall", "--config", "device=cuda", run_jobs=False)
    assert result.returncode == 0, result.stderr[-5000:]
    submissions = _submissions(state)
    assert set(submissions) == TRAINING_RULES | CPU_RULES
    for rule in TRAINING_RULES:
        options = submissions[rule]
        assert options["-p"] == "gpu", rule
        assert options["--gpus"] == "1", rule
        assert options["--cpus-per-gpu"] == "4", rule
        assert "--cpus-per-task" not in options, rule
        assert (options["--mem"], options["-t"]) == ("32000", "240"), rule
    for rule in CPU_RULES:
        options = submissions[rule]
        assert options["-p"] == "cpu", rule
        assert not {"--gpus", "--gres", "--cpus-per-gpu"} & set(options), rule
        assert (options["--mem"], options["-t"]) == ("8000", "60"), rule
    for options in submissions.values():
        assert options["-D"] == str(workdir)
        assert Path(options["--output"]).is_relative_to(workdir / ".snakemake" / "slurm_logs")

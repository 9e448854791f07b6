"""The configuration schema (``schemas/config.schema.yaml``, JSON-schema draft 2020-12) and checks against it.

One schema serves the Snakemake workflow (``snakemake.utils.validate`` in ``workflow/rules/common.smk``,
which also fills in its defaults) and the command line (``deepsubtype train --set``), so a setting is
refused the same way wherever it is given. Errors are one line naming the key, the value and the rule broken.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from .errors import InputError

__all__ = ["CONFIG_SCHEMA", "COHORT_NAME", "check_cohort_name", "check_config", "check_config_files",
           "check_model_settings", "check_model_values", "check_objective", "config_mistakes_exit", "error_line",
           "load_yaml"]

#: The configuration schema, installed with the package.
CONFIG_SCHEMA = Path(__file__).with_name("schemas") / "config.schema.yaml"
#: What a cohort name may be (it becomes a directory and a wildcard): no dots (``summary.tsv`` would be a
#: directory inside an output), path separators, spaces or shell characters. The schema holds the same pattern.
COHORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: The objectives that learn a baseline's clusters (:data:`deepsubtype.objective.BASELINE_OBJECTIVES`; not
#: imported from there, which loads scikit-learn and lifelines, while the workflow parses).
BASELINE_OBJECTIVES = ("kmeans", "pca_kmeans")


def _schema() -> dict[str, Any]:
    return yaml.safe_load(CONFIG_SCHEMA.read_text())


def error_line(error: ValidationError, where: str = "config") -> str:
    """One line for a schema violation: the key path, the offending value and the rule it breaks."""
    path = ".".join(str(part) for part in error.absolute_path)
    where = f"{where}: {path}" if path else where
    value = repr(error.instance)
    value = value if len(value) <= 60 else value[:57] + "..."
    rule = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        close = get_close_matches(unknown[0], allowed, n=1) if unknown else []
        hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
        return f"{where}: {rule}{hint}"
    if error.validator in ("required", "oneOf", "anyOf"):
        return f"{where}: {rule}"
    return f"{where}: {value} is not allowed: {rule}"


@contextlib.contextmanager
def config_mistakes_exit() -> Iterator[None]:
    """Stop the program with the one line of an :class:`InputError` raised in the block, and no traceback: how
    the workflow refuses a config while it parses (Snakemake prints an exception raised there with the chain of
    calls that led to it, but lets ``SystemExit`` through)."""
    try:
        yield
    except InputError as error:
        raise SystemExit(f"InputError: {error}") from None


def check_cohort_name(name: str) -> str:
    """Return ``name`` if it matches :data:`COHORT_NAME`; raise :class:`InputError` otherwise."""
    if not isinstance(name, str) or not COHORT_NAME.match(name):
        raise InputError(f"cohort name {name!r}: use letters, digits, '_' and '-' only, starting with a letter or "
                         "digit (the name becomes the directory results/<cohort>/ and a rule wildcard; a dot, "
                         "path separator, space or shell character would collide with other outputs or paths)")
    return name


def check_config(config: dict[str, Any]) -> None:
    """Raise :class:`InputError` with one line naming the key: cohort names (:func:`check_cohort_name`), then
    the most relevant violation of the schema (:func:`error_line`), then what the schema cannot say (list
    orders, settings that need another, :func:`check_model_values`)."""
    for name in config.get("cohorts") or {}:
        check_cohort_name(name)
    error = best_match(Draft202012Validator(_schema()).iter_errors(config))
    if error is not None:
        raise InputError(error_line(error))
    alphas = config.get("tuning", {}).get("alphas")
    if alphas is not None and any(later <= earlier for earlier, later in zip(alphas, alphas[1:], strict=False)):
        raise InputError(f"config: tuning.alphas: {alphas} must be increasing, each alpha larger than the one "
                         f"before (the path walks them in order): e.g. {sorted(set(alphas))}")
    if config.get("validation", {}).get("folds") == 1:
        raise InputError("config: validation.folds: 1 is not a cross-validation: set 2 or more folds, or 0 to turn "
                         "the out-of-fold validation off")
    check_model_values(config.get("model", {}), "config: model.")
    for name, cohort in config.get("cohorts", {}).items():
        check_model_values(cohort.get("model", {}), f"config: cohorts.{name}.model.")
        if "model_from" not in cohort:  # a cohort that trains its own model: its task, model and sweep agree
            model, task = {**config.get("model", {}), **cohort.get("model", {})}, cohort.get("task", "classification")
            check_objective(model, task, f"config: cohorts.{name}: ")
            if task == "survival" and "survival" not in cohort:
                raise InputError(f"config: cohorts.{name}: task survival needs the cohort's survival columns "
                                 "(survival: {time: ..., event: ...})")
            _check_sweep(config.get("sweep", {}), model, name)
        layout = [key for key in ("orientation", "sample_column") if key in cohort]
        source = next((key for key in ("cbioportal", "geo") if key in cohort), None)
        if source and layout:
            raise InputError(f"config: cohorts.{name}: {layout[0]} is not for a {source} cohort (its import "
                             "writes samples x genes and a clinical table keyed by its first column)")
        if "mudata" in cohort and "orientation" in cohort:
            raise InputError(f"config: cohorts.{name}: orientation is not for a mudata cohort (its modalities "
                             "are patients x features)")


def _check_sweep(sweep: dict[str, Any], model: dict[str, Any], cohort: str) -> None:
    """A sweep (any list of ``sweep`` given) takes a list left empty from the cohort's ``model``: refuse that for a
    setting that is ``auto`` there, which no run can be named by."""
    if not any(sweep.values()):
        return
    defaults = _schema()["$defs"]["model"]["properties"]
    for grid_key, setting in (("alphas", "alpha"), ("betas", "beta"), ("n_clusters", "n_clusters")):
        if not sweep.get(grid_key) and model.get(setting, defaults[setting]["default"]) == "auto":
            raise InputError(f"config: cohorts.{cohort}: sweep.{grid_key} must be listed when model.{setting} is "
                             "auto (a list left empty takes the model's value, and each run is named by it)")


def check_model_settings(settings: dict[str, Any], where: str = "--set", task: str | None = None) -> None:
    """Check DeepType settings (``--set KEY=VALUE``) against the schema's ``model`` section,
    :func:`check_model_values` and, given the ``task``, :func:`check_objective`."""
    schema = _schema()
    model = {**schema["$defs"]["model"], "$defs": schema["$defs"]}
    error = best_match(Draft202012Validator(model).iter_errors(settings))
    if error is not None:
        raise InputError(error_line(error, where))
    check_model_values(settings, f"{where}: ")
    if task is not None:
        check_objective(settings, task, f"{where}: ")


def check_model_values(model: dict[str, Any], where: str) -> None:
    """What the schema cannot say of a ``model`` section (its keys named after ``where`` in the error): the order
    of ``n_clusters_range``."""
    low, high = model.get("n_clusters_range", (2, 8))
    if low > high:
        raise InputError(f"{where}n_clusters_range: {[low, high]} is reversed: give [smallest, largest] K, "
                         f"e.g. {[high, low]}")


def check_objective(model: dict[str, Any], task: str, where: str) -> None:
    """Refuse a baseline's objective (``model["objective"]``) for a ``task`` other than survival (named after
    ``where`` in the error)."""
    objective = model.get("objective")
    if objective in BASELINE_OBJECTIVES and task != "survival":
        raise InputError(f"{where}model.objective {objective!r} learns a baseline's clusters in place of a "
                         f"survival target: it needs task survival, and the task is {task!r}; set objective to auto "
                         "or primary")


def _duplicate_key(node: yaml.Node, path: tuple[str, ...] = ()) -> tuple[str, int, int] | None:
    """The first key written twice in one mapping under ``node``: its dotted path and the lines of both."""
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key, _ in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            if name in lines:
                return ".".join((*path, name)), lines[name], line
            lines[name] = line
        children = [((*path, str(key.value)), value) for key, value in node.value]
    elif isinstance(node, yaml.SequenceNode):
        children = [((*path, str(index)), item) for index, item in enumerate(node.value)]
    else:
        return None
    return next((found for where, child in children if (found := _duplicate_key(child, where))), None)


def load_yaml(text: str, where: str) -> Any:
    """``text`` read as YAML (safe), refusing a key written twice in one mapping, which YAML would read as its
    last value silently: :class:`InputError` naming ``where``, the key and both line numbers."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        found = _duplicate_key(node) if node is not None else None
        if found is not None:
            key, first, second = found
            raise InputError(f"{where}: key {key!r} is written twice (lines {first} and {second}) and YAML keeps only "
                             "the second: remove or rename one")
        return loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def check_config_files(paths: Iterable[str | Path]) -> None:
    """Read the config files Snakemake was given (``workflow.configfiles``) again with :func:`load_yaml`: a key
    written twice in one of them is refused, naming the file, the key and both lines."""
    for path in paths:
        text = Path(path).read_text(encoding="utf-8-sig")
        with contextlib.suppress(yaml.YAMLError):  # JSON that PyYAML cannot read: Snakemake has read it
            load_yaml(text, str(path))

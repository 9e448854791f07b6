"""The configuration schema (``schemas/config.schema.yaml``, JSON-schema draft 2020-12) and checks against it.

One schema serves the Snakemake workflow (``snakemake.utils.validate`` in ``workflow/rules/common.smk``,
which also fills in its defaults) and the command line (``deepsubtype train --set``), so a setting is
refused the same way wherever it is given. Errors are one line naming the key, the value and the rule broken.
"""

from __future__ import annotations

from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from .errors import InputError

__all__ = ["CONFIG_SCHEMA", "check_config", "check_model_settings", "error_line"]

#: The configuration schema, installed with the package.
CONFIG_SCHEMA = Path(__file__).with_name("schemas") / "config.schema.yaml"


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


def check_config(config: dict[str, Any]) -> None:
    """Raise :class:`InputError` with :func:`error_line` for the most relevant violation of the schema."""
    error = best_match(Draft202012Validator(_schema()).iter_errors(config))
    if error is not None:
        raise InputError(error_line(error))
    for name, cohort in config.get("cohorts", {}).items():
        layout = [key for key in ("orientation", "sample_column") if key in cohort]
        source = next((key for key in ("cbioportal", "geo") if key in cohort), None)
        if source and layout:
            raise InputError(f"config: cohorts.{name}: {layout[0]} is not for a {source} cohort (its import "
                             "writes samples x genes and a clinical table keyed by its first column)")
        if "mudata" in cohort and "orientation" in cohort:
            raise InputError(f"config: cohorts.{name}: orientation is not for a mudata cohort (its modalities "
                             "are patients x features)")


def check_model_settings(settings: dict[str, Any], where: str = "--set") -> None:
    """Check DeepType settings (``--set KEY=VALUE``) against the schema's ``model`` section."""
    schema = _schema()
    model = {**schema["$defs"]["model"], "$defs": schema["$defs"]}
    error = best_match(Draft202012Validator(model).iter_errors(settings))
    if error is not None:
        raise InputError(error_line(error, where))

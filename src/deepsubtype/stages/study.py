"""The import stages: a cBioPortal study folder or a GEO series matrix into the matrix and clinical table the
normalize stage reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..io import ImportedCohort
from ..outputs import IMPORT_FILES
from ._files import _atomic

__all__ = ["import_cbioportal_stage", "import_geo_stage", "imported_names"]


def _write(result: ImportedCohort, expression: str | Path, clinical: str | Path, report: str | Path) -> None:
    """``expression`` (.h5ad, samples x genes as read), ``clinical`` (TSV, one row per sample, its id first) and
    ``report`` (JSON: what was read, dropped and collapsed)."""
    with _atomic(expression) as temporary:
        result.expression.write_h5ad(temporary)
    with _atomic(clinical) as temporary:
        result.clinical.reset_index().to_csv(temporary, sep="\t", index=False, na_rep="NA")
    with _atomic(report) as temporary:
        temporary.write_text(json.dumps(result.report, indent=1, sort_keys=True) + "\n")


def import_cbioportal_stage(study: str | Path, expression: str | Path, clinical: str | Path, report: str | Path,
                            *, profile: str | None = None, case_list: str | None = None,
                            event_column: str | None = None) -> ImportedCohort:
    """Read the study (:func:`~deepsubtype.cbioportal.read_study`; ``event_column``: the survival event
    attribute, checked for its 0:/1: code) and write its matrix, clinical table (``SAMPLE_ID`` first, then the
    sample and patient attributes) and report."""
    from ..cbioportal import read_study

    result = read_study(study, profile=profile, case_list=case_list, event_column=event_column)
    _write(result, expression, clinical, report)
    return result


def import_geo_stage(series_matrix: str | Path, expression: str | Path, clinical: str | Path, report: str | Path,
                     *, platform: str | Path | None = None, gene_column: str | None = None) -> ImportedCohort:
    """Read the series matrix (:func:`~deepsubtype.geo.read_series_matrix`) and write its matrix, clinical
    table (``sample`` = GSM accession first, then the characteristics by key) and report."""
    from ..geo import read_series_matrix

    result = read_series_matrix(series_matrix, platform=platform, gene_column=gene_column)
    _write(result, expression, clinical, report)
    return result


def imported_names(cohort: str, settings: dict[str, Any], results: str = "results") -> dict[str, str]:
    """How errors name the files the import stage wrote for ``cohort`` (its config block ``settings``), keyed by
    their paths under ``results``: the user's study folder or series matrix and the part of it each file holds
    (none for a cohort that is not imported), so that an error names the user's input, not ours."""
    if "cbioportal" in settings:
        study = settings["cbioportal"]
        profile = f"its profile {study['profile']}" if study.get("profile") else "its expression profile"
        parts = {"expression": f"{study['study']} ({profile})",
                 "clinical": f"{study['study']} (its clinical attribute files)"}
    elif "geo" in settings:
        series = settings["geo"]["series_matrix"]
        parts = {"expression": f"{series} (its data table)", "clinical": f"{series} (its !Sample_ lines)"}
    else:
        return {}
    return {f"{results}/{cohort}/{IMPORT_FILES[role]}": name for role, name in parts.items()}

"""The import stage: a cBioPortal study folder into the matrix and clinical table the normalize stage reads."""

from __future__ import annotations

import json
from pathlib import Path

from ..cbioportal import CbioportalStudy, read_study
from ._files import _atomic

__all__ = ["import_cbioportal_stage"]


def import_cbioportal_stage(study: str | Path, expression: str | Path, clinical: str | Path, report: str | Path,
                            *, profile: str | None = None, case_list: str | None = None) -> CbioportalStudy:
    """Read the study (:func:`~deepsubtype.cbioportal.read_study`) and write ``expression`` (.h5ad, samples x
    genes as read), ``clinical`` (TSV, one row per sample: ``SAMPLE_ID`` first, then the sample and patient
    attributes) and ``report`` (JSON: what was read, dropped and collapsed)."""
    result = read_study(study, profile=profile, case_list=case_list)
    with _atomic(expression) as temporary:
        result.expression.write_h5ad(temporary)
    with _atomic(clinical) as temporary:
        result.clinical.reset_index().to_csv(temporary, sep="\t", index=False, na_rep="NA")
    with _atomic(report) as temporary:
        temporary.write_text(json.dumps(result.report, indent=1, sort_keys=True) + "\n")
    return result

"""The normalize stage: read, align, check the clinical columns, normalize; write ``normalized.h5ad``."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anndata as ad

from ..h5mu import modality_views, write_mudata
from ..io import Orientation, attach_clinical, read_clinical, read_expression
from ..normalize import MissingPolicy, MissingViews, Scale, combine_views, normalize
from ..survival import InvalidPolicy
from ._files import _atomic, _provenance
from ._inputs import _check_clinical

__all__ = ["export_mudata_stage", "normalize_stage"]

logger = logging.getLogger(__name__)


def normalize_stage(expression: str | Path | dict[str, dict[str, Any]], clinical: str | Path, output: str | Path,
                    *, orientation: Orientation = "samples_x_genes", sample_column: str | None = None,
                    scale: Scale | str = "auto", n_top_genes: int | None = 5000,
                    zscore: bool = True, minmax: bool = False, missing: MissingPolicy | str = "fail",
                    missing_views: MissingViews | str = "mask", target: str | None = None,
                    time_column: str | None = None, event_column: str | None = None,
                    covariates: Iterable[str] = (), survival_invalid: InvalidPolicy = "fail") -> ad.AnnData:
    """Read, align, normalize; write ``normalized.h5ad`` (see :func:`~deepsubtype.normalize.normalize`).

    ``expression`` is one matrix, a ``.h5mu`` file (each modality a view), or several views of the same patients:
    ``{view: {"path": ..., and any of modality (of a .h5mu file), orientation, scale, n_top_genes, zscore,
    minmax, missing}}``,
    where the keyword arguments are the defaults. Each view is normalized on its own
    patients, then the views are joined by :func:`~deepsubtype.normalize.combine_views`
    (``missing_views``: ``mask`` or ``drop`` patients lacking a view).

    The clinical columns later stages use (``target``, survival ``time_column``/``event_column``,
    Cox ``covariates``) are checked here, before any training, with errors naming the clinical file;
    ``survival_invalid="drop"`` leaves patients with unusable survival values out of survival instead
    (named in the log and in ``uns["survival_invalid"]``).
    """
    defaults = {"orientation": orientation, "scale": scale, "n_top_genes": n_top_genes, "zscore": zscore,
                "minmax": minmax, "missing": missing}
    if isinstance(expression, dict):
        specs = expression
    elif str(expression).endswith(".h5mu"):  # every modality a view
        specs = modality_views(expression)
    else:
        specs = {"expression": {"path": expression}}
    clinical_table = read_clinical(clinical, sample_column=sample_column)
    views = {}
    for name, spec in specs.items():
        settings = {**defaults, **{key: value for key, value in spec.items() if key != "path"}}
        modality = settings.pop("modality", None)
        adata = read_expression(spec["path"], orientation=settings.pop("orientation"), modality=modality)
        adata = attach_clinical(adata, clinical_table, source=f"{clinical}" if len(specs) == 1 else
                                f"{clinical}, view {name}")
        source = str(spec["path"]) + (f" (modality {modality})" if modality is not None else "")
        views[name] = normalize(adata, **settings, source=source, copy=False)
    if len(views) == 1:
        adata = next(iter(views.values()))
    else:
        adata = combine_views(views, missing_views=missing_views,  # type: ignore[arg-type]
                              patients=clinical_table.index, source=str(clinical))
        adata = attach_clinical(adata, clinical_table, source=str(clinical))
    _check_clinical(adata, str(clinical), target=target, time_column=time_column, event_column=event_column,
                    covariates=covariates, invalid=survival_invalid)
    adata.uns["provenance"] = _provenance(stage="normalize", expression=specs, clinical=str(clinical),
                                          sample_column=sample_column, missing_views=missing_views, **defaults)
    with _atomic(output) as temporary:
        adata.write_h5ad(temporary, compression="gzip")
    return adata


def export_mudata_stage(normalized: str | Path, output: str | Path) -> None:
    """Write ``normalized.h5ad`` as MuData (``.h5mu``: one modality per view, with the patients that have it, and
    the clinical columns as the global obs; :func:`~deepsubtype.h5mu.to_mudata`)."""
    adata = ad.read_h5ad(normalized)
    with _atomic(output) as temporary:
        write_mudata(adata, temporary)
    logger.info("%s: %d patients, views %s written as MuData", output, adata.n_obs,
                ", ".join(dict.fromkeys(adata.var["view"])) if "view" in adata.var else "one")

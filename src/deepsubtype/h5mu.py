"""MuData ``.h5mu`` files (scverse's container for several omics of the same patients): a modality read as
one view's matrix, the global ``obs`` read as the clinical table, and a normalized multi-view cohort written
back as one modality per view.

A cohort given as ``mudata: cohort.h5mu`` has one view per modality, in the file's modality order; its clinical
table is the file's global ``obs`` unless the cohort names its own. Modalities may hold different patients
(each its own ``obs_names``); patients lacking a modality are handled by ``missing_views`` like any view.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import h5py
import mudata
import numpy as np
import pandas as pd
from anndata.io import read_elem

from .errors import InputError

__all__ = ["modalities", "modality_views", "read_modality", "read_global_obs", "to_mudata", "write_mudata"]


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"{path}: not a readable .h5mu file ({error})") from None


def modalities(path: str | Path) -> list[str]:
    """The modality names of ``path``, in the file's order (its ``mod-order``), without reading any matrix."""
    path = Path(path)
    with _open(path) as file:
        if "mod" not in file or not len(file["mod"]):
            raise InputError(f"{path}: no modalities (a .h5mu file holds them under /mod)")
        names = [str(name) for name in file["mod"]]
        order = file["mod"].attrs.get("mod-order")
    if order is not None:
        ordered = [name.decode() if isinstance(name, bytes) else str(name) for name in order]
        names = [name for name in ordered if name in names] + [name for name in names if name not in ordered]
    return names


def modality_views(path: str | Path) -> dict[str, dict[str, str]]:
    """The views of a cohort given as ``path``: ``{modality: {"path": path, "modality": modality}}`` in the
    file's order; a file of one modality is one plain view, ``{"expression": {"path": path}}``."""
    names = modalities(path)
    if len(names) == 1:
        return {"expression": {"path": str(path)}}
    return {name: {"path": str(path), "modality": name} for name in names}


def read_modality(path: str | Path, modality: str | None = None) -> ad.AnnData:
    """One modality of ``path`` as AnnData (patients x features, ``X`` as stored); ``modality`` may be left out
    when the file has only one."""
    path = Path(path)
    names = modalities(path)
    if modality is None:
        if len(names) > 1:
            raise InputError(f"{path}: {len(names)} modalities ({', '.join(names)}); name one with `modality`, "
                             "or give the cohort as `mudata:` to use each as a view")
        modality = names[0]
    if modality not in names:
        raise InputError(f"{path}: no modality {modality!r} (modalities: {', '.join(names)})")
    return mudata.read_h5ad(path, modality)


def read_global_obs(path: str | Path) -> pd.DataFrame:
    """The global ``obs`` of ``path`` (one row per patient of any modality), with its ids as the index."""
    path = Path(path)
    modalities(path)
    with _open(path) as file:  # the obs alone: no modality's matrix is read (normalize reads each once)
        obs = read_elem(file["obs"])
    if obs.shape[1] == 0:
        raise InputError(f"{path}: the global obs has no columns, so there is no clinical table in it; "
                         "give the cohort a `clinical` file")
    return obs.copy()


def to_mudata(adata: ad.AnnData) -> mudata.MuData:
    """A normalized cohort as MuData; a multi-view one (:func:`~deepsubtype.normalize.combine_views`:
    ``var["view"]``, ``var["feature"]``, ``obsm["view_present"]``) gets one modality per view holding the patients that
    have it (features by their own ids, the view's ``log`` layer and normalize record kept) and the clinical
    columns as the global ``obs``."""
    if "view" not in adata.var:  # one view: one modality, named as it was read
        name = adata.uns.get("source", {}).get("modality", "expression")
        adata = adata.copy()
        adata.var["view"], adata.var["feature"] = name, adata.var_names.to_numpy()
    names = list(dict.fromkeys(adata.var["view"]))
    present = np.asarray(adata.obsm.get("view_present", np.ones((adata.n_obs, len(names)), dtype=bool)))
    modalities_ = {}
    for index, name in enumerate(names):
        columns = np.flatnonzero((adata.var["view"] == name).to_numpy())
        view = adata[present[:, index], columns]
        part = ad.AnnData(X=np.asarray(view.X), obs=pd.DataFrame(index=view.obs_names),
                          var=view.var.drop(columns=["view"]).set_index("feature", drop=False).rename_axis(None),
                          layers={key: np.asarray(value) for key, value in view.layers.items()})
        if name in adata.uns.get("normalize", {}):
            part.uns["normalize"] = adata.uns["normalize"][name]
        modalities_[name] = part
    with mudata.set_options(pull_on_update=False):
        combined = mudata.MuData(modalities_)
        combined.obs = adata.obs.loc[combined.obs_names].copy()
    return combined


def write_mudata(adata: ad.AnnData, path: str | Path) -> None:
    """Write :func:`to_mudata` of ``adata`` to ``path`` (``.h5mu``, gzip-compressed)."""
    data = to_mudata(adata)
    with mudata.set_options(pull_on_update=False):
        data.write_h5mu(path, compression="gzip")

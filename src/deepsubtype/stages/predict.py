"""The predict stage: a trained model applied to a new cohort (``model_from``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from ..ensemble import load_model
from ..io import InputError, Orientation
from ..normalize import MissingPolicy, Scale
from ..outputs import PREDICT_FILES
from ..survival import InvalidPolicy
from ._files import _atomic, _cluster_method, _provenance, _write_table
from ._inputs import _check_clinical, _read_raw
from ._scores import _silhouettes

__all__ = ["predict_stage"]

logger = logging.getLogger(__name__)


def predict_stage(model_dir: str | Path, training_normalized: str | Path, expression: str | Path,
                  output_dir: str | Path, *, clinical: str | Path | None = None,
                  orientation: Orientation = "samples_x_genes", sample_column: str | None = None,
                  scale: Scale | str = "auto", missing: MissingPolicy | str = "fail",
                  missing_genes: str = "mean", max_missing_share: float = 0.2, centering: str = "training",
                  target: str | None = None, device: str = "cpu", time_column: str | None = None,
                  event_column: str | None = None, covariates: Iterable[str] = (),
                  survival_invalid: InvalidPolicy = "fail") -> pd.DataFrame:
    """Assign the patients of a new cohort to a trained model's clusters; writes :data:`PREDICT_FILES`.

    The new cohort is normalized with the training cohort's recorded settings
    (:func:`~deepsubtype.transfer.transfer_normalization`: its genes by name, absent genes by
    ``missing_genes``, refused above ``max_missing_share``, z-scored by ``centering``) and each
    patient goes to the nearest trained centre. ``clinical`` (optional: a single sample file
    needs none) is aligned as in :func:`normalize_stage`, and its survival columns checked as there.

    - ``normalized.h5ad``: the new cohort on the training genes, ``obs`` = its clinical columns
      (what :func:`survival_stage` reads), ``uns["transfer"]`` = the overlap report (and
      ``uns["survival_invalid"]``, the patients ``survival_invalid="drop"`` left out);
    - ``clusters.tsv``: ``sample``, ``cluster`` (the training cohort's cluster ids),
      ``distance_to_center``, ``confidence`` (:func:`~deepsubtype.cluster.assignment_confidence` for one fit;
      for several, the share of fits that make the call),
      ``second_cluster``, ``silhouette`` (in the representation; NA with one cluster or one patient), ``method``
      (what made the trained clusters: ``deeptype``, or the baseline whose rule assigns them; as the training
      cohort's ``clusters.tsv``);
    - ``overlap.tsv``: ``measure``, ``value``: genes found and missing, those matched ignoring case (and those
      case left absent), the platform check, the settings, the share of calls unchanged under the other
      centering, the cluster sizes;
    - ``missing_genes.txt``: the absent training genes, one per line;
    - ``agreement.tsv``: ACC/NMI/ARI of the clusters against ``target`` for the training cohort
      (in-sample) and this cohort, where that column has labels.

    Nothing is written unless every step succeeds. Returns ``clusters.tsv``'s table.
    """
    from ..transfer import transfer_normalization

    model, training, reference = _model_and_reference(model_dir, training_normalized, device)
    adata = _read_raw(expression, orientation, clinical, sample_column)
    if clinical is not None:
        _check_clinical(adata, str(clinical), target=target, time_column=time_column, event_column=event_column,
                        covariates=covariates, invalid=survival_invalid)
    settings = {"scale": scale, "missing": missing, "missing_genes": missing_genes,
                "max_missing_share": max_missing_share, "source": str(expression)}
    transfer = transfer_normalization(adata, reference, centering=centering, **settings)
    table = _assignment_table(model, transfer.adata)
    labels = table["cluster"].to_numpy()
    report = dict(transfer.report)
    if reference.zscore and adata.n_obs >= 2:
        other = "own" if centering == "training" else "training"
        other_labels = _labels_under_centering(model, adata, reference, other, settings)
        report[f"calls_unchanged_with_centering_{other}"] = float((other_labels == labels).mean())
    report["mean_confidence"] = float(table["confidence"].mean())
    sizes = np.bincount(labels, minlength=int(model.n_clusters_))
    report.update({f"n_cluster_{k}": int(n) for k, n in enumerate(sizes)})
    overlap = pd.DataFrame({"measure": list(report), "value": [str(v) if not isinstance(v, float) else f"{v:.6g}"
                                                               for v in report.values()]})
    agreement = _agreement_table(target, [("training cohort (in-sample)", training.obs, model.labels_),
                                          ("this cohort (predicted)", transfer.adata.obs, labels)])
    logger.info("%s: cluster sizes %s, mean confidence %.2f", expression, dict(enumerate(sizes.tolist())),
                report["mean_confidence"])

    if "survival_invalid" in adata.uns:  # the patients survival.invalid: drop left out, for excluded.tsv
        transfer.adata.uns["survival_invalid"] = adata.uns["survival_invalid"]
    transfer.adata.uns["provenance"] = _provenance(stage="predict", model=str(model_dir),
                                                   training=str(training_normalized), expression=str(expression),
                                                   clinical=str(clinical), centering=centering, **settings)
    output = Path(output_dir)
    with _atomic(output / PREDICT_FILES["normalized"]) as temporary:
        transfer.adata.write_h5ad(temporary, compression="gzip")
    for role, frame in (("clusters", table), ("overlap", overlap), ("agreement", agreement)):
        _write_table(frame, output / PREDICT_FILES[role])
    with _atomic(output / PREDICT_FILES["missing_genes"]) as temporary:
        temporary.write_text("".join(f"{gene}\n" for gene in transfer.missing_genes))
    return table


def _model_and_reference(model_dir: str | Path, training_normalized: str | Path,
                         device: str) -> tuple[Any, ad.AnnData, Any]:
    """The trained model, its cohort's ``normalized.h5ad`` and the normalization reference recorded there;
    refused when the two disagree on the genes."""
    from ..transfer import load_reference

    model = load_model(model_dir, device=device)
    training = ad.read_h5ad(training_normalized)
    reference = load_reference(training, source=str(training_normalized))
    trained_on = list(getattr(model, "feature_names_in_", []))
    if trained_on != list(reference.genes):
        raise InputError(f"{training_normalized}: its genes are not those the model in {model_dir} was trained on "
                         f"({len(reference.genes)} against {len(trained_on)}); give the training cohort's own "
                         "normalized.h5ad")
    return model, training, reference


def _assignment_table(model: Any, adata: ad.AnnData) -> pd.DataFrame:
    """``clusters.tsv`` of :func:`predict_stage`: each patient of ``adata`` (normalized on the model's genes) with
    its nearest centre, distance, confidence, runner-up centre, silhouette and what made the clusters."""
    distances = model.distances(adata)
    labels = model.predict(adata)
    runner_up = np.argsort(np.where(np.arange(distances.shape[1]) == labels[:, None], np.inf, distances), axis=1)
    return pd.DataFrame({
        "sample": adata.obs_names,
        "cluster": labels,
        "distance_to_center": distances[np.arange(len(labels)), labels],
        "confidence": model.confidence(adata),
        "second_cluster": runner_up[:, 0] if distances.shape[1] > 1 else labels,
        "silhouette": _silhouettes(model.transform(adata), labels),
        "method": _cluster_method(str(getattr(model, "objective_", "primary"))),
    })


def _labels_under_centering(model: Any, adata: ad.AnnData, reference: Any, centering: str,
                            settings: dict[str, Any]) -> np.ndarray:
    """The calls ``model`` would make with the other ``centering``: the share unchanged goes in ``overlap.tsv``."""
    from ..transfer import transfer_normalization

    quiet = logging.getLogger("deepsubtype.transfer")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the comparison's log lines would read as the run's, its warnings repeat them
    try:
        return model.predict(transfer_normalization(adata, reference, centering=centering, **settings).adata)
    finally:
        quiet.setLevel(level)


def _agreement_table(target: str | None, assignments: list[tuple[str, pd.DataFrame, np.ndarray]]) -> pd.DataFrame:
    """``agreement.tsv``: ACC/NMI/ARI of each (name, obs, labels) assignment against ``target`` where labelled."""
    from ..compare import label_agreement

    rows = []
    for name, obs, assigned in assignments:
        labelled = target is not None and target in obs.columns and len(obs) == len(assigned)
        known = int(obs[target].notna().sum()) if labelled else 0
        metrics = (label_agreement(obs[target], assigned) if known
                   else {"acc": np.nan, "nmi": np.nan, "ari": np.nan})
        rows.append({"assignment": name, "target": target or "NA", "n_labelled": known, **metrics})
    return pd.DataFrame(rows)

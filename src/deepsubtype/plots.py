"""Figures for each stage (matplotlib, non-interactive backend)."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter  # noqa: E402

__all__ = [
    "method_metrics",
    "consensus_cdf",
    "top_genes",
    "gene_heatmap",
    "marker_dotplot",
    "embedding_scatter",
    "kaplan_meier",
    "cox_forest",
    "alpha_path",
    "training_history",
]


_IMPORTANCE_LABELS = {"pattern": "importance (covariance with the representation)",
                      "pattern_minmax": "importance (covariance with the representation per unit of range)",
                      "first_layer": "importance (L2 norm of first-layer weights)",
                      "cluster_axis": "importance (largest |correlation| with a cluster's axis)"}


def top_genes(importance: pd.DataFrame, *, n_top: int = 30, title: str = "") -> Figure:
    """Horizontal bars of the ``n_top`` most important genes.

    ``importance`` is the table of :func:`~deepsubtype.importance.gene_importance`.
    """
    top = importance.head(n_top).iloc[::-1]
    measure = importance["importance_measure"].iloc[0] if "importance_measure" in importance and len(importance) else ""
    fig, ax = plt.subplots(figsize=(6, 0.22 * len(top) + 1.2))
    ax.barh(top["gene"].astype(str), top["importance"], color="#3b6ea8")
    ax.set_xlabel(_IMPORTANCE_LABELS.get(measure, "importance"))
    ax.set_title(title or f"Top {len(top)} genes")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def gene_heatmap(values: np.ndarray, genes: list[str], clusters: np.ndarray, *, title: str = "") -> Figure:
    """Heatmap of ``values`` (samples x genes, z-scores) with samples ordered by cluster and a cluster bar on top."""
    order = np.argsort(clusters, kind="stable")
    fig, (bar, ax) = plt.subplots(2, 1, figsize=(9, 0.2 * len(genes) + 2.2), sharex=True,
                                  gridspec_kw={"height_ratios": [0.6, max(len(genes), 1) * 0.2]})
    bar.imshow(clusters[order][None, :], aspect="auto", cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
    bar.set_yticks([0], ["cluster"])
    for cluster in np.unique(clusters):
        positions = np.flatnonzero(clusters[order] == cluster)
        bar.text(positions.mean(), 0, str(cluster), ha="center", va="center", fontsize=8, color="white")
    limit = float(np.nanpercentile(np.abs(values), 98)) or 1.0
    image = ax.imshow(values[order].T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                      interpolation="nearest")
    ax.set_yticks(np.arange(len(genes)), genes, fontsize=7)
    ax.set_xlabel(f"patients ({len(order)}), ordered by cluster")
    ax.set_xticks([])
    fig.colorbar(image, ax=[bar, ax], label="z-score", shrink=0.6)
    fig.suptitle(title or "Top genes by cluster")
    return fig


def marker_dotplot(markers: dict[Any, list[str]], mean: pd.DataFrame, share: pd.DataFrame, *, title: str = ""
                   ) -> Figure:
    """Dot plot of each cluster's top markers (``markers``: cluster -> genes; rows, in blocks by the cluster they
    mark) in every cluster (columns): colour, the cluster's mean z-score of the gene; size, the share of the
    cluster's patients above the other patients' median (0.5 = no shift). ``mean`` and ``share``: genes x
    clusters. The marked cluster's dot of each block is outlined; a block's label names its cluster."""
    rows = [(cluster, gene) for cluster, genes in markers.items() for gene in genes]
    clusters = list(mean.columns)
    height, width = 0.26 * max(len(rows), 1) + 2.2, 0.5 * len(clusters) + 0.4
    # columns in inches: the dots, the block labels, the colour bar (gene names and titles go in the margins)
    fig, (ax, labels, holder) = plt.subplots(1, 3, figsize=(width + 3.6, height),
                                             gridspec_kw={"width_ratios": [width, 0.8, 0.35]})
    labels.set_axis_off()
    holder.set_axis_off()
    if not rows:
        ax.text(0.5, 0.5, "no markers: fewer than two clusters to compare", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        fig.suptitle(title or "Top markers per cluster")
        return fig
    colour = mean.loc[[gene for _, gene in rows], clusters].to_numpy(np.float64)
    size = share.loc[[gene for _, gene in rows], clusters].to_numpy(np.float64)
    limit = max(1.0, float(np.ceil(np.nanmax(np.abs(colour)) * 2) / 2)) if np.isfinite(colour).any() else 1.0
    y, x = np.meshgrid(np.arange(len(rows)), np.arange(len(clusters)), indexing="ij")
    own = np.array([[cluster == column for column in clusters] for cluster, _ in rows])
    area = 10 + 190 * np.nan_to_num(size)
    points = ax.scatter(x.ravel(), y.ravel(), s=area.ravel(), c=colour.ravel(), cmap="RdBu_r", vmin=-limit,
                        vmax=limit, edgecolors=np.where(own.ravel(), "black", "none"), linewidths=1.2)
    ax.set_xticks(np.arange(len(clusters)), [str(c) for c in clusters], fontsize=8)
    ax.set_xlabel("cluster")
    ax.set_yticks(np.arange(len(rows)), [gene for _, gene in rows], fontsize=8)
    ax.set_xlim(-0.6, len(clusters) - 0.4)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    start = 0
    for cluster, genes in markers.items():
        if not genes:
            continue
        if start:
            ax.axhline(start - 0.5, color="0.75", lw=0.8)
        labels.text(0.05, 1 - (start + len(genes) / 2) / len(rows), f"cluster {cluster}", va="center", ha="left",
                    fontsize=8, transform=labels.transAxes)
        start += len(genes)
    tall = min(1.0, 4.0 / (0.26 * len(rows)))  # a colour bar of about 4 inches at most, centred
    fig.colorbar(points, cax=holder.inset_axes((0.0, (1 - tall) / 2, 0.5, tall)), label="mean z-score in the cluster")
    handles = [plt.scatter([], [], s=10 + 190 * value, color="0.5") for value in (0.25, 0.5, 0.75, 1.0)]
    fig.legend(handles, ["0.25", "0.5", "0.75", "1"], title="share of the cluster above the others' median",
               fontsize=7, title_fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=4, frameon=False)
    ax.set_title(title or "Top markers per cluster\n(descriptive: clusters found on these data)", fontsize=9)
    fig.tight_layout(rect=(0, 0.6 / height, 1, 1))
    return fig


def embedding_scatter(coordinates: np.ndarray, colourings: dict[str, pd.Series], *, axis_label: str = "PC",
                      title: str = "") -> Figure:
    """One 2-D scatter per colouring (e.g. cluster, primary label); categories get a legend, missing are grey."""
    fig, axes = plt.subplots(1, len(colourings), figsize=(5.2 * len(colourings), 4.6), squeeze=False)
    for ax, (name, values) in zip(axes[0], colourings.items(), strict=True):
        categories = pd.Categorical(values.astype("object").where(values.notna(), None))
        missing = categories.codes < 0
        if missing.any():
            ax.scatter(*coordinates[missing].T, s=14, c="0.8", label="missing", edgecolors="none")
        for code, category in enumerate(categories.categories):
            chosen = categories.codes == code
            ax.scatter(*coordinates[chosen].T, s=14, color=plt.cm.tab10(code % 10), label=str(category),
                       edgecolors="none")
        ax.set_title(name)
        ax.set_xlabel(f"{axis_label} 1")
        ax.set_ylabel(f"{axis_label} 2")
        ax.legend(fontsize=7, markerscale=1.5, frameon=False)
    fig.suptitle(title or "DeepType representation")
    fig.tight_layout()
    return fig


def kaplan_meier(frame: pd.DataFrame, *, time_unit: str = "", title: str = "", p_value: float | None = None) -> Figure:
    """Kaplan-Meier curves per cluster with 95 % bands and an at-risk table (``frame``: cluster, time, event)."""
    # lifelines here, not at the top: it takes ~1 s to import, and most stages plot no survival
    from lifelines import KaplanMeierFitter
    from lifelines.plotting import add_at_risk_counts

    fig, ax = plt.subplots(figsize=(7, 5.2))
    fitters = []
    for cluster, group in frame.groupby("cluster", sort=True):
        fitter = KaplanMeierFitter(label=f"cluster {cluster} (n={len(group)})")
        fitter.fit(group["time"], group["event"])
        fitter.plot_survival_function(ax=ax, ci_show=True, show_censors=True, censor_styles={"ms": 4})
        fitters.append(fitter)
    ax.set_xlabel(f"time ({time_unit})" if time_unit else "time")
    ax.set_ylabel("survival probability")
    ax.set_ylim(0, 1.05)
    heading = title or "Kaplan-Meier by cluster"
    if p_value is not None and np.isfinite(p_value):
        heading += f"\nlog-rank p = {p_value:.3g}"
    ax.set_title(heading)
    add_at_risk_counts(*fitters, ax=ax, rows_to_show=["At risk"])
    fig.tight_layout()
    return fig


def cox_forest(terms: pd.DataFrame, *, title: str = "") -> Figure:
    """Forest plot of Cox hazard ratios with 95 % CIs on a log axis (``terms`` from :class:`CoxResult`)."""
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * max(len(terms), 1) + 1.6))
    if len(terms):
        positions = np.arange(len(terms))[::-1]
        ratio, lower, upper = (terms[column].to_numpy(np.float64) for column in ("hazard_ratio", "hr_lower_95",
                                                                                 "hr_upper_95"))
        # arrays, not Series: matplotlib takes a one-term Series for a scalar (a pandas deprecation)
        ax.errorbar(ratio, positions, xerr=[ratio - lower, upper - ratio], fmt="s", color="#3b6ea8", ecolor="0.3",
                    capsize=3)
        ax.set_yticks(positions, [f"{t}  (p={p:.2g})" for t, p in zip(terms["term"], terms["p_value"], strict=True)])
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=2.0))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(1.0, color="0.5", ls="--", lw=1)
    ax.set_xlabel("hazard ratio (95 % CI, log scale)")
    ax.set_title(title or "Cox proportional hazards")
    fig.tight_layout()
    return fig


def method_metrics(table: pd.DataFrame, metrics: list[str], *, title: str = "") -> Figure:
    """One bar chart per metric column of ``table`` (a row per method, column ``method``)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.6 * len(metrics), 3.6), squeeze=False)
    colours = [plt.cm.tab10(i % 10) for i in range(len(table))]
    for ax, metric in zip(axes[0], metrics, strict=True):
        ax.bar(table["method"], table[metric], color=colours)
        ax.set_title(metric, fontsize=9)
        ax.tick_params(axis="x", rotation=60, labelsize=7)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(title or "Methods compared")
    fig.tight_layout()
    return fig


def consensus_cdf(consensus: dict[int, np.ndarray], delta_area: dict[int, float], *, title: str = "") -> Figure:
    """ConsensusClusterPlus-style CDF of consensus values per K, and the relative change in area under it."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for k, matrix in sorted(consensus.items()):
        values = np.sort(matrix[np.triu_indices(matrix.shape[0], 1)])
        left.plot(values, np.arange(1, len(values) + 1) / len(values), label=f"K={k}")
    left.set_xlabel("consensus index")
    left.set_ylabel("CDF")
    left.legend(fontsize=7)
    ks = sorted(delta_area)
    right.plot(ks, [delta_area[k] for k in ks], marker="o")
    right.set_xlabel("K")
    right.set_ylabel("relative change in area under CDF")
    fig.suptitle(title or "Consensus clustering")
    fig.tight_layout()
    return fig


def alpha_path(tuning: pd.DataFrame, *, ax: Any = None) -> Any:
    """Held-out primary loss (+- one standard error) of every alpha tried, from ``tuning.tsv``'s alpha rows
    (:func:`~deepsubtype.tuning.alpha_path_table`): the chosen one filled, the ineligible ones (collapsed or
    beside a collapse) crossed; or a note when alpha was fixed. Returns the axes."""
    ax = ax if ax is not None else plt.subplots(figsize=(4, 3.2))[1]
    rows = tuning[tuning["parameter"] == "alpha"]
    ax.set_title("alpha path")
    if rows.empty:
        fixed = tuning["alpha"].iloc[0] if len(tuning) else "?"
        ax.text(0.5, 0.5, f"alpha fixed at {fixed}\n(no path)", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    alpha = rows["alpha"].astype(float).to_numpy()
    loss, se = rows["held_out_loss"].to_numpy(float), rows["held_out_se"].to_numpy(float)
    eligible = ~rows["criterion"].str.contains("not eligible").to_numpy()
    chosen = rows["chosen"].astype(bool).to_numpy()
    ax.errorbar(alpha, loss, yerr=se, color="0.3", lw=1, capsize=2, zorder=1)
    ax.scatter(alpha[eligible], loss[eligible], color="white", edgecolor="C0", zorder=2, label="eligible")
    ax.scatter(alpha[~eligible], loss[~eligible], color="C3", marker="x", zorder=2,
               label="collapsed or beside a collapse")
    ax.scatter(alpha[chosen], loss[chosen], color="C0", zorder=3, label=f"chosen ({alpha[chosen][0]:g})")
    positive = alpha[alpha > 0]
    ax.set_xscale("symlog", linthresh=float(positive.min()) if len(positive) else 1e-3)
    ax.set_xlabel("alpha")
    ax.set_ylabel("held-out primary loss")
    ax.legend(fontsize=7)
    return ax


def training_history(history: dict[str, Any], *, tuning: pd.DataFrame | None = None, title: str = "") -> Figure:
    """Loss parts per epoch over training (vertical lines mark phases and k-means rounds); with ``tuning``
    (``tuning.tsv``), the alpha path in a last panel (:func:`alpha_path`)."""
    steps = pd.DataFrame(history["steps"])
    parts = ["primary", "sparsity", "cluster", "total"]
    fig, axes = plt.subplots(1, len(parts) + (tuning is not None), figsize=(13 + 3.5 * (tuning is not None), 3.2))
    if tuning is not None:
        alpha_path(tuning, ax=axes[-1])
    for ax, part in zip(axes, parts, strict=False):
        ax.plot(steps["step"], steps[part], lw=1)
        for step in steps.loc[steps["phase"].ne(steps["phase"].shift()) | steps["round"].diff().fillna(0).ne(0),
                              "step"].iloc[1:]:
            ax.axvline(step, color="0.8", lw=0.6, zorder=0)
        ax.set_title(part)
        ax.set_xlabel("optimizer step")
    axes[0].set_ylabel("loss (epoch mean)")
    fig.suptitle(title or "Training history")
    fig.tight_layout()
    return fig

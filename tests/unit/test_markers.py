"""Markers per subtype: planted markers of a common and a rare cluster found, direction, views, the genes stage's
table and plot, and the summary's top markers."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from deepsubtype import DeepType, InputError
from deepsubtype.markers import MARKER_COLUMNS, MARKERS_NOTE, cluster_markers, marker_profiles, top_markers
from deepsubtype.normalize import combine_views, normalize
from deepsubtype.plots import marker_dotplot

from ..conftest import FAST_MODEL

#: Patients per cluster: a common, a middling and a rare subtype.
SIZES = (60, 30, 10)
#: Genes 0-4 raised in cluster 0, 5-9 in cluster 1, 10-14 in cluster 2 (2 SD each); gene 20 lowered in cluster 1.
LOWERED = "GENE020"


def _planted(seed: int = 0, n_genes: int = 200) -> tuple[ad.AnnData, pd.Series]:
    """A normalized cohort (log2-scale arrays, 100 patients x ``n_genes``) with planted markers, and its clusters."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(SIZES)), SIZES)
    values = rng.normal(8.0, 1.0, size=(len(labels), n_genes))
    for cluster in range(len(SIZES)):
        values[labels == cluster, cluster * 5:(cluster + 1) * 5] += 2.0
    values[labels == 1, 20] -= 2.0
    samples = [f"P{i:03d}" for i in range(len(labels))]
    raw = ad.AnnData(X=values.astype(np.float32), obs=pd.DataFrame(index=samples),
                     var=pd.DataFrame(index=[f"GENE{j:03d}" for j in range(n_genes)]))
    order = np.random.default_rng(seed + 1).permutation(len(labels))  # clusters not in row order
    clusters = pd.Series(labels[order], index=pd.Index(np.asarray(samples)[order], name="sample"), name="cluster")
    return normalize(raw, scale="log", n_top_genes=None), clusters


@pytest.fixture(scope="module")
def planted() -> tuple[ad.AnnData, pd.Series, pd.DataFrame]:
    adata, clusters = _planted()
    return adata, clusters, cluster_markers(adata, clusters)


def test_planted_markers_of_a_common_and_a_rare_cluster_lead_their_lists(planted) -> None:
    _, _, table = planted
    assert list(table.columns) == MARKER_COLUMNS
    assert list(table["cluster"].unique()) == [0, 1, 2] and len(table) == 3 * 200
    for cluster, size in enumerate(SIZES):
        rows = table[table["cluster"] == cluster]
        assert list(rows["rank"]) == list(range(1, 201))
        top = rows.head(5)
        assert set(top["gene"]) == {f"GENE{j:03d}" for j in range(cluster * 5, cluster * 5 + 5)}, (cluster, top)
        assert (top["log_fold_change"] > 1.2).all() and (top["log_fold_change"] < 3).all(), "log2 units, ~2"
        assert (top["p_adjusted"] < 0.01).all()
        assert (top["share_above_rest_median"] > 0.8).all()
        assert (rows["n_in_cluster"] == size).all() and (rows["n_in_rest"] == 100 - size).all()
        np.testing.assert_allclose(top["log_fold_change"], top["mean_in_cluster"] - top["mean_in_rest"])
    noise = table[table["gene"].isin([f"GENE{j:03d}" for j in range(30, 200)])]
    assert noise["p_adjusted"].quantile(0.1) > 0.05, "no planted signal, no small adjusted p"
    assert (table["method"] == "wilcoxon").all() and (table["note"] == MARKERS_NOTE).all()
    assert table["log_scale"].iloc[0].startswith("the input's own log scale")
    assert "not evidence that the subtypes exist" in MARKERS_NOTE


def test_a_lowered_gene_has_a_negative_fold_change_and_ranks_last(planted) -> None:
    _, _, table = planted
    lowered = table[(table["cluster"] == 1) & (table["gene"] == LOWERED)].iloc[0]
    assert lowered["log_fold_change"] < -1.2 and lowered["score"] < 0 and lowered["p_adjusted"] < 0.01
    assert lowered["share_above_rest_median"] < 0.2
    assert lowered["rank"] > 190, "scanpy orders by score: the lowered genes last (with cluster 0's raised ones)"
    assert LOWERED not in top_markers(table, 10)[1], "only raised genes are a cluster's top markers"


def test_the_t_tests_agree_and_an_unknown_test_or_missing_layer_is_refused(planted) -> None:
    adata, clusters, _ = planted
    table = cluster_markers(adata, clusters, method="t-test")
    assert set(table[table["cluster"] == 2].head(5)["gene"]) == {f"GENE{j:03d}" for j in range(10, 15)}
    with pytest.raises(InputError, match="marker test 'anova' is not one of wilcoxon"):
        cluster_markers(adata, clusters, method="anova")  # type: ignore[arg-type]
    bare = adata.copy()
    del bare.layers["log"]
    with pytest.raises(InputError, match=r"expression.h5ad: no layers\['log'\]"):
        cluster_markers(bare, clusters, source="expression.h5ad")
    stranger = pd.concat([clusters, pd.Series([0], index=["NOBODY"])])
    with pytest.raises(InputError, match="clustered sample 'NOBODY' is not in the matrix"):
        cluster_markers(adata, stranger)


def test_one_cluster_has_no_markers_and_a_single_patient_cluster_is_not_tested(planted) -> None:
    adata, clusters, _ = planted
    empty = cluster_markers(adata, clusters.map(lambda _: 0))
    assert empty.empty and list(empty.columns) == MARKER_COLUMNS
    lonely = clusters.copy()
    lonely.iloc[0] = 7
    table = cluster_markers(adata, lonely)
    assert 7 not in set(table["cluster"]) and list(table["cluster"].unique()) == [0, 1, 2]
    assert top_markers(empty) == {}
    # three patients in three clusters (issue 43 met a crash of the genes stage there; K = patients is refused
    # before training now, but a fit may still leave every cluster one patient)
    alone = cluster_markers(adata[:3], pd.Series([0, 1, 2], index=adata.obs_names[:3]))
    assert alone.empty and list(alone.columns) == MARKER_COLUMNS


def test_views_are_ranked_within_each_view_on_the_patients_that_have_it() -> None:
    expression, clusters = _planted(n_genes=40)
    other, _ = _planted(seed=5, n_genes=30)
    other = other[other.obs_names[10:]].copy()  # ten patients lack the second view
    combined = combine_views({"rna": expression, "meth": other})
    table = cluster_markers(combined, clusters)
    assert list(table.columns) == [*MARKER_COLUMNS[:3], "view", "feature", *MARKER_COLUMNS[3:]]
    for view, n_features, n_patients in (("rna", 40, 100), ("meth", 30, 90)):
        rows = table[(table["view"] == view) & (table["cluster"] == 2)]
        assert list(rows["rank"]) == list(range(1, n_features + 1))
        assert (rows["n_in_cluster"] + rows["n_in_rest"] == n_patients).all()
        assert set(rows.head(5)["feature"]) == {f"GENE{j:03d}" for j in range(10, 15)}
        assert rows["gene"].str.startswith(f"{view}:").all()
    assert np.isfinite(table[["score", "p_value", "log_fold_change", "share_above_rest_median"]]).all().all()
    assert table["view"].iloc[0] == "rna" and table["view"].iloc[40] == "meth", "a cluster's views in order"
    assert all(gene.split(":")[0] in ("rna", "meth") for genes in top_markers(table).values() for gene in genes)


def test_the_dot_plot_shows_each_clusters_top_markers(planted) -> None:
    adata, clusters, table = planted
    shown = top_markers(table, 5)
    mean, share = marker_profiles(adata, clusters, [gene for genes in shown.values() for gene in genes])
    assert mean.shape == (15, 3) and list(mean.columns) == [0, 1, 2]
    assert mean.loc["GENE012", 2] > 1.0 and share.loc["GENE012", 2] > 0.8 and share.loc["GENE012", 0] < 0.6
    figure = marker_dotplot(shown, mean, share)
    assert isinstance(figure, Figure)
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert labels == [gene for genes in shown.values() for gene in genes]
    assert "descriptive" in figure.axes[0].get_title()
    empty = marker_dotplot({}, pd.DataFrame(columns=[0]), pd.DataFrame(columns=[0]))
    assert isinstance(empty, Figure)


@pytest.fixture(scope="module")
def stage_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The genes stage with markers on the planted cohort, run once through the command line."""
    from deepsubtype.cli import main

    directory = tmp_path_factory.mktemp("markers")
    adata, clusters = _planted(n_genes=60)
    adata.write_h5ad(directory / "normalized.h5ad")
    clusters.reset_index().to_csv(directory / "clusters.tsv", sep="\t", index=False)
    settings = {**FAST_MODEL, "hidden_layers": (16, 8), "pretrain_steps": 30, "joint_steps": 5, "max_rounds": 1,
                "n_clusters": 3, "device": "cpu", "task": "reconstruction"}
    DeepType(**settings).fit(adata).save(directory / "model")  # type: ignore[arg-type]
    assert main(["genes", str(directory / "model"), str(directory / "gene_importance.tsv"),
                 "--normalized", str(directory / "normalized.h5ad"), "--clusters", str(directory / "clusters.tsv"),
                 "--markers", str(directory / "markers.tsv"), "--markers-plot",
                 str(directory / "plots" / "markers.png")]) == 0
    return directory


def test_the_genes_stage_writes_the_marker_table_and_plot(stage_outputs: Path) -> None:
    table = pd.read_csv(stage_outputs / "markers.tsv", sep="\t")
    assert list(table.columns) == MARKER_COLUMNS and len(table) == 3 * 60
    assert set(table[table["cluster"] == 2].head(5)["gene"]) == {f"GENE{j:03d}" for j in range(10, 15)}
    assert (table["note"] == MARKERS_NOTE).all()
    with Image.open(stage_outputs / "plots" / "markers.png") as image:
        image.verify()
        assert image.size[0] > 500 and image.size[1] > 500


def test_markers_need_the_matrix_and_the_clusters(stage_outputs: Path, tmp_path: Path, capsys) -> None:
    from deepsubtype.cli import main

    assert main(["genes", str(stage_outputs / "model"), str(tmp_path / "genes.tsv"), "--markers",
                 str(tmp_path / "markers.tsv")]) == 2
    assert "the markers need the normalized matrix and the clusters" in capsys.readouterr().err
    stranger = pd.concat([pd.read_csv(stage_outputs / "clusters.tsv", sep="\t"),
                          pd.DataFrame({"sample": ["NOBODY"], "cluster": [0]})])
    stranger.to_csv(tmp_path / "clusters.tsv", sep="\t", index=False)
    assert main(["genes", str(stage_outputs / "model"), str(tmp_path / "genes.tsv"), "--normalized",
                 str(stage_outputs / "normalized.h5ad"), "--clusters", str(tmp_path / "clusters.tsv"), "--markers",
                 str(tmp_path / "markers.tsv")]) == 2
    assert "clusters.tsv: sample 'NOBODY' is not in" in capsys.readouterr().err
    assert not (tmp_path / "markers.tsv").exists() and not (tmp_path / "genes.tsv").exists()


def test_the_summary_shows_each_clusters_top_three_markers(stage_outputs: Path, tmp_path: Path) -> None:
    from deepsubtype.stages import summary_stage

    files = {"clusters": stage_outputs / "clusters.tsv", "markers": stage_outputs / "markers.tsv"}
    table = summary_stage({"planted": {"files": files}}, tmp_path / "summary.tsv", tmp_path / "summary.rst")
    markers = table["top_markers"].iloc[0]
    assert markers.count(";") == 2 and markers.startswith("0: GENE00")
    parts = {cluster: genes.split(", ") for cluster, genes in (part.split(": ") for part in markers.split("; "))}
    assert list(parts) == ["0", "1", "2"]
    for cluster, genes in parts.items():
        planted_genes = {f"GENE{j:03d}" for j in range(int(cluster) * 5, int(cluster) * 5 + 5)}
        assert len(genes) == 3 and set(genes) <= planted_genes, (cluster, genes)
    page = (tmp_path / "summary.rst").read_text()
    assert f"   * - top markers per subtype (raised in the cluster against the rest; descriptive: clusters found " \
           f"on these data)\n     - {markers}\n" in page
    assert summary_stage({"bare": {"files": {"clusters": files["clusters"]}}}, tmp_path / "bare.tsv")[
        "top_markers"].iloc[0] == ""

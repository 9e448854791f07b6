"""Export the GSE4335 breast-cancer cohort from SurvSet into plain files.

Run once, by hand, to (re)create the bundled demo cohort::

    pip install SurvSet==0.2.11
    python resources/gse4335/export_from_survset.py

Writes, beside this script:

- ``expression.tsv.gz``: samples x genes, first column ``sample``, gene symbols as
  column names, log2 ratios exactly as SurvSet packages them (float, 6 decimals).
- ``clinical.tsv``: one row per sample; ``NA`` marks a missing value.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from SurvSet.data import SurvLoader

HERE = Path(__file__).resolve().parent
GENE_PREFIX = "num_HS_"
ER_STATUS = {"1": "positive", "0": "negative"}  # source column: "ER status (0 neg, 1 pos)"


def main() -> None:
    frame = SurvLoader().load_dataset(ds_name="gse4335")["df"].set_index("pid")
    frame.index.name = "sample"

    gene_columns = [c for c in frame.columns if c.startswith(GENE_PREFIX)]
    expression = frame[gene_columns].rename(columns=lambda c: c.removeprefix(GENE_PREFIX))
    expression.to_csv(HERE / "expression.tsv.gz", sep="\t", float_format="%.6f",
                      compression={"method": "gzip", "mtime": 0})

    missing = {"na", "x"}  # SurvSet's "na"; "x" is TNM for "cannot be assessed"
    clinical = pd.DataFrame(
        {
            "er_status": frame["fac_er_status"].map(ER_STATUS),
            "grade": frame["fac_grade"].where(~frame["fac_grade"].isin(missing)),
            "node_status": frame["fac_node_status"].where(~frame["fac_node_status"].isin(missing)),
            "tumor_size": frame["fac_tumor_size"].where(~frame["fac_tumor_size"].isin(missing)),
            "metastasis": frame["fac_metastasis"],
            "histology": frame["fac_histology"],
            "age": frame["num_age"],
            "time": frame["time"],
            "event": frame["event"],
        },
        index=frame.index,
    )
    clinical.to_csv(HERE / "clinical.tsv", sep="\t", na_rep="NA")
    print(f"expression: {expression.shape[0]} samples x {expression.shape[1]} genes")
    print(f"clinical: {clinical.shape[0]} samples x {clinical.shape[1]} columns")


if __name__ == "__main__":
    main()

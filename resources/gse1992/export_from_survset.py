"""Export the GSE1992 breast-cancer cohort from SurvSet into plain files.

Run once, by hand, to (re)create the bundled validation cohort::

    pip install SurvSet==0.2.11
    python resources/gse1992/export_from_survset.py

Writes, beside this script:

- ``expression.tsv.gz``: samples x genes, first column ``sample``, gene symbols as
  column names, log2 ratios exactly as SurvSet packages them (float, 6 decimals).
- ``clinical.tsv``: one row per sample; ``NA`` marks a missing value. Column names
  follow ``resources/gse4335/clinical.tsv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from SurvSet.data import SurvLoader

HERE = Path(__file__).resolve().parent
GENE_PREFIX = "num_HS_"
ER_STATUS = {"1": "positive", "0": "negative"}  # source column: "ER (1 positive, 0 negative)"
MISSING = "missing"  # SurvSet's code for a missing factor level


def _factor(column: pd.Series) -> pd.Series:
    return column.where(column != MISSING)


def main() -> None:
    frame = SurvLoader().load_dataset(ds_name="gse1992")["df"].set_index("pid")
    frame.index.name = "sample"

    gene_columns = [c for c in frame.columns if c.startswith(GENE_PREFIX)]
    expression = frame[gene_columns].rename(columns=lambda c: c.removeprefix(GENE_PREFIX))
    expression.to_csv(HERE / "expression.tsv.gz", sep="\t", float_format="%.6f",
                      compression={"method": "gzip", "mtime": 0})

    clinical = pd.DataFrame(
        {
            "er_status": _factor(frame["fac_er_positive"]).map(ER_STATUS),
            "grade": _factor(frame["fac_grade"]),
            "node_status": _factor(frame["fac_node_status"]),
            # T category 1-4 (source "Size": 1 <= 2 cm, 2 > 2-5 cm, 3 > 5 cm, 4 extension to chest
            # wall or skin); SurvSet's num_size repeats it as a number and is not exported.
            "tumor_size": _factor(frame["fac_size"]),
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

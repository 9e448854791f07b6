# Export the TCGA adrenocortical carcinoma "miniACC" cohort into plain files.
#
# Run once, by hand, to (re)create the bundled demo cohort (Debian/Ubuntu):
#
#     apt-get install -y r-bioc-multiassayexperiment   # 1.24.0+dfsg-2 was used
#     Rscript resources/miniacc/export_miniacc.R
#
# Reads `miniACC` (a MultiAssayExperiment) from the installed package's
# data/miniACC.RData and writes, beside this script:
#
# - one TSV per assay: samples x features, first column `sample` (the TCGA
#   patient id, e.g. TCGA-OR-A5J1, mapped from the assay's aliquot barcodes
#   through the sampleMap), feature names as column names, only the patients
#   the assay has, rows sorted by patient id:
#     rnaseq.tsv    <- RNASeq2GeneNorm
#     gistict.tsv   <- gistict
#     rppa.tsv      <- RPPAArray
#     mutations.tsv <- Mutations
#     mirna.tsv     <- miRNASeqGene
# - clinical.tsv: one row per patient (92): survival (`time` in days, `event`
#   1 = dead), age, gender, stage, histology and the published subtypes.
#
# Output is deterministic: fixed row order (C-locale sort of patient ids),
# fixed column order (the object's feature order), integers written as
# integers and doubles with sprintf("%.12g") (12 significant digits: exact for
# every value except 233 RPPA entries, where it drops floating-point noise
# below a relative 2e-13), missing values as NA, "\n" line endings.

suppressPackageStartupMessages(library(MultiAssayExperiment))

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script) == 1) dirname(normalizePath(script)) else getwd()

rdata <- system.file("data", "miniACC.RData", package = "MultiAssayExperiment")
stopifnot(nzchar(rdata))
env <- new.env()
load(rdata, envir = env)
mae <- env$miniACC

VIEWS <- c(
    rnaseq    = "RNASeq2GeneNorm",
    gistict   = "gistict",
    rppa      = "RPPAArray",
    mutations = "Mutations",
    mirna     = "miRNASeqGene"
)
stopifnot(setequal(names(experiments(mae)), VIEWS))

patients <- sort(rownames(colData(mae)), method = "radix")
stopifnot(length(patients) == 92, !anyDuplicated(patients))

fmt_double <- function(x) ifelse(is.na(x), "NA", sprintf("%.12g", x))

fmt_column <- function(x) {
    if (is.logical(x)) x <- as.integer(x)
    if (is.integer(x)) return(ifelse(is.na(x), "NA", as.character(x)))
    if (is.numeric(x)) {
        if (all(is.na(x) | x == round(x)) && all(abs(x) < .Machine$integer.max, na.rm = TRUE))
            return(ifelse(is.na(x), "NA", sprintf("%d", as.integer(round(x)))))
        return(fmt_double(x))
    }
    x <- as.character(x)
    stopifnot(!any(grepl("[\t\n\r]", x)))
    ifelse(is.na(x), "NA", x)
}

write_tsv <- function(frame, path) {
    out <- vapply(frame, fmt_column, character(nrow(frame)))
    if (is.null(dim(out))) out <- matrix(out, nrow = 1)
    lines <- c(paste(names(frame), collapse = "\t"),
               apply(out, 1, paste, collapse = "\t"))
    con <- file(path, open = "wb")
    on.exit(close(con))
    writeLines(lines, con, sep = "\n", useBytes = TRUE)
}

smap <- as.data.frame(sampleMap(mae))
for (file in names(VIEWS)) {
    name <- VIEWS[[file]]
    x <- experiments(mae)[[name]]
    m <- if (is.matrix(x)) x else assay(x, 1)
    m <- as.matrix(m)
    map <- smap[smap$assay == name, ]
    stopifnot(setequal(map$colname, colnames(m)),
              !anyDuplicated(map$primary),        # one sample per patient
              all(map$primary %in% patients),
              !anyDuplicated(rownames(m)))
    ids <- map$primary[match(colnames(m), map$colname)]
    order_ <- order(ids, method = "radix")
    values <- t(m[, order_, drop = FALSE])
    frame <- data.frame(sample = ids[order_], values, check.names = FALSE,
                        stringsAsFactors = FALSE)
    write_tsv(frame, file.path(here, paste0(file, ".tsv")))
    cat(sprintf("%-10s %-16s %3d patients x %3d features, range [%g, %g]\n",
                file, name, nrow(values), ncol(values),
                min(values, na.rm = TRUE), max(values, na.rm = TRUE)))
}

cd <- as.data.frame(colData(mae))[patients, ]
stopifnot(all(cd$vital_status %in% c(0L, 1L)))
dead <- cd$vital_status == 1L
clinical <- data.frame(
    sample            = patients,
    time              = ifelse(dead, cd$days_to_death, cd$days_to_last_followup),
    event             = as.integer(cd$vital_status),
    age               = cd$years_to_birth,
    gender            = cd$gender,
    pathologic_stage  = cd$pathologic_stage,
    pathology_T_stage = cd$pathology_T_stage,
    pathology_N_stage = cd$pathology_N_stage,
    histology         = cd$Histology,
    C1A_C1B           = cd$C1A.C1B,
    COC               = cd$COC,
    mRNA_K4           = cd$mRNA_K4,
    MethyLevel        = cd$MethyLevel,
    miRNA_cluster     = cd$miRNA.cluster,
    SCNA_cluster      = cd$SCNA.cluster,
    protein_cluster   = cd$protein.cluster,
    OncoSign          = cd$OncoSign,
    purity            = cd$purity,
    ploidy            = cd$ploidy,
    genome_doublings  = cd$genome_doublings,
    ADS               = cd$ADS,
    stringsAsFactors  = FALSE
)
stopifnot(!anyNA(clinical$time), !anyNA(clinical$event))
write_tsv(clinical, file.path(here, "clinical.tsv"))
cat(sprintf("clinical   %d patients x %d columns, %d deaths\n",
            nrow(clinical), ncol(clinical) - 1, sum(clinical$event)))

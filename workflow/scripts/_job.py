"""The frame every workflow script runs its stage in: the adapter between Snakemake's ``snakemake`` object and
the library, kept with the scripts so that the library never knows Snakemake (Snakemake puts this directory on
the scripts' ``sys.path``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from deepsubtype._allocator import keep_freed_memory
from deepsubtype.io import InputError
from deepsubtype.stages import check_checkout_library, errors_naming, imported_names, logging_to, write_provenance


@contextlib.contextmanager
def snakemake_job(snakemake: Any) -> Iterator[None]:
    """Log to the rule's log file; once the body succeeded, write the rule's ``provenance`` output for all its
    other outputs (:func:`deepsubtype.stages.write_provenance`).

    Refuses to run when the ``deepsubtype`` imported is not the workflow checkout's own ``src/deepsubtype``
    (an installed copy of another version shadowing it). Bad input ends the job with its one line on the
    console (and in the log), no traceback, naming an imported cohort's study or series matrix rather than the
    files its import wrote (:func:`deepsubtype.stages.imported_names`). The job's allocator keeps freed memory
    for reuse (:func:`deepsubtype._allocator.keep_freed_memory`)."""
    keep_freed_memory()
    cohort = snakemake.wildcards.get("cohort")
    names = imported_names(cohort, snakemake.config["cohorts"].get(cohort, {})) if cohort else {}
    try:
        with logging_to(snakemake.log[0]), errors_naming(names):
            check_checkout_library(snakemake.scriptdir)
            yield
            provenance = snakemake.output.provenance
            cohort = snakemake.wildcards.get("cohort")
            settings = {
                "seed": snakemake.config.get("seed"),
                "wildcards": dict(snakemake.wildcards.items()),
                "params": dict(snakemake.params.items()),
                "cohort_config": snakemake.config.get("cohorts", {}).get(cohort) if cohort else None,
            }
            write_provenance(provenance, stage=snakemake.rule, settings=settings, inputs=list(snakemake.input),
                             outputs=[output for output in snakemake.output if output != provenance])
    except InputError as error:
        raise SystemExit(f"InputError: {error}") from None

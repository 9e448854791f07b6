"""deepsubtype: cancer subtypes from omics cohorts with DeepType.

The stages follow the data: :mod:`~deepsubtype.io` (read and align),
:mod:`~deepsubtype.normalize`, :mod:`~deepsubtype.model` and the
:class:`DeepType` estimator (train; :mod:`~deepsubtype.tuning` chooses alpha and
beta; :class:`~deepsubtype.ensemble.DeepTypeEnsemble` combines several seeds),
:mod:`~deepsubtype.cluster`, :mod:`~deepsubtype.importance`,
:mod:`~deepsubtype.survival`, :mod:`~deepsubtype.validation` (out-of-fold),
:mod:`~deepsubtype.compare` (baselines), :mod:`~deepsubtype.plots`;
:mod:`~deepsubtype.stages` runs each pipeline stage from files to files, for
Snakemake and the ``deepsubtype`` command line.
"""

__version__ = "0.1.0"

from ._lazy import lazy_exports

__all__ = ["DeepType", "DeepTypeEnsemble", "InputError", "PAPER_HYPERPARAMETERS", "__version__", "load_model"]

#: Public names and the modules they live in, imported on first use (``import deepsubtype.schema`` stays light).
_EXPORTS = {"DeepType": ".estimator", "PAPER_HYPERPARAMETERS": ".estimator", "DeepTypeEnsemble": ".ensemble",
            "load_model": ".ensemble", "InputError": ".errors"}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)

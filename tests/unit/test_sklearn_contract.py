"""scikit-learn's estimator checks, on a small network so that they run in seconds."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from deepsubtype import DeepType

# alpha stays "auto" (the default), its branches half as long as the pretraining: the checks fit hundreds of times
_SMALL = dict(hidden_layers=(8,), pretrain_steps=20, path_steps=10, joint_steps=5, max_rounds=2, kmeans_n_init=2,
              device="cpu", n_clusters=2)

_NEEDS_LABELS = {
    "check_clustering": "fits a clusterer without y; a supervised primary task needs y "
                        "(the same check runs on task='reconstruction')",
}


def _expected_failures(estimator: DeepType) -> dict[str, str]:
    return {} if estimator.task == "reconstruction" else _NEEDS_LABELS


@parametrize_with_checks([DeepType(**_SMALL), DeepType(task="reconstruction", **_SMALL)],
                         expected_failed_checks=_expected_failures)
def test_scikit_learn_contract(estimator, check) -> None:
    check(estimator)

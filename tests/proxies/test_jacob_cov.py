"""jacob_cov (Mellor et al. 2020): decorrelation of the samples' input Jacobians."""

from __future__ import annotations

from proxies import PROXIES
from tests.proxies.conftest import linear, mlp


def test_a_linear_model_with_identical_jacobians_scores_below_a_relu_net(flat_batch) -> None:
    # Every sample of a linear model has the same Jacobian: a rank-one correlation matrix, whose
    # zero eigenvalues cost 1/k each; a ReLU net gives each sample its own linear region.
    flat = PROXIES.get("jacob_cov")(linear(), flat_batch)
    relu = PROXIES.get("jacob_cov")(mlp(), flat_batch)
    n = flat_batch.targets.shape[0]
    assert flat < -(n - 1) * 1e5 * 0.99
    assert relu > flat

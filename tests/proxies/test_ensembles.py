"""Rank-average and majority-vote ensembles (Abdelfattah et al. 2021); log-rank sum (AZ-NAS 2024)."""

from __future__ import annotations

import numpy as np
import pytest

from proxies.ensembles import (
    log_rank_sum,
    majority_vote,
    majority_vote_share,
    rank_average,
    rank_average_share,
)


def test_rank_average_is_invariant_to_each_proxys_scale() -> None:
    a = [3.0, 1.0, 2.0, 5.0]
    b = [0.2, 0.1, 0.4, 0.3]
    assert rank_average({"a": a, "b": b}).tolist() == rank_average({"a": [x * 1e6 for x in a],
                                                                     "b": np.exp(b).tolist()}).tolist()
    assert np.argmax(rank_average({"a": a, "b": b})) == 3


def test_majority_vote_overrules_one_dissenting_proxy() -> None:
    scores = {"a": [1, 2, 3, 4], "b": [1, 2, 3, 4], "c": [4, 3, 2, 1]}
    assert majority_vote(scores).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert majority_vote_share(scores, 3) == 1.0
    assert majority_vote_share(scores, 1) == pytest.approx(1 / 3)


def test_missing_scores_rank_lowest_and_shares_match_the_full_ranking() -> None:
    scores = {"a": [None, 2.0, 1.0, float("nan")], "b": [3.0, 2.0, 1.0, 0.0]}
    full = rank_average(scores)
    assert full[1] == full.max()
    assert [rank_average_share(scores, i) for i in range(4)] == full.tolist()
    with pytest.raises(ValueError, match="one score per architecture"):
        rank_average({"a": [1.0], "b": [1.0, 2.0]})


def test_log_rank_sum_punishes_one_bad_rank_more_than_the_rank_average_does() -> None:
    # arch 0: middling on both proxies; arch 1: best on one, worst on the other
    scores = {"a": [2.0, 3.0, 1.0], "b": [2.0, 1.0, 3.0]}
    assert rank_average(scores)[0] == rank_average(scores)[1]
    combined = log_rank_sum(scores)
    assert combined[0] > combined[1]
    assert log_rank_sum({"a": [None, 1.0, 2.0]}).tolist() == pytest.approx(np.log([1 / 3, 2 / 3, 1]))


def test_every_named_ensemble_uses_a_known_rule_and_registered_proxies() -> None:
    from proxies import PROXIES
    from proxies.ensembles import ENSEMBLES, NAMED_ENSEMBLES

    for name, named in NAMED_ENSEMBLES.items():
        assert named.rule in ENSEMBLES, name
        assert len(named.proxies) >= 2 and all(p in PROXIES for p in named.proxies), name

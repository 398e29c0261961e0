"""A predictor fitted on a few labelled NAS-Bench-201 architectures ranks others from the table."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from nas.predictors import MODELS, PerformancePredictor, create_model
from nas.tasks.nb201 import load_table
from search_spaces import create_space
from search_spaces.nb201 import arch_from_string


@pytest.fixture(scope="module")
def sample(data_dir):
    table = load_table(data_dir)
    rows = np.random.default_rng(0).permutation(len(table.arch))[:360]
    archs = [arch_from_string(table.arch[int(r)]) for r in rows]
    return archs, table.columns["cifar10_test"][rows]


@pytest.mark.parametrize("model", ["pairwise", "gp"])
def test_sixty_labels_rank_three_hundred_others(model, sample):
    archs, accuracy = sample
    predictor = PerformancePredictor(create_space("nb201"), model=model, seed=0)
    predictor.fit(archs[:60], accuracy[:60])
    rho = spearmanr(predictor.predict(archs[60:]), accuracy[60:]).statistic
    # a predictor that learned nothing would give ~0
    assert rho > 0.8


def test_proxy_columns_join_the_features_and_missing_ones_are_filled(sample):
    archs, accuracy = sample
    space = create_space("nb201")
    extra = accuracy[:, None] + np.random.default_rng(1).normal(0, 0.1, (len(accuracy), 1))
    extra[5, 0] = np.nan  # a proxy that failed on one architecture
    predictor = PerformancePredictor(space, model="gp", seed=0)
    predictor.fit(archs[:40], accuracy[:40], extra=extra[:40])
    assert predictor.features(archs[:2], extra[:2]).shape[1] == \
        PerformancePredictor(space).features(archs[:2]).shape[1] + 1
    scores = predictor.predict(archs[40:], extra=extra[40:])
    # an almost perfect extra column makes an almost perfect ranking
    assert np.all(np.isfinite(scores)) and spearmanr(scores, accuracy[40:]).statistic > 0.9


def test_unknown_model_names_the_allowed_ones():
    with pytest.raises(ValueError, match=", ".join(MODELS)):
        create_model("mlp")

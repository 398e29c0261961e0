"""Learning-rate schedules of the shared training loop: what the optimiser really steps with."""

from __future__ import annotations

import pytest
from torch.optim.optimizer import register_optimizer_step_post_hook

from nas.errors import ConfigError
from nas.evaluators.train import TrainEvaluator
from nas.tasks import create_task
from nas.train import TrainSettings, lr_factor, train_model
from search_spaces import create_space

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _stepped_lrs(settings: TrainSettings) -> list[float]:
    """Train a real charlm on the synthetic token stream; the lr of every optimiser step."""
    task = create_task("synthetic-seq", seq_len=16, batch_size=4, steps_per_epoch=5,
                       eval_tokens=256)
    space = create_space("charlm")
    spec = task.prepare("cpu")
    model = space.build(space.smallest(), spec)
    seen: list[float] = []
    hook = register_optimizer_step_post_hook(
        lambda optimizer, args, kwargs: seen.append(optimizer.param_groups[0]["lr"]))
    try:
        train_model(model, task, settings, seed=0)
    finally:
        hook.remove()
    return seen


def test_cosine_warms_up_then_decays_to_zero_over_every_step():
    lrs = _stepped_lrs(TrainSettings(epochs=4, patience=4, lr=0.01, schedule="cosine", warmup=0.2))
    assert len(lrs) == 20  # 4 epochs of 5 steps: the schedule spans the whole run
    peak = lrs.index(max(lrs))
    assert peak == 4 and max(lrs) == pytest.approx(0.01, rel=0.05)
    assert lrs[:peak + 1] == sorted(lrs[:peak + 1]), "linear warm-up"
    assert lrs[peak:] == sorted(lrs[peak:], reverse=True), "cosine decay"
    assert lrs[-1] < 0.001


def test_onecycle_starts_at_a_25th_and_ends_near_zero():
    lrs = _stepped_lrs(TrainSettings(epochs=2, patience=2, lr=0.1, schedule="onecycle"))
    assert lrs[0] == pytest.approx(0.1 / 25)
    assert max(lrs) == pytest.approx(0.1, rel=0.1)
    assert lrs[-1] < 0.01


def test_constant_is_the_default_and_leaves_the_lr_alone():
    assert set(_stepped_lrs(TrainSettings(epochs=2, patience=2, lr=0.003))) == {0.003}


def test_schedule_shapes():
    assert lr_factor("cosine", 0.0) == 1.0 and lr_factor("cosine", 1.0) == pytest.approx(0.0)
    assert lr_factor("cosine", 0.05, warmup=0.1) == pytest.approx(0.5)
    assert lr_factor("onecycle", 0.3) == pytest.approx(1.0)
    assert lr_factor("onecycle", 0.1, warmup=0.1) == pytest.approx(1.0)
    assert lr_factor("constant", 0.5, warmup=0.0) == 1.0


@pytest.mark.parametrize(("params", "message"), [
    ({"schedule": "linear"}, "schedule: 'linear' is not allowed; allowed: constant, cosine, onecycle"),
    ({"warmup": 1.5}, "warmup: the share of steps warming up must be below 1"),
    ({"warmup": -0.1}, "warmup: must be positive"),
])
def test_a_bad_schedule_is_a_one_line_error_naming_the_key(params, message):
    with pytest.raises(ConfigError, match=message):
        TrainEvaluator(create_space("charlm"), create_task("synthetic-seq"), params=params)


def test_evaluations_log_their_epoch_and_the_best_so_far(caplog, monkeypatch):
    with caplog.at_level("INFO", logger="nas.train"):
        _stepped_lrs(TrainSettings(epochs=6, patience=6, lr=0.003, eval_every=2))
    lines = [r.getMessage() for r in caplog.records if r.name == "nas.train"]
    # a fast training says only its first and last evaluation
    assert [line.split(":")[0] for line in lines] == ["epoch 2/6", "epoch 6/6"]
    assert all(" (best " in line and line.endswith(" s") for line in lines)
    caplog.clear()
    monkeypatch.setattr("nas.train.LOG_EVERY_S", 0.0)  # a slow one says every evaluation
    with caplog.at_level("INFO", logger="nas.train"):
        _stepped_lrs(TrainSettings(epochs=6, patience=6, lr=0.003, eval_every=2))
    lines = [r.getMessage() for r in caplog.records if r.name == "nas.train"]
    assert [line.split(":")[0] for line in lines] == ["epoch 2/6", "epoch 4/6", "epoch 6/6"]

"""``nas bench supernet`` overrides: learning rate and batch size reach the supernet and the task."""

from __future__ import annotations

from nas.supernet_ranking import preset_for, with_overrides
from nas.tasks import create_task
from supernets.training import SupernetSettings


def test_lr_and_batch_size_override_the_preset(data_dir) -> None:
    preset = preset_for("nb201", "cifar10-subset")
    changed = with_overrides(preset, lr=0.2, batch_size=32, epochs=3)
    settings = SupernetSettings.from_mapping(changed.supernet)
    assert (settings.lr, settings.epochs) == (0.2, 3)
    assert settings.sampling == SupernetSettings.from_mapping(preset.supernet).sampling
    task = create_task("cifar10-subset", seed=0, data_dir=str(data_dir), **changed.task_params)
    task.prepare("cpu")
    first = next(iter(task.train_batches(1)))
    assert first.inputs[0].shape[0] == 32


def test_unset_overrides_keep_the_preset() -> None:
    preset = preset_for("nb201", "cifar10-subset")
    assert with_overrides(preset, lr=None, batch_size=None, epochs=None) == preset

"""``nas bench supernet``: overrides reach the supernet and the task; the seeded architectures."""

from __future__ import annotations

from nas.bench.supernet_ranking import preset_for, seeded_archs, with_overrides
from nas.supernet.trainer import SupernetSettings
from nas.tasks import create_task


def test_lr_and_batch_size_override_the_preset(data_dir) -> None:
    preset = preset_for("nb201", "cifar10-subset")
    changed = with_overrides(preset, lr=0.2, batch_size=32, epochs=3, image_size=8)
    settings = SupernetSettings.from_mapping(changed.supernet)
    assert (settings.lr, settings.epochs) == (0.2, 3)
    assert settings.sampling == SupernetSettings.from_mapping(preset.supernet).sampling
    task = create_task("cifar10-subset", seed=0, data_dir=str(data_dir), **changed.task_params)
    task.prepare("cpu")
    first = next(iter(task.train_batches(1)))
    assert first.inputs[0].shape[:3] == (32, 3, 8)


def test_seeded_archs_are_distinct_and_as_many_as_asked() -> None:
    from search_spaces import create_space

    space = create_space("nb201", {})
    archs = seeded_archs(space, 200, seed=0)  # 200 plain draws hold a duplicate
    assert len(archs) == len(set(archs)) == 200
    assert archs[:50] == seeded_archs(space, 50, seed=0)
    only_edge_0 = {f"edge_{k}": ["none"] for k in range(1, 6)}
    tiny = create_space("nb201", {**only_edge_0, "edge_0": ["none", "skip_connect"]})
    assert len(seeded_archs(tiny, 5, seed=0)) == 2  # only two exist


def test_unset_overrides_keep_the_preset() -> None:
    preset = preset_for("nb201", "cifar10-subset")
    assert with_overrides(preset, lr=None, batch_size=None, epochs=None) == preset


def test_a_longer_standalone_budget_keeps_a_preset_without_early_stopping_without_it() -> None:
    charlm = preset_for("charlm", "tinyshakespeare")
    assert charlm.standalone_patience >= charlm.standalone_epochs  # no early stopping
    longer = with_overrides(charlm, standalone_epochs=100)
    assert (longer.standalone_epochs, longer.standalone_patience) == (100, 100)
    assert with_overrides(charlm, standalone_epochs=100, standalone_patience=5).standalone_patience == 5
    nb201 = preset_for("nb201", "cifar10-subset")  # patience 20 of 50: early stopping stays
    assert with_overrides(nb201, standalone_epochs=80).standalone_patience == nb201.standalone_patience


def test_space_choices_merge_over_the_presets_narrowing() -> None:
    vit = preset_for("vit", "cifar10-subset")
    wider = with_overrides(vit, space_choices={"depth": [1, 6], "embed_dim": [48, 192]})
    assert wider.space_choices == {**vit.space_choices, "depth": [1, 6], "embed_dim": [48, 192]}
    assert wider.space_choices["patch_size"] == vit.space_choices["patch_size"]  # kept
    assert with_overrides(vit, space_choices=None) == vit

"""``nas bench supernet`` presets small enough for a test: seconds, not hours, per run."""

from __future__ import annotations

from nas.bench.supernet_ranking import Preset

TINY_VIT = Preset(
    space_choices={"patch_size": [8], "depth": [1, 2], "embed_dim": [48]},
    task_params={"batch_size": 32, "train_size": 64, "val_size": 32},
    supernet={"epochs": 1, "max_batches": 2, "sampling": "sandwich", "n_random": 1},
    standalone_epochs=1, standalone_patience=1, standalone_seeds=3, bn_batches=1,
)
TINY_CHARLM = Preset(
    space_choices={"num_layers": [1, 2], "model_dim": [32]},
    task_params={"seq_len": 16, "batch_size": 8, "steps_per_epoch": 3, "eval_tokens": 512},
    supernet={"epochs": 1, "sampling": "sandwich", "n_random": 1, "grad_clip": 1.0},
    standalone_epochs=1, standalone_patience=1, standalone_seeds=2, standalone_grad_clip=1.0,
    bn_batches=1,
)

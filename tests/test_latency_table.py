"""The per-device latency lookup table: decompositions that chain to the real forward pass,
calibration cached on disk, predictions, `nas latency calibrate`, and `predicted_latency`
as a study objective."""

from __future__ import annotations

import json
import sqlite3

import pytest
import torch

from nas.errors import ConfigError
from nas.latency.table import (
    _seeded_archs,
    calibrate,
    ensure_table,
    latency_spaces,
    load_table,
    predict_latency,
    table_covers,
    table_path,
    unit_keys,
)
from search_spaces import TaskSpec, create_space

SEQUENCE = TaskSpec("sequence", 16, 16, 16)
IMAGE = TaskSpec("image", 3, 10, 32)
FAST = dict(repeats=3, warmup=1, reference_archs=4)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_spaces_with_units_are_the_elastic_ones():
    assert latency_spaces() == ["charlm", "mobilenet", "vit"]


@pytest.mark.parametrize("name", latency_spaces())
def test_units_chained_in_order_are_the_forward_pass(name):
    space = create_space(name)
    spec = {"sequence": SEQUENCE, "image": IMAGE}[space.families[0]]
    for arch in [space.smallest(), *_seeded_archs(space, 2, seed=1)]:
        model = space.build(arch, spec).eval()
        example = space.latency_input(spec, 1)
        chain = space.latency_units(model, arch, spec)
        assert [key for key, _run in chain] == unit_keys(name, arch, spec)
        with torch.no_grad():
            x = example
            for _key, run in chain:
                x = run(x)
            assert torch.allclose(x, model(example), atol=1e-5)


def test_calibrate_measures_every_unit_once_and_caches_the_table(tmp_path):
    space = create_space("charlm")
    table = calibrate("charlm", SEQUENCE, cache_dir=tmp_path, **FAST)
    path = table_path("charlm", SEQUENCE, cache_dir=tmp_path)
    assert path.is_file() and json.loads(path.read_text())["space"] == "charlm"
    assert load_table("charlm", SEQUENCE, cache_dir=tmp_path) == table
    assert table.clock == "cpu" and table.device.endswith("-t1")
    for arch in _seeded_archs(space, 20, seed=3):
        assert all(key in table.units for key in unit_keys("charlm", arch, SEQUENCE))
    smallest = predict_latency("charlm", space.smallest(), SEQUENCE, cache_dir=tmp_path)
    largest = predict_latency(space, space.largest(), SEQUENCE, table=table)
    assert 0 < smallest < largest


def test_prediction_without_a_table_says_how_to_calibrate(tmp_path):
    space = create_space("vit")
    with pytest.raises(ConfigError, match="nas latency calibrate --space vit"):
        predict_latency(space, space.smallest(), IMAGE, cache_dir=tmp_path)


def test_ensure_table_calibrates_once_and_again_for_uncovered_overrides(tmp_path):
    first = ensure_table("charlm", SEQUENCE, repeats=3, cache_dir=tmp_path)
    path = table_path("charlm", SEQUENCE, cache_dir=tmp_path)
    stamp = path.stat().st_mtime_ns
    assert ensure_table(create_space("charlm", {"model_dim": [64]}), SEQUENCE,
                        cache_dir=tmp_path) == first
    assert path.stat().st_mtime_ns == stamp  # narrowed choices: the cached table serves
    widened = create_space("charlm", {"model_dim": [48], "layer1_heads": [3], "num_layers": 1})
    assert not table_covers(first, widened, SEQUENCE)
    table = ensure_table(widened, SEQUENCE, repeats=3, cache_dir=tmp_path)
    assert table_covers(table, widened, SEQUENCE) and table_covers(table, "charlm", SEQUENCE)
    assert predict_latency(widened, widened.largest(), SEQUENCE, table=table) > 0


def test_a_space_without_a_decomposition_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="space 'gnn' lacks; supported: charlm, mobilenet, vit"):
        ensure_table("gnn", TaskSpec("graph", 8, 3), cache_dir=tmp_path)


def test_nas_latency_calibrate_caches_on_disk(nas_cli, tmp_path):
    args = ("latency", "calibrate", "--space", "charlm", "--task", "synthetic-seq",
            "--repeats", "2", "--cache-dir", str(tmp_path))
    first = nas_cli(*args)
    assert first.returncode == 0, first.stderr
    assert "calibrated 'charlm'" in first.stdout
    assert list(tmp_path.glob("latency/*/charlm-sequence-in16-c16-s32-b1.json"))
    again = nas_cli(*args)
    assert again.returncode == 0 and "cached" in again.stdout
    predicted = nas_cli("latency", "predict", "largest", "--space", "charlm", "--task",
                        "synthetic-seq", "--cache-dir", str(tmp_path))
    assert predicted.returncode == 0 and float(predicted.stdout.strip()) > 0
    wrong = nas_cli("latency", "calibrate", "--space", "gnn")
    assert wrong.returncode != 0 and "'gnn' has no per-layer latency decomposition" in wrong.stderr


STUDY = """
name = "predicted-latency"
seed = 0
[space]
name = "charlm"
[space.choices]
num_layers = [1, 2]
model_dim = [32]
[task]
name = "synthetic-seq"
params = { steps_per_epoch = 5, eval_tokens = 512 }
[[objectives]]
metric = "val_bpc"
direction = "minimize"
[[objectives]]
metric = "predicted_latency"
direction = "minimize"
[sampler]
name = "random"
[evaluator]
name = "train"
params = { epochs = 1, latency_repeats = 2, save_weights = false }
[budget]
n_trials = 2
"""


def test_predicted_latency_works_as_a_study_objective(nas_cli, tmp_path):
    # The table is calibrated ahead (quickly) in the cache the search will read.
    space = create_space("charlm", {"num_layers": [1, 2], "model_dim": [32]})
    spec = TaskSpec("sequence", 16, 16, 32)
    table = calibrate(space, spec, cache_dir=tmp_path / "cache", **FAST)
    study = tmp_path / "study.toml"
    study.write_text(STUDY)
    db = tmp_path / "study.db"
    result = nas_cli("search", str(study), "--storage", f"sqlite:///{db}", "--no-progress",
                     env={"NAS_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT v.trial_id, v.objective, v.value FROM trial_values v ORDER BY v.trial_id"
        ).fetchall()
        archs = [json.loads(v) for (v,) in connection.execute(
            "SELECT value_json FROM trial_user_attributes WHERE key = 'arch' ORDER BY trial_id")]
    latencies = [value for _trial, objective, value in rows if objective == 1]
    assert len(latencies) == 2
    expected = [predict_latency(space, space.validate(a), spec, table=table) for a in archs]
    assert latencies == pytest.approx(expected)

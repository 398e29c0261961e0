"""Tasks from the user's files: real digits as PNGs and .npz, Cora as a saved Data, a text file.

Bad input (missing file, wrong shape, labels out of range, empty split, a plugin
that raises, a widened value the model cannot build) is one line naming the key,
and leaves the store as it was.
"""

from __future__ import annotations

import shutil

import numpy as np
import optuna
import pytest
import torch

import nas
from nas.config import parse_study
from nas.errors import NasError
from nas.tasks import create_task
from tests.conftest import DATA_DIR, run_nas

optuna.logging.set_verbosity(optuna.logging.WARNING)

TINY_SPACE = '''
import torch.nn as nn
from search_spaces import Categorical, SearchSpace, register_space


@register_space("tiny-cnn")
class TinyCNN(SearchSpace):
    families = ("image",)

    def base_choices(self):
        return {"width": Categorical((8, 4))}

    def build(self, arch, spec):
        return nn.Sequential(nn.Conv2d(spec.input_dim, arch["width"], 3, padding=1), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(arch["width"], spec.num_classes))
'''


def digits(count: int = 300) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return np.rint(data.images[:count] * (255 / 16)).astype(np.uint8), data.target[:count]


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("digits") / "images"
    x, y = digits()
    for i, (image, label) in enumerate(zip(x, y)):
        (root / f"d{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / f"d{label}" / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """One plugin file for the module: a process imports a file once (its names register once)."""
    path = tmp_path_factory.mktemp("plugin") / "tiny_cnn.py"
    path.write_text(TINY_SPACE)
    return path


def study(plugin, task: dict, **extra) -> dict:
    return {"name": "own", "seed": 0, "device": "cpu", "plugins": [str(plugin)],
            "space": "tiny-cnn", "task": task,
            "objectives": [{"metric": "val_accuracy", "direction": "maximize"}],
            "sampler": "random",
            "evaluator": {"name": "train", "params": {"epochs": 2, "save_weights": False,
                                                       "latency_repeats": 1}},
            "budget": {"n_trials": 1}, **extra}


def studies_in(url: str) -> dict[str, int]:
    storage = optuna.storages.RDBStorage(url)
    return {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(storage, False)}


# -- image-classification ------------------------------------------------------

def test_image_folder_gives_grey_8x8_splits_normalised_with_training_statistics(digit_folder):
    task = create_task("image-classification", seed=1, path=str(digit_folder), val_fraction=0.2,
                       test_fraction=0.1)
    spec = task.prepare("cpu")
    assert (spec.family, spec.input_dim, spec.num_classes, spec.input_size) == ("image", 1, 10, 8)
    assert spec.extra["classes"] == [f"d{i}" for i in range(10)]
    sizes = {s: len(task._split(s)[1]) for s in ("train", "val", "test")}
    assert sizes == {"train": 210, "val": 60, "test": 30}
    train_x = task._split("train")[0]
    # The statistics come from the training split: it is standardised, the others nearly so.
    assert abs(float(train_x.mean())) < 1e-4 and abs(float(train_x.std()) - 1) < 1e-2
    x, _ = digits()
    assert spec.extra["mean"][0] == pytest.approx(x.mean() / 255, abs=0.02)
    again = create_task("image-classification", seed=1, path=str(digit_folder), val_fraction=0.2,
                        test_fraction=0.1)
    again.prepare("cpu")
    assert torch.equal(again._split("val")[1], task._split("val")[1]), "the split is seeded"


def test_npz_and_separate_val_folder_agree_with_the_folder(digit_folder, tmp_path):
    x, y = digits()
    order = sorted(range(len(y)), key=lambda i: (y[i], f"{i}.png"))  # the folder's reading order
    np.savez(tmp_path / "d.npz", x=x[order], y=y[order])
    from_npz = create_task("image-classification", seed=0, path=str(tmp_path / "d.npz"))
    from_folder = create_task("image-classification", seed=0, path=str(digit_folder))
    assert from_npz.prepare("cpu").extra["mean"] == pytest.approx(
        from_folder.prepare("cpu").extra["mean"])
    assert torch.equal(from_npz._split("val")[0], from_folder._split("val")[0])
    val = tmp_path / "val"
    shutil.copytree(digit_folder / "d3", val / "d3")
    task = create_task("image-classification", seed=0, path=str(digit_folder), val_path=str(val))
    task.prepare("cpu")
    assert set(task._split("val")[1].tolist()) == {3} and len(task._split("val")[1]) == int((digits()[1] == 3).sum())


# -- bad input: one line naming the key, the store untouched ---------------------

def _bad_npz(tmp_path, **arrays):
    np.savez(tmp_path / "bad.npz", **arrays)
    return str(tmp_path / "bad.npz")


BAD_TASKS = {
    "missing file": (lambda p: {"path": str(p / "nope.npz")}, "task.params.path: file not found"),
    "wrong shape": (lambda p: {"path": _bad_npz(p, x=np.zeros((10, 64)), y=np.zeros(10, int))},
                    r"task.params.path: x has shape \(10, 64\); expected N×H×W×C images"),
    "label out of range": (
        lambda p: {"path": _bad_npz(p, x=np.zeros((10, 8, 8), np.uint8), y=np.arange(10),
                                    classes=np.array(["a", "b"]))},
        "task.params.path: label 9 is out of range; labels must be 0..1"),
    "empty split": (lambda p: {"path": _bad_npz(p, x=np.zeros((10, 8, 8), np.uint8),
                                                y=np.arange(10) % 2), "val_fraction": 0.01},
                    "task.params.val_fraction: the val split is empty"),
}


@pytest.mark.parametrize("case", BAD_TASKS)
def test_bad_image_data_is_one_line_and_creates_no_study(case, tmp_path, plugin):
    make, message = BAD_TASKS[case]
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    good = _bad_npz(tmp_path, x=digits(40)[0], y=digits(40)[1] % 2)
    nas.run(study(plugin, {"name": "image-classification", "params": {"path": good}},
                  name="kept"), storage=url)
    before = studies_in(url)
    config = study(plugin, {"name": "image-classification", "params": make(tmp_path)})
    for name in ("own", "kept"):  # a new study is not created, an existing one not changed
        with pytest.raises(NasError, match=message) as error:
            nas.run(config, storage=url, study_name=name)
        assert "\n" not in str(error.value)
    assert studies_in(url) == before == {"kept": 1}
    stored = optuna.load_study(study_name="kept", storage=url).user_attrs["task_spec"]
    assert stored["input_dim"] == 1 and len(stored["extra"]["mean"]) == 1  # stats kept with the study


def test_plugin_that_raises_and_unbuildable_widening_are_one_cli_line(tmp_path):
    (tmp_path / "broken.py").write_text("import torch\nraise ValueError('no such layer: Conv5d')\n")
    (tmp_path / "digits.npz").write_bytes(b"")  # never read: the plugin fails first
    (tmp_path / "s.toml").write_text(
        'name = "broken"\nplugins = ["broken.py"]\nspace = "gnn"\n'
        '[task]\nname = "cora"\n[[objectives]]\nmetric = "val_accuracy"\n[budget]\nn_trials = 1\n')
    (tmp_path / "w.toml").write_text(
        'name = "wide"\n[space]\nname = "gnn"\nchoices = { hidden_dim = [16, -4] }\n'
        '[task]\nname = "cora"\n[[objectives]]\nmetric = "val_accuracy"\n[budget]\nn_trials = 1\n')
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    for file, message in (
        ("s.toml", f"error: plugins: plugin '{tmp_path / 'broken.py'}' "
                   "failed to import: ValueError: no such layer: Conv5d\n"),
        ("w.toml", "error: space.choices.hidden_dim: the model cannot be built with -4: "
                   "RuntimeError: Trying to create tensor with negative dimension"),
    ):
        done = run_nas("search", str(tmp_path / file), "--storage", url, cwd=tmp_path)
        assert done.returncode == 2 and done.stderr.startswith(message), done.stderr
        assert done.stderr.count("\n") == 1
    assert not (tmp_path / "nas.db").exists() or studies_in(url) == {}


# -- node-classification: Cora as a file is the cora preset --------------------

def test_cora_saved_as_data_file_scores_as_the_cora_preset(tmp_path):
    from torch_geometric.io import read_planetoid_data

    from nas.evaluators.train import TrainEvaluator
    from search_spaces import create_space

    graph = read_planetoid_data(str(DATA_DIR / "planetoid" / "Cora" / "raw"), "cora")
    torch.save(graph, tmp_path / "cora.pt")
    space = create_space("gnn")
    arch = space.default().replace(lr=0.05)
    scores = []
    for task in (create_task("cora", data_dir=DATA_DIR, seed=0),
                 create_task("node-classification", seed=0, path=str(tmp_path / "cora.pt"))):
        evaluator = TrainEvaluator(space, task, {"epochs": 20, "save_weights": False,
                                                 "latency_repeats": 1}, seed=0)
        scores.append(evaluator.evaluate(arch).metrics["val_accuracy"])
    assert scores[0] == scores[1] and scores[0] > 0.5


def test_graph_without_masks_gets_a_seeded_stratified_split_and_bad_graphs_name_the_key(tmp_path):
    x = torch.rand(60, 5)
    y = torch.arange(60) % 3
    edge_index = torch.stack([torch.arange(60), (torch.arange(60) + 1) % 60])
    np.savez(tmp_path / "g.npz", x=x.numpy(), y=y.numpy(), edge_index=edge_index.numpy())
    task = create_task("node-classification", seed=0, path=str(tmp_path / "g.npz"),
                       val_fraction=0.25, test_fraction=0.25)
    task.prepare("cpu")
    g = task._graph
    for mask in (g.train_mask, g.val_mask, g.test_mask):
        assert torch.bincount(y[mask], minlength=3).tolist() == [int(mask.sum()) // 3] * 3
    assert not (g.train_mask & g.val_mask).any() and int(g.val_mask.sum()) == 15
    np.savez(tmp_path / "bad.npz", x=x.numpy(), y=y.numpy(), edge_index=(edge_index + 5).numpy())
    with pytest.raises(NasError, match=r"^task.params.path: edge_index refers to node 64; "
                                       r"the graph has 60 nodes \(0..59\)$"):
        create_task("node-classification", path=str(tmp_path / "bad.npz")).prepare("cpu")


# -- text: any UTF-8 file, charlm end to end, export included ---------------------

def test_a_text_file_runs_charlm_end_to_end_with_export(tmp_path):
    from nas.architecture import Architecture

    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((DATA_DIR.parent.parent / "main"
                                                                    / "docs").glob("*.md")))
    text = (text or "no docs here " * 2000)[:40000] + "ünïcödé"  # characters unseen in training
    (tmp_path / "corpus.txt").write_text(text, encoding="utf-8")
    config = parse_study({
        "name": "own-text", "seed": 0, "device": "cpu", "space": {"name": "charlm", "choices": {
            "num_layers": 1, "model_dim": 32, "layer1_heads": 2, "layer1_ffn_dim": 64}},
        "task": {"name": "text", "params": {"path": str(tmp_path / "corpus.txt"), "seq_len": 32,
                                            "steps_per_epoch": 5, "eval_tokens": 512}},
        "objectives": [{"metric": "val_bpc", "direction": "minimize"}], "sampler": "random",
        "evaluator": {"name": "train", "params": {"epochs": 2, "latency_repeats": 1,
                                                  "checkpoint_dir": str(tmp_path / "ckpt")}},
        "budget": {"n_trials": 1}})
    result = nas.run(config, storage=f"sqlite:///{tmp_path / 'nas.db'}")
    assert result.n_complete == 1
    best = result.best()
    assert 0 < best["val_bpc"] < 8
    folders = result.export(trial=int(best["number"]), out_dir=tmp_path / "exported")
    model, arch = nas.load(folders[0])
    assert arch == Architecture.from_json(best["arch"]) if isinstance(best["arch"], str) else True
    payload = torch.load(folders[0] / "model.pt", weights_only=True)
    vocabulary = payload["spec"]["extra"]["vocabulary"]
    assert "ü" not in vocabulary and payload["spec"]["input_dim"] == len(vocabulary) + 1
    tokens = torch.tensor([[vocabulary.index(c) for c in "the model"]])
    assert model(tokens).shape == (1, 9, len(vocabulary) + 1)


def test_a_pyg_dataset_class_reads_a_local_root_and_never_downloads(tmp_path):
    root = shutil.copytree(DATA_DIR / "planetoid", tmp_path / "planetoid")
    task = create_task("node-classification", seed=0, dataset="Planetoid", root=str(root),
                       args={"name": "CiteSeer"})
    spec = task.prepare("cpu")
    assert (spec.input_dim, spec.num_classes, spec.extra["num_nodes"]) == (3703, 6, 3327)
    assert int(task._graph.train_mask.sum()) == 120  # the dataset's own public split
    with pytest.raises(NasError, match=r"^task.params.root: .* lacks the raw files of Planetoid "
                                       r"\(ind.pubmed.x, .*\); nothing is downloaded$"):
        create_task("node-classification", dataset="Planetoid", root=str(root),
                    args={"name": "PubMed"}).prepare("cpu")


def test_bad_graphs_and_texts_name_the_key(tmp_path):
    x, y = torch.rand(30, 4), torch.arange(30) % 3
    edge_index = torch.stack([torch.arange(30), (torch.arange(30) + 1) % 30])
    cases = {
        "negative label": (dict(x=x, y=y - 1, edge_index=edge_index),
                           r"^task.params.path: label -1 is out of range"),
        "wrong shape": (dict(x=x[0], y=y, edge_index=edge_index),
                        r"^task.params.path: x has shape \(4,\); expected nodes × features$"),
        "empty split": (dict(x=x, y=y, edge_index=edge_index, train_mask=y >= 0,
                             val_mask=y < 0, test_mask=y >= 0),
                        r"^task.params.path: the val split is empty$"),
    }
    for name, (arrays, message) in cases.items():
        torch.save(arrays, tmp_path / f"{name}.pt")
        with pytest.raises(NasError, match=message):
            create_task("node-classification", path=str(tmp_path / f"{name}.pt")).prepare("cpu")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1") * 100)
    (tmp_path / "short.txt").write_text("to be or not to be " * 4)
    for file, message in (("nope.txt", r"^task.params.path: file not found: "),
                          ("latin1.txt", r"^task.params.path: .*latin1.txt is not UTF-8 text"),
                          ("short.txt", r"^task.params.path: the text \(76 tokens\) is too short "
                                        r"for seq_len 64: the train or held-out split is empty$")):
        with pytest.raises(NasError, match=message):
            create_task("text", path=str(tmp_path / file)).prepare("cpu")

"""Plugins from outside the package: study-file paths and modules, the ``nas.plugins`` entry
point of an installed package, and ``nas check-plugin`` saying what fails."""

from __future__ import annotations

import textwrap

import pytest

from nas.config import load_study_file
from nas.errors import ConfigError
from nas.plugins import load_plugins
from tests.conftest import run_nas

MLP_SPACE = textwrap.dedent('''
    import torch.nn as nn
    from search_spaces import Categorical, SearchSpace, register_space


    @register_space("{name}")
    class Space(SearchSpace):
        families = ("image",)

        def base_choices(self):
            return {{"hidden": Categorical((8, 16))}}

        def build(self, arch, spec):
            side = spec.input_size or 32
            return nn.Sequential(nn.Flatten(), nn.Linear(spec.input_dim * side * side, arch["hidden"]),
                                 nn.ReLU(), nn.Linear(arch["hidden"], {classes}))
''')


def installed_package(root, name: str) -> None:
    """A package with a ``nas.plugins`` entry point, installed as pip would (a dist-info folder)."""
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    (root / name / "nas_plugins.py").write_text(MLP_SPACE.format(name=f"{name}-mlp",
                                                                 classes="spec.num_classes"))
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[nas.plugins]\n{name} = {name}.nas_plugins\n")


def test_entry_point_plugins_are_listed_and_study_paths_are_relative_to_the_study(tmp_path):
    installed_package(tmp_path / "site", "userpkg")
    (tmp_path / "studies" / "mine").mkdir(parents=True)
    (tmp_path / "studies" / "mine" / "space.py").write_text(MLP_SPACE.format(
        name="file-mlp", classes="spec.num_classes"))
    env = {"PYTHONPATH": f"{tmp_path / 'site'}:{run_nas.__globals__['REPO']}"}
    listed = run_nas("spaces", "--plugin", "studies/mine/space.py", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "userpkg-mlp" in listed.stdout and "file-mlp" in listed.stdout and "gnn" in listed.stdout
    study = tmp_path / "studies" / "mine" / "s.toml"
    study.write_text('name = "x"\nplugins = ["space.py", "json"]\nspace = "file-mlp"\n'
                     '[task]\nname = "image-classification"\nparams = { path = "../data/d.npz" }\n'
                     '[[objectives]]\nmetric = "val_accuracy"\n[budget]\nn_trials = 1\n')
    config = load_study_file(study)
    assert config.plugins == (str(tmp_path / "studies" / "mine" / "space.py"), "json")
    assert config.task.params["path"] == str(tmp_path / "studies" / "mine" / ".." / "data" / "d.npz")
    assert '"plugins": ["' + str(tmp_path / "studies" / "mine" / "space.py") in config.to_json()


def test_plugin_errors_name_the_plugin(tmp_path):
    with pytest.raises(ConfigError, match=r"^plugins: plugin 'no_such_pkg.mod': no module named "
                                          r"'no_such_pkg' \(a file path needs a \.py suffix\)$"):
        load_plugins(["no_such_pkg.mod"])
    with pytest.raises(ConfigError, match=r"^plugins: plugin '.*missing.py' failed: file not found"):
        load_plugins([str(tmp_path / "missing.py")])
    (tmp_path / "syntax.py").write_text("def broken(:\n")
    with pytest.raises(ConfigError, match=r"^plugins: plugin '.*syntax.py' failed to import: "
                                          r"SyntaxError: "):
        load_plugins([str(tmp_path / "syntax.py")])


def test_check_plugin_passes_a_good_space_and_names_what_a_bad_one_breaks(tmp_path):
    (tmp_path / "good.py").write_text(MLP_SPACE.format(name="good-mlp", classes="spec.num_classes"))
    (tmp_path / "bad.py").write_text(MLP_SPACE.format(name="bad-mlp", classes="3"))
    (tmp_path / "empty.py").write_text("x = 1\n")
    good = run_nas("check-plugin", "good.py", cwd=tmp_path)
    assert good.returncode == 0 and good.stdout.strip().endswith("5 passed, 0 failed"), good.stdout
    bad = run_nas("check-plugin", "bad.py", cwd=tmp_path)
    assert bad.returncode == 1
    assert ("FAIL space 'bad-mlp': builds image models: logits of the right shape, finite "
            "gradients — AssertionError: Architecture(hidden=8): logits (2, 3), expected (2, 10)") in bad.stdout
    assert bad.stdout.strip().endswith("4 passed, 1 failed")
    empty = run_nas("check-plugin", "empty.py", cwd=tmp_path)
    assert empty.returncode == 1 and "nothing new is registered" in empty.stdout

"""A broken study file exits non-zero with one line and never creates or damages a study.

Every case runs ``nas search`` against a SQLite store that already holds a
study of the same name with a finished trial (a re-run is the most dangerous
moment: it resumes into that study); the store's files must be byte-for-byte
unchanged afterwards. A fresh storage path must not be created. The many cases
run the CLI's ``main()`` in this process (one torch import for all); a few
representative ones run ``python -m nas`` as a user does.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.conftest import DATA_DIR, REPO

QUICKSTART = (REPO / "studies" / "quickstart.toml").read_text()
TABULAR = (REPO / "studies" / "nb201_tabular.toml").read_text()
UNREACHABLE_PG = "postgresql+psycopg://nobody:secret-pw@127.0.0.1:1/nas"


def mutate(text: str, pattern: str, replacement: str) -> str:
    changed, n = re.subn(pattern, replacement, text, count=1, flags=re.M)
    assert n == 1, f"study file has no line matching {pattern!r}"
    return changed


#: case -> (study file text, extra CLI args, fragment the one-line error must contain)
CASES = {
    "bad_toml": (QUICKSTART + "\n[space\n", (), "not valid TOML"),
    "unknown_key": (QUICKSTART + "\ncolour = 'red'\n", (), "colour: unknown key; allowed:"),
    "unknown_nested_key": (
        mutate(QUICKSTART, r"^n_trials\s*=.*$", "n_trials = 24\nn_trails = 3"),
        (), "budget.n_trails: unknown key; allowed: n_trials, timeout",
    ),
    "unknown_conv": (
        mutate(QUICKSTART, r"^\[space\]\s*$", "[space]\nchoices = { conv = ['gcn', 'transformerish'] }"),
        (), "space.choices.conv: 'transformerish' is not allowed; allowed: gcn, gat",
    ),
    "unknown_choice": (
        mutate(QUICKSTART, r"^\[space\]\s*$", "[space]\nchoices = { depth = [2] }"),
        (), "space.choices.depth: unknown choice for space 'gnn'",
    ),
    "negative_budget": (
        mutate(QUICKSTART, r"^n_trials\s*=.*$", "n_trials = -3"),
        (), "budget.n_trials: must be at least 1, got -3",
    ),
    "negative_budget_flag": (QUICKSTART, ("--n-trials", "-3"), "--n-trials: must be at least 1"),
    "zero_timeout": (
        mutate(QUICKSTART, r"^n_trials\s*=.*$", "timeout = 0"),
        (), "budget.timeout: must be a positive number of seconds",
    ),
    "unknown_sampler": (
        mutate(QUICKSTART, r'^name\s*=\s*"nsga2"\s*$', 'name = "nsga9"'),
        (), "sampler.name: unknown sampler 'nsga9' (did you mean""",
    ),
    "unknown_evaluator_param": (
        mutate(QUICKSTART, r"^params = \{ epochs = 150", "params = { epoch = 150"),
        (), "evaluator.params.epoch: unknown parameter for 'train'",
    ),
    # The tabular evaluator checks its params in setup(): still before any study exists.
    "evaluator_param_checked_in_setup": (
        mutate(TABULAR, r'^name = "tabular"\s*$', 'name = "tabular"\nparams = { epochs = 3 }'),
        (), "evaluator.params.epochs: the 'tabular' evaluator takes no parameters",
    ),
    "unreachable_storage_in_file": (
        f'storage = "{UNREACHABLE_PG}"\n' + QUICKSTART, (), "cannot open storage postgresql",
    ),
}


def store_snapshot(folder: Path) -> dict[str, str]:
    """Name -> SHA-256 of every file of the store (the database and its WAL/SHM files)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("nas.db*"))}


@pytest.fixture
def existing_store(tmp_path: Path) -> Path:
    """A store holding study 'quickstart' (the file's own name) with one finished trial."""
    from nas.store import open_storage

    db = tmp_path / "store" / "nas.db"
    db.parent.mkdir()
    storage = open_storage(f"sqlite:///{db}")
    study = optuna.create_study(storage=storage, study_name="quickstart",
                                directions=["maximize", "minimize"])
    study.set_user_attr("space", "gnn")
    study.add_trial(optuna.trial.create_trial(values=[0.8, 1000.0], user_attrs={"arch": {}}))
    storage.engine.dispose()
    return db


@pytest.fixture
def nas_in_process(monkeypatch, capsys):
    """Run ``nas ARGS`` through the CLI's real entry point, in this process."""
    from nas.cli import main

    monkeypatch.setenv("NAS_DATA_DIR", str(DATA_DIR))
    monkeypatch.delenv("NAS_STORAGE", raising=False)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["nas", *args])
        code: int | str | None = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, captured.out, captured.err)

    return run


def assert_one_line_error(done, expected: str) -> None:
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_study_file_leaves_an_existing_study_untouched(nas_in_process, tmp_path,
                                                              existing_store, case):
    text, args, expected = CASES[case]
    study = tmp_path / "study.toml"
    study.write_text(text)
    before = store_snapshot(existing_store.parent)
    storage = () if "storage" in case else ("--storage", f"sqlite:///{existing_store}")
    done = nas_in_process("search", str(study), *storage, *args, "--no-progress")
    assert_one_line_error(done, expected)
    assert store_snapshot(existing_store.parent) == before


@pytest.mark.parametrize("case", ["unknown_conv", "negative_budget", "evaluator_param_checked_in_setup"])
def test_broken_study_file_creates_no_database(nas_cli, nas_in_process, tmp_path, case):
    text, args, expected = CASES[case]
    study = tmp_path / "study.toml"
    study.write_text(text)
    db = tmp_path / "fresh" / "nas.db"
    db.parent.mkdir()
    run = nas_cli if case == "negative_budget" else nas_in_process  # no torch import: cheap
    done = run("search", str(study), "--storage", f"sqlite:///{db}", *args, "--no-progress")
    assert_one_line_error(done, expected)
    assert list(db.parent.iterdir()) == [], "a refused study file must not create a database"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (UNREACHABLE_PG, "cannot open storage postgresql+psycopg://nobody:***@127.0.0.1:1/nas"),
        ("sqlite:///{tmp}/no/such/folder/nas.db", "folder {tmp}/no/such/folder does not exist"),
        ("mysqlx://db/nas", "storage scheme 'mysqlx' is not supported"),
    ],
    ids=["postgres_refused", "sqlite_missing_folder", "unknown_scheme"],
)
def test_unreachable_storage_is_refused(nas_in_process, tmp_path, url, expected):
    study = tmp_path / "study.toml"
    study.write_text(QUICKSTART)
    done = nas_in_process("search", str(study), "--storage", url.format(tmp=tmp_path), "--no-progress")
    assert done.returncode == 2
    assert_one_line_error(done, expected.format(tmp=tmp_path))
    assert "secret-pw" not in done.stderr, "the password must not be printed"
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("how", ["--data-dir", "task.data_dir"])
def test_missing_data_file_does_not_touch_an_existing_study(nas_cli, nas_in_process, tmp_path,
                                                            existing_store, how):
    empty_data = tmp_path / "data"
    (empty_data / "planetoid" / "Cora" / "raw").mkdir(parents=True)
    study = tmp_path / "study.toml"
    args: tuple[str, ...] = ()
    run = nas_cli  # a real process once: the exit status and stderr a shell sees
    if how == "--data-dir":
        study.write_text(QUICKSTART)
        args = ("--data-dir", str(empty_data))
    else:
        run = nas_in_process
        study.write_text(mutate(QUICKSTART, r'^name = "cora"\s*$',
                                f'name = "cora"\ndata_dir = "{empty_data}"'))
    before = store_snapshot(existing_store.parent)
    done = run("search", str(study), "--storage", f"sqlite:///{existing_store}",
                   "--no-progress", *args)
    assert done.returncode == 2
    assert_one_line_error(done, "task 'cora': data file not found")
    assert "ind.cora." in done.stderr
    assert store_snapshot(existing_store.parent) == before

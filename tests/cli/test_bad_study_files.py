"""A broken study file exits non-zero with one line and never creates or damages a study."""

import hashlib
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

QUICKSTART = (REPO / "studies" / "quickstart.toml").read_text()


def mutate(pattern: str, replacement: str) -> str:
    text, n = re.subn(pattern, replacement, QUICKSTART, count=1, flags=re.M)
    assert n == 1, f"quickstart.toml has no line matching {pattern!r}"
    return text


CASES = {
    "bad_toml": (QUICKSTART + "\n[space\n", "not valid TOML"),
    "unknown_key": (QUICKSTART + "\ncolour = 'red'\n", "colour: unknown key"),
    "unknown_conv": (
        mutate(r"^\[space\]\s*$", "[space]\nchoices = { conv = ['gcn', 'transformerish'] }"),
        "'transformerish' is not allowed",
    ),
    "negative_budget": (mutate(r"^n_trials\s*=.*$", "n_trials = -3"), "budget.n_trials"),
    "unknown_sampler": (mutate(r'^name\s*=\s*"nsga2"\s*$', 'name = "nsga9"'), "unknown sampler 'nsga9'"),
}


def db_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_study_file_is_refused(nas_cli, tmp_path, case):
    text, expected = CASES[case]
    study = tmp_path / "study.toml"
    study.write_text(text)
    db = tmp_path / "nas.db"
    done = nas_cli("search", str(study), "--storage", f"sqlite:///{db}", "--no-progress")
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert expected in done.stderr
    assert not db.exists(), "a refused study file must not create a database"


def test_unreachable_storage_is_refused(nas_cli, tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(QUICKSTART)
    done = nas_cli("search", str(study), "--storage",
                   "postgresql+psycopg://nobody:pw@127.0.0.1:1/nas", "--no-progress")
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot open storage") and "pw" not in done.stderr


def test_missing_data_file_does_not_touch_an_existing_study(nas_cli, tmp_path, data_dir):
    # An existing database must be byte-for-byte unchanged after a refused run.
    db = tmp_path / "nas.db"
    import optuna

    from nas.store import open_storage

    optuna.create_study(storage=open_storage(f"sqlite:///{db}"), study_name="existing")
    before = db_digest(db)
    study = tmp_path / "study.toml"
    study.write_text(QUICKSTART)
    empty_data = tmp_path / "data"
    (empty_data / "planetoid" / "Cora" / "raw").mkdir(parents=True)
    done = nas_cli("search", str(study), "--storage", f"sqlite:///{db}", "--no-progress",
                   "--data-dir", str(empty_data))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "data file not found" in done.stderr and "ind.cora" in done.stderr
    assert db_digest(db) == before

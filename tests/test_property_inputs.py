"""Property: whatever a user types (study files, architectures), the answer is a ConfigError or an
InvalidArchitecture naming the problem, never a traceback, and a refused search leaves the store
exactly as it was."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nas.config import load_study_file, parse_study
from nas.errors import ConfigError, InvalidArchitecture
from nas.search.components import check_components
from tests.conftest import DATA_DIR, REPO

BASE_TEXT = (REPO / "studies" / "nb201_tabular.toml").read_text()
BASE = tomllib.loads(BASE_TEXT)
BASE["task"]["data_dir"] = str(DATA_DIR)
SETTINGS = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", "tpe", "nb201", "gnn", "cora", "maximize", "minimize", "tabular",
                     "random", "val_accuracy", "cuda:x", "auto", "sqlite:///", "1e9", "-1"]),
)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append((*prefix, key))
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.append((*prefix, i))
            out.extend(_paths(value, (*prefix, i)))
    return out


#: Every key of the example, plus the optional keys it leaves out.
PATHS = _paths(BASE) + [
    ("space", "choices"), ("space", "params"), ("task", "params"), ("sampler", "params"),
    ("evaluator", "params"), ("pruner",), ("supernet",), ("storage",), ("n_jobs",), ("device",),
    ("description",), ("budget", "timeout"), ("objectives", 0, "direction"), ("objectives", 1),
]


@st.composite
def malformed_studies(draw: Any) -> Any:
    """The example study with one to three random edits: a value replaced by junk, a key
    deleted, an unknown key added, or a whole table replaced."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = data
        try:
            for step in path[:-1]:
                parent = parent[step]
            kind = draw(st.sampled_from(["replace", "delete", "add"]))
            if kind == "replace" and isinstance(parent, list) and path[-1] >= len(parent):
                parent.append(draw(junk))
            elif kind == "replace":
                parent[path[-1]] = draw(junk)
            elif kind == "delete" and isinstance(parent, dict):
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(junk)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    if draw(st.booleans()) and data == BASE:
        data["budget"] = draw(junk)
    return data


def _outcome(data: Any) -> str:
    """``refused`` (ConfigError) or ``accepted``; anything else propagates and fails the test."""
    try:
        _check(parse_study(data))
    except ConfigError as exc:
        _explained(exc)
        event("refused")
        return "refused"
    event("accepted")
    return "accepted"


def _explained(exc: Exception) -> None:
    # The CLI prints the first line (a user's key may itself hold a newline): it must say what.
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    assert len(first) >= 10, repr(exc)


def _check(config: Any) -> None:
    """What ``nas search`` checks before it touches the store."""
    from nas.search.worker import build_components

    check_components(config)
    build_components(config.with_overrides(data_dir=DATA_DIR), "cpu")


@SETTINGS
@given(malformed_studies())
def test_malformed_study_mappings_get_a_config_error(data):
    _outcome(data)


@st.composite
def malformed_toml(draw: Any) -> str:
    lines = BASE_TEXT.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["value", "delete", "duplicate", "text"]))
        if kind == "value" and "=" in lines[i]:
            value = draw(st.one_of(
                st.sampled_from(['"x"', "-1", "0", "1e400", "nan", "inf", "[]", "{}", "true",
                                 '[1, "a"]', '{ a = 1 }', '"""', "'", "1979-05-27", '"tpe"']),
                st.text(max_size=10),
            ))
            lines[i] = lines[i].split("=", 1)[0] + "= " + value
        elif kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        else:
            lines.insert(i, draw(st.text(max_size=20)))
        if not lines:
            break
    return "\n".join(lines)


@SETTINGS
@given(text=malformed_toml())
def test_malformed_study_files_get_a_config_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("study") / "study.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        config = load_study_file(path)
    except ConfigError as exc:
        _explained(exc)
        return
    try:
        _check(config)
    except ConfigError as exc:
        _explained(exc)


@settings(max_examples=30, deadline=None, database=None)
@given(raw=st.binary(max_size=200))
def test_binary_garbage_is_not_a_study_file(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("study") / "study.toml"
    path.write_bytes(raw)
    try:
        load_study_file(path)
    except ConfigError as exc:
        _explained(exc)


@pytest.fixture(scope="module")
def existing_store(tmp_path_factory) -> Path:
    """A SQLite store holding one study with a complete trial."""
    import optuna

    from nas.store import open_storage

    db = tmp_path_factory.mktemp("store") / "nas.db"
    study = optuna.create_study(storage=open_storage(f"sqlite:///{db}"), study_name="keep")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    return db


def _digest(db: Path) -> str:
    # The WAL holds committed changes not yet in the main file: hash both.
    parts = [db, db.with_name(db.name + "-wal")]
    return hashlib.sha256(b"".join(p.read_bytes() for p in parts if p.exists())).hexdigest()


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=malformed_studies())
def test_a_refused_search_creates_and_changes_no_study(existing_store, data):
    from nas.search import run

    if isinstance(data, dict):
        data = {**data, "storage": f"sqlite:///{existing_store}"}
    # Judged after the store is pointed at: a file whose only fault was its storage is now valid.
    if _outcome(data) == "accepted":
        return  # a valid file: running it would (rightly) search
    before = _digest(existing_store)
    with pytest.raises(ConfigError):
        run(parse_study(data), progress=False)
    assert _digest(existing_store) == before


def _spaces() -> list[Any]:
    from search_spaces import SPACES, create_space

    return [create_space(name) for name in SPACES.names()]


SPACES = _spaces()


@st.composite
def malformed_architectures(draw: Any) -> tuple[Any, dict[str, Any]]:
    space = draw(st.sampled_from(SPACES))
    arch = dict(space.default())
    names = list(arch)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "delete", "add", "other-choice"]))
        if kind == "replace" and names:
            arch[draw(st.sampled_from(names))] = draw(junk)
        elif kind == "delete" and arch:
            del arch[draw(st.sampled_from(sorted(arch)))]
        elif kind == "add":
            arch[draw(st.text(max_size=10))] = draw(scalars)
        elif names:
            # A value that is legal for some other choice of the space (wrong type or range).
            other = dict(draw(st.sampled_from(SPACES)).default())
            arch[draw(st.sampled_from(names))] = draw(st.sampled_from(list(other.values())))
    return space, arch


@settings(max_examples=200, deadline=None, database=None)
@given(case=malformed_architectures())
def test_malformed_architectures_get_invalid_architecture(case):
    space, arch = case
    try:
        space.validate(arch)
        event("accepted")
    except InvalidArchitecture as exc:
        _explained(exc)


@settings(max_examples=100, deadline=None, database=None)
@given(text=st.one_of(st.text(max_size=40),
                      junk.map(lambda v: json.dumps(v, allow_nan=True) if _dumpable(v) else "{")))
def test_architectures_from_the_command_line_get_invalid_architecture(text):
    from nas.architecture import Architecture

    space = SPACES[[s.name for s in SPACES].index("nb201")]
    try:
        space.validate(Architecture.from_json(text))
    except InvalidArchitecture as exc:
        _explained(exc)


def _dumpable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return False
    return not (isinstance(value, float) and math.isnan(value))


@pytest.mark.parametrize(("url", "expected"), [
    ("foo", "is not a URL"),
    ("mysql://u:secret@host/db", "scheme 'mysql' is not supported"),
    ("postgresql://u:secret@127.0.0.1:notaport/db", "cannot open storage"),
    ("postgresql+psycopg://u:secret@127.0.0.1:1/db", "cannot open storage"),
    ("postgresql+psycopg2://u:secret@127.0.0.1:1/db", "cannot open storage"),
    ("sqlite:////no/such/folder/nas.db", "/no/such/folder"),
])
def test_bad_storage_urls_get_one_line_storage_errors(url, expected):
    from nas.errors import StorageError
    from nas.search.study import storage_for
    from nas.store import read_engine

    for open_it in (storage_for, read_engine):
        with pytest.raises(StorageError) as caught:
            open_it(url)
        message = str(caught.value)
        assert expected in message and "\n" not in message and "secret" not in message

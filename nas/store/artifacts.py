"""Weights and checkpoints as Optuna artifacts: one store per study, every file hashed.

A trained trial's weights, a supernet checkpoint and an export archive are
uploaded with Optuna's public artifact API (:mod:`optuna.artifacts`). The
artifact id (a fresh UUID per upload) and the file's sha256 are recorded with
the owner (trial user attr ``weights_artifact``, ``nas_supernets`` row, …), so

* nothing is keyed by the working folder or the study name: two studies of the
  same name in two storages never share a file;
* a reader verifies the sha256 and refuses a damaged file with one line;
* a write killed half-way leaves only an unreferenced temp file: the previous
  artifact (and the record pointing at it) stays whole.

Where the store lives is decided once, when the study is created, and kept in
the study's user attr ``nas_artifacts`` (so every worker and exporter uses the
same place): the study file's ``artifacts`` key, else beside a SQLite file
(``<file>.artifacts/``), else ``$NAS_ARTIFACTS``, else ``~/.local/share/nas/
artifacts``. ``s3://bucket/prefix`` selects Optuna's ``Boto3ArtifactStore``
(boto3 needed; credentials and endpoint from boto3's usual environment). A
``--artifacts`` option on the command line overrides the recorded place
(another mount point of the same shared folder).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from nas.errors import CheckpointError, StorageError, first_line
from nas.store._url import sqlite_path

__all__ = [
    "LOCATION_ATTR",
    "WEIGHTS_ATTR",
    "AtomicFileSystemArtifactStore",
    "default_location",
    "study_location",
    "open_store",
    "recorded_store",
    "upload",
    "download",
    "sha256_of",
    "delete_study_artifacts",
]

#: study user attr: where the study's artifact store is
LOCATION_ATTR = "nas_artifacts"
#: trial user attr: ``{"id": artifact id, "sha256": hex digest}`` of the trial's weights
WEIGHTS_ATTR = "weights_artifact"
#: trial user attrs whose value is an artifact the trial owns (deleted with the study); a
#: supernet checkpoint is shared by every study of its configuration and is not among them
ARTIFACT_ATTRS = (WEIGHTS_ATTR,)


class AtomicFileSystemArtifactStore:
    """Optuna's file-system artifact store, with writes that never show half a file.

    Same layout and protocol as :class:`optuna.artifacts.FileSystemArtifactStore`
    (one file per artifact id under ``base_path``); ``write`` goes to a hidden
    temp file that is renamed into place, so a SIGKILL mid-write leaves the
    artifact absent (the previous one, under its own id, untouched).
    """

    def __init__(self, base_path: str | Path) -> None:
        from optuna.artifacts import FileSystemArtifactStore

        self.base_path = Path(base_path)
        self._store = FileSystemArtifactStore(self.base_path)

    def open_reader(self, artifact_id: str) -> BinaryIO:
        return self._store.open_reader(artifact_id)

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        target = self._path(artifact_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:8]}"
        try:
            with open(temp, "wb") as handle:
                shutil.copyfileobj(content_body, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)

    def remove(self, artifact_id: str) -> None:
        self._store.remove(artifact_id)

    def _path(self, artifact_id: str) -> Path:
        if not artifact_id or "/" in artifact_id or "\\" in artifact_id or artifact_id.startswith("."):
            raise ValueError(f"invalid artifact id: {artifact_id!r}")
        return self.base_path / artifact_id


def default_location(storage_url: str, configured: str | None = None) -> str:
    """Where a new study's artifacts go (see the module docstring); an absolute path or s3 URL."""
    if configured:
        return configured if configured.startswith("s3://") else str(Path(configured).resolve())
    database = sqlite_path(storage_url)
    if database is not None:
        return str(database.resolve()) + ".artifacts"
    root = os.environ.get("NAS_ARTIFACTS") or str(Path.home() / ".local" / "share" / "nas" / "artifacts")
    return str(Path(root).resolve())


def study_location(study: Any, storage_url: str | None = None, override: str | None = None) -> str:
    """The study's artifact store: ``override``, else the recorded one, else the default.

    A study made before stores were recorded gets the default for its
    storage, recorded now so that every later reader agrees.
    """
    if override:
        return default_location("", override)
    recorded = study.user_attrs.get(LOCATION_ATTR)
    if recorded:
        return str(recorded)
    config = study.user_attrs.get("nas_config") or {}
    location = default_location(storage_url or "", config.get("artifacts"))
    study.set_user_attr(LOCATION_ATTR, location)
    return location


def recorded_store(study: Any) -> Any:
    """The store recorded with ``study`` (by ``nas search``), or None for a study nas did not
    create (an in-memory benchmark study): evaluators then keep no files."""
    recorded = study.user_attrs.get(LOCATION_ATTR)
    return open_store(str(recorded)) if recorded else None


def open_store(location: str) -> Any:
    """The artifact store at ``location``: an ``s3://bucket/prefix`` or a folder (created)."""
    if location.startswith("s3://"):
        try:
            import boto3  # noqa: F401
        except ImportError:
            raise StorageError(f"artifact store {location} needs boto3 (pip install boto3)") from None
        from optuna.artifacts import Boto3ArtifactStore

        bucket, _, prefix = location[len("s3://"):].partition("/")
        return _PrefixedStore(Boto3ArtifactStore(bucket), prefix.strip("/"))
    folder = Path(location)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"artifact store {folder} is not writable: {first_line(exc, 200)}") from None
    return AtomicFileSystemArtifactStore(folder)


def upload(store: Any, path: str | Path, owner: Any) -> dict[str, str]:
    """Upload ``path`` as an artifact of ``owner`` (a trial or study); ``{"id", "sha256"}``."""
    from optuna.artifacts import upload_artifact

    digest = sha256_of(path)
    artifact_id = upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=owner)
    return {"id": artifact_id, "sha256": digest}


def download(store: Any, record: Mapping[str, Any], target: str | Path, what: str) -> Path:
    """Fetch the artifact ``record`` names into ``target`` and check its sha256.

    ``what`` names the owner in errors ("trial 3 of study 'x'"); a missing or
    damaged artifact is one :class:`CheckpointError` line (the file is removed).
    """
    from optuna.artifacts import download_artifact
    from optuna.artifacts.exceptions import ArtifactNotFound

    target = Path(target)
    target.unlink(missing_ok=True)
    try:
        download_artifact(artifact_store=store, file_path=str(target), artifact_id=str(record["id"]))
    except (ArtifactNotFound, FileNotFoundError):
        raise CheckpointError(f"{what}: artifact {record['id']} is not in the artifact "
                              f"store {_describe(store)}") from None
    actual = sha256_of(target)
    if actual != record.get("sha256"):
        target.unlink(missing_ok=True)
        raise CheckpointError(f"{what}: artifact {record['id']} is corrupt: sha256 "
                              f"{actual[:12]}… differs from the recorded {str(record.get('sha256'))[:12]}…")
    return target


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def delete_study_artifacts(study: Any, storage: Any, store: Any) -> int:
    """Remove every artifact uploaded for ``study`` and its trials; returns how many."""
    from optuna.artifacts import get_all_artifact_meta
    from optuna.artifacts.exceptions import ArtifactNotFound

    ids = {meta.artifact_id for meta in get_all_artifact_meta(study)}
    for trial in study.get_trials(deepcopy=False):
        ids.update(meta.artifact_id for meta in get_all_artifact_meta(trial, storage=storage))
        for key in ARTIFACT_ATTRS:
            record = trial.user_attrs.get(key)
            if isinstance(record, Mapping) and record.get("id"):
                ids.add(str(record["id"]))
    removed = 0
    for artifact_id in sorted(ids):
        try:
            store.remove(artifact_id)
            removed += 1
        except (ArtifactNotFound, FileNotFoundError):
            continue
    return removed


def _describe(store: Any) -> str:
    if isinstance(store, AtomicFileSystemArtifactStore):
        return str(store.base_path)
    if isinstance(store, _PrefixedStore):
        return f"s3 prefix {store.prefix!r}"
    return type(store).__name__


class _PrefixedStore:
    """An artifact store whose ids live under ``prefix/`` (an S3 folder of the bucket)."""

    def __init__(self, store: Any, prefix: str) -> None:
        self.store, self.prefix = store, prefix

    def _key(self, artifact_id: str) -> str:
        return f"{self.prefix}/{artifact_id}" if self.prefix else artifact_id

    def open_reader(self, artifact_id: str) -> BinaryIO:
        return self.store.open_reader(self._key(artifact_id))

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self.store.write(self._key(artifact_id), content_body)

    def remove(self, artifact_id: str) -> None:
        self.store.remove(self._key(artifact_id))


def delete_study(url: str, name: str, artifacts: str | None = None) -> int:
    """Delete study ``name`` from the storage at ``url`` with its artifacts and export records.

    Artifacts go first: a failure there leaves the study (and so the record
    of what to delete) in place. Returns how many artifacts were removed.
    """
    import optuna
    import sqlalchemy as sa

    from nas.store._connect import open_storage, write_engine
    from nas.store._models import ExportRecord

    storage = open_storage(url)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise StorageError(f"study '{name}' not found in {url.split('://', 1)[0]} storage") from None
    store = open_store(study_location(study, url, artifacts))
    removed = delete_study_artifacts(study, storage, store)
    optuna.delete_study(study_name=name, storage=storage)
    engine = write_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.delete(ExportRecord).where(ExportRecord.study_name == name))
    finally:
        engine.dispose()
    return removed

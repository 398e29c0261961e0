"""Reading an export folder back: validate every file, rebuild the model (``nas.load``).

Each folder holds ``SHA256SUMS`` (the ``sha256sum`` format, so ``sha256sum -c
SHA256SUMS`` checks it without nas) covering every other file, ``model.pt``
included: one flipped byte anywhere is refused with one line naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.architecture import Architecture
from nas.errors import ExportError, InvalidArchitecture, NasError, first_line
from nas.store.artifacts import sha256_of

if TYPE_CHECKING:
    import torch

__all__ = ["EXPORT_VERSION", "CHECKSUMS", "load_export", "read_export", "write_checksums"]

EXPORT_VERSION = 2
CHECKSUMS = "SHA256SUMS"
_PAYLOAD_KEYS = ("export_version", "space", "space_params", "arch", "spec", "state_dict", "inputs",
                 "input_transform", "files")


def load_export(path: str | Path) -> tuple[torch.nn.Module, Architecture]:
    """``(model, arch)`` from an export folder; ``model(*raw_inputs)`` in eval mode.

    ``model`` is an :class:`~nas.export._model.ExportedModel`: the task's
    preprocessing in front of the network, so it takes raw inputs exactly as
    ``model.onnx`` and ``model.ts`` do; ``model.network`` is the bare network.
    Validates the folder first; any problem is one :class:`ExportError` line.
    """
    from nas.export._model import ExportedModel
    from nas.plugins import load_plugins
    from nas.tasks._inputs import build_transform
    from search_spaces import TaskSpec, create_space

    folder = Path(path)
    payload = read_export(folder)
    arch = Architecture(payload["arch"])
    load_plugins(payload.get("plugins") or [])  # the space may come from the study's plugins
    try:
        space = create_space(str(payload["space"]), dict(payload.get("space_params") or {}))
        network = space.build(arch, TaskSpec(**dict(payload["spec"])))
        network.load_state_dict(payload["state_dict"], strict=True)
        transform = build_transform(payload["input_transform"])
    except (NasError, RuntimeError, TypeError, KeyError, ImportError, AttributeError) as exc:
        raise ExportError(f"{folder}: the saved weights do not rebuild a model: {first_line(exc, 300)}") from None
    return ExportedModel(transform, network).eval(), arch


def read_export(path: str | Path) -> dict[str, Any]:
    """The validated ``model.pt`` payload of an export folder (torch only, no model built)."""
    import torch

    folder = Path(path)
    if not folder.is_dir():
        raise ExportError(f"export folder not found: {folder}")
    model_file = folder / "model.pt"
    if not model_file.is_file():
        raise ExportError(f"{folder} is not a complete export: model.pt is missing")
    _verify_checksums(folder)
    try:
        payload = torch.load(model_file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - zip/pickle errors of a damaged file
        raise ExportError(f"{model_file} is corrupt: {first_line(exc, 300)}") from None
    if not isinstance(payload, dict) or any(k not in payload for k in _PAYLOAD_KEYS):
        raise ExportError(f"{model_file} is not a nas export of version {EXPORT_VERSION} (keys "
                          "missing); export the trial again")
    if payload["export_version"] != EXPORT_VERSION:
        raise ExportError(f"{model_file}: export version {payload['export_version']} is not supported")
    try:
        arch = Architecture.from_json((folder / "arch.json").read_text())
    except (InvalidArchitecture, OSError) as exc:
        raise ExportError(f"{folder / 'arch.json'} is corrupt: {exc}") from None
    if arch != Architecture(payload["arch"]):
        raise ExportError(f"{folder}: arch.json disagrees with model.pt")
    return payload


def write_checksums(folder: Path) -> None:
    """``SHA256SUMS`` over every file of ``folder`` (sorted, ``sha256sum`` format)."""
    lines = [f"{sha256_of(p)}  {p.name}\n" for p in sorted(folder.iterdir())
             if p.is_file() and p.name != CHECKSUMS]
    (folder / CHECKSUMS).write_text("".join(lines))


def _verify_checksums(folder: Path) -> None:
    sums = folder / CHECKSUMS
    if not sums.is_file():
        raise ExportError(f"{folder} is not a complete export: {CHECKSUMS} is missing")
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        file = folder / name
        if not file.is_file():
            raise ExportError(f"{folder} is not a complete export: {name} is missing")
        if sha256_of(file) != digest:
            raise ExportError(f"{file} is corrupt: its sha256 differs from the one in {CHECKSUMS}")

"""Export from the dashboard: run ``nas export`` in a subprocess and collect the files.

The dashboard itself stays read-only and torch-free; the exporter (which
builds the model with torch and writes ``nas_exports``) runs as its own
process, exactly as a user would run it.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ExportResult", "run_export", "zip_folder"]

EXPORT_TIMEOUT_S = 600


@dataclass(frozen=True)
class ExportResult:
    """What ``nas export`` said and the files it wrote."""

    ok: bool
    message: str
    files: tuple[Path, ...]


def run_export(study: str, trial: int, storage: str, out_dir: Path,
               untrained: bool = False) -> ExportResult:
    """``nas export STUDY --trial N --storage URL --out OUT_DIR``; files found under ``out_dir``.

    ``untrained`` passes ``--untrained``: a trial scored without training (a table
    lookup, a zero-cost proxy) is then exported with its seeded random initialisation
    instead of being refused; a trained trial exports its weights either way.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "nas", "export", study, "--trial", str(trial),
               "--storage", storage, "--out", str(out_dir)]
    if untrained:
        command.append("--untrained")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return ExportResult(False, f"nas export took longer than {EXPORT_TIMEOUT_S} s", ())
    message = (done.stdout + done.stderr).strip()
    files = tuple(sorted(p for p in out_dir.rglob("*") if p.is_file()))
    return ExportResult(done.returncode == 0, message, files)


def zip_folder(files: tuple[Path, ...], root: Path) -> bytes:
    """All exported files in one zip, paths relative to ``root``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root))
    return buffer.getvalue()

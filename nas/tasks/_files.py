"""Reading the user's data files, with one-line errors that name the study key.

Every reader checks what a task relies on (shapes, label ranges, sizes) and
raises :class:`~nas.errors.DataError` whose message starts with the key that
named the file (``task.params.path: ...``), so a bad file is refused before a
study exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nas.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "existing", "read_image_folder", "read_image_npz", "check_labels",
           "seeded_split"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def existing(key: str, value: Any, *, folder_ok: bool = False) -> Path:
    """``value`` as a path that exists, else a one-line error naming ``key``."""
    if not isinstance(value, (str, Path)) or not str(value):
        raise DataError(f"{key}: required; the path of the data file")
    path = Path(value).expanduser()
    if not path.exists():
        raise DataError(f"{key}: file not found: {path}")
    if path.is_dir() and not folder_ok:
        raise DataError(f"{key}: {path} is a folder; expected a file")
    return path


def read_image_npz(key: str, path: Path) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """``x`` (N×H×W×C or N×H×W, uint8 or float in [0, 1]) and ``y`` (N integer labels)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("x", "y") if k not in data.files]
            if missing:
                raise DataError(f"{key}: {path.name} has no array '{missing[0]}'; expected x "
                                f"(N×H×W×C images) and y (N labels), found: {', '.join(data.files)}")
            x, y = data["x"], data["y"]
            classes = [str(c) for c in data["classes"]] if "classes" in data.files else None
    except (OSError, ValueError) as exc:
        raise DataError(f"{key}: {path} is not a readable .npz file ({exc})") from None
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or min(x.shape) < 1:
        raise DataError(f"{key}: x has shape {tuple(x.shape)}; expected N×H×W×C images")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DataError(f"{key}: x has dtype {x.dtype}; expected uint8 or float pixels")
    if x.dtype != np.uint8:
        x = np.clip(np.rint(x.astype(np.float64) * (255 if x.max() <= 1.0 else 1)), 0, 255).astype(np.uint8)
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{key}: y has shape {tuple(y.shape)}; expected ({len(x)},), one label per image")
    return np.ascontiguousarray(x), _integer_labels(key, y), classes


def read_image_folder(key: str, folder: Path,
                      classes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """An ImageFolder: one sub-folder per class of PNG/JPEG files, read with Pillow.

    Returns NHWC uint8 images (grey when the first image is grey, else RGB),
    labels in sorted class-name order, and the class names. ``classes`` (from
    the training folder) fixes the names a validation or test folder must use.
    """
    from PIL import Image, UnidentifiedImageError

    found = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise DataError(f"{key}: {folder} has no class sub-folders (ImageFolder layout: "
                        "one folder of PNG/JPEG images per class)")
    if classes is None:
        classes = found
    elif set(found) - set(classes):
        extra = sorted(set(found) - set(classes))[0]
        raise DataError(f"{key}: class folder '{extra}' is not a training class; "
                        f"classes: {', '.join(classes)}")
    images: list[np.ndarray] = []
    labels: list[int] = []
    mode = None
    for label, name in enumerate(classes):
        if name not in found:
            continue
        files = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{key}: class folder '{name}' has no PNG/JPEG images")
        for file in files:
            try:
                with Image.open(file) as image:
                    if mode is None:
                        mode = "L" if image.mode in ("L", "1", "I", "I;16", "F") else "RGB"
                    pixels = np.asarray(image.convert(mode))
            except (UnidentifiedImageError, OSError) as exc:
                raise DataError(f"{key}: {file} is not a readable image ({exc})") from None
            if images and pixels.shape[:2] != images[0].shape[:2]:
                raise DataError(f"{key}: {file} is {pixels.shape[1]}×{pixels.shape[0]} pixels, the "
                                f"others {images[0].shape[1]}×{images[0].shape[0]}; "
                                "images must share one size")
            images.append(pixels if pixels.ndim == 3 else pixels[..., None])
            labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64), classes


def check_labels(key: str, labels: np.ndarray, num_classes: int) -> None:
    """Labels must lie in ``[0, num_classes)``."""
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        bad = int(labels.min()) if labels.min() < 0 else int(labels.max())
        raise DataError(f"{key}: label {bad} is out of range; labels must be 0..{num_classes - 1}")


def seeded_split(labels: np.ndarray, fractions: dict[str, float], seed: int,
                 stratified: bool = True) -> dict[str, np.ndarray]:
    """Indices per split: each class shuffled (seeded) and cut by ``fractions``; the rest is train.

    Stratified, so a small class is in every split in proportion.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {name: [] for name in (*fractions, "train")}
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)] if stratified \
        else [np.arange(len(labels))]
    for members in groups:
        members = rng.permutation(members)
        start = 0
        for name, fraction in fractions.items():
            count = int(round(fraction * len(members)))
            out[name].append(members[start:start + count])
            start += count
        out["train"].append(members[start:])
    return {name: np.sort(np.concatenate(parts)) for name, parts in out.items()}


def _integer_labels(key: str, y: np.ndarray) -> np.ndarray:
    if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{key}: labels have dtype {y.dtype}; expected integer class indices")
    return y.astype(np.int64)

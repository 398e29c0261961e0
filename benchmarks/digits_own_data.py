"""Your own images: scikit-learn's handwritten digits as a folder of PNGs, searched end to end.

Writes the 1,797 8×8 digits bundled with scikit-learn (Alpaydin & Kaynak 1998)
as an ImageFolder (one sub-folder per digit), searches a small residual CNN
family given as a *plugin file* outside the package on it with the
``image-classification`` task (seeded 10% validation / 10% test split), and
prints the best trial's test accuracy (chosen by validation accuracy) and the
wall time::

    OMP_NUM_THREADS=1 python benchmarks/digits_own_data.py --n-trials 6 --n-jobs 2

``--folder`` keeps the PNGs and study in that folder instead of a temporary one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

SPACE = '''
import torch.nn as nn

from search_spaces import Categorical, SearchSpace, register_space


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
            nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels))

    def forward(self, x):
        return (x + self.body(x)).relu()


@register_space("digits-resnet")
class DigitsResNet(SearchSpace):
    families = ("image",)

    def base_choices(self):
        return {"width": Categorical((16, 32, 8)), "depth": Categorical((1, 2, 3)),
                "lr": Categorical((0.01, 0.003))}

    def build(self, arch, spec):
        width = arch["width"]
        layers = [nn.Conv2d(spec.input_dim, width, 3, padding=1, bias=False),
                  nn.BatchNorm2d(width), nn.ReLU()]
        layers += [Block(width) for _ in range(arch["depth"])]
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, spec.num_classes)]
        return nn.Sequential(*layers)
'''


def write_digits_folder(root: Path) -> Path:
    """The digits as ``root/<digit>/<index>.png`` (8-bit grey, 0..16 scaled to 0..255)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for index, (image, label) in enumerate(zip(digits.images, digits.target)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.rint(image * (255 / 16)).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:04d}.png")
    return root


def study(name: str, images: Path, n_trials: int, n_jobs: int, epochs: int) -> dict:
    return {
        "name": name, "seed": 0, "device": "cpu", "n_jobs": n_jobs,
        "plugins": ["digits_resnet.py"],
        "space": {"name": "digits-resnet"},
        "task": {"name": "image-classification",
                 "params": {"path": str(images), "batch_size": 64}},
        "objectives": [{"metric": "val_accuracy", "direction": "maximize"}],
        "sampler": {"name": "tpe"},
        "evaluator": {"name": "train", "params": {"epochs": epochs, "patience": 8,
                                                   "latency_repeats": 2}},
        "budget": {"n_trials": n_trials},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=6)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()

    import os

    import nas

    folder = args.folder or Path(tempfile.mkdtemp(prefix="nas-digits-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.chdir(folder)  # the plugin path is relative to here; checkpoints land here too
    (folder / "digits_resnet.py").write_text(SPACE)
    images = write_digits_folder(folder / "digits")
    start = time.time()
    result = nas.run(study("digits", images, args.n_trials, args.n_jobs, args.epochs),
                     storage=f"sqlite:///{folder / 'nas.db'}")
    seconds = time.time() - start
    best = result.best()
    print(f"digits: {result.n_complete} trials ({result.n_failed} failed), {args.n_jobs} workers, "
          f"{seconds:.0f} s; best by val_accuracy: trial {int(best['number'])} "
          f"val_accuracy {best['val_accuracy']:.4f} test_accuracy {best['test_accuracy']:.4f} "
          f"arch {best['arch']}")


if __name__ == "__main__":
    main()

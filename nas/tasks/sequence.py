"""Next-token prediction: ``text`` (any UTF-8 file), its tiny-shakespeare preset, a synthetic stream.

``text`` reads ``path``, a UTF-8 text file, as a stream of characters. The
vocabulary is the sorted set of characters of the *training* part plus one
unknown token (the last index) that every other character maps to; it is in
``spec.extra["vocabulary"]`` and so in every export, which encodes new text
the same way. ``tinyshakespeare`` is this task over ``text/tinyshakespeare.txt``.

Both are one long token stream cut in two: the first 90% trains, the last 10%
is held out. Training batches are random windows of ``seq_len + 1`` tokens
(inputs and the targets shifted by one), ``steps_per_epoch`` batches per epoch,
seeded by (task seed, epoch). Evaluation is deterministic: non-overlapping
windows over ``eval_tokens`` held-out tokens; "val" takes them from the start
of the held-out part and "test" from its end (disjoint while ``eval_tokens``
is at most half of it). The metric is the mean cross-entropy per token
(``loss``, nats) and bits per character (``bpc = loss / ln 2``, the usual
figure for character models, e.g. Karpathy's char-rnn), plus next-token
``accuracy``.

Params (study file ``[task.params]``): ``seq_len`` (64), ``batch_size`` (32),
``steps_per_epoch`` (50), ``eval_tokens`` (16384); ``synthetic-seq`` has
smaller defaults (32, 16, 20, 2048).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nas.errors import ConfigError, DataError
from nas.tasks import TASKS
from nas.tasks._base import Task, require_file
from nas.tasks._files import existing
from search_spaces import Batch, TaskSpec

if TYPE_CHECKING:
    import torch

__all__ = ["TokenStreamTask", "TextTask", "TinyShakespeareTask", "SyntheticSequenceTask"]

_TRAIN_FRACTION = 0.9
_SPLITS = ("train", "val", "test")


class TokenStreamTask(Task):
    """Shared logic: a token stream, random training windows, windowed evaluation."""

    family: ClassVar[str] = "sequence"
    metric: ClassVar[str] = "bpc"
    higher_is_better: ClassVar[bool] = False

    #: parameter defaults; a subclass may change them
    defaults: ClassVar[dict[str, int]] = {
        "seq_len": 64, "batch_size": 32, "steps_per_epoch": 50, "eval_tokens": 16384,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seq_len = self._int_param("seq_len")
        self.batch_size = self._int_param("batch_size")
        self.steps_per_epoch = self._int_param("steps_per_epoch")
        self.eval_tokens = self._int_param("eval_tokens")
        self._train: Any = None
        self._heldout: Any = None

    # -- what subclasses provide ------------------------------------------
    def _load_stream(self) -> tuple[Any, int]:
        """The whole token stream (1-D long tensor) and the vocabulary size."""
        raise NotImplementedError

    def _extra(self) -> dict[str, Any]:
        """What an export needs to encode new input (a text task's vocabulary)."""
        return {}

    # -- Task API ---------------------------------------------------------
    def prepare(self, device: Any = "cpu") -> TaskSpec:
        if self._train is None or self.device != device:
            stream, vocab = self._load_stream()
            cut = int(len(stream) * _TRAIN_FRACTION)
            if cut <= self.seq_len + 1 or len(stream) - cut <= self.seq_len + 1:
                raise DataError(f"task.params.path: the text ({len(stream)} tokens) is too short for "
                                f"seq_len {self.seq_len}: the train or held-out split is empty")
            self._train = stream[:cut].to(device)
            self._heldout = stream[cut:].to(device)
            self.device = device
            self._spec = TaskSpec(family="sequence", input_dim=vocab, num_classes=vocab,
                                  input_size=self.seq_len,
                                  extra={"train_tokens": cut, "heldout_tokens": len(stream) - cut,
                                         **self._extra()})
        assert self._spec is not None
        return self._spec

    def train_batches(self, epoch: int) -> Iterable[Batch]:
        import torch

        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        for _ in range(self.steps_per_epoch):
            yield self._windows(self._train, self.batch_size, generator)

    def evaluate(self, model: torch.nn.Module, split: str) -> dict[str, float]:
        import torch
        import torch.nn.functional as F

        tokens = self._eval_stream(split)
        windows = (len(tokens) - 1) // self.seq_len
        inputs = tokens[: windows * self.seq_len].view(windows, self.seq_len)
        targets = tokens[1: windows * self.seq_len + 1].view(windows, self.seq_len)
        was_training = model.training
        model.eval()
        total_loss, correct = 0.0, 0
        with torch.no_grad():
            for start in range(0, windows, self.batch_size):
                logits = model(inputs[start:start + self.batch_size])
                flat = logits.reshape(-1, logits.shape[-1])
                expected = targets[start:start + self.batch_size].reshape(-1)
                total_loss += float(F.cross_entropy(flat, expected, reduction="sum"))
                correct += int((flat.argmax(-1) == expected).sum())
        model.train(was_training)
        count = windows * self.seq_len
        loss = total_loss / count
        return {"loss": loss, "bpc": loss / math.log(2), "accuracy": correct / count}

    def example_batch(self, batch_size: int = 64, seed: int = 0) -> Batch:
        import torch

        return self._windows(self._train, batch_size, torch.Generator().manual_seed(seed))

    # -- helpers ----------------------------------------------------------
    def _windows(self, stream: Any, batch_size: int, generator: Any) -> Batch:
        import torch

        starts = torch.randint(0, len(stream) - self.seq_len - 1, (batch_size,), generator=generator)
        offsets = starts.to(stream.device)[:, None] + torch.arange(self.seq_len + 1, device=stream.device)
        window = stream[offsets]
        return Batch((window[:, :-1],), window[:, 1:])

    def _eval_stream(self, split: str) -> Any:
        if self._heldout is None:
            raise RuntimeError(f"task '{self.name}': call prepare() first")
        if split == "train":
            return self._train[: self.eval_tokens + 1]
        if split == "val":
            return self._heldout[: self.eval_tokens + 1]
        if split == "test":
            return self._heldout[-(self.eval_tokens + 1):]
        raise ConfigError(f"unknown split '{split}'; splits: {', '.join(_SPLITS)}")

    def _int_param(self, name: str) -> int:
        value = self.params.get(name, self.defaults[name])
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"task.params.{name}: {value!r} must be a positive integer")
        return value


@TASKS.register("text")
class TextTask(TokenStreamTask):
    """Character-level language modelling on any UTF-8 text file (``path``)."""

    name = "text"
    defaults: ClassVar[dict[str, int]] = {**TokenStreamTask.defaults}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        unknown = sorted(set(self.params) - {"path", *self.defaults})
        if unknown:
            raise ConfigError(f"task.params: unknown parameter '{unknown[0]}' for task '{self.name}'; "
                              f"known: path, {', '.join(self.defaults)}")
        self.vocabulary = ""

    def text_file(self) -> Path:
        """The file to read; a preset overrides it."""
        return existing("task.params.path", self.params.get("path"))

    def _load_stream(self) -> tuple[Any, int]:
        import torch

        path = self.text_file()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"task.params.path: {path} is not UTF-8 text (byte {exc.start})") from None
        if not text:
            raise DataError(f"task.params.path: {path} is empty")
        cut = int(len(text) * _TRAIN_FRACTION)
        self.vocabulary = "".join(sorted(set(text[:cut])))
        unknown = len(self.vocabulary)
        index = {ch: i for i, ch in enumerate(self.vocabulary)}
        tokens = [index.get(ch, unknown) for ch in text]
        return torch.tensor(tokens, dtype=torch.long), unknown + 1

    def _extra(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary, "unknown_token": len(self.vocabulary)}


@TASKS.register("tinyshakespeare")
class TinyShakespeareTask(TextTask):
    """Character-level tiny-shakespeare (``text/tinyshakespeare.txt``, 1.1M characters, 65 symbols + unknown)."""

    name = "tinyshakespeare"

    def text_file(self) -> Path:
        return require_file(self.data_dir / "text" / "tinyshakespeare.txt", self.name)


@TASKS.register("synthetic-seq")
class SyntheticSequenceTask(TokenStreamTask):
    """A seeded, learnable token stream for fast tests: a sparse random Markov chain.

    Each token has two likely successors (90% of the mass) and a uniform tail,
    so a model that learns the transitions reaches about 1.7 bits per token (the chain's entropy),
    far below the ``log2(vocab_size)`` of guessing. Params (besides the common
    ones): ``vocab_size`` (16), ``length`` (20000).
    """

    name = "synthetic-seq"

    defaults: ClassVar[dict[str, int]] = {
        "seq_len": 32, "batch_size": 16, "steps_per_epoch": 20, "eval_tokens": 2048,
        "vocab_size": 16, "length": 20000,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocab_size = self._int_param("vocab_size")
        self.length = self._int_param("length")

    def _load_stream(self) -> tuple[Any, int]:
        import torch

        generator = torch.Generator().manual_seed(self.seed)
        vocab = self.vocab_size
        successors = torch.randint(0, vocab, (vocab, 2), generator=generator)
        transition = torch.full((vocab, vocab), 0.1 / vocab)
        transition[torch.arange(vocab)[:, None], successors] += 0.45
        cumulative = transition.cumsum(dim=1).tolist()
        draws = torch.rand(self.length, generator=generator).tolist()
        tokens, token = [], 0
        for draw in draws:
            token = min(bisect.bisect_left(cumulative[token], draw), vocab - 1)
            tokens.append(token)
        return torch.tensor(tokens, dtype=torch.long), vocab

"""Training checkpoints as one safetensors file: weights, optimizer moments, RNG, JSON metadata.

No pickle: tensors go in the safetensors body, everything else is JSON in its metadata. Files are
written to a temp name and renamed, so a crash never leaves half a checkpoint behind. Checkpoints of
the previous format (legonn-checkpoint-1: a flat model section, best_bleu/best_wer) load through
`legonn.compat`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from legonn import compat
from legonn.config import ExperimentConfig, config_from_json, config_to_dict
from legonn.errors import LegoError
from legonn.io import atomic_write
from legonn.task import Task
from legonn.vocab import Vocabulary


CHECKPOINT_FORMAT = "legonn-checkpoint-2"
OLD_FORMATS = ("legonn-checkpoint-1",)


@dataclass
class TrainerState:
    """Where a run is: resuming at (epoch, batches_done) replays exactly the same batches."""

    step: int = 0
    epoch: int = 1
    batches_done: int = 0
    best: float | None = None  # the best validation score so far (None: none yet) …
    best_on: str = ""  # … of this validation entry, e.g. 'valid_bleu' or 'valid_ctc0_wer' (its metric is in the name)
    bad_epochs: int = 0
    train_seconds: float = 0.0
    target_tokens: int = 0


@dataclass
class Checkpoint:
    config: ExperimentConfig
    state: TrainerState
    model: dict
    optimizer: dict | None
    rng: torch.Tensor | None  # rank 0's (or the only process's) torch RNG state
    rank_rngs: dict[int, torch.Tensor]  # every rank's RNG state in a multi-process run
    src_vocab: Vocabulary | None  # None for speech models
    tgt_vocab: Vocabulary
    extra: dict
    more_vocabs: list[Vocabulary] = field(default_factory=list)

    @property
    def task(self) -> Task:
        return Task.from_dict(self.extra.get("task", {}), "checkpoint")

    def vocabularies(self) -> dict[str, Vocabulary]:
        """Every vocabulary stored in the checkpoint, by fingerprint."""
        return {v.fingerprint: v for v in (self.src_vocab, self.tgt_vocab, *self.more_vocabs) if v is not None}


def _bytes_tensor(data: bytes) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def save_checkpoint(path: str | Path, config: ExperimentConfig, state: TrainerState, model: nn.Module,
                    src_vocab: Vocabulary | None, tgt_vocab: Vocabulary, optimizer: torch.optim.Optimizer | None = None,
                    extra: dict | None = None, rank_rngs: list[torch.Tensor] | None = None,
                    more_vocabs: list[Vocabulary] = ()) -> None:
    """more_vocabs: interface vocabularies beyond source and target (e.g. a chain's phonemes)."""
    write_checkpoint(path, Checkpoint(
        config, state, model.state_dict(), optimizer.state_dict() if optimizer is not None else None,
        torch.get_rng_state(), dict(enumerate(rank_rngs or [])), src_vocab, tgt_vocab, extra or {},
        list(more_vocabs)))


def write_checkpoint(path: str | Path, ckpt: Checkpoint) -> None:
    """`ckpt` as one safetensors file in the current format (`legonn convert` rewrites old ones with it)."""
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in ckpt.model.items()}
    if ckpt.src_vocab is not None:  # speech models read features, not tokens
        tensors["vocab.src"] = _bytes_tensor(ckpt.src_vocab.model_bytes)
    tensors["vocab.tgt"] = _bytes_tensor(ckpt.tgt_vocab.model_bytes)
    for i, vocab in enumerate(ckpt.more_vocabs):
        tensors[f"vocab.more{i}"] = _bytes_tensor(vocab.model_bytes)
    if ckpt.rng is not None:
        tensors["rng.torch"] = ckpt.rng
    for rank, rng_state in ckpt.rank_rngs.items():
        tensors[f"rng.torch.rank{rank}"] = rng_state
    groups = []
    if ckpt.optimizer is not None:
        for pid, pstate in ckpt.optimizer["state"].items():
            for key, value in pstate.items():
                tensors[f"optim.{pid}.{key}"] = torch.as_tensor(value).contiguous()
        groups = ckpt.optimizer["param_groups"]
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "config": json.dumps(config_to_dict(ckpt.config)),
        "state": json.dumps(ckpt.state.__dict__),
        "optim_groups": json.dumps(groups),
        "has_optimizer": json.dumps(ckpt.optimizer is not None),
        "extra": json.dumps(ckpt.extra),
    }
    metadata["sha256"] = content_digest(tensors, metadata)
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def content_digest(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> str:
    """SHA-256 over every tensor (name, dtype, shape, bytes, in name order) and every metadata entry but
    the digest itself: a flipped byte anywhere in a checkpoint changes it."""
    h = hashlib.sha256()
    for key in sorted(k for k in metadata if k != "sha256"):
        h.update(f"{key}={metadata[key]}\0".encode())
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())  # the bytes as they are, no copy
    return h.hexdigest()


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`; any defect is a LegoError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise LegoError(f"{path}: checkpoint not found")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise LegoError(f"{path}: not a readable checkpoint ({_first_line(exc)})") from None
    if "sha256" in meta and content_digest(tensors, meta) != meta["sha256"]:  # v1 files carry no digest
        raise LegoError(f"{path}: damaged checkpoint (its SHA-256 does not match the one it was written with)")
    if meta.get("format") in OLD_FORMATS:
        tensors, meta = _upgrade(tensors, meta)
    elif meta.get("format") != CHECKPOINT_FORMAT:
        raise LegoError(f"{path}: not a legonn checkpoint (format {meta.get('format')!r}; this version reads "
                        f"{CHECKPOINT_FORMAT} and {', '.join(OLD_FORMATS)})")
    try:
        return _unpack(path, tensors, meta)
    except LegoError as exc:
        message = str(exc)
        raise LegoError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise LegoError(f"{path}: damaged checkpoint ({type(exc).__name__}: {_first_line(exc)})") from None


def _upgrade(tensors: dict, meta: dict) -> tuple[dict, dict]:
    """A legonn-checkpoint-1 file's tensors and metadata in today's shapes (see legonn.compat)."""
    config = json.loads(meta["config"])
    flat_model = config.get("model", {})
    config["model"] = compat.upgrade_model_config(flat_model)
    extra = json.loads(meta.get("extra", "{}"))
    input_kind = "speech" if "speech" in extra else "marginals" if flat_model.get("input") == "token-marginals" else "text"
    extra["task"] = Task(config.get("task", "de-en"), input_kind).to_dict()
    if "composition" in extra:
        extra["composition"] = compat.upgrade_composition(extra["composition"])
    state = compat.upgrade_trainer_state(json.loads(meta["state"]), speech="speech" in extra)
    models = compat.upgrade_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    tensors = {k: v for k, v in tensors.items() if not k.startswith("model.")} | {f"model.{k}": v for k, v in models.items()}
    return tensors, {**meta, "config": json.dumps(config), "state": json.dumps(state), "extra": json.dumps(extra)}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _unpack(path: Path, tensors: dict, meta: dict) -> Checkpoint:
    model = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    optimizer = None
    if json.loads(meta["has_optimizer"]):
        state: dict = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, pid, key = k.split(".", 2)
                state.setdefault(int(pid), {})[key] = v
        optimizer = {"state": state, "param_groups": json.loads(meta["optim_groups"])}
    return Checkpoint(
        config=config_from_json(meta["config"]),
        state=TrainerState(**json.loads(meta["state"])),
        model=model,
        optimizer=optimizer,
        rng=tensors.get("rng.torch"),
        rank_rngs={int(k.removeprefix("rng.torch.rank")): v for k, v in tensors.items() if k.startswith("rng.torch.rank")},
        src_vocab=(Vocabulary(tensors["vocab.src"].numpy().tobytes(), f"{path}[vocab.src]")
                   if "vocab.src" in tensors else None),
        tgt_vocab=Vocabulary(tensors["vocab.tgt"].numpy().tobytes(), f"{path}[vocab.tgt]"),
        extra=json.loads(meta.get("extra", "{}")),
        more_vocabs=[Vocabulary(tensors[f"vocab.more{i}"].numpy().tobytes(), f"{path}[vocab.more{i}]")
                     for i in range(sum(k.startswith("vocab.more") for k in tensors))],
    )


def check_vocab(ckpt_vocab: Vocabulary, other: Vocabulary, path: str | Path, field: str) -> None:
    """A checkpoint must be used with the vocabulary it was trained on."""
    if ckpt_vocab.fingerprint != other.fingerprint:
        raise LegoError(
            f"{path}: checkpoint was trained with vocabulary {ckpt_vocab.fingerprint[:12]}, "
            f"but {field} ({other.source}) is {other.fingerprint[:12]}"
        )

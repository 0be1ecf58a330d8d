"""Bricks: one trained module that anyone can load with nothing but this library.

A brick is `NAME.safetensors` (weights) + `NAME.json` (its card) + the sentencepiece models of the
vocabularies it reads and emits, stored beside it as `vocab-<fingerprint>.model` (shared by every
brick in a folder). The card says what the module is (kind, and as `config` exactly the config
section that built it, e.g. a YAML `model.encoder`), what it reads
and emits (vocabulary fingerprints, blank id), the length ratios K/L it saw in training, what data
it was trained on, its metrics, and the SHA-256 of its weights. No pickle anywhere.

A composed model is a folder of bricks plus `composition.json`, which lists them in order.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save
from torch import nn

import legonn
from legonn import compat
from legonn.checkpoint import Checkpoint
from legonn.config import build_section
from legonn.errors import LegoError
from legonn.interface import VocabId, VocabMismatch
from legonn.length_stats import outside_range
from legonn.model import LegoModel
from legonn.data.features import SpeechFrontEnd
from legonn.modules import MODULE_KINDS, Decoder, InterfaceEncoder
from legonn.io import atomic_copy, atomic_write_bytes, check_output_folder
from legonn.shapes import build_to_fit, header_shapes
from legonn.vocab import Vocabulary

BRICK_FORMAT = "legonn-brick-2"
OLD_BRICK_FORMATS = ("legonn-brick-1",)  # read through legonn.compat
COMPOSITION_FORMAT = "legonn-composition-1"
COMPOSITION_FILE = "composition.json"

KINDS = MODULE_KINDS  # kind → (config class, builder): 'encoder' (reads what its front end reads) or 'decoder'
KIND_OF = {InterfaceEncoder: "encoder", Decoder: "decoder"}


class LengthRatioWarning(UserWarning):
    """An encoder's K/L ratios fall outside what the decoder saw in training."""


@dataclass
class Brick:
    module: nn.Module
    card: dict
    reads: Vocabulary | None  # None for a speech encoder, which reads features (see front_end)
    emits: Vocabulary
    path: Path
    front_end: SpeechFrontEnd | None = None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _vocab_entry(vocab: Vocabulary, folder: Path) -> dict:
    """Store the sentencepiece model once per folder, named by its fingerprint."""
    name = f"vocab-{vocab.fingerprint[:16]}.model"
    if not (folder / name).exists():
        vocab.save(folder / name)
    return {"fingerprint": vocab.fingerprint, "size": len(vocab), "blank": vocab.id.blank, "file": name}


def _reads_type(module: nn.Module) -> str:
    """'tokens', 'features' or 'marginals' — what the brick's data must be."""
    return module.cfg.reads if isinstance(module, InterfaceEncoder) else "marginals"


def _module_of(model: nn.Module, which: str, source: str = "") -> tuple[str, nn.Module]:
    if not isinstance(model, LegoModel):
        where = f"{source}: " if source else ""
        raise LegoError(f"{where}a baseline model has no interface: only LegoNN modules can be exported as bricks")
    if which == "encoder":  # the model's one trained encoder (a TokenMarginals input has no weights)
        trained = [e for e in model.encoders if type(e) in KIND_OF]
        if len(trained) != 1:
            raise LegoError(f"{source or 'model'}: {len(trained)} encoders with weights; export needs exactly one")
        return KIND_OF[type(trained[0])], trained[0]
    if which == "decoder":
        return "decoder", model.decoder
    raise LegoError(f"--module: unknown module {which!r} (expected 'encoder' or 'decoder')")


def export_brick(model: nn.Module, ckpt: Checkpoint, which: str, out_dir: Path, name: str | None = None,
                 fp16: bool = False, metrics: dict | None = None, source: str = "") -> Path:
    """Write one module of a trained model as a brick into out_dir; returns the card's path."""
    kind, module = _module_of(model, which, source)
    reads_type = _reads_type(module)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = name or f"{ckpt.config.task}.{which}"
    data = dict(ckpt.extra.get("data", {}))
    known = {v.id: v for v in ckpt.vocabularies().values()}
    reads = ckpt.src_vocab if reads_type == "tokens" else known.get(module.in_vocab)
    emits = ckpt.tgt_vocab if kind == "decoder" else known[module.out_vocab]
    dtype = torch.float16 if fp16 else torch.float32
    weights = _write_weights(module, dtype, out_dir / f"{name}.safetensors")
    card = {
        "format": BRICK_FORMAT,
        "name": name,
        "kind": kind,
        "config": asdict(module.cfg),
        "library_version": legonn.__version__,
        "reads": ({"type": "features", "front_end": ckpt.extra["speech"]} if reads_type == "features"
                  else {"type": reads_type, "vocab": _vocab_entry(reads, out_dir)}),
        "emits": {"type": "tokens" if kind == "decoder" else "marginals", "vocab": _vocab_entry(emits, out_dir)},
        "length_ratio": data.pop("length_ratio", None),
        **({"input_length_ratio": data.pop("input_length_ratio")} if "input_length_ratio" in data else {}),
        "data": data,
        "training": {"task": ckpt.config.task, "input": ckpt.task.input, "system": ckpt.config.name,
                     "seed": ckpt.config.train.seed},
        "metrics": {"best": ckpt.state.best, "best_on": ckpt.state.best_on or f"valid_{ckpt.task.metric}",
                    "train_steps": ckpt.state.step, **(metrics or {})},
        "weights": _weights_entry(weights, dtype),
        "exported_from": source,
    }
    card_path = out_dir / f"{name}.json"
    atomic_write_bytes(card_path, (json.dumps(card, indent=2) + "\n").encode())
    return card_path


def _write_weights(module: nn.Module, dtype: torch.dtype, path: Path) -> Path:
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in module.state_dict().items()}
    atomic_write_bytes(path, save(tensors))
    return path


def _weights_entry(path: Path, dtype: torch.dtype) -> dict:
    return {"file": path.name, "sha256": _sha256(path), "dtype": str(dtype).removeprefix("torch.")}


def convert_brick(card_path: str | Path, out_dir: str | Path) -> Path:
    """Rewrite a brick of an older format (legonn-brick-1) in the current one, into out_dir: the same weights
    (checked against the old card's SHA-256, stored in the same dtype) under today's names, a card whose
    `config` is today's section, and its vocabularies. Returns the new card's path."""
    card_path, out_dir = Path(card_path), Path(out_dir)
    if json.loads(Path(card_path).read_text(encoding="utf-8")).get("format") == BRICK_FORMAT:
        raise LegoError(f"{card_path}: already a {BRICK_FORMAT} card; nothing to convert")
    brick = load_brick(card_path)  # checks the old weights' hash and converts the card
    out_dir.mkdir(parents=True, exist_ok=True)
    dtype = getattr(torch, brick.card["weights"].get("dtype", "float32"))
    weights = _write_weights(brick.module, dtype, out_dir / brick.card["weights"]["file"])
    for side in ("reads", "emits"):
        if "vocab" in brick.card[side]:
            vocab = brick.reads if side == "reads" else brick.emits
            brick.card[side]["vocab"] = _vocab_entry(vocab, out_dir)
    card = {**brick.card, "weights": _weights_entry(weights, dtype)}
    out = out_dir / card_path.name
    atomic_write_bytes(out, (json.dumps(card, indent=2) + "\n").encode())
    return out


def read_card(path: Path) -> dict:
    """A brick's .json card, checked field by field (LegoError naming the file otherwise); weights untouched."""
    path = Path(path)
    if path.is_dir():
        raise LegoError(f"{path}: is a folder; name a brick's .json card")
    if not path.is_file():
        raise LegoError(f"{path}: brick card not found")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise LegoError(f"{path}: not a JSON brick card ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    fmt = card.get("format") if isinstance(card, dict) else None
    if fmt not in (BRICK_FORMAT, *OLD_BRICK_FORMATS):
        raise LegoError(f"{path}: not a legonn brick card (format {fmt!r})")
    for key in ("name", "kind", "config", "reads", "emits", "weights"):
        if key not in card:
            raise LegoError(f"{path}: brick card has no '{key}' field")
    if fmt in OLD_BRICK_FORMATS:
        if card["kind"] not in compat.OLD_KINDS:
            raise LegoError(f"{path}: unknown brick kind {card['kind']!r} (known: {', '.join(compat.OLD_KINDS)})")
        card = compat.upgrade_card(card)
    if card["kind"] not in KINDS:
        raise LegoError(f"{path}: unknown brick kind {card['kind']!r} (known: {', '.join(KINDS)})")
    _check_fields(card, path)
    return card


# card fields that loading and composing read, beyond the top-level ones
NESTED_FIELDS = {"reads": ("type", "vocab"), "emits": ("type", "vocab"), "weights": ("file", "sha256")}
VOCAB_FIELDS = ("fingerprint", "file")
RATIO_FIELDS = ("mean", "p5", "p95")


def plain_file_name(value: object, path: Path, field: str) -> str:
    """A file that a brick or a composition names lies in its own folder: a bare name, never a path
    (`../x`, `/etc/passwd`, `sub/x`), so nothing outside the folder is read, hashed or written."""
    if (not isinstance(value, str) or value in ("", ".", "..") or any(c in value for c in "/\\\0")
            or Path(value).is_absolute()):
        raise LegoError(f"{path}: '{field}' must be a file name in the same folder, not {value!r}")
    return value


def _check_fields(card: dict, path: Path) -> None:
    """A card edited by hand fails here with the field's name, not later with a KeyError; every file it
    names is checked to lie in its folder before any is opened."""
    speech = isinstance(card["reads"], dict) and card["reads"].get("type") == "features"
    for key, fields in NESTED_FIELDS.items():
        if speech and key == "reads":  # reads features: the front end instead of a vocabulary
            fields = ("type", "front_end")
        for field in fields:
            if not isinstance(card[key], dict) or field not in card[key]:
                raise LegoError(f"{path}: brick card has no '{key}.{field}' field")
        if key != "weights" and not (speech and key == "reads"):
            for field in VOCAB_FIELDS:
                if not isinstance(card[key]["vocab"], dict) or field not in card[key]["vocab"]:
                    raise LegoError(f"{path}: brick card has no '{key}.vocab.{field}' field")
            if not isinstance(card[key]["vocab"]["fingerprint"], str):
                raise LegoError(f"{path}: brick card's '{key}.vocab.fingerprint' must be a string")
            plain_file_name(card[key]["vocab"]["file"], path, f"{key}.vocab.file")
    plain_file_name(card["weights"]["file"], path, "weights.file")
    digest = card["weights"]["sha256"]
    if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise LegoError(f"{path}: brick card's 'weights.sha256' must be 64 lowercase hex digits, not {digest!r}")
    stats = card.get("length_ratio")
    if stats is not None and not (isinstance(stats, dict) and all(isinstance(stats.get(f), (int, float))
                                                                  for f in RATIO_FIELDS)):
        raise LegoError(f"{path}: brick card's 'length_ratio' needs numbers {', '.join(RATIO_FIELDS)}")


def _load_vocab(folder: Path, entry: dict, card_path: Path) -> Vocabulary:
    vocab = Vocabulary.load(folder / entry["file"])
    if vocab.fingerprint != entry["fingerprint"]:
        raise LegoError(f"{folder / entry['file']}: vocabulary fingerprint {vocab.fingerprint[:12]} does not match "
                        f"{entry['fingerprint'][:12]} in {card_path}")
    return vocab


def build_module(kind: str, config: dict, reads: VocabId | None, emits: VocabId) -> nn.Module:
    """A fresh module of a brick kind from its config section and the vocabularies it reads/emits
    (a config that does not fit raises LegoError naming the key)."""
    config_cls, build = KINDS[kind]
    return build(build_section(config_cls, config, "config"), reads=reads, emits=emits)


def describe_chain(bricks: list[Brick]) -> list[dict]:
    """What rebuilds a composed model without its folder (kept in checkpoints of fine-tuned compositions):
    each module's kind, config and vocabulary fingerprints."""
    return [{"kind": b.card["kind"], "config": b.card["config"], "reads": b.reads.fingerprint if b.reads else None,
             "emits": b.emits.fingerprint} for b in bricks]


def build_chain(description: list[dict], vocabs: dict[str, Vocabulary]) -> LegoModel:
    """The LegoModel `describe_chain` describes, with fresh weights; `vocabs` maps fingerprints to vocabularies."""
    try:
        modules = [build_module(d["kind"], d["config"], vocabs[d["reads"]].id if d["reads"] else None,
                                vocabs[d["emits"]].id) for d in description]
    except KeyError as exc:
        raise LegoError(f"composition names vocabulary {str(exc)[:14]}… that is not stored beside it") from None
    return LegoModel(modules[:-1], modules[-1])


def load_brick(card_path: str | Path) -> Brick:
    """Load a brick after checking the weights' SHA-256 and the vocabularies' fingerprints."""
    card_path = Path(card_path)
    card = read_card(card_path)
    folder = card_path.parent
    weights = folder / card["weights"]["file"]
    if not weights.is_file():
        raise LegoError(f"{weights}: brick weights not found (named by {card_path})")
    digest = _sha256(weights)
    if digest != card["weights"]["sha256"]:
        raise LegoError(f"{weights}: SHA-256 {digest[:12]} does not match the card's {card['weights']['sha256'][:12]} "
                        "(corrupted or truncated file)")
    kind = card["kind"]
    speech = card["reads"]["type"] == "features"
    front_end = SpeechFrontEnd.from_dict(card["reads"]["front_end"], str(card_path)) if speech else None
    reads = None if speech else _load_vocab(folder, card["reads"]["vocab"], card_path)
    emits = _load_vocab(folder, card["emits"]["vocab"], card_path)
    try:
        shapes = compat.upgrade_state_dict(header_shapes(weights))  # an older brick's names, as load renames them
    except Exception as exc:  # safetensors' own errors for a file that is not one
        raise LegoError(f"{weights}: not a safetensors file ({str(exc).splitlines()[0]})") from None

    def build() -> nn.Module:
        try:
            return build_module(kind, card["config"], reads.id if reads else None, emits.id)
        except (TypeError, ValueError, RuntimeError, LegoError) as exc:
            raise LegoError(f"{card_path}: config does not fit a {kind} ({str(exc).splitlines()[0]})") from None

    module = build_to_fit(build, shapes, str(card_path))
    try:
        state = {k: v.float() for k, v in load_file(str(weights)).items()}
        state = compat.upgrade_state_dict(state)  # renames only what an older brick kept at the top level
        module.load_state_dict(state)
    except Exception as exc:  # safetensors' own errors, or tensors that do not fit the config
        raise LegoError(f"{weights}: weights do not load into a {card['kind']} ({str(exc).splitlines()[0]})") from None
    return Brick(module.eval(), card, reads, emits, card_path, front_end)


def check_chain(bricks: list[Brick]) -> list[str]:
    """Errors for vocabulary mismatches, warnings (returned and issued) for length-ratio mismatches."""
    if len(bricks) < 2:
        raise LegoError("a composition needs at least two bricks (an encoder and a decoder)")
    if bricks[0].card["reads"]["type"] not in ("tokens", "features") or bricks[-1].card["emits"]["type"] != "tokens":
        raise LegoError(f"a composition must start with an encoder of tokens or features and end with a decoder, got "
                        f"{bricks[0].path} ({describe_card(bricks[0].card)}) first and {bricks[-1].path} "
                        f"({describe_card(bricks[-1].card)}) last")
    for inner in bricks[1:]:
        if inner.card["reads"]["type"] != "marginals":
            raise LegoError(f"{inner.path}: this {inner.card['kind']} reads {inner.card['reads']['type']}, so it can "
                            "only start a composition")
    for inner in bricks[:-1]:
        if inner.card["emits"]["type"] != "marginals":
            raise LegoError(f"{inner.path}: this {inner.card['kind']} emits {inner.card['emits']['type']}, so it can "
                            "only end a composition")
    notes = []
    for left, right in zip(bricks, bricks[1:]):
        try:
            right.reads.id.check_same(left.emits.id, f"{left.path.name} → {right.path.name}")
        except VocabMismatch as exc:
            raise LegoError(f"{exc}: {left.path} emits {left.emits.fingerprint[:12]}, {right.path} reads "
                            f"{right.reads.fingerprint[:12]}") from None
    encoder_stats, decoder_stats = bricks[-2].card.get("length_ratio"), bricks[-1].card.get("length_ratio")
    if encoder_stats and decoder_stats and outside_range(encoder_stats["mean"], decoder_stats):
        note = (f"length ratio: {bricks[-2].path.name} emits K/L = {encoder_stats['mean']:.2f} on its data, but "
                f"{bricks[-1].path.name} saw {decoder_stats['p5']:.2f}–{decoder_stats['p95']:.2f} (5th–95th "
                f"percentile) in training")
        warnings.warn(note, LengthRatioWarning, stacklevel=2)
        notes.append(note)
    return notes


def describe_card(card: dict) -> str:
    """'encoder reading features', 'decoder reading marginals', … (for messages)."""
    return f"{card['kind']} reading {card['reads']['type']}"


def _file_names(bricks: list[Brick]) -> list[str]:
    """The bricks' card file names (as given: a card may have been renamed), checked not to collide."""
    taken: set[str] = set()
    for brick in bricks:
        own = {brick.path.name, brick.card["weights"]["file"]}
        if own & taken:
            clash = ", ".join(sorted(own & taken))
            raise LegoError(f"{brick.path}: another brick in this composition also has {clash}")
        taken |= own
    return [brick.path.name for brick in bricks]


def compose(card_paths: list[Path], out_dir: Path) -> tuple[Path, list[str]]:
    """Check a chain of bricks and copy them, with their vocabularies, into out_dir plus an order file."""
    check_output_folder(out_dir)
    bricks = [load_brick(p) for p in card_paths]
    notes = check_chain(bricks)
    names = _file_names(bricks)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for brick in bricks:
        folder = brick.path.parent
        files = {brick.card["weights"]["file"], brick.card["emits"]["vocab"]["file"], brick.path.name}
        if "vocab" in brick.card["reads"]:
            files.add(brick.card["reads"]["vocab"]["file"])
        for file in files:
            if (folder / file).resolve() != (out_dir / file).resolve():
                atomic_copy(folder / file, out_dir / file)
    order = {"format": COMPOSITION_FORMAT, "modules": names, "notes": notes}
    path = out_dir / COMPOSITION_FILE
    atomic_write_bytes(path, (json.dumps(order, indent=2) + "\n").encode())
    return path, notes


def composition_cards(folder: str | Path) -> list[Path]:
    """The card of each module of a composed folder, in chain order (read from its composition file)."""
    folder = Path(folder)
    path = folder / COMPOSITION_FILE
    if not path.is_file():
        raise LegoError(f"{folder}: no {COMPOSITION_FILE} (make one with `legonn compose`)")
    try:
        modules = json.loads(path.read_text(encoding="utf-8"))["modules"]
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, KeyError, TypeError) as exc:
        raise LegoError(f"{path}: not a composition file ({type(exc).__name__}: {exc})") from None
    if not isinstance(modules, list) or not modules:
        raise LegoError(f"{path}: 'modules' must be a non-empty list of card file names")
    return [folder / plain_file_name(m, path, f"modules[{i}]") for i, m in enumerate(modules)]


def load_composed(folder: str | Path) -> tuple[LegoModel, list[Brick]]:
    """A LegoModel from a composed folder; every hand-over is checked first."""
    bricks = [load_brick(card) for card in composition_cards(folder)]
    check_chain(bricks)
    return LegoModel([b.module for b in bricks[:-1]], bricks[-1].module).eval(), bricks


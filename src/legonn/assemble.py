"""Assembling the model a run trains: bricks to start from, the `auto` length ratio, frozen modules.

Everything here happens once, before the training loop, from the config alone.
"""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from legonn.bricks import Brick, load_brick
from legonn.config import ExperimentConfig
from legonn.errors import LegoError
from legonn.length_stats import auto_ratio
from legonn.model import LegoModel
from legonn.vocab import Vocabulary


def resolve_length_ratio(cfg: ExperimentConfig, src_lengths: list[int], tgt_lengths: list[int]) -> tuple[ExperimentConfig, dict]:
    """`model.length_ratio: auto` → the α whose K/L on this data matches the decoder brick's mean K/L.

    src_lengths: the positions the encoder's OLC reads per pair (tokens, or subsampled speech frames)."""
    if cfg.model.length_ratio != "auto":
        return cfg, {}
    reference = cfg.init.length_reference
    card = load_brick(reference).card
    # a decoder records the K/L it read; a marginal encoder (the middle of a chain) the K_in per source
    # token it read, which the encoder feeding it must match
    stats = card.get("length_ratio") if card["kind"] == "decoder" else card.get("input_length_ratio")
    if not stats:
        raise LegoError(f"{reference}: not a decoder or marginal-encoder card with length statistics, so "
                        "model.length_ratio cannot be 'auto'")
    alpha = auto_ratio(stats, src_lengths, tgt_lengths)
    note = {"length_ratio_auto": {"decoder": reference, "decoder_mean": stats["mean"], "alpha": alpha}}
    return replace(cfg, model=replace(cfg.model, length_ratio=alpha)), note


def _checked_brick(path: str, field: str, kind: str, built: nn.Module, reads: tuple[Vocabulary | None, str],
                   emits: tuple[Vocabulary, str]) -> nn.Module:
    """Load the brick named by config key `field`: a `kind` speaking this run's vocabularies, with the
    same sizes as the module `model.*` describes (so the run's checkpoints stay self-describing)."""
    brick = load_brick(path)
    if brick.card["kind"] != kind:
        raise LegoError(f"{path}: {field} needs a {kind} brick, this is a {brick.card['kind']}")
    differ = [f"{k}: config {v!r}, brick {brick.module.cfg.__dict__[k]!r}"
              for k, v in built.cfg.__dict__.items() if brick.module.cfg.__dict__[k] != v and k != "dropout"]
    if differ:
        raise LegoError(f"{path}: brick does not match the model section ({'; '.join(differ)})")
    for side, have, (want, data_field) in (("reads", brick.reads, reads), ("emits", brick.emits, emits)):
        if have is None or want is None:  # speech reads features, not a vocabulary (the kind check matched them)
            continue
        if have.fingerprint != want.fingerprint:
            raise LegoError(f"{path}: brick {side} vocabulary {have.fingerprint[:12]}, but {data_field} "
                            f"({want.source}) is {want.fingerprint[:12]}")
    return brick.module


def start_from_bricks(model: nn.Module, cfg: ExperimentConfig, src_vocab: Vocabulary | None,
                      tgt_vocab: Vocabulary) -> nn.Module:
    """Swap in the modules named by `init` (bricks), after checking they speak this run's vocabularies."""
    if not (cfg.init.encoder or cfg.init.decoder):
        return model
    if not isinstance(model, LegoModel):
        raise LegoError("config key 'init': a baseline has no modules to start from bricks")
    src, tgt = (src_vocab, "data.src_vocab"), (tgt_vocab, "data.tgt_vocab")
    encoder, decoder = model.encoders[0], model.decoder
    if cfg.init.encoder:
        kind = "speech_encoder" if cfg.model.input == "speech" else "text_encoder"
        encoder = _checked_brick(cfg.init.encoder, "init.encoder", kind, encoder, reads=src, emits=tgt)
    if cfg.init.decoder:
        decoder = _checked_brick(cfg.init.decoder, "init.decoder", "decoder", decoder, reads=tgt, emits=tgt)
    return LegoModel([encoder], decoder)


def check_composition(bricks: list[Brick], src_vocab: Vocabulary | None, tgt_vocab: Vocabulary, where: str) -> None:
    """A composition to fine-tune must read this run's input and emit its target vocabulary."""
    first, last = bricks[0], bricks[-1]
    if (first.reads is None) != (src_vocab is None):
        raise LegoError(f"{where}: the composition reads {'speech' if first.reads is None else 'tokens'}, "
                        f"but the data section gives {'speech' if src_vocab is None else 'text'}")
    if src_vocab is not None and first.reads.fingerprint != src_vocab.fingerprint:
        raise LegoError(f"{where}: the composition reads vocabulary {first.reads.fingerprint[:12]}, but "
                        f"data.src_vocab ({src_vocab.source}) is {src_vocab.fingerprint[:12]}")
    if last.emits.fingerprint != tgt_vocab.fingerprint:
        raise LegoError(f"{where}: the composition emits vocabulary {last.emits.fingerprint[:12]}, but "
                        f"data.tgt_vocab ({tgt_vocab.source}) is {tgt_vocab.fingerprint[:12]}")


def freeze(model: nn.Module, names: tuple[str, ...]) -> list[nn.Module]:
    """Stop gradients into the named modules — 'encoder' (every encoder), 'decoder', or 'moduleN' (the N-th
    of the chain, from 0) — and return them (the trainer keeps them in eval mode)."""
    if not names:
        return []
    if not isinstance(model, LegoModel):
        raise LegoError("config key 'train.freeze': a baseline has no separate modules to freeze")
    chain = [*model.encoders, model.decoder]
    modules = []
    for name in names:
        if name == "encoder":
            modules += list(model.encoders)
        elif name == "decoder":
            modules.append(model.decoder)
        elif int(name.removeprefix("module")) < len(chain):
            modules.append(chain[int(name.removeprefix("module"))])
        else:
            raise LegoError(f"config key 'train.freeze': {name} does not exist; the chain has {len(chain)} modules")
    for module in modules:
        module.requires_grad_(False)
    if not any(p.requires_grad for p in model.parameters()):
        raise LegoError("config key 'train.freeze': every module is frozen, nothing would train")
    return modules

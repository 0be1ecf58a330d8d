"""Assembling what a run trains, once, from the config alone: `build_run(cfg)` resolves the task,
loads the data, fits the `auto` length ratio, builds the model (or loads the composition or bricks it
starts from), freezes modules, and gathers what checkpoints and brick cards record. The trainer is
handed the result and knows nothing of bricks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace

import torch
from torch import nn

from legonn.bricks import Brick, describe_chain, load_brick, load_composed
from legonn.config import ExperimentConfig, dotted
from legonn.data.task import TaskData, load_task_data
from legonn.datasets import display
from legonn.errors import LegoError
from legonn.length_stats import auto_ratio, ctc_unalignable, ratio_stats
from legonn.model import LegoModel, build_model
from legonn.precision import resolve_precision
from legonn.task import Task
from legonn.vocab import Vocabulary


@dataclass
class Run:
    """What the trainer is handed. cfg: the config as run ('auto' ratio and precision resolved);
    interface_vocabs: what each interface speaks, upstream first; frozen: modules kept fixed (and in
    eval mode); more_vocabs: interface vocabularies beyond source and target (a chain's), saved in
    checkpoints; extra: what checkpoints and brick cards record (task, data summary, speech front end,
    a fine-tuned composition's module list)."""

    cfg: ExperimentConfig
    model: nn.Module
    data: TaskData
    interface_vocabs: list[Vocabulary]
    frozen: list[nn.Module]
    more_vocabs: list[Vocabulary]
    extra: dict

    @property
    def task(self) -> Task:
        return self.data.task


def build_run(cfg: ExperimentConfig, progress: bool = True) -> Run:
    """Everything a training run needs before its first update (progress: show featurisation progress)."""
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    # fine-tuning a composition: its modules, and a speech encoder's own front end (features + CMVN)
    composed = load_composed(cfg.init.composed) if cfg.init.composed else None
    if composed:
        task = Task.of(cfg.task, composed[1][0].card["reads"]["type"])
        front_end = composed[1][0].front_end
    else:
        task = cfg.model.task(cfg.task)
        front_end = load_brick(cfg.init.encoder).front_end if cfg.init.encoder and task.speech else None
    data = load_task_data(cfg, task, progress, front_end)
    tgt_lengths = [len(t) for t in data.pairs.tgt]
    cfg, auto_note = resolve_length_ratio(cfg, cfg.model.source_positions(data.source_lengths()), tgt_lengths)
    # 'auto' becomes what this machine runs fastest; config.json and results record the choice
    cfg = replace(cfg, train=replace(cfg.train, precision=resolve_precision(cfg.train.precision)))
    extra = {"task": task.to_dict(), "data": summarize_data(cfg, data) | auto_note}
    if data.front_end is not None:
        extra["speech"] = data.front_end.to_dict()
    torch.manual_seed(cfg.train.seed)
    more_vocabs = []
    if composed:
        check_composition(composed[1], data.src_vocab, data.tgt_vocab, cfg.init.composed)
        model = composed[0]
        extra["composition"] = describe_chain(composed[1])  # the model section does not describe it
        known = {v.fingerprint for v in (data.src_vocab, data.tgt_vocab) if v is not None}
        more_vocabs = [b.emits for b in composed[1][:-1] if b.emits.fingerprint not in known]
    else:
        try:
            model = build_model(cfg.model, data.src_vocab.id if data.src_vocab else None, data.tgt_vocab.id)
        except ValueError as exc:
            raise LegoError(str(exc)) from None
        model = start_from_bricks(model, cfg, data.src_vocab, data.tgt_vocab)
    known = [v for v in (data.src_vocab, data.tgt_vocab, *more_vocabs) if v is not None]
    by_id = {v.id: v for v in known}
    interface_vocabs = [by_id[vocab] for vocab in model.interface_vocabs]
    return Run(cfg, model, data, interface_vocabs, freeze(model, cfg.train.freeze), more_vocabs, extra)


def summarize_data(cfg: ExperimentConfig, data: TaskData) -> dict:
    """What a module was trained on, for its brick card: files, sizes, and the K/L length ratios
    (K from the positions the encoder's OLC reads: tokens, or subsampled speech frames)."""
    pairs = data.pairs
    tgt_lengths = [len(t) for t in pairs.tgt]
    # files under the data root are recorded as $LEGONN_DATA/…: a card reads the same on every machine
    if data.speech:
        summary = {"task": cfg.task, "train_manifest": display(cfg.data.train_manifest), "pairs": len(pairs),
                   "frames": int(sum(len(s) for s in pairs.src)), "tgt_tokens": int(sum(tgt_lengths))}
    else:
        summary = {"task": cfg.task, "train_src": display(cfg.data.train_src), "train_tgt": display(cfg.data.train_tgt),
                   "pairs": len(pairs), "src_tokens": int(sum(len(s) for s in pairs.src)),
                   "tgt_tokens": int(sum(tgt_lengths))}
    if cfg.init.composed or cfg.model.arch != "lego":  # a composition's lengths are set by its bricks
        return summary
    if cfg.model.token_marginals is not None:
        # what an upstream encoder must emit for this module: K_in positions per source token (§ chains)
        tokens = data.source_lengths()
        summary["input_length_ratio"] = ratio_stats(tokens, tokens, cfg.model.token_marginals.stretch)
    src_lengths = cfg.model.source_positions(data.source_lengths())
    ratio = cfg.model.encoder.olc.ratio
    summary["length_ratio"] = ratio_stats(src_lengths, tgt_lengths, ratio)
    summary["ctc_unalignable_pairs"] = ctc_unalignable(src_lengths, [t.tolist() for t in pairs.tgt], ratio)
    return summary


def resolve_length_ratio(cfg: ExperimentConfig, src_lengths: list[int], tgt_lengths: list[int]) -> tuple[ExperimentConfig, dict]:
    """`model.encoder.olc.ratio: auto` → the α whose K/L on this data matches the decoder brick's mean K/L.

    src_lengths: the positions the encoder's OLC reads per pair (tokens, or subsampled speech frames)."""
    if cfg.model.encoder.olc.ratio != "auto":
        return cfg, {}
    reference = cfg.init.length_reference
    card = load_brick(reference).card
    # a decoder records the K/L it read; a marginal encoder (the middle of a chain) the K_in per source
    # token it read, which the encoder feeding it must match
    stats = card.get("length_ratio") if card["kind"] == "decoder" else card.get("input_length_ratio")
    if not stats:
        raise LegoError(f"{reference}: not a decoder or marginal-encoder card with length statistics, so "
                        "model.encoder.olc.ratio cannot be 'auto'")
    alpha = auto_ratio(stats, src_lengths, tgt_lengths)
    note = {"length_ratio_auto": {"decoder": reference, "decoder_mean": stats["mean"], "alpha": alpha}}
    encoder = cfg.model.encoder
    encoder = replace(encoder, olc=replace(encoder.olc, ratio=alpha))
    return replace(cfg, model=replace(cfg.model, encoder=encoder)), note


def _checked_brick(path: str, field: str, kind: str, built: nn.Module, reads: tuple[Vocabulary | None, str],
                   emits: tuple[Vocabulary, str]) -> nn.Module:
    """Load the brick named by config key `field`: a `kind` speaking this run's vocabularies, with the
    same sizes as the module `model.*` describes (so the run's checkpoints stay self-describing)."""
    brick = load_brick(path)
    if brick.card["kind"] != kind:
        raise LegoError(f"{path}: {field} needs a {kind} brick, this is a {brick.card['kind']}")
    mine, theirs = dotted(dataclasses.asdict(built.cfg)), dotted(dataclasses.asdict(brick.module.cfg))
    differ = [f"{k}: config {mine.get(k)!r}, brick {theirs.get(k)!r}" for k in sorted(mine.keys() | theirs.keys())
              if mine.get(k) != theirs.get(k) and not k.endswith("dropout")]
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
    encoder, decoder = model.encoders[-1], model.decoder  # the trained encoder (after any token marginals)
    if cfg.init.encoder:
        encoder = _checked_brick(cfg.init.encoder, "init.encoder", "encoder", encoder, reads=src, emits=tgt)
    if cfg.init.decoder:
        decoder = _checked_brick(cfg.init.decoder, "init.decoder", "decoder", decoder, reads=tgt, emits=tgt)
    return LegoModel([*model.encoders[:-1], encoder], decoder)


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

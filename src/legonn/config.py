"""Experiment configs: frozen dataclasses, loaded from YAML with `--set section.field=value` overrides.

Unknown sections or fields are errors that name the offending key, so a typo never silently falls
back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from legonn.datasets import expand_paths
from legonn.errors import LegoError
from legonn.model import ARCHS, ModelConfig
from legonn.precision import CHOICES as PRECISIONS


@dataclass(frozen=True)
class DataConfig:
    """Where the data and vocabularies are. Paths are relative to the working directory, or start with
    `$LEGONN_DATA/` for a file under the data root (legonn.datasets), expanded by load_config.

    Text: train_/valid_ src and tgt files, src_vocab and tgt_vocab. Speech: train_/valid_manifest
    (TSV: id, path, samples, text, voice; see legonn.data.speech) and tgt_vocab; features are cached
    under feature_cache; clips over max_seconds are errors.
    max_len: longest sentence in sentencepiece tokens; a longer one is an error naming its line.
    train_limit: train on the first N training pairs or clips only (0 = all): a low-resource version
    of a task, or speech systems that leave the rest of a corpus's text to a text-only module.
    """

    train_src: str = ""
    train_tgt: str = ""
    valid_src: str = ""
    valid_tgt: str = ""
    src_vocab: str = ""
    tgt_vocab: str = ""
    max_len: int = 200
    train_manifest: str = ""
    valid_manifest: str = ""
    feature_cache: str = "runs/feature-cache"
    max_seconds: float = 30.0
    train_limit: int = 0


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and bookkeeping.

    max_tokens: padded source positions per batch (tokens, or feature frames for speech); lr peaks after warmup_steps,
    then lr_schedule: 'inverse_sqrt' decays it as 1/sqrt(step) and never ends; 'linear' brings it to zero at the
    run's last update (max_epochs, or max_steps if sooner), so the run ends converged to its schedule;
    max_epochs / max_steps (0 = unlimited) bound the run; patience: epochs without a better
    validation BLEU before stopping (0 = never); time_budget_minutes: wall-clock minutes this
    invocation may train (0 = no limit), checked at each epoch end — the run stops there, resumable,
    when one more epoch at the last one's pace (validation included) would overrun it;
    precision: 'auto' (bf16 where the CPU has native bf16, else fp32; legonn.precision), 'bf16'
    (autocast) or 'fp32';
    save_every: steps between `last` checkpoints; valid_max_sentences: cap on validation decoding
    (an evenly spaced subset of the dev set);
    freeze: modules ('encoder', 'decoder') whose weights stay fixed (kept in eval mode, no dropout);
    spec_augment: SpecAugment masks on speech features during training (legonn.data.features);
    select_on: what picks checkpoint_best and counts patience — 'output', the decoder's greedy output, or
    'interface', the CTC readout of the last interface in the target vocabulary (for a module trained only
    to be exported as an encoder brick, whose own decoder is a throwaway teacher).
    """

    # batches and the optimiser
    max_tokens: int = 4096
    lr: float = 1e-3
    warmup_steps: int = 1000
    lr_schedule: str = "inverse_sqrt"
    weight_decay: float = 0.0001
    clip_norm: float = 1.0
    # the loss
    label_smoothing: float = 0.1
    ctc_weight: float = 1.0
    spec_augment: bool = True
    # how long, and which checkpoint is best
    max_epochs: int = 60
    max_steps: int = 0
    patience: int = 10
    time_budget_minutes: float = 0.0
    select_on: str = "output"
    valid_max_sentences: int = 0
    # the machine and the bookkeeping
    precision: str = "auto"
    seed: int = 1
    threads: int = 0
    log_every: int = 50
    save_every: int = 500
    freeze: tuple[str, ...] = ()


@dataclass(frozen=True)
class InitConfig:
    """Bricks (paths to their .json cards) that replace freshly initialised modules before training.

    With `model.encoder.olc.ratio: auto`, the encoder's OLC ratio is fitted to the card of
    `length_ratio_from` (a decoder brick the encoder is meant to feed; default: `decoder`), so an
    encoder trained with its own decoder can later be composed with that one.
    """

    encoder: str = ""
    decoder: str = ""
    length_ratio_from: str = ""
    composed: str = ""  # a folder made by `legonn compose`: fine-tune that whole chain (model section unused)

    @property
    def length_reference(self) -> str:
        return self.length_ratio_from or self.decoder


@dataclass(frozen=True)
class ExperimentConfig:
    """name: experiment/system label; out_dir: checkpoints and logs land here; init: starting bricks."""

    name: str = "experiment"
    task: str = "de-en"
    out_dir: str = "runs/experiment"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    init: InitConfig = field(default_factory=InitConfig)


def _build(cls, values: dict, where: str):
    """An instance of dataclass `cls` from a mapping; nested sections recurse. A field whose metadata
    names `kinds` (a table kind → config class) is built as the class its `kind` key picks; one whose
    metadata names `optional` is that section, or None."""
    if not isinstance(values, dict):
        raise LegoError(f"{where or 'config'}: expected a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)  # the fields' types as types, not the strings annotations hold
    kwargs = {}
    for key, value in values.items():
        name = f"{where}.{key}" if where else key
        if key not in fields:
            raise LegoError(f"unknown config key '{name}' (known: {', '.join(fields)})")
        f = fields[key]
        factory = f.default_factory if f.default_factory is not dataclasses.MISSING else None
        if "kinds" in f.metadata:
            kwargs[key] = _build_kind(f.metadata["kinds"], factory().kind, value, name)
        elif "optional" in f.metadata:
            kwargs[key] = None if value is None else _build(f.metadata["optional"], value, name)
        elif dataclasses.is_dataclass(factory):
            kwargs[key] = _build(factory, value, name)
        else:
            kwargs[key] = _coerce(value, hints[key], name)
    return cls(**kwargs)


def _build_kind(kinds: dict, default_kind: str, values, where: str):
    """The config class that `values['kind']` (default: the field's default kind) names in `kinds`."""
    if not isinstance(values, dict):
        raise LegoError(f"config key '{where}': expected a mapping with a 'kind', got {values!r}")
    kind = values.get("kind", default_kind)
    if kind not in kinds:
        raise LegoError(f"config key '{where}.kind': unknown kind {kind!r} (known: {', '.join(kinds)})")
    return _build(kinds[kind], {**values, "kind": kind}, where)


# PyYAML follows YAML 1.1, where `5e-4` (no dot) is a string; a float field accepts it anyway.
_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _coerce(value: Any, expected, where: str):
    """`value` as a field of type `expected` (a real type: int, float, str, bool, tuple[str, ...], or a union
    such as float | str, whose first member that takes the value wins); anything else is kept as is."""
    if isinstance(expected, types.UnionType):
        for member in typing.get_args(expected):
            try:
                return _coerce(value, member, where)
            except LegoError:
                pass
        raise LegoError(f"config key '{where}': expected {expected}, got {value!r}")
    if typing.get_origin(expected) is tuple:  # tuple[str, ...]: a list of names, or one comma-separated string
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise LegoError(f"config key '{where}': expected a list of names, got {value!r}")
        return tuple(i for item in items for i in item.split(",") if i)
    if expected not in (int, float, str, bool):
        return value
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is float and isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
        return float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise LegoError(f"config key '{where}': expected {expected.__name__}, got {value!r}")
    return value


def parse_overrides(overrides: list[str]) -> dict:
    """['train.lr=0.001', 'name=x'] → nested dict; values are parsed as YAML scalars."""
    tree: dict = {}
    for item in overrides:
        if "=" not in item:
            raise LegoError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        node = tree
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise LegoError(f"--set {item!r}: {part!r} was already set to a value, not a section")
        try:
            node[parts[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise LegoError(f"--set {item!r}: the value is not valid YAML ({str(exc).splitlines()[0]})") from None
    return tree


def _merge(base: dict, extra: dict) -> dict:
    """`extra` over `base`, section by section; a section naming another `kind` replaces the one it overrides
    (a speech front end's fields mean nothing to a token front end)."""
    out = dict(base)
    for key, value in extra.items():
        below = out.get(key)
        same_kind = isinstance(below, dict) and isinstance(value, dict) and value.get("kind", below.get("kind")) == below.get("kind")
        out[key] = _merge(below, value) if same_kind else value
    return out


def _read_yaml(path: Path, depth: int = 0) -> dict:
    """A YAML mapping; an `include: other.yaml` key (relative to this file) is merged underneath."""
    if not path.is_file():
        raise LegoError(f"{path}: config file not found")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise LegoError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise LegoError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise LegoError(f"{path}: nested too deeply to be a config") from None
    if values is None:
        raise LegoError(f"{path}: the config file is empty")
    if not isinstance(values, dict):
        raise LegoError(f"{path}: expected a mapping of config sections")
    include = values.pop("include", None)
    if include is not None and not isinstance(include, str):
        raise LegoError(f"{path}: 'include' names one file (a string), got {include!r}")
    if include is not None:
        if depth > 4:
            raise LegoError(f"{path}: includes nest too deeply")
        values = _merge(_read_yaml(path.parent / include, depth + 1), values)
    return values


LR_SCHEDULES = ("inverse_sqrt", "linear")
SELECT_ON = ("output", "interface")

# Fields that only make sense above zero, wherever they appear in a section; 0 would crash deep inside
# the model or the loop, or (max_epochs) end a run that did nothing with exit 0.
_POSITIVE = {
    "data": ("max_len", "max_seconds"),
    "model": ("dim", "heads", "ff_dim", "max_positions", "receptive_field", "beam", "kernel", "feature_dim",
              "channels", "ar_layers", "encoder_layers", "decoder_layers"),
    "train": ("max_tokens", "lr", "log_every", "save_every", "max_epochs"),
}
# Fields where 0 means "none", "off" or "no limit", and a negative number means nothing.
_NON_NEGATIVE = {
    "data": ("train_limit",),
    "model": ("layers",),
    "train": ("warmup_steps", "weight_decay", "clip_norm", "ctc_weight", "max_steps", "patience",
              "time_budget_minutes", "valid_max_sentences", "threads"),
}
# Probabilities of dropping or smoothing: [0, 1).
_FRACTIONS = {"model": ("dropout",), "train": ("label_smoothing",)}


def _leaves(section, where: str):
    """(dotted name, field name, value) of every field of a config section, nested sections included."""
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, f"{where}.{f.name}")
        else:
            yield f"{where}.{f.name}", f.name, value


def _check_model(model: ModelConfig, init: InitConfig) -> None:
    """A known arch, and an OLC ratio that can be built. (model.arch picks the sections that are built:
    a config may describe both a LegoNN model and its baseline, and switch with --set model.arch=….)"""
    if model.arch not in ARCHS:
        raise LegoError(f"config key 'model.arch': expected one of {', '.join(ARCHS)}, got {model.arch!r}")
    if model.arch == "baseline":
        return
    ratio = model.encoder.olc.ratio
    if isinstance(ratio, str) and ratio != "auto":
        raise LegoError(f"config key 'model.encoder.olc.ratio': expected a number or 'auto', got {ratio!r}")
    if ratio == "auto" and not init.length_reference:
        raise LegoError("config key 'model.encoder.olc.ratio': 'auto' needs init.decoder or init.length_ratio_from "
                        "(the decoder brick to fit)")
    if isinstance(ratio, float) and ratio <= 0:
        raise LegoError(f"config key 'model.encoder.olc.ratio': must be positive, got {ratio!r}")


def _check_numbers(config, rules: str, where: str) -> None:
    """Every number in `config` (a section, nested ones included) finite and in the range that the
    `rules` section's tables give its field name; an error names the dotted key."""
    for key, name, value in _leaves(config, where):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if not math.isfinite(value):  # `.inf` / `.nan` in YAML: would train to non-finite weights
            raise LegoError(f"config key '{key}': must be a finite number, got {value!r}")
        if name in _POSITIVE.get(rules, ()) and value <= 0:
            raise LegoError(f"config key '{key}': must be positive, got {value!r}")
        if name in _NON_NEGATIVE.get(rules, ()) and value < 0:
            raise LegoError(f"config key '{key}': must be 0 or more, got {value!r}")
        if name in _FRACTIONS.get(rules, ()) and not 0.0 <= value < 1.0:
            raise LegoError(f"config key '{key}': must be in [0, 1), got {value!r}")


def check_values(cfg: ExperimentConfig) -> ExperimentConfig:
    """Range checks the types cannot express; an error names the field."""
    for section in ("data", "model", "train"):
        _check_numbers(getattr(cfg, section), section, section)
    if cfg.train.precision not in PRECISIONS:
        raise LegoError(f"config key 'train.precision': expected one of {', '.join(PRECISIONS)}, "
                        f"got {cfg.train.precision!r}")
    if cfg.train.lr_schedule not in LR_SCHEDULES:
        raise LegoError(f"config key 'train.lr_schedule': expected one of {', '.join(LR_SCHEDULES)}, "
                        f"got {cfg.train.lr_schedule!r}")
    if cfg.train.select_on not in SELECT_ON:
        raise LegoError(f"config key 'train.select_on': expected one of {', '.join(SELECT_ON)}, "
                        f"got {cfg.train.select_on!r}")
    for name in cfg.train.freeze:
        if name not in ("encoder", "decoder") and not re.fullmatch(r"module\d+", name):
            raise LegoError(f"config key 'train.freeze': unknown module {name!r} (expected encoder, decoder or "
                            "moduleN, the N-th module of the chain from 0)")
    if cfg.init.composed and (cfg.init.encoder or cfg.init.decoder):
        raise LegoError("config key 'init.composed': starts from a whole composition, so init.encoder and "
                        "init.decoder must be empty")
    _check_model(cfg.model, cfg.init)
    return cfg


def load_config(path: str | Path | None, overrides: list[str] = ()) -> ExperimentConfig:
    """The config in YAML file `path` (None: defaults) with `--set` overrides applied.

    The file must be a valid config on its own; a mistake in it is reported with its name in front.
    """
    values = _read_yaml(Path(path)) if path is not None else {}
    if path is not None:
        try:
            _build(ExperimentConfig, values, "")
        except LegoError as exc:
            raise LegoError(f"{path}: {exc}") from None
    cfg = _build(ExperimentConfig, _merge(values, parse_overrides(list(overrides))), "")
    # data files may be named under the data root ($LEGONN_DATA/…): resolved here, once, for every caller
    return check_values(dataclasses.replace(cfg, data=expand_paths(cfg.data)))


def build_section(cls, values: dict, where: str):
    """One module's config section (e.g. a brick card's `config`) as dataclass `cls`, its numbers checked
    as a model section's are; LegoError names a bad key."""
    section = _build(cls, values, where)
    _check_numbers(section, "model", where)
    return section


def dotted(section: dict, where: str = "") -> dict:
    """A nested config mapping flattened to dotted keys, as `--set` names them:
    {'olc': {'ratio': 1.5}, 'layers': 3} → {'olc.ratio': 1.5, 'layers': 3}."""
    out = {}
    for key, value in section.items():
        name = f"{where}.{key}" if where else key
        out.update(dotted(value, name) if isinstance(value, dict) else {name: value})
    return out


def config_to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def config_from_json(text: str) -> ExperimentConfig:
    return _build(ExperimentConfig, json.loads(text), "")

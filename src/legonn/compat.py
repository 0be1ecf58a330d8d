"""Reading what earlier versions wrote: brick cards `legonn-brick-1`, checkpoints `legonn-checkpoint-1`.

Before encoders became compositions (front end + shared tail), each input had its own encoder class
with a flat constructor config, the model section was one flat union of fields, and a run kept
`best_bleu` and `best_wer`. These functions map those onto today's shapes; the weights are the same
tensors under new names (a front end's weights moved from `embed.*` to `frontend.embed.*`), so a
converted brick still matches the SHA-256 its card names. `legonn convert` writes files in the new
formats.
"""

from __future__ import annotations

import re

# the top-level attributes of the old per-input encoders (and the decoder's ingestor, the baseline's
# input layers) that now live inside a front end
_MOVED_TO_FRONTEND = ("embed", "subsample", "ingestor")
# roots of a model's state dict: the baseline itself, each encoder of a chain, the decoder
_ROOT = re.compile(r"^(encoders\.\d+\.|decoder\.|)")


def upgrade_state_dict(state: dict) -> dict:
    """Old parameter names → new: `<root>embed.*` → `<root>frontend.embed.*` (likewise subsample, ingestor),
    for a model's state dict (roots '', 'encoders.N.', 'decoder.') or a single module's (root '')."""
    out = {}
    for key, value in state.items():
        root = _ROOT.match(key).group(1)
        rest = key[len(root):]
        if rest.split(".", 1)[0] in _MOVED_TO_FRONTEND:
            key = f"{root}frontend.{rest}"
        out[key] = value
    return out


def _ingestor(flat: dict, prefix: str = "") -> dict:
    kind = flat.get(f"{prefix}ingestor", "wemb")
    if kind == "beamconv":
        return {"kind": kind, "beam": flat.get("beam", 4), "kernel": flat.get("kernel", 3)}
    return {"kind": kind, "receptive_field": flat.get("receptive_field", 1)}


def _sizes(flat: dict, dropout: float) -> dict:
    return {"dim": flat.get("dim", 256), "heads": flat.get("heads", 4), "ff_dim": flat.get("ff_dim", 1024),
            "dropout": flat.get("dropout", dropout)}


def _olc(ratio, layers, max_positions) -> dict:
    return {"ratio": ratio, "layers": layers, "max_positions": max_positions}


def upgrade_model_config(flat: dict) -> dict:
    """A flat model section (legonn-checkpoint-1's config) → the nested one. Missing keys take the old
    defaults."""
    sizes = _sizes(flat, 0.3)
    speech = flat.get("input") == "speech"
    frontend = ({"kind": "speech", "feature_dim": flat.get("feature_dim", 80), "channels": flat.get("channels", 256)}
                if speech else {"kind": "tokens"})
    if flat.get("arch", "lego") == "baseline":
        return {"arch": "baseline", "baseline": {
            "frontend": frontend, **sizes, "encoder_layers": flat.get("encoder_layers", 3),
            "decoder_layers": flat.get("decoder_layers", 3), "encoder_ctc": flat.get("encoder_ctc", False)}}
    model = {"arch": "lego"}
    if flat.get("input") == "token-marginals":
        frontend = {"kind": "marginals", "ingestor": _ingestor(flat, "encoder_")}
        model["token_marginals"] = {"stretch": flat.get("input_stretch", 2.0),
                                    "smoothing": flat.get("input_smoothing", 0.05)}
    model["encoder"] = {"frontend": frontend, **sizes, "layers": flat.get("encoder_layers", 3),
                        "olc": _olc(flat.get("length_ratio", 2.0), flat.get("group2_layers", 1),
                                    flat.get("max_positions", 1024))}
    model["decoder"] = {"ingestor": _ingestor(flat), **sizes, "layers": flat.get("ingest_layers", 1),
                        "ar_layers": flat.get("decoder_layers", 3)}
    return model


# legonn-brick-1 module kinds → today's kind, and the front end their config implies
_OLD_ENCODERS = {"text_encoder": "tokens", "speech_encoder": "speech", "marginal_encoder": "marginals"}
OLD_KINDS = (*_OLD_ENCODERS, "decoder")


def upgrade_module_config(kind: str, config: dict) -> tuple[str, dict]:
    """(old brick kind, its flat constructor config) → (new kind, the nested section that builds it).
    Old module configs defaulted dropout to 0.1 (cards always stored it)."""
    sizes = _sizes(config, 0.1)
    if kind == "decoder":
        return "decoder", {"ingestor": _ingestor(config), **sizes, "layers": config.get("ingest_layers", 1),
                           "ar_layers": config.get("decoder_layers", 3)}
    frontend = {"kind": _OLD_ENCODERS[kind]}
    if kind == "speech_encoder":
        frontend |= {"feature_dim": config.get("feature_dim", 80), "channels": config.get("channels", 256)}
    if kind == "marginal_encoder":
        frontend["ingestor"] = _ingestor(config)
    return "encoder", {"frontend": frontend, **sizes, "layers": config.get("group1_layers", 3),
                       "olc": _olc(config.get("length_ratio", 2.0), config.get("group2_layers", 1),
                                   config.get("max_positions", 1024))}


def upgrade_card(card: dict) -> dict:
    """A legonn-brick-1 card → the current schema (weights untouched: the same file and SHA-256)."""
    kind, config = upgrade_module_config(card["kind"], card["config"])
    metrics = dict(card.get("metrics", {}))
    best = metrics.pop("valid_bleu_greedy", None)
    speech = card["kind"] == "speech_encoder"
    if best is not None and best >= 0 and not speech:  # a speech run kept -1 here: it selected on WER
        metrics["best"], metrics["best_on"] = best, "valid_bleu"
    training = dict(card.get("training", {}))
    training["input"] = {"speech_encoder": "speech", "marginal_encoder": "marginals"}.get(card["kind"], "text")
    return {**card, "format": "legonn-brick-2", "kind": kind, "config": config, "metrics": metrics,
            "training": training, "converted_from": "legonn-brick-1"}


def upgrade_trainer_state(state: dict, speech: bool) -> dict:
    """best_bleu / best_wer (-1: none) → one `best` (None: none) named by `best_on`."""
    state = dict(state)
    bleu, wer = state.pop("best_bleu", -1.0), state.pop("best_wer", -1.0)
    best = wer if speech else bleu
    state["best"] = None if best < 0 else best
    if not state.get("best_on"):
        state["best_on"] = "valid_wer" if speech else "valid_bleu"
    return state


def upgrade_composition(description: list[dict]) -> list[dict]:
    """A fine-tuned composition's module list (kept in a checkpoint): each module's kind and config."""
    out = []
    for module in description:
        kind, config = upgrade_module_config(module["kind"], module["config"])
        out.append({**module, "kind": kind, "config": config})
    return out

"""The bricks the recipes export and reuse: models/<task>-<ingestor>/<task>.<module>.json, exported
(fp16, as they ship) from a recipe's trained run when not there yet."""

from __future__ import annotations

from pathlib import Path

from legonn.bricks import export_brick
from legonn.errors import LegoError
from legonn.experiments.provenance import ROOT, repo_path
from legonn.experiments.records import ResultRecord
from legonn.inference import load_model


def export(checkpoint: Path, module: str, folder: Path, metrics: dict | None = None) -> Path:
    """Export one module of a trained checkpoint as an fp16 brick (what ships under models/)."""
    if not checkpoint.is_file():
        raise LegoError(f"{checkpoint}: not trained yet (run its recipe first)")
    loaded = load_model(checkpoint)
    card = export_brick(loaded.model, loaded.checkpoint, module, folder, fp16=True, metrics=metrics,
                        source=repo_path(checkpoint))
    print(f"exported {card.relative_to(ROOT)}")
    return card


def decoder_brick(ingestor: str) -> Path:
    """models/de-en-I/de-en.decoder.json, exported from the Multi30k De→En recipe if not there yet."""
    card = ROOT / "models" / f"de-en-{ingestor}" / "de-en.decoder.json"
    if card.is_file():
        return card
    results = ROOT / "results" / "multi30k" / f"lego-{ingestor}.json"
    metrics = {}
    if results.is_file():
        record = ResultRecord.from_json(results)
        metrics = {f"{record.test_set}_bleu": record.bleu}
    return export(ROOT / "runs" / "multi30k" / f"lego-{ingestor}" / "checkpoint_best.safetensors", "decoder",
                  card.parent, metrics)


def encoder_brick(task: str, ingestor: str, records: list[ResultRecord] | None) -> Path:
    """models/<task>-I/<task>.encoder.json: the encoder of runs/<task>/lego-I, (re-)exported after scoring it
    (`records`, whose CTC-readout BLEU or WER goes into the card); without records, the card as it is."""
    card = ROOT / "models" / f"{task}-{ingestor}" / f"{task}.encoder.json"
    if card.is_file() and not records:
        return card
    metrics = {}
    for r in records or []:
        readout = "ctc_readout_wer" if r.wer is not None else "ctc_readout_bleu"
        metrics[f"{r.test_set}_{readout}"] = getattr(r, readout)[0]
    return export(ROOT / "runs" / task / f"lego-{ingestor}" / "checkpoint_best.safetensors", "encoder",
                  card.parent, metrics)

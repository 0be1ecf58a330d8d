"""Scoring a checkpoint (or composed bricks) on a test set: decoder BLEU/chrF and each interface's CTC-readout
BLEU for translation; WER (and each interface's CTC-readout WER) and the real-time factor for speech."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tqdm import tqdm

from legonn.data.text import read_parallel
from legonn.inference import LoadedModel, Transcripts, load_model, transcribe, translate
from legonn.score import WER_NORMALISATION, bleu_chrf, check_references, wer
from legonn.search import SearchOptions
from legonn.io import atomic_write_bytes


def evaluate_checkpoint(checkpoint: Path, src: Path, ref: Path, opts: SearchOptions, hyp_out: Path | None = None,
                        json_out: Path | None = None, progress: bool = True) -> dict:
    loaded = load_model(checkpoint)
    data = read_parallel(src, ref)
    start = time.time()
    with tqdm(total=len(data), desc="translating", unit="sent", disable=not progress) as bar:
        out = translate(loaded.model, loaded.src_vocab, loaded.tgt_vocab, data.src, opts, loaded.max_len,
                        where=str(src), progress=bar, interface_vocabs=loaded.interface_vocabs)
    hyps = [o.hypothesis for o in out]
    scores = bleu_chrf(hyps, data.tgt)
    report = {
        "checkpoint": str(checkpoint),
        "test_src": str(src),
        "bleu": scores.bleu,
        "chrf": scores.chrf,
        "signature": scores.signature,
        "chrf_signature": scores.chrf_signature,
        "beam": opts.beam_size,
        "length_penalty": opts.length_penalty,
        "decoding": opts.describe(),
        "decode_seconds": round(time.time() - start, 1),
        # an interface in another vocabulary (e.g. phonemes) has no BLEU against the references: None
        "ctc_readout_bleu": [bleu_chrf([o.ctc_readouts[i] for o in out], data.tgt).bleu
                             if vocab.id == loaded.tgt_vocab.id else None
                             for i, vocab in enumerate(loaded.interface_vocabs)],
    }
    if hyp_out is not None:
        atomic_write_bytes(Path(hyp_out), ("\n".join(hyps) + "\n").encode())
    if json_out is not None:
        atomic_write_bytes(Path(json_out), (json.dumps(report, indent=2) + "\n").encode())
    return report


def speech_scores(loaded: LoadedModel, out: Transcripts, refs: list[str]) -> dict:
    """WER of the decoder's transcripts against `refs`, and of each interface's CTC readout (None for an
    interface in another vocabulary, e.g. phonemes, which has no WER against the text)."""
    return {"wer": wer(out.hypotheses, refs), "wer_normalisation": WER_NORMALISATION,
            "over_twice_reference": over_twice_reference(out.hypotheses, refs),
            "ctc_readout_wer": [wer([r[i] for r in out.ctc_readouts], refs) if vocab.id == loaded.tgt_vocab.id
                                else None for i, vocab in enumerate(loaded.interface_vocabs)]}


def over_twice_reference(hypotheses: list[str], refs: list[str]) -> int:
    """How many hypotheses have more than twice their reference's words: a decoder looping or inventing."""
    return sum(len(h.split()) > 2 * len(r.split()) for h, r in zip(hypotheses, refs))


def evaluate_speech(model: Path, manifest: Path, opts: SearchOptions, progress: bool = True) -> dict:
    """Transcribe every clip of a TSV manifest with a speech checkpoint (or composed folder) and score it."""
    from legonn.data.speech import read_manifest

    utterances = read_manifest(manifest)
    check_references([u.text for u in utterances], str(manifest))
    loaded = load_model(model)
    with tqdm(total=len(utterances), desc="transcribing", unit="clip", disable=not progress) as bar:
        out = transcribe(loaded, [u.path for u in utterances], opts, progress=bar)
    return {"checkpoint": str(model), "manifest": str(manifest), "utterances": len(utterances),
            **speech_scores(loaded, out, [u.text for u in utterances]),
            "beam": opts.beam_size, "length_penalty": opts.length_penalty, "decoding": opts.describe(),
            "audio_seconds": round(out.audio_seconds, 2), "decode_seconds": round(out.compute_seconds, 1),
            "real_time_factor": round(out.real_time_factor, 4)}

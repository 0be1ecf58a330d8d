"""Real-time factor of `legonn transcribe`: compute seconds per second of audio (lower is faster).

    python benchmarks/transcribe_rtf.py [-m MODEL] [--manifest M] [--threads 2] [--beam 5] [--repeats 2]

Times what `legonn transcribe` does for a list of files — reading and resampling audio, filterbanks,
CMVN, the encoder(s) and beam search in the decoder — on the 100 real Common Voice clips by default
(data/speech/commonvoice/manifest.tsv, written by recipes/asr/prepare_data.py). MODEL is a speech
checkpoint or a composed folder; the default composes the shipped English speech encoder with the
De→En decoder, the zero-shot system of `make demo`. The figure is the best of --repeats passes after
one warm-up clip. Writes results/bench/transcribe_rtf.json (-o to choose).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

from legonn.allocator import reexec_with_jemalloc
from legonn.bricks import compose
from legonn.data.speech import read_manifest
from legonn.errors import LegoError
from legonn.experiments.provenance import ROOT, git_commit, hardware, repo_path
from legonn.experiments.records import TranscribeRtfRecord
from legonn.inference import load_model, transcribe
from legonn.search import SearchOptions

SHIPPED = [ROOT / "models" / "asr-en-wemb" / "asr-en.encoder.json", ROOT / "models" / "de-en-wemb" / "de-en.decoder.json"]


def main() -> None:
    reexec_with_jemalloc()  # as the `legonn` command runs
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", type=Path, help="speech checkpoint or composed folder (default: the "
                        "shipped speech encoder + De→En decoder)")
    parser.add_argument("--manifest", type=Path, default=ROOT / "data" / "speech" / "commonvoice" / "manifest.tsv")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "results" / "bench" / "transcribe_rtf.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            model = Path(tmp) / "composed"
            compose(SHIPPED, model)
        loaded = load_model(model)
        paths = [u.path for u in read_manifest(args.manifest)]
        opts = SearchOptions(beam_size=args.beam)
        transcribe(loaded, paths[:1], opts)  # warm-up: first-call allocations are not the steady state
        runs = [transcribe(loaded, paths, opts) for _ in range(args.repeats)]
    best = min(runs, key=lambda r: r.compute_seconds)
    record = TranscribeRtfRecord(
        model=repo_path(args.model) if args.model else " + ".join(p.stem for p in SHIPPED), clips=len(paths),
        manifest=repo_path(args.manifest), audio_seconds=round(best.audio_seconds, 1),
        compute_seconds=round(best.compute_seconds, 2), real_time_factor=round(best.real_time_factor, 4),
        threads=args.threads, beam=args.beam, hardware=hardware(), commit=git_commit())
    record.write(args.output)
    print(record.to_json(), end="")


if __name__ == "__main__":
    try:
        main()
    except LegoError as exc:
        sys.exit(f"error: {exc}")

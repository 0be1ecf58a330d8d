"""Feature-extraction throughput: legonn's torch log-mel filterbank against kaldi-native-fbank.

    python benchmarks/fbank_throughput.py [--threads 1] [--repeats 3]

Both extract 80-bin Kaldi filterbanks (25 ms / 10 ms, dither 0) from the 100 real Common Voice clips
in $LEGONN_DATA/commonvoice_en_sample100 (the data root, legonn.datasets), already decoded into memory,
so file reading is not timed. The figure is seconds of audio featurised per second of wall time (higher is better), the
best of --repeats passes; the maximum absolute difference between the two feature sets is printed
beside it. Writes results/bench/fbank_throughput.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np
import soundfile as sf
import torch

from legonn.data.features import LogMelFbank
from legonn.datasets import data_root, not_found
from legonn.experiments.provenance import ROOT, best_wall_seconds, git_commit, hardware
from legonn.experiments.records import FbankThroughputRecord

CLIPS = data_root() / "commonvoice_en_sample100" / "flac"


def kaldi_native(wave: np.ndarray) -> np.ndarray:
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.mel_opts.num_bins = 80
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(16000, wave)
    fbank.input_finished()
    return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])


def best_time(fn, waves, repeats: int) -> tuple[float, list]:
    """The best of `repeats` passes of fn over every wave, and the last pass's outputs."""
    return best_wall_seconds(lambda: [fn(w) for w in waves], repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "results" / "bench" / "fbank_throughput.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    paths = sorted(CLIPS.glob("*.flac"))
    if not paths:
        sys.exit(f"error: {not_found(CLIPS / '*.flac', 'clip')}")
    waves = [sf.read(p, dtype="float32")[0] for p in paths]
    audio = sum(len(w) for w in waves) / 16000
    ours = LogMelFbank()
    tensors = [torch.from_numpy(w) for w in waves]
    ours_s, ours_out = best_time(ours, tensors, args.repeats)
    lists = [w.tolist() for w in waves]  # kaldi-native-fbank takes a Python list; converting is not timed
    knf_s, knf_out = best_time(kaldi_native, lists, args.repeats)
    diff = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(ours_out, knf_out))
    record = FbankThroughputRecord(
        clips=len(paths), audio_seconds=round(audio, 1), threads=args.threads,
        legonn_audio_s_per_s=round(audio / ours_s, 1), kaldi_native_fbank_audio_s_per_s=round(audio / knf_s, 1),
        speed_vs_kaldi_native_fbank=round(knf_s / ours_s, 2), max_abs_difference=round(diff, 6),
        hardware=hardware(), commit=git_commit())
    record.write(args.output)
    print(record.to_json(), end="")


if __name__ == "__main__":
    main()

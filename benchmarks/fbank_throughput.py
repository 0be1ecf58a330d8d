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
import json
import sys
import time
from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "recipes"))
from common import git_commit, hardware  # noqa: E402

from legonn.data.features import LogMelFbank  # noqa: E402
from legonn.datasets import data_root, not_found  # noqa: E402
from legonn.vocab import atomic_write_bytes  # noqa: E402

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
    best, out = float("inf"), []
    for _ in range(repeats):
        start = time.perf_counter()
        out = [fn(w) for w in waves]
        best = min(best, time.perf_counter() - start)
    return best, out


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
    record = {"clips": len(paths), "audio_seconds": round(audio, 1), "threads": args.threads,
              "legonn_audio_s_per_s": round(audio / ours_s, 1), "kaldi_native_fbank_audio_s_per_s": round(audio / knf_s, 1),
              "speed_vs_kaldi_native_fbank": round(knf_s / ours_s, 2), "max_abs_difference": round(diff, 6),
              "hardware": hardware(), "commit": git_commit()}
    atomic_write_bytes(args.output, (json.dumps(record, indent=2) + "\n").encode())
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()

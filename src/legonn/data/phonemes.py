"""English phoneme transcripts from espeak-ng, for the speech → phonemes → sub-words chain (#4).

A transcript is espeak-ng's ASCII phoneme names separated by spaces, with `|` between words and the
stress marks dropped, e.g. "A man." → "a# | m a n". A `word`-type sentencepiece model over such
transcripts gives one vocabulary unit per phoneme (Vocabulary.train(..., model_type="word")).
"""

from __future__ import annotations

import subprocess

from legonn.errors import LegoError

WORD_BOUNDARY = "|"
STRESS = "',%="  # espeak-ng's stress and syllable marks, not phonemes


def phonemize(text: str, voice: str = "en-us") -> str:
    """One sentence → its phoneme transcript (clauses joined; punctuation is not spoken)."""
    try:
        # the text goes in on stdin: as an argument, a sentence starting with '-' would read as an option
        proc = subprocess.run(["espeak-ng", "-q", "-x", "--sep= ", "-v", voice], input=text.encode("utf-8"),
                              capture_output=True, timeout=60)
    except FileNotFoundError:
        raise LegoError("espeak-ng not found (Debian: apt-get install espeak-ng)") from None
    if proc.returncode != 0:
        raise LegoError(f"espeak-ng failed on {text[:40]!r}: {proc.stderr.decode(errors='replace').strip()[:200]}")
    words = []
    for line in proc.stdout.decode("utf-8", errors="replace").splitlines():
        for word in line.split("  "):
            phones = [p.strip(STRESS) for p in word.split(" ")]
            phones = [p for p in phones if p]
            if phones:
                words.append(" ".join(phones))
    if not words:
        raise LegoError(f"espeak-ng gave no phonemes for {text[:40]!r}")
    return f" {WORD_BOUNDARY} ".join(words)


def phonemize_many(texts: list[str], voice: str = "en-us", workers: int = 2, progress: bool = True) -> list[str]:
    """`phonemize` over many sentences, in order; espeak-ng runs as `workers` parallel processes."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    with ThreadPoolExecutor(max(1, workers)) as pool:  # threads only wait on the espeak-ng processes
        jobs = pool.map(lambda text: phonemize(text, voice), texts)
        return list(tqdm(jobs, total=len(texts), desc="phonemes", unit="sent", disable=not progress, mininterval=2.0))

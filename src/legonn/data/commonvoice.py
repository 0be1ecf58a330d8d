"""The data root's Common Voice sample (commonvoice_en_sample100: 100 real English clips, CC0) as utterances,
read in place: recipes/asr scores all of them, `make demo` transcribes five."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from legonn.data.speech import Utterance
from legonn.datasets import data_root, not_found
from legonn.errors import LegoError

SAMPLE = "commonvoice_en_sample100"
# What `make demo` transcribes: the first five rows of utterances.tsv whose sentence has at least four words,
# each of them in the Multi30k English training captions (the only English the models have seen): words the
# models know, picked before any model heard a clip, so not clips they transcribe well.
DEMO_CLIPS = ("common_voice_en_78528", "common_voice_en_17256256", "common_voice_en_17258665",
              "common_voice_en_17816777", "common_voice_en_678304")


def read_sample(ids: Sequence[str] | None = None, folder: Path | None = None) -> list[Utterance]:
    """The clips of utterances.tsv (all, or those `ids` in that order); `voice` is 'commonvoice/' + the
    speaker hash, as in a legonn manifest. A missing table, clip or id is one line naming it."""
    import soundfile as sf

    folder = Path(folder) if folder is not None else data_root() / SAMPLE
    table = folder / "utterances.tsv"
    if not table.is_file():
        raise LegoError(not_found(table))
    with open(table, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    by_id = {r["utt_id"]: r for r in rows}
    for uid in ids or ():
        if uid not in by_id:
            raise LegoError(f"{table}: no clip {uid!r}")
    out = []
    for r in ([by_id[i] for i in ids] if ids is not None else rows):
        audio = folder / r["path"]
        if not audio.is_file():
            raise LegoError(not_found(audio, "audio file"))
        out.append(Utterance(r["utt_id"], audio, sf.info(str(audio)).frames, r["text"],
                             f"commonvoice/{r['speaker_hash12']}"))
    return out

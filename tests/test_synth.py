"""Speech synthesis: every engine makes 16 kHz mono FLAC; voices, tempo and pitch are deterministic; test voices
never appear in training sets; `legonn data synth` resumes and writes a manifest that reads back."""

from __future__ import annotations

import pytest
import soundfile as sf
from clitools import legonn, one_line_error

from legonn.data.speech import read_manifest
from legonn.data.synth import (TEST_VOICES, TRAIN_VOICES, Variation, check_engines, parse_voices, plan_corpus,
                               synthesize, variation)
from legonn.errors import LegoError

SENTENCE = "Two dogs run through the snow."


def test_train_and_test_voices_are_disjoint_and_available():
    assert not set(TRAIN_VOICES) & set(TEST_VOICES)
    check_engines(TRAIN_VOICES + TEST_VOICES)  # `make` installs every engine; a missing one must fail here


@pytest.mark.parametrize("voice", ["espeak-ng/en-us+f3", "flite/slt", "festival/kal_diphone", "piper/joe"])
def test_each_engine_makes_16k_mono_flac(tmp_path, voice):
    out = tmp_path / "a.flac"
    samples = synthesize(SENTENCE, voice, out, Variation(tempo=1.0, pitch=0.0))
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.format, info.frames) == (16000, 1, "FLAC", samples)
    assert 0.8 < samples / 16000 < 5.0  # six words of speech
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_tempo_changes_duration(tmp_path):
    slow = synthesize(SENTENCE, "espeak-ng/en-us", tmp_path / "slow.flac", Variation(0.8, 0.0))
    fast = synthesize(SENTENCE, "espeak-ng/en-us", tmp_path / "fast.flac", Variation(1.25, 0.0))
    assert fast / slow == pytest.approx(0.8 / 1.25, rel=0.1)


def test_plan_is_deterministic_and_spreads_voices(tmp_path):
    texts = [f"sentence {i}" for i in range(200)]
    a, b = plan_corpus(texts, TRAIN_VOICES, tmp_path, "x", seed=1), plan_corpus(texts, TRAIN_VOICES, tmp_path, "x", seed=1)
    assert a == b
    assert {j.voice for j in a} == set(TRAIN_VOICES)
    assert [j.voice for j in plan_corpus(texts, TRAIN_VOICES, tmp_path, "x", seed=2)] != [j.voice for j in a]
    assert all(0.9 <= j.var.tempo <= 1.15 and -200 <= j.var.pitch <= 200 for j in a)
    assert variation(1, "x-000001") == variation(1, "x-000001") != variation(1, "x-000002")


def test_voice_specs():
    assert parse_voices("test") == TEST_VOICES and parse_voices("flite/slt,piper/joe") == ("flite/slt", "piper/joe")
    with pytest.raises(LegoError, match="'slt' is not engine/voice"):
        parse_voices("slt")


def test_cli_synth_resumes_and_writes_a_manifest(tmp_path):
    text = tmp_path / "in.en"
    text.write_text("A dog runs.\nTwo men talk.\nA red car.\n")
    out = tmp_path / "corpus"
    args = ("data", "synth", text, "-o", out, "--voices", "espeak-ng/en-us,flite/awb", "--workers", "1")
    first = legonn(*args)
    assert first.returncode == 0, first.stderr.decode()
    utts = read_manifest(out / "manifest.tsv")
    assert [u.id for u in utts] == ["corpus-000001", "corpus-000002", "corpus-000003"]
    assert [u.text for u in utts] == ["A dog runs.", "Two men talk.", "A red car."]
    assert all(sf.info(str(u.path)).frames == u.samples for u in utts)
    stamps = {u.id: u.path.stat().st_mtime_ns for u in utts}
    utts[1].path.unlink()  # as if interrupted before this clip
    assert legonn(*args).returncode == 0
    again = read_manifest(out / "manifest.tsv")
    assert again == utts
    assert all(u.path.stat().st_mtime_ns == stamps[u.id] for u in again if u.id != "corpus-000002")


def test_cli_synth_bad_voice_is_one_line(tmp_path):
    (tmp_path / "in.en").write_text("A dog.\n")
    one_line_error(legonn("data", "synth", tmp_path / "in.en", "-o", tmp_path / "o", "--voices", "nope/x"), "nope/x")

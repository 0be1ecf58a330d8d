"""Sentencepiece vocabularies: special ids, round trips, fingerprints, loading errors, atomic saves."""

from __future__ import annotations

import pytest

from legonn.errors import LegoError
from legonn.interface import VocabId
from legonn.io import atomic_write_bytes
from legonn.vocab import BLANK, BOS, EOS, PAD, UNK, Vocabulary


@pytest.fixture(scope="module")
def en_lines(tiny_corpus) -> list[str]:
    return tiny_corpus["train.en"].read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def en_vocab(tiny_vocabs) -> Vocabulary:
    return Vocabulary.load(tiny_vocabs["en"])


def test_special_ids(en_vocab):
    assert (BLANK, UNK, BOS, EOS) == (0, 1, 2, 3)
    assert PAD == BLANK
    sp = en_vocab.sp
    assert sp.pad_id() == 0 and sp.unk_id() == 1 and sp.bos_id() == 2 and sp.eos_id() == 3
    assert en_vocab.pieces([0, 1, 2, 3]) == ["<blank>", "<unk>", "<s>", "</s>"]
    assert len(en_vocab) == 200


def test_encode_never_produces_blank_bos_eos(en_vocab, en_lines):
    for line in en_lines[:100]:
        ids = en_vocab.encode(line)
        assert ids, line
        assert not {BLANK, BOS, EOS} & set(ids)


def test_encode_decode_round_trip(en_vocab, en_lines):
    for line in en_lines[:20]:
        assert en_vocab.decode(en_vocab.encode(line)) == line


def test_decode_skips_special_ids(en_vocab, en_lines):
    ids = en_vocab.encode(en_lines[0])
    assert en_vocab.decode([BOS] + ids[:2] + [BLANK] + ids[2:] + [EOS, BLANK]) == en_lines[0]


def test_unknown_character_maps_to_unk(en_vocab):
    ids = en_vocab.encode("\u4e2d")  # a CJK character absent from the English corpus
    assert UNK in ids


def test_id_is_vocab_id(en_vocab):
    vid = en_vocab.id
    assert isinstance(vid, VocabId)
    assert vid == VocabId(en_vocab.fingerprint, 200, 0)
    assert vid.size == len(en_vocab) and vid.blank == 0
    assert len(vid.fingerprint) == 64  # sha-256 hex


def test_fingerprint_stable_across_save_load(en_vocab, tmp_path):
    p = tmp_path / "sub" / "copy.model"
    en_vocab.save(p)
    again = Vocabulary.load(p)
    assert again.fingerprint == en_vocab.fingerprint
    assert again.id == en_vocab.id
    assert again.encode("A dog runs.") == en_vocab.encode("A dog runs.")
    assert again.source == str(p)


def test_fingerprint_differs_between_models(tiny_vocabs, en_vocab):
    de = Vocabulary.load(tiny_vocabs["de"])
    assert de.fingerprint != en_vocab.fingerprint
    assert de.id != en_vocab.id  # same size, different identity


def test_training_is_deterministic_and_size_changes_fingerprint(en_lines):
    a = Vocabulary.train(en_lines[:200], 60)
    b = Vocabulary.train(en_lines[:200], 60)
    c = Vocabulary.train(en_lines[:200], 70)
    assert len(a) == 60 and len(c) == 70
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint


def test_load_missing_file_names_path(tmp_path):
    missing = tmp_path / "nope.model"
    with pytest.raises(LegoError) as info:
        Vocabulary.load(missing)
    assert str(missing) in str(info.value)
    assert "not found" in str(info.value)


def test_load_directory_is_an_error(tmp_path):
    with pytest.raises(LegoError, match="not found"):
        Vocabulary.load(tmp_path)


@pytest.mark.parametrize("content", [b"this is not a sentencepiece model\n" * 10, b"", b"\x00\xff\x13garbage"])
def test_load_non_sentencepiece_file_names_path(tmp_path, content):
    bad = tmp_path / "bad.model"
    bad.write_bytes(content)
    with pytest.raises(LegoError) as info:
        Vocabulary.load(bad)
    assert str(bad) in str(info.value)
    assert "\n" not in str(info.value)  # one-line message


def test_foreign_sentencepiece_model_is_rejected(en_lines, tmp_path):
    """A valid sentencepiece model with default special ids (no pad at 0) is not a legonn vocabulary."""
    import io

    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(en_lines[:200]), model_writer=buf, vocab_size=60,
                                   num_threads=1, minloglevel=2)
    p = tmp_path / "foreign.model"
    p.write_bytes(buf.getvalue())
    with pytest.raises(LegoError, match="special ids"):
        Vocabulary.load(p)


def test_save_is_atomic_and_leaves_no_temp_files(en_vocab, tmp_path):
    p = tmp_path / "v.model"
    en_vocab.save(p)
    en_vocab.save(p)  # overwriting works too
    assert sorted(x.name for x in tmp_path.iterdir()) == ["v.model"]
    assert p.read_bytes() == en_vocab.model_bytes


def test_atomic_write_failure_keeps_old_file_and_cleans_up(tmp_path, monkeypatch):
    p = tmp_path / "f.bin"
    p.write_bytes(b"old")

    import legonn.vocab as vocab_mod

    def boom(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(vocab_mod.os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write_bytes(p, b"new")
    assert p.read_bytes() == b"old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.bin"]

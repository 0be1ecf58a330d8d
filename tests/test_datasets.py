"""The data root (legonn.datasets): where it is, how configs name its files, the one-line error for a missing
one; `legonn data get` against a local file:// mirror; data derived from it (data/ro-en, the demo's clips)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from clitools import legonn, one_line_error

from legonn.config import load_config
from legonn.data.commonvoice import DEMO_CLIPS, read_sample
from legonn.data.download import get
from legonn.data.sources import DATASETS
from legonn.data.text import read_lines
from legonn.datasets import ENV, checkout_root, data_file, data_root, display, expand
from legonn.errors import LegoError

ROOT = Path(__file__).resolve().parents[1]


def test_data_root_is_legonn_data_when_set(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, str(tmp_path))
    assert data_root() == tmp_path
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV, "rel")  # a relative value is taken from the working directory
    assert data_root() == tmp_path / "rel"


def test_data_root_defaults_to_shared_data_beside_the_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # not from the working directory: from the checkout the package runs from
    assert checkout_root() == ROOT
    assert data_root() == ROOT.parent / "shared" / "data"
    assert (data_root() / "multi30k" / "train.de.gz").is_file()  # CI and developers have ../shared beside it


def test_data_root_command_prints_the_root_alone_on_stdout(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, str(tmp_path))
    proc = legonn("data", "root")
    assert proc.returncode == 0 and proc.stdout.decode().strip() == str(tmp_path)  # for export LEGONN_DATA=$(…)
    assert "multi30k: missing (legonn data get multi30k)" in proc.stderr.decode()


def test_a_missing_file_is_one_line_naming_it_and_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, str(tmp_path))
    with pytest.raises(LegoError) as info:
        data_file("multi30k/train.de.gz")
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "multi30k" / "train.de.gz") in message
    assert ENV in message and "legonn data get multi30k" in message
    with pytest.raises(LegoError, match=ENV):  # the readers say the same for a file under the root
        read_lines(tmp_path / "multi30k" / "val.en.gz")
    with pytest.raises(LegoError) as outside:  # outside the root, the plain message
        read_lines(ROOT / "nope.txt")
    assert ENV not in str(outside.value) and "nope.txt: file not found" in str(outside.value)


def test_configs_name_data_root_files_with_the_legonn_data_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, str(tmp_path / "root"))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"data": {"train_src": "$LEGONN_DATA/multi30k/train.de.gz",
                                               "tgt_vocab": "models/vocab/multi30k.en.model"}}))
    cfg = load_config(config, ["data.valid_src=$LEGONN_DATA/multi30k/val.de.gz"])
    assert cfg.data.train_src == str(tmp_path / "root" / "multi30k" / "train.de.gz")
    assert cfg.data.valid_src == str(tmp_path / "root" / "multi30k" / "val.de.gz")
    assert cfg.data.tgt_vocab == "models/vocab/multi30k.en.model"  # anything else is left as written
    assert expand("data/speech/x.tsv") == "data/speech/x.tsv"
    assert display(cfg.data.train_src) == "$LEGONN_DATA/multi30k/train.de.gz"  # printed the same on every machine


def test_training_on_a_missing_data_root_file_says_which_and_how_to_fix(monkeypatch, tmp_path, tiny_config):
    monkeypatch.setenv(ENV, str(tmp_path / "empty-root"))
    missing = tmp_path / "empty-root" / "multi30k" / "train.de.gz"
    one_line_error(legonn("train", tiny_config, "--quiet", "--set", "data.train_src=$LEGONN_DATA/multi30k/train.de.gz"),
                   missing, ENV)


def _mirror(tmp_path: Path, name: str) -> Path:
    """A local copy of one dataset folder of the data root, laid out as a mirror (MIRROR/DATASET/FILE)."""
    mirror = tmp_path / "mirror"
    shutil.copytree(data_root() / name, mirror / name)
    return mirror


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_data_get_fetches_from_a_mirror_checks_hashes_and_resumes(tmp_path):
    mirror, root = _mirror(tmp_path, "ro-en"), tmp_path / "root"
    proc = legonn("data", "get", "ro-en", "--mirror", mirror.as_uri(), "--root", root, "--quiet")
    assert proc.returncode == 0, proc.stderr
    expected = DATASETS["ro-en"].sums
    assert {str(p.relative_to(root / "ro-en")) for p in (root / "ro-en").rglob("*") if p.is_file()} == \
        set(expected) | {"SHA256SUMS"}  # no temp files left behind
    assert all(_sha256(root / "ro-en" / name) == digest for name, digest in expected.items())
    listed = dict(line.split("  ")[::-1] for line in (root / "ro-en" / "SHA256SUMS").read_text().splitlines())
    assert listed == expected
    assert "10 fetched" in proc.stdout.decode()
    # resumable: a file with the right hash is kept, a damaged one fetched again
    (root / "ro-en" / "ntrex" / "ntrex128.en").write_text("damaged\n")
    again = get(["ro-en"], root, mirror.as_uri(), progress=False)
    assert "1 fetched, 9 already there" in again[0]
    assert _sha256(root / "ro-en" / "ntrex" / "ntrex128.en") == expected["ntrex/ntrex128.en"]


def test_data_get_rejects_a_corrupted_file_in_one_line_naming_it(tmp_path):
    mirror, root = _mirror(tmp_path, "ro-en"), tmp_path / "root"
    bad = mirror / "ro-en" / "rosts" / "RO-STS.dev.en"
    bad.write_bytes(bad.read_bytes()[:-20])
    one_line_error(legonn("data", "get", "ro-en", "--mirror", mirror.as_uri(), "--root", root, "--quiet"),
                   "ro-en/rosts/RO-STS.dev.en", "does not match")
    assert not (root / "ro-en" / "rosts" / "RO-STS.dev.en").exists()  # checked before it lands
    assert not list((root / "ro-en" / "rosts").glob(".*"))  # and no temp file either


def test_data_get_errors_name_the_problem(tmp_path):
    one_line_error(legonn("data", "get", "nope", "--root", tmp_path, "--quiet"), "unknown dataset 'nope'", "multi30k")
    one_line_error(legonn("data", "get", "multi30k", "--mirror", (tmp_path / "absent").as_uri(), "--root", tmp_path,
                          "--quiet"), "cannot download", "absent/multi30k/")
    # converted from its upstream form, so only a mirror serves the Common Voice sample as the root holds it
    one_line_error(legonn("data", "get", "commonvoice_en_sample100", "--root", tmp_path, "--quiet"), "--mirror")


@pytest.mark.parametrize("name", list(DATASETS))
def test_the_source_table_holds_the_data_roots_checksums(name):
    """legonn.data.sources carries the SHA256SUMS of each dataset folder (the copy CI reads)."""
    listed = {}
    for line in (data_root() / name / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        listed[path] = digest
    sums = DATASETS[name].sums
    assert {k: v for k, v in sums.items() if k in listed} == listed and set(listed) <= set(sums)
    assert all(_sha256(data_root() / name / path) == digest for path, digest in sums.items())
    assert set(DATASETS[name].upstream) in (set(), set(sums))  # every file has a public source, or none does


# data/ro-en as it was committed before the datasets moved out, and as the shipped Ro→En brick was trained on
RO_EN = {
    "RO-STS.train.ro": "40565ae748f4fb1076ee1def435deff2af5b12147ac4b6e0cc7b0fc1b5bd0712",
    "RO-STS.train.en": "4f977090eb8beeb61a76876b1ba60462104633979f2c13f439fb1134a43648a8",
    "RO-STS.dev.ro": "04be055b3b073483b5d36be54d86b3809c14edd707b16e909e23a98098b760c0",
    "RO-STS.dev.en": "219fa6df88e71a829cb31bc40f7cde7258e86c532d43ed7e0b1e2aaec5281ebc",
    "RO-STS.test.ro": "ed0f197f1f3ecb20a2dfc8a8ad698d790ebfc8450afcd57cddff59d1f2e67eeb",
    "RO-STS.test.en": "9088e52b259c5daf91ae830369ab51c3de0a1e377dd5ae17af6a3e75e1f81ff0",
    "newstest2016.ro": "f19bbf43c1de16c43ccaf8a05aacac3113a0cd2148d9f674c0fec118878abb18",
    "newstest2016.en": "e883f089e3ee88cecd40a509aa743ae60be2d72c37cf1a97462f31855ab5c90b",
}


def test_ro_en_prepare_data_remakes_the_files_the_brick_was_trained_on(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "recipes" / "ro-en" / "prepare_data.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    assert {name: _sha256(tmp_path / name) for name in RO_EN} == RO_EN


def test_the_demo_clips_are_the_five_it_transcribed_before():
    """recipes/demo/run.py reads five clips of the sample in place; these are the rows of the manifest that
    used to be committed beside copies of them (id, samples, text, voice)."""
    clips = read_sample(DEMO_CLIPS)
    assert [(c.id, c.samples, c.voice) for c in clips] == [
        ("common_voice_en_78528", 51456, "commonvoice/4e0247fee435"),
        ("common_voice_en_17256256", 40320, "commonvoice/929a4ec7cede"),
        ("common_voice_en_17258665", 109440, "commonvoice/0f8a86e326c1"),
        ("common_voice_en_17816777", 44160, "commonvoice/1afbabc2cec4"),
        ("common_voice_en_678304", 48384, "commonvoice/997b5388020f")]
    assert clips[2].text == "Listen and listen to me very closely, we call them lifts, not elevators."
    assert len(read_sample()) == 100

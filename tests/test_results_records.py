"""legonn.experiments.records: every record under results/ loads as its typed class and writes back the same
JSON; a bad record is one error line naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from legonn.errors import LegoError
from legonn.experiments.records import (CtcCompactRecord, DecodingRecord, FbankThroughputRecord, VsHfRecord, InterfaceStatsRecord, ResultRecord, SwapRecord,
                                        TrainThroughputRecord, TranscribeRtfRecord, kind_of, load_results,
                                        read_record)

RESULTS = Path(__file__).resolve().parents[1] / "results"
RECORDS = sorted(RESULTS.rglob("*.json"))


def test_the_repository_has_records_of_every_kind():
    kinds = {kind_of(p) for p in RECORDS}
    assert kinds == {ResultRecord, SwapRecord, InterfaceStatsRecord, TrainThroughputRecord, FbankThroughputRecord,
                     TranscribeRtfRecord, VsHfRecord, DecodingRecord, CtcCompactRecord}


@pytest.mark.parametrize("path", RECORDS, ids=[str(p.relative_to(RESULTS)) for p in RECORDS])
def test_every_committed_record_loads_and_writes_back_the_same_json(path, tmp_path):
    record = read_record(path)
    assert record.to_dict() == json.loads(path.read_text())
    record.write(tmp_path / path.name)
    assert type(record).from_json(tmp_path / path.name) == record


def _scored(**fields) -> dict:
    return {"task": "de-en", "system": "lego-wemb", "test_set": "t", "bleu": 38.3, "chrf": 58.2, "signature": "s",
            "ctc_readout_bleu": [34.1, None], "checkpoint": "runs/x", "training_finished": True, "params": 10,
            "train_steps": 3, "seed": None, "beam": 5, "length_penalty": 1.0, "decode_seconds": 1.5,
            "hardware": "h", "commit": "abc", **fields}


def test_a_result_round_trips_leaving_unset_fields_out_but_keeping_a_null_seed(tmp_path):
    record = ResultRecord.from_dict(_scored())
    record.write(tmp_path / "r.json")
    written = json.loads((tmp_path / "r.json").read_text())
    assert written == _scored() and "wer" not in written and written["seed"] is None
    assert list(written)[:4] == ["task", "system", "test_set", "bleu"]  # the scores lead, as the recipes wrote them
    assert ResultRecord.from_json(tmp_path / "r.json") == record and record.ctc_readout_bleu == [34.1, None]


@pytest.mark.parametrize("change, message", [
    ({"bleu": "38.3"}, "field 'bleu' should be float | None"),
    ({"params": True}, "field 'params' should be int"),
    ({"ctc_readout_bleu": ["x"]}, "field 'ctc_readout_bleu' should be"),
    ({"blue": 1.0}, "unknown field 'blue' for a ResultRecord"),
    ({"wer": 12.0}, "field 'bleu' or 'wer': a result has exactly one of them"),
])
def test_a_bad_record_is_one_line_naming_the_file_and_field(tmp_path, change, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_scored(**change)))
    with pytest.raises(LegoError) as err:
        ResultRecord.from_json(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_a_missing_field_and_a_broken_file_are_named_too(tmp_path):
    path = tmp_path / "missing.json"
    data = _scored()
    del data["commit"]
    path.write_text(json.dumps(data))
    with pytest.raises(LegoError, match=r"missing\.json: missing field 'commit' for a ResultRecord$"):
        ResultRecord.from_json(path)
    path.write_text("{not json")
    with pytest.raises(LegoError, match=r"missing\.json: not a readable JSON record"):
        ResultRecord.from_json(path)


def test_results_of_a_folder_load_in_file_order_and_headline_only_keeps_the_first_test_sets(tmp_path):
    for name, test_set in (("b.json", "first"), ("a.json", "first"), ("a.second.json", "second")):
        (tmp_path / name).write_text(json.dumps(_scored(system=name.split(".")[0], test_set=test_set)))
    assert [(r.system, r.test_set) for r in load_results(tmp_path)] == [("a", "first"), ("a", "second"), ("b", "first")]
    assert [r.system for r in load_results(tmp_path, headline_only=True)] == ["a", "b"]


def test_a_benchmark_record_of_no_known_kind_is_named():
    with pytest.raises(LegoError, match="no benchmark record kind"):
        kind_of(Path("results/bench/mystery.json"))

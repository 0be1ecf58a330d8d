"""recipes/results_table.py: the WEmb-against-BeamConv summary (issue #3: say which ingestor wins where) and the
benchmark tables."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))
from results_table import (_status, asr_target_table, early_baseline_caveat, ingestor_reading,  # noqa: E402
                           ingestor_rows, ingestor_table, rtf_table, stronger_baseline_targets)


def _record(system: str, bleu: float, steps: int = 5000, finished: bool = True, test_set: str = "t") -> dict:
    return {"system": system, "bleu": bleu, "test_set": test_set, "train_steps": steps,
            "training_finished": finished}


def _swap(pair: str, lost: float) -> dict:
    return {"pair": pair, "bleu_lost": lost, "epochs": 10}


def test_rows_pair_each_setting_measured_with_both_ingestors_and_skip_the_rest():
    multi30k = [_record("lego-wemb", 38.0, test_set="test_2016_flickr"),
                _record("lego-beamconv", 38.5, test_set="test_2016_flickr")]
    transfer = {"cs-en": [_record("lego-wemb", 37.0), _record("lego-beamconv", 37.0),
                          _record("zero-shot-wemb", 36.9), _record("zero-shot-beamconv", 36.3),
                          _record("fine-tuned-wemb", 38.4)]}  # no fine-tuned-beamconv: no row
    rows = ingestor_rows(multi30k, [_swap("lego-wemb", 0.07), _swap("lego-beamconv", 0.15)], transfer)
    assert [(r["where"].split(" (")[0], r["winner"]) for r in rows] == [
        ("de-en, own decoder", "BeamConv"), ("de-en, decoders swapped between seeds", "WEmb"),
        ("cs-en, own decoder", None), ("cs-en, zero-shot", "WEmb")]
    assert abs(rows[1]["margin"] - 0.08) < 1e-9  # less BLEU lost wins
    assert ingestor_table(rows)[4] == "| cs-en, own decoder (t) | BLEU | 37.00 | 37.00 | tie | yes |"


def test_runs_stopped_at_different_points_are_flagged_and_left_out_of_the_tally():
    transfer = {"fr-en": [_record("lego-wemb", 50.1, steps=4830, finished=False),
                          _record("lego-beamconv", 48.2, steps=2484, finished=False),
                          _record("zero-shot-wemb", 45.5, steps=0), _record("zero-shot-beamconv", 45.7, steps=0)],
                "cs-en": [_record("lego-wemb", 37.1), _record("lego-beamconv", 37.4),
                          _record("zero-shot-wemb", 36.9), _record("zero-shot-beamconv", 36.4)]}
    rows = ingestor_rows([], [], transfer)
    assert [r["alike"] for r in rows] == [False, False, True, True]  # zero-shot inherits its encoders' status
    text = ingestor_reading(rows)
    assert "within one model (own decoder): WEmb wins 0, BeamConv 1 of 1, mean margin WEmb − BeamConv -0.30" in text
    assert "across modules trained apart (zero-shot, fine-tuned compositions, swaps): WEmb wins 1, BeamConv 0 of 1" in text
    assert "2 setting(s) compare runs stopped at different points" in text
    assert ingestor_reading([]) == ""


def test_a_run_capped_on_the_command_line_says_so_and_is_not_taken_for_a_finished_one():
    config = "recipes/ro-en/lego-beamconv.yaml"  # sets no train.max_steps of its own
    capped = {**_record("lego-beamconv", 17.2, steps=2130), "config": config, "schedule": {"max_steps": 2130}}
    assert _status(capped) == " (stopped at 2,130 updates by a cap set for this run)"
    own_cap = {**_record("fine-tuned-wemb", 20.9, steps=2000), "config": "recipes/ro-en/fine-tuned-wemb.yaml",
               "schedule": {"max_steps": 2000}}  # its config's own cap: a finished run
    assert _status(own_cap) == ""
    finished = _record("lego-wemb", 18.7, steps=5000)
    rows = ingestor_rows([], [], {"ro-en": [finished, {**capped, "train_steps": 4000}]})
    assert rows[0]["alike"] is False


def test_the_transcription_speed_table_shows_each_benchmark_run():
    record = {"model": "asr-en.encoder + de-en.decoder", "manifest": "cv/manifest.tsv", "clips": 100, "audio_seconds": 542.4, "threads": 2,
              "beam": 5, "real_time_factor": 0.0312, "hardware": "some CPU", "commit": "abc1234"}
    header, rule, row = rtf_table([record])
    assert header.count("|") == rule.count("|") == row.count("|")
    assert "| cv/manifest.tsv | 100 (542.4) | 2 | 5 | 0.031 |" in row and "asr-en.encoder + de-en.decoder" in row


def test_an_asr_baseline_kept_from_its_first_epochs_is_flagged_beside_the_verdicts():
    def baseline(best: int) -> dict:
        return {"system": "baseline", "test_set": "synthetic-test", "best_epoch": best, "train_epochs_completed": 17,
                "valid_wer_greedy": 84.06}

    caveat = early_baseline_caveat([baseline(1)], "synthetic-test")
    assert "epoch-1 checkpoint of 17 epochs" in caveat[0] and "84.1 %" in caveat[0]
    assert early_baseline_caveat([baseline(15)], "synthetic-test") == []
    assert early_baseline_caveat([baseline(1)], "commonvoice") == []  # another test set's baseline is not this one


def test_asr_targets_are_judged_again_against_the_joint_ctc_baseline_when_it_is_scored():
    def record(system: str, wer: float, test_set: str = "synthetic-test") -> dict:
        return {"system": system, "test_set": test_set, "wer": wer, "train_steps": 3952}

    records = [record("baseline", 80.0), record("zero-shot-wemb", 60.0), record("fine-tuned-wemb", 50.0)]
    assert stronger_baseline_targets(records, "synthetic-test") == []  # not scored yet: no second table
    records += [record("baseline-ctc", 40.0), record("baseline-ctc", 90.0, "commonvoice")]
    lines = stronger_baseline_targets(records, "synthetic-test")
    assert "3,952 updates against its 3,952" in lines[0]
    rows = "\n".join(lines)
    assert "baseline-ctc WER 40.00" in rows
    assert "| zero-shot-wemb WER ≤ the baseline's | 60.00 (+50.0 %) | missed by 20.00 WER points |" in rows
    assert ("| fine-tuned-wemb ≥ 12.5 % relative WER reduction | 50.00 (+25.0 %) | missed by 15.00 WER points |"
            in rows)
    assert "| three-module-fine-tuned ≥ 19.5 % relative WER reduction | not measured | – |" in rows
    plain = "\n".join(asr_target_table(records, "synthetic-test"))
    assert "baseline WER 80.00" in plain and "| 60.00 (-25.0 %) | met |" in plain

"""recipes/results_table.py and the table cells and targets it uses (legonn.experiments.describe, .targets):
what each system was trained on and how far, the issues' targets checked against the baseline, which ingestor
wins where (issue #3), and the ablation, swap, interface-statistics and benchmark tables."""

from __future__ import annotations

from recipe_scripts import load_script

from legonn.experiments.describe import origin, status
from legonn.experiments.records import InterfaceStatsRecord, ResultRecord, SwapRecord, TranscribeRtfRecord
from legonn.experiments.targets import bleu_target_table, swap_target_table, wer_target_table

table = load_script("recipes/results_table.py")

ASR_TARGETS = ("zero-shot-wemb=0", "zero-shot-beamconv=0", "fine-tuned-wemb=12.5", "fine-tuned-beamconv=12.5",
               "three-module-fine-tuned=19.5")


def result(system: str, bleu: float | None = None, steps: int = 5000, finished: bool = True, test_set: str = "t",
           **fields) -> ResultRecord:
    """A record with placeholder provenance: only what a test sets matters to it."""
    base = {"task": "x-en", "checkpoint": "c", "params": 1, "seed": 1, "beam": 5, "length_penalty": 1.0,
            "decode_seconds": 1.0, "hardware": "h", "commit": "c"}
    if "wer" not in fields and bleu is None:
        bleu = 0.0
    return ResultRecord(system=system, test_set=test_set, bleu=bleu, train_steps=steps, training_finished=finished,
                        **{**base, **fields})


def swap(pair: str, trained: float = 30.0, swapped: float = 29.0, **fields) -> SwapRecord:
    base = {"test_set": "test_2016_flickr", "scores": {}, "checkpoints": [], "seeds": [1, 2], "signature": "s",
            "beam": 5, "hardware": "h", "commit": "c", "mean_trained_bleu": trained, "mean_swapped_bleu": swapped,
            "bleu_lost": round(trained - swapped, 2)}
    return SwapRecord(pair=pair, **{**base, **fields})


def test_rows_pair_each_setting_measured_with_both_ingestors_and_skip_the_rest():
    multi30k = [result("lego-wemb", 38.0, test_set="test_2016_flickr"),
                result("lego-beamconv", 38.5, test_set="test_2016_flickr")]
    transfer = {"cs-en": [result("lego-wemb", 37.0), result("lego-beamconv", 37.0),
                          result("zero-shot-wemb", 36.9), result("zero-shot-beamconv", 36.3),
                          result("fine-tuned-wemb", 38.4)]}  # no fine-tuned-beamconv: no row
    swaps = [swap("lego-wemb", 30.0, 29.93, epochs=10), swap("lego-beamconv", 30.0, 29.85, epochs=10)]
    rows = table.ingestor_rows(multi30k, swaps, transfer)
    assert [(r["where"].split(" (")[0], r["winner"]) for r in rows] == [
        ("de-en, own decoder", "BeamConv"), ("de-en, decoders swapped between seeds", "WEmb"),
        ("cs-en, own decoder", None), ("cs-en, zero-shot", "WEmb")]
    assert abs(rows[1]["margin"] - 0.08) < 1e-9  # less BLEU lost wins
    assert table.ingestor_table(rows)[4] == "| cs-en, own decoder (t) | BLEU | 37.00 | 37.00 | tie | yes |"


def test_runs_stopped_at_different_points_are_flagged_as_not_trained_alike():
    transfer = {"fr-en": [result("lego-wemb", 50.1, steps=4830, finished=False),
                          result("lego-beamconv", 48.2, steps=2484, finished=False),
                          result("zero-shot-wemb", 45.5, steps=0), result("zero-shot-beamconv", 45.7, steps=0)],
                "cs-en": [result("lego-wemb", 37.1), result("lego-beamconv", 37.4),
                          result("zero-shot-wemb", 36.9), result("zero-shot-beamconv", 36.4)]}
    rows = table.ingestor_rows([], [], transfer)
    assert [r["alike"] for r in rows] == [False, False, True, True]  # zero-shot inherits its encoders' status
    assert table.ingestor_table(rows)[2].endswith("| WEmb by 1.90 | no |")


def test_a_run_capped_on_the_command_line_says_so_and_is_not_taken_for_a_finished_one():
    config = "recipes/ro-en/lego-beamconv.yaml"  # sets no train.max_steps of its own
    capped = result("lego-beamconv", 17.2, steps=2130, config=config, schedule={"max_steps": 2130})
    assert status(capped) == " (stopped at 2,130 updates by a cap set for this run)"
    own_cap = result("fine-tuned-wemb", 20.9, steps=2000, config="recipes/ro-en/fine-tuned-wemb.yaml",
                     schedule={"max_steps": 2000})  # its config's own cap: a finished run
    assert status(own_cap) == ""
    finished = result("lego-wemb", 18.7, steps=5000)
    capped.train_steps = 4000
    rows = table.ingestor_rows([], [], {"ro-en": [finished, capped]})
    assert rows[0]["alike"] is False


def test_a_status_says_how_far_an_unfinished_run_got_and_under_what_budget():
    records = [result("baseline", train_epochs_completed=40),
               result("lego-wemb", finished=False, train_epochs_completed=33, precision="bf16",
                      schedule={"time_budget_minutes": 52.0}, train_minutes=139.5),
               result("lego-beamconv", finished=False, train_epochs_completed=35,
                      precision="fp32")]  # written before results recorded the budget
    assert [status(r) for r in records] == ["", " (stopped by a time budget after 140 min of training)",
                                            " (training in progress)"]


def test_each_system_names_what_its_modules_were_trained_on():
    """A fine-tuned composition shows the bricks it started from and the task it was then trained on."""
    bricks = [{"card": "fr-en.encoder.json", "task": "fr-en", "seed": 1},
              {"card": "de-en.decoder.json", "task": "de-en", "seed": 1}]
    assert origin(result("s", task="fr-en"), seeds=True) == "fr-en (seed 1)"
    assert origin(result("s", task="fr-en", seed=None, bricks=bricks, steps=0), seeds=False) == "fr-en + de-en"
    fine_tuned = result("s", task="fr-en", bricks=bricks, steps=2000)
    assert origin(fine_tuned, seeds=True) == "fr-en (seed 1) + de-en (seed 1), then fr-en (seed 1)"


def test_each_bleu_target_is_checked_against_the_baseline():
    """Met, missed (by how much) and not measured, each computed from the results on one test set."""
    records = [result("baseline", 40.0), result("lego-wemb", 39.5), result("lego-beamconv", 37.0, finished=False),
               result("lego-wemb", 10.0, test_set="other")]
    targets = ("baseline>=41.0", "lego-wemb=-1.0", "lego-beamconv=-1.5", "zero-shot=0", "fine-tuned=+1.5")
    rows = bleu_target_table(records, "t", "#2", *targets)[2:]
    assert rows == ["| baseline ≥ 41.0 BLEU | 40.00 | missed by 1.00 |",
                    "| lego-wemb within 1.0 BLEU of the baseline | 39.50 (-0.50) | met |",
                    "| lego-beamconv (training in progress) within 1.5 BLEU of the baseline | 37.00 (-3.00) | "
                    "missed by 1.50 |",
                    "| zero-shot ≥ the baseline | not measured | – |",
                    "| fine-tuned ≥ the baseline + 1.5 BLEU | not measured | – |"]
    assert bleu_target_table(records, "other", "#2", *targets) == []  # no baseline on that set: nothing to check


def test_asr_targets_are_wer_reductions_relative_to_the_baseline():
    """Issue #4's targets are met when the WER is at most the baseline's (zero-shot) or 12.5 % / 19.5 % below it."""
    records = [result("baseline", wer=40.0), result("zero-shot-wemb", wer=40.0), result("fine-tuned-wemb", wer=36.0),
               result("three-module-fine-tuned", wer=30.0, finished=False)]
    rows = wer_target_table(records, "t", "#4", "baseline", *ASR_TARGETS)[2:]
    assert rows[0] == "| zero-shot-wemb WER ≤ the baseline's | 40.00 (+0.0 %) | met |"
    assert rows[1] == "| zero-shot-beamconv WER ≤ the baseline's | not measured | – |"
    assert rows[2] == "| fine-tuned-wemb ≥ 12.5 % relative WER reduction | 36.00 (-10.0 %) | missed by 1.00 WER points |"
    assert rows[4] == ("| three-module-fine-tuned (training in progress) ≥ 19.5 % relative WER reduction | "
                       "30.00 (-25.0 %) | met |")


def test_asr_targets_are_judged_again_against_the_joint_ctc_baseline_when_it_is_scored():
    records = [result("baseline", wer=80.0, test_set="synthetic-test", steps=3952),
               result("zero-shot-wemb", wer=60.0, test_set="synthetic-test", steps=3952),
               result("fine-tuned-wemb", wer=50.0, test_set="synthetic-test", steps=3952)]
    assert wer_target_table(records, "synthetic-test", "#4", "baseline-ctc", *ASR_TARGETS) == []  # not scored yet
    records += [result("baseline-ctc", wer=40.0, test_set="synthetic-test"),
                result("baseline-ctc", wer=90.0, test_set="commonvoice")]
    rows = "\n".join(wer_target_table(records, "synthetic-test", "#4", "baseline-ctc", *ASR_TARGETS))
    assert "baseline-ctc WER 40.00" in rows
    assert "| zero-shot-wemb WER ≤ the baseline's | 60.00 (+50.0 %) | missed by 20.00 WER points |" in rows
    assert ("| fine-tuned-wemb ≥ 12.5 % relative WER reduction | 50.00 (+25.0 %) | missed by 15.00 WER points |"
            in rows)
    assert "| three-module-fine-tuned ≥ 19.5 % relative WER reduction | not measured | – |" in rows
    plain = "\n".join(wer_target_table(records, "synthetic-test", "#4", "baseline", *ASR_TARGETS))
    assert "baseline WER 80.00" in plain and "| 60.00 (-25.0 %) | met |" in plain


def test_ablation_rows_name_the_changed_settings_and_measure_against_their_start():
    """An ablation row reads what it changes from its own config file and gives its BLEU and CTC readout
    relative to the system that config includes, and its BLEU relative to the baseline."""
    config = "recipes/multi30k/lego-wemb-deep.yaml"
    assert table.config_changes(config) == ("lego-wemb", ["`model.encoder.layers: 4`"])
    flickr = {"test_set": "test_2016_flickr", "train_minutes": 1.0}
    records = [result("baseline", 40.0, **flickr), result("lego-wemb", 38.0, ctc_readout_bleu=[34.0], **flickr)]
    ablation = result("lego-wemb-deep", 39.5, ctc_readout_bleu=[35.25], config=config, **flickr)
    on_val = result("lego-wemb-deep", 39.5, ctc_readout_bleu=[35.25], config=config, test_set="val")
    row = table.ablation_table([ablation, on_val], records)[2:]
    assert len(row) == 1
    cells = [c.strip() for c in row[0].split("|")[1:-1]]
    assert cells[:7] == ["lego-wemb-deep", "lego-wemb", "`model.encoder.layers: 4`", "**39.50**", "+1.50", "-0.50",
                         "35.25 (+1.25)"]


def test_swap_rows_say_which_schedule_the_models_trained_on():
    scores = {k: {"bleu": b} for k, b in zip(("enc1+dec1", "enc2+dec2", "enc1+dec2", "enc2+dec1"),
                                             (36.0, 35.2, 35.5, 34.5))}
    record = swap("lego-wemb", scores=scores, bleu_lost=0.5)
    short, configured = table.swap_table([swap("lego-wemb", scores=scores, bleu_lost=0.5, epochs=10,
                                               warmup_steps=400), record])[2:]
    assert "| lego-wemb (seeds 1, 2) | 10 epochs, warm-up 400 | 36.0 | 35.2 | 35.5 | 34.5 | **0.50** | – |" in short
    assert "| as configured |" in configured
    timed = table.swap_table([swap("lego-wemb", scores=scores, bleu_lost=0.5, train_minutes=[27.5, 28.25])])[2]
    assert "| **0.50** | 27.5 + 28.2 | c |" in timed


def test_swap_targets_judge_each_lego_pair_and_list_the_unmeasured():
    targets = ("lego-wemb=1.0", "lego-beamconv=1.0")
    rows = swap_target_table([swap("lego-wemb", 30.0, 29.4), swap("baseline", 31.0, 0.5)], *targets)[2:]
    assert rows == ["| lego-wemb swapped loses ≤ 1.0 BLEU | 0.60 lost | met |",
                    "| lego-beamconv swapped loses ≤ 1.0 BLEU | not measured | – |"]
    missed = swap_target_table([swap("lego-beamconv", 30.0, 28.5)], *targets)[3]
    assert missed == "| lego-beamconv swapped loses ≤ 1.0 BLEU | 1.50 lost | missed by 0.50 |"


def test_interface_statistics_list_each_encoder_with_its_reused_decoder_cost():
    costs = {"fr-en": "cost of fr-en"}
    row = {"src": "v.fr", "sentences": 1014, "positions_per_target_token": 1.6168, "positions_per_target_token_p5": 1.19,
           "positions_per_target_token_p95": 2.18, "blank_share": 0.1293, "repeat_share": 0.2985, "entropy_nats": 0.8387,
           "top1_probability": 0.7623}
    record = InterfaceStatsRecord(rows=[{**row, "encoder": "fr-en encoder"}, {**row, "encoder": "de-en lego-wemb, seed 1"}],
                                  hardware="h", commit="c")
    lines = table.interface_stats_table(record, costs)
    assert lines[2] == "| fr-en encoder (`v.fr`) | 1,014 | 1.62 (1.19–2.18) | 12.9 | 29.8 | 0.84 | 0.76 | cost of fr-en |"
    assert lines[3].endswith("| – |")  # the decoder's own kind of encoder has no reuse cost


def test_the_transcription_speed_table_shows_each_benchmark_run():
    record = TranscribeRtfRecord(model="asr-en.encoder + de-en.decoder", manifest="cv/manifest.tsv", clips=100,
                                 audio_seconds=542.4, compute_seconds=17.0, threads=2, beam=5, real_time_factor=0.0312,
                                 hardware="some CPU", commit="abc1234")
    header, rule, row = table.rtf_table([record])
    assert header.count("|") == rule.count("|") == row.count("|")
    assert "| cv/manifest.tsv | 100 (542.4) | 2 | 5 | 0.031 |" in row and "asr-en.encoder + de-en.decoder" in row


def test_every_marker_in_the_pages_names_a_known_table_and_fills_as_committed():
    """The committed pages are what `make results` writes from the committed records (no stale table)."""
    from legonn.experiments.markers import fill

    for page in table.PAGES:
        text = page.read_text(encoding="utf-8")
        assert "<!-- table: " in text
        assert fill(text, table.TABLES, str(page)) == text, f"{page}: run `make results`"

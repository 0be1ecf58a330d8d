"""Fill the generated tables of docs/results.md and README.md from the records under results/.

    python recipes/results_table.py          # or: make results

Both pages are written by hand; only the lines between a `<!-- table: NAME ARGS -->` marker and its
`<!-- end -->` are generated, by the table NAME below (see legonn.experiments.markers). A target table's
marker carries the targets themselves: `SYSTEM=BOUND`, the bound in BLEU relative to the baseline (-1.0:
within 1.0 BLEU), in % relative WER reduction, or in BLEU lost by a swap; `baseline>=X`: the baseline's
own BLEU floor.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from legonn.config import dotted
from legonn.errors import LegoError
from legonn.experiments.describe import fmt, origin, relative, status, step_cap
from legonn.experiments.markers import fill_file
from legonn.experiments.provenance import ROOT
from legonn.experiments.targets import bleu_target_table, swap_target_table, wer_target_table
from legonn.experiments.records import (DecodingRecord, FbankThroughputRecord, InterfaceStatsRecord, ResultRecord, SwapRecord,
                                        TrainThroughputRecord, TranscribeRtfRecord, VsHfRecord, CtcCompactRecord,
                                        headline_test_set,
                                        load_results)

RESULTS = ROOT / "results"
SYSTEM_ORDER = ["baseline", "lego-wemb", "lego-beamconv", "zero-shot-wemb", "zero-shot-beamconv", "fine-tuned-wemb",
                "fine-tuned-beamconv"]
ASR_ORDER = ["baseline", "baseline-ctc"] + SYSTEM_ORDER[1:] + ["three-module-zero-shot", "three-module-fine-tuned"]
PAGES = [ROOT / "docs" / "results.md", ROOT / "README.md"]


def _order(r: ResultRecord) -> int:
    return SYSTEM_ORDER.index(r.system) if r.system in SYSTEM_ORDER else 99


def _by_set(records: list[ResultRecord], first: str, order=_order) -> list[ResultRecord]:
    return sorted(records, key=lambda r: (r.test_set != first, r.test_set, order(r)))


def translation_table(records: list[ResultRecord]) -> list[str]:
    lines = ["| system | test set | BLEU | chrF | CTC-readout BLEU | best val BLEU (greedy) | params | train min | "
             "train tokens/s (median) | steps | precision | seed | commit |", "|---" * 13 + "|"]
    for r in _by_set(records, "test_2016_flickr"):
        lines.append(f"| {r.system}{status(r)} | {r.test_set} | **{fmt(r.bleu)}** | {fmt(r.chrf)} | "
                     f"{fmt(r.ctc_readout_bleu)} | {fmt(r.valid_bleu_greedy)} | {fmt(r.params)} | "
                     f"{fmt(r.train_minutes)} | {fmt(r.median_window_tokens_per_s or r.tokens_per_s, 0)} | "
                     f"{fmt(r.train_steps)} | {r.precision or '–'} | {r.seed} | {r.commit} |")
    return lines


def transfer_table(records: list[ResultRecord]) -> list[str]:
    """One X→En task: every system beside its baseline on the same test set."""
    baseline = {r.test_set: r.bleu for r in records if r.system == "baseline"}
    lines = ["| system | test set | BLEU | Δ vs baseline | chrF | CTC-readout BLEU | modules trained on | "
             "updates | params | commit |", "|---" * 10 + "|"]
    for r in _by_set(records, records[0].test_set if records else ""):
        base = baseline.get(r.test_set)
        delta = "–" if base is None or r.system == "baseline" else f"{r.bleu - base:+.1f}"
        lines.append(f"| {r.system}{status(r)} | {r.test_set} | **{fmt(r.bleu)}** | {delta} | {fmt(r.chrf)} | "
                     f"{fmt(r.ctc_readout_bleu)} | {origin(r, seeds=True)} | {fmt(r.train_steps)} | "
                     f"{fmt(r.params)} | {r.commit} |")
    return lines


def config_changes(config: str) -> tuple[str, list[str]]:
    """What an ablation's config (a path in the repository) starts from and the settings it changes,
    read from the file itself: ('lego-wemb', ['`model.encoder.layers: 4`'])."""
    values = yaml.safe_load((ROOT / config).read_text())
    start = Path(values.pop("include", "?")).stem
    changes = [f"`{key}: {value}`" for key, value in dotted(values).items() if "." in key]  # settings, not names
    return start, changes


def ablation_table(ablations: list[ResultRecord], records: list[ResultRecord],
                   test_set: str = "test_2016_flickr") -> list[str]:
    """Each ablation beside the system its config starts from and the baseline, on test_set."""
    scores = {r.system: r for r in records if r.test_set == test_set}
    lines = ["| ablation | starts from | changes | BLEU | Δ vs its start | Δ vs baseline | CTC-readout BLEU "
             "(Δ vs its start) | params | train min | steps | hardware | commit |", "|---" * 12 + "|"]

    def delta(r, other, key="bleu"):
        ours, theirs = (getattr(x, key) if x else None for x in (r, other))
        if not ours or not theirs:
            return "–"
        ours, theirs = (v[0] if isinstance(v, list) else v for v in (ours, theirs))
        return f"{ours - theirs:+.2f}"
    for r in sorted((a for a in ablations if a.test_set == test_set), key=lambda a: a.system):
        start, changes = config_changes(r.config)
        ref, base = scores.get(start), scores.get("baseline")
        lines.append(f"| {r.system}{status(r)} | {start} | {', '.join(changes)} | **{fmt(r.bleu, 2)}** | "
                     f"{delta(r, ref)} | {delta(r, base)} | {fmt(r.ctc_readout_bleu, 2)} "
                     f"({delta(r, ref, 'ctc_readout_bleu')}) | "
                     f"{fmt(r.params)} | {fmt(r.train_minutes)} | {fmt(r.train_steps)} | {r.hardware} | "
                     f"{r.commit} |")
    return lines


def swap_table(records: list[SwapRecord]) -> list[str]:
    lines = ["| models swapped | schedule | enc₁+dec₁ | enc₂+dec₂ | enc₁+dec₂ | enc₂+dec₁ | BLEU lost | "
             "train min | commit |", "|---" * 9 + "|"]
    for r in records:
        s = {k: fmt(v["bleu"]) for k, v in r.scores.items()}
        schedule = f"{r.epochs} epochs, warm-up {r.warmup_steps:,}" if r.epochs is not None else "as configured"
        lines.append(f"| {r.pair} (seeds {r.seeds[0]}, {r.seeds[1]}) | {schedule} | {s['enc1+dec1']} | "
                     f"{s['enc2+dec2']} | {s['enc1+dec2']} | {s['enc2+dec1']} | **{fmt(r.bleu_lost, 2)}** | "
                     f"{' + '.join(fmt(m) for m in r.train_minutes or []) or '–'} | {r.commit} |")
    return lines


def _trained_alike(wemb: ResultRecord, beamconv: ResultRecord) -> bool:
    """Whether two own-decoder systems trained as far as each other: both to their config's end, or for the
    same number of updates (a run stopped early is not a fair opponent for a finished one)."""
    finished = all(r.training_finished and not step_cap(r) for r in (wemb, beamconv))
    return finished or wemb.train_steps == beamconv.train_steps


def ingestor_rows(de_en: list[ResultRecord], swaps: list[SwapRecord],
                  transfer: dict[str, list[ResultRecord]]) -> list[dict]:
    """Every setting measured with both ingestors, as dicts with where, measure, wemb, beamconv, winner (None
    for a tie), margin, kind ('within' one model or 'across' modules trained apart) and alike."""
    rows = []

    def add(where: str, measure: str, wemb: float, beamconv: float, kind: str, alike: bool, lower_wins=False):
        gap = (wemb - beamconv) * (-1 if lower_wins else 1)
        rows.append({"where": where, "measure": measure, "wemb": wemb, "beamconv": beamconv, "margin": abs(gap),
                     "winner": None if abs(gap) < 0.05 else ("WEmb" if gap > 0 else "BeamConv"), "kind": kind,
                     "alike": alike})
    own = {r.system: r for r in de_en if r.test_set == "test_2016_flickr"}
    if "lego-wemb" in own and "lego-beamconv" in own:
        add("de-en, own decoder (test_2016_flickr)", "BLEU", own["lego-wemb"].bleu, own["lego-beamconv"].bleu,
            "within", _trained_alike(own["lego-wemb"], own["lego-beamconv"]))
    pairs = {r.pair: r for r in swaps}
    if "lego-wemb" in pairs and "lego-beamconv" in pairs:
        add("de-en, decoders swapped between seeds (test_2016_flickr)", "BLEU lost", pairs["lego-wemb"].bleu_lost,
            pairs["lego-beamconv"].bleu_lost, "across", pairs["lego-wemb"].epochs == pairs["lego-beamconv"].epochs,
            lower_wins=True)
    for task, records in transfer.items():
        headline = records[0].test_set
        scores = {r.system: r for r in records if r.test_set == headline}
        encoders = (scores.get("lego-wemb"), scores.get("lego-beamconv"))
        alike = all(encoders) and _trained_alike(*encoders)  # zero-shot and fine-tuned systems start from these
        for kind, label in (("lego", "own decoder"), ("zero-shot", "zero-shot"), ("fine-tuned", "fine-tuned")):
            wemb, beamconv = scores.get(f"{kind}-wemb"), scores.get(f"{kind}-beamconv")
            if wemb and beamconv:
                add(f"{task}, {label} ({headline})", "BLEU", wemb.bleu, beamconv.bleu,
                    "within" if kind == "lego" else "across", alike)
    return rows


def ingestor_table(rows: list[dict]) -> list[str]:
    lines = ["| setting | measure | WEmb | BeamConv | wins | trained alike |", "|---|---|---|---|---|---|"]
    for r in rows:
        wins = f"{r['winner']} by {r['margin']:.2f}" if r["winner"] else "tie"
        lines.append(f"| {r['where']} | {r['measure']} | {r['wemb']:.2f} | {r['beamconv']:.2f} | {wins} | "
                     f"{'yes' if r['alike'] else 'no'} |")
    return lines


def reused_decoder_cost(records: list[ResultRecord]) -> str:
    """zero-shot-wemb − lego-wemb on a transfer task's headline test set, formatted; '–' where either is missing."""
    headline = records[0].test_set
    scores = {r.system: r.bleu for r in records if r.test_set == headline}
    if "zero-shot-wemb" not in scores or "lego-wemb" not in scores:
        return "–"
    return f"{scores['zero-shot-wemb'] - scores['lego-wemb']:+.1f} on {headline}"


def interface_stats_table(record: InterfaceStatsRecord, costs: dict[str, str]) -> list[str]:
    """One row per encoder, with its task's reused-decoder cost (costs: task → reused_decoder_cost; the De→En
    rows, the decoder's own kind, have none)."""
    lines = ["| encoder (data) | sentences | K/\\|y\\| (p5–p95) | blank % | repeat % | entropy (nats) | top-1 p | "
             "zero-shot − own decoder (BLEU) |", "|---" * 8 + "|"]
    for r in record.rows:
        lines.append(f"| {r['encoder']} (`{r['src']}`) | {r['sentences']:,} | {r['positions_per_target_token']:.2f} "
                     f"({r['positions_per_target_token_p5']:.2f}–{r['positions_per_target_token_p95']:.2f}) | "
                     f"{100 * r['blank_share']:.1f} | {100 * r['repeat_share']:.1f} | {r['entropy_nats']:.2f} | "
                     f"{r['top1_probability']:.2f} | {costs.get(r['encoder'].split()[0], '–')} |")
    return lines


def asr_table(records: list[ResultRecord], headline: str) -> list[str]:
    """Every ASR system beside the baseline on the same test set (WER: lower is better)."""
    baseline = {r.test_set: r.wer for r in records if r.system == "baseline"}
    lines = ["| system | test set | WER % | relative to baseline | CTC-readout WER % | modules trained on | "
             "training clips | epochs | updates | real-time factor | params | commit |", "|---" * 12 + "|"]
    for r in _by_set(records, headline, _asr_order):
        delta = "–" if r.system == "baseline" else relative(r.wer, baseline.get(r.test_set))
        lines.append(f"| {r.system}{status(r)} | {r.test_set} | **{fmt(r.wer)}** | {delta} | "
                     f"{fmt(r.ctc_readout_wer)} | {origin(r, seeds=True)} | {fmt(r.train_utterances)} | "
                     f"{fmt(r.train_epochs_completed)} | {fmt(r.train_steps)} | {fmt(r.real_time_factor, 3)} | "
                     f"{fmt(r.params)} | {r.commit} |")
    return lines


def _asr_order(r: ResultRecord) -> int:
    return ASR_ORDER.index(r.system) if r.system in ASR_ORDER else 99


def throughput_tables(benches: list[TrainThroughputRecord]) -> list[str]:
    """One table per run of benchmarks/train_throughput.py, headed by how it ran."""
    lines = []
    for b in benches:
        native = {True: ", native bf16", False: ", no native bf16"}.get(b.native_bf16, "")
        lines += [f"`python benchmarks/train_throughput.py` ({b.precision}, {b.threads} threads, {b.allocator}, "
                  f"{b.hardware}{native}, commit {b.commit}):", "",
                  "| config | params | target tokens/s | cost per target token vs baseline |", "|---|---|---|---|"]
        lines += [f"| {name} | {fmt(s['params'])} | {fmt(s['tokens_per_s'], 0)} | "
                  f"{fmt(s.get('cost_vs_baseline'), 2)}× |" for name, s in b.systems.items()] + [""]
    return lines[:-1]


def fbank_table(benches: list[FbankThroughputRecord]) -> list[str]:
    lines = ["| threads | clips (audio s) | legonn (torch) | kaldi-native-fbank | speed-up | max abs difference | "
             "hardware | commit |", "|---" * 8 + "|"]
    return lines + [f"| {b.threads} | {b.clips} ({fmt(b.audio_seconds)}) | {fmt(b.legonn_audio_s_per_s, 0)} | "
                    f"{fmt(b.kaldi_native_fbank_audio_s_per_s, 0)} | {fmt(b.speed_vs_kaldi_native_fbank, 2)}× | "
                    f"{b.max_abs_difference} | {b.hardware} | {b.commit} |" for b in benches]


def rtf_table(benches: list[TranscribeRtfRecord]) -> list[str]:
    lines = ["| model | manifest | clips (audio s) | threads | beam | real-time factor | hardware | commit |",
             "|---" * 8 + "|"]
    return lines + [f"| {b.model} | {b.manifest} | {b.clips} ({fmt(b.audio_seconds)}) | {b.threads} | {b.beam} | "
                    f"{fmt(b.real_time_factor, 3)} | {b.hardware} | {b.commit} |" for b in benches]


def vs_hf_table(benches: list[VsHfRecord]) -> list[str]:
    """One table per run of benchmarks/vs_hf.py (before and after a change: its commit says which)."""
    lines = []
    for b in benches:
        st = b.settings
        lines += [f"`python benchmarks/vs_hf.py` ({b.precision}, {b.threads} threads, transformers {b.transformers}, "
                  f"{b.hardware}, commit {b.commit}; training: median of {st['rounds']} interleaved rounds × "
                  f"{st['steps']} updates; beam {st['beam']}, batch {st['batch']}, exactly {st['new_tokens']} "
                  f"decoder steps, median of {st['beam_rounds']} rounds):", "",
                  "| system | params | train target tokens/s | train vs HF | beam sentences/s | beam vs HF |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {name} | {fmt(f['params'])} | {fmt(f['train_tokens_per_s'], 0)} | {fmt(f['train_vs_hf'], 2)}× | "
                  f"{fmt(f['beam_sentences_per_s'], 1)} | {fmt(f['beam_vs_hf'], 2)}× |" for name, f in b.systems.items()]
        lego = b.systems.get("lego-wemb", {})
        notes = [f"lego-wemb training costs {fmt(lego.get('train_cost_vs_baseline'), 2)}× the baseline per target token"]
        if b.joint_decoding:
            j = b.joint_decoding
            notes.append(f"joint decoding (λ {j['ctc_weight']}) {fmt(j['beam_sentences_per_s'], 1)} sentences/s, "
                         f"{fmt(j['cost_vs_plain_beam'], 2)}× the cost of plain beam search")
        lines += ["", "; ".join(notes) + ".", ""]
    return lines[:-1]


def decoding_table(records: list[DecodingRecord]) -> list[str]:
    """Per composed system and test set: the decoder alone, the CTC readout, joint decoding at the chosen λ."""
    lines = ["| task | system | test set | metric | decoder alone | CTC readout | joint | λ (chosen on) | "
             "joint − best alone | loops (> 2× ref words) alone → joint | decode s alone → joint |",
             "|---" * 11 + "|"]
    for r in records:
        for name, t in r.test.items():
            loops = t.get("over_twice_reference")
            loop_text = f"{loops['decoder_alone']} → {loops['joint']} of {loops['hypotheses']}" if loops else "–"
            lines.append(f"| {r.task} | {r.system} | {name} | {r.metric.upper()} | {fmt(t['decoder_alone'])} | "
                         f"{fmt(t['ctc_readout'])} | **{fmt(t['joint'])}** | {r.decoding['ctc_weight']} "
                         f"({r.valid_set or r.chosen_on}) | {t['joint_vs_best_alone']:+.2f} | {loop_text} | "
                         f"{t['plain_seconds']} → {t['joint_seconds']} |")
    return lines


def decoding_grid_table(records: list[DecodingRecord]) -> list[str]:
    """Each system's score by λ: on validation where there is one, else on the test set (said so)."""
    grid = sorted({lam for r in records for lam in (r.valid_grid or next(iter(r.test.values())).get("test_grid", {}))},
                  key=float)
    lines = ["| task | system | scored on | " + " | ".join(f"λ {lam}" for lam in grid) + " |", "|---" * (3 + len(grid)) + "|"]
    for r in records:
        scores, where = r.valid_grid, r.valid_set
        if scores is None:
            where, t = next(iter(r.test.items()))
            scores, where = t.get("test_grid", {}), f"{where} (test: no validation set)"
        lines.append(f"| {r.task} | {r.system} | {where} | " + " | ".join(fmt(scores.get(lam)) for lam in grid) + " |")
    return lines


def readme_table(records: list[ResultRecord]) -> list[str]:
    rows = sorted((r for r in records if r.test_set == "test_2016_flickr"), key=_order)
    lines = ["| system | BLEU | CTC-readout BLEU | params | epochs trained |", "|---|---|---|---|---|"]
    return lines + [f"| {r.system}{status(r)} | {fmt(r.bleu)} | {fmt(r.ctc_readout_bleu)} | {fmt(r.params)} | "
                    f"{fmt(r.train_epochs_completed)} |" for r in rows]


def readme_transfer_table(*tasks: str) -> list[str]:
    """Each X→En system on its task's headline test set, beside its baseline."""
    lines = ["| task | system | test set | BLEU | Δ vs baseline | CTC-readout BLEU | modules trained on |",
             "|---|---|---|---|---|---|---|"]
    for task in tasks:
        records = load_results(RESULTS / task, headline_only=True)
        base = next((r.bleu for r in records if r.system == "baseline"), None)
        lines += [f"| {task} | {r.system}{status(r)} | {r.test_set} | {fmt(r.bleu)} | "
                  f"{'–' if base is None or r.system == 'baseline' else f'{r.bleu - base:+.1f}'} | "
                  f"{fmt(r.ctc_readout_bleu)} | {origin(r, seeds=False)} |" for r in sorted(records, key=_order)]
    return lines


def readme_asr_table(records: list[ResultRecord], headline: str) -> list[str]:
    baseline = {r.test_set: r.wer for r in records if r.system == "baseline"}
    lines = ["| system | test set | WER | relative to baseline | CTC-readout WER | modules trained on |",
             "|---|---|---|---|---|---|"]
    return lines + [f"| {r.system}{status(r)} | {r.test_set} | {fmt(r.wer)} | "
                    f"{'–' if r.system == 'baseline' else relative(r.wer, baseline.get(r.test_set))} | "
                    f"{fmt(r.ctc_readout_wer)} | {origin(r, seeds=False)} |"
                    for r in _by_set(records, headline, _asr_order)]


def _results(folder: str) -> list[ResultRecord]:
    return load_results(RESULTS / folder)


def _records(kind, pattern: str) -> list:
    return [kind.from_json(p) for p in sorted(RESULTS.glob(pattern))]


def ctc_compact_table(benches: list[CtcCompactRecord]) -> list[str]:
    """One row per run of benchmarks/ctc_compact.py: cost and training-loss agreement of the two CTC losses."""
    lines = ["| config | updates | ms/update, CTC over all classes | ms/update, CTC on the target labels | ratio | "
             "loss first → last (all classes) | loss first → last (target labels) | largest / mean loss difference | "
             "hardware | commit |", "|---" * 10 + "|"]
    for b in benches:
        full, compact = b.loss["full"], b.loss["compact"]
        lines.append(f"| {b.config} ({b.precision}, {b.threads} threads) | {b.steps} | {fmt(b.ms_per_update['full'], 0)} | "
                     f"{fmt(b.ms_per_update['compact'], 0)} | {fmt(b.compact_vs_full, 3)}× | "
                     f"{fmt(full[0], 3)} → {fmt(full[-1], 3)} | {fmt(compact[0], 3)} → {fmt(compact[-1], 3)} | "
                     f"{b.max_abs_loss_difference:.2g} / {b.mean_abs_loss_difference:.2g} | {b.hardware} | {b.commit} |")
    return lines


# marker name → table; each takes the marker's arguments (results folders, test sets, targets)
TABLES = {
    "translation": lambda folder: translation_table(_results(folder)),
    "bleu-targets": lambda folder, *args: bleu_target_table(_results(folder), *args),
    "ablations": lambda folder, main: ablation_table(_results(folder), _results(main)),
    "swaps": lambda folder: swap_table(_records(SwapRecord, f"{folder}/*.json")),
    "swap-targets": lambda folder, *specs: swap_target_table(_records(SwapRecord, f"{folder}/*.json"), *specs),
    "transfer": lambda task: transfer_table(_results(task)),
    "ingestors": lambda de_en, swaps, *tasks: ingestor_table(ingestor_rows(
        _results(de_en), _records(SwapRecord, f"{swaps}/*.json"), {t: _results(t) for t in tasks})),
    "interface-stats": lambda *tasks: interface_stats_table(InterfaceStatsRecord.from_json(
        RESULTS / "interface-stats.json"), {t: reused_decoder_cost(_results(t)) for t in tasks}),
    "asr": lambda folder: asr_table(_results(folder), headline_test_set(RESULTS / folder)),
    "wer-targets": lambda folder, *args: wer_target_table(_results(folder), *args),
    "train-throughput": lambda: throughput_tables(_records(TrainThroughputRecord, "bench/train_throughput*.json")),
    "fbank-throughput": lambda: fbank_table(_records(FbankThroughputRecord, "bench/fbank_throughput*.json")),
    "transcribe-rtf": lambda: rtf_table(_records(TranscribeRtfRecord, "bench/transcribe_rtf*.json")),
    "vs-hf": lambda: vs_hf_table(_records(VsHfRecord, "bench/vs_hf*.json")),
    "ctc-compact": lambda: ctc_compact_table(_records(CtcCompactRecord, "bench/ctc_compact*.json")),
    "decoding": lambda: decoding_table(_records(DecodingRecord, "decoding/*.json")),
    "decoding-grid": lambda: decoding_grid_table(_records(DecodingRecord, "decoding/*.json")),
    "readme-de-en": lambda folder: readme_table(_results(folder)),
    "readme-transfer": readme_transfer_table,
    "readme-asr": lambda folder: readme_asr_table(_results(folder), headline_test_set(RESULTS / folder)),
}


def main() -> None:
    for page in PAGES:
        changed = fill_file(page, TABLES)
        print(f"{'updated' if changed else 'unchanged'}: {page.relative_to(ROOT)}")


if __name__ == "__main__":
    try:
        main()
    except LegoError as exc:
        raise SystemExit(f"error: {exc}") from None

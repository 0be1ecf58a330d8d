"""Regenerate docs/results.md from the results JSON the recipes and benchmarks wrote.

    python recipes/results_table.py

Every number in the page comes from a file under results/; nothing is typed in by hand. The short
table in README.md (between the `results:start` / `results:end` markers) is rewritten too.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from legonn.bricks import read_card  # noqa: E402
from legonn.config import load_config  # noqa: E402
from legonn.errors import LegoError  # noqa: E402
from legonn.vocab import atomic_write_bytes  # noqa: E402

SYSTEM_ORDER = ["baseline", "lego-wemb", "lego-beamconv", "zero-shot-wemb", "zero-shot-beamconv", "fine-tuned-wemb",
                "fine-tuned-beamconv"]
TRANSFER = {"fr-en": "French→English (Multi30k)", "cs-en": "Czech→English (Multi30k)",
            "ro-en": "Romanian→English (RO-STS; newstest2016)"}


def _is_headline(path: Path) -> bool:
    """<system>.json holds the task's first test set; the recipes write the others as <system>.<test set>.json."""
    return "." not in path.stem


def _load(folder: Path, headline_only: bool = False) -> list[dict]:
    """Every results JSON in folder; headline_only: just the <system>.json files."""
    paths = sorted(p for p in folder.glob("*.json") if not headline_only or _is_headline(p))
    return [json.loads(p.read_text()) for p in paths]


def _budget(r: dict) -> float:
    """The time budget (minutes) of the run's last start; 0 when none, or for results written before it was recorded."""
    return r.get("schedule", {}).get("time_budget_minutes") or 0


@functools.cache
def _config_step_cap(config: str) -> int | None:
    """train.max_steps of a recipe config (parsed once however many rows ask); None where the file is gone or
    has changed since the run beyond what loads, so a run's cap cannot be told apart from its config's."""
    path = ROOT / config
    if not config or not path.is_file():
        return None
    try:
        return load_config(path).train.max_steps
    except LegoError:
        return None


def _step_cap(r: dict) -> int:
    """The update cap a run was given on the command line (`--set train.max_steps=N`, e.g. to match another
    run's updates), or 0 where its config sets the cap itself or there is none."""
    cap = r.get("schedule", {}).get("max_steps") or 0
    own = _config_step_cap(r.get("config", "")) if cap else None
    return 0 if own is None or own == cap else cap


def _status(r: dict) -> str:
    if r.get("training_finished", True):
        cap = _step_cap(r)
        return f" (stopped at {cap:,} updates by a cap set for this run)" if cap else ""
    if not _budget(r):
        return " (training in progress)"
    # the budget of the last start alone would understate a run restarted under several budgets
    minutes = r.get("train_minutes")
    return (f" (stopped by a time budget after {minutes:.0f} min of training)" if minutes
            else " (stopped by a time budget)")


def figure_lines(name: str, alt: str, caption: str) -> list[str]:
    """Markdown lines for docs/figures/<name> with its caption; none while the figure has not been drawn."""
    if not (ROOT / "docs" / "figures" / name).exists():
        return []
    return [f"![{alt}](figures/{name})", "", caption, ""]


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, list):
        return ", ".join(_fmt(v, digits) for v in value) or "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _order(r: dict) -> int:
    return SYSTEM_ORDER.index(r["system"]) if r["system"] in SYSTEM_ORDER else 99


def translation_table(records: list[dict]) -> list[str]:
    rows = sorted(records, key=lambda r: (r["test_set"] != "test_2016_flickr", r["test_set"], _order(r)))
    lines = [
        "| system | test set | BLEU | chrF | CTC-readout BLEU | best val BLEU (greedy) | params | train min | "
        "train tokens/s (median) | steps | precision | seed | commit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        status = _status(r)
        lines.append(
            f"| {r['system']}{status} | {r['test_set']} | **{_fmt(r['bleu'])}** | {_fmt(r['chrf'])} | "
            f"{_fmt(r.get('ctc_readout_bleu'))} | {_fmt(r.get('valid_bleu_greedy'))} | {_fmt(r['params'])} | "
            f"{_fmt(r['train_minutes'])} | {_fmt(r.get('median_window_tokens_per_s') or r['tokens_per_s'], 0)} | {_fmt(r.get('train_steps'))} | "
            f"{r.get('precision', '–')} | {r['seed']} | {r['commit']} |"
        )
    return lines


def _origin(record: dict, seeds: bool) -> str:
    """What a system's modules were trained on: its task, or the bricks it was composed from and,
    for a fine-tuned composition, the task it was then trained on."""
    def name(task, seed):
        return f"{task} (seed {seed})" if seeds else task
    if "bricks" not in record:
        return name(record["task"], record["seed"])
    bricks = " + ".join(name(b.get("task", "?"), b.get("seed", "?")) for b in record["bricks"])
    return f"{bricks}, then {name(record['task'], record['seed'])}" if record.get("train_steps") else bricks


def transfer_table(records: list[dict]) -> list[str]:
    """One task of issue #3: every system beside the X→En baseline on the same test set."""
    baseline = {r["test_set"]: r["bleu"] for r in records if r["system"] == "baseline"}
    first = records[0]["test_set"] if records else ""
    rows = sorted(records, key=lambda r: (r["test_set"] != first, r["test_set"], _order(r)))
    lines = ["| system | test set | BLEU | Δ vs baseline | chrF | CTC-readout BLEU | modules trained on | "
             "updates | params | commit |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = baseline.get(r["test_set"])
        delta = "–" if base is None or r["system"] == "baseline" else f"{r['bleu'] - base:+.1f}"
        origin = _origin(r, seeds=True)
        status = _status(r)
        lines.append(f"| {r['system']}{status} | {r['test_set']} | **{_fmt(r['bleu'])}** | {delta} | {_fmt(r['chrf'])} | "
                     f"{_fmt(r.get('ctc_readout_bleu'))} | {origin} | {_fmt(r.get('train_steps'))} | "
                     f"{_fmt(r['params'])} | {r['commit']} |")
    return lines


def decoder_card_metrics() -> dict[Path, dict]:
    """The metrics each shipped De→En decoder brick's card records, by card path (read once per page)."""
    return {card: read_card(card).get("metrics", {})
            for card in sorted((ROOT / "models").glob("de-en-*/de-en.decoder.json"))}


def shipped_decoders(cards: dict[Path, dict]) -> str:
    """What the zero-shot rows compose with: the De→En decoder bricks in models/, each with the scores its
    card carries from the run it was exported from (not necessarily the run in the Multi30k table)."""
    parts = []
    for card_path, m in cards.items():
        bleu = m.get("test_2016_flickr_bleu")
        score = f"{bleu:.2f} BLEU on test_2016_flickr" if bleu is not None else "no score"
        steps = f", best checkpoint at update {m['train_steps']:,}" if "train_steps" in m else ""
        parts.append(f"`{card_path.parent.relative_to(ROOT)}/` ({score}{steps})")
    if not parts:
        return "the De→En decoder of the Multi30k section"
    noun = "brick" if len(parts) == 1 else "bricks"
    return (f"the shipped De→En decoder {noun} — " + ", ".join(parts) + " — exported from an earlier run of "
            "`recipes/multi30k/run.py` whose scores the card records")


# each issue's BLEU targets as (system, what it must reach, least BLEU relative to the baseline)
DE_EN_TARGETS = [("lego-wemb", "within 1.0 BLEU of the baseline", -1.0),
                 ("lego-beamconv", "within 1.5 BLEU of the baseline", -1.5)]
TRANSFER_TARGETS = [(f"{kind}-{ingestor}", requirement, least)
                    for kind, requirement, least in (("zero-shot", "≥ the baseline", 0.0),
                                                     ("fine-tuned", "≥ the baseline + 1.5 BLEU", 1.5))
                    for ingestor in ("wemb", "beamconv")]


def _decoder_gain(records: list[dict]) -> str:
    """How far each LegoNN decoder gets beyond its encoder's CTC readout on test_2016_flickr."""
    gains = [f"{r['bleu'] - r['ctc_readout_bleu'][0]:+.1f} BLEU ({r['system']})" for r in sorted(records, key=_order)
             if r["test_set"] == "test_2016_flickr" and r.get("ctc_readout_bleu")]
    return ", ".join(gains) or "an unmeasured amount"


def _one_side(name: str, r: dict) -> str:
    """'BeamConv 46.4 (training in progress) after 2,070 updates, +3.4 over its readout'."""
    readout = r.get("ctc_readout_bleu")
    gain = f", {r['bleu'] - readout[0]:+.1f} over its readout" if readout else ""
    updates = f" after {r['train_steps']:,} updates" if r.get("train_steps") else ""
    return f"{name} {r['bleu']:.1f}{_status(r)}{updates}{gain}"


def ingestor_comparison(records: list[dict], test_set: str) -> str:
    """Which ingestor wins where (issue #3): WEmb against BeamConv for each kind of system that has both on
    test_set, with what the decoder adds over its encoder's own CTC readout; '' when no kind has both."""
    scores = {r["system"]: r for r in records if r["test_set"] == test_set}
    parts = []
    for kind, label in (("lego", "own decoder"), ("zero-shot", "zero-shot"), ("fine-tuned", "fine-tuned")):
        wemb, beamconv = scores.get(f"{kind}-wemb"), scores.get(f"{kind}-beamconv")
        if not (wemb and beamconv):
            continue
        gap = beamconv["bleu"] - wemb["bleu"]
        winner = "a tie" if abs(gap) < 0.05 else f"{'BeamConv' if gap > 0 else 'WEmb'} wins by {abs(gap):.1f}"
        parts.append(f"{label}: {_one_side('WEmb', wemb)}; {_one_side('BeamConv', beamconv)}; {winner}")
    if not parts:
        return ""
    return (f"WEmb against BeamConv on {test_set} (BLEU; a zero-shot system reads the encoder of the own-decoder "
            "system) — " + " · ".join(parts) + ".")


def gap_decomposition(records: list[dict], test_set: str) -> str:
    """Each zero-shot system's distance to the baseline split in two: what modularity costs (own decoder −
    baseline) and what reusing a decoder never trained with this encoder costs (zero-shot − own decoder)."""
    scores = {r["system"]: r["bleu"] for r in records if r["test_set"] == test_set}
    if "baseline" not in scores:
        return ""
    parts = []
    for ingestor in ("wemb", "beamconv"):
        own, zero = scores.get(f"lego-{ingestor}"), scores.get(f"zero-shot-{ingestor}")
        if own is None or zero is None:
            continue
        parts.append(f"zero-shot-{ingestor} {zero - scores['baseline']:+.1f} = {own - scores['baseline']:+.1f} "
                     f"for modularity (lego-{ingestor} against the baseline) {zero - own:+.1f} for the reused "
                     f"decoder (zero-shot-{ingestor} against lego-{ingestor})")
    if not parts:
        return ""
    reading = DECODER_DATA.get(records[0].get("task", ""), "")
    return f"Where the zero-shot distance to the baseline on {test_set} comes from: " + "; ".join(parts) + ". " + reading


# why the reused decoder has little to bring to each task (our reading of the data sizes, not a measurement)
_PAPER = "The paper's zero-shot gain came from a decoder trained on WMT-sized data reused for a smaller task; "
_SAME_CAPTIONS = _PAPER + ("here the De→En decoder saw the same 29k Multi30k English captions as this task's own "
                           "decoder, so it has no extra English to bring (our reading, not a measurement).")
DECODER_DATA = {
    "fr-en": _SAME_CAPTIONS,
    "cs-en": _SAME_CAPTIONS,
    "ro-en": _PAPER + "here the De→En decoder saw 29k Multi30k image captions: more English than RO-STS's 11.5k "
                      "pairs, but of another domain (our reading, not a measurement).",
}


def _schedule(records: list[dict]) -> str:
    """A sentence on the learning-rate schedules the runs used, from their results JSON."""
    keys = ("max_epochs", "warmup_steps", "lr", "patience")
    schedules = sorted({(r["schedule"].get("lr_schedule", "inverse_sqrt"), *(r["schedule"][k] for k in keys))
                        for r in records if all(k in r.get("schedule", {}) for k in keys)})
    shape = {"linear": "then falls in a straight line to 0 at the last update, so a run that ends its schedule "
                       "has converged to it",
             "inverse_sqrt": "then decays as 1/√step without end (the run stops at its epoch limit or patience)"}
    return "".join(f" Schedule (`train.lr_schedule: {name}`): {epochs} epochs; the learning rate warms up over "
                   f"{warmup:,} updates to {lr:g}, {shape[name]}; "
                   + ("no early stopping" if not patience else f"patience {patience} epochs") + "."
                   for name, epochs, warmup, lr, patience in schedules)


def _unfinished(records: list[dict]) -> str:
    """A sentence naming the systems scored before their training ended, and how far they got."""
    runs = sorted({(r["system"], r.get("train_epochs_completed"), r.get("precision"), _budget(r)) for r in records
                   if not r.get("training_finished", True)})
    return "".join(f" {system} was scored after {epochs} epochs, before its config's end ({precision} training"
                   + (f"; its last start ran under a {budget:g}-minute time budget" if budget else "") + ")."
                   for system, epochs, precision, budget in runs)


def target_table(records: list[dict], test_set: str, targets: list[tuple[str, str, float]], issue: str,
                 baseline_at_least: float | None = None) -> list[str]:
    """The issue's targets checked against the results on test_set: the measured margin and met/missed.
    A target whose system has no result yet is listed as not measured."""
    scores = {r["system"]: r for r in records if r["test_set"] == test_set}
    if "baseline" not in scores:
        return []
    base = scores["baseline"]["bleu"]
    lines = [f"| target (issue {issue}, {test_set}; baseline {base:.2f}{_status(scores['baseline'])}) | measured | "
             "verdict |", "|---|---|---|"]
    if baseline_at_least is not None:
        verdict = "met" if base >= baseline_at_least else f"missed by {baseline_at_least - base:.2f}"
        lines.append(f"| baseline ≥ {baseline_at_least} BLEU | {base:.2f} | {verdict} |")
    def judge(r: dict, least: float) -> tuple[str, str]:
        delta = r["bleu"] - base
        return f"{r['bleu']:.2f} ({delta:+.2f})", "met" if delta >= least else f"missed by {least - delta:.2f}"

    return lines + _target_rows(scores, targets, judge)


def _target_rows(scores: dict[str, dict], targets: list[tuple[str, str, float]], judge) -> list[str]:
    """One row per (system, requirement, bound): `judge(record, bound)` → (measured, verdict); a system
    with no result yet is listed as not measured."""
    rows = []
    for system, requirement, bound in targets:
        r = scores.get(system)
        if r is None:
            rows.append(f"| {system} {requirement} | not measured | – |")
            continue
        measured, verdict = judge(r, bound)
        rows.append(f"| {system}{_status(r)} {requirement} | {measured} | {verdict} |")
    return rows


def config_changes(config: str) -> tuple[str, list[str]]:
    """What an ablation's config (a path in the repository) starts from and the settings it changes,
    read from the file itself: ('lego-wemb', ['`model.encoder.layers: 4`'])."""
    values = yaml.safe_load((ROOT / config).read_text())
    start = Path(values.get("include", "?")).stem
    def leaves(group: dict, where: str):  # nested sections as dotted keys: model.encoder.layers
        for key, value in group.items():
            yield from leaves(value, f"{where}.{key}") if isinstance(value, dict) else [(f"{where}.{key}", value)]

    changes = [f"`{key}: {value}`" for section, group in values.items() if isinstance(group, dict)
               for key, value in leaves(group, section)]
    return start, changes


def _ablations_on(ablations: list[dict], test_set: str) -> list[tuple[dict, str, list[str]]]:
    """(record, the system its config starts from, the settings it changes) for each ablation scored on
    test_set, by name; the table and the reading share it, so they list the same ablations in one order."""
    return [(r, *config_changes(r["config"]))
            for r in sorted((a for a in ablations if a["test_set"] == test_set), key=lambda a: a["system"])]


def ablation_table(ablations: list[dict], records: list[dict], test_set: str = "test_2016_flickr") -> list[str]:
    """Each ablation beside the system its config starts from and the baseline, on test_set."""
    scores = {r["system"]: r for r in records if r["test_set"] == test_set}
    lines = ["| ablation | starts from | changes | BLEU | Δ vs its start | Δ vs baseline | CTC-readout BLEU "
             "(Δ vs its start) | params | train min | steps | hardware | commit |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r, start, changes in _ablations_on(ablations, test_set):
        ref, base = scores.get(start), scores.get("baseline")
        def delta(other, key="bleu"):
            if other is None or not r.get(key) or not other.get(key):
                return "–"
            ours, theirs = (v[0] if isinstance(v, list) else v for v in (r[key], other[key]))
            return f"{ours - theirs:+.2f}"
        lines.append(f"| {r['system']}{_status(r)} | {start} | {', '.join(changes)} | **{_fmt(r['bleu'], 2)}** | "
                     f"{delta(ref)} | {delta(base)} | {_fmt(r.get('ctc_readout_bleu'), 2)} "
                     f"({delta(ref, 'ctc_readout_bleu')}) | {_fmt(r['params'])} | {_fmt(r['train_minutes'])} | "
                     f"{_fmt(r.get('train_steps'))} | {r.get('hardware', '–')} | {r['commit']} |")
    return lines


def ablation_reading(ablations: list[dict], records: list[dict], headline: str = "test_2016_flickr") -> list[str]:
    """One sentence per ablation: how much of its start's gap to the baseline it closes on the headline set,
    what that costs in parameters, and its gain on every other set both were scored on."""
    scores = {(r["system"], r["test_set"]): r for r in records}
    sentences = []
    for r, start, _ in _ablations_on(ablations, headline):
        ref, base = scores.get((start, headline)), scores.get(("baseline", headline))
        if ref is None or base is None:
            continue
        gap, gain = base["bleu"] - ref["bleu"], r["bleu"] - ref["bleu"]
        closed = f", {100 * gain / gap:.0f} % of the {gap:.2f}-BLEU gap from {start} to the baseline" if gap > 0 else ""
        others = [f"{a['test_set']} {a['bleu'] - scores[(start, a['test_set'])]['bleu']:+.2f}"
                  for a in sorted(ablations, key=lambda a: a["test_set"])
                  if a["system"] == r["system"] and a["test_set"] != headline and (start, a["test_set"]) in scores]
        extra = r["params"] - ref["params"]
        sentences.append(
            f"{r['system']} gains {gain:+.2f} BLEU over {start} on {headline}{closed}, with {extra:,} more "
            f"parameters ({100 * extra / ref['params']:+.0f} %; {r['params'] - base['params']:+,} against the "
            f"baseline, so no longer a matched-size comparison)"
            + (f"; on the other sets: {', '.join(others)}" if others else "") + ". One seed per system.")
    return sentences


def swap_table(records: list[dict]) -> list[str]:
    lines = ["| models swapped | schedule | enc₁+dec₁ | enc₂+dec₂ | enc₁+dec₂ | enc₂+dec₁ | BLEU lost | train min | "
             "commit |", "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        s = {k: _fmt(v["bleu"]) for k, v in r["scores"].items()}
        schedule = f"{r['epochs']} epochs, warm-up {r['warmup_steps']:,}" if "epochs" in r else "as configured"
        lines.append(f"| {r['pair']} (seeds {r['seeds'][0]}, {r['seeds'][1]}) | {schedule} | {s['enc1+dec1']} | "
                     f"{s['enc2+dec2']} | {s['enc1+dec2']} | {s['enc2+dec1']} | **{_fmt(r['bleu_lost'], 2)}** | "
                     f"{' + '.join(_fmt(m) for m in r.get('train_minutes', [])) or '–'} | {r['commit']} |")
    return lines


SWAP_TARGETS = [("lego-wemb", "swapped loses ≤ 1.0 BLEU", 1.0), ("lego-beamconv", "swapped loses ≤ 1.0 BLEU", 1.0)]
SWAP_CONTRASTS = {"baseline": "the monolithic baselines", "lego-wemb-noctc": "the LegoNN models trained without the CTC loss"}


def swap_target_table(records: list[dict]) -> list[str]:
    """Issue #3's swap target for each LegoNN pair: measured BLEU lost against the bound."""
    def judge(r: dict, most: float) -> tuple[str, str]:
        lost = r["bleu_lost"]
        return f"{lost:.2f} lost", "met" if lost <= most else f"missed by {lost - most:.2f}"

    pairs = {r["pair"]: {**r, "system": r["pair"]} for r in records}
    return ["| target (issue #3, test_2016_flickr) | measured | verdict |", "|---|---|---|"] + \
        _target_rows(pairs, SWAP_TARGETS, judge)


def swap_reading(records: list[dict]) -> str:
    """One sentence: what swapping costs each ingestor (and which loses less), then what it costs the
    models without the CTC-grounded interface."""
    pairs = {r["pair"]: r for r in records}
    parts = []
    lego = [(name, pairs[name]["bleu_lost"]) for name in ("lego-wemb", "lego-beamconv") if name in pairs]
    if lego:
        parts.append("swapping costs " + " and ".join(f"{name} {lost:.2f} BLEU" for name, lost in lego))
        if len(lego) == 2 and lego[0][1] != lego[1][1]:
            parts[-1] += f" ({min(lego, key=lambda x: x[1])[0]} loses less)"
    for name, who in SWAP_CONTRASTS.items():
        if name in pairs:
            r = pairs[name]
            share = f", {100 * r['bleu_lost'] / r['mean_trained_bleu']:.0f} % of it" if r["mean_trained_bleu"] else ""
            parts.append(f"{who} lose {r['bleu_lost']:.2f} (as trained {r['mean_trained_bleu']:.1f}, "
                         f"swapped {r['mean_swapped_bleu']:.1f}{share})")
            with_ctc = pairs.get("lego-wemb", {}).get("mean_trained_bleu")
            if name == "lego-wemb-noctc" and with_ctc and r["mean_trained_bleu"] < with_ctc:  # CTC also helps training
                parts[-1] += (f", and train to less BLEU than with it ({r['mean_trained_bleu']:.1f} against "
                              f"{with_ctc:.1f} as trained)")
    return ("On test_2016_flickr " + "; ".join(parts) + ". One pair of seeds per system.") if parts else ""


def _trained_alike(wemb: dict, beamconv: dict) -> bool:
    """Whether two own-decoder systems trained as far as each other: both to their config's end, or for the
    same number of updates (a run stopped early is not a fair opponent for a finished one)."""
    finished = all(r.get("training_finished", True) and not _step_cap(r) for r in (wemb, beamconv))
    return finished or wemb.get("train_steps") == beamconv.get("train_steps")


def ingestor_rows(multi30k: list[dict], swaps: list[dict], transfer: dict[str, list[dict]]) -> list[dict]:
    """Every setting measured with both ingestors (issue #3: say which wins where), as dicts with where,
    measure, wemb, beamconv, winner (None for a tie), margin, kind ('within' one model's own training or
    'across' modules trained apart) and alike (whether the two sides trained as far as each other)."""
    rows = []

    def add(where: str, measure: str, wemb: float, beamconv: float, kind: str, alike: bool, lower_wins=False):
        gap = (wemb - beamconv) * (-1 if lower_wins else 1)
        winner = None if abs(gap) < 0.05 else ("WEmb" if gap > 0 else "BeamConv")
        rows.append({"where": where, "measure": measure, "wemb": wemb, "beamconv": beamconv, "winner": winner,
                     "margin": abs(gap), "kind": kind, "alike": alike})

    de_en = {r["system"]: r for r in multi30k if r["test_set"] == "test_2016_flickr"}
    if "lego-wemb" in de_en and "lego-beamconv" in de_en:
        add("de-en, own decoder (test_2016_flickr)", "BLEU", de_en["lego-wemb"]["bleu"],
            de_en["lego-beamconv"]["bleu"], "within", _trained_alike(de_en["lego-wemb"], de_en["lego-beamconv"]))
    pairs = {r["pair"]: r for r in swaps}
    if "lego-wemb" in pairs and "lego-beamconv" in pairs:
        add("de-en, decoders swapped between seeds (test_2016_flickr)", "BLEU lost", pairs["lego-wemb"]["bleu_lost"],
            pairs["lego-beamconv"]["bleu_lost"], "across",
            pairs["lego-wemb"].get("epochs") == pairs["lego-beamconv"].get("epochs"), lower_wins=True)
    for task, records in transfer.items():
        headline = records[0]["test_set"]
        scores = {r["system"]: r for r in records if r["test_set"] == headline}
        own = (scores.get("lego-wemb"), scores.get("lego-beamconv"))
        alike = all(own) and _trained_alike(*own)  # zero-shot and fine-tuned systems start from these encoders
        for kind, label, within in (("lego", "own decoder", "within"), ("zero-shot", "zero-shot", "across"),
                                    ("fine-tuned", "fine-tuned", "across")):
            wemb, beamconv = scores.get(f"{kind}-wemb"), scores.get(f"{kind}-beamconv")
            if wemb and beamconv:
                add(f"{task}, {label} ({headline})", "BLEU", wemb["bleu"], beamconv["bleu"], within, alike)
    return rows


def ingestor_table(rows: list[dict]) -> list[str]:
    lines = ["| setting | measure | WEmb | BeamConv | wins | trained alike |", "|---|---|---|---|---|---|"]
    for r in rows:
        wins = f"{r['winner']} by {r['margin']:.2f}" if r["winner"] else "tie"
        lines.append(f"| {r['where']} | {r['measure']} | {r['wemb']:.2f} | {r['beamconv']:.2f} | {wins} | "
                     f"{'yes' if r['alike'] else 'no'} |")
    return lines


def ingestor_reading(rows: list[dict]) -> str:
    """Tally the fair comparisons (both sides trained alike) within one model and across modules."""
    parts = []
    for kind, label in (("within", "within one model (own decoder)"),
                        ("across", "across modules trained apart (zero-shot, fine-tuned compositions, swaps)")):
        fair = [r for r in rows if r["kind"] == kind and r["alike"]]
        if not fair:
            continue
        tally = {name: sum(r["winner"] == name for r in fair) for name in ("WEmb", "BeamConv")}
        ties = len(fair) - sum(tally.values())
        mean = sum((r["margin"] if r["winner"] == "WEmb" else -r["margin"] if r["winner"] else 0.0)
                   for r in fair) / len(fair)
        parts.append(f"{label}: WEmb wins {tally['WEmb']}, BeamConv {tally['BeamConv']}"
                     + (f", {ties} tied" if ties else "") + f" of {len(fair)}, mean margin WEmb − BeamConv {mean:+.2f}")
    unfair = len([r for r in rows if not r["alike"]])
    if not parts:
        return ""
    return ("Counting only settings whose two sides trained alike — " + "; ".join(parts) + "."
            + (f" {unfair} setting(s) compare runs stopped at different points and are left out of the count."
               if unfair else "")
            + " (A margin is in BLEU, counted so that a positive one favours WEmb also where less BLEU lost wins.)"
            + " The paper reports WEmb as the more robust across tasks and domains and BeamConv as the better "
              "within one; margins under about 0.5 BLEU are within what one seed per system can tell apart.")


def reused_decoder_cost(records: list[dict]) -> str:
    """zero-shot-wemb − lego-wemb on a transfer task's headline test set (its first record's), formatted;
    '–' where either is missing."""
    headline = records[0]["test_set"]
    scores = {r["system"]: r["bleu"] for r in records if r["test_set"] == headline}
    if "zero-shot-wemb" not in scores or "lego-wemb" not in scores:
        return "–"
    return f"{scores['zero-shot-wemb'] - scores['lego-wemb']:+.1f} on {headline}"


def interface_stats_table(record: dict, costs: dict[str, str]) -> list[str]:
    """One row per encoder of results/interface-stats.json, with its task's reused-decoder cost (costs:
    task → reused_decoder_cost; the De→En rows, the decoder's own kind, have none)."""
    lines = ["| encoder (data) | sentences | K/\\|y\\| (p5–p95) | blank % | repeat % | entropy (nats) | top-1 p | "
             "zero-shot − own decoder (BLEU) |", "|---|---|---|---|---|---|---|---|"]
    for r in record["rows"]:
        cost = costs.get(r["encoder"].split()[0], "–")
        lines.append(f"| {r['encoder']} (`{r['src']}`) | {r['sentences']:,} | {r['positions_per_target_token']:.2f} "
                     f"({r['positions_per_target_token_p5']:.2f}–{r['positions_per_target_token_p95']:.2f}) | "
                     f"{100 * r['blank_share']:.1f} | {100 * r['repeat_share']:.1f} | {r['entropy_nats']:.2f} | "
                     f"{r['top1_probability']:.2f} | {cost} |")
    return lines


def interface_stats_reading(record: dict, costs: dict[str, str]) -> str:
    """How far each new encoder's blank share is from the De→En encoders', beside what reusing the decoder
    costs it; '' without both kinds of row."""
    de = [r["blank_share"] for r in record["rows"] if r["encoder"].startswith("de-en")]
    others = [r for r in record["rows"] if not r["encoder"].startswith("de-en")]
    if not de or not others:
        return ""
    reference = sum(de) / len(de)
    parts = [f"{r['encoder'].split()[0]} {100 * (r['blank_share'] - reference):+.1f} points (reused decoder: "
             f"{costs.get(r['encoder'].split()[0], '–')})" for r in others]
    return (f"Blank share against the De→En encoders' {100 * reference:.1f} %: " + ", ".join(parts) + ". "
            f"{len(others)} languages are too few to call the interface's style the cause; they say where to look.")


# issue #4's WER targets as (system, what it must reach, most WER as a fraction of the baseline's)
ASR_TARGETS = [("zero-shot-wemb", "WER ≤ the baseline's", 1.0), ("zero-shot-beamconv", "WER ≤ the baseline's", 1.0),
               ("fine-tuned-wemb", "≥ 12.5 % relative WER reduction", 0.875),
               ("fine-tuned-beamconv", "≥ 12.5 % relative WER reduction", 0.875),
               ("three-module-fine-tuned", "≥ 19.5 % relative WER reduction", 0.805)]
# the second yardstick (recipes/asr/baseline-ctc.yaml): the plain baseline with an auxiliary encoder CTC loss
STRONGER_BASELINE = "baseline-ctc"
ASR_ORDER = ["baseline", STRONGER_BASELINE] + SYSTEM_ORDER[1:] + ["three-module-zero-shot", "three-module-fine-tuned"]
UNTRAINED_WER = 80  # above it on every system, the results section says no model has learned to transcribe


def asr_results() -> tuple[list[dict], str]:
    """Every results/asr-en record, and the headline test set (that of the <system>.json files), in one read."""
    paths = sorted((ROOT / "results" / "asr-en").glob("*.json"))
    records = [json.loads(p.read_text()) for p in paths]
    return records, next((r["test_set"] for p, r in zip(paths, records) if _is_headline(p)), "")


def none_transcribes(records: list[dict]) -> bool:
    return all(r["wer"] > UNTRAINED_WER for r in records)


def _relative(wer: float, base: float | None) -> str:
    return "–" if not base else f"{100 * (wer - base) / base:+.1f} %"


def asr_order(headline: str):
    """Sort key: the headline test set first, then the others; within one, the systems in ASR_ORDER."""
    rank = {name: i for i, name in enumerate(ASR_ORDER)}
    return lambda r: (r["test_set"] != headline, r["test_set"], rank.get(r["system"], 99))


def asr_table(records: list[dict], headline: str) -> list[str]:
    """Issue #4: every ASR system beside the baseline on the same test set (WER: lower is better)."""
    baseline = {r["test_set"]: r["wer"] for r in records if r["system"] == "baseline"}
    lines = ["| system | test set | WER % | relative to baseline | CTC-readout WER % | modules trained on | "
             "training clips | epochs | updates | real-time factor | params | commit |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(records, key=asr_order(headline)):
        delta = "–" if r["system"] == "baseline" else _relative(r["wer"], baseline.get(r["test_set"]))
        lines.append(f"| {r['system']}{_status(r)} | {r['test_set']} | **{_fmt(r['wer'])}** | {delta} | "
                     f"{_fmt(r.get('ctc_readout_wer'))} | {_origin(r, seeds=True)} | "
                     f"{_fmt(r.get('train_utterances'))} | {_fmt(r.get('train_epochs_completed'))} | "
                     f"{_fmt(r.get('train_steps'))} | "
                     f"{_fmt(r.get('real_time_factor'), 3)} | {_fmt(r['params'])} | {r['commit']} |")
    return lines


def asr_target_table(records: list[dict], test_set: str, yardstick: str = "baseline") -> list[str]:
    """Issue #4's targets on test_set: WER against the yardstick's (the issue's plain baseline, or
    STRONGER_BASELINE), met or missed by how much; nothing when the yardstick has no result there."""
    scores = {r["system"]: r for r in records if r["test_set"] == test_set}
    if yardstick not in scores:
        return []
    base = scores[yardstick]["wer"]
    lines = [f"| target (issue #4, {test_set}; {yardstick} WER {base:.2f}{_status(scores[yardstick])}) | measured | "
             "verdict |", "|---|---|---|"]
    def judge(r: dict, most: float) -> tuple[str, str]:
        verdict = "met" if r["wer"] <= most * base else f"missed by {r['wer'] - most * base:.2f} WER points"
        return f"{r['wer']:.2f} ({_relative(r['wer'], base)})", verdict

    return lines + _target_rows(scores, ASR_TARGETS, judge)


def stronger_baseline_targets(records: list[dict], test_set: str) -> list[str]:
    """The targets again against STRONGER_BASELINE, introduced by what it is; nothing before it is scored."""
    table = asr_target_table(records, test_set, STRONGER_BASELINE)
    if not table:
        return []
    ctc = next(r for r in records if r["system"] == STRONGER_BASELINE and r["test_set"] == test_set)
    plain = next((r for r in records if r["system"] == "baseline" and r["test_set"] == test_set), {})
    return [f"The same targets against *{STRONGER_BASELINE}*: the baseline trained as the joint CTC/attention model "
            "usual in speech recognition (`recipes/asr/baseline-ctc.yaml`: an auxiliary CTC loss on its encoder, the "
            f"plain baseline's sizes, {_fmt(ctc.get('train_steps'))} updates against its "
            f"{_fmt(plain.get('train_steps'))}). Its decoder still reads the encoder's hidden states, so it has no "
            "interface and nothing in it can be swapped. The issue names the plain baseline; this is the yardstick "
            "a speech reader would expect.", "", *table, ""]


def early_baseline_caveat(records: list[dict], test_set: str) -> list[str]:
    """When model selection kept an early baseline checkpoint, a verdict against it says little: say so."""
    base = next((r for r in records if r["system"] == "baseline" and r["test_set"] == test_set), None)
    if not base or base.get("best_epoch") is None or not base.get("train_epochs_completed"):
        return []
    if base["best_epoch"] * 4 > base["train_epochs_completed"]:
        return []
    return [f"Read the verdicts with care: the baseline scored here is its epoch-{base['best_epoch']} checkpoint of "
            f"{base['train_epochs_completed']} epochs, the one with the lowest greedy validation WER "
            f"({_fmt(base.get('valid_wer_greedy'))} %). Every later checkpoint scored worse there (an undertrained "
            "attention decoder's greedy output loops, which costs more WER than short, caption-like guesses), so "
            "the verdicts may compare with a baseline that has not learned to transcribe rather than with a "
            "trained one; its training curve is in results/asr-en/baseline.metrics.jsonl.", ""]


def throughput_section(bench: dict) -> list[str]:
    native = {True: ", native bf16", False: ", no native bf16"}.get(bench.get("native_bf16"), "")
    lines = [
        f"`python benchmarks/train_throughput.py` ({bench['precision']}, {bench['threads']} threads, "
        f"{bench.get('allocator', 'system malloc')}, {bench['hardware']}{native}, commit {bench['commit']}):",
        "",
        "| config | params | target tokens/s | cost per target token vs baseline |",
        "|---|---|---|---|",
    ]
    for name, fig in bench["systems"].items():
        lines.append(f"| {name} | {_fmt(fig['params'])} | {_fmt(fig['tokens_per_s'], 0)} | "
                     f"{_fmt(fig.get('cost_vs_baseline'), 2)}× |")
    return lines


def bench_section(prefix: str, heading: str, intro: str, table) -> list[str]:
    """A results.md section for every results/bench/<prefix>*.json a benchmark wrote; nothing when none did."""
    paths = sorted((ROOT / "results" / "bench").glob(f"{prefix}*.json"))
    if not paths:
        return []
    return [f"## {heading}", "", intro, "", *table([json.loads(path.read_text()) for path in paths]), ""]


def rtf_table(benches: list[dict]) -> list[str]:
    """One row per run of benchmarks/transcribe_rtf.py."""
    lines = ["| model | manifest | clips (audio s) | threads | beam | real-time factor | hardware | commit |",
             "|---|---|---|---|---|---|---|---|"]
    for b in benches:
        lines.append(f"| {b['model']} | {b['manifest']} | {b['clips']} ({_fmt(b['audio_seconds'])}) | "
                     f"{b['threads']} | {b['beam']} | {_fmt(b['real_time_factor'], 3)} | {b['hardware']} | "
                     f"{b['commit']} |")
    return lines


def fbank_table(benches: list[dict]) -> list[str]:
    """One row per run of benchmarks/fbank_throughput.py."""
    lines = ["| threads | clips (audio s) | legonn (torch) | kaldi-native-fbank | speed-up | max abs difference | "
             "hardware | commit |", "|---|---|---|---|---|---|---|---|"]
    for b in benches:
        lines.append(f"| {b['threads']} | {b['clips']} ({_fmt(b['audio_seconds'])}) | "
                     f"{_fmt(b['legonn_audio_s_per_s'], 0)} | {_fmt(b['kaldi_native_fbank_audio_s_per_s'], 0)} | "
                     f"{_fmt(b['speed_vs_kaldi_native_fbank'], 2)}× | {b['max_abs_difference']} | {b['hardware']} | "
                     f"{b['commit']} |")
    return lines


def main() -> None:
    out = ["# Results", "",
           "Generated by `python recipes/results_table.py` from `results/**/*.json`; every figure comes from a "
           "command in this repository (named in each section) run on a 2-core CPU machine. BLEU is sacreBLEU "
           "on detokenized, cased output (signature below); the CTC-readout BLEU is what the LegoNN encoder "
           "alone translates: CTC greedy decoding of its interface marginals, no decoder.", ""]
    multi30k = _load(ROOT / "results" / "multi30k")
    cards = decoder_card_metrics()
    decoders = shipped_decoders(cards)  # what every zero-shot section composes with
    if multi30k:
        out += ["## Multi30k German→English", "",
                "`python recipes/multi30k/run.py` (configs in `recipes/multi30k/`; training on the 29k real "
                "pairs, model selection on val by greedy BLEU, beam 5 at test time, seed 1). *precision* is the "
                "arithmetic of training: `train.precision: auto` trains in bf16 autocast on a CPU with native bf16 "
                "and in fp32 on one without (where emulated bf16 is 2–3× slower), so it also tells which kind of "
                "machine a run trained on. "
                "*train min* is the wall time of the training steps so far (validation excluded); anything else "
                "running on the machine at the time adds to it. *train tokens/s (median)* is the median of "
                "the per-50-update throughput the trainer logged; the clean speed figures are in the throughput "
                "section. A system marked *training in progress* or *stopped by a time budget* "
                "(`train.time_budget_minutes`: the run ends, resumable, when one more epoch would overrun it) is "
                f"scored at its best checkpoint so far.{_schedule(multi30k)}", ""]
        out += translation_table(multi30k) + [""]
        out += target_table(multi30k, "test_2016_flickr", DE_EN_TARGETS, "#2", baseline_at_least=33.0) + [""]
        ablations = _load(ROOT / "results" / "multi30k-ablation")
        tested = "; the ablations below test the second" if ablations else ", not yet tested by an ablation"
        out += [f"Why LegoNN falls short of the baseline here, as far as we can tell (hypotheses{tested}): the "
                "decoder reads only marginals over the 4k-piece English vocabulary, so "
                "whatever the encoder does not put into that distribution is lost to it (the decoder ends "
                f"{_decoder_gain(multi30k)} over the encoder's own CTC readout); at matched size the LegoNN "
                "encoder has 3 layers before its interface where the baseline's encoder has 6; and the CTC loss (λ = 1) competes "
                "with the translation loss in an ~11M-parameter model trained on 29k pairs. The paper's "
                f"near-parity is for WMT-sized data and models.{_unfinished(multi30k)}"]
        hardware = sorted({r["hardware"] for r in multi30k if r.get("hardware")})
        out += ["", f"Signature: `{multi30k[0]['signature']}`. Hardware: {'; '.join(hardware) or '–'}.", ""]
        out += figure_lines("multi30k-curves.png", "training curves",
                            "Training loss and greedy validation BLEU of the three runs in the table, from the "
                            "metrics logs the recipe keeps beside their results (`legonn curves "
                            "results/multi30k/baseline.metrics.jsonl results/multi30k/lego-wemb.metrics.jsonl "
                            "results/multi30k/lego-beamconv.metrics.jsonl -o docs/figures/multi30k-curves.png`).")
        if ablations:
            out += ["### Ablations", "",
                    "`python recipes/multi30k/run.py --systems NAME` (configs `recipes/multi30k/NAME.yaml`, each "
                    "the config it starts from with the settings shown changed; seed 1, beam 5, test_2016_flickr). "
                    "*train min* depends on the CPU (see *hardware*).", ""]
            out += ablation_table(ablations, multi30k) + [""]
            out += [" ".join(ablation_reading(ablations, multi30k)), ""]
            figure = ROOT / "docs" / "figures" / "multi30k-ablation-curves.png"
            if figure.exists():
                logs = " ".join(f"results/multi30k-ablation/{r['system']}.metrics.jsonl"
                                for r in ablations if r["test_set"] == "test_2016_flickr")
                out += ["![ablation training curves](figures/multi30k-ablation-curves.png)", "",
                        f"Training loss and greedy validation BLEU of the ablations (`legonn curves {logs} "
                        "-o docs/figures/multi30k-ablation-curves.png`).", ""]
    swaps = _load(ROOT / "results" / "multi30k-swap")
    if swaps:
        out += ["## Swapping modules between De→En models trained with different seeds", "",
                "`python recipes/multi30k/swap.py`: the decoder of one model reads the encoder of another model of "
                "the same configuration trained with a different seed (test_2016_flickr, beam 5). *BLEU lost* = "
                "mean BLEU of the two models as trained − mean of the two swapped ones. Target (issue #3): ≤ 1.0 "
                "for LegoNN; the monolithic baselines and the LegoNN models trained without the CTC loss show "
                "what the interface is for.", ""]
        hardware = "; ".join(sorted({r["hardware"] for r in swaps if r.get("hardware")})) or "–"
        out += swap_table(swaps) + [""] + swap_target_table(swaps) + ["", swap_reading(swaps) + " A shorter "
                "schedule leaves every model below the full-schedule systems above; both models of a pair and "
                f"their swaps share it, so the comparison is like with like. Hardware: {hardware}.", ""]
    reuse_costs = {}  # task → what reusing the De→En decoder costs it, for the interface-statistics section
    transfer = {}  # task → its records, for the WEmb-against-BeamConv summary
    for task, title in TRANSFER.items():
        records = _load(ROOT / "results" / task)
        if not records:
            continue
        transfer[task] = records
        reuse_costs[task] = reused_decoder_cost(records)
        out += [f"## {title}: reusing the De→En decoder", "",
                f"`python recipes/transfer/run.py {task[:2]}` (configs in `recipes/{task}/`, seed 1, beam 5). "
                f"*zero-shot-…*: this task's LegoNN encoder composed with {decoders}, "
                "never trained together (no updates); *fine-tuned-…*: that composition trained further on "
                f"{task} data. Targets (issue #3): zero-shot ≥ baseline; fine-tuned ≥ baseline + 1.5 BLEU. "
                "*updates* tells how far each system trained: one marked *training in progress* stopped before "
                "its config's end and is scored at its best checkpoint so far.", ""]
        out += transfer_table(records) + [""]
        out += target_table(records, records[0]["test_set"], TRANSFER_TARGETS, "#3") + [""]
        comparison = ingestor_comparison(records, records[0]["test_set"])
        out += [comparison, ""] if comparison else []
        decomposition = gap_decomposition(records, records[0]["test_set"])
        out += [decomposition, ""] if decomposition else []
        figure = f"figures/{task}-fine-tuned-wemb-curves.png"
        if (ROOT / "docs" / figure).exists():
            out += [f"![{task} fine-tuning curves]({figure})", "",
                    f"Fine-tuning the zero-shot composition on {task} (`legonn curves runs/{task}/fine-tuned-wemb`): "
                    "training loss and greedy validation BLEU per epoch; epoch 1 ends after the first pass over "
                    "the data, so the zero-shot starting point itself is not on the curve.", ""]
    ingestors = ingestor_rows(multi30k, swaps, transfer)
    if ingestors:
        carried = ", ".join(f"{card.parent.name.removeprefix('de-en-')} {m['test_2016_flickr_bleu']:.2f}"
                            for card, m in cards.items() if m.get("test_2016_flickr_bleu") is not None)
        out += ["## WEmb or BeamConv: which ingestor wins where", "",
                "Every setting above measured with both ingestors, side by side (the sections above give each "
                "run's details). *trained alike*: both sides trained to their config's end or for the same number "
                "of updates (a zero-shot or fine-tuned system inherits this from the encoders it reads). The "
                "zero-shot and fine-tuned rows also carry the difference between the two De→En decoder bricks "
                f"they read (test_2016_flickr BLEU their cards record: {carried or 'not recorded'}).", ""]
        out += ingestor_table(ingestors) + ["", ingestor_reading(ingestors), ""]
    stats_path = ROOT / "results" / "interface-stats.json"
    if stats_path.exists():
        record = json.loads(stats_path.read_text())
        out += ["## What the reused decoder reads: interface statistics", "",
                "`python recipes/transfer/interface_stats.py` (or `legonn interface-stats` for one model): the "
                "marginals each WEmb encoder hands over on its validation set — positions per target token K/|y|, "
                "the shares of positions whose best class is blank or repeats the one before, the mean entropy and "
                "top-1 probability. The De→En decoder was trained on marginals of the De→En kind; the shipped "
                "decoder's own encoder is not kept, so the De→En rows are the swap recipe's two 10-epoch seeds, "
                "less trained than the shipped encoders (their distributions are flatter for that reason too). "
                f"Hardware: {record['hardware']}; commit {record['commit']}.", ""]
        out += interface_stats_table(record, reuse_costs) + ["", interface_stats_reading(record, reuse_costs), ""]
    asr, headline = asr_results()
    if asr:
        subset = sorted({r.get("train_utterances") for r in asr if r.get("train_utterances")})
        limit = f" --limit {max(subset)}" if subset and max(subset) < 29000 else ""
        out += ["## English speech recognition: a speech encoder for the De→En decoder", "",
                f"`python recipes/asr/prepare_data.py{limit}` then `python recipes/asr/run.py` (configs in "
                "`recipes/asr/`, seed 1, beam 5). Training speech is synthetic: Multi30k English captions spoken by "
                "espeak-ng, flite, festival and piper voices (`legonn data synth`); *synthetic-test* is "
                "test_2016_flickr spoken by voices no training or validation clip uses, *commonvoice* the 100 real "
                "Common Voice clips. *zero-shot-…*: the LegoNN speech encoder composed with "
                f"{decoders} — a *translation* decoder — never trained together and never trained on "
                "speech; *fine-tuned-…*: that composition trained further on the speech data. WER after the "
                "normalisation of `legonn.score.normalize_for_wer` (lower-cased, punctuation removed). Targets "
                "(issue #4): zero-shot WER ≤ the baseline's; fine-tuned ≥ 12.5 % relative WER reduction; three "
                "modules fine-tuned ≥ 19.5 %. The real-time factor is the scoring run's own, on a machine that may "
                "have been busy training other systems; *Transcription speed* below measures `legonn transcribe` "
                "on an idle one.", ""]
        if subset and max(subset) < 29000:
            schedules = sorted({json.dumps(r["schedule"], sort_keys=True) for r in asr if r.get("schedule")})
            out += [f"These runs train on a subset ({', '.join(f'{n:,}' for n in subset)} clips of the 29k "
                    "captions; the other captions are the three-module chain's text-only dataset B) with a reduced schedule, to "
                    "fit a session on 2 cores; the schedules, as each run "
                    f"used them: {'; '.join(f'`{s}`' for s in schedules) or '–'}.", ""]
        out += asr_table(asr, headline) + [""]
        out += asr_target_table(asr, headline) + [""]
        out += early_baseline_caveat(asr, headline)
        out += stronger_baseline_targets(asr, headline)
        if none_transcribes(asr):
            updates = sorted({r["train_steps"] for r in asr if r.get("train_steps")})
            out += [f"No system here has learned to transcribe yet (every WER above {UNTRAINED_WER} %, after "
                    f"{', '.join(f'{n:,}' for n in updates)} updates): the rows show that the pipeline runs end to "
                    "end — synthesis, features, training, composition with the translation decoder, scoring — "
                    "but say nothing yet about LegoNN against the baseline. A WER above 100 % is a decoder that "
                    "loops and inserts words; model selection on validation WER can then prefer an early "
                    "checkpoint whose outputs are short.", ""]
        out += figure_lines("asr-en-curves.png", "English ASR training curves",
                            "Training loss and greedy validation WER per epoch (`legonn curves "
                            "results/asr-en/baseline.metrics.jsonl results/asr-en/baseline-ctc.metrics.jsonl "
                            "results/asr-en/lego-wemb.metrics.jsonl results/asr-en/fine-tuned-wemb.metrics.jsonl "
                            "results/asr-en/three-module-fine-tuned.metrics.jsonl "
                            "-o docs/figures/asr-en-curves.png`). The validation clips are spoken by training voices, "
                            "so validation WER sits below the synthetic test set's.")
        hardware = sorted({r["hardware"] for r in asr if r.get("hardware")})
        out += [f"Hardware: {'; '.join(hardware) or '–'}.", ""]
    benches = sorted((ROOT / "results" / "bench").glob("train_throughput*.json"))
    if benches:
        out += ["## Training throughput", "",
                "Targets (issue #2): the baseline ≥ 3,500 target tokens/s in bf16 on 2 cores; LegoNN ≤ 1.5× the "
                "baseline's cost per target token. Each table is one run of the benchmark with no training "
                "running on the machine; its heading names the precision, the "
                "allocator (`legonn` uses jemalloc when installed, src/legonn/allocator.py) and the CPU. The "
                "fp32 tables come from CPUs without native bf16 (2-core VMs, a Cascade Lake and an AVX2-only AMD "
                "EPYC), where `precision: auto` trains in fp32 because emulated bf16 is slower still. These are "
                "2-core VMs on shared hosts: two machines reporting the same CPU can differ by nearly 2× (the two "
                "bf16 AMD EPYC tables), so compare the cost ratios, which hold across machines, more than the "
                "absolute figures.", ""]
        for path in benches:
            out += throughput_section(json.loads(path.read_text())) + [""]
    out += bench_section("fbank_throughput", "Feature extraction throughput",
                         "Issue #4 asks for the speed of the filterbank front end against kaldi-native-fbank. "
                         "`python benchmarks/fbank_throughput.py`: 80-bin Kaldi filterbanks (25 ms / 10 ms, dither 0) "
                         "of the 100 real Common Voice clips, already in memory, best of 3 passes, on an otherwise "
                         "idle machine; seconds of audio per second of wall time (higher is better).", fbank_table)
    out += bench_section("transcribe_rtf", "Transcription speed",
                         "Issue #4 asks for the real-time factor of `legonn transcribe` on 2 cores. "
                         "`python benchmarks/transcribe_rtf.py`: audio reading, filterbanks, the encoder and beam "
                         "search, best of 2 passes over every clip of the manifest after a warm-up clip, on an "
                         "otherwise idle machine; compute seconds per second of audio (lower is faster).", rtf_table)
    atomic_write_bytes(ROOT / "docs" / "results.md", ("\n".join(out) + "\n").encode())
    print(f"wrote {ROOT / 'docs' / 'results.md'}")
    update_readme(multi30k)


def readme_table(records: list[dict]) -> list[str]:
    rows = [r for r in records if r["test_set"] == "test_2016_flickr"]
    rows.sort(key=_order)
    if not rows:
        return ["No results yet: run `python recipes/multi30k/run.py`."]
    lines = ["| system | BLEU | CTC-readout BLEU | params | epochs trained |", "|---|---|---|---|---|"]
    for r in rows:
        status = _status(r)
        lines.append(f"| {r['system']}{status} | {_fmt(r['bleu'])} | {_fmt(r.get('ctc_readout_bleu'))} | "
                     f"{_fmt(r['params'])} | {_fmt(r.get('train_epochs_completed'))} |")
    return lines


def readme_transfer_table() -> list[str]:
    """Issue #3 in the README: each X→En system on its task's headline test set, beside its baseline."""
    lines = []
    for task in TRANSFER:
        records = _load(ROOT / "results" / task, headline_only=True)
        baseline = next((r["bleu"] for r in records if r["system"] == "baseline"), None)
        for r in sorted(records, key=_order):
            status = _status(r)
            delta = "–" if baseline is None or r["system"] == "baseline" else f"{r['bleu'] - baseline:+.1f}"
            origin = _origin(r, seeds=False)
            lines.append(f"| {task} | {r['system']}{status} | {r['test_set']} | {_fmt(r['bleu'])} | {delta} | "
                         f"{_fmt(r.get('ctc_readout_bleu'))} | {origin} |")
    if not lines:
        return []
    return ["", "Reusing the De→En decoder for other source languages (issue #3; *zero-shot*: never trained together):",
            "", "| task | system | test set | BLEU | Δ vs baseline | CTC-readout BLEU | modules trained on |",
            "|---|---|---|---|---|---|---|", *lines]


def readme_asr_table() -> list[str]:
    """Issue #4 in the README: each ASR system on each test set, beside the baseline."""
    records, headline = asr_results()
    if not records:
        return []
    baseline = {r["test_set"]: r["wer"] for r in records if r["system"] == "baseline"}
    lines = []
    for r in sorted(records, key=asr_order(headline)):
        delta = "–" if r["system"] == "baseline" else _relative(r["wer"], baseline.get(r["test_set"]))
        lines.append(f"| {r['system']}{_status(r)} | {r['test_set']} | {_fmt(r['wer'])} | {delta} | "
                     f"{_fmt(r.get('ctc_readout_wer'))} | {_origin(r, seeds=False)} |")
    clips = sorted({r["train_utterances"] for r in records if r.get("train_utterances")})
    size = f", trained on {', '.join(f'{n:,}' for n in clips)} synthetic clips" if clips else ""
    untrained = (f" At this budget no system has learned to transcribe yet (every WER above {UNTRAINED_WER} %): "
                 "these rows show the pipeline running end to end, not LegoNN against the baseline."
                 if none_transcribes(records) else "")
    return ["", f"English speech recognition (issue #4{size}; WER %, lower is better; *zero-shot*: the speech "
            f"encoder with the De→En translation decoder, never trained together).{untrained}", "",
            "| system | test set | WER | relative to baseline | CTC-readout WER | modules trained on |",
            "|---|---|---|---|---|---|", *lines]


def update_readme(records: list[dict]) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    body = "\n".join(readme_table(records) + readme_transfer_table() + readme_asr_table())
    atomic_write_bytes(readme, f"{head}{start}\n{body}\n{end}{tail}".encode())
    print(f"updated {readme}")


if __name__ == "__main__":
    main()

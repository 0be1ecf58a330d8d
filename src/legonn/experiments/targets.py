"""Target tables: each target an issue sets, checked against the results, measured margin and met/missed.

The targets are written in the page, in the table's marker, as `SYSTEM=BOUND` (see recipes/results_table.py):
    bleu-targets: BOUND in BLEU relative to the baseline (-1.0: within 1.0 BLEU; 0: ≥ the baseline;
                  +1.5: ≥ the baseline + 1.5 BLEU), and `baseline>=X` for the baseline's own floor
    wer-targets:  BOUND the relative WER reduction asked for, in % (0: WER ≤ the baseline's)
    swap-targets: BOUND the most BLEU a swap may lose
A target whose system has no result yet is listed as not measured.
"""

from __future__ import annotations

from legonn.errors import LegoError
from legonn.experiments.describe import relative, status
from legonn.experiments.records import ResultRecord, SwapRecord


def parse_targets(specs: tuple[str, ...]) -> list[tuple[str, str]]:
    """'lego-wemb=-1.0' → ('lego-wemb', '-1.0'): a marker's targets, the bound as written."""
    bad = next((spec for spec in specs if "=" not in spec), None)
    if bad is not None:
        raise LegoError(f"target '{bad}' is not SYSTEM=BOUND")
    return [tuple(spec.split("=", 1)) for spec in specs]


def target_rows(scores: dict, targets: list[tuple[str, str, float]], judge) -> list[str]:
    """One row per (system, requirement, bound): judge(record, bound) → (measured, verdict)."""
    rows = []
    for system, requirement, bound in targets:
        r = scores.get(system)
        if r is None:
            rows.append(f"| {system} {requirement} | not measured | – |")
            continue
        measured, verdict = judge(r, bound)
        note = status(r) if isinstance(r, ResultRecord) else ""  # a swap pair has no training status
        rows.append(f"| {system}{note} {requirement} | {measured} | {verdict} |")
    return rows


def _bleu_requirement(bound: str) -> str:
    """'-1.0' → 'within 1.0 BLEU of the baseline', '0' → '≥ the baseline', '+1.5' → '≥ the baseline + 1.5
    BLEU'."""
    if bound.startswith("-"):
        return f"within {bound[1:]} BLEU of the baseline"
    return "≥ the baseline" if float(bound) == 0 else f"≥ the baseline + {bound.lstrip('+')} BLEU"


def bleu_target_table(records: list[ResultRecord], test_set: str, issue: str, *specs: str) -> list[str]:
    """The issue's BLEU targets on test_set against the baseline: the measured margin and met/missed."""
    scores = {r.system: r for r in records if r.test_set == test_set}
    if "baseline" not in scores:
        return []
    base = scores["baseline"].bleu
    lines = [f"| target (issue {issue}, {test_set}; baseline {base:.2f}{status(scores['baseline'])}) | measured | "
             "verdict |", "|---|---|---|"]
    floors = [s.split(">=", 1)[1] for s in specs if s.startswith("baseline>=")]
    for floor in floors:
        verdict = "met" if base >= float(floor) else f"missed by {float(floor) - base:.2f}"
        lines.append(f"| baseline ≥ {floor} BLEU | {base:.2f} | {verdict} |")
    targets = [(system, _bleu_requirement(bound), float(bound))
               for system, bound in parse_targets(tuple(s for s in specs if not s.startswith("baseline>=")))]

    def judge(r: ResultRecord, least: float) -> tuple[str, str]:
        delta = r.bleu - base
        return f"{r.bleu:.2f} ({delta:+.2f})", "met" if delta >= least else f"missed by {least - delta:.2f}"
    return lines + target_rows(scores, targets, judge)


def wer_target_table(records: list[ResultRecord], test_set: str, issue: str, yardstick: str,
                     *specs: str) -> list[str]:
    """The issue's WER targets on test_set against the yardstick system's WER (a bound is the relative WER
    reduction it asks for, in %); nothing while the yardstick has no result there."""
    scores = {r.system: r for r in records if r.test_set == test_set}
    if yardstick not in scores:
        return []
    base = scores[yardstick].wer
    lines = [f"| target (issue {issue}, {test_set}; {yardstick} WER {base:.2f}{status(scores[yardstick])}) | "
             "measured | verdict |", "|---|---|---|"]
    targets = [(system, "WER ≤ the baseline's" if float(cut) == 0 else f"≥ {cut} % relative WER reduction",
                1 - float(cut) / 100) for system, cut in parse_targets(specs)]

    def judge(r: ResultRecord, most: float) -> tuple[str, str]:
        verdict = "met" if r.wer <= most * base else f"missed by {r.wer - most * base:.2f} WER points"
        return f"{r.wer:.2f} ({relative(r.wer, base)})", verdict
    return lines + target_rows(scores, targets, judge)


def swap_target_table(records: list[SwapRecord], *specs: str) -> list[str]:
    """Each LegoNN pair's swap target: measured BLEU lost against the bound."""
    def judge(r: SwapRecord, most: float) -> tuple[str, str]:
        return f"{r.bleu_lost:.2f} lost", "met" if r.bleu_lost <= most else f"missed by {r.bleu_lost - most:.2f}"
    targets = [(pair, f"swapped loses ≤ {most} BLEU", float(most)) for pair, most in parse_targets(specs)]
    return ["| target (issue #3, test_2016_flickr) | measured | verdict |", "|---|---|---|"] + \
        target_rows({r.pair: r for r in records}, targets, judge)

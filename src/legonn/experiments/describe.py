"""How a results record reads in a table cell: numbers formatted, a run's status, what its modules were
trained on. Shared by every table of docs/results.md and README.md (recipes/results_table.py)."""

from __future__ import annotations

import functools

from legonn.config import load_config
from legonn.errors import LegoError
from legonn.experiments.provenance import ROOT
from legonn.experiments.records import ResultRecord


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, list):
        return ", ".join(fmt(v, digits) for v in value) or "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@functools.cache
def config_step_cap(config: str) -> int | None:
    """train.max_steps of a recipe config; None where the file is gone or no longer loads, so a run's cap
    cannot be told apart from its config's."""
    path = ROOT / config
    if not config or not path.is_file():
        return None
    try:
        return load_config(path).train.max_steps
    except LegoError:
        return None


def step_cap(r: ResultRecord) -> int:
    """The update cap a run was given on the command line (`--set train.max_steps=N`), or 0 where its
    config sets the cap itself or there is none."""
    cap = (r.schedule or {}).get("max_steps") or 0
    own = config_step_cap(r.config or "") if cap else None
    return 0 if own is None or own == cap else cap


def status(r: ResultRecord) -> str:
    """' (training in progress)', ' (stopped by a time budget after N min of training)', a command-line cap."""
    if r.training_finished:
        cap = step_cap(r)
        return f" (stopped at {cap:,} updates by a cap set for this run)" if cap else ""
    if not (r.schedule or {}).get("time_budget_minutes"):
        return " (training in progress)"
    # the budget of the last start alone would understate a run restarted under several budgets
    return (f" (stopped by a time budget after {r.train_minutes:.0f} min of training)" if r.train_minutes
            else " (stopped by a time budget)")


def origin(r: ResultRecord, seeds: bool) -> str:
    """What a system's modules were trained on: its task, or the bricks it was composed from and, for a
    fine-tuned composition, the task it was then trained on."""
    def name(task, seed):
        return f"{task} (seed {seed})" if seeds else task
    if r.bricks is None:
        return name(r.task, r.seed)
    bricks = " + ".join(name(b.get("task", "?"), b.get("seed", "?")) for b in r.bricks)
    return f"{bricks}, then {name(r.task, r.seed)}" if r.train_steps else bricks


def relative(wer: float, base: float | None) -> str:
    return "–" if not base else f"{100 * (wer - base) / base:+.1f} %"

"""The pace of a training run: the learning rate at each step, throughput over a log window, the time an
epoch-bounded run has left, and which validation sentences are decoded."""

from __future__ import annotations

import math
import time

from legonn.checkpoint import TrainerState


def learning_rate(step: int, peak: float, warmup: int, schedule: str = "inverse_sqrt", total: int = 0) -> float:
    """Linear warm-up to `peak`, then 'inverse_sqrt' decay, or 'linear' decay that reaches 0 at step `total`."""
    step, warmup = max(step, 1), max(warmup, 1)
    if step < warmup:
        return peak * step / warmup
    if schedule == "linear":
        return peak * max(0.0, (total - step) / max(total - warmup, 1))
    return peak * math.sqrt(warmup / step)


def evenly_spaced(total: int, cap: int) -> list[int]:
    """Indices of `cap` items spread evenly over range(total) (all of them when cap is 0 or ≥ total).

    Dev sets are often grouped by genre (RO-STS: captions, then forums, then news), so the first
    `cap` lines would select on one genre only.
    """
    if cap <= 0 or cap >= total:
        return list(range(total))
    return [i * total // cap for i in range(cap)]


class Window:
    """Losses and throughput averaged over the updates since the last log line."""

    def __init__(self):
        self.start, self.tokens, self.sums, self.count = time.time(), 0, {}, 0

    def add(self, stats: dict, tokens: int) -> None:
        self.tokens += tokens
        self.count += 1
        for key, value in stats.items():
            if isinstance(value, list):
                self.sums[key] = [a + b for a, b in zip(self.sums.get(key, [0.0] * len(value)), value)]
            else:
                self.sums[key] = self.sums.get(key, 0.0) + value

    def seconds(self) -> float:
        return time.time() - self.start

    def summary(self) -> dict:
        n = max(self.count, 1)
        means = {k: [round(x / n, 4) for x in v] if isinstance(v, list) else round(v / n, 4)
                 for k, v in self.sums.items()}
        return {"tokens_per_s": round(self.tokens / max(self.seconds(), 1e-9), 1), **means}



def time_left(t, st: TrainerState, epoch_seconds: float, budget_left_s: float | None = None) -> str:
    """' (12.0 min/epoch, ~3h 24m left for 17 epochs)': the pace of the epoch just done, validation included.
    Only when epochs bound the run; patience may stop it sooner. With a time budget
    (budget_left_s: what is left of it), also how many of those epochs it allows at this pace."""
    remaining = t.max_epochs - (st.epoch - 1)
    if t.max_steps or remaining <= 0:
        return ""
    minutes = round(remaining * epoch_seconds / 60)
    fits = "" if budget_left_s is None else \
        f"; the time budget allows {min(remaining, max(0, int(budget_left_s // epoch_seconds)))} more"
    return (f" ({epoch_seconds / 60:.1f} min/epoch, ~{minutes // 60}h {minutes % 60:02d}m left for {remaining} epochs"
            f"{fits})")

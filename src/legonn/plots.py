"""Pictures a person would rather look at: training curves and interface marginals."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from legonn.errors import LegoError  # noqa: E402
from legonn.interface import Marginals  # noqa: E402
from legonn.io import atomic_write_bytes  # noqa: E402
from legonn.vocab import Vocabulary  # noqa: E402


def _read_metrics(path: Path) -> list[dict]:
    if not path.is_file():
        raise LegoError(f"{path}: metrics log not found")
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise LegoError(f"{path}:{number}: not a JSON line") from None
    return records


def _save(fig, out: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(Path(out), buf.getvalue())


METRICS_SUFFIX = ".metrics.jsonl"  # how the recipes name a run's log copied beside its results JSON


def _metrics_and_label(run: Path) -> tuple[Path, str]:
    """A run folder (its metrics.jsonl, labelled by the folder) or a log file itself (labelled by its name,
    e.g. results/multi30k/lego-wemb.metrics.jsonl → lego-wemb)."""
    run = Path(run)
    if run.is_dir():
        return run / "metrics.jsonl", run.name
    return run, run.name.removesuffix(METRICS_SUFFIX).removesuffix(".jsonl")


def _validation_metric(records: list[dict]) -> str | None:
    """'bleu' (translation), 'wer' (speech) or None (no validation yet) — what a run's epochs record."""
    for record in records:
        for metric in ("bleu", "wer"):
            if f"valid_{metric}" in record:
                return metric
    return None


def training_curves(runs: list[Path], out: Path) -> str:
    """Training loss (NLL and CTC) against updates and validation BLEU or WER (greedy: the decoder, and each
    interface's CTC readout) against epochs, one colour per run; each run is a run folder or a metrics log
    (see _metrics_and_label). Returns the validation metric plotted, 'BLEU' or 'WER'; runs that mix the
    two are an error (one axis cannot carry both)."""
    logs = [(label, _read_metrics(path)) for path, label in map(_metrics_and_label, runs)]
    metrics = {label: m for label, records in logs if (m := _validation_metric(records))}
    if len(set(metrics.values())) > 1:
        by = {m: ", ".join(label for label, x in metrics.items() if x == m) for m in set(metrics.values())}
        raise LegoError(f"curves: runs mix BLEU ({by['bleu']}) and WER ({by['wer']}); plot them separately")
    metric = next(iter(metrics.values()), "bleu")
    name = metric.upper()
    fig, (ax_loss, ax_valid) = plt.subplots(1, 2, figsize=(11, 4))
    for label, records in logs:
        steps = [r for r in records if "loss" in r]
        epochs = [r for r in records if f"valid_{metric}" in r]
        line, = ax_loss.plot([r["step"] for r in steps], [r["nll"] for r in steps], label=f"{label} NLL")
        if steps and steps[0].get("ctc"):
            ax_loss.plot([r["step"] for r in steps], [r["ctc"][0] for r in steps], "--", color=line.get_color(),
                         label=f"{label} CTC")
        x = [r["epoch"] for r in epochs]
        ax_valid.plot(x, [r[f"valid_{metric}"] for r in epochs], "o-", color=line.get_color(), label=f"{label} decoder")
        readouts = sorted({k for r in epochs for k in r if k.startswith("valid_ctc") and k.endswith(f"_{metric}")})
        for key in readouts:  # valid_ctc<i>_<metric>: interface i's CTC readout
            ax_valid.plot(x, [r.get(key, float("nan")) for r in epochs], "x--", color=line.get_color(),
                          label=f"{label} CTC readout" + (f" {key[len('valid_ctc'):-len(metric) - 1]}"
                                                          if len(readouts) > 1 else ""))
    better = "higher" if metric == "bleu" else "lower"
    ax_loss.set(xlabel="update", ylabel="loss per token", title="training loss", ylim=(0, None))
    ax_valid.set(xlabel="epoch", ylabel=f"{name} % (greedy)" if metric == "wer" else "BLEU (greedy)",
                 title=f"validation {name} ({better} is better)")
    for ax in (ax_loss, ax_valid):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _save(fig, out)
    return name


def marginals_heatmap(marginals: Marginals, vocab: Vocabulary, out: Path, row: int = 0, top: int = 30,
                      title: str = "") -> None:
    """Heat map of one row's interface marginals (positions × most used classes) with its CTC readout."""
    n = int(marginals.lengths[row])
    probs = marginals.log_probs[row, :n].float().exp()
    peak, where = probs.max(0)  # each class's highest probability and the position it peaks at
    classes = peak.topk(min(top, probs.size(1))).indices
    classes = classes[where[classes].argsort(stable=True)]  # order rows by position: alignment reads as a diagonal
    fig, ax = plt.subplots(figsize=(max(6, n * 0.3), max(4, len(classes) * 0.22)))
    image = ax.imshow(probs[:, classes].T.numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.03, label="probability")
    ax.set_yticks(range(len(classes)), vocab.pieces(classes.tolist()), fontsize=7)
    ax.set_xlabel("interface position (after the Output Length Controller)")
    readout = vocab.decode(marginals.greedy()[row])
    ax.set_title((title + "\n" if title else "") + f"CTC readout: {readout}", fontsize=9)
    _save(fig, out)

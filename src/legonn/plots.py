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
from legonn.vocab import Vocabulary, atomic_write_bytes  # noqa: E402


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


def training_curves(runs: list[Path], out: Path) -> None:
    """Training loss (CE and CTC) against steps and validation BLEU against epochs, one line per run;
    each run is a run folder or a metrics log (see _metrics_and_label)."""
    fig, (ax_loss, ax_bleu) = plt.subplots(1, 2, figsize=(11, 4))
    for run in runs:
        path, label = _metrics_and_label(run)
        records = _read_metrics(path)
        steps = [r for r in records if "loss" in r]
        epochs = [r for r in records if "valid_bleu" in r]
        line, = ax_loss.plot([r["step"] for r in steps], [r["nll"] for r in steps], label=f"{label} NLL")
        if steps and steps[0].get("ctc"):
            ax_loss.plot([r["step"] for r in steps], [r["ctc"][0] for r in steps], "--", color=line.get_color(),
                         label=f"{label} CTC")
        ax_bleu.plot([r["epoch"] for r in epochs], [r["valid_bleu"] for r in epochs], "o-", label=f"{label} decoder")
        if epochs and "valid_ctc0_bleu" in epochs[0]:
            ax_bleu.plot([r["epoch"] for r in epochs], [r["valid_ctc0_bleu"] for r in epochs], "x--",
                         color=ax_bleu.lines[-1].get_color(), label=f"{label} CTC readout")
    ax_loss.set(xlabel="update", ylabel="loss per token", title="training loss", ylim=(0, None))
    ax_bleu.set(xlabel="epoch", ylabel="BLEU (greedy)", title="validation BLEU")
    for ax in (ax_loss, ax_bleu):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _save(fig, out)


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

"""The training loop: one code path for a single process and for torchrun + DDP (gloo on CPU).

It is handed what it trains (`legonn.assemble.build_run`) and knows a model only through the
`legonn.model.Seq2Seq` protocol: `forward(src, src_lengths, prev) -> (logits, interfaces)`, `encode`
(for validation decoding), and the losses.
"""

from __future__ import annotations

import functools
import gc
import json
import math
import re
import signal
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn
from tqdm import tqdm

from legonn.allocator import release_free_memory
from legonn.checkpoint import TrainerState, check_vocab, load_checkpoint, save_checkpoint
from legonn.distributed import Distributed
from legonn.data.batching import collate, make_batches
from legonn.data.features import SpecAugmentConfig, spec_augment
from legonn.errors import LegoError
from legonn.inference import decode_sources
from legonn.io import atomic_write_bytes
from legonn.losses import lego_loss
from legonn.runlock import RunLock
from legonn.schedule import Window, evenly_spaced, learning_rate, time_left
from legonn.search import SearchOptions

if TYPE_CHECKING:
    from legonn.assemble import Run


SAFETENSORS_TEMP = re.compile(r"\.tmp[A-Za-z0-9]{6}")
# what a run writes in its out_dir besides config.json (and the lock)
RUN_FILES = ("checkpoint_last.safetensors", "checkpoint_best.safetensors", "metrics.jsonl")


class NonFiniteLoss(LegoError):
    """A training step whose gradients are NaN or infinite: the run stops before they reach the weights."""


@dataclass
class TrainResult:
    out_dir: str
    state: TrainerState
    params: int
    tokens_per_s: float
    best_path: str
    stopped_early: bool = False  # request_stop() ended it: checkpoint_last holds where to resume
    out_of_time: bool = False  # train.time_budget_minutes ended it at an epoch end: resumable the same way


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class Trainer:
    """Runs the loop, validation, checkpoints, DDP and resume for a model it is handed (`build_run`)."""

    def __init__(self, run: Run, resume: bool = True, progress: bool = True):
        self.spec, self.cfg, self.progress = run, run.cfg, progress
        self.dist = Distributed()
        self.out = Path(run.cfg.out_dir)
        self.data, self.model, self.task = run.data, run.model, run.task
        self.src_vocab, self.tgt_vocab, self.pairs = run.data.src_vocab, run.data.tgt_vocab, run.data.pairs
        self.interface_vocabs, self.frozen = run.interface_vocabs, run.frozen
        self.selection_key = self._selection_key()
        t = run.cfg.train
        # same initial weights everywhere (DDP also broadcasts rank 0's), but each rank its own dropout masks
        torch.manual_seed(t.seed + 1000 * self.dist.rank)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=t.lr, betas=(0.9, 0.98),
                                           eps=1e-8, weight_decay=t.weight_decay, fused=True)
        self.state = TrainerState()
        self._stop_requested = False
        last = self.out / "checkpoint_last.safetensors"
        self._restored = False  # set by _restore: the run goes on from checkpoint_last
        if resume and last.exists():
            self._restore(last)
        self.ddp = (
            # without CTC a BeamConv encoder gets no gradient at all, which DDP must be told about
            nn.parallel.DistributedDataParallel(self.model, find_unused_parameters=t.ctc_weight == 0)
            if self.dist.world > 1 else self.model
        )

    @functools.cached_property
    def total_steps(self) -> int:
        """Updates the whole run makes: the batches of epochs 1..max_epochs (their counts differ a little,
        as bucketing is reseeded each epoch), or max_steps if that ends it sooner. A 'linear' schedule ends here."""
        t = self.cfg.train
        total = sum(len(make_batches(self.pairs, t.max_tokens, t.seed, epoch)) // self.dist.world
                    for epoch in range(1, t.max_epochs + 1))
        return min(total, t.max_steps) if t.max_steps else total

    def request_stop(self) -> None:
        """Stop after the update in progress (safe from a signal handler): the run saves checkpoint_last
        and returns, so the same command resumes it. Under DDP rank 0's request stops every rank."""
        self._stop_requested = True

    def _train_mode(self) -> None:
        """Training mode, except frozen modules: they stay in eval mode (no dropout), as they will be used."""
        self.model.train()
        for module in self.frozen:
            module.eval()

    def _restore(self, path: Path) -> None:
        ckpt = load_checkpoint(path)
        if self.src_vocab is not None:
            check_vocab(ckpt.src_vocab, self.src_vocab, path, "data.src_vocab")
        check_vocab(ckpt.tgt_vocab, self.tgt_vocab, path, "data.tgt_vocab")
        if ckpt.config.model != self.cfg.model:
            raise LegoError(f"{path}: checkpoint's model config differs from this run's (use a new out_dir)")
        for section, field in (("data", "train_src"), ("data", "train_tgt"), ("data", "train_manifest"), ("data", "max_len"),
                               ("train", "max_tokens"), ("train", "seed"), ("train", "freeze")):
            was, now = getattr(getattr(ckpt.config, section), field), getattr(getattr(self.cfg, section), field)
            if was != now:  # the batches (or the trained parameters) would differ from the run being resumed
                raise LegoError(f"{path}: config key '{section}.{field}' was {was!r} in this run, now {now!r} "
                                "(use a new out_dir to change it)")
        self.model.load_state_dict(ckpt.model)
        if ckpt.optimizer is not None:
            self.optimizer.load_state_dict(ckpt.optimizer)
        rng = ckpt.rank_rngs.get(self.dist.rank, ckpt.rng)
        if rng is not None:
            torch.set_rng_state(rng)
        self.state = ckpt.state
        self._restored = True

    def _tidy_run_dir(self) -> None:
        """Under the run's lock, before the first update. Temp files that a kill -9 left mid-save go.
        Resuming: drop log records written after the checkpoint (they are about to be redone) and a line
        torn by a kill. Starting fresh (--no-resume, or killed before its first checkpoint): the previous
        run's log and checkpoints go, so none of its steps or its best checkpoint pass for this run's."""
        for stale in self.out.glob(".tmp*"):  # safetensors' own temp file, left by a kill -9 mid-save
            if SAFETENSORS_TEMP.fullmatch(stale.name) and stale.is_file():
                stale.unlink()
        log = self.out / "metrics.jsonl"
        if not self._restored:
            for name in RUN_FILES:
                (self.out / name).unlink(missing_ok=True)
            return
        if not log.exists():
            return
        kept = []
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # torn by a kill mid-write (only ever the last line)
                continue
            if isinstance(record, dict) and record.get("step", 0) <= self.state.step:
                kept.append(line)
        atomic_write_bytes(log, ("\n".join(kept) + "\n" if kept else "").encode())

    def _save(self, name: str) -> None:
        rank_rngs = self.dist.gather_rng()  # a collective: every rank calls _save at the same points
        if self.dist.main:
            save_checkpoint(self.out / name, self.cfg, self.state, self.model, self.src_vocab, self.tgt_vocab,
                            self.optimizer, extra=self.spec.extra, rank_rngs=rank_rngs,
                            more_vocabs=self.spec.more_vocabs)

    def _log(self, record: dict) -> None:
        if self.dist.main:
            with open(self.out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def _autocast(self):
        if self.cfg.train.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return nullcontext()

    def train_step(self, batch) -> dict:
        """One optimizer update on `batch`; returns its losses and gradient norm."""
        t = self.cfg.train
        total = self.total_steps if t.lr_schedule == "linear" else 0  # counting a run's batches costs a moment
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.state.step + 1, t.lr, t.warmup_steps, t.lr_schedule, total)
        src = batch.src
        if self.task.speech and t.spec_augment:
            src = spec_augment(src, batch.src_lengths, SpecAugmentConfig())
        with self._autocast():
            logits, interfaces = self.ddp(src, batch.src_lengths, batch.prev)
        # CTC where an interface speaks the target vocabulary; others (e.g. a chain's phonemes) have no target here
        targets = [(batch.ctc_target, batch.ctc_lengths) if m.vocab == self.tgt_vocab.id else None for m in interfaces]
        loss = lego_loss(logits, batch.target, interfaces, targets, t.label_smoothing, t.ctc_weight)
        loss.total.backward()
        clip = t.clip_norm if t.clip_norm > 0 else math.inf
        grad_norm = float(nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        if not math.isfinite(grad_norm):  # the same on every rank: DDP has averaged the gradients
            self.optimizer.zero_grad(set_to_none=True)
            value = float(loss.total.detach())
            raise NonFiniteLoss(f"{self.out}: update {self.state.step + 1}: loss {value:.4g}, gradient norm "
                                f"{grad_norm}: not finite, so not applied; checkpoint_last keeps the last "
                                "good weights (a lower train.lr or train.clip_norm may help)")
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        return {"loss": float(loss.total.detach()), "ce": float(loss.ce), "nll": float(loss.nll),
                "ctc": [float(c) for c in loss.ctc], "grad_norm": grad_norm}

    @property
    def metric(self) -> str:
        """Model selection: BLEU (higher is better) for translation, WER (lower is better) for speech."""
        return self.task.metric

    def _selection_key(self) -> str:
        """The validation entry that picks checkpoint_best and counts patience (train.select_on)."""
        if self.cfg.train.select_on == "output":
            return f"valid_{self.metric}"
        scored = [i for i, vocab in enumerate(self.interface_vocabs) if vocab.id == self.tgt_vocab.id]
        if not scored:
            raise LegoError("config key 'train.select_on': 'interface' needs an interface that speaks the target "
                            "vocabulary (its CTC readout is scored against the references); this model has none")
        return f"valid_ctc{scored[-1]}_{self.metric}"

    def validate(self) -> dict:
        """Greedy-decode the validation set: BLEU (or WER) of the decoder and of each interface's CTC readout."""
        picked = evenly_spaced(len(self.data.valid_sources), self.cfg.train.valid_max_sentences)
        ref = [self.data.valid_refs[i] for i in picked]
        vocabs = self.interface_vocabs
        sources = [self.data.valid_sources[i] for i in picked]
        out = decode_sources(self.model, self.tgt_vocab, sources, SearchOptions(beam_size=1),
                             precision=self.cfg.train.precision, interface_vocabs=vocabs)
        self._train_mode()
        record = {f"valid_{self.metric}": self.task.score([hyp for hyp, _ in out], ref)}
        for i, vocab in enumerate(vocabs):
            if vocab.id == self.tgt_vocab.id:  # readouts in another vocabulary have no score against the text
                record[f"valid_ctc{i}_{self.metric}"] = self.task.score([readouts[i] for _, readouts in out], ref)
        return record

    def close(self) -> None:
        """Under torchrun, leave the process group, every rank at the same point. The DDP wrapper holds the
        group, so it goes first: the group's threads then stop here, not in the interpreter's exit, where
        they have aborted a rank ("terminate called without an active exception")."""
        if self.dist.world > 1:
            self.ddp = self.model
            gc.collect()  # DDP's reducer sits in reference cycles
        self.dist.close()

    def run(self) -> TrainResult:
        """Train to the config's stopping rule; rank 0 holds the run directory's lock meanwhile, so a
        second run on the same out_dir fails at once (LegoError naming the directory and the pid)."""
        with RunLock(self.out) if self.dist.main else nullcontext():
            return self._train()

    def _train(self) -> TrainResult:
        cfg, t, st = self.cfg, self.cfg.train, self.state
        self.out.mkdir(parents=True, exist_ok=True)
        if self.dist.main:
            self._tidy_run_dir()
            atomic_write_bytes(self.out / "config.json", json.dumps(asdict(cfg), indent=2).encode())
        self._train_mode()
        params = count_parameters(self.model)
        unalignable = self.spec.extra["data"].get("ctc_unalignable_pairs", 0)
        if unalignable and self.progress and self.dist.main:
            tqdm.write(f"note: {unalignable} of {len(self.pairs)} training pairs are too long for CTC at "
                       f"α = {cfg.model.encoder.olc.ratio} (their CTC loss is zeroed; a larger "
                       "model.encoder.olc.ratio avoids it)")
        window = Window()
        stopped_early = out_of_time = False
        self._started = time.time()  # train.time_budget_minutes counts from here
        # a finished run (step budget spent or patience exhausted) that is resumed trains no further
        stop = bool(t.max_steps and st.step >= t.max_steps) or bool(t.patience and st.bad_epochs >= t.patience)
        while not stop and st.epoch <= t.max_epochs:
            batches = make_batches(self.pairs, t.max_tokens, t.seed, st.epoch)
            per_rank = len(batches) // self.dist.world  # equal counts keep DDP's collectives in step
            mine = batches[self.dist.rank :: self.dist.world][:per_rank]
            bar = tqdm(total=per_rank, initial=st.batches_done, desc=f"epoch {st.epoch}/{t.max_epochs}", unit="batch",
                       disable=not (self.progress and self.dist.main), mininterval=2.0, dynamic_ncols=True)
            epoch_start = time.time()
            while st.batches_done < per_rank:
                batch = collate(self.pairs, mine[st.batches_done])
                stats = self.train_step(batch)
                st.batches_done += 1
                tokens = batch.num_target_tokens * self.dist.world
                st.target_tokens += tokens
                window.add(stats, tokens)
                bar.update(1)
                if st.step % t.log_every == 0:
                    st.train_seconds += window.seconds()
                    record = window.summary()
                    window = Window()
                    bar.set_postfix(loss=f"{record['loss']:.3f}", tok_s=f"{record['tokens_per_s']:.0f}")
                    self._log({"step": st.step, "epoch": st.epoch, "lr": self.optimizer.param_groups[0]["lr"],
                               **record})
                    release_free_memory()  # jemalloc keeps freed pages; unpurged they grow without bound
                if st.step % t.save_every == 0:
                    self._save("checkpoint_last.safetensors")
                if t.max_steps and st.step >= t.max_steps:
                    stop = True
                    break
                if self.dist.broadcast_flag(self._stop_requested):  # every rank must leave at the same step
                    stop = stopped_early = True
                    break
            bar.close()
            st.train_seconds += window.seconds()
            window = Window()
            if st.batches_done >= per_rank and not stopped_early:  # a resumed run validates this epoch
                st.epoch += 1
                st.batches_done = 0
                stop = self._end_of_epoch(time.time() - epoch_start) or stop
                if not stop and st.epoch <= t.max_epochs and self._budget_spent(epoch_start):
                    stop = out_of_time = True
            window = Window()  # validation time is not training time
        self._save("checkpoint_last.safetensors")
        self.dist.barrier()
        tps = st.target_tokens / max(st.train_seconds, 1e-9)
        return TrainResult(str(self.out), st, params, tps, str(self.out / "checkpoint_best.safetensors"),
                           stopped_early, out_of_time)

    def _budget_left_s(self) -> float | None:
        """Seconds left of train.time_budget_minutes in this invocation; None without a budget."""
        budget = self.cfg.train.time_budget_minutes * 60
        return budget - (time.time() - self._started) if budget else None

    def _budget_spent(self, epoch_start: float) -> bool:
        """Would one more epoch, at the pace of the one just done (validation included), overrun
        train.time_budget_minutes? Rank 0's clock decides for every rank."""
        left = self._budget_left_s()
        return self.dist.broadcast_flag(left is not None and left < time.time() - epoch_start)

    def _end_of_epoch(self, epoch_seconds: float) -> bool:
        """Validate, keep the best checkpoint, decide on early stopping (rank 0 decides for all)."""
        st, t = self.state, self.cfg.train
        improved = False
        if self.dist.main:
            valid_start = time.time()
            record = self.validate()
            epoch_seconds_total = epoch_seconds + time.time() - valid_start
            if (st.best_on or self.selection_key) != self.selection_key:
                # train.select_on changed on resume: a best measured on another entry is no yardstick
                st.best, st.bad_epochs = None, 0
            st.best_on = self.selection_key
            value = record[self.selection_key]
            improved = self.task.better(value, st.best)
            st.best = value if improved else st.best
            st.bad_epochs = 0 if improved else st.bad_epochs + 1
            best = st.best
            on_output = self.selection_key == f"valid_{self.metric}"
            self._log({"step": st.step, "epoch": st.epoch - 1, "epoch_seconds": round(epoch_seconds, 1), **record,
                       f"best_{self.metric}": best, **({} if on_output else {"best_on": self.selection_key})})
            if self.progress:
                summary = " ".join(f"{k}={v}" for k, v in record.items())
                label = "best" if on_output else f"best({self.selection_key})"
                tqdm.write(f"epoch {st.epoch - 1}: {summary} {label}={best}"
                           f"{time_left(t, st, epoch_seconds_total, self._budget_left_s())}")
        # every rank takes part in saving (it gathers their RNG states), so all must know the verdict
        if self.dist.broadcast_flag(improved):
            self._save("checkpoint_best.safetensors")
        self._save("checkpoint_last.safetensors")
        return self.dist.broadcast_flag(t.patience > 0 and st.bad_epochs >= t.patience)


@contextmanager
def stop_on_signal(trainer: "Trainer"):
    """While training, the first SIGINT/SIGTERM asks the trainer to stop cleanly (yields the signal
    numbers received); the handler then steps aside, so a second one stops at once."""
    received: list[int] = []

    def on_signal(signum, frame):
        received.append(signum)
        trainer.request_stop()
        signal.signal(signum, previous[signum])
        tqdm.write(f"{signal.Signals(signum).name}: stopping after this update (again to stop at once)")  # above the bar

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

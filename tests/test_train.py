"""Training runs end to end: exact resume (same weights, same data order) after a stop or a kill -9,
and periodic / best checkpoints that are always whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from clitools import legonn, tiny_yaml
from safetensors.torch import load_file

from legonn.checkpoint import TrainerState, load_checkpoint
from legonn.config import TrainConfig, load_config
from legonn.data.task import load_task_data
from legonn.errors import LegoError
from legonn.schedule import evenly_spaced, learning_rate, time_left

# 3000 padded tokens a batch → 9 batches an epoch on the 600-pair corpus, so 14 steps cross an epoch end
# (validation, best checkpoint, a fresh shuffle). Dropout is on; fp32 keeps the arithmetic deterministic.
TRAIN = {"max_tokens": 3000, "max_steps": 14, "max_epochs": 5, "save_every": 4, "log_every": 2, "patience": 0}
STEPS = 14


def train(config: Path, *sets: str) -> str:
    proc = legonn("train", config, "--quiet", *[arg for s in sets for arg in ("--set", s)])
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def assert_same_checkpoint(a: Path, b: Path) -> None:
    """Every tensor (weights, Adam moments and step, RNG) bit-identical, and the same trainer position."""
    ta, tb = load_file(str(a)), load_file(str(b))
    assert ta.keys() == tb.keys()
    differing = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not differing, f"{len(differing)} tensors differ, e.g. {differing[:5]}"
    sa, sb = load_checkpoint(a).state, load_checkpoint(b).state
    for field in ("step", "epoch", "batches_done", "best", "bad_epochs", "target_tokens"):
        assert getattr(sa, field) == getattr(sb, field), field


@pytest.fixture(scope="module")
def reference(tiny_corpus, tiny_vocabs, tmp_path_factory) -> Path:
    """An uninterrupted 14-step run."""
    d = tmp_path_factory.mktemp("reference")
    config = tiny_yaml(tiny_corpus, tiny_vocabs, d / "run", d / "tiny.yaml", train=TRAIN)
    train(config)
    return d / "run"


def test_periodic_and_best_checkpoints(reference):
    last, best = load_checkpoint(reference / "checkpoint_last.safetensors"), \
        load_checkpoint(reference / "checkpoint_best.safetensors")
    assert last.state.step == STEPS and (last.state.epoch, last.state.batches_done) == (2, STEPS - 9)
    assert best.state.step == 9 and best.state.best >= 0.0  # validated at the end of epoch 1
    assert last.optimizer is not None and best.optimizer is not None
    assert temp_files(reference) == []


@pytest.mark.parametrize("stop_at", [5, 9])
def test_resume_is_exact(reference, tiny_corpus, tiny_vocabs, tmp_path, stop_at):
    """Stop mid-epoch (5) or exactly at the epoch end (9), resume to 14: bit-identical to never stopping."""
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "tiny.yaml", train=TRAIN)
    first = train(config, f"train.max_steps={stop_at}")
    assert first.startswith(f"done: {stop_at} steps")
    # step 5 comes before the first validation (the end of epoch 1): no best score to report yet
    assert ("best valid BLEU – (the run ended before its first validation)" in first) == (stop_at == 5)
    assert load_checkpoint(tmp_path / "run" / "checkpoint_last.safetensors").state.step == stop_at
    assert train(config).startswith(f"done: {STEPS} steps")
    assert_same_checkpoint(reference / "checkpoint_last.safetensors", tmp_path / "run" / "checkpoint_last.safetensors")
    assert_same_checkpoint(reference / "checkpoint_best.safetensors", tmp_path / "run" / "checkpoint_best.safetensors")


def test_time_budget_stops_at_an_epoch_end_and_resumes_exactly(reference, tiny_corpus, tiny_vocabs, tmp_path):
    """A budget too small for a second epoch stops after the first (validated, resumable, exit 0);
    going on without a budget lands bit-identical to the run that never stopped."""
    out = tmp_path / "run"
    config = tiny_yaml(tiny_corpus, tiny_vocabs, out, tmp_path / "tiny.yaml", train=TRAIN)
    proc = legonn("train", config, "--quiet", "--set", "train.time_budget_minutes=0.0001")
    assert proc.returncode == 0, proc.stderr.decode()
    assert "time budget of 0.0001 min spent after epoch 1 (step 9)" in proc.stderr.decode()
    state = load_checkpoint(out / "checkpoint_last.safetensors").state
    assert (state.step, state.epoch, state.batches_done) == (9, 2, 0)
    assert (out / "checkpoint_best.safetensors").exists()
    assert train(config).startswith(f"done: {STEPS} steps")
    assert_same_checkpoint(reference / "checkpoint_last.safetensors", out / "checkpoint_last.safetensors")


def test_learning_rate_schedules():
    """Both warm up linearly to the peak; 'linear' then falls in a straight line to 0 at the last update."""
    assert learning_rate(50, 1e-3, 100) == learning_rate(50, 1e-3, 100, "linear", 300) == pytest.approx(5e-4)
    assert learning_rate(100, 1e-3, 100, "linear", 300) == pytest.approx(1e-3)
    assert learning_rate(200, 1e-3, 100, "linear", 300) == pytest.approx(5e-4)
    assert learning_rate(300, 1e-3, 100, "linear", 300) == 0.0
    assert learning_rate(400, 1e-3, 100) == pytest.approx(5e-4)  # inverse square root: √(100/400)


def test_linear_schedule_reaches_zero_at_the_last_epochs_last_update(tiny_corpus, tiny_vocabs, tmp_path):
    """Epochs hold slightly different batch counts, so the run's length is counted, not guessed: the
    last logged update of a two-epoch run trains at learning rate 0."""
    out = tmp_path / "run"
    sets = {**TRAIN, "max_steps": 0, "max_epochs": 2, "log_every": 1, "lr_schedule": "linear"}
    config = tiny_yaml(tiny_corpus, tiny_vocabs, out, tmp_path / "tiny.yaml", train=sets)
    train(config)
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    updates = [r for r in logged if "lr" in r]
    assert updates[-1]["lr"] == 0.0 and updates[-2]["lr"] > 0.0
    assert [r["lr"] for r in updates[5:]] == sorted((r["lr"] for r in updates[5:]), reverse=True)  # after warm-up


def _copy_of_reference(reference: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint_last.safetensors").write_bytes((reference / "checkpoint_last.safetensors").read_bytes())
    return out


def test_resume_at_max_steps_trains_no_further(reference, tiny_corpus, tiny_vocabs, tmp_path):
    out = _copy_of_reference(reference, tmp_path)
    config = tiny_yaml(tiny_corpus, tiny_vocabs, out, tmp_path / "tiny.yaml", train=TRAIN)
    train(config)
    assert load_checkpoint(out / "checkpoint_last.safetensors").state.step == STEPS


def test_no_resume_starts_fresh(reference, tiny_corpus, tiny_vocabs, tmp_path):
    out = _copy_of_reference(reference, tmp_path)
    config = tiny_yaml(tiny_corpus, tiny_vocabs, out, tmp_path / "tiny.yaml", train=TRAIN)
    proc = legonn("train", config, "--quiet", "--no-resume", "--set", "train.max_steps=2")
    assert proc.returncode == 0, proc.stderr.decode()
    assert load_checkpoint(out / "checkpoint_last.safetensors").state.step == 2


def _last_logged_step(out: Path) -> int:
    lines = (out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").exists() else []
    return json.loads(lines[-1])["step"] if lines and lines[-1].endswith("}") else 0


def _start_long_run(config: Path) -> subprocess.Popen:
    """`legonn train CONFIG` in a child process on one thread, stderr captured: the run a test interrupts."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "legonn.cli", "train", str(config), "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _assert_lands_like_an_uninterrupted_run(config: Path, out: Path, target: int, long_run: dict, tiny_corpus,
                                            tiny_vocabs, tmp_path: Path) -> None:
    """Resume CONFIG to step `target`; its checkpoint_last must equal a fresh run's that never stopped."""
    assert train(config, f"train.max_steps={target}").startswith(f"done: {target} steps")
    ref_config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "ref", tmp_path / "ref.yaml", train=long_run)
    train(ref_config, f"train.max_steps={target}")
    assert_same_checkpoint(tmp_path / "ref" / "checkpoint_last.safetensors", out / "checkpoint_last.safetensors")


def test_kill_9_then_resume(tiny_corpus, tiny_vocabs, tmp_path):
    """kill -9 a run that would go on for long after its first checkpoint: the checkpoint is whole, and
    resuming from it lands exactly where an uninterrupted run does."""
    long_run = {**TRAIN, "max_steps": 0, "max_epochs": 1000, "save_every": 3}
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "tiny.yaml", train=long_run)
    out = tmp_path / "run"
    last = out / "checkpoint_last.safetensors"
    proc = _start_long_run(config)
    try:
        deadline = time.time() + 90
        while not last.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline, "no checkpoint within 90 s"
            time.sleep(0.02)
        while _last_logged_step(out) < 4:  # and a little further: kill it between saves
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    killed_at = load_checkpoint(last).state.step  # loads: never half a file
    assert killed_at > 0 and killed_at % 3 == 0
    # A kill -9 inside a save may strand its temp file, never a broken checkpoint; the next save sweeps it.
    assert all(name.startswith(".checkpoint_") for name in temp_files(out))

    _assert_lands_like_an_uninterrupted_run(config, out, killed_at + 4, long_run, tiny_corpus, tiny_vocabs, tmp_path)
    assert temp_files(out) == []


def test_sigterm_stops_cleanly_and_resumes_exactly(tiny_corpus, tiny_vocabs, tmp_path):
    """SIGTERM (as Ctrl-C) ends a long run after the update in progress: checkpoint_last is saved at
    that step (not back at a periodic save), the exit status says which signal, and resuming lands
    exactly where an uninterrupted run does."""
    long_run = {**TRAIN, "max_steps": 0, "max_epochs": 1000, "save_every": 1000}
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "tiny.yaml", train=long_run)
    out = tmp_path / "run"
    proc = _start_long_run(config)
    try:
        deadline = time.time() + 90
        while _last_logged_step(out) < 4:
            assert proc.poll() is None and time.time() < deadline, "no progress within 90 s"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGTERM)
        stderr = proc.communicate(timeout=60)[1].decode()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    stopped_at = load_checkpoint(out / "checkpoint_last.safetensors").state.step
    assert stopped_at >= 4 and f"stopped at step {stopped_at} (SIGTERM)" in stderr and "Traceback" not in stderr

    _assert_lands_like_an_uninterrupted_run(config, out, stopped_at + 3, long_run, tiny_corpus, tiny_vocabs, tmp_path)


def test_recipe_training_stops_on_sigterm_without_scoring(tiny_corpus, tiny_vocabs, tmp_path):
    """The recipes (legonn.experiments.systems.train_system) stop on SIGTERM as `legonn train` does: checkpoint_last
    saved, exit status 128 + SIGTERM, and the recipe does not go on to score a half-trained model."""
    long_run = {**TRAIN, "max_steps": 0, "max_epochs": 1000, "save_every": 1000}
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "tiny.yaml", train=long_run)
    script = (f"from legonn.experiments.systems import train_system; train_system({str(config)!r}); print('went on to score')")
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 90
        while _last_logged_step(tmp_path / "run") < 2:
            assert proc.poll() is None and time.time() < deadline, "no progress within 90 s"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = (b.decode() for b in proc.communicate(timeout=60))
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    stopped_at = load_checkpoint(tmp_path / "run" / "checkpoint_last.safetensors").state.step
    assert f"stopped at step {stopped_at} (SIGTERM)" in stderr and "went on to score" not in stdout


def test_resume_after_early_stop_trains_no_further(tiny_corpus, tiny_vocabs, tmp_path):
    """Patience 1 stops after the second epoch (validation BLEU cannot beat the first's at this size);
    resuming that finished run must not train another epoch."""
    train_cfg = {**TRAIN, "max_steps": 0, "max_epochs": 50, "patience": 1, "valid_max_sentences": 5}
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "tiny.yaml", train=train_cfg)
    train(config)
    first = load_checkpoint(tmp_path / "run" / "checkpoint_last.safetensors").state
    assert first.bad_epochs == 1 and first.epoch < 50
    train(config)
    assert load_checkpoint(tmp_path / "run" / "checkpoint_last.safetensors").state.step == first.step


def test_resume_rewinds_the_metrics_log(reference, tiny_corpus, tiny_vocabs, tmp_path):
    """Records logged after the checkpoint of a killed run are dropped, not repeated."""
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "tiny.yaml", train=TRAIN)
    train(config, "train.max_steps=6")  # checkpoints at 4 (save_every) and 6 (stop)
    log = tmp_path / "run" / "metrics.jsonl"
    with open(log, "a") as f:  # as if steps 7 and 8 had been logged before a kill
        f.write(json.dumps({"step": 7, "loss": 1.0}) + "\n" + json.dumps({"step": 8, "loss": 1.0}) + "\n")
    train(config)
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines() if "loss" in line]
    assert steps == sorted(set(steps)), steps


def test_resume_refuses_a_different_batching(reference, tiny_corpus, tiny_vocabs, tmp_path):
    out = _copy_of_reference(reference, tmp_path)
    config = tiny_yaml(tiny_corpus, tiny_vocabs, out, tmp_path / "tiny.yaml", train=TRAIN)
    proc = legonn("train", config, "--quiet", "--set", "train.max_tokens=2000", "--set", "train.max_steps=20")
    assert proc.returncode != 0 and "train.max_tokens" in proc.stderr.decode() and "Traceback" not in proc.stderr.decode()


def test_empty_training_file_is_an_error(tiny_corpus, tiny_vocabs, tmp_path):
    empty = tmp_path / "empty.de"
    empty.write_text("")
    config = tiny_yaml(tiny_corpus, tiny_vocabs, tmp_path / "run", tmp_path / "tiny.yaml", train=TRAIN)
    proc = legonn("train", config, "--quiet", "--set", f"data.train_src={empty}")
    assert proc.returncode != 0 and f"{empty}: file has no lines" in proc.stderr.decode()


def test_time_left_counts_the_epochs_still_to_run():
    state = TrainerState(epoch=11)  # 10 epochs done
    assert time_left(TrainConfig(max_epochs=40), state, 360.0) == " (6.0 min/epoch, ~3h 00m left for 30 epochs)"
    assert time_left(TrainConfig(max_epochs=40), state, 360.0, budget_left_s=1900.0) == \
        " (6.0 min/epoch, ~3h 00m left for 30 epochs; the time budget allows 5 more)"
    assert time_left(TrainConfig(max_epochs=40, max_steps=500), state, 360.0) == ""  # steps bound the run
    assert time_left(TrainConfig(max_epochs=10), state, 360.0) == ""


def test_validation_cap_spreads_over_the_whole_dev_set():
    assert evenly_spaced(3000, 1000)[:3] == [0, 3, 6] and evenly_spaced(3000, 1000)[-1] == 2997
    assert len(set(evenly_spaced(10, 4))) == 4 and evenly_spaced(10, 4) == [0, 2, 5, 7]
    assert evenly_spaced(5, 0) == evenly_spaced(5, 9) == [0, 1, 2, 3, 4]  # no cap, or a cap above the size


def test_train_limit_keeps_the_first_training_pairs(tiny_config):
    full, cut = (load_task_data(cfg, cfg.model.task(cfg.task))
                 for cfg in (load_config(tiny_config), load_config(tiny_config, ["data.train_limit=50"])))
    assert len(full.pairs.src) == 600 and len(cut.pairs.src) == 50
    assert all((a == b).all() for a, b in zip(cut.pairs.tgt, full.pairs.tgt[:50]))
    assert len(cut.valid_refs) == len(full.valid_refs)  # validation is never cut
    with pytest.raises(LegoError, match="data.train_limit"):
        load_config(tiny_config, ["data.train_limit=-1"])

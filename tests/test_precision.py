"""precision: auto picks bf16 only where the CPU does bf16 in hardware; explicit choices are kept."""

import pytest

from legonn import precision
from legonn.config import TrainConfig, load_config
from legonn.assemble import build_run
from legonn.train import Trainer


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_follows_the_cpu(monkeypatch, native, expected):
    monkeypatch.setattr(precision, "has_native_bf16", lambda: native)
    assert precision.resolve_precision("auto") == expected


@pytest.mark.parametrize("name", ["bf16", "fp32"])
def test_explicit_choice_is_kept_on_any_cpu(monkeypatch, name):
    monkeypatch.setattr(precision, "has_native_bf16", lambda: name != "bf16")
    assert precision.resolve_precision(name) == name


def test_native_bf16_is_read_from_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2", "avx512f", "amx_bf16"})
    assert precision.has_native_bf16()


def test_auto_is_the_default():
    assert TrainConfig().precision == "auto"


def test_trainer_records_the_resolved_precision(tiny_config, monkeypatch):
    monkeypatch.setattr(precision, "has_native_bf16", lambda: False)
    cfg = load_config(tiny_config, ["train.precision=auto"])
    assert Trainer(build_run(cfg, progress=False), resume=False, progress=False).cfg.train.precision == "fp32"

"""Run under torch.distributed.run: train CONFIG with `legonn.train.Trainer`, then write this rank's
weights and Adam moments to OUT/rank{RANK}.safetensors so a test can compare the ranks.

    python -m torch.distributed.run --nproc_per_node=2 tests/ddp_worker.py CONFIG OUT [key=value ...]

(A helper for tests/test_ddp.py, not a test module.) The trainer itself only saves on rank 0.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file

from legonn.config import load_config
from legonn.assemble import build_run
from legonn.train import Trainer


def main(argv: list[str]) -> None:
    config, out, *overrides = argv
    torch.set_num_threads(1)
    trainer = Trainer(build_run(load_config(config, overrides), progress=False), resume=False, progress=False)
    result = trainer.run()
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in trainer.model.state_dict().items()}
    for pid, state in trainer.optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"optim.{pid}.{key}"] = torch.as_tensor(value).contiguous()
    meta = {"step": str(result.state.step), "epoch": str(result.state.epoch), "world": str(dist.get_world_size())}
    Path(out).mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(Path(out) / f"rank{os.environ['RANK']}.safetensors"), metadata=meta)
    trainer.close()


if __name__ == "__main__":
    main(sys.argv[1:])

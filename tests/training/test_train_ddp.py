"""DDP: `torchrun --nproc_per_node 2` runs the same training call (gloo on the CPU here)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from test_train import MICRO, add_subject  # same folder (pytest puts it on sys.path)

from ptx.cache.checkpoints import latest_checkpoint, load_checkpoint
from ptx.cache.workspace import Workspace

SCRIPT = textwrap.dedent(
    """
    import sys
    from ptx.training.run import train
    train(sys.argv[1], "toy", overrides={overrides!r})
    """
)


@pytest.mark.slow
def test_two_process_ddp_training_writes_one_run(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    add_subject(ws, "toy", seed=0)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(overrides={**MICRO, "threads": 1}))
    env = {**os.environ, "PTX_WEIGHTS": str(tmp_path / "none"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--standalone", str(script), str(ws.root)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = list((ws.root / "runs" / "toy" / "d2g").iterdir())
    assert len(runs) == 1  # rank 0 made the folder, rank 1 used it
    state = load_checkpoint(latest_checkpoint(runs[0] / "checkpoints"))
    assert state["step"] == 8 and len(state["sampler"]) == 2
    a, b = state["sampler"]
    assert not torch.equal(a["perm"], b["perm"])  # each rank draws its own batches

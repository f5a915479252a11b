"""DDP: `torchrun` runs the same training call: two processes (gloo on the CPU here), and
one process, which trains through DDP too (gloo on the CPU, NCCL on a GPU)."""

from __future__ import annotations

import json
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
    import json, sys
    from ptx.training.run import train
    result = train(sys.argv[1], "toy", overrides={overrides!r})
    print("NOTES " + json.dumps(result.notes))
    """
)


def torchrun(tmp_path, ws: Workspace, procs: int, overrides: dict, cuda: bool):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(overrides=overrides))
    env = {**os.environ, "PTX_WEIGHTS": str(tmp_path / "none"), "OMP_NUM_THREADS": "1"}
    if not cuda:  # a GPU machine would otherwise put every rank on a GPU it may not have
        env["CUDA_VISIBLE_DEVICES"] = ""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs),
           "--standalone", str(script), str(ws.root)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    notes = [json.loads(line[6:]) for line in proc.stdout.splitlines() if line.startswith("NOTES ")]
    return notes


@pytest.mark.slow
def test_two_process_ddp_training_writes_one_run(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    add_subject(ws, "toy", seed=0)
    notes = torchrun(tmp_path, ws, 2, {**MICRO, "threads": 1}, cuda=False)
    assert len(notes) == 2 and "Training through DDP: 2 process(es), backend gloo." in notes[0]
    runs = list((ws.root / "runs" / "toy" / "d2g").iterdir())
    assert len(runs) == 1  # rank 0 made the folder, rank 1 used it
    state = load_checkpoint(latest_checkpoint(runs[0] / "checkpoints"))
    assert state["step"] == 8 and len(state["sampler"]) == 2
    a, b = state["sampler"]
    assert not torch.equal(a["perm"], b["perm"])  # each rank draws its own batches


@pytest.mark.parametrize(
    "device",
    [
        pytest.param("cpu", marks=pytest.mark.slow),
        pytest.param(
            "cuda",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
            ],
        ),
    ],
)
def test_one_process_under_torchrun_trains_through_ddp(tmp_path, device):
    """`torchrun --nproc_per_node 1` (one GPU): the process group starts (NCCL on CUDA) and
    the networks train wrapped in DDP, with bf16 autocast and channels_last on CUDA."""
    ws = Workspace.open(tmp_path / "ws")
    add_subject(ws, "toy", seed=0)
    over = {**MICRO, "threads": 1, "device": device, "amp": True, "channels_last": True}
    (notes,) = torchrun(tmp_path, ws, 1, over, cuda=device == "cuda")
    backend = "nccl" if device == "cuda" else "gloo"
    assert f"Training through DDP: 1 process(es), backend {backend}." in notes
    (run,) = list((ws.root / "runs" / "toy" / "d2g").iterdir())
    state = load_checkpoint(latest_checkpoint(run / "checkpoints"))
    assert state["step"] == 8 and len(state["sampler"]) == 1
    weights = state["trainer"]["generator"]
    assert not any(k.startswith("module.") for k in weights)  # saved unwrapped: loads anywhere
    assert all(torch.isfinite(v).all() for v in weights.values())


def ptx_torchrun(tmp_path, procs: int, *args: str) -> subprocess.CompletedProcess:
    """`torchrun --nproc_per_node PROCS -m ptx.cli.main ARGS` on the CPU (gloo)."""
    env = {**os.environ, "PTX_WEIGHTS": str(tmp_path / "none"), "OMP_NUM_THREADS": "1",
           "CUDA_VISIBLE_DEVICES": ""}  # fmt: skip
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs),
           "--standalone", "-m", "ptx.cli.main", *args]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_ptx_train_under_torchrun_speaks_once_and_resumes_only_with_its_world(tmp_path, cli):
    """Rank 0 alone prints (rank 1 used to print its own summary, "Held-out PSNR nan dB")
    and writes the run; G's DDP wrapper looks for unused parameters only during the UV
    warm-up (steps 1-2 here: without it DDP fails at step 2, with it afterwards the
    static and full phases run as wrapped); resuming with another number of processes
    is refused in one line, with the same number it continues."""
    ws = Workspace.open(tmp_path / "ws")
    add_subject(ws, "toy", seed=0)
    sets = [x for k, v in {**MICRO, "threads": 1}.items() for x in ("--set", f"{k}={v}")]
    first = ptx_torchrun(tmp_path, 2, "train", "-s", "toy", "-w", ws.root, *sets)
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.count("Held-out PSNR") == 1 and "nan" not in first.stdout
    assert first.stdout.count("Trained toy (d2g) to step 8/8") == 1
    assert first.stderr.count("train: run folder") == 1 and "(rank 1)" not in first.stderr
    assert first.stderr.count("note: UV generator") == 1
    (run,) = list((ws.root / "runs" / "toy" / "d2g").iterdir())
    assert len(load_checkpoint(latest_checkpoint(run / "checkpoints"))["sampler"]) == 2

    alone = cli("train", "-s", "toy", "-w", ws.root, "--resume", "--steps", "8")
    assert alone.code == 2
    assert alone.err.strip() == (
        "ptx: error: This run was trained by 2 process(es); it is being resumed by 1. Resume "
        "with the same number of processes (torchrun --nproc_per_node 2): each continues its "
        "own batch order."
    )
    again = ptx_torchrun(tmp_path, 2, "train", "-s", "toy", "-w", ws.root, "--resume",
                         "--steps", "8")  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("Trained toy (d2g) to step 10/10") == 1
    assert latest_checkpoint(run / "checkpoints").name.startswith("step-000000010")

"""`ptx train` end to end on a tiny synthetic subject: run folder, exact resume, refusing
malicious checkpoints, NaN handling, the VGG-19 fallback, UV pretraining."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import pytest
import torch
import yaml

from ptx.body.toydata import make_toy_subject
from ptx.cache.checkpoints import latest_checkpoint, load_checkpoint
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.errors import InputError, StageError
from ptx.methods.d2g import losses
from ptx.training.pretrain import pretrain
from ptx.training.run import train

MICRO = {
    "size": 16, "uv_width": 4, "uv_down": 2, "uv_res": 1, "tr_width": 4, "tr_down": 2,
    "tr_res": 1, "tex_size": 8, "tex_channels": 6, "d_width": 4, "d_layers": 2, "batch": 1,
    "uv_warmup_steps": 2, "gan_start": 2, "steps": 6, "log_every": 1, "eval_every": 2,
    "sample_every": 3, "checkpoint_every": 2, "eval_frames": 2, "tensorboard": False,
    "device": "cpu",
}  # fmt: skip
"""A model small enough for a step to take milliseconds; every phase within 8 steps."""


def add_subject(ws: Workspace, subject: str, seed: int, frames: int = 10) -> None:
    toy = make_toy_subject(frames=frames, size=32, seed=seed)
    store = VideoStore(ws, f"video-{subject}")
    for name, a in toy.arrays().items():
        store.create_array(name, a.shape, a.dtype, time_axis=name != "background")
        store.write(name, 0, a)
    ws.add_video_to_subject(subject, f"video-{subject}")


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path / "no-weights"))
    w = Workspace.open(tmp_path / "ws")
    add_subject(w, "toy", seed=0)
    return w


def tensors_equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(tensors_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(tensors_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.slow
def test_resume_is_bit_identical_and_the_run_folder_is_complete(ws):
    straight = train(ws, "toy", overrides=MICRO)
    assert straight.end_step == straight.total_steps == 8  # 2 warm-up + 6
    cut = train(ws, "toy", overrides=MICRO, stop_at=3)
    assert cut.end_step == 3 and cut.checkpoint.name == "step-000000003.pt"
    resumed = train(ws, "toy", resume=True)  # the newest run: `cut`
    assert resumed.run_dir == cut.run_dir and resumed.start_step == 3 and resumed.end_step == 8
    a = load_checkpoint(straight.checkpoint)
    b = load_checkpoint(resumed.checkpoint)
    assert a["method"] == b["method"] == "d2g"
    assert tensors_equal(a["trainer"], b["trainer"]) and tensors_equal(a["sampler"], b["sampler"])
    run = straight.run_dir
    info = yaml.safe_load((run / "config.yaml").read_text())
    assert info["config"]["size"] == 16 and info["videos"][0]["heldout_frames"] == [9, 10]
    assert (run / "checkpoints" / "last").read_text().strip() == "step-000000008.pt"
    kept = sorted(p.name for p in (run / "checkpoints").glob("step-*.pt"))
    assert kept == ["step-000000004.pt", "step-000000006.pt", "step-000000008.pt"]
    rows = (run / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,phase") and len(rows) > 8
    assert (run / "samples" / "step-000000000.png").is_file()
    # the resumed run's CSV has each training step once (rows after step 3 were redone)
    with open(cut.run_dir / "log.csv", newline="") as f:
        trained = [int(r["step"]) for r in csv.DictReader(f) if r["lr"]]
    assert trained == list(range(1, 9))


def test_missing_vgg_weights_are_replaced_and_logged(ws):
    result = train(ws, "toy", overrides={**MICRO, "steps": 1, "uv_warmup_steps": 0})
    assert result.end_step == 1
    log = (result.run_dir / "train.log").read_text()
    assert "VGG-19 perceptual loss unavailable" in log and "vgg19-dcbb9e9d.pth" in log
    assert "pixel L1 + discriminator feature matching" in log
    assert "warming it up" not in log and "uv_warmup_steps=0" in log


class Payload:
    """Unpickling this would create a file: the proof that the loader ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_malicious_checkpoint_is_refused_without_running_it(ws, tmp_path):
    result = train(ws, "toy", overrides={**MICRO, "steps": 1, "uv_warmup_steps": 0})
    marker = tmp_path / "payload-ran"
    evil = result.checkpoint.parent / "step-000000009.pt"
    with open(evil, "wb") as f:
        pickle.dump({"format": "ptx-d2g-checkpoint", "generator": Payload(marker)}, f, protocol=2)
    (evil.parent / "last").write_text(evil.name + "\n")
    assert latest_checkpoint(evil.parent) == evil
    with pytest.raises(InputError, match="Refused to load"):
        train(ws, "toy", resume=True)
    assert not marker.exists()


def test_nan_loss_stops_with_the_last_good_checkpoint(ws, monkeypatch):
    real = losses.mask_loss
    calls = {"n": 0}

    def poisoned(alpha, mask):
        calls["n"] += 1
        out = real(alpha, mask)
        return out * float("nan") if calls["n"] >= 3 else out

    monkeypatch.setattr(losses, "mask_loss", poisoned)
    over = {**MICRO, "uv_warmup_steps": 0, "checkpoint_every": 1}
    with pytest.raises(StageError, match=r"Loss 'mask' became nan at step 3") as info:
        train(ws, "toy", overrides=over)
    assert "step-000000002.pt" in str(info.value)
    run = sorted((ws.root / "runs" / "toy" / "d2g").iterdir())[-1]
    good = latest_checkpoint(run / "checkpoints")
    assert good is not None and good.name == "step-000000002.pt"
    state = load_checkpoint(good)
    assert all(torch.isfinite(v).all() for v in state["trainer"]["generator"].values())
    assert "stopped at step 3" in (run / "train.log").read_text()


def test_resume_refuses_architecture_changes_and_missing_runs(ws):
    with pytest.raises(InputError, match="no training run to resume"):
        train(ws, "toy", resume=True)
    train(ws, "toy", overrides={**MICRO, "steps": 1, "uv_warmup_steps": 0})
    with pytest.raises(InputError, match="tr_width"):
        train(ws, "toy", resume=True, overrides={"tr_width": 8})


def test_pretrained_uv_generator_is_found_and_used(ws):
    add_subject(ws, "other", seed=1)
    pre = pretrain(ws, ["toy", "other"], overrides=MICRO, steps=3)
    assert pre.path.is_file() and pre.videos == 2 and 0.0 <= pre.final["accuracy"] <= 1.0
    used = train(ws, "toy", overrides={**MICRO, "steps": 1})
    assert any("loaded the pretrained one" in n for n in used.notes)
    assert used.total_steps == 1  # no warm-up
    other = train(ws, "toy", overrides={**MICRO, "steps": 1, "uv_width": 8})
    assert any("warming it up on this subject for 2 steps" in n for n in other.notes)
    assert other.total_steps == 3


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bf16_channels_last_training_runs(ws):
    over = {**MICRO, "device": "cuda", "amp": True, "channels_last": True}
    result = train(ws, "toy", overrides=over)
    assert result.end_step == 8 and result.final["psnr"] > result.initial["psnr"] - 1.0
    state = load_checkpoint(result.checkpoint)
    assert all(torch.isfinite(v).all() for v in state["trainer"]["generator"].values())


def _record(store: VideoStore, stage: str, token: str) -> None:
    from ptx.cache.records import StageRecord

    store.write_record(StageRecord(stage, 1, "test", {}, "", {}, token, status="complete"))


def test_a_run_knows_its_inputs_and_says_when_they_changed(ws, cli):
    store = VideoStore(ws, "video-toy")
    for stage in ("poselabel", "iuv", "mask"):
        _record(store, stage, "first")
    result = train(ws, "toy", overrides={**MICRO, "steps": 1, "uv_warmup_steps": 0})
    info = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert info["method"] == "d2g"
    assert info["inputs"] == {"video-toy": {"iuv": "first", "mask": "first", "poselabel": "first"}}
    res = cli("status", "--workspace", ws.root)
    assert res.code == 0 and "unchanged" in res.out and result.run_dir.name in res.out
    _record(store, "poselabel", "second")  # the video was prepared again
    res = cli("status", "toy", "--workspace", ws.root)
    assert "poselabel prepared again" in res.out
    resumed = train(ws, "toy", resume=True, overrides={"steps": 2})
    assert any("inputs changed since it started: video video-toy: poselabel" in n
               for n in resumed.notes)  # fmt: skip

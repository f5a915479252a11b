"""Textured Neural Avatars: the bone-stack input, the static path without a translator,
exact resume, and a learning floor on a synthetic subject."""

from __future__ import annotations

import pytest
import torch
from toy_subjects import add_toy_subject, mean_frame_psnr, same

from ptx.body.skeleton import BODY_25_LIMBS
from ptx.body.toydata import make_toy_subject
from ptx.cache.checkpoints import load_checkpoint
from ptx.cache.workspace import Workspace
from ptx.methods.registry import get_method
from ptx.methods.tna.model import TNAGenerator
from ptx.training.run import train

TNA = get_method("tna")
MICRO = {
    "size": 16, "uv_width": 4, "uv_down": 2, "uv_res": 1, "tex_size": 8, "batch": 2,
    "uv_warmup_steps": 2, "steps": 5, "log_every": 1, "eval_every": 2, "sample_every": 3,
    "checkpoint_every": 2, "eval_frames": 2, "tensorboard": False, "device": "cpu",
}  # fmt: skip


def test_input_is_one_bone_per_channel_from_the_keypoints():
    cfg = TNA.resolve_config("tiny", {"size": 32})
    enc = TNA.encoding(cfg, (32, 32))
    assert enc.arrays == ("keypoints",) and enc.channels == len(BODY_25_LIMBS) == 24
    toy = make_toy_subject(frames=2, size=32, seed=0)
    x = enc({"keypoints": torch.from_numpy(toy.keypoints)})
    assert x.shape == (2, 24, 32, 32)
    # the neck-to-hip bone (channel 0) lies on the figure's spine: the mask covers it
    spine = x[0, 0] > -1.0
    assert spine.sum() >= 7 and (torch.from_numpy(toy.mask[0])[spine] > 128).all()
    # feet keypoints are absent in the paper doll: their bones stay empty
    toes = BODY_25_LIMBS.index((14, 19))
    assert (x[:, toes] == -1).all()


def test_the_generator_has_no_translator_and_an_rgb_texture():
    cfg = TNA.resolve_config("tiny", MICRO)
    g = TNAGenerator(cfg)
    assert g.texture.channels == 3 and not g.uv_generator.iuv_input
    assert not any("translator" in n for n, _ in g.named_parameters())
    out = g(torch.randn(2, 24, 16, 16))
    assert out.output.shape == (2, 3, 16, 16) and out.alpha.shape == (2, 1, 16, 16)


@pytest.mark.slow
def test_resume_is_bit_identical(toy_ws):
    straight = train(toy_ws, "toy", overrides=MICRO, method="tna")
    assert straight.end_step == straight.total_steps == 7
    cut = train(toy_ws, "toy", overrides=MICRO, method="tna", stop_at=3)
    resumed = train(toy_ws, "toy", resume=True, method="tna")
    assert resumed.run_dir == cut.run_dir and resumed.end_step == 7
    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(resumed.checkpoint)
    assert a["method"] == "tna" and same(a["trainer"], b["trainer"])
    assert same(a["sampler"], b["sampler"])


@pytest.mark.slow
def test_a_tiny_run_learns(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path / "no-weights"))
    ws = Workspace.open(tmp_path / "ws")
    add_toy_subject(ws, "toy", frames=40, size=32, seed=0)
    result = train(ws, "toy", overrides={"size": 32, "steps": 80, "uv_warmup_steps": 20,
                                         "tensorboard": False, "threads": 1}, method="tna")  # fmt: skip
    assert result.final["psnr"] >= result.initial["psnr"] + 3.0, (result.initial, result.final)
    # and it learned the pose, not only the average picture
    assert result.final["psnr"] >= mean_frame_psnr(40, 32, 0) + 1.0, result.final

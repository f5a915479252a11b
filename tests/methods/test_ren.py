"""Ren et al.: the pose augmentation in keypoint space, the window the stages read,
foreground + alpha, exact resume with the unpaired bank, bad --unpaired names, and a
learning floor on a paper-doll subject."""

from __future__ import annotations

import pytest
import torch
from toy_subjects import add_toy_subject, same

from ptx.body.skeleton import BODY_25_LIMBS
from ptx.body.toydata import make_toy_subject
from ptx.cache.checkpoints import load_checkpoint
from ptx.cache.workspace import Workspace
from ptx.errors import InputError
from ptx.methods.base import RenderInputs
from ptx.methods.registry import METHODS, get_method
from ptx.methods.ren.model import RenInference, RenNets
from ptx.methods.ren.posebank import fit_to, read_bank
from ptx.methods.ren.poses import augment, drop_limbs
from ptx.nn.losses import psnr
from ptx.training.load import load_subject_data
from ptx.training.run import train

REN = get_method("ren")
MICRO = {
    "size": 16, "width": 4, "n_down": 2, "n_res": 1, "d_width": 4, "d_layers": 2,
    "d_scales": 1, "batch": 2, "coarse_steps": 2, "steps": 2, "stage2_steps": 2,
    "log_every": 1, "eval_every": 2, "sample_every": 3, "checkpoint_every": 2,
    "eval_frames": 2, "tensorboard": False, "device": "cpu", "threads": 1,
}  # fmt: skip
NO_AUG = {"aug_jitter": 0.0, "aug_limb_p": 0.0, "aug_limb": 0.0, "aug_drop_p": 0.0,
          "aug_scale": 0.0, "aug_shift": 0.0}  # fmt: skip


def _cfg(**changes):
    return REN.resolve_config("tiny", {**MICRO, **changes})


def _pose(n: int = 1) -> torch.Tensor:
    """(n, 1, 25, 3) keypoints of a paper doll at 32 px (feet missing)."""
    kp = torch.from_numpy(make_toy_subject(frames=n, size=32, seed=0).keypoints).float()
    return kp[:, None]


def test_registered_with_a_centred_window_and_lookahead():
    assert "ren" in METHODS and REN.kind == "person"
    assert REN.window(_cfg()).offsets == tuple(range(-4, 5))  # G2 reads G1 at t-2..t+2
    assert REN.window(_cfg(stage2=False)).offsets == (-2, -1, 0, 1, 2)
    assert REN.window(_cfg(stage2=False, causal=True)).offsets == (-4, -3, -2, -1, 0)
    assert REN.window(_cfg()).after == 4
    enc = REN.encoding(_cfg(), (16, 16))
    assert enc.arrays == ("keypoints",) and enc.channels == len(BODY_25_LIMBS)


def test_no_augmentation_magnitudes_change_nothing():
    kp = _pose(3).transpose(0, 1)  # one item, 3 frames
    assert torch.allclose(augment(kp, (32, 32), _cfg(**NO_AUG)), kp, atol=1e-4)


def test_limb_rescale_moves_the_subtree_and_keeps_other_limbs():
    kp = _pose(1)  # (1, 1, 25, 3)
    cfg = _cfg(**{**NO_AUG, "aug_limb_p": 0.999, "aug_limb": 0.5})
    torch.manual_seed(3)
    out = augment(kp, (32, 32), cfg)
    present = kp[0, 0, :, 2] > 0.1
    changed = 0
    for a, b in BODY_25_LIMBS:
        if not (present[a] and present[b]):
            continue
        before = (kp[0, 0, b, :2] - kp[0, 0, a, :2]).norm()
        after = (out[0, 0, b, :2] - out[0, 0, a, :2]).norm()
        ratio = float(after / before)
        assert 0.5 - 1e-4 <= ratio <= 1.5 + 1e-4  # each limb scaled by its own factor
        changed += abs(ratio - 1.0) > 0.01
        # the limb keeps its direction: the joints below moved with its end
        cos = torch.nn.functional.cosine_similarity(
            out[0, 0, b, :2] - out[0, 0, a, :2], kp[0, 0, b, :2] - kp[0, 0, a, :2], dim=0
        )
        assert cos > 0.9999
    assert changed >= 5
    assert torch.equal(out[..., 2], kp[..., 2])  # confidences kept


def test_global_shift_is_the_same_for_every_joint_and_frame():
    kp = _pose(4).transpose(0, 1)  # one item, 4 frames
    torch.manual_seed(0)
    out = augment(kp, (32, 32), _cfg(**{**NO_AUG, "aug_shift": 0.2}))
    d = out[..., :2] - kp[..., :2]
    assert d.abs().max() > 0.1 and torch.allclose(d, d[:, :1, :1].expand_as(d), atol=1e-5)


def test_dropped_limbs_are_whole_empty_channels():
    maps = torch.zeros(50, 24, 4, 4)
    torch.manual_seed(0)
    out = drop_limbs(maps, 0.3)
    empty = (out == -1).all(dim=(2, 3))
    assert ((out == -1) | (out == 0)).all() and 0.2 < empty.float().mean() < 0.4


def test_stage2_reads_every_block_of_its_window_in_order():
    """The renderer's window t-4..t+4: G2's output at t depends on the edge blocks (G1 at
    t-2 and t+2 read them), and G1's output at t only on the blocks t-2..t+2."""
    cfg = _cfg()
    torch.manual_seed(0)
    nets = RenNets(cfg, 1, (16, 16)).eval()
    blocks = torch.rand(9, 24, 16, 16) * 2 - 1  # frames t-4..t+4

    def run(bl: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return nets.forward_window(bl.reshape(1, 9 * 24, 16, 16))

    final, centre = run(blocks)
    for j in range(9):
        other = blocks.clone()
        other[j] = torch.rand(24, 16, 16) * 2 - 1
        f, c = run(other)
        assert not torch.equal(f, final), j  # G2 at t reads every frame t-4..t+4
        assert torch.equal(c, centre) == (j not in range(2, 7)), j  # G1 at t: t-2..t+2


def test_renders_colour_and_alpha_over_any_background():
    cfg = _cfg(stage2=False)
    torch.manual_seed(0)
    nets = RenNets(cfg, 2, (16, 16))
    state = {"nets": nets.state_dict()}
    model = RenInference(cfg, state, torch.device("cpu"), (16, 16))
    pose = torch.rand(3, 5 * 24, 16, 16) * 2 - 1
    video = torch.zeros(3, dtype=torch.long)
    a, _ = model(RenderInputs(pose, {}, video, background=-torch.ones(1, 3, 16, 16)), None)
    b, _ = model(RenderInputs(pose, {}, video, background=torch.ones(1, 3, 16, 16)), None)
    assert a.alpha.shape == (3, 1, 16, 16) and a.alpha.min() >= 0 and a.alpha.max() <= 1
    assert torch.equal(a.fg, b.fg)  # the person does not depend on the background
    # composite = fg * alpha + bg * (1 - alpha) for both backgrounds
    assert torch.allclose(b.output - a.output, 2 * (1 - a.alpha).expand_as(a.output), atol=1e-5)


@pytest.mark.slow
def test_resume_is_bit_identical_with_the_unpaired_bank(toy_ws):
    add_toy_subject(toy_ws, "other", frames=14, size=32, seed=4)
    over = {**MICRO, "unpaired": "other"}
    straight = train(toy_ws, "toy", overrides=over, method="ren")
    assert straight.end_step == straight.total_steps == 6
    assert any("Unpaired pose bank: 14 frames" in n for n in straight.notes)
    cut = train(toy_ws, "toy", overrides=over, method="ren", stop_at=3)  # inside stage1
    resumed = train(toy_ws, "toy", resume=True, method="ren")
    assert resumed.run_dir == cut.run_dir and resumed.end_step == 6
    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(resumed.checkpoint)
    assert a["method"] == "ren" and same(a["trainer"], b["trainer"])
    assert a["trainer"]["bank"]["names"] == ["video-other"]
    # G2 trained in the last phase, G1 frozen there
    mid = load_checkpoint(straight.run_dir / "checkpoints" / "step-000000004.pt")
    g1 = [k for k in a["trainer"]["nets"] if k.startswith("g1.")]
    g2 = [k for k in a["trainer"]["nets"] if k.startswith("g2.") and "weight" in k]
    assert all(torch.equal(a["trainer"]["nets"][k], mid["trainer"]["nets"][k]) for k in g1)
    assert not all(torch.equal(a["trainer"]["nets"][k], mid["trainer"]["nets"][k]) for k in g2)


def test_unknown_unpaired_names_are_one_clear_error(toy_ws):
    with pytest.raises(InputError, match="no such subject or prepared video"):
        train(toy_ws, "toy", overrides={**MICRO, "unpaired": "nobody"}, method="ren")
    assert not list((toy_ws.root / "runs").glob("toy/ren/*/checkpoints/*.pt"))


def test_bad_settings_are_refused():
    with pytest.raises(InputError, match="background_rgb"):
        _cfg(background_rgb="0,300,0")
    with pytest.raises(InputError, match="causal"):
        _cfg(causal=True)  # stage2 is on by default
    with pytest.raises(InputError, match="aug_limb"):
        _cfg(aug_limb=1.5)


@pytest.mark.slow
def test_a_tiny_run_learns(tmp_path, monkeypatch):
    """Held-out PSNR of what ren renders, the person over the solid training colour against
    the masked truth: at least 3 dB above the untrained networks. (Composited over the
    video's background plate, the loop's PSNR starts high, 18.8 dB here, half of every pixel
    being the true background; it must rise too.)"""
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path / "no-weights"))
    ws = Workspace.open(tmp_path / "ws")
    add_toy_subject(ws, "toy", frames=40, size=32, seed=0)
    over = {"size": 32, "width": 8, "d_width": 8, "coarse_steps": 10, "steps": 50,
            "stage2": False, "tensorboard": False, "threads": 1, "eval_every": 0,
            "sample_every": 0, "device": "cpu"}  # fmt: skip
    result = train(ws, "toy", overrides=over, method="ren")
    assert result.final["psnr"] >= result.initial["psnr"] + 1.5, (result.initial, result.final)
    cfg = REN.resolve_config("tiny", over)
    data = load_subject_data(ws, ["toy"], REN, cfg)
    b = data.images(data.heldout_ids, torch.device("cpu"))
    mask = b.arrays["mask"].float() / 255.0
    trained = load_checkpoint(result.checkpoint)["trainer"]
    torch.manual_seed(cfg.seed)  # the trainer's initialisation
    untrained = {"nets": RenNets(cfg, 1, data.frame).state_dict()}
    scores = []
    for state in (untrained, trained):
        model = RenInference(cfg, state, torch.device("cpu"), data.frame)
        solid = model.nets.solid
        out, _ = model(RenderInputs(b.pose, {}, b.video, background=solid), None)
        scores.append(float(psnr(out.output, b.real * mask + solid * (1 - mask)).mean()))
    assert scores[1] >= scores[0] + 3.0, scores


def test_the_bank_reads_subjects_video_ids_and_prepared_files(toy_ws, tmp_path):
    add_toy_subject(toy_ws, "other", frames=14, size=32, seed=4)
    by_subject = read_bank(toy_ws, ["other"], (16, 16))
    by_id = read_bank(toy_ws, ["video-other"], (16, 16))
    assert by_subject.names == by_id.names == ["video-other"]
    assert by_subject.keypoints.shape == (14, 25, 3)
    # keypoints resized from the video's 32 px frame to the run's 16 px frame
    toy = make_toy_subject(frames=14, size=32, seed=4).keypoints
    assert torch.allclose(by_id.keypoints[..., :2], torch.from_numpy(toy[..., :2]).float() / 2)
    # fitted to the subject: the same median height and centre
    target = by_id.keypoints.clone()
    target[..., :2] = target[..., :2] * 1.5 + 3.0
    fitted = fit_to(by_id, target)
    assert torch.allclose(fitted.keypoints[..., :2], target[..., :2], atol=1e-3)
    torch.manual_seed(0)
    runs = fitted.sample(3, 11)
    assert runs.shape == (3, 11, 25, 3)
    stranger = tmp_path / "not-prepared.mp4"
    stranger.write_bytes(b"not a video")
    with pytest.raises(InputError, match="not prepared in this workspace"):
        read_bank(toy_ws, [str(stranger)], (16, 16))

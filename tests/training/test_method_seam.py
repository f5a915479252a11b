"""The method seam: a toy method defined only here (a few lines and one registry entry)
trains, resumes, renders, transfers and scores through the CLI, and the shared machinery it
uses (frame windows with lookahead, a clip of two frames, two phases with two optimisers in
one checkpoint, the previous output fed back across chunks, its own log columns, frames of
(H, W): a portrait target performing a square source's motion) works."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache.checkpoints import load_checkpoint
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.config import setting
from ptx.io.video import probe_video
from ptx.methods import registry
from ptx.methods.base import (
    PERSON,
    Method,
    MethodConfig,
    RenderInputs,
    RenderOutput,
    TrainSetup,
    Window,
)
from ptx.nn.poselabels import image_stack
from ptx.perform.render import StoreConditions, load_model, render_conditions, resolve_run
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video
from ptx.training.log import RunLog
from ptx.training.run import train

pytestmark = pytest.mark.slow


# --- the toy method: everything it takes to add a method --------------------------------
@dataclass
class ToyConfig(MethodConfig):
    width: int = setting(8, fixed=True)
    """Hidden channels of net B."""
    phase_a: int = 3
    """Steps that train net A alone; then A is frozen and B learns from A and the previous
    frame."""
    steps: int = 6
    lr: float = 1e-2
    log_every: int = 1


class ToyNets(nn.Module):
    """A: pose window -> colours; B: (A's colours, previous frame) -> a correction."""

    def __init__(self, cfg: ToyConfig) -> None:
        super().__init__()
        self.a = nn.Conv2d(9, 3, 1)
        self.b = nn.Sequential(nn.Conv2d(6, cfg.width, 1), nn.ReLU(), nn.Conv2d(cfg.width, 3, 1))

    def forward(self, pose: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        a = torch.tanh(self.a(pose))
        return (a + self.b(torch.cat([a, prev], 1))).clamp(-1, 1)


class ToyTrainer:
    def __init__(self, setup: TrainSetup) -> None:
        self.cfg = setup.cfg
        self.frame = setup.shape  # (H, W) of every image it will see
        torch.manual_seed(self.cfg.seed)
        self.nets = ToyNets(self.cfg).to(setup.device)
        self.opt_a = torch.optim.Adam(self.nets.a.parameters(), lr=self.cfg.lr)
        self.opt_b = torch.optim.Adam(self.nets.b.parameters(), lr=self.cfg.lr)
        self.notes = ["toy: two phases, two optimisers"]

    @property
    def total_steps(self) -> int:
        return self.cfg.steps

    def phase(self, step: int) -> str:
        return "a" if step < self.cfg.phase_a else "b"

    def lr(self) -> float:
        return self.cfg.lr

    def init_from_data(self, data) -> None:
        pass

    def train_step(self, b, step: int) -> dict[str, float]:
        assert tuple(b.real.shape[-2:]) == self.frame
        n = len(b.real) // 2  # clip of 2: first half t-1, second half t
        weight = 1.0 + b.arrays["mask"].float() / 255.0
        prev = b.real[:n]  # the real previous frame (teacher forcing)
        if self.phase(step) == "a":
            out = torch.tanh(self.nets.a(b.pose[n:]))
            loss, opt, name = (weight[n:] * (out - b.real[n:]).abs()).mean(), self.opt_a, "l1_a"
        else:
            out = self.nets(b.pose[n:], prev)
            loss, opt, name = (weight[n:] * (out - b.real[n:]).abs()).mean(), self.opt_b, "l1_b"
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {name: float(loss.detach()), "g_total": float(loss.detach())}

    @torch.no_grad()
    def eval_images(self, b) -> dict[str, torch.Tensor]:
        return {"output": self.nets(b.pose, torch.zeros_like(b.real))}

    def state_dict(self) -> dict:
        return {"nets": self.nets.state_dict(), "a": self.opt_a.state_dict(),
                "b": self.opt_b.state_dict()}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self.nets.load_state_dict(state["nets"])
        self.opt_a.load_state_dict(state["a"])
        self.opt_b.load_state_dict(state["b"])


class ToyRenderer:
    """Renders frame by frame, feeding back its previous output (carried between calls)."""

    def __init__(
        self, cfg: ToyConfig, state: dict, device: torch.device, frame: tuple[int, int]
    ) -> None:
        self.frame = frame
        self.nets = ToyNets(cfg)
        self.nets.load_state_dict(state["nets"])
        self.nets.to(device).eval()

    def start(self) -> None:
        return None

    def __call__(self, x: RenderInputs, prev: torch.Tensor | None):
        assert tuple(x.pose.shape[-2:]) == self.frame
        outs = []
        for pose in x.pose.split(1):
            prev = self.nets(pose, torch.zeros_like(pose[:, :3]) if prev is None else prev)
            outs.append(prev)
        out = torch.cat(outs)
        alpha = torch.ones_like(out[:, :1])
        return RenderOutput(out, out, alpha), prev


TOY = Method(
    name="toy",
    kind=PERSON,
    paper="none (a test)",
    summary="two 1x1 convolutions over a skeleton window, fed back its previous frame",
    config=ToyConfig,
    presets={"tiny": {}},
    encoding=lambda cfg, frame: image_stack(("poselabel",)),
    window=lambda cfg: Window((0, -1, 1), feedback=True),
    build_trainer=ToyTrainer,
    build_renderer=ToyRenderer,
    losses=("g_total", "l1_a", "l1_b"),
    train_arrays=lambda cfg: ("mask",),
    clip=2,
    source_until="poselabel",
)


# --- fixtures ----------------------------------------------------------------------------
@dataclass
class Setup:
    ws: Workspace
    source: Path
    root: Path


def _overrides(video: Path) -> dict:
    return {
        "keypoints": import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}"),
        "crop": {"size": 64},
    }


@pytest.fixture(scope="module")
def toy_setup(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(registry.METHODS, "toy", TOY)
        root = tmp_path_factory.mktemp("seam")
        mp.setenv("PTX_WEIGHTS", str(root / "no-weights"))
        ws = Workspace(root / "ws")
        target = root / "alice.mp4"
        portrait = SynthConfig("dance", frames=24, width=36, height=64, seed=3)
        synthesize(target, portrait)  # canonical frames 64 x 32 (H x W)
        prepare_video(target, ws, "alice", _overrides(target), until="poselabel")
        source = root / "wave.mp4"
        synthesize(source, SynthConfig("wave", frames=12, size=64, seed=5))
        yield Setup(ws, source, root)


def _state(path: Path) -> dict:
    return load_checkpoint(path)["trainer"]


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_toy_method_through_the_cli(toy_setup, cli, monkeypatch):
    monkeypatch.setitem(registry.METHODS, "toy", TOY)
    ws = toy_setup.ws
    w = ["--workspace", ws.root]
    listed = cli("methods")
    assert listed.code == 0 and "toy" in listed.out and "d2g" in listed.out

    # train, then the same run cut at step 2 (inside phase a) and resumed from the CLI
    done = cli("train", "--subject", "alice", "--method", "toy", "--set", "device=cpu",
               "--set", "tensorboard=false", *w)  # fmt: skip
    assert done.code == 0, done.err
    assert "Trained alice (toy) to step 6/6" in done.out and "toy: two phases" in done.err
    straight = resolve_run(ws, "alice", method="toy")
    header = (straight / "log.csv").read_text().splitlines()[0]
    assert header == ",".join(TOY.columns())
    rows = (straight / "log.csv").read_text().splitlines()[1:]
    assert {r.split(",")[1] for r in rows if r.split(",")[2]} == {"a", "b"}  # both phases ran
    cut = train(ws, "alice", overrides={"device": "cpu", "tensorboard": False}, method="toy",
                stop_at=2)  # fmt: skip
    resumed = cli("train", "--subject", "alice", "--method", "toy", "--resume", *w)
    assert resumed.code == 0, resumed.err
    assert "Resumed from step-000000002.pt" in resumed.err
    a = _state(straight / "checkpoints" / "step-000000006.pt")
    b = _state(cut.run_dir / "checkpoints" / "step-000000006.pt")
    assert _equal(a, b)  # both optimisers and both nets, bit for bit

    # render the held-out tail, transfer a motion, score
    held = cli("render", "--subject", "alice", "--method", "toy", "-o",
               toy_setup.root / "held.mp4", *w)  # fmt: skip
    assert held.code == 0, held.err
    info = probe_video(toy_setup.root / "held.mp4")
    assert info.frame_count == 2  # 10% of 24 frames
    assert (info.width, info.height) == (32, 64)  # the portrait frame
    out = toy_setup.root / "wave as alice.mp4"
    gt = gt_dir_for(toy_setup.source) / "openpose"
    moved = cli("transfer", "--source", toy_setup.source, "--target", "alice", "--method", "toy",
                "--retarget", "2d", "-o", out, "--source-keypoints", f"openpose:{gt}", *w)  # fmt: skip
    assert moved.code == 0, moved.err
    info = probe_video(out)
    assert info.frame_count == 12 and "(run " in moved.out
    assert (info.width, info.height) == (32, 64)  # the target's frame decides the output
    assert "wave" not in {s["name"] for s in ws.subjects()}  # a motion source joins no subject
    scored = cli("score", "--subject", "alice", "--method", "toy", "--json",
                 toy_setup.root / "score.json", *w)  # fmt: skip
    assert scored.code == 0, scored.err
    report = json.loads((toy_setup.root / "score.json").read_text())
    assert report["method"] == "toy" and 5 < report["results"]["psnr"] < 60
    assert report["details"]["frame"] == [64, 32]
    assert load_checkpoint(straight / "checkpoints" / "step-000000006.pt")["frame"] == [64, 32]


def test_streaming_keeps_context_lookahead_and_fed_back_state(toy_setup, monkeypatch):
    monkeypatch.setitem(registry.METHODS, "toy", TOY)
    ws = toy_setup.ws
    if not any((ws.root / "runs" / "alice" / "toy").glob("*/checkpoints/last")):
        train(ws, "alice", overrides={"device": "cpu", "tensorboard": False}, method="toy")
    model = load_model(resolve_run(ws, "alice", method="toy"), "cpu")
    store = VideoStore(ws, ws.subject("alice")["videos"][0])
    whole = np.concatenate(
        [c.rgb for c in render_conditions(model, StoreConditions(store), batch=64)]
    )
    for batch in (1, 3, 5):
        parts = [c.rgb for c in render_conditions(model, StoreConditions(store), batch=batch)]
        assert np.array_equal(np.concatenate(parts), whole), batch
    # the fed-back state matters: the tail rendered without its past differs
    tail = np.concatenate([c.rgb for c in render_conditions(model, StoreConditions(store, 12))])
    assert not np.array_equal(tail, whole[12:])


def test_a_loss_the_method_did_not_declare_is_an_error(tmp_path):
    log = RunLog(tmp_path, TOY.columns(), tensorboard=False)
    log.row(1, {"phase": "a", "l1_a": 0.5})
    with pytest.raises(ValueError, match="not among the method's columns"):
        log.row(2, {"phase": "a", "l1_c": 0.5})


def test_an_unknown_method_lists_the_known_ones(cli):
    res = cli("train", "--subject", "x", "--method", "nosuch")
    assert res.code == 2
    assert "No method named 'nosuch'" in res.err and "d2g" in res.err
    assert len(res.err.strip().splitlines()) == 1

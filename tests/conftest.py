"""Shared fixtures: tiny generated clips, an isolated workspace, an in-process CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from ptx.cache.workspace import Workspace
from ptx.io.testclips import write_clip


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own workspace and weights folder; nothing touches the home dir."""
    monkeypatch.setenv("PTX_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no real hub cache either
    monkeypatch.delenv("PTX_CHUNK_FRAMES", raising=False)
    # torch's own default, a thread per core, fixed for the whole run: ptx's default follows
    # the load, and tests that compare two trainings bit for bit need the same count in both
    monkeypatch.setenv("PTX_THREADS", str(len(os.sched_getaffinity(0))))


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def clip(tmp_path: Path):
    """``clip(name="c.mp4", **write_clip kwargs) -> Path`` writes a test clip in tmp_path."""

    def make(name: str = "clip.mp4", **kwargs) -> Path:
        return write_clip(tmp_path / name, **kwargs)

    return make


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture):
    """Run ``ptx`` in-process: ``cli("prepare", path, ...) -> CliResult``."""
    from ptx.cli.main import run

    def invoke(*args: str | os.PathLike) -> CliResult:
        capsys.readouterr()
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def install_weights(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, dict], Path]:
    """``install_weights(key, state) -> Path``: save ``state`` as ``key``'s file in the
    weights directory and list its SHA-256 as the official one (a stand-in for a file the
    tests cannot download)."""
    from ptx import weights

    def install(key: str, state: dict) -> Path:
        folder = weights.weights_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / weights.WEIGHTS[key].filename
        torch.save(state, path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        entry = dataclasses.replace(weights.WEIGHTS[key], sha256=digest)
        monkeypatch.setitem(weights.WEIGHTS, key, entry)
        return path

    return install


def _random_inception(seed: int):
    """A random FID InceptionV3 whose features still depend on the input (the default init
    lets the signal fade over 94 layers) and whose BatchNorm buffers are not neutral."""
    from torch import nn

    from ptx.metrics.inception import FIDInceptionV3

    g = torch.Generator().manual_seed(seed)
    net = FIDInceptionV3().eval().requires_grad_(False)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=g)
        elif isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0.0, 0.1, generator=g)
            m.running_var.uniform_(0.5, 1.5, generator=g)
            m.weight.uniform_(0.5, 1.5, generator=g)
            m.bias.normal_(0.0, 0.1, generator=g)
    return net


@pytest.fixture(scope="session")
def random_inception():
    """``random_inception(seed) -> FIDInceptionV3`` (see :func:`_random_inception`)."""
    return _random_inception


def _random_alexnet(seed: int) -> dict[str, torch.Tensor]:
    """A random AlexNet trunk under the official file's key names (``features.0.weight``)."""
    from ptx.metrics.lpips import alexnet_features

    torch.manual_seed(seed)
    return {f"features.{k}": v for k, v in alexnet_features().state_dict().items()}


@pytest.fixture(scope="session")
def random_alexnet():
    """``random_alexnet(seed) -> state dict`` (see :func:`_random_alexnet`)."""
    return _random_alexnet


@pytest.fixture
def perceptual_weights(install_weights) -> None:
    """Random stand-ins for the AlexNet and FID Inception files, so LPIPS and FID run
    (LPIPS's linear layers are the real ones torchmetrics installs)."""
    install_weights("alexnet", _random_alexnet(0))
    state = _random_inception(0).state_dict()
    install_weights("inception_fid", {k: v for k, v in state.items() if "num_batches" not in k})


@dataclass
class PreparedSynth:
    """A synthetic subject prepared through every stage (shared, read-only)."""

    workspace: Workspace
    video: Path
    subject: str
    video_id: str

    @property
    def store(self):
        from ptx.cache.store import VideoStore

        return VideoStore(self.workspace, self.video_id)


FAST_FIT = {"rigid_iters": 20, "pose_iters": 40, "silhouette_iters": 0, "shape_frames": 8}
"""Fit settings that keep the tests' fits to a few seconds."""


def synth_overrides(video: Path, size: int = 64) -> dict:
    """Stage settings for a ``ptx synth`` clip: its ground-truth OpenPose keypoints, a small
    canonical frame, a fast fit."""
    from ptx.body.synth import gt_dir_for
    from ptx.pipeline.keypoints import import_overrides

    return {
        "keypoints": import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}"),
        "crop": {"size": size},
        "fit": dict(FAST_FIT),
    }


@pytest.fixture(scope="session")
def prepared_synth(tmp_path_factory: pytest.TempPathFactory) -> PreparedSynth:
    """24 frames of the synthetic dance at 64 px, prepared through every stage."""
    from ptx.body.synth import SynthConfig, synthesize
    from ptx.pipeline.runner import prepare_video

    root = tmp_path_factory.mktemp("prepared-synth")
    video = root / "dancer.mp4"
    synthesize(video, SynthConfig("dance", frames=24, size=64, seed=3))
    ws = Workspace(root / "ws")
    res = prepare_video(video, ws, "dancer", synth_overrides(video))
    return PreparedSynth(ws, video, "dancer", res.video_id)

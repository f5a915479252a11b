"""`ptx transfer --target-image`: a photo animated by a one-shot model with a video's
motion, and the one-line errors of mixing one-shot and person-specific models."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ptx.body.synth import SynthConfig, gt_dir_for, synth_subject, synthesize
from ptx.cache.workspace import Workspace
from ptx.io.video import probe_video
from ptx.training.crowd import store_crowd
from ptx.training.run import train
from ptx.training.shared_run import train_shared
from tests.cli.test_prepare_errors import assert_one_line_error
from tests.conftest import FAST_FIT
from tests.training.test_shared_training import TINY
from tests.training.test_train import MICRO, add_subject

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("oneshot-transfer")
    ws = Workspace.open(root / "ws")
    names = store_crowd(ws, 3, frames=12, size=32)
    one_shot = train_shared(ws, names, 1, "tiny", {**TINY, "steps": 1}, method="dwnet").run_dir
    add_subject(ws, "toy", seed=1)
    person = train(ws, "toy", "tiny", {**MICRO, "steps": 1}).run_dir
    photo = root / "me.png"
    rgb = synth_subject(SynthConfig("wave", frames=2, size=128, seed=9)).frames[0]
    cv2.imwrite(str(photo), np.ascontiguousarray(rgb[..., ::-1]))
    video = root / "dance.mp4"
    synthesize(video, SynthConfig("dance", frames=8, size=64, seed=4))
    return ws, one_shot, person, photo, video


def _args(ws, video, *more):
    fit = [a for k, v in FAST_FIT.items() for a in ("--set", f"fit.{k}={v}")]
    keypoints = f"openpose:{gt_dir_for(video) / 'openpose'}"
    return ("transfer", "-w", ws.root, "--source", video, "--source-keypoints", keypoints,
            *fit, *more)  # fmt: skip


def test_a_photo_performs_the_video(setup, cli, tmp_path):
    ws, one_shot, _, photo, video = setup
    out = tmp_path / "me.mp4"
    res = cli(*_args(ws, video, "--target-image", photo, "--run", one_shot, "-o", out,
                     "--side-by-side"))  # fmt: skip
    assert res.code == 0, res.err
    info = probe_video(out)
    assert info.frame_count == 8 and info.height == 32 and info.width > 32  # source | result
    # the newest one-shot run is found without --run, with --alpha too
    res = cli(*_args(ws, video, "--target-image", photo, "--alpha", "-o", tmp_path / "a"))
    assert res.code == 0, res.err
    assert len(list((tmp_path / "a").glob("*.png"))) == 8


def test_one_shot_and_person_specific_models_do_not_mix(setup, cli, tmp_path):
    ws, one_shot, person, photo, video = setup
    assert_one_line_error(
        cli(*_args(ws, video, "--target", "toy", "--run", one_shot)),
        2, "is a one-shot dwnet model: it animates a picture",
    )  # fmt: skip
    assert_one_line_error(
        cli(*_args(ws, video, "--target-image", photo, "--run", person)),
        2, "is a person-specific d2g model",
    )  # fmt: skip
    noise = (np.random.default_rng(0).random((96, 96, 3)) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "wall.png"), noise)
    assert_one_line_error(
        cli(*_args(ws, video, "--target-image", tmp_path / "wall.png", "--run", one_shot)),
        5, "No person found in wall.png",
    )  # fmt: skip

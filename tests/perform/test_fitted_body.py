"""A subject fitted with an SMPL file from anywhere on disk can be retargeted to: the
body is reloaded from the file the fit used, not looked up by its name."""

from __future__ import annotations

import numpy as np
import pytest
from body.conftest import write_fake_smpl  # tests/body is a package beside this folder

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.perform.retarget_render import RetargetConditions, fitted_body
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video

FAST_FIT = {"rigid_iters": 20, "pose_iters": 40, "silhouette_iters": 0, "shape_frames": 8}


@pytest.mark.slow
def test_target_fitted_with_an_smpl_file_outside_the_weights_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path / "empty-weights"))
    (tmp_path / "elsewhere").mkdir()
    smpl = write_fake_smpl(tmp_path / "elsewhere" / "SMPL_FAKE.pkl")
    video = tmp_path / "target.mp4"
    synthesize(video, SynthConfig("dance", frames=10, size=64, seed=2))
    overrides = {
        "keypoints": import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}"),
        "crop": {"size": 64},
        "fit": {**FAST_FIT, "body": f"smpl:{smpl}"},
    }
    ws = Workspace(tmp_path / "ws")
    vid = prepare_video(video, ws, "bob", overrides, until="label3d").video_id
    store = VideoStore(ws, vid)
    assert store.meta("fit")["body"] == "smpl:SMPL_FAKE.pkl"  # a name, loadable from nowhere
    model, _, betas = fitted_body(store)
    assert model.name == "smpl:SMPL_FAKE.pkl" and betas.shape == (model.n_betas,)
    got = RetargetConditions(store, store, "3d").chunk(0, 3, ("iuv", "label3d", "poselabel"))
    assert got["iuv"].shape == (3, 64, 64, 3) and (got["iuv"][..., 0] > 0).mean() > 0.02
    assert np.any(got["poselabel"])

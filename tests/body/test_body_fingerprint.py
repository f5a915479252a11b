"""The fit's fingerprint holds the body model really used: a missing SMPL file falls back
to the open model (an error with --strict), and supplying the file later fits again."""

from __future__ import annotations

import pytest

from ptx.body.load import body_identity
from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache.workspace import Workspace
from ptx.errors import MissingWeightsError
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video

from .conftest import write_fake_smpl

FAST_FIT = {"rigid_iters": 10, "pose_iters": 10, "silhouette_iters": 0, "shape_frames": 4}


def test_body_identity_follows_the_file(tmp_path):
    spec = f"smpl:{tmp_path / 'SMPL_NEUTRAL.npz'}"
    assert body_identity("open") == {}
    missing = body_identity(spec)
    assert missing["body"] == "open" and missing["fallback_from"] == spec
    write_fake_smpl(tmp_path / "SMPL_NEUTRAL.npz", "npz")
    present = body_identity(spec)
    assert present["body"] == "smpl" and len(present["file_hash"]) == 32
    write_fake_smpl(tmp_path / "SMPL_NEUTRAL.npz", "pkl")  # another file, same name
    assert body_identity(spec)["file_hash"] != present["file_hash"]


@pytest.mark.slow
def test_supplying_the_smpl_file_fits_again(tmp_path):
    video = tmp_path / "dance.mp4"
    synthesize(video, SynthConfig("dance", frames=8, size=64, seed=2))
    ws = Workspace(tmp_path / "ws")
    body = tmp_path / "models" / "SMPL_NEUTRAL.npz"
    over = {
        "keypoints": import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}"),
        "crop": {"size": 64},
        "fit": {**FAST_FIT, "body": f"smpl:{body}"},
    }

    def fit_outcome(**kw):
        res = prepare_video(video, ws, "d", over, until="fit", **kw)
        return res.outcomes[-1], res.video_id

    with pytest.raises(MissingWeightsError, match="not found"):
        fit_outcome(strict=True)  # no silent fallback under --strict
    outcome, vid = fit_outcome()
    assert outcome.status in ("ran", "resumed")
    assert any("SMPL model file" in w for w in outcome.warnings)
    with pytest.raises(MissingWeightsError):  # ...nor from the cached fallback fit
        fit_outcome(strict=True)
    body.parent.mkdir()
    write_fake_smpl(body, "npz")
    outcome, _ = fit_outcome()
    assert outcome.status == "ran" and not outcome.warnings
    from ptx.cache.store import VideoStore

    meta = VideoStore(ws, vid).meta("fit")
    assert meta["body"] == "smpl:SMPL_NEUTRAL.npz" and meta["body_spec"] == f"smpl:{body}"
    assert fit_outcome()[0].status == "cached"

"""The training data path: split, resizing, pairs, sampler state, and the Zarr reader."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptx.body.toydata import make_toy_subject
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.errors import InputError, StageError
from ptx.methods.d2g import METHOD as D2G
from ptx.training.data import BatchSampler, split_point
from ptx.training.load import from_arrays, load_subject_data


def d2g(**changes):
    return D2G.resolve_config("tiny", changes)


@pytest.fixture(scope="module")
def toy():
    return make_toy_subject(frames=12, size=32, seed=3)


def test_split_point_holds_out_the_tail():
    assert split_point(100, 0.1) == 90
    assert split_point(5, 0.1) == 4  # at least one frame held out
    assert split_point(5, 0.0) == 5
    assert split_point(1, 0.5) == 1


def test_arrays_are_resized_with_the_right_rule(toy):
    data = from_arrays({"v": toy.arrays()}, D2G, d2g(size=16, holdout=0.25)).arrays
    assert data["frames"].shape == (12, 3, 16, 16) and data["frames"].dtype == torch.uint8
    # IUV is subsampled, never averaged: every part id exists in the source
    assert set(data["iuv"][:, 0].unique().tolist()) <= set(np.unique(toy.iuv[..., 0]).tolist())
    # flow vectors shrink with the image
    src = np.abs(toy.flow.astype(np.float32)).mean()
    assert abs(float(data["flow"].float().abs().mean()) - src / 2) < 0.05 * src
    # a low-res pixel is valid only if all the pixels it covers are
    v = torch.from_numpy(toy.flow_valid).float().view(12, 16, 2, 16, 2).amin((2, 4))
    assert torch.equal(data["flow_valid"][:, 0], v.to(torch.uint8))
    area = torch.from_numpy(toy.frames).float().view(12, 16, 2, 16, 2, 3).mean((2, 4))
    assert (data["frames"].permute(0, 2, 3, 1).float() - area).abs().max() <= 0.5


def test_pairs_and_pose_labels_follow_time(toy):
    data = from_arrays({"a": toy.arrays(), "b": toy.arrays()}, D2G, d2g(size=32, holdout=0.25))
    assert [s.n_train for s in data.videos] == [9, 9]
    # training pairs never cross a video start or reach into the held-out tail
    assert data.train_ids.tolist() == [*range(1, 9), *range(13, 21)]
    assert data.heldout_ids.tolist() == [9, 10, 11, 21, 22, 23]
    b = data.batch(torch.tensor([13, 5]), torch.device("cpu"))
    assert b.pose.shape == (4, 18, 32, 32)
    real = (torch.from_numpy(toy.frames).permute(0, 3, 1, 2).float() / 127.5) - 1
    assert torch.allclose(b.real[0], real[0], atol=1e-6) and torch.allclose(
        b.real[2], real[1], atol=1e-6
    )  # t-1, t
    assert torch.allclose(b.real[1], real[4], atol=1e-6) and torch.allclose(
        b.real[3], real[5], atol=1e-6
    )
    skel = torch.from_numpy(toy.poselabel).permute(0, 3, 1, 2).float() / 127.5 - 1
    # frame 13 is video b's frame 1: its t-2 is clamped to the video's first frame
    assert torch.allclose(b.pose[2, 0:3], skel[1], atol=1e-6) and torch.allclose(
        b.pose[2, 6:9], skel[0], atol=1e-6
    )
    assert torch.allclose(b.pose[2, 12:15], skel[0], atol=1e-6)
    assert b.video.tolist() == [1, 0, 1, 0]
    assert b.flow.shape == (2, 2, 32, 32) and b.flow_valid.shape == (2, 1, 32, 32)


def test_sampler_state_round_trip():
    a = BatchSampler(10, 4, seed=5)
    for _ in range(3):
        a.next()
    b = BatchSampler(10, 4, seed=99)
    b.load_state_dict(a.state_dict())
    assert all(torch.equal(a.next(), b.next()) for _ in range(7))
    seen = torch.cat([BatchSampler(10, 5, seed=1).next() for _ in range(1)])
    assert len(set(seen.tolist())) == 5


def make_workspace(tmp_path, arrays: dict[str, dict[str, np.ndarray]], subject="toy"):
    ws = Workspace.open(tmp_path / "ws")
    for vid, arrs in arrays.items():
        store = VideoStore(ws, vid)
        for name, a in arrs.items():
            store.create_array(
                name, a.shape, a.dtype, chunk_frames=8, time_axis=name != "background"
            )
            store.write(name, 0, a)
        ws.add_video_to_subject(subject, vid)
    return ws


def test_zarr_path_reads_what_the_arrays_hold(tmp_path, toy):
    arrays = toy.arrays()
    arrays["flow_valid"] = arrays["flow_valid"].astype(bool)  # as the flow stage writes it
    ws = make_workspace(tmp_path, {"vid0": arrays})
    cfg = d2g(size=16)
    got = load_subject_data(ws, ["toy"], D2G, cfg)
    want = from_arrays({"vid0": toy.arrays()}, D2G, cfg)
    names = ("frames", "poselabel", "label3d", "iuv", "mask", "flow", "flow_valid")
    assert set(got.arrays) == set(names)
    for name in names:
        assert torch.equal(got.arrays[name], want.arrays[name]), name
    assert torch.equal(got.backgrounds, want.backgrounds)
    assert got.videos[0].name == "vid0"


def test_missing_array_is_named(tmp_path, toy):
    arrays = {k: v for k, v in toy.arrays().items() if k != "iuv"}
    ws = make_workspace(tmp_path, {"vid0": arrays})
    with pytest.raises(StageError, match="no 'iuv' array"):
        load_subject_data(ws, ["toy"], D2G, d2g(size=16))


def _cut(arrays: dict, width: int) -> dict:
    """The toy subject's arrays cut to their left ``width`` columns (a portrait video)."""
    out = {}
    for k, v in arrays.items():
        if k == "keypoints":
            out[k] = v
        else:
            out[k] = v[:, :width] if k == "background" else v[:, :, :width]
    return out


def test_a_portrait_subject_trains_at_a_portrait_frame(toy):
    """32 x 16 canonical frames at size 16 and divisor 4 (uv_down 2): the frame is 16 x 8,
    every array and the keypoints follow it, and a batch has that shape."""
    cfg = d2g(size=16, uv_down=2, tr_down=2)
    arrays = _cut(toy.arrays(), 16)
    data = from_arrays({"v": arrays}, D2G, cfg)
    assert data.frame == (16, 8) and data.canonical == (32, 16)
    assert data.arrays["frames"].shape == (12, 3, 16, 8) and data.backgrounds.shape[-2:] == (16, 8)
    b = data.batch(data.train_ids[:2], torch.device("cpu"))
    assert b.pose.shape[-2:] == (16, 8) and b.flow.shape[-2:] == (16, 8)
    assert D2G.frame(cfg, (32, 32)) == (16, 16)  # a square subject stays square


def test_a_subject_whose_videos_differ_in_aspect_is_refused(toy):
    with pytest.raises(InputError, match=r"must share one frame shape.*--aspect 32:32"):
        from_arrays({"sq": toy.arrays(), "tall": _cut(toy.arrays(), 16)}, D2G, d2g(size=16))
    # within the tolerance (here 30 vs 32 columns: 6%), the video is resized to the frame
    data = from_arrays({"sq": toy.arrays(), "near": _cut(toy.arrays(), 30)}, D2G, d2g(size=16))
    assert data.frame == (16, 16)

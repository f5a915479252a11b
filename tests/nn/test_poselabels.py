"""The bone stack: each bone in its own channel, where its joints are; missing joints
leave the channel empty; frames may be rectangular."""

from __future__ import annotations

import torch

from ptx.nn.poselabels import bone_stack

BONES = ((0, 1), (1, 2), (3, 4))


def test_each_bone_lies_in_its_channel_between_its_joints():
    kp = torch.zeros(2, 5, 3)
    kp[:, 0] = torch.tensor([4.5, 4.5, 1.0])
    kp[:, 1] = torch.tensor([20.5, 4.5, 1.0])  # bone 0: horizontal, row 4
    kp[:, 2] = torch.tensor([20.5, 14.5, 1.0])  # bone 1: vertical, column 20
    kp[1, 4, 2] = 0.0  # frame 1 lost joint 4
    kp[:, 3] = torch.tensor([2.5, 10.5, 1.0])
    kp[0, 4] = torch.tensor([8.5, 10.5, 1.0])
    enc = bone_stack(BONES, (16, 24), radius=2.0)
    assert enc.arrays == ("keypoints",) and enc.channels == 3
    x = enc({"keypoints": kp})
    assert x.shape == (2, 3, 16, 24) and x.min() >= -1 and x.max() <= 1
    assert x[0, 0, 4, 12] == 1.0 and x[0, 0, 4, 2] == -1.0 and x[0, 0, 10, 12] == -1.0
    assert x[0, 0, 5, 12] == 0.0  # one pixel off the line at radius 2: half way
    assert x[0, 1, 9, 20] == 1.0 and x[0, 1, 9, 12] == -1.0
    assert x[0, 2, 10, 5] == 1.0
    assert (x[1, 2] == -1).all()  # a missing joint leaves its bone out
    assert torch.equal(x[1, :2], x[0, :2])
    # fewer keypoint rows than a bone's joints: that bone is absent, the others drawn
    short = enc({"keypoints": kp[:, :3]})
    assert (short[:, 2] == -1).all() and torch.equal(short[:, :2], x[:, :2])


def test_keypoint_heatmaps_coco18_from_body25():
    from ptx.nn.poselabels import keypoint_heatmaps

    kp = torch.zeros(2, 25, 3)
    kp[:, 8] = torch.tensor([5.5, 5.5, 1.0])  # MidHip: not a COCO-18 joint
    kp[:, 9] = torch.tensor([10.5, 6.5, 1.0])  # RHip: COCO-18 channel 8
    kp[:, 0] = torch.tensor([3.5, 2.5, 1.0])  # Nose: channel 0
    kp[1, 0, 2] = 0.0  # frame 1 lost its nose
    kp[:, 19] = torch.tensor([1.5, 1.5, 1.0])  # a foot point: dropped
    enc = keypoint_heatmaps((12, 16), sigma=2.0)
    assert enc.arrays == ("keypoints",) and enc.channels == 18
    x = enc({"keypoints": kp})
    assert x.shape == (2, 18, 12, 16) and x.min() >= -1 and x.max() <= 1
    assert x[0, 8, 6, 10] == 1.0 and x[0, 0, 2, 3] == 1.0  # peaks on their joints
    # one pixel away: exp(-1 / (2 sigma^2)), mapped to [-1, 1]
    expect = 2 * torch.exp(torch.tensor(-1 / 8.0)) - 1
    assert torch.isclose(x[0, 8, 6, 11], expect) and torch.isclose(x[0, 8, 5, 10], expect)
    assert (x[1, 0] == -1).all() and torch.equal(x[1, 8], x[0, 8])
    # only the channels of present joints light up (MidHip and the foot point add nothing)
    lit = (x[0] > -1 + 1e-6).flatten(1).any(1)
    assert lit.nonzero().flatten().tolist() == [0, 8]
    # fewer keypoint rows (no ears, index 17/18 of BODY_25): those channels stay empty
    short = enc({"keypoints": kp[:, :10]})
    assert (short[:, 16:] == -1).all() and torch.equal(short[:, 8], x[:, 8])

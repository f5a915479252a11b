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

"""Pose labels: OpenPose-coloured limbs drawn where the keypoints are."""

from __future__ import annotations

import numpy as np

from ptx.body.skeleton import BODY_25_COLOURS, BODY_25_LIMBS, draw_skeleton
from ptx.pipeline.poselabel import draw_labels


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = np.clip(np.dot(p - a, ab) / max(np.dot(ab, ab), 1e-9), 0, 1)
    return float(np.hypot(*(p - (a + t * ab))))


def test_each_limb_is_drawn_in_its_colour_where_the_keypoints_are(walking):
    kp = walking(1, 512, 512)[0]
    img = draw_skeleton(kp, 512)
    width = 4
    checked = 0
    for i, (a, b) in enumerate(BODY_25_LIMBS):
        pa, pb = kp[a, :2], kp[b, :2]
        mid = (pa + pb) / 2
        if np.hypot(*(pb - pa)) < 6 * width:
            continue  # short face/foot limbs: covered by the joint dots
        others = [
            _segment_distance(mid, kp[c, :2], kp[d, :2])
            for j, (c, d) in enumerate(BODY_25_LIMBS)
            if j != i and c not in (a, b) and d not in (a, b)
        ]
        if min(others) < 3 * width:
            continue
        x, y = (mid - 0.5).round().astype(int)
        assert tuple(img[y, x]) == BODY_25_COLOURS[b], (a, b)
        checked += 1
    assert checked >= 12
    assert not img[:20].any() and not img[:, :20].any()  # nothing far from the figure


def test_a_limb_with_a_missing_joint_is_not_drawn(walking):
    kp = walking(1, 512, 512)[0]
    full = draw_skeleton(kp, 512)
    kp[4, 2] = 0.0  # RWrist missing
    img = draw_skeleton(kp, 512)
    x, y = ((kp[3, :2] + kp[4, :2]) / 2 - 0.5).round().astype(int)
    assert full[y, x].any() and not img[y, x].any()


def test_line_width_scales_with_size(walking):
    """The torso line (neck to mid-hip, vertical) is drawn 4 px wide at 512 and 2 px at
    256 (cv2's anti-aliased lines come out ~1.4 px wider than asked)."""
    widths = {}
    for size in (512, 256):
        kp = walking(1, size, size)[0]
        img = draw_skeleton(kp, size)
        x, y = ((kp[1, :2] + kp[8, :2]) / 2).round().astype(int)
        row = img[y, x - 10 : x + 10, 0]  # the torso is red (255, 0, 0)
        widths[size] = row.sum() / 255.0  # ink across the line
    assert 4 <= widths[512] <= 6 and 2 <= widths[256] <= 4, widths
    assert 1.5 < widths[512] - widths[256] < 2.5, widths


def test_hands_are_drawn_when_present(walking):
    body = walking(1, 512, 512)[0]
    hands = np.zeros((42, 3), np.float32)
    hands[:21, :2] = body[7, :2] + np.linspace(0, 30, 21)[:, None]
    hands[21:, :2] = body[4, :2] + np.linspace(0, 30, 21)[:, None]
    hands[:, 2] = 0.9
    with_hands = np.concatenate([body, hands])
    assert draw_skeleton(with_hands, 512).any(-1).sum() > draw_skeleton(body, 512).any(-1).sum()


def test_stage_labels_match_the_canonical_keypoints(astronaut):
    store = astronaut.store
    labels, kp = store.read("poselabel"), store.read("keypoints")
    assert labels.shape == (16, 224, 256, 3) and labels.dtype == np.uint8  # 288x240 clip
    np.testing.assert_array_equal(labels, draw_labels(kp, (224, 256)))
    for t in (0, 15):
        for j in (0, 2, 5):  # nose and shoulders: a joint dot under each
            x, y = (kp[t, j, :2] - 0.5).round().astype(int)
            assert labels[t, y, x].any()

"""The unpaired pose bank: keypoint sequences of other prepared videos (other subjects, or
any prepared video such as a transfer source), brought to the training subject's frame.

Each bank video's keypoints are resized from its canonical frame to the run's frame, then
moved so that its median body height and median body centre equal the training subject's
(ptx's choice: the paper feeds the in-the-wild poses as detected; its subjects are all
cropped to the person's bounding rectangle, which does the same job). Sequences are drawn
with torch's global generator, so a resumed run draws the same ones; the bank itself is
saved with the trainer's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ptx.errors import InputError

MIN_CONFIDENCE = 0.1
BODY_JOINTS = 25
"""BODY_25's joints (hand points, when a video has them, are not drawn)."""


@dataclass
class PoseBank:
    """Keypoints (N, K, 3) of several videos, concatenated; ``spans`` [(start, count)]."""

    keypoints: torch.Tensor
    spans: list[tuple[int, int]]
    names: list[str]

    def sample(self, batch: int, length: int) -> torch.Tensor:
        """(batch, length, K, 3): ``batch`` runs of ``length`` consecutive frames, each from a
        video drawn in proportion to its usable starts."""
        usable = torch.tensor([max(0, c - length + 1) for _, c in self.spans], dtype=torch.float)
        video = torch.multinomial(usable, batch, replacement=True)
        pick = torch.rand(batch)
        out = []
        for v, r in zip(video.tolist(), pick.tolist(), strict=True):
            start, _ = self.spans[v]
            first = start + min(int(r * usable[v].item()), int(usable[v].item()) - 1)
            out.append(self.keypoints[first : first + length])
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        return {"keypoints": self.keypoints, "spans": list(self.spans), "names": list(self.names)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PoseBank:
        return cls(state["keypoints"], [tuple(s) for s in state["spans"]], list(state["names"]))


def body_stats(kp: torch.Tensor) -> tuple[float, torch.Tensor]:
    """(median body height in pixels, median body centre (2,)) of keypoints (N, K, 3):
    per frame the vertical extent and the mean of the joints above ``MIN_CONFIDENCE``."""
    valid = kp[..., 2] > MIN_CONFIDENCE
    keep = valid.sum(1) >= 2
    if not keep.any():
        raise InputError("The unpaired bank's or the subject's keypoints have no body.")
    kp, valid = kp[keep], valid[keep]
    y = kp[..., 1]
    top = torch.where(valid, y, torch.full_like(y, float("inf"))).amin(1)
    bottom = torch.where(valid, y, torch.full_like(y, float("-inf"))).amax(1)
    w = valid.float().unsqueeze(-1)
    centre = (kp[..., :2] * w).sum(1) / w.sum(1)
    return float((bottom - top).median()), centre.median(0).values


def fit_to(bank: PoseBank, target: torch.Tensor) -> PoseBank:
    """The bank with each video moved to the target keypoints' body height and centre."""
    height, centre = body_stats(target)
    out = bank.keypoints.clone()
    for start, count in bank.spans:
        part = out[start : start + count]
        h, c = body_stats(part)
        s = height / max(h, 1e-6)
        part[..., :2] = (part[..., :2] - c) * s + centre
    return PoseBank(out, bank.spans, bank.names)


def _video_ids(ws: Any, name: str) -> list[str]:
    """A subject's videos, a prepared video's id, or the prepared video of a file path."""
    from ptx.cache.workspace import file_content_hash

    subjects = set(ws.subject_names())
    if name in subjects:
        return list(ws.subject(name)["videos"])
    if name in ws.video_ids():
        return [name]
    path = Path(name).expanduser()
    if path.is_file():
        vid = file_content_hash(path)[:16]
        if vid in ws.video_ids():
            return [vid]
        raise InputError(
            f"--unpaired {name}: the video is not prepared in this workspace.",
            f"Run `ptx prepare {name} --until keypoints` first.",
        )
    known = ", ".join(sorted(subjects)) or "none"
    raise InputError(
        f"--unpaired {name}: no such subject or prepared video (subjects: {known}).",
        "Name other subjects, prepared videos' ids, or prepared video files.",
    )


def read_bank(ws: Any, names: list[str], frame: tuple[int, int]) -> PoseBank:
    """The keypoints of every video ``names`` lists, in pixels of the run's ``frame``
    (H, W) (not yet fitted to the subject; :func:`fit_to` does that)."""
    from ptx.cache.store import VideoStore
    from ptx.nn.arrays import resize_keypoints

    if ws is None:
        raise InputError("--unpaired needs a workspace to read the other videos from.")
    parts, spans, labels, start = [], [], [], 0
    for name in names:
        for vid in _video_ids(ws, name):
            store = VideoStore(ws, vid)
            if not store.has("keypoints") or not store.has("frames"):
                raise InputError(
                    f"--unpaired {name}: {store.label()} has no keypoints yet.",
                    "Run `ptx prepare` on it until the keypoints stage.",
                )
            shape = tuple(store.open_array("frames").shape)
            kp = resize_keypoints(store.read("keypoints"), (shape[1], shape[2]), frame)
            parts.append(kp[:, :BODY_JOINTS, :3])
            spans.append((start, len(kp)))
            labels.append(vid)
            start += len(kp)
    if not parts:
        raise InputError("--unpaired names no videos.")
    return PoseBank(torch.cat(parts), spans, labels)

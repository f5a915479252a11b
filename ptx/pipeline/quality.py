"""Quality gates on the keypoints of a video: say loudly, and early, when the input is poor.

- No person in any frame: :class:`~ptx.errors.QualityError`, always.
- The person found in fewer than ``min_detection_rate`` of the frames, a second person in
  at least ``max_crowded_rate`` of the checked frames, or the person partly outside the
  picture for 3 or more frames in a row: a warning naming the frame ranges. With
  ``strict`` the warnings become one QualityError.

A photo (a video of one frame) has stricter gates, all errors: a second person in it
(one-shot animation follows one person), or a person shorter than
:data:`MIN_PHOTO_PERSON` of the picture's height (too small to animate).

Frame numbers count the frames ptx extracted (from ``--start``), starting at 0.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ptx.errors import QualityError
from ptx.io.openpose import BODY_25

NOT_CHECKED = 255
"""``people_seen`` value of a frame the crowd check skipped."""

MIN_PHOTO_PERSON = 0.15
"""Smallest height of the person in a photo, as a fraction of the picture's height (from
their highest to their lowest detected joint)."""

MIN_OUT_RUN = 3
"""Consecutive frames the person must be partly out of the picture before ptx warns."""


def frame_ranges(frames: Iterable[int], step: int = 1, limit: int = 6) -> str:
    """``[12, 13, ..., 40, 77, 78, 79, 80]`` -> ``"12-40, 77-80"``. Frames ``step`` apart
    belong to one range (for checks that looked at every ``step``-th frame). At most
    ``limit`` ranges are listed, then how many more there are."""
    runs: list[list[int]] = []
    for f in sorted(set(int(x) for x in frames)):
        if runs and f - runs[-1][1] <= step:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    parts = [f"{a}-{b}" if a != b else str(a) for a, b in runs[:limit]]
    if len(runs) > limit:
        parts.append(f"and {len(runs) - limit} more")
    return ", ".join(parts)


def runs_at_least(mask: np.ndarray, length: int) -> np.ndarray:
    """Keep only the runs of True in ``mask`` bool (T,) that are ``length`` or longer."""
    out = np.zeros_like(mask, dtype=bool)
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if b - a >= length:
            out[a:b] = True
    return out


def out_of_picture(
    keypoints: np.ndarray, width: int, height: int, margin: float = 0.01
) -> np.ndarray:
    """Which body joints lie outside the picture: bool (T, 25) from ``keypoints`` float
    (T, K, 3) as detected (before clean-up).

    A joint is out when its estimate lies beyond the picture's edge by more than ``margin``
    of the long side (MediaPipe estimates joints it cannot see), or when it is missing
    while the person's other joints reach that close to the edge (OpenPose drops joints
    outside the picture)."""
    kp = np.asarray(keypoints, dtype=np.float64)[:, : len(BODY_25)]
    m = margin * max(width, height)
    x, y, c = kp[..., 0], kp[..., 1], kp[..., 2]
    present = c > 0
    beyond = present & ((x < -m) | (x > width + m) | (y < -m) | (y > height + m))
    inf = np.inf
    near = (
        (np.where(present, x, inf).min(axis=1) < m)
        | (np.where(present, x, -inf).max(axis=1) > width - m)
        | (np.where(present, y, inf).min(axis=1) < m)
        | (np.where(present, y, -inf).max(axis=1) > height - m)
    )
    dropped = ~present & (near & present.any(axis=1))[:, None]
    return beyond | dropped


def check_quality(
    video: str,
    found: np.ndarray,
    people_seen: np.ndarray,
    raw_keypoints: np.ndarray,
    width: int,
    height: int,
    min_detection_rate: float = 0.9,
    max_crowded_rate: float = 0.1,
    check_step: int = 1,
    strict: bool = False,
) -> list[str]:
    """Apply the gates (module docstring) and return the warnings.

    ``found`` bool (T,): the person was detected; ``people_seen`` uint8 (T,): people in
    each frame (:data:`NOT_CHECKED` where not looked at); ``raw_keypoints`` float (T, K, 3)
    as detected, in pixels of a ``width`` x ``height`` picture; ``check_step``: how far
    apart the crowd check's frames are. Raises QualityError when nobody is found, or when
    there are warnings and ``strict``."""
    found = np.asarray(found, dtype=bool)
    t_count = len(found)
    if not found.any() and t_count == 1:
        raise QualityError(
            f"No person found in {video}.",
            "Give a photo of one person, whole body in view, not tiny, well lit.",
        )
    if not found.any():
        raise QualityError(
            f"No person found in any of the {t_count} frames of {video}.",
            "Check that one whole person is in view (not tiny, not cut off), well lit, and "
            "that the video plays correctly.",
        )
    if t_count == 1:
        _photo_gates(video, int(np.asarray(people_seen)[0]), raw_keypoints, height)
    warnings: list[str] = []
    n = int(found.sum())
    if n < min_detection_rate * t_count:
        warnings.append(
            f"{video}: person found in only {n} of {t_count} frames ({n / t_count:.0%}); "
            f"not found in frames {frame_ranges(np.flatnonzero(~found))}. Check those frames "
            "(is the whole person in view?), or trim the clip with --start/--end."
        )
    people = np.asarray(people_seen)
    checked = people != NOT_CHECKED
    crowded = checked & (people >= 2)
    if checked.any() and crowded.sum() >= max(1, max_crowded_rate * checked.sum()):
        warnings.append(
            f"{video}: a second person is in view in {int(crowded.sum())} of "
            f"{int(checked.sum())} checked frames (frames "
            f"{frame_ranges(np.flatnonzero(crowded), step=check_step)}). ptx follows one "
            "person: crop or trim the video so that only they are in it."
        )
    warnings.extend(_out_warning(video, raw_keypoints, width, height))
    if strict and warnings:
        raise QualityError(" ".join(warnings), "(--strict turns these warnings into errors.)")
    return warnings


def _photo_gates(video: str, people: int, raw: np.ndarray, height: int) -> None:
    """The errors of a photo (module docstring)."""
    if people != NOT_CHECKED and people >= 2:
        raise QualityError(
            f"{video} shows {people} people; ptx animates one person.",
            "Crop the photo to the one person to animate.",
        )
    kp = np.asarray(raw, dtype=np.float64)[0, : len(BODY_25)]
    ys = kp[kp[:, 2] > 0.3, 1]
    tall = float(ys.max() - ys.min()) if len(ys) >= 2 else 0.0
    if tall < MIN_PHOTO_PERSON * height:
        raise QualityError(
            f"The person in {video} is too small: {tall:.0f} of the picture's {height} "
            f"pixels tall (at least {MIN_PHOTO_PERSON:.0%} needed).",
            "Crop the photo closer around the person.",
        )


def _out_warning(video: str, raw: np.ndarray, width: int, height: int) -> list[str]:
    out = out_of_picture(raw, width, height)
    frames_out = runs_at_least(out.any(axis=1), MIN_OUT_RUN)
    if not frames_out.any():
        return []
    counts = out[frames_out].sum(axis=0)
    worst = [BODY_25[j] for j in np.argsort(-counts)[:3] if counts[j] > 0]
    n, t_count = int(frames_out.sum()), len(frames_out)
    where = "all frames" if n == t_count else f"frames {frame_ranges(np.flatnonzero(frames_out))}"
    return [
        f"{video}: the person is partly outside the picture in {n} of {t_count} frames "
        f"({where}; mostly {', '.join(worst)}). Keep the whole body in view, or trim the "
        "clip with --start/--end."
    ]

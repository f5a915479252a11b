"""Plain progress lines: at most one every N seconds per stage, warnings as they come."""

from __future__ import annotations

import io

from ptx.api.progress import LineProgress
from ptx.pipeline.stage import StageOutcome


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_every_n_seconds_with_rate_and_eta(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("ptx.api.progress.time.monotonic", clock)
    out = io.StringIO()
    p = LineProgress(out, every=10.0, ends=False)
    p.stage_start("keypoints", 1000, 0)
    for _ in range(30):  # 30 chunks of 16 frames, 2 s each
        clock.now += 2.0
        p.advance("keypoints", 16)
    p.warn("keypoints", "a second person")
    p.stage_end(StageOutcome("keypoints", "ran", 480, 60.0))
    p.stage_start("crop", 480, 0)
    clock.now += 1.0
    p.advance("crop", 480)
    p.stage_end(StageOutcome("crop", "ran", 480, 1.0))  # quick: no line without ends
    lines = out.getvalue().splitlines()
    assert lines[0] == "keypoints: 80/1000 frames, 8.0 frames/s, ETA 0:01:55"
    assert len([x for x in lines if x.startswith("keypoints: ") and "frames/s" in x]) == 6
    assert "warning (keypoints): a second person" in lines
    assert lines[-1] == "keypoints: ran, 480 frames in 60.0 s"  # it spoke, so it ends


def test_training_lines(monkeypatch, tmp_path):
    clock = Clock()
    monkeypatch.setattr("ptx.api.progress.time.monotonic", clock)
    out = io.StringIO()
    p = LineProgress(out, every=5.0)
    p.start(tmp_path, 0, 100)
    for step in range(1, 101):
        clock.now += 1.0
        p.step(step, 100, {"g_total": 1.0 / step, "steps_per_s": 1.0})
    p.end()
    lines = out.getvalue().splitlines()
    assert lines[0] == f"train: run folder {tmp_path}, step 0/100"
    assert len(lines) == 1 + 20  # every 5 s, and the last step
    assert lines[-1].startswith("train: step 100/100, 1.00 steps/s")

"""A killed or interrupted `ptx prepare` resumes where it stopped, with identical results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace


def start_prepare(video: Path, ws: Path) -> subprocess.Popen:
    env = {**os.environ, "PTX_CHUNK_FRAMES": "2", "PTX_WORKSPACE": str(ws)}
    cmd = [sys.executable, "-m", "ptx.cli.main", "prepare", str(video), "--until", "extract"]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_as_from_a_shell,
    )  # fmt: skip


def _as_from_a_shell() -> None:
    """The child starts as a command typed in a terminal would: Ctrl-C neither ignored nor
    blocked (whatever earlier tests left in this process, which the child would inherit),
    and at the lowest priority, so that on a busy machine the watching test is not starved
    while the child extracts the rest of the clip before it can be interrupted."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    os.nice(19)


def wait_for_chunks(ws: Path, proc: subprocess.Popen, at_least: int) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for rec in ws.glob("videos/*/records/extract.json"):
            try:
                data = json.loads(rec.read_text())
            except (json.JSONDecodeError, FileNotFoundError):
                continue
            if len(data["chunks_done"]) >= at_least:
                return data
        if proc.poll() is not None:
            pytest.fail(f"prepare ended before it could be interrupted: {proc.stderr.read()}")
        time.sleep(0.002)
    pytest.fail("no chunk was committed within 60 s")


def extract_record(ws: Path) -> dict:
    return json.loads(next(ws.glob("videos/*/records/extract.json")).read_text())


def frames_of(ws: Path) -> np.ndarray:
    w = Workspace(ws)
    return VideoStore(w, w.video_ids()[0]).read("frames_analysis")


@pytest.fixture
def long_clip(clip):
    return clip("long clip.mp4", frames=500, width=192, height=144, lossless=False)


@pytest.mark.slow
def test_sigkill_then_resume_gives_identical_arrays(long_clip, tmp_path):
    ws = tmp_path / "killed"
    proc = start_prepare(long_clip, ws)
    wait_for_chunks(ws, proc, at_least=3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    killed = extract_record(ws)
    assert killed["status"] == "partial"
    kept = len(killed["chunks_done"])
    assert 3 <= kept < killed["n_chunks"]

    again = start_prepare(long_clip, ws)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    resumed = extract_record(ws)
    assert resumed["status"] == "complete"
    assert resumed["resumed_chunks"] == kept  # committed chunks were skipped, not redone

    clean = tmp_path / "clean"
    ref = start_prepare(long_clip, clean)
    ref.communicate(timeout=120)
    assert ref.returncode == 0
    a, b = frames_of(ws), frames_of(clean)
    assert a.shape == b.shape == (500, 144, 192, 3)
    assert np.array_equal(a, b)


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume(long_clip, tmp_path):
    ws = tmp_path / "ws-int"
    proc = start_prepare(long_clip, ws)
    wait_for_chunks(ws, proc, at_least=2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    text = err.decode()
    state = (signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, []))
    assert proc.returncode == 130, f"{text} (this process's SIGINT handler and mask: {state})"
    assert "Traceback" not in text
    assert "Interrupted during stage 'extract'" in text and "resume" in text
    assert extract_record(ws)["status"] == "partial"
    again = start_prepare(long_clip, ws)
    again.communicate(timeout=120)
    assert again.returncode == 0
    assert extract_record(ws)["status"] == "complete"


@pytest.mark.slow
def test_a_sigkill_inside_every_stage_resumes_to_the_uninterrupted_arrays(tmp_path):
    """One `ptx prepare` killed inside each stage in turn (MediaPipe keypoints included),
    each kill followed by the same command; the store ends bit-identical to a run never
    interrupted. (`make bench` runs the random version: benchmarks/bench_kill.py.)"""
    from ptx.body.synth import SynthConfig, synthesize
    from ptx.pipeline.registry import STAGES

    video = tmp_path / "dance.mp4"
    synthesize(video, SynthConfig("dance", frames=24, size=96, seed=2))
    opts = ["--size", "48", "--set", "fit.rigid_iters=10", "--set", "fit.pose_iters=20",
            "--set", "fit.silhouette_iters=0", "--set", "background.block_frames=4",
            "--set", "keypoints.tracker_segment=12", "--set", "keypoints.tracker_warmup=4"]  # fmt: skip

    def start(ws: Path) -> subprocess.Popen:
        env = {**os.environ, "PTX_CHUNK_FRAMES": "3", "PTX_WORKSPACE": str(ws)}
        cmd = [sys.executable, "-m", "ptx.cli.main", "prepare", str(video), *opts]
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    ws = tmp_path / "killed"
    landed = []
    for stage in STAGES:
        proc = start(ws)
        while proc.poll() is None:
            path = next(ws.glob(f"videos/*/records/{stage}.json"), None)
            try:
                rec = json.loads(path.read_text()) if path else None
            except (json.JSONDecodeError, FileNotFoundError):
                rec = None
            if rec and rec["status"] == "complete":
                break
            if rec and rec["chunks_done"] and len(rec["chunks_done"]) < rec["n_chunks"]:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.001)
        proc.communicate(timeout=300)
        rec = json.loads(next(ws.glob(f"videos/*/records/{stage}.json")).read_text())
        landed.append(stage) if rec["status"] == "partial" else None
    last = start(ws)
    _, err = last.communicate(timeout=600)
    assert last.returncode == 0, err
    assert len(landed) >= len(STAGES) - 2, landed  # a very short stage may finish first
    assert "keypoints" in landed and "fit" in landed

    clean = tmp_path / "clean"
    ref = start(clean)
    _, err = ref.communicate(timeout=600)
    assert ref.returncode == 0, err
    wa, wb = Workspace(ws), Workspace(clean)
    a, b = VideoStore(wa, wa.video_ids()[0]), VideoStore(wb, wb.video_ids()[0])
    assert a.arrays() == b.arrays() and len(a.arrays()) > 20
    for name in a.arrays():
        assert np.array_equal(a.read(name), b.read(name), equal_nan=True), name

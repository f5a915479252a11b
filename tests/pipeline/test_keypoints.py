"""The keypoints stage: MediaPipe on real pixels, OpenPose import, the quality gates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ptx.cache.store import VideoStore
from ptx.errors import InputError, QualityError
from ptx.io.openpose import write_openpose_frames
from ptx.pipeline.crop import canonical_to_source
from ptx.pipeline.keypoints import import_overrides, parse_import
from ptx.pipeline.mediapipe_pose import (
    CrowdCheck,
    PoseTracker,
    QuietSolution,
    mediapipe_to_body25,
)
from ptx.pipeline.runner import prepare_video

NOSE, RSHOULDER, LSHOULDER = 0, 2, 5


def test_mediapipe_mapping_takes_and_derives_the_right_points():
    rng = np.random.default_rng(1)
    lm = np.concatenate([rng.random((33, 2)), rng.uniform(0.2, 1.0, (33, 1))], axis=1)
    kp = mediapipe_to_body25(lm, 200, 100)
    px = lm[:, :2] * (200, 100)
    np.testing.assert_allclose(kp[2, :2], px[12], atol=1e-4)  # RShoulder = right_shoulder
    np.testing.assert_allclose(kp[7, :2], px[15], atol=1e-4)  # LWrist = left_wrist
    np.testing.assert_allclose(kp[22, :2], px[32], atol=1e-4)  # RBigToe = right_foot_index
    np.testing.assert_allclose(kp[1, :2], (px[11] + px[12]) / 2, atol=1e-4)  # Neck
    np.testing.assert_allclose(kp[8, :2], (px[23] + px[24]) / 2, atol=1e-4)  # MidHip
    np.testing.assert_allclose(kp[20, :2], 0.15 * px[29] + 0.85 * px[31], atol=1e-4)
    assert kp[1, 2] == pytest.approx(min(lm[11, 2], lm[12, 2]))
    assert kp[0, 2] == pytest.approx(lm[0, 2])


def test_astronaut_keypoints_land_where_the_transform_put_them(astronaut, render):
    """Nose and shoulders, through MediaPipe, clean-up, crop and back to source pixels,
    stay within a few pixels of the photo's points moved by each frame's transform."""
    assert astronaut.outcomes["keypoints"].status == "ran"
    store = astronaut.store
    assert store.read("person_found").all()
    # The reference: a fresh tracker on the first placement, in photo coordinates.
    with PoseTracker() as tracker:
        first = tracker.process(render(astronaut.placements[0]))
    ref = astronaut.placements[0].invert(first.keypoints[[NOSE, RSHOULDER, LSHOULDER], :2])
    src = canonical_to_source(store.read("keypoints"), store.meta("crop"))
    for t, place in enumerate(astronaut.placements):
        err = np.hypot(*(src[t, [NOSE, RSHOULDER, LSHOULDER], :2] - place.apply(ref)).T)
        assert err[0] < 4.0, (t, err)  # nose
        assert err[1:].max() < 8.0, (t, err)  # shoulders of a bulky suit (person ~180 px);
        # MediaPipe varies by ~0.5 px between runs on the same frames (threaded inference)


def test_no_person_is_an_error_naming_the_video(clip, workspace):
    video = clip("empty-room.mp4", frames=8, width=96, height=64)
    with pytest.raises(QualityError) as exc:
        prepare_video(video, workspace, until="keypoints")
    msg = str(exc.value)
    assert "No person found in any of the 8 frames of empty-room.mp4" in msg
    assert "\n" not in msg


def test_openpose_import_scales_to_analysis_pixels(openpose_clip, workspace):
    video, folder, kp = openpose_clip(n=12, size=(320, 240))
    over = {"extract": {"analysis_size": 160}, "keypoints": import_overrides(f"openpose:{folder}")}
    res = prepare_video(video, workspace, overrides=over, until="keypoints")
    store = VideoStore(workspace, res.video_id)
    raw = store.read("keypoints_raw")
    np.testing.assert_allclose(raw[..., :2], kp[..., :2] * 0.5, atol=1e-3)
    assert store.meta("keypoints")["detector"] == "openpose"
    assert store.meta("keypoints")["segmentation"] is False
    assert store.read("person_found").all()
    assert not store.read("segmentation_analysis").any()


def test_edited_openpose_files_change_the_fingerprint(openpose_clip):
    _, folder, kp = openpose_clip(n=8)
    first = import_overrides(f"openpose:{folder}")
    kp[3, 0, 0] += 5.0
    write_openpose_frames(folder, kp)
    assert import_overrides(f"openpose:{folder}")["import_digest"] != first["import_digest"]
    with pytest.raises(InputError, match="openpose:DIR"):
        parse_import("densepose:/x")


def test_missing_people_warn_with_frame_ranges_and_strict_fails(openpose_clip, workspace):
    present = np.ones(20, bool)
    present[[3, 4, 5, 14]] = False
    video, folder, _ = openpose_clip(n=20, people=present)
    over = {"keypoints": import_overrides(f"openpose:{folder}")}
    res = prepare_video(video, workspace, overrides=over, until="keypoints")
    (warning,) = [w for w in res.outcomes[-1].warnings if "found in only" in w]
    assert "walk.mp4: person found in only 16 of 20 frames (80%)" in warning
    assert "frames 3-5, 14" in warning
    store = VideoStore(workspace, res.video_id)
    kp = store.read("keypoints_analysis")
    assert (kp[[3, 4, 5, 14], :, 2] > 0).all()  # short gaps filled by the clean-up
    over["keypoints"]["strict"] = True
    with pytest.raises(QualityError, match="frames 3-5, 14"):
        prepare_video(video, workspace, overrides=over, until="keypoints")


def test_two_people_in_openpose_files_warn(openpose_clip, workspace):
    video, folder, kp = openpose_clip(n=10)

    for t in range(4, 10):  # a second, fainter person in frames 4-9
        path = next(folder.glob(f"*_{t:012d}_keypoints.json"))
        doc = json.loads(path.read_text())
        other = dict(doc["people"][0])
        other["pose_keypoints_2d"] = [v * 0.5 for v in other["pose_keypoints_2d"]]
        doc["people"].append(other)
        path.write_text(json.dumps(doc))
    over = {"keypoints": import_overrides(f"openpose:{folder}")}
    res = prepare_video(video, workspace, overrides=over, until="keypoints")
    (warning,) = [w for w in res.outcomes[-1].warnings if "second person" in w]
    assert "in 6 of 10 checked frames (frames 4-9)" in warning
    raw = VideoStore(workspace, res.video_id).read("keypoints_raw")
    np.testing.assert_allclose(raw[..., :2], kp[..., :2], atol=1e-3)  # kept following one


def test_openpose_folder_for_another_video_is_refused(openpose_clip, workspace):
    video, folder, _ = openpose_clip(n=12)
    for p in sorted(folder.glob("*.json"))[4:]:
        p.unlink()
    over = {"keypoints": import_overrides(f"openpose:{folder}")}
    with pytest.raises(InputError, match="needs frames 0-11"):
        prepare_video(video, workspace, overrides=over, until="keypoints")


def test_crowd_check_counts_a_second_person(astronaut, render):
    one = render(astronaut.placements[0])
    gap = np.full((one.shape[0], 32, 3), 128, np.uint8)
    two = np.concatenate([one, gap, one[:, ::-1]], axis=1)
    lone = np.concatenate([one, gap, np.full_like(one, 128)], axis=1)
    counts = []
    for img in (two, lone):
        with PoseTracker() as tracker:
            det = tracker.process(img)
        check = CrowdCheck()
        counts.append(check.people(img, det))
        check.close()
    assert counts == [2, 1]


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("PTX_REAL_VIDEO"), reason="PTX_REAL_VIDEO not set")
def test_real_clip_prepares_with_the_person_in_every_frame(workspace):
    video = Path(os.environ["PTX_REAL_VIDEO"])
    res = prepare_video(video, workspace, until="poselabel")
    store = VideoStore(workspace, res.video_id)
    assert store.meta("keypoints")["detection_rate"] >= 0.9
    labels = store.read("poselabel")
    assert (labels.reshape(len(labels), -1).max(axis=1) > 0).all()
    mask = store.read("mask")
    share = (mask >= 128).mean(axis=(1, 2))
    assert (share > 0.02).all() and (share < 0.6).all()


class _FakeTracker:
    """Stands in for MediaPipe: a figure whose x follows the frame's mean brightness, with
    a memory of every frame it has seen (as MediaPipe's tracking and segmentation
    smoothing have), so a tracker that starts in a different place answers differently."""

    calls = 0
    fail_at: int | None = None

    def __init__(self, **kwargs) -> None:
        self.k = 25
        self.memory = 0.0

    def process(self, rgb: np.ndarray):
        from ptx.pipeline.mediapipe_pose import Detection

        type(self).calls += 1
        if type(self).calls == type(self).fail_at:
            raise KeyboardInterrupt
        self.memory = 0.5 * self.memory + float(rgb.mean()) / 4
        kp = np.zeros((25, 3), np.float32)
        kp[:, 0] = self.memory + np.arange(25)
        kp[:, 1] = np.linspace(5, 40, 25)
        kp[:, 2] = 0.8
        return Detection(kp, True, np.full(rgb.shape[:2], 200, np.uint8))

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def test_interrupted_tracking_resumes_to_exactly_the_uninterrupted_result(
    clip, workspace, monkeypatch
):
    """The tracker restarts every 8 frames after a 2-frame warm-up; a resume brings a fresh
    tracker to the resumed frame the same way, so its detections equal an uninterrupted
    run's bit for bit although the (fake) tracker remembers every frame it saw."""
    from ptx.pipeline import mediapipe_pose
    from ptx.pipeline.runner import Interrupted

    monkeypatch.setenv("PTX_CHUNK_FRAMES", "4")
    monkeypatch.setattr(mediapipe_pose, "PoseTracker", _FakeTracker)
    video = clip("fake.mp4", frames=12, width=64, height=48)
    over = {
        "keypoints": {
            "crowd_check_every": 0,
            "tracker_segment": 8,
            "tracker_warmup": 2,
            "trackers": 1,
        }
    }  # fmt: skip (one tracker: the calls are counted)
    _FakeTracker.calls, _FakeTracker.fail_at = 0, 7  # dies at frame 6, in the second chunk
    with pytest.raises(Interrupted):
        prepare_video(video, workspace, overrides=over, until="keypoints")
    _FakeTracker.calls, _FakeTracker.fail_at = 0, None
    res = prepare_video(video, workspace, overrides=over, until="keypoints")
    assert res.outcomes[-1].status == "resumed"
    # chunk 0 was kept: frames 0-3 replayed to reach frame 4, 4-7 tracked, then the
    # segment at 8 warms up on 6-7 and tracks 8-11
    assert _FakeTracker.calls == 4 + 4 + 2 + 4
    store = VideoStore(workspace, res.video_id)
    resumed = store.read("keypoints_raw")
    _FakeTracker.calls = 0
    prepare_video(video, workspace, overrides=over, until="keypoints", force=["keypoints"])
    assert _FakeTracker.calls == 8 + 2 + 4
    straight = store.read("keypoints_raw")
    np.testing.assert_array_equal(straight, resumed)
    assert (store.read("segmentation_analysis") == 200).all()
    # the fake's memory matters: a tracker started cold at frame 4 would have answered
    # differently there (what a resume gave before segments)
    cold = _FakeTracker()
    frames = store.read("frames_analysis")
    assert cold.process(frames[4]).keypoints[0, 0] != straight[4, 0, 0]


def test_segmented_tracker_equals_itself_from_any_chunk():
    """Chunks processed in any order, from any starting chunk, give the same detections as
    one pass over every frame (the property resume relies on)."""
    from ptx.pipeline.tracking import SegmentedTracker

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (40, 4, 4, 3), np.uint8)

    def run(chunks: list[int], chunk: int = 4) -> dict[int, float]:
        tracker = SegmentedTracker(_FakeTracker, lambda a, b: frames[a:b], 12, 3)
        out = {}
        for c in chunks:
            for t in range(c * chunk, min(40, (c + 1) * chunk)):
                out[t] = tracker.process(t, frames[t]).keypoints[0, 0]
        return out

    full = run(list(range(10)))
    for start in (1, 3, 5, 9):
        part = run(list(range(start, 10)))
        assert all(part[t] == full[t] for t in part), start
    gaps = run([0, 2, 3, 7])
    assert all(gaps[t] == full[t] for t in gaps)


def test_imported_hands_travel_through_crop_and_labels(openpose_clip, workspace, tmp_path):
    from ptx.pipeline.poselabel import draw_labels

    video, folder, body = openpose_clip(n=6)
    hands = np.zeros((6, 42, 3), np.float32)
    hands[:, :21, :2] = body[:, 7:8, :2] + np.linspace(0, 12, 21)[None, :, None]
    hands[:, 21:, :2] = body[:, 4:5, :2] + np.linspace(0, 12, 21)[None, :, None]
    hands[..., 2] = 0.7
    write_openpose_frames(folder, np.concatenate([body, hands], axis=1))
    over = {
        "keypoints": {**import_overrides(f"openpose:{folder}"), "hands": True},
        "crop": {"size": 128},
    }
    res = prepare_video(video, workspace, overrides=over, until="poselabel")
    store = VideoStore(workspace, res.video_id)
    kp = store.read("keypoints")
    assert kp.shape == (6, 67, 3) and (kp[:, 25:, 2] > 0).all()
    labels = store.read("poselabel")
    assert labels.shape[1:3] == (96, 128)  # the 320x240 clip's 4:3 at --size 128
    np.testing.assert_array_equal(labels, draw_labels(kp, (96, 128)))
    assert labels.any(-1).sum() > draw_labels(kp[:, :25], (96, 128)).any(-1).sum()


def test_holistic_hands_go_to_the_slot_of_the_nearest_wrist():
    from types import SimpleNamespace

    from ptx.pipeline.mediapipe_pose import _add_hands

    kp = np.zeros((67, 3), np.float32)
    kp[4] = (20.0, 50.0, 0.9)  # RWrist
    kp[7] = (80.0, 50.0, 0.6)  # LWrist
    pts = [SimpleNamespace(x=(21.0 + i) / 100, y=0.5) for i in range(21)]  # at the RWrist
    res = SimpleNamespace(
        left_hand_landmarks=SimpleNamespace(landmark=pts), right_hand_landmarks=None
    )
    _add_hands(kp, res, 100, 100)
    assert (kp[25:46] == 0).all()  # not the left-hand slot, whatever MediaPipe called it
    np.testing.assert_allclose(kp[46:67, 0], 21.0 + np.arange(21), atol=1e-4)
    assert kp[46:67, 2] == pytest.approx(0.9)


QUIET_CHILD = """
import sys, time
import numpy as np
from ptx.pipeline.mediapipe_pose import CrowdCheck, PoseTracker
person = np.load(sys.argv[1])
with PoseTracker() as tracker:  # the landmark model starts on the first frame with a person
    time.sleep(0.5)  # graphs start in their own threads, before the first frame comes
    assert not tracker.process(np.zeros_like(person)).found
    det = tracker.process(person)
    assert det.found and tracker.process(person).found
crowd = CrowdCheck()
assert crowd.people(person, det) == 1
crowd.close()
print("tracked")
"""


def test_mediapipe_start_up_chatter_is_held_back_and_other_lines_pass(
    capfd, astronaut, render, tmp_path
):
    """In a fresh process (MediaPipe prints some lines once per process)."""
    np.save(tmp_path / "person.npy", render(astronaut.placements[0]))
    child = [sys.executable, "-c", QUIET_CHILD, str(tmp_path / "person.npy")]
    res = subprocess.run(child, capture_output=True, text=True, check=False)
    assert res.returncode == 0 and res.stdout == "tracked\n", res.stderr
    for chatter in ("XNNPACK", "inference_feedback_manager", "NORM_RECT", "absl::InitializeLog"):
        assert chatter not in res.stderr

    def failing(rgb: np.ndarray) -> None:
        os.write(2, b"W0000 00:00:1.0 1 inference_feedback_manager.cc:114] Feedback\n")
        os.write(2, b"E0000 calculator_graph.cc:1] a real problem\n50%\r")
        raise RuntimeError("graph failed")

    broken = QuietSolution(lambda: SimpleNamespace(process=failing, close=lambda: None))
    with pytest.raises(RuntimeError, match="graph failed"):
        broken.process(np.zeros((4, 4, 3), np.uint8))
    assert capfd.readouterr().err == "E0000 calculator_graph.cc:1] a real problem\n50%\r"
    idle = SimpleNamespace(close=lambda: None)  # a solution that does nothing
    first, second = QuietSolution(lambda: idle), QuietSolution(lambda: idle)  # overlapping
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nheld 1\n")
    first.close()  # not the last holder: still held
    os.write(2, b"held 2\n")
    assert capfd.readouterr().err == ""
    second.close()
    os.write(2, b"free\n")
    assert capfd.readouterr().err == "held 1\nheld 2\nfree\n"


def test_strict_is_no_part_of_the_fingerprint(openpose_clip, workspace):
    """--strict changes no output: switching it on re-runs nothing, yet still stops on the
    warnings the cached keypoints stage recorded."""
    video, folder, _ = openpose_clip(n=10)
    over = {"keypoints": import_overrides(f"openpose:{folder}"), "crop": {"size": 64}}
    first = prepare_video(video, workspace, overrides=over, until="poselabel")
    assert [o.status for o in first.outcomes] == ["ran"] * 5
    again = prepare_video(video, workspace, overrides=over, until="poselabel", strict=True)
    assert [o.status for o in again.outcomes] == ["cached"] * 5
    over["keypoints"]["strict"] = True  # the stage setting behaves the same
    again = prepare_video(video, workspace, overrides=over, until="poselabel")
    assert [o.status for o in again.outcomes] == ["cached"] * 5


def test_strict_stops_on_the_warnings_of_a_cached_stage(openpose_clip, workspace):
    present = np.ones(12, bool)
    present[2:7] = False
    video, folder, _ = openpose_clip(n=12, people=present)
    over = {"keypoints": import_overrides(f"openpose:{folder}")}
    res = prepare_video(video, workspace, overrides=over, until="keypoints")
    assert res.outcomes[-1].status == "ran" and res.outcomes[-1].warnings
    with pytest.raises(QualityError, match="found in only 7 of 12 frames"):
        prepare_video(video, workspace, overrides=over, until="keypoints", strict=True)
    res = prepare_video(video, workspace, overrides=over, until="keypoints")
    assert res.outcomes[-1].status == "cached"  # the strict run threw nothing away


def test_two_trackers_give_the_detections_of_one(clip, tmp_path, monkeypatch):
    """Every other segment tracked by a second tracker at the same time: the (remembering)
    fake's detections, and so every output, equal one tracker's bit for bit, and the second
    tracker really ran (its thread saw frames)."""
    import threading

    from ptx.cache.workspace import Workspace
    from ptx.pipeline import mediapipe_pose

    seen: set[str] = set()

    class Recording(_FakeTracker):
        def process(self, rgb):
            seen.add(threading.current_thread().name)
            return super().process(rgb)

    monkeypatch.setenv("PTX_CHUNK_FRAMES", "4")
    monkeypatch.setattr(mediapipe_pose, "PoseTracker", Recording)
    video = clip("fake.mp4", frames=30, width=64, height=48)
    arrays = []
    for n in (1, 2):
        over = {"keypoints": {"crowd_check_every": 0, "tracker_segment": 8, "tracker_warmup": 2,
                              "trackers": n}}  # fmt: skip
        _FakeTracker.calls, _FakeTracker.fail_at = 0, None
        seen.clear()
        ws = Workspace(tmp_path / f"t{n}")
        res = prepare_video(video, ws, overrides=over, until="keypoints")
        store = VideoStore(ws, res.video_id)
        arrays.append({a: store.read(a) for a in ("keypoints_raw", "keypoints_analysis",
                                                 "person_found", "segmentation_analysis")})  # fmt: skip
        assert store.record("keypoints").status == "complete"
        assert sorted(store.record("keypoints").chunks_done) == list(range(8))
        assert ("ptx-tracker" in seen) == (n == 2)
    for name, a in arrays[0].items():
        np.testing.assert_array_equal(a, arrays[1][name], err_msg=name)


@pytest.mark.slow
def test_two_mediapipe_trackers_give_the_detections_of_one(tmp_path):
    """The same with MediaPipe itself (two graphs at once) on the astronaut clip."""
    from ptx.cache.workspace import Workspace
    from tests.pipeline.conftest import astronaut_placements, write_astronaut_clip

    video = write_astronaut_clip(tmp_path / "astro.mp4", astronaut_placements())
    arrays = []
    for n in (1, 2):
        over = {"keypoints": {"tracker_segment": 8, "tracker_warmup": 2, "trackers": n}}
        ws = Workspace(tmp_path / f"mp{n}")
        res = prepare_video(video, ws, overrides=over, until="keypoints")
        store = VideoStore(ws, res.video_id)
        arrays.append({a: store.read(a) for a in ("keypoints_raw", "segmentation_analysis",
                                                 "people_seen")})  # fmt: skip
    assert arrays[0]["keypoints_raw"][..., 2].max() > 0.5  # the person was found
    for name, a in arrays[0].items():
        np.testing.assert_array_equal(a, arrays[1][name], err_msg=name)


LAZY_PYPLOT = """
import json, sys
from ptx.pipeline.mediapipe_pose import load_mediapipe
mp = load_mediapipe()
pyplot = sys.modules.get("matplotlib.pyplot")
before = {"pyplot": type(pyplot).__name__, "figure": "matplotlib.figure" in sys.modules,
          "pose": hasattr(mp.solutions.pose, "Pose")}
import matplotlib.pyplot as plt
plt.switch_backend("Agg")
fig = plt.figure()
print(json.dumps({**before, "after": "matplotlib.figure" in sys.modules,
                  "works": type(fig).__name__ == "Figure"}))
"""


def test_mediapipe_loads_without_running_pyplot_which_still_works_afterwards(tmp_path):
    """``load_mediapipe`` leaves pyplot (imported by MediaPipe's drawing helpers, unused by
    ptx) to load on first use; a later ``import matplotlib.pyplot`` works as ever."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", LAZY_PYPLOT], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(root)}, cwd=tmp_path, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"pyplot": "_LazyModule", "figure": False, "pose": True, "after": True,
                    "works": True}  # fmt: skip

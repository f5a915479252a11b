"""`ptx export`: every format, read back where ptx reads it (OpenPose, IUV, SMPL motion),
or checked against the stored arrays and the layouts other tools read."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from ptx.body.controlnet_pose import draw_controlnet_pose
from ptx.body.densepose import densepose_files, read_iuv, to_canonical
from ptx.cache.workspace import Workspace
from ptx.errors import InputError
from ptx.io.comfyui import read_comfyui
from ptx.io.openpose import COCO_18_TO_BODY_25, read_openpose_numbered
from ptx.io.smpl_motion import CAMERA, read_motion
from ptx.io.video import probe_video
from ptx.pipeline.crop import CropBox
from ptx.pipeline.runner import prepare_video
from ptx.tools.export import export

pytestmark = pytest.mark.slow
COCO = list(COCO_18_TO_BODY_25)


def test_openpose_canonical_reads_back_exactly(prepared_synth, tmp_path):
    p = prepared_synth
    res = export(p.workspace, p.subject, "openpose", tmp_path)
    assert res.outputs == [tmp_path] and res.frames == 24
    assert (tmp_path / "dancer_000000000023_keypoints.json").is_file()
    got = read_openpose_numbered(tmp_path)
    assert list(got.numbers) == list(range(24))
    np.testing.assert_allclose(got.keypoints, p.store.read("keypoints"), atol=1e-3)


def test_openpose_in_source_pixels_is_what_prepare_imports(prepared_synth, tmp_path):
    """Source-pixel files are numbered by source frame: `ptx prepare VIDEO --keypoints
    openpose:DIR` reads them back into the same canonical keypoints."""
    p = prepared_synth
    export(p.workspace, str(p.video), "openpose", tmp_path / "src", coords="source")
    kp = read_openpose_numbered(tmp_path / "src").keypoints
    box = CropBox.from_meta(p.store.meta("crop"))
    np.testing.assert_allclose(box.to_canonical(kp), p.store.read("keypoints"), atol=2e-3)
    from ptx.pipeline.keypoints import import_overrides

    ws = Workspace(tmp_path / "ws2")
    over = {"keypoints": {**import_overrides(f"openpose:{tmp_path / 'src'}"), "cleanup": False},
            "crop": {"size": 64}}  # fmt: skip
    again = prepare_video(p.video, ws, "again", over, until="crop")
    from ptx.cache.store import VideoStore

    redo = VideoStore(ws, again.video_id)
    assert redo.meta("crop")["box_side"] == p.store.meta("crop")["box_side"]
    np.testing.assert_allclose(redo.read("keypoints"), p.store.read("keypoints"), atol=2e-3)


def test_openpose_coco18(prepared_synth, tmp_path):
    p = prepared_synth
    export(p.workspace, p.subject, "openpose", tmp_path, skeleton="coco18")
    doc = json.loads((tmp_path / "dancer_000000000005_keypoints.json").read_text())
    assert len(doc["people"][0]["pose_keypoints_2d"]) == 54
    got = read_openpose_numbered(tmp_path).keypoints
    np.testing.assert_allclose(got[:, COCO], p.store.read("keypoints")[:, COCO], atol=1e-3)


def test_comfyui_single_file(prepared_synth, tmp_path):
    p = prepared_synth
    res = export(p.workspace, p.subject, "comfyui", tmp_path)
    (path,) = res.outputs
    assert path.name == "dancer_pose_keypoints.json"
    data = json.loads(path.read_text())
    assert len(data) == 24 and {data[0]["canvas_width"], data[0]["canvas_height"]} == {64}
    seq = read_comfyui(path)
    kp = p.store.read("keypoints")
    ok = kp[:, COCO, 2] > 0.05
    np.testing.assert_allclose(seq.keypoints[:, COCO, :2][ok], kp[:, COCO, :2][ok], atol=1e-3)


def test_pose_video_as_pngs_and_mp4(prepared_synth, tmp_path):
    p = prepared_synth
    export(p.workspace, p.subject, "pose-video", tmp_path / "png", fmt="png")
    kp = p.store.read("keypoints")
    for t in (0, 11, 23):
        img = cv2.cvtColor(cv2.imread(str(tmp_path / "png" / f"{t:06d}.png")), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(img, draw_controlnet_pose(kp[t], (64, 64)))
    (mp4,) = export(p.workspace, p.subject, "pose-video", tmp_path / "mp4").outputs
    info = probe_video(mp4)
    assert (info.frame_count, info.width, info.height) == (24, 64, 64)


def test_mask_frames_background_iuv_are_the_stored_arrays(prepared_synth, tmp_path):
    p, s = prepared_synth, prepared_synth.store
    export(p.workspace, p.subject, "mask", tmp_path / "mask")
    mask = np.stack([cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
                     for f in sorted((tmp_path / "mask").glob("*.png"))])  # fmt: skip
    np.testing.assert_array_equal(mask, s.read("mask"))
    (matte,) = export(p.workspace, p.subject, "mask", tmp_path / "m4", fmt="mp4").outputs
    assert probe_video(matte).frame_count == 24
    export(p.workspace, p.subject, "frames", tmp_path / "frames")
    first = cv2.cvtColor(cv2.imread(str(tmp_path / "frames" / "000000.png")), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(first, s.read("frames", 0, 1)[0])
    (bg,) = export(p.workspace, p.subject, "background", tmp_path / "bg").outputs
    np.testing.assert_array_equal(cv2.imread(str(bg))[..., ::-1], s.read("background"))
    export(p.workspace, p.subject, "iuv", tmp_path / "iuv")
    files = densepose_files(tmp_path / "iuv")  # as `--iuv densepose:DIR` finds them
    assert len(files) == 24 and files[3].name == "000003_IUV.png"
    iuv = np.stack([read_iuv(f) for f in files])
    np.testing.assert_array_equal(iuv, s.read("iuv"))
    np.testing.assert_array_equal(to_canonical(iuv[5], 64, 64, (0, 0, 64), 64), iuv[5])


def test_smpl_motion_reads_back_with_a_note_on_the_open_body(prepared_synth, tmp_path):
    p, s = prepared_synth, prepared_synth.store
    res = export(p.workspace, p.subject, "smpl", tmp_path)
    assert any("open body model" in n for n in res.notes)
    m = read_motion(res.outputs[0])
    assert m.coordinates == CAMERA and m.fps == 25.0 and m.camera_size == (64, 64)
    np.testing.assert_array_equal(m.pose, s.read("body/pose"))
    np.testing.assert_array_equal(m.trans, s.read("body/transl"))
    np.testing.assert_array_equal(m.camera, s.read("body/camera"))
    np.testing.assert_array_equal(m.betas, s.read("body/shape"))
    with np.load(res.outputs[0]) as z:
        assert "open body model" in str(z["note"]) and str(z["body_model"]) == "open"


def test_bad_exports(prepared_synth, tmp_path, clip):
    p = prepared_synth
    with pytest.raises(InputError, match="Cannot export 'openpose25'"):
        export(p.workspace, p.subject, "openpose25", tmp_path)
    with pytest.raises(InputError, match="cannot be written as 'mp4'"):
        export(p.workspace, p.subject, "iuv", tmp_path, fmt="mp4")
    with pytest.raises(InputError, match="No video file, subject or video id named 'nobody'"):
        export(p.workspace, "nobody", "mask", tmp_path)
    ws = Workspace(tmp_path / "ws")
    prepare_video(clip("short.mp4", frames=4), ws, "partial", until="extract")
    with pytest.raises(InputError, match=r"has no 'iuv' yet \(stage 'iuv'\)"):
        export(ws, "partial", "iuv", tmp_path)


def test_cli_export(cli, prepared_synth, tmp_path):
    p = prepared_synth
    res = cli("export", "-s", p.subject, "--what", "comfyui", "-o", tmp_path / "c",
              "-w", p.workspace.root)  # fmt: skip
    assert res.code == 0, res.err
    assert "Wrote" in res.out and (tmp_path / "c" / "dancer_pose_keypoints.json").is_file()
    res = cli("export", p.subject, "--what", "nope", "-o", tmp_path, "-w", p.workspace.root)
    assert res.code == 2 and res.err.startswith("ptx: error: Cannot export 'nope'")

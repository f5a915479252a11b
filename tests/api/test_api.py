"""The Python API end to end: prepare -> train -> transfer through ``ptx.*`` only, then
every pose input, trimming, a batch, and config files, all on one tiny trained subject."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

import ptx
from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.io.video import probe_video

pytestmark = pytest.mark.slow
FIT = {"fit": {"rigid_iters": 20, "pose_iters": 40, "silhouette_iters": 0, "shape_frames": 8}}
TINY = {"uv_warmup_steps": 0, "size": 32, "batch": 1, "eval_every": 4, "sample_every": 4,
        "checkpoint_every": 4}  # fmt: skip


@dataclass
class Flow:
    root: Path
    ws: Path
    source: Path
    run: object
    transferred: object


@pytest.fixture(scope="module")
def flow(tmp_path_factory) -> Flow:
    root = tmp_path_factory.mktemp("api")
    ws = root / "ws"
    target, source = root / "target.mp4", root / "source.mp4"
    synthesize(target, SynthConfig("dance", frames=32, size=64, seed=3))
    synthesize(source, SynthConfig("wave", frames=20, size=64, seed=5))
    prep = ptx.prepare(target, "alice", workspace=ws, size=64, settings=FIT,
                       keypoints=f"openpose:{gt_dir_for(target) / 'openpose'}")  # fmt: skip
    assert isinstance(prep, ptx.Prepared) and prep.subject == "alice"
    assert [o.status for o in prep.outcomes] == ["ran"] * 10
    run = ptx.train("alice", workspace=ws, steps=4, settings=TINY)
    out = ptx.transfer(source, "alice", root / "out.mp4", workspace=ws, settings=FIT,
                       source_keypoints=f"openpose:{gt_dir_for(source) / 'openpose'}")  # fmt: skip
    return Flow(root, ws, source, run, out)


def test_prepare_train_transfer_through_ptx_only(flow):
    run, out = flow.run, flow.transferred
    assert run.end_step == 4 and run.checkpoint.is_file() and "psnr" in run.final
    assert out.output == flow.root / "out.mp4" and out.frames == 20 and out.run == run.run_dir
    info = probe_video(out.output)
    assert (info.frame_count, info.width, info.height) == (20, 32, 32)
    again = ptx.prepare(flow.root / "target.mp4", "alice", workspace=flow.ws, size=64,
                        settings=FIT, keypoints=f"openpose:{gt_dir_for(flow.root / 'target.mp4') / 'openpose'}")  # fmt: skip
    assert {o.status for o in again.outcomes} == {"cached"}


def test_errors_are_typed(flow, tmp_path):
    with pytest.raises(ptx.InputError, match="No such file"):
        ptx.prepare(tmp_path / "missing.mp4", workspace=flow.ws)
    with pytest.raises(ptx.PtxError, match="has no trained run"):
        ptx.transfer(flow.source, "bob", workspace=flow.ws)
    with pytest.raises(ptx.WorkspaceError, match="No workspace"):
        ptx.score("alice", workspace=tmp_path / "nowhere")


def test_render_every_pose_format_with_trimming(flow, tmp_path):
    exported = {}
    for what in ("comfyui", "openpose", "smpl"):
        res = ptx.export("alice", what, tmp_path / what, workspace=flow.ws)
        exported[what] = res.outputs[0]
    from ptx.io.coco import COCO_17_TO_BODY_25
    from ptx.io.openpose import read_openpose_frames

    body25, _ = read_openpose_frames(exported["openpose"])
    coco = tmp_path / "coco.npy"
    np.save(coco, body25[:, list(COCO_17_TO_BODY_25)])  # the same poses as COCO-17
    cases = {
        "comfyui": (exported["comfyui"], {}, 32, 25.0),
        "openpose": (f"openpose:{exported['openpose']}", {"max_frames": 9}, 9, 25.0),
        "coco17": (coco, {"start": 0.4, "end": 0.8}, 10, 25.0),
        "smpl": (exported["smpl"], {"fps": 10.0}, 13, 10.0),
    }
    for name, (poses, trim, frames, fps) in cases.items():
        res = ptx.render("alice", tmp_path / f"{name}.mp4", poses=poses, workspace=flow.ws, **trim)
        info = probe_video(res.output)
        assert (res.frames, info.frame_count, info.fps) == (frames, frames, fps), name
    held = ptx.render("alice", workspace=flow.ws, max_frames=2)
    assert held.frames == 2 and held.output == flow.ws / "outputs" / "alice-heldout.mp4"


def test_transfer_from_a_pose_file_and_a_trimmed_video(flow, tmp_path):
    smpl = ptx.export("alice", "smpl", tmp_path, workspace=flow.ws).outputs[0]
    res = ptx.transfer(smpl, "alice", tmp_path / "s.mp4", workspace=flow.ws, start=0.2,
                       end=0.6, keep_audio=True)  # fmt: skip
    assert res.frames == 10 and any("pose file; the result is silent" in n for n in res.notes)
    with pytest.raises(ptx.InputError, match="--side-by-side needs a source video"):
        ptx.transfer(smpl, "alice", tmp_path / "x.mp4", workspace=flow.ws, side_by_side=True)
    res = ptx.transfer(flow.source, "alice", tmp_path / "t.mp4", workspace=flow.ws,
                       settings=FIT, source_keypoints=f"openpose:{gt_dir_for(flow.source) / 'openpose'}",
                       start=0.2, end=0.6, fps=10)  # fmt: skip
    info = probe_video(res.output)
    assert (res.frames, info.frame_count, info.fps) == (4, 4, 10.0)


def test_batch_loads_each_model_once(flow, tmp_path, monkeypatch):
    import ptx.perform.render as render_mod

    loads = []
    real = render_mod.load_model
    monkeypatch.setattr(render_mod, "load_model", lambda *a, **k: loads.append(a) or real(*a, **k))
    comfy = ptx.export("alice", "comfyui", tmp_path, workspace=flow.ws).outputs[0]
    batch = tmp_path / "jobs.yaml"
    batch.write_text(yaml.safe_dump({
        "defaults": {"target": "alice", "max_frames": 3},
        "jobs": [{"source": comfy.name, "output": "a.mp4"},
                 {"source": str(comfy), "output": "b.mp4", "fps": 5},
                 {"source": "missing.json", "output": "c.mp4"}],
    }))  # fmt: skip
    res = ptx.transfer_batch(batch, workspace=flow.ws)
    assert len(res.results) == 2 and len(loads) == 1
    assert [r.output.name for _, r in res.results] == ["a.mp4", "b.mp4"]
    assert probe_video(tmp_path / "b.mp4").fps == 5.0
    ((job, error),) = res.failures
    assert job["output"].endswith("c.mp4") and "No such pose file" in str(error)


def test_a_saved_runs_config_trains_with_the_same_settings(flow):
    saved = yaml.safe_load((flow.run.run_dir / "config.yaml").read_text())
    again = ptx.train("alice", config=flow.run.run_dir / "config.yaml", workspace=flow.ws)
    new = yaml.safe_load((again.run_dir / "config.yaml").read_text())
    assert again.run_dir != flow.run.run_dir
    assert new["config"] == saved["config"] and new["method"] == saved["method"]
    assert new["config"]["size"] == 32 and new["config"]["steps"] == 4  # not the preset's


def test_progress_lines(flow, capsys):
    ptx.prepare(flow.root / "target.mp4", "alice", workspace=flow.ws, size=64, settings=FIT,
                keypoints=f"openpose:{gt_dir_for(flow.root / 'target.mp4') / 'openpose'}",
                progress=True)  # fmt: skip
    err = capsys.readouterr().err.splitlines()
    assert "extract: cached, 32 frames in 0.0 s" in err and len(err) == 10


def test_cli_batch_reports_each_job_and_fails_if_one_did(flow, cli, tmp_path):
    comfy = ptx.export("alice", "comfyui", tmp_path, workspace=flow.ws).outputs[0]
    jobs = [{"source": str(comfy), "target": "alice", "output": "a.mp4", "max_frames": 2},
            {"source": str(comfy), "target": "bob", "output": "b.mp4"}]  # fmt: skip
    (tmp_path / "jobs.json").write_text(__import__("json").dumps(jobs))
    res = cli("transfer", "--batch", tmp_path / "jobs.json", "-w", flow.ws)
    assert res.code == 2, res.err
    assert f"Wrote {tmp_path / 'a.mp4'}" in res.out and "1 of 2 transfers done." in res.out
    assert "failed" in res.err and "1 of 2 transfers failed" in res.err

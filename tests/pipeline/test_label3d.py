"""Stage ``label3d``: camera-space normal maps of the fitted body."""

from __future__ import annotations

import numpy as np

from ptx.body.synth import SynthConfig, synth_subject
from ptx.cache.records import StageRecord
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.pipeline.label3d import Label3dStage
from ptx.pipeline.stage import NullReporter, StageContext


def test_label3d_renders_the_fitted_body_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CHUNK_FRAMES", "3")
    sub = synth_subject(SynthConfig(motion="dance", frames=7, size=48, seed=4))
    store = VideoStore(Workspace(tmp_path / "ws"), "v")
    for name, arr in {
        "body/pose": sub.pose,
        "body/transl": sub.transl,
        "body/camera": np.tile(sub.camera, (7, 1)),
    }.items():
        store.create_array(name, arr.shape, arr.dtype)
        store.write(name, 0, arr)
    store.create_array("body/shape", (10,), np.float32, time_axis=False)
    store.open_array("body/shape")[:] = sub.betas
    meta = {"body_spec": "open", "size": 48}
    store.write_record(StageRecord("fit", 1, "t", {}, "", {}, "x", status="complete", meta=meta))
    rec = StageRecord("label3d", 1, "t", {}, "", {}, "y")
    ctx = StageContext(Label3dStage(), Label3dStage.Config(), store, rec, None, NullReporter())
    Label3dStage().run(ctx)
    assert rec.n_chunks == 3 and rec.frames == 7
    got = store.read("label3d")
    assert got.shape == (7, 48, 48, 3) and np.array_equal(got, sub.label3d)
    person = sub.mask > 0
    assert (got[person] > 0).all() and (got[~person] == 0).all()

"""Stage ``iuv``: renders the fitted body chunk by chunk, or imports DensePose images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ptx.body.synth import SynthConfig, synth_subject
from ptx.cache.records import StageRecord
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.errors import InputError
from ptx.pipeline.iuv import IuvConfig, IuvStage
from ptx.pipeline.stage import NullReporter, StageContext

SIZE = 64


@pytest.fixture(scope="module")
def subject():
    return synth_subject(SynthConfig(motion="walk", frames=10, size=SIZE, seed=2))


def fitted_store(tmp_path, subject, body: str = "open") -> VideoStore:
    """A store holding ``subject``'s true body as if ``fit`` had produced it, and a crop
    record whose box is the whole of a source video twice the canonical size."""
    store = VideoStore(Workspace(tmp_path / "ws"), "v")
    n = len(subject.pose)
    arrays = {
        "body/pose": subject.pose,
        "body/transl": subject.transl,
        "body/camera": np.tile(subject.camera, (n, 1)),
    }
    for name, arr in arrays.items():
        store.create_array(name, arr.shape, arr.dtype)
        store.write(name, 0, arr)
    store.create_array("body/shape", subject.betas.shape, np.float32, time_axis=False)
    store.open_array("body/shape")[:] = subject.betas
    crop = {"box_x0": 0, "box_y0": 0, "box_side": 2 * SIZE, "size": SIZE}
    crop |= {"source_width": 2 * SIZE, "source_height": 2 * SIZE}
    for stage, meta in {"fit": {"body_spec": body, "size": SIZE}, "crop": crop}.items():
        store.write_record(_record(stage, "complete", meta))
    return store


def _record(stage: str, status: str = "partial", meta=None) -> StageRecord:
    return StageRecord(stage, 1, "test", {}, "", {}, stage, status=status, meta=meta or {})


def run_stage(stage_cls, store: VideoStore, config=None, record=None) -> StageRecord:
    rec = record or _record(stage_cls.name)
    ctx = StageContext(stage_cls(), config or stage_cls.Config(), store, rec, None, NullReporter())
    stage_cls().run(ctx)
    return rec


def test_iuv_renders_the_fit_in_chunks_and_resumes(tmp_path, subject, monkeypatch):
    monkeypatch.setenv("PTX_CHUNK_FRAMES", "4")
    store = fitted_store(tmp_path, subject)
    rec = run_stage(IuvStage, store)
    assert rec.n_chunks == 3 and sorted(rec.chunks_done) == [0, 1, 2] and rec.frames == 10
    assert np.array_equal(store.read("iuv"), subject.iuv)
    # a resumed run leaves committed chunks alone and fills the rest
    store.write("iuv", 0, np.full((4, SIZE, SIZE, 3), 7, np.uint8))
    store.write("iuv", 4, np.zeros((6, SIZE, SIZE, 3), np.uint8))
    partial = _record("iuv")
    partial.n_chunks, partial.chunks_done = 3, [0]
    run_stage(IuvStage, store, record=partial)
    got = store.read("iuv")
    assert (got[:4] == 7).all() and np.array_equal(got[4:], subject.iuv[4:])


def test_a_missing_smpl_file_warns_and_renders_with_the_open_model(tmp_path, subject):
    store = fitted_store(tmp_path, subject, body=f"smpl:{tmp_path / 'gone.pkl'}")
    rec = run_stage(IuvStage, store)
    assert any("SMPL model file" in w and "open body model" in w for w in rec.warnings)
    assert np.array_equal(store.read("iuv"), subject.iuv)


def test_densepose_images_are_mapped_into_the_canonical_crop(tmp_path, subject):
    store = fitted_store(tmp_path, subject)
    folder = tmp_path / "dp"
    folder.mkdir()
    for t, img in enumerate(subject.iuv):  # the source is twice the canonical size
        big = cv2.resize(img, (2 * SIZE, 2 * SIZE), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(folder / f"frame{t:04d}_IUV.png"), big)
    (folder / "notes.txt").write_text("not an image")
    rec = run_stage(IuvStage, store, IuvConfig(source=f"densepose:{folder}"))
    assert np.array_equal(store.read("iuv"), subject.iuv)
    assert rec.meta["files"] == 10
    (folder / "frame0009_IUV.png").unlink()
    with pytest.raises(InputError, match="has 9 IUV images but the video has 10 frames"):
        run_stage(IuvStage, store, IuvConfig(source=f"densepose:{folder}"))
    with pytest.raises(InputError, match=r"iuv\.source='magic' is unknown"):
        IuvStage.check(IuvConfig(source="magic"))

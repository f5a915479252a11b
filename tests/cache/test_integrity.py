"""Damaged and missing chunks: detected on read (never zeros), found by `ptx verify`, and
recomputed by `ptx prepare` (only those chunks; what was computed from them stays)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache import integrity
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.errors import DamagedError
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video


@pytest.fixture
def prepared(tmp_path, monkeypatch):
    """A synthetic clip prepared through crop (keypoints imported), 4 frames a chunk."""
    monkeypatch.setenv("PTX_CHUNK_FRAMES", "4")
    video = tmp_path / "dance.mp4"
    synthesize(video, SynthConfig("dance", frames=16, size=64, seed=1))
    ws = Workspace(tmp_path / "ws")
    over = {
        "keypoints": import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}"),
        "crop": {"size": 32},
    }
    res = prepare_video(video, ws, "dancer", over, until="crop")
    return video, ws, over, VideoStore(ws, res.video_id)


def chunk_path(store: VideoStore, name: str, index: int) -> Path:
    arr = store.open_array(name)
    return integrity.chunk_file(store.zarr_path / name, arr, index)


def garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def tokens(store: VideoStore) -> dict[str, str]:
    return {s: store.record(s).token for s in ("extract", "keypoints", "crop")}


@pytest.mark.parametrize("harm", ["delete", "garble"])
def test_a_damaged_chunk_is_refused_on_read_and_prepare_recomputes_only_it(prepared, harm):
    video, ws, over, store = prepared
    before = {n: store.read(n) for n in ("frames_analysis", "frames", "keypoints")}
    tok = tokens(store)
    path = chunk_path(store, "frames_analysis", 2)  # frames 8-11
    path.unlink() if harm == "delete" else garble(path)
    fresh = VideoStore(ws, store.video_id)
    fresh.read("frames_analysis", 0, 8)  # other chunks read as before
    with pytest.raises(DamagedError) as err:
        fresh.read("frames_analysis")  # never zeros
    text = str(err.value)
    assert "frames_analysis" in text and "frames 8-11" in text and store.video_id in text
    assert ("missing" if harm == "delete" else "damaged") in text
    assert "ptx verify --repair" in text

    res = prepare_video(video, ws, "dancer", over, until="crop")
    status = {o.stage: o.status for o in res.outcomes}
    assert status == {"extract": "repaired", "keypoints": "cached", "crop": "cached"}
    rec = store.record("extract")
    assert rec.resumed_chunks == rec.n_chunks - 1  # exactly one chunk was recomputed
    assert tokens(store) == tok  # bit-identical repair: downstream kept
    after = VideoStore(ws, store.video_id)
    for name, arr in before.items():
        np.testing.assert_array_equal(after.read(name), arr)


def test_a_repair_that_differs_reruns_what_follows(prepared):
    """When a recomputed chunk does not match the recorded checksum (here: the checksum
    was altered, standing in for a stage that cannot reproduce its output), the stage gets
    a new token and the stages after it run again."""
    video, ws, over, store = prepared
    rec_path = store.records_dir / "extract.json"
    rec = json.loads(rec_path.read_text())
    rec["checksums"]["frames_analysis"][1] = "00000000"
    rec_path.write_text(json.dumps(rec))
    old = tokens(store)
    res = prepare_video(video, ws, "dancer", over, until="crop")
    status = {o.stage: o.status for o in res.outcomes}
    assert status["extract"] == "repaired" and status["keypoints"] in ("ran", "resumed")
    assert tokens(store)["extract"] != old["extract"]


def test_verify_finds_every_kind_of_damage_and_repair_fixes_the_chunks(prepared, cli):
    _, ws, _, store = prepared
    chunk_path(store, "frames", 1).unlink()
    garble(chunk_path(store, "keypoints_raw", 0))
    res = cli("verify", "-w", ws.root)
    assert res.code == 7, res.err
    assert "frames chunk 1 (frames 4-7): missing" in res.out
    assert "keypoints_raw chunk 0 (frames 0-3): damaged" in res.out
    assert res.err.count("\n") == 1 and "verify --repair" in res.err
    res = cli("verify", "dancer", "--repair", "-w", ws.root)
    assert res.code == 0, res.err
    assert cli("verify", "-w", ws.root).code == 0


def test_a_resume_drops_committed_chunks_that_were_damaged_since(prepared):
    """A partial stage (killed) whose committed chunk was deleted before the resume
    recomputes it instead of keeping a hole."""
    video, ws, over, store = prepared
    rec = store.record("crop")
    rec.status, rec.chunks_done = "partial", [0, 1]
    store.write_record(rec)
    chunk_path(store, "frames", 1).unlink()
    before = VideoStore(ws, store.video_id).read("frames", 0, 4)
    prepare_video(video, ws, "dancer", over, until="crop")
    assert store.record("crop").resumed_chunks == 1  # chunk 0 kept, chunk 1 redone
    fresh = VideoStore(ws, store.video_id)
    np.testing.assert_array_equal(fresh.read("frames", 0, 4), before)
    assert fresh.read("frames", 4, 8).any()


def test_stale_temp_files_of_killed_writes_are_removed(prepared):
    video, ws, over, store = prepared
    junk = [
        store.records_dir / ".crop.json.abcd1234.tmp",
        chunk_path(store, "frames", 0).with_suffix(".0123456789abcdef0123456789abcdef.partial"),
    ]
    for p in junk:
        p.write_bytes(b"x" * 100)
    keep = store.dir / "notes.txt"
    keep.write_text("mine")
    prepare_video(video, ws, "dancer", over, until="crop")
    assert not any(p.exists() for p in junk) and keep.exists()


def test_chunks_carry_a_crc32c_and_the_record_lists_it(prepared):
    _, _, _, store = prepared
    arr = store.open_array("frames")
    assert integrity.checksummed(arr)
    sums = store.record("crop").checksums["frames"]
    assert len(sums) == integrity.n_chunks(arr) == 4
    for i, s in enumerate(sums):
        data = chunk_path(store, "frames", i).read_bytes()
        assert data[-4:].hex() == s == integrity.file_checksum(data[:-4])


def test_reading_an_old_store_without_checksums_still_works(tmp_path):
    """Arrays written before checksums (no crc32c codec, no record checksums) read as
    before."""
    import zarr
    from zarr.codecs import BloscCodec

    ws = Workspace.open(tmp_path / "ws")
    store = VideoStore(ws, "old")
    store.group.create_array(
        "frames", shape=(8, 2), chunks=(4, 2), dtype="uint8", fill_value=0,
        compressors=BloscCodec(cname="zstd", clevel=1, shuffle="noshuffle"),
    )  # fmt: skip
    zarr.open_array(store.zarr_path / "frames", mode="a")[:] = np.arange(16).reshape(8, 2)
    assert not integrity.checksummed(store.open_array("frames"))
    np.testing.assert_array_equal(VideoStore(ws, "old").read("frames")[7], [14, 15])
    assert os.path.isdir(store.zarr_path)


def test_an_lz4_array_reads_back_and_is_checksummed(tmp_path):
    """Arrays written with the fast codec (the analysis frames) round-trip exactly and
    carry the CRC-32C like every other array."""
    from ptx.cache import integrity as I
    from ptx.cache.store import VideoStore
    from ptx.cache.workspace import Workspace

    store = VideoStore(Workspace(tmp_path / "ws"), "v")
    data = np.random.default_rng(0).integers(0, 255, (20, 8, 12, 3), dtype=np.uint8)
    arr = store.create_array("frames_analysis", data.shape, np.uint8, 8, codec="lz4")
    store.write("frames_analysis", 0, data)
    np.testing.assert_array_equal(store.read("frames_analysis"), data)
    assert I.checksummed(arr)
    meta = (store.zarr_path / "frames_analysis" / "zarr.json").read_text()
    assert '"lz4"' in meta and '"zstd"' not in meta

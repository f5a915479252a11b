"""Workspaces on object storage: the commit order of a push (fsspec's memory://), and a
workspace on a local S3 server (moto, started on 127.0.0.1): prepare, SIGKILL mid-prepare
and resume from the bucket alone, train, transfer."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from ptx.cache.remote import RemoteWorkspace, remote_workspace
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace

pytest.importorskip("fsspec")

FILES = {
    "workspace.json": b'{"layout": 1}',
    "subjects/a.json": b'{"videos": ["v"]}',
    "videos/v/source.json": b"{}",
    "videos/v/records/crop.json": b'{"status": "partial", "chunks_done": [0, 1]}',
    "videos/v/data.zarr/zarr.json": b"{}",
    "videos/v/data.zarr/crop/zarr.json": b"{}",
    "videos/v/data.zarr/crop/c/0/0": b"chunk0",
    "videos/v/data.zarr/crop/c/1/0": b"chunk1",
    "runs/a/d2g/r1/checkpoints/step-000000002.pt": b"weights",
    "runs/a/d2g/r1/checkpoints/last": b"step-000000002.pt",
}
LOCAL_ONLY = {
    "videos/v/lock": b"",
    "videos/v/lock.pid": b"123",
    "videos/v/records/.crop.json.x1.tmp": b"half",
    "logs/ptx-crash.log": b"trace",
}
COMMIT_POINTS = {"workspace.json", "subjects/a.json", "videos/v/source.json",
                 "videos/v/records/crop.json", "runs/a/d2g/r1/checkpoints/last"}  # fmt: skip


def write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def recording(remote: RemoteWorkspace, calls: list[str], before_chunk=None) -> None:
    """Record the order of uploads (relative keys); ``before_chunk()`` runs before the
    first data upload."""
    put, pipe = remote.fs.put_file, remote.fs.pipe_file
    base = remote.path + "/"

    def put_file(lpath, rpath, **kw):
        if before_chunk and not calls:
            before_chunk()
        calls.append(rpath.removeprefix(base))
        return put(lpath, rpath, **kw)

    def pipe_file(path, data, **kw):
        calls.append(path.removeprefix(base))
        return pipe(path, data, **kw)

    remote.fs.put_file, remote.fs.pipe_file = put_file, pipe_file


def test_push_sends_commit_points_last_and_pull_brings_back_the_same(tmp_path, monkeypatch):
    url = f"memory://ptx-test-{uuid.uuid4().hex}/ws"
    monkeypatch.setenv("PTX_REMOTE_CACHE", str(tmp_path / "a"))
    remote = RemoteWorkspace(url)
    remote.pull()
    write(remote.cache, {**FILES, **LOCAL_ONLY})
    calls: list[str] = []
    newer = b'{"status": "complete", "chunks_done": [0, 1, 2]}'
    crop = remote.cache / "videos/v/records/crop.json"
    # the record moves on while the push runs: the push sends the one it read first
    recording(remote, calls, before_chunk=lambda: crop.write_bytes(newer))
    assert remote.push() == len(FILES)
    assert sorted(calls) == sorted(FILES)  # locks, temp files and logs stay here
    last_data = max(i for i, k in enumerate(calls) if k not in COMMIT_POINTS)
    assert min(calls.index(k) for k in COMMIT_POINTS) > last_data
    assert (
        remote.fs.cat_file(f"{remote.path}/videos/v/records/crop.json")
        == FILES["videos/v/records/crop.json"]
    )
    calls.clear()
    assert remote.push() == 1 and calls == ["videos/v/records/crop.json"]  # now the newer one
    assert remote.push() == 0

    monkeypatch.setenv("PTX_REMOTE_CACHE", str(tmp_path / "b"))  # another machine
    with remote_workspace(url, push_every=0) as other:
        assert other != remote.cache
        for rel, data in {**FILES, "videos/v/records/crop.json": newer}.items():
            assert (other / rel).read_bytes() == data
        assert not any((other / rel).exists() for rel in LOCAL_ONLY)
        write(other, {"videos/v/data.zarr/crop/c/2/0": b"chunk2"})
    monkeypatch.setenv("PTX_REMOTE_CACHE", str(tmp_path / "a"))
    again = RemoteWorkspace(url)
    assert again.pull() == 1 and (again.cache / "videos/v/data.zarr/crop/c/2/0").is_file()


# --- a local S3 server --------------------------------------------------------------------
FIT = ["--set", "fit.rigid_iters=20", "--set", "fit.pose_iters=40",
       "--set", "fit.silhouette_iters=0", "--set", "fit.shape_frames=8"]  # fmt: skip
TRAIN = [f"--set={k}={v}" for k, v in {"size": 16, "uv_warmup_steps": 2, "gan_start": 1,
         "eval_frames": 2, "tensorboard": False, "threads": 1}.items()]  # fmt: skip


def test_a_record_replaced_while_it_is_read_goes_up_on_the_next_push(tmp_path, monkeypatch):
    """A stage record rewritten between the push reading it and noting its size and time
    (two stages commit at once on two lanes): the next push must send the new one."""
    url = f"memory://ptx-test-{uuid.uuid4().hex}/ws"
    monkeypatch.setenv("PTX_REMOTE_CACHE", str(tmp_path / "a"))
    remote = RemoteWorkspace(url)
    remote.pull()
    write(remote.cache, FILES)
    rel = "videos/v/records/crop.json"
    newer = b'{"status": "complete", "chunks_done": [0, 1, 2, 3]}'
    read_bytes = Path.read_bytes

    def read_then_replace(self):
        data = read_bytes(self)
        if self.name == "crop.json" and not newer_written:
            newer_written.append(True)
            self.write_bytes(newer)
        return data

    newer_written: list[bool] = []
    monkeypatch.setattr(Path, "read_bytes", read_then_replace)
    remote.push()
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert newer_written and remote.fs.cat_file(f"{remote.path}/{rel}") == FILES[rel]
    assert remote.push() == 1
    assert remote.fs.cat_file(f"{remote.path}/{rel}") == newer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 with bucket ``ptx``; its endpoint."""
    pytest.importorskip("moto.server")
    s3fs = pytest.importorskip("s3fs")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                 "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.2)
        fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing")
        fs.mkdir("ptx")
        yield endpoint, fs
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def arrays(root: Path) -> dict[tuple[str, str], np.ndarray]:
    ws = Workspace(root)
    return {(v, n): VideoStore(ws, v).read(n) for v in ws.video_ids()
            for n in VideoStore(ws, v).arrays()}  # fmt: skip


def ptx(args: list, env: dict, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ptx.cli.main", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)  # fmt: skip


def bucket_record(fs, url: str, stage: str) -> dict | None:
    fs.invalidate_cache()  # s3fs caches listings
    found = fs.glob(f"{url.removeprefix('s3://')}/videos/*/records/{stage}.json")
    return json.loads(fs.cat_file(found[0])) if found else None


@pytest.mark.slow
def test_workspace_on_s3_prepare_kill_resume_train_transfer(s3_server, tmp_path, cli, monkeypatch):
    from ptx.body.synth import SynthConfig, gt_dir_for, synthesize

    endpoint, fs = s3_server
    url = "s3://ptx/ws"
    video, source = tmp_path / "dancer.mp4", tmp_path / "source.mp4"
    synthesize(video, SynthConfig("dance", frames=16, size=64, seed=3))
    synthesize(source, SynthConfig("dance", frames=6, size=64, seed=3, motion_seed=8))
    opts = ["--size", "32", "--keypoints", f"openpose:{gt_dir_for(video) / 'openpose'}",
            "--set", "mask.method=skeleton", *FIT]  # fmt: skip
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "PTX_CHUNK_FRAMES": "4", "OMP_NUM_THREADS": "1", "PTX_REMOTE_PUSH_EVERY": "0.2",
           "PTX_REMOTE_CACHE": str(tmp_path / "cache-1"), "PTX_WEIGHTS": str(tmp_path / "no"),
           # one stage at a time: with a side lane flow starts as crop ends, and the
           # moment to kill (crop on the bucket, flow not yet) is often missed
           "PTX_STAGE_LANES": "1"}  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    ref = ptx(["prepare", video, "-w", tmp_path / "local", *opts], env)
    assert ref.wait(timeout=300) == 0, ref.stderr.read()[-2000:]

    # killed mid-prepare once the bucket has the crop stage and not yet the flow stage
    proc = ptx(["prepare", video, "-w", url, *opts], env)
    deadline = time.monotonic() + 240
    while not ((bucket_record(fs, url, "crop") or {}).get("status") == "complete"
               and bucket_record(fs, url, "flow") is None):  # fmt: skip
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-2000:]
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert bucket_record(fs, url, "flow") is None
    shutil.rmtree(tmp_path / "cache-1")  # resume on "another machine": from the bucket alone

    monkeypatch.setenv("PTX_REMOTE_CACHE", str(tmp_path / "cache-2"))
    res = cli("prepare", video, "-w", url, *opts)
    assert res.code == 0, res.err
    rows = {line.split()[1]: line.split()[3] for line in res.out.splitlines() if "│" in line}
    assert rows["extract"] == "cached" and rows["crop"] == "cached", res.out
    assert rows["flow"] == "ran"
    assert res.out.count("Prepared dancer.mp4 as video") == 1
    assert cli("verify", "-w", url).code == 0  # every chunk matches its record's CRC-32C

    shutil.rmtree(tmp_path / "cache-2")  # the bucket holds it all: a fresh copy equals a local run
    monkeypatch.setenv("PTX_REMOTE_CACHE", str(tmp_path / "cache-3"))
    with remote_workspace(url, push_every=0) as copy:
        a, b = arrays(tmp_path / "local"), arrays(copy)
    assert sorted(a) == sorted(b) and len(a) > 8
    assert all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)
    # arrays on the bucket are plain Zarr v3, readable through Zarr's fsspec store
    import zarr

    vid = next(iter(a))[0]
    group = zarr.open_group(f"{url}/videos/{vid}/data.zarr", mode="r",
                            storage_options={"endpoint_url": endpoint})  # fmt: skip
    assert np.array_equal(group["frames"][:], a[vid, "frames"])

    res = cli("train", "-s", "dancer", "-w", url, "--steps", "3", *TRAIN)
    assert res.code == 0 and "to step 5/5" in res.out, res.err
    assert fs.glob("ptx/ws/runs/dancer/d2g/*/checkpoints/step-000000005.pt")
    out = tmp_path / "result.mp4"
    res = cli("transfer", "--source", f"openpose:{gt_dir_for(source) / 'openpose'}", "-t",
              "dancer", "-w", url, "-o", out)  # fmt: skip
    assert res.code == 0 and out.stat().st_size > 0, res.err

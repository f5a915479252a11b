"""Preparing many videos: the list, shards and templates; a batch in one process, in
local worker processes (one killed mid-video) and as Ray tasks (one worker killed by its
pid mid-task) gives the arrays of sequential preparation, bit for bit."""

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

from ptx.api.prepare_batch import parse_shard, prepare_batch, read_video_list, select_shard
from ptx.body.synth import SynthConfig, synthesize
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.cli.prepare_batch import normalize_ray
from ptx.errors import InputError

FIT = {"rigid_iters": 20, "pose_iters": 40, "silhouette_iters": 0, "shape_frames": 8}
OPTIONS = {
    "size": 32,
    "keypoints": "openpose:{dir}/{stem}_gt/openpose",
    "settings": {"mask": {"method": "skeleton"}, "fit": FIT},
}
CLI_OPTIONS = ["--size", "32", "--keypoints", "openpose:{dir}/{stem}_gt/openpose",
               "--set", "mask.method=skeleton",
               *(x for k, v in FIT.items() for x in ("--set", f"fit.{k}={v}"))]  # fmt: skip


def test_list_file_spaces_comments_and_relative_paths(tmp_path):
    (tmp_path / "lists").mkdir()
    lst = tmp_path / "lists" / "videos.txt"
    lst.write_text("# my videos\nmy dance (1).mp4\n\n  /abs/b.mp4  \nsub/c d.mp4\n")
    assert read_video_list(lst) == [
        str(tmp_path / "lists" / "my dance (1).mp4"),
        "/abs/b.mp4",
        str(tmp_path / "lists" / "sub" / "c d.mp4"),
    ]
    with pytest.raises(InputError, match="No such list file"):
        read_video_list(tmp_path / "none.txt")


def test_shards_are_disjoint_and_cover_the_list():
    videos = [f"v{i}.mp4" for i in range(11)]
    shards = [select_shard(videos, (i, 4)) for i in range(4)]
    assert sorted(v for s in shards for v in s) == sorted(videos)
    assert shards[1] == ["v1.mp4", "v5.mp4", "v9.mp4"]
    assert parse_shard("3/4") == (3, 4)
    for bad in ("4/4", "-1/4", "1", "a/b", "0/0"):
        with pytest.raises(InputError, match="Cannot read --shard"):
            parse_shard(bad)


def test_ray_takes_an_optional_address(tmp_path):
    video = tmp_path / "a:b.mp4"
    video.write_bytes(b"")
    assert normalize_ray(["prepare", "--ray", "x.mp4"]) == ["prepare", "--ray", "local", "x.mp4"]
    assert normalize_ray(["prepare", "x.mp4", "--ray"]) == ["prepare", "x.mp4", "--ray", "local"]
    assert normalize_ray(["prepare", "--ray", "-j", "2"])[2] == "local"
    for address in ("auto", "local", "10.0.0.1:6379", "ray://head:10001"):
        assert normalize_ray(["prepare", "--ray", address, "x.mp4"])[2] == address
    assert normalize_ray(["prepare", "--ray", str(video)])[2] == "local"  # a file, not a host


def test_templates_and_unknown_options(tmp_path):
    with pytest.raises(InputError, match="prepare has no option 'sizes'"):
        prepare_batch([tmp_path / "a.mp4"], workspace=tmp_path / "ws", sizes=3)
    with pytest.raises(InputError, match=r"Cannot fill in 'openpose:\{folder\}'"):
        prepare_batch(
            [tmp_path / "a.mp4"], workspace=tmp_path / "ws", keypoints="openpose:{folder}"
        )
    with pytest.raises(InputError, match="No videos to prepare"):
        prepare_batch([], workspace=tmp_path / "ws")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """Six small synthetic clips (two with spaces in their names), each with its keypoints."""
    root = tmp_path_factory.mktemp("clips")
    names = ["a.mp4", "b c.mp4", "d.mp4", "e f.mp4", "g.mp4", "h.mp4"]
    for i, name in enumerate(names):
        synthesize(root / name, SynthConfig("dance", frames=16, size=64, seed=10 + i))
    return [root / n for n in names]


@pytest.fixture(scope="module")
def sequential(clips, tmp_path_factory) -> Path:
    """The clips prepared one after another in this process (4 frames a chunk)."""
    ws = tmp_path_factory.mktemp("seq") / "ws"
    os.environ["PTX_CHUNK_FRAMES"] = "4"
    try:
        res = prepare_batch(clips, workspace=ws, **OPTIONS)
    finally:
        del os.environ["PTX_CHUNK_FRAMES"]
    assert res.backend == "sequential" and [r.status for r in res.results] == ["done"] * 6
    assert len({r.worker for r in res.results}) == 1
    return ws


def arrays(ws: Path) -> dict[tuple[str, str], np.ndarray]:
    w = Workspace(ws)
    out = {}
    for vid in w.video_ids():
        store = VideoStore(w, vid)
        for name in store.arrays():
            out[vid, name] = store.read(name)
    return out


def assert_same_arrays(a: Path, b: Path) -> None:
    x, y = arrays(a), arrays(b)
    assert len({v for v, _ in x}) == 6 and sorted(x) == sorted(y)
    different = [k for k in x if x[k].dtype != y[k].dtype or not np.array_equal(x[k], y[k])]
    assert not different


def run_cli(args: list, env: dict | None = None, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PTX_CHUNK_FRAMES": "4", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "ptx.cli.main", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)  # fmt: skip


def lock_holders(ws: Path) -> dict[str, int]:
    """Video id -> pid of the process holding its lock (from the lock's pid file)."""
    out = {}
    for pid_file in (ws / "videos").glob("*/lock.pid"):
        text = pid_file.read_text().strip() if pid_file.is_file() else ""
        if text:
            out[pid_file.parent.name] = int(text)
    return out


def complete(record: Path) -> bool:
    try:
        return json.loads(record.read_text())["status"] == "complete"
    except (OSError, ValueError, KeyError):
        return False


def kill_mid_video(
    proc: subprocess.Popen, ws: Path, is_worker, timeout: float = 240
) -> tuple[int, Path]:
    """SIGKILL the worker that holds a video's lock once that video's `crop` stage has
    completed (so the kill lands inside the video's preparation, before `flow` began);
    return its pid and the crop record, which the retry must reuse, not rewrite."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        for vid, pid in lock_holders(ws).items():
            crop = ws / "videos" / vid / "records" / "crop.json"
            flow = ws / "videos" / vid / "records" / "flow.json"
            if complete(crop) and not flow.is_file() and is_worker(pid):
                os.kill(pid, signal.SIGKILL)
                return pid, crop
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no worker to kill (batch exit {proc.poll()})")


def finish(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """The batch's output; it is killed (its Ray instance with it) when it overruns."""
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.slow
def test_jobs_2_equals_sequential_even_with_a_worker_killed(clips, sequential, tmp_path):
    ws = tmp_path / "ws"
    lst = tmp_path / "videos.txt"
    lst.write_text("".join(f"{c}\n" for c in clips))
    proc = run_cli(["prepare", "--from", lst, "--jobs", "2", "-w", ws, *CLI_OPTIONS])
    killed, crop = kill_mid_video(proc, ws, lambda pid: pid != proc.pid and "multiprocessing" in cmdline(pid))  # fmt: skip
    crop_json = crop.read_bytes()
    out, err = finish(proc, 300)
    assert proc.returncode == 0, err[-2000:]
    assert "Preparing 6 video(s) in 2 local processes." in err
    assert "6 done, 0 cached, 0 failed" in out
    assert f":{killed} " not in out  # the killed worker finished no video
    assert crop.read_bytes() == crop_json  # the retry resumed: crop was not redone
    assert_same_arrays(sequential, ws)
    again = run_cli(["prepare", *clips, "--jobs", "2", "-w", ws, *CLI_OPTIONS])
    out, err = finish(again, 300)
    assert again.returncode == 0 and "0 done, 6 cached, 0 failed" in out, err[-2000:]


@pytest.mark.slow
def test_ray_equals_sequential_and_retries_a_killed_worker(clips, sequential, tmp_path):
    pytest.importorskip("ray")
    ws = tmp_path / "ws"
    proc = run_cli(["prepare", "--ray", *clips, "-w", ws, *CLI_OPTIONS], {"RAY_NUM_CPUS": "2"})
    killed, crop = kill_mid_video(proc, ws, lambda pid: "ray::" in cmdline(pid) or "default_worker" in cmdline(pid))  # fmt: skip
    crop_json = crop.read_bytes()
    out, err = finish(proc, 400)
    assert proc.returncode == 0, err[-2000:]
    assert "Preparing 6 video(s) as Ray tasks (2 at a time)." in err
    assert "6 done, 0 cached, 0 failed" in out
    assert f":{killed} " not in out
    assert crop.read_bytes() == crop_json  # the retried task resumed: crop was not redone
    assert_same_arrays(sequential, ws)


@pytest.mark.slow
def test_a_failed_video_is_reported_and_the_rest_go_on(clips, tmp_path, cli):
    missing = tmp_path / "missing one.mp4"
    res = cli("prepare", clips[0], missing, "-w", tmp_path / "ws", *CLI_OPTIONS)
    assert res.code == 2, res.err
    assert "missing one.mp4" in res.out and "failed" in res.out and "done" in res.out
    assert res.err.strip().splitlines()[-1] == (
        "ptx: error: 1 of 2 video(s) failed; the table says why. Fix them and run the same "
        "command again: the prepared ones are cached."
    )
    shard = cli("prepare", clips[0], missing, "--shard", "0/2", "-w", tmp_path / "ws", *CLI_OPTIONS)
    assert shard.code == 0 and "0 done, 1 cached, 0 failed" in shard.out, shard.err
    assert "(1 left to other shards)" in shard.out

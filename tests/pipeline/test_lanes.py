"""Two stage lanes: independent stages overlap, outputs stay bit-identical, failures and
Ctrl-C end both lanes as one stage alone would."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.errors import InputError
from ptx.pipeline import lanes, registry
from ptx.pipeline.runner import prepare_video
from ptx.pipeline.stage import NullReporter


def test_the_side_lane_runs_a_leaf_while_the_main_lane_goes_on():
    """``late`` (main lane, after ``early``) releases ``leaf`` (side lane): run one at a
    time, ``leaf`` would wait forever for a stage that runs after it."""
    released, leaf_started, seen = threading.Event(), threading.Event(), {}

    def run(name, stop, side):
        seen[name] = side
        if name == "leaf":
            leaf_started.set()
            assert released.wait(10), "the main lane did not run while the leaf waited"
        if name == "late":
            assert leaf_started.wait(10), "the leaf did not start beside the main lane"
            released.set()
        return name

    order = ["early", "leaf", "late"]
    needs = {"early": set(), "leaf": {"early"}, "late": {"early"}}
    out = lanes.run_lanes(order, needs, {"leaf"}, run, 2)
    assert out == {s: s for s in order}
    assert seen == {"early": False, "leaf": True, "late": False}


def test_a_side_lane_failure_is_raised_after_the_main_lane_stage_ends():
    main_done = threading.Event()

    def run(name, stop, side):
        if name == "leaf":
            raise InputError("leaf broke")
        if name == "slow":
            threading.Event().wait(0.3)
            main_done.set()
        if name == "after":
            pytest.fail("a stage started after the failure")
        return name

    order = ["first", "leaf", "slow", "after"]
    needs = {"first": set(), "leaf": {"first"}, "slow": {"first"}, "after": {"slow"}}
    with pytest.raises(InputError, match="leaf broke"):
        lanes.run_lanes(order, needs, {"leaf"}, run, 2)
    assert main_done.is_set()


def test_ctrl_c_in_the_main_lane_stops_the_side_lane_at_its_next_commit():
    from ptx.pipeline.runner import Interrupted

    started, commits = threading.Event(), []

    def run(name, stop, side):
        if name == "leaf":
            started.set()
            for i in range(1000):  # a stage committing chunks; commit raises once stopped
                commits.append(i)
                if stop.is_set():
                    raise Interrupted("side stopped")
                threading.Event().wait(0.005)
            pytest.fail("the side lane was not stopped")
        if name == "main":
            assert started.wait(10)
            raise KeyboardInterrupt
        return name

    order = ["leaf", "main"]
    with pytest.raises(Interrupted, match="side stopped"):  # it names the stopped stage
        lanes.run_lanes(order, {"leaf": set(), "main": set()}, {"leaf"}, run, 2)
    assert 0 < len(commits) < 1000


def test_lanes_setting(monkeypatch):
    monkeypatch.setenv(lanes.LANES_ENV, "1")
    assert lanes.stage_lanes() == 1
    monkeypatch.setenv(lanes.LANES_ENV, "none")
    with pytest.raises(InputError, match="PTX_STAGE_LANES"):
        lanes.stage_lanes()


def test_the_leaves_and_dependencies_of_the_built_in_stages():
    stages = registry.STAGES
    assert lanes.leaves(stages) == {"poselabel", "iuv", "label3d", "background", "flow"}
    needs = lanes.dependencies(stages, list(stages))
    assert needs["flow"] == {"crop"} and needs["background"] == {"crop", "mask"}
    assert needs["iuv"] == {"fit"} and needs["extract"] == set()


class Threads(NullReporter):
    def __init__(self):
        self.threads: dict[str, str] = {}

    def stage_start(self, stage, total, done):
        self.threads[stage] = threading.current_thread().name


@pytest.mark.slow
def test_two_lanes_give_the_arrays_of_one(tmp_path, monkeypatch):
    """The whole pipeline on a synthetic dancer, one stage at a time and two at a time:
    every array is bit-identical and the leaves ran beside the main lane."""
    from ptx.body.synth import SynthConfig, synthesize

    video = tmp_path / "dance.mp4"
    synthesize(video, SynthConfig("dance", frames=24, size=96, seed=2))
    overrides = {
        "crop": {"size": 48},
        "fit": {"rigid_iters": 10, "pose_iters": 20, "silhouette_iters": 5},
        "background": {"block_frames": 4},
    }
    monkeypatch.setenv("PTX_CHUNK_FRAMES", "4")
    stores, reps = [], []
    for n in (1, 2):
        monkeypatch.setenv(lanes.LANES_ENV, str(n))
        ws, rep = Workspace(tmp_path / f"lanes{n}"), Threads()
        res = prepare_video(video, ws, overrides=overrides, reporter=rep)
        assert [o.stage for o in res.outcomes] == list(registry.STAGES)
        assert {o.status for o in res.outcomes} == {"ran"}
        stores.append(VideoStore(ws, res.video_id))
        reps.append(rep)
    assert set(reps[0].threads.values()) == {threading.main_thread().name}
    side = {s for s, t in reps[1].threads.items() if t != threading.main_thread().name}
    assert side and side <= lanes.leaves(registry.STAGES)
    one, two = stores
    assert one.arrays() == two.arrays() and len(one.arrays()) > 20
    for name in one.arrays():
        a, b = one.read(name), two.read(name)
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), name


SLOW_TORCH = """
import importlib.abc, importlib.machinery, json, sys, time

class SlowTorch(importlib.abc.MetaPathFinder):
    # torch stays half-imported (in sys.modules, without its attributes) for a while
    def find_spec(self, name, path, target=None):
        if name != "torch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        real = spec.loader.exec_module
        def slow(module):
            time.sleep(2.0)
            real(module)
        spec.loader.exec_module = slow
        return spec

sys.meta_path.insert(0, SlowTorch())
import ptx.pipeline.runner as runner
seen, real_run = {}, runner._run_stage
def spy(store, stage, *args, **kwargs):
    torch = sys.modules.get("torch")
    seen[stage] = "absent" if torch is None else "whole" if hasattr(torch, "Tensor") else "half"
    return real_run(store, stage, *args, **kwargs)
runner._run_stage = spy
from ptx.cli.main import run
code = run(sys.argv[1:])
print(json.dumps({"code": code, "seen": seen}))
"""


@pytest.mark.slow
def test_no_stage_but_extract_runs_while_the_preload_imports_torch(tmp_path):
    """A half-imported torch is in ``sys.modules`` already, and libraries that look there
    (SciPy's array-API checks, among others) fail on it: stages wait until the preload
    thread has imported it whole. Torch is made slow to import here, so without the wait keypoints starts on it."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from ptx.body.synth import SynthConfig, synthesize

    clip = tmp_path / "c.mp4"
    gt = synthesize(clip, SynthConfig(frames=8, size=64, seed=0)) / "openpose"
    argv = ["prepare", str(clip), "-w", str(tmp_path / "ws"), "--size", "64",
            "--keypoints", f"openpose:{gt}", "--until", "fit"]  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "PTX_STAGE_LANES": "2"}
    out = subprocess.run([sys.executable, "-c", SLOW_TORCH, *argv], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=300)  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, out.stderr
    seen = result["seen"]
    assert set(seen) == {"extract", "keypoints", "crop", "mask", "poselabel", "fit"}
    assert {s: v for s, v in seen.items() if s != "extract"} == dict.fromkeys(
        set(seen) - {"extract"}, "whole"
    ), seen
    assert seen["extract"] in ("absent", "half")

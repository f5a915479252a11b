"""The runner: skip what is current, re-run what changed and everything downstream."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from ptx.cache.store import VideoStore
from ptx.pipeline import registry
from ptx.pipeline.runner import prepare_video, stage_states
from ptx.pipeline.stage import SOURCE, Stage, StageContext


@dataclass
class BrightConfig:
    gain: int = 2
    """Multiply frames by this."""


class BrightStage(Stage):
    """Test stage downstream of extract: frames_analysis * gain."""

    name = "bright"
    Config = BrightConfig
    inputs = ("frames_analysis",)
    outputs = ("bright",)

    def run(self, ctx: StageContext) -> None:
        src = ctx.read("frames_analysis")
        ctx.create_array("bright", src.shape, np.uint8)
        for i in ctx.pending(1, total_frames=len(src)):
            ctx.store.write("bright", 0, np.clip(src.astype(int) * ctx.config.gain, 0, 255))
            ctx.commit(i, frames=len(src))


@dataclass
class SizeConfig:
    unit: int = 1
    """Divide the file size by this."""


class SizeStage(Stage):
    """Test stage that reads only the source file (independent of extract)."""

    name = "size"
    Config = SizeConfig
    inputs = (SOURCE,)
    outputs = ("size",)

    def run(self, ctx: StageContext) -> None:
        ctx.create_array("size", (1,), np.int64, time_axis=False)
        ctx.pending(1)
        ctx.store.write("size", 0, np.array([ctx.source.stat().st_size // ctx.config.unit]))
        ctx.commit(0)


@pytest.fixture
def stages(monkeypatch):
    """Replace the registry with extract + the two test stages for the test."""
    extract = registry.STAGES["extract"]
    saved = dict(registry.STAGES)
    registry.STAGES.clear()
    registry.STAGES.update({"extract": extract, "bright": BrightStage, "size": SizeStage})
    yield registry.STAGES
    registry.STAGES.clear()
    registry.STAGES.update(saved)


def statuses(result):
    return {o.stage: o.status for o in result.outcomes}


def test_second_run_is_cached(stages, clip, workspace):
    video = clip(frames=20)
    first = prepare_video(video, workspace, "alice")
    assert statuses(first) == {"extract": "ran", "bright": "ran", "size": "ran"}
    second = prepare_video(video, workspace, "alice")
    assert statuses(second) == {"extract": "cached", "bright": "cached", "size": "cached"}
    store = VideoStore(workspace, first.video_id)
    assert [s.state for s in stage_states(store)] == ["complete"] * 3


def test_config_change_reruns_stage_and_downstream_only(stages, clip, workspace):
    video = clip(frames=20)
    prepare_video(video, workspace, "alice")
    again = prepare_video(video, workspace, "alice", {"extract": {"analysis_size": 32}})
    assert statuses(again) == {"extract": "ran", "bright": "ran", "size": "cached"}
    store = VideoStore(workspace, again.video_id)
    assert store.read("bright").shape[1:3] == (24, 32)
    only_bright = prepare_video(
        video, workspace, "alice", {"extract": {"analysis_size": 32}, "bright": {"gain": 3}}
    )
    assert statuses(only_bright) == {"extract": "cached", "bright": "ran", "size": "cached"}


def test_force_reruns_stage_and_downstream(stages, clip, workspace):
    video = clip(frames=10)
    prepare_video(video, workspace, "alice")
    forced = prepare_video(video, workspace, "alice", force=["extract"])
    assert statuses(forced) == {"extract": "ran", "bright": "ran", "size": "cached"}


def test_until_stops_and_status_reports_stale_and_missing(stages, clip, workspace):
    video = clip(frames=10)
    res = prepare_video(video, workspace, "alice", until="extract")
    assert statuses(res) == {"extract": "ran"}
    store = VideoStore(workspace, res.video_id)
    states = {s.stage: s.state for s in stage_states(store)}
    assert states == {"extract": "complete", "bright": "missing", "size": "missing"}
    prepare_video(video, workspace, "alice")
    prepare_video(video, workspace, "alice", {"extract": {"analysis_size": 32}}, until="extract")
    by_stage = {s.stage: s for s in stage_states(store)}
    assert by_stage["bright"].state == "stale"
    assert "input changed" in by_stage["bright"].detail
    assert by_stage["size"].state == "complete"


def test_renamed_file_reuses_cache_and_same_name_different_content_does_not(
    stages, clip, workspace, tmp_path
):
    video = clip("a.mp4", frames=10)
    first = prepare_video(video, workspace, "alice")
    renamed = video.rename(tmp_path / "renamed.mp4")
    second = prepare_video(renamed, workspace, "alice")
    assert second.video_id == first.video_id
    assert set(statuses(second).values()) == {"cached"}
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = clip("other/a.mp4", frames=12)
    third = prepare_video(other, workspace, "bob")
    assert third.video_id != first.video_id


def test_code_change_makes_stage_stale_and_reruns(stages, clip, workspace, monkeypatch):
    video = clip(frames=10)
    res = prepare_video(video, workspace, "alice")
    monkeypatch.setattr(stages["extract"], "version", 99)
    store = VideoStore(workspace, res.video_id)
    by_stage = {s.stage: s for s in stage_states(store)}
    assert (by_stage["extract"].state, by_stage["extract"].detail) == ("stale", "code changed")
    again = prepare_video(video, workspace, "alice")
    assert statuses(again) == {"extract": "ran", "bright": "ran", "size": "cached"}


@dataclass
class TwoConfig:
    pass


class LateArrayStage(Stage):
    """Creates its second output only after committing its first chunk."""

    name = "late"
    Config = TwoConfig
    inputs = ("frames_analysis",)
    outputs = ("first", "second")

    def run(self, ctx: StageContext) -> None:
        src = ctx.read("frames_analysis")
        ctx.create_array("first", src.shape, np.uint8)
        todo = ctx.pending(2)
        if 0 in todo:
            ctx.store.write("first", 0, src)
            ctx.commit(0)
        ctx.create_array("second", (1,), np.int64, time_axis=False)
        ctx.store.write("second", 0, np.array([len(src)]))
        ctx.commit(1)


def test_an_output_created_after_a_commit_keeps_the_progress(stages, clip, workspace):
    stages["late"] = LateArrayStage
    res = prepare_video(clip(frames=8), workspace, "alice")
    assert statuses(res)["late"] == "ran"
    assert VideoStore(workspace, res.video_id).read("second")[0] == 8


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("flow.patch_size=-1", "flow.patch_size"),
        ("background.dilate=2", "background.dilate"),
        ("fit.device=tpu", "fit.device"),
        ("mask.method=magic", "mask.method"),
        ("iuv.source=somewhere", "iuv.source"),
        ("crop.size=8", "--size 8"),
    ],
)
def test_a_bad_setting_of_any_stage_fails_before_the_first_stage_runs(
    cli, clip, workspace, setting, message
):
    video = clip("settings.mp4", frames=4)
    res = cli("prepare", video, "--set", setting, "--workspace", workspace.root)
    assert res.code == 2 and message in res.err and len(res.err.strip().splitlines()) == 1
    assert not (workspace.root / "videos").exists() or not any(
        (workspace.root / "videos").rglob("records/*.json")
    )  # nothing ran, not even extract


def test_settings_that_change_no_output_change_no_fingerprint():
    from ptx.pipeline.flow import FlowConfig
    from ptx.pipeline.keypoints import KeypointsConfig
    from ptx.pipeline.runner import stage_fingerprint

    def fp(stage, cls, **kw):
        return stage_fingerprint(stage, cls(**kw))

    assert fp("flow", FlowConfig, workers=1) == fp("flow", FlowConfig, workers=4)
    assert fp("keypoints", KeypointsConfig, strict=True) == fp("keypoints", KeypointsConfig)
    assert fp("flow", FlowConfig, patch_size=12) != fp("flow", FlowConfig)
    assert fp("keypoints", KeypointsConfig, max_gap=0.5) != fp("keypoints", KeypointsConfig)
    # stages whose settings all count hash exactly as before (existing caches stay valid)
    from ptx.cache.records import config_hash

    assert fp("flow", FlowConfig) == config_hash(FlowConfig())


def test_the_slow_imports_of_the_stages_due_to_run_load_on_a_thread(
    stages, clip, workspace, monkeypatch
):
    """``Stage.preload``: the runner imports the modules of the stages that will run (and
    only those) on a thread of its own, calling the function of a ``module:function``
    entry; a module that fails to import stops nothing."""
    import importlib
    import threading

    from ptx.pipeline import runner

    loaded: list[tuple[str, str]] = []
    real = importlib.import_module

    def record(name, *args):
        loaded.append((name, threading.current_thread().name))
        if name == "no_such_module_here":
            raise ImportError(name)
        return real(name, *args)

    import colorsys

    called: list[str] = []
    monkeypatch.setattr(colorsys, "ptx_loaded", lambda: called.append("ptx_loaded"), raising=False)
    monkeypatch.setattr(runner.importlib, "import_module", record)
    monkeypatch.setattr(
        BrightStage, "preload", classmethod(lambda cls, cfg: ("colorsys:ptx_loaded",))
    )
    monkeypatch.setattr(
        SizeStage, "preload", classmethod(lambda cls, cfg: ("no_such_module_here", "json"))
    )

    def loads(*args, **kwargs) -> list[str]:
        loaded.clear()
        prepare_video(*args, **kwargs)
        for t in threading.enumerate():
            if t.name == "ptx-preload":
                t.join()
        assert all(where == "ptx-preload" for _, where in loaded)
        return [name for name, _ in loaded]

    video = clip(frames=10)
    assert loads(video, workspace, "alice") == ["colorsys", "no_such_module_here", "json"]
    assert called == ["ptx_loaded"]
    assert loads(video, workspace, "alice") == []  # all cached: nothing to load
    again = loads(video, workspace, "alice", {"bright": {"gain": 3}})
    assert again == ["colorsys"]  # only bright runs again

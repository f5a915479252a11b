"""The command line as users meet it: help, completion, -s everywhere, config files and
`ptx config show`."""

from __future__ import annotations

import pytest
import yaml

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace

COMMANDS = ("prepare", "train", "transfer", "render", "score", "export", "inspect", "status")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_flags_without_a_bool_placeholder(cli, command):
    res = cli(command, "--help")
    assert res.code == 0 and "--help" in res.out
    assert "<bool>" not in res.out and "BOOLEAN" not in res.out


def test_shell_completion_is_offered(cli):
    res = cli("--help")
    assert "--install-completion" in res.out and "--show-completion" in res.out


@pytest.mark.parametrize("command", ["render", "score", "status", "inspect", "export", "transfer"])
def test_every_command_with_a_subject_takes_s(cli, command, tmp_path):
    Workspace(tmp_path / "ws").ensure()
    extra = {"export": ["--what", "mask", "-o", str(tmp_path)], "transfer": ["--source", "x.mp4"]}
    res = cli(command, "-s", "nobody", *extra.get(command, []))
    assert "No such option" not in res.err and "Got unexpected extra" not in res.err
    if command != "status":
        assert res.code == 2 and "'nobody'" in res.err, res.err


def test_config_show_lists_every_setting_with_default_and_description(cli):
    res = cli("config", "show", "--stage", "keypoints")
    assert res.code == 0
    assert "keypoints.max_gap" in res.out and "0.25" in res.out
    assert "Longest gap in a joint's track (seconds)" in res.out
    res = cli("config", "show", "--method", "d2g", "--preset", "tiny")
    assert res.code == 0 and "lr_decay_start" in res.out and "(fixed on --resume)" in res.out
    assert "Adam learning rate" in res.out
    res = cli("config", "show", "--stage", "nope")
    assert res.code == 2 and "No stage named 'nope'" in res.err
    res = cli("config", "show")
    assert all(f"{s}." in res.out for s in ("extract", "crop", "fit", "flow"))


def test_a_shown_config_is_a_prepare_config(cli, clip, tmp_path):
    res = cli("config", "show", "--stage", "extract", "--format", "yaml")
    data = yaml.safe_load(res.out)
    assert data["extract"]["analysis_size"] == 640
    data["extract"]["max_frames"] = 5
    data["extract"]["analysis_size"] = 32
    (tmp_path / "prep.yaml").write_text(yaml.safe_dump({"prepare": data}))
    video = clip("v.mp4", frames=8, width=64, height=48)
    res = cli("prepare", video, "--config", tmp_path / "prep.yaml", "--until", "extract",
              "--max-frames", "6")  # fmt: skip
    assert res.code == 0, res.err
    ws = Workspace(tmp_path / "ws")
    rec = VideoStore(ws, ws.video_ids()[0]).record("extract")
    assert rec.config["analysis_size"] == 32 and rec.config["max_frames"] == 6  # option wins
    assert rec.frames == 6


def test_bad_config_files_are_one_line_errors(cli, clip, tmp_path):
    video = clip("v.mp4", frames=4)
    (tmp_path / "bad.yaml").write_text("crop: [1, 2]\n")
    res = cli("prepare", video, "--config", tmp_path / "bad.yaml")
    assert res.code == 2 and "'crop' should map setting names to values" in res.err
    (tmp_path / "typo.yaml").write_text("crop: {sise: 3}\n")
    res = cli("prepare", video, "--config", tmp_path / "typo.yaml")
    assert res.code == 2 and "crop has no setting 'sise'" in res.err
    res = cli("prepare", video, "--config", tmp_path / "none.yaml")
    assert res.code == 2 and "No such config file" in res.err
    (tmp_path / "t.yaml").write_text("method: d2g\nlearning_rate: 3\n")
    Workspace(tmp_path / "ws").ensure()
    res = cli("train", "-s", "x", "--config", tmp_path / "t.yaml")
    assert res.code == 2 and "unknown key(s) learning_rate" in res.err


def test_logs_get_warnings_but_no_redraws(cli, clip, tmp_path):
    video = clip("v.mp4", frames=6)
    res = cli("prepare", video, "--until", "extract")
    assert res.code == 0 and res.err == ""  # nothing to say: the table on stdout says it
    assert "extract" in res.out and "ran" in res.out

"""`ptx compare --one-shot`: one-shot runs scored on the same held-out people beside the
warp-only baseline, as JSON, markdown and a picture; runs that held out other people are
refused in one line."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from ptx.cache.runs import read_run_config
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.methods.base import ONE_SHOT
from ptx.methods.registry import METHODS
from ptx.perform.oneshot import render_self
from ptx.perform.oneshot_score import score_oneshot
from ptx.perform.render import load_model
from ptx.tools.compare_oneshot import COLUMNS, compare_oneshot, one_shot_runs
from ptx.training.crowd import store_crowd
from ptx.training.shared_run import train_shared
from tests.cli.test_prepare_errors import assert_one_line_error
from tests.training.test_shared_training import TINY

pytestmark = pytest.mark.slow


def nothing(frames: np.ndarray) -> np.ndarray:
    """A detector that finds no keypoint (keeps the test off MediaPipe)."""
    return np.zeros((len(frames), 25, 3), np.float32)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("compare-oneshot") / "ws")
    names = store_crowd(ws, 4, frames=6, size=32)
    method = next(m.name for m in METHODS.values() if m.kind == ONE_SHOT)
    made = [
        train_shared(ws, names, held, "tiny", {**TINY, "steps": steps}, method=method).run_dir
        for held, steps in ((2, 1), (2, 3), (1, 1))
    ]
    return ws, made


def test_runs_sit_beside_the_warp_only_baseline(runs, tmp_path):
    ws, (a, b, _) = runs
    cmp = compare_oneshot(ws, [a, b], pairs=2, device="cpu", out_dir=tmp_path, detect=nothing)
    labels = list(cmp.rows)
    assert len(labels) == 3 and labels[-1] == "warp only" and a.name in labels[0]
    assert cmp.people == ["person002", "person003"] and len(cmp.pairs) == 2
    direct = score_oneshot(ws, a, "cpu", pairs=2, detect=nothing).results
    assert cmp.rows[labels[0]]["psnr"] == pytest.approx(direct["psnr"])
    assert cmp.rows["warp only"]["psnr"] == pytest.approx(direct["warp_psnr"])
    assert cmp.rows[labels[0]]["psnr"] != cmp.rows[labels[1]]["psnr"]  # two models
    assert cmp.rows["warp only"]["akd"] is None
    data = json.loads((tmp_path / "compare-oneshot.json").read_text())
    assert data["held_out"] == cmp.people and set(data["rows"]) == set(labels)
    assert data["best"]["psnr"] == max(labels, key=lambda k: cmp.rows[k]["psnr"])
    md = (tmp_path / "compare-oneshot.md").read_text().splitlines()
    assert md[2].count("|") == len(COLUMNS) + 2 and len(md) == 4 + 3
    assert sum("**" in line for line in md) >= 1
    # the picture: source | real | warp only | a | b, 4 driven frames, at 8x
    pic = cv2.imread(str(cmp.files["picture"]))[22:, :, ::-1]
    assert pic.shape == (4 * 256, 5 * 256, 3)
    cell = lambda r, c: pic[r * 256 : (r + 1) * 256 : 8, c * 256 : (c + 1) * 256 : 8]  # noqa: E731
    truth = render_self(load_model(a, "cpu"), VideoStore(ws, ws.subject("person002")["videos"][0]))
    assert np.array_equal(cell(0, 1), truth.truth[0]) and np.array_equal(
        cell(3, 1), truth.truth[-1]
    )
    assert np.array_equal(cell(0, 2), truth.warped[0]) and np.array_equal(
        cell(0, 3), truth.output[0]
    )
    assert np.array_equal(cell(0, 0), cell(3, 0)) and not np.array_equal(cell(0, 1), cell(3, 1))


def test_without_runs_the_newest_of_every_one_shot_method(runs):
    ws, made = runs
    found = one_shot_runs(ws)
    assert found == [made[-1]]  # one one-shot method trained here; its newest run
    assert read_run_config(found[0])["method"] in METHODS


def test_runs_that_held_out_other_people_are_refused(runs, cli, tmp_path):
    ws, (a, _, c) = runs
    res = cli("compare", "--one-shot", "--runs", f"{a},{c}", "-w", ws.root, "--out", tmp_path)
    assert_one_line_error(res, 2, "held out different people")
    assert not (tmp_path / "compare-oneshot.json").exists()
    assert_one_line_error(cli("compare", "-w", ws.root), 2, "Give --subject")

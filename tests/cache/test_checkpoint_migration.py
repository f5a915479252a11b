"""Runs written before methods became plugins (checkpoint format ptx-d2g-checkpoint v1)
still load, render the same frames bit for bit, and resume."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from ptx.cache.checkpoints import FORMAT, FORMAT_VERSION, load_checkpoint
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.perform.render import StoreConditions, load_model, render_conditions
from ptx.training.run import train

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from test_train import add_subject

OLD_RUN = Path(__file__).parents[1] / "data" / "d2g-run-v1"


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path / "no-weights"))
    w = Workspace.open(tmp_path / "ws")
    add_subject(w, "toy", seed=0)
    shutil.copytree(OLD_RUN, w.root / "runs" / "toy" / "d2g" / "20261130-072932")
    return w


def test_an_old_checkpoint_is_migrated_when_read():
    raw = load_checkpoint(OLD_RUN / "checkpoints" / "step-000000008.pt")
    assert raw["format"] == FORMAT and raw["format_version"] == FORMAT_VERSION
    assert raw["method"] == "d2g" and raw["trainer"]["uv_warmup"] == 2
    assert {"generator", "discriminator", "opt_g", "opt_d"} <= set(raw["trainer"])
    assert "generator" not in raw  # moved under "trainer"


def test_an_old_run_renders_what_it_rendered_before(ws):
    run = ws.root / "runs" / "toy" / "d2g" / "20261130-072932"
    model = load_model(run, "cpu")
    assert model.method.name == "d2g" and model.step == 8
    store = VideoStore(ws, "video-toy")
    got = np.concatenate([c.rgb for c in render_conditions(model, StoreConditions(store, 0, 10))])
    assert np.array_equal(got, np.load(OLD_RUN / "expected-render.npy"))


@pytest.mark.slow
def test_an_old_run_resumes(ws):
    res = train(ws, "toy", resume=True, overrides={"steps": 8})
    assert res.start_step == 8 and res.end_step == 10
    saved = load_checkpoint(res.checkpoint)
    assert saved["format"] == FORMAT and saved["method"] == "d2g" and saved["step"] == 10

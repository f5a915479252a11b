"""The one-shot protocol's keypoint and cross-person scores, with stand-in renderers whose
answer is known: an oracle that shows the driving person's real frame scores AKD = MKR = 0
against the driving keypoints; one that keeps showing the source picture does not; an
oracle that shows the source person performing the frame is the cross-person ground truth
(PSNR at its cap, L1 0). A stand-in detector answers each real frame with its stored
keypoints (scaled by the test itself to the model's frame), so only the protocol's
pairing, frame alignment and scaling are under test."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.methods.base import RenderOutput
from ptx.nn.arrays import resize_array
from ptx.nn.poselabels import unit
from ptx.perform import oneshot_score
from ptx.perform.oneshot_cross import cross_pairs, score_cross, summarise
from ptx.perform.render import load_model
from ptx.training.crowd import store_crowd
from ptx.training.shared_run import train_shared
from tests.training.test_shared_training import TINY

pytestmark = pytest.mark.slow
CROWD = 64  # the crowd's frames; the model renders 32 px (TINY), so keypoints are scaled


class Table:
    """Every frame of a workspace's people at the model's frame, by content."""

    def __init__(self, ws: Workspace, frame: tuple[int, int]) -> None:
        self.by_iuv: dict[bytes, tuple[str, int]] = {}
        self.frames: dict[tuple[str, int], torch.Tensor] = {}
        self.kp: dict[bytes, np.ndarray] = {}
        for person in ws.subject_names():
            store = VideoStore(ws, ws.subject(person)["videos"][0])
            iuv = resize_array("iuv", store.read("iuv"), frame)
            rgb = resize_array("frames", store.read("frames"), frame)
            kp = store.read("keypoints")[:, :25].astype(np.float32)
            kp[..., :2] *= frame[1] / CROWD
            for t in range(len(rgb)):
                self.by_iuv[iuv[t].numpy().tobytes()] = (person, t)
                self.frames[(person, t)] = rgb[t]
                self.kp[rgb[t].permute(1, 2, 0).numpy().tobytes()] = kp[t]

    def detect(self, frames: np.ndarray) -> np.ndarray:
        """The stored keypoints of each (real) frame; nothing found on any other."""
        return np.stack([self.kp.get(f.tobytes(), np.zeros((25, 3), np.float32)) for f in frames])


class StandIn:
    """A one-shot renderer showing, for each driving IUV, a real frame chosen by ``show``
    (the driving person's, the source person's at that time, or the source picture)."""

    one_shot = True

    def __init__(self, table: Table, show: str) -> None:
        self.table, self.show, self.source = table, show, None

    def set_source(self, frame: torch.Tensor, iuv: torch.Tensor) -> None:
        self.source = self.table.by_iuv[iuv.numpy().tobytes()]

    def start(self):
        return None

    def __call__(self, inputs, state):
        outs = []
        for iuv in inputs.arrays["iuv"]:
            person, t = self.table.by_iuv[iuv.numpy().tobytes()]
            key = {"driving": (person, t), "source_at_t": (self.source[0], t)}.get(
                self.show, self.source
            )
            outs.append(unit(self.table.frames[key][None].float()))
        out = torch.cat(outs)
        return RenderOutput(out, out, torch.ones_like(out[:, :1])), state


@pytest.fixture(scope="module")
def crowds(tmp_path_factory):
    root = tmp_path_factory.mktemp("oneshot-score")
    ws = Workspace.open(root / "ws")  # dance, wave, walk, dance: different motions
    names = store_crowd(ws, 4, frames=8, size=CROWD)
    run = train_shared(ws, names, 3, "tiny", {**TINY, "steps": 1}, method="dwnet").run_dir
    same = Workspace.open(root / "same")  # one motion, four appearances
    store_crowd(same, 3, frames=8, size=CROWD, motion_seed=7)
    return ws, same, run


def _model(run, ws, show):
    model = load_model(run, "cpu")
    table = Table(ws, model.frame)
    model.renderer = StandIn(table, show)
    return model, table


def test_pairs_are_fixed_distinct_and_seeded():
    people = ["a", "b", "c", "d"]
    pairs = cross_pairs(people, 5, seed=3)
    assert pairs == cross_pairs(people, 5, seed=3) and len(set(pairs)) == 5
    assert all(a != b and {a, b} <= set(people) for a, b in pairs)
    assert cross_pairs(people, 12, 0) != cross_pairs(people, 12, 1)
    assert sorted(cross_pairs(people, 99, 0)) == sorted(
        (a, b) for a in people for b in people if a != b
    )
    assert cross_pairs(["a"], 4) == []


def test_keypoints_are_scored_against_the_driving_person(crowds):
    ws, _, run = crowds
    people = sorted(ws.subject_names())[1:]  # the three held-out people
    model, table = _model(run, ws, "driving")
    rows = score_cross(model, ws, people, 6, 0, table.detect)
    assert len(rows) == 6 and all(r.frames == 7 for r in rows)  # frames 1..7 drive
    assert all(r.akd == pytest.approx(0, abs=1e-6) and r.mkr == 0 for r in rows), rows
    assert all(r.psnr is None for r in rows)  # no ground truth without one motion
    model, table = _model(run, ws, "source")  # the picture never moves
    still = summarise(score_cross(model, ws, people, 6, 0, table.detect))
    assert still["cross_akd"] > 1.0 and still["cross_mkr"] == 0, still


def test_the_source_person_performing_the_motion_is_the_ground_truth(crowds):
    _, same, run = crowds
    people = sorted(same.subject_names())
    model, table = _model(run, same, "source_at_t")
    rows = score_cross(model, same, people, 4, 0, table.detect, same_motion=True)
    assert all(r.psnr == pytest.approx(100) and r.l1 == 0 for r in rows), rows
    assert all(r.warp_psnr < 60 and r.warp_l1 > 0 for r in rows), rows
    model, table = _model(run, same, "driving")  # another appearance: far from the truth
    rows = score_cross(model, same, people, 4, 0, table.detect, same_motion=True)
    assert all(r.psnr < 40 and r.l1 > 0.005 for r in rows), rows


def test_score_reports_self_and_cross_keypoints(crowds, monkeypatch):
    ws, _, run = crowds
    model, table = _model(run, ws, "driving")
    monkeypatch.setattr(oneshot_score, "load_model", lambda *a, **k: model)
    res = oneshot_score.score_oneshot(ws, run, "cpu", pairs=3, detect=table.detect)
    r = res.results
    assert res.frames == 21 and len(res.pairs) == 3  # 3 people x frames 1..7
    assert r["akd"] == pytest.approx(0, abs=1e-6) and r["mkr"] == 0
    assert r["psnr"] > 90 and r["cross_akd"] == pytest.approx(0, abs=1e-6)
    assert r["warp_akd"] is None and r["warp_mkr"] == 1  # warped frames are no real frame
    assert r["cross_psnr"] is None and "cross_psnr" in res.reasons
    lines = "\n".join(oneshot_score.describe(res))
    assert "cross-person (3 pairs" in lines and "akd 0.00 px" in lines

"""`ptx compare`: every method trained with the same budget and seed on the same frames,
scored on the same held-out tail, printed beside Table 1; its ranking, JSON and picture."""

from __future__ import annotations

import json

import cv2
import pytest

from ptx.body.toydata import make_toy_subject
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.tools.compare import PAPER_TABLE_1, ranking

SMALL = ["--set", "size=32", "--set", "threads=1", "--set", "tensorboard=false",
         "--set", "face_steps=2", "--set", "uv_warmup_steps=2", "--set", "uv_width=4",
         "--set", "tr_width=4", "--set", "width=4", "--set", "d_width=4",
         "--set", "face_width=4", "--set", "eval_frames=2"]  # fmt: skip


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path / "no-weights"))
    w = Workspace.open(tmp_path / "ws")
    toy = make_toy_subject(frames=24, size=32, seed=0)
    store = VideoStore(w, "video-toy")
    for name, a in toy.arrays().items():
        store.create_array(name, a.shape, a.dtype, time_axis=name != "background")
        store.write(name, 0, a)
    w.add_video_to_subject("toy", "video-toy")
    return w


def test_ranking_orders_best_first_and_measures_d2g_s_margin():
    values = {
        "d2g": {"psnr": 30.0, "r_psnr": 28.0, "temporal_error": 1.0, "ssim": 0.9, "r_ssim": None},
        "tna": {"psnr": 29.0, "r_psnr": 28.5, "temporal_error": 1.5, "ssim": 0.8, "r_ssim": 0.8},
        "edn": {"psnr": 31.0, "r_psnr": 27.0, "temporal_error": 0.5, "ssim": 0.7, "r_ssim": 0.7},
    }
    r = ranking(values)
    assert r["psnr"]["order"] == ["edn", "d2g", "tna"]
    assert r["psnr"]["d2g_first"] is False and r["psnr"]["d2g_margin"] == pytest.approx(-1.0)
    assert r["r_psnr"]["order"] == ["tna", "d2g", "edn"]
    assert r["temporal_error"]["order"] == ["edn", "d2g", "tna"]  # lower is better
    assert r["temporal_error"]["d2g_margin"] == pytest.approx(-0.5)
    assert r["ssim"]["d2g_first"] is True and r["ssim"]["d2g_margin"] == pytest.approx(0.1)
    assert r["r_ssim"]["order"] == ["tna", "edn"] and "d2g_first" not in r["r_ssim"]
    # Table 1's own ordering of the same rows
    assert r["psnr"]["paper_order"] == ["d2g", "edn", "tna"]
    assert r["r_psnr"]["paper_order"] == ["d2g", "tna", "edn"]
    assert r["temporal_error"]["paper_order"] == ["d2g", "tna", "edn"]
    assert PAPER_TABLE_1["D2G"]["r_psnr"] == 36.99 and PAPER_TABLE_1["EDN"]["psnr"] == 37.10


@pytest.mark.slow
def test_one_command_trains_scores_and_compares_three_methods(ws, cli, tmp_path):
    out = tmp_path / "compare.json"
    res = cli("compare", "--subject", "toy", "--steps", "3", *SMALL, "--json", out,
              "--workspace", ws.root)  # fmt: skip
    assert res.code == 0, res.err
    for row in ("ptx d2g", "ptx tna", "ptx edn", "paper D2G", "paper TNA", "paper EDN",
                "paper V2V", "R-PSNR", "temporal"):  # fmt: skip
        assert row in res.out, row
    assert "PSNR, best first: here" in res.out and "in the paper d2g, edn, tna" in res.out
    data = json.loads(out.read_text())
    runs = {m["method"]: m for m in data["methods"]}
    assert list(runs) == ["d2g", "tna", "edn"] and data["budget"]["steps"] == 3
    assert {m["details"]["frames"] for m in runs.values()} == {2}  # the same held-out tail
    assert len({tuple(m["details"]["challenging_frames"]) for m in runs.values()}) == 1
    steps = {k: m["training"]["steps"] for k, m in runs.items()}
    assert steps == {"d2g": 3 + 2, "tna": 3 + 2, "edn": 3 + 2}  # warm-up / face phase added
    for m in runs.values():
        assert 5.0 < m["results"]["psnr"] < 60.0 and m["results"]["temporal_error"] is not None
        assert m["results"]["lpips"] is None and "lpips" in m["null_reasons"]
    assert set(data["ranking"]) >= {"psnr", "r_psnr", "temporal_error"}
    picture = cv2.imread(data["picture"])
    assert picture is not None and picture.shape[0] > 2 * 96  # the plot and two strip rows
    assert picture.shape[1] >= 4 * 96  # truth + three methods


@pytest.mark.slow
def test_a_time_budget_stops_every_method_with_a_checkpoint(ws, cli, tmp_path):
    out = tmp_path / "compare.json"
    i = SMALL.index("tr_width=4")  # d2g's only: not compared here
    small = SMALL[: i - 1] + SMALL[i + 1 :]
    res = cli("compare", "--subject", "toy", "--methods", "tna,edn", "--minutes", "0.00001",
              *small, "--json", out, "--workspace", ws.root)  # fmt: skip
    assert res.code == 0, res.err
    data = json.loads(out.read_text())
    for m in data["methods"]:
        assert m["training"]["steps"] == 1 < m["training"]["schedule_steps"]
        assert m["checkpoint"] == "step-000000001.pt"


def test_bad_budgets_and_settings_are_one_line_errors(ws, cli):
    w = ["--workspace", ws.root]
    both = cli("compare", "--subject", "toy", "--steps", "3", "--minutes", "1", *w)
    assert both.code == 2 and "not both" in both.err
    unknown = cli("compare", "--subject", "toy", "--set", "nosuch=1", *w)
    assert unknown.code == 2 and "No compared method has a setting 'nosuch'" in unknown.err
    twice = cli("compare", "--subject", "toy", "--methods", "tna,tna", *w)
    assert twice.code == 2 and "once" in twice.err
    nosuch = cli("compare", "--subject", "toy", "--methods", "d2g,zzz", *w)
    assert nosuch.code == 2 and "No method named 'zzz'" in nosuch.err
    for res in (both, unknown, twice, nosuch):
        assert len(res.err.strip().splitlines()) == 1


def test_ptx_methods_lists_the_paper_s_methods(cli):
    res = cli("methods")
    assert res.code == 0
    for name, paper in (("d2g", "Sun et al."), ("tna", "Shysheya"), ("edn", "Chan et al.")):
        assert name in res.out and paper in res.out

"""The prepared GPU check (benchmarks/gpu_check.py): its CPU rehearsal writes every field
with real figures, its offline setup installs carried wheels and ptx without an index,
and its measuring parts know no method by name (a toy method registered here is measured
like any other)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(BENCH))

from gpucheck import report as check_report  # noqa: E402
from gpucheck.setup_env import wheel_fits  # noqa: E402


@pytest.mark.slow
def test_the_dry_run_writes_every_field_with_figures(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PTX_GPU_CHECK_OUT": str(out), "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, str(BENCH / "gpu_check.py"), "--dry", "--no-install",
           "--wheels", str(tmp_path / "no-wheels")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = sorted(p.name for p in out.iterdir())
    assert files == ["gpu-check.json", "gpu-check.log", "gpu-check.md", "quality.png"]
    assert all((out / f).stat().st_size < 16 * 2**20 for f in files)
    r = json.loads((out / "gpu-check.json").read_text())
    assert check_report.missing(r) == [] and r["errors"] == [] and r["mode"] == "dry"
    assert r["mediapipe_imported"] is False  # installed here, yet the check never imports it
    assert r["setup"]["imports"]["zarr"][0].isdigit() and r["peak"]["measured"]["tflops"] > 0
    p = r["methods"]["d2g"]["presets"]["tiny"]
    host, sweep = p["train"]["data_host"], p["train"]["largest_batch"]
    assert host["steps_per_s"] > 0 and host["images_per_s"] == pytest.approx(
        host["steps_per_s"] * p["images_per_step"]
    )
    assert p["train"]["data_gpu"]["skipped"] == "no CUDA device"
    assert [t["batch"] for t in sweep["tried"]] == [2, 4] and sweep["largest_batch"] == 4
    assert p["flops"]["train_gflop_per_image"] > 0 and p["params_m"] > 0
    assert host["tflops"] == pytest.approx(
        p["flops"]["train_gflop_per_image"] * host["images_per_s"] / 1e3
    )
    comp = p["train"]["compile"]  # the child process ran (compile off on the CPU)
    assert (
        comp["enabled"] is False and comp["steps_per_s"] > 0 and "plumbing only" in comp["skipped"]
    )
    rd = p["render"]
    assert rd["psnr_ok"] and rd["psnr_bf16_vs_fp32_db"] > 40 and rd["batch1_fps"] > 0
    assert [b["batch"] for b in rd["by_batch"]] == [1, 2] and rd["gflop_per_frame"] > 0
    assert rd["model"].startswith("the quality run")
    q = r["quality"]
    seconds = [c["seconds"] for c in q["curve"]]
    assert len(seconds) >= 2 and seconds == sorted(seconds) and q["curve"][0]["step"] == 0
    assert q["heldout_frames"] == 2 and q["evaluated_on"] == "held-out frames"
    assert r["subject"]["frames"] == 20 and r["subject"]["prepare_seconds"] > 0
    tests = r["gpu_tests"]
    assert tests["counts"]["failed"] == tests["counts"]["error"] == 0
    ids = [t["id"] for t in tests["tests"]]
    assert any("test_one_process_under_torchrun_trains_through_ddp[cuda]" in i for i in ids)
    assert all(t["outcome"] == "skipped" for t in tests["tests"])  # no CUDA here
    assert {"setup", "subject", "train d2g tiny", "quality", "render d2g tiny",
            "compile d2g tiny"} <= set(r["parts"])  # fmt: skip
    assert all(g["measured"] is None for g in r["goals"]) and len(r["goals"]) == 3
    md = (out / "gpu-check.md").read_text()
    for heading in ("## Goals", "## Training", "## Rendering", "## Quality per minute",
                    "## gpu-marked tests", "## Time per part"):  # fmt: skip
        assert heading in md
    assert "| d2g | tiny | 16 |" in md
    from PIL import Image

    sheet = Image.open(out / "quality.png")
    assert sheet.size[0] > sheet.size[1] > 0  # rows of real | output | static | background


def test_missing_names_every_absent_field():
    full = {k: (check_report.blank(v, "x") if isinstance(v, dict) else 1)
            for k, v in check_report.SCHEMA.items()}  # fmt: skip
    full["methods"] = {"m": {"kind": "person", "presets": {"p": check_report.blank(
        check_report.PRESET, "x")}}}  # fmt: skip
    assert check_report.missing(full) == []
    del full["methods"]["m"]["presets"]["p"]["render"]["best_fps"]
    del full["quality"]
    assert check_report.missing(full) == ["methods.m.presets.p.render.best_fps", "quality"]
    full["methods"] = {}
    assert "methods.*" in check_report.missing(full)


def test_wheel_tags_follow_this_interpreter():
    here = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert wheel_fits("zarr-3.1.5-py3-none-any.whl", None)
    assert wheel_fits("zarr-3.1.5-py3-none-any.whl", {("py3", "none", "any")})
    from packaging.tags import sys_tags

    tags = {(t.interpreter, t.abi, t.platform) for t in sys_tags()}
    assert wheel_fits("donfig-0.8.1.post1-py3-none-any.whl", tags)
    assert not wheel_fits("numcodecs-0.16.6-cp99-cp99-manylinux_2_17_x86_64.whl", tags)
    ok = f"google_crc32c-1.9.0-{here}-{here}-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
    assert wheel_fits(ok, tags) == (sys.platform == "linux" and os.uname().machine == "x86_64")


def _wheel(folder: Path, name: str, version: str, module: str, body: str) -> Path:
    """A minimal pure-Python wheel (what pip needs: the module, METADATA, WHEEL, RECORD)."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{module}.py", body)
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                   "Tag: py3-none-any\n")  # fmt: skip
        z.writestr(f"{info}/RECORD", "")
    return path


@pytest.mark.slow
def test_setup_installs_the_carried_wheels_and_ptx_without_an_index(tmp_path):
    wheels = tmp_path / "whl"
    wheels.mkdir()
    _wheel(wheels, "carried", "1.0", "carried_mod", "VALUE = 42\n")
    (wheels / "other-1.0-cp99-cp99-manylinux_2_17_x86_64.whl").write_bytes(b"not for us")
    site = tmp_path / "site"
    had_build = (REPO / "build").exists()
    code = (
        f"import json, sys; sys.path.insert(0, {str(BENCH)!r}); "
        "from gpucheck import setup_env; "
        f"info = setup_env.install(__import__('pathlib').Path({str(REPO)!r}), "
        f"__import__('pathlib').Path({str(wheels)!r}), __import__('pathlib').Path({str(site)!r})); "
        "import carried_mod, ptx; "
        "print(json.dumps({**info, 'value': carried_mod.VALUE, 'ptx_file': ptx.__file__}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.splitlines()[-1])
    assert info["wheels"] == ["carried-1.0-py3-none-any.whl"] and info["wheels_installed"]
    assert info["wheels_skipped"] == ["other-1.0-cp99-cp99-manylinux_2_17_x86_64.whl"]
    assert info["value"] == 42 and info["ptx"] == "pip --no-deps into the site folder"
    assert info["ptx_file"].startswith(str(site))  # the installed copy, not the checkout
    assert (REPO / "build").exists() == had_build  # built from a copy, not in the checkout
    assert info["imports"]["numpy"][0].isdigit() and info["imports"]["torch"][0].isdigit()


# --- a toy method, to show the measuring parts know no method by name --------------------
def _toy_method():
    from ptx.config import setting
    from ptx.methods.base import PERSON, Method, MethodConfig, RenderOutput, Window
    from ptx.nn.poselabels import image_stack

    @dataclass
    class Cfg(MethodConfig):
        width: int = setting(4, fixed=True)

    class Trainer:
        def __init__(self, setup):
            torch.manual_seed(0)
            self.net = nn.Conv2d(3, 3, 3, padding=1).to(setup.device)
            self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-2)
            self.notes: list[str] = []

        total_steps = property(lambda self: 5)

        def phase(self, step):
            return "only"

        def lr(self):
            return 1e-2

        def init_from_data(self, data):
            pass

        def train_step(self, b, step):
            loss = (self.net(b.pose) - b.real).abs().mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            return {"g_total": float(loss.detach())}

        @torch.no_grad()
        def eval_images(self, b):
            return {"output": self.net(b.pose).clamp(-1, 1)}

        def state_dict(self):
            return {"net": self.net.state_dict()}

        def load_state_dict(self, state):
            self.net.load_state_dict(state["net"])

    class Renderer:
        def __init__(self, cfg, state, device, frame):
            self.net = nn.Conv2d(3, 3, 3, padding=1).to(device)
            self.net.load_state_dict(state["net"])

        def start(self):
            return None

        def __call__(self, x, state):
            out = self.net(x.pose).clamp(-1, 1)
            return RenderOutput(out, out, torch.ones_like(out[:, :1])), None

    return Method(
        name="toy", kind=PERSON, paper="-", summary="-", config=Cfg,
        presets={"tiny": {"size": 16}, "small": {"size": 16, "batch": 1}},
        encoding=lambda cfg, frame: image_stack(("poselabel",)), window=lambda cfg: Window((0,)),
        build_trainer=Trainer, build_renderer=Renderer, losses=("g_total",),
    )  # fmt: skip


def test_the_measuring_parts_take_any_registered_method(tmp_path, monkeypatch):
    from gpucheck import render_figures, train_figures
    from gpucheck.context import Context
    from gpucheck.plan import Clock, Plan

    from ptx.methods import registry

    toy = _toy_method()
    monkeypatch.setitem(registry.METHODS, "toy", toy)
    plan = Plan.make(True, subject_frames=8)
    ctx = Context(plan, Clock(600), torch.device("cpu"), tmp_path, tmp_path)  # toy arrays
    figures = train_figures.measure(ctx, toy, "small")
    without_render = {k: v for k, v in check_report.PRESET.items() if k != "render"}
    assert check_report.missing(figures, without_render) == ["train.compile"]  # filled later
    assert figures["size"] == 16 and figures["batch"] == 1 and figures["clip"] == 1
    # a 3x3 convolution 3 -> 3 channels on 16 x 16: 2*27*3*256 FLOPs forward, as many for
    # the weights' gradient (the input needs none)
    assert figures["flops"]["train_gflop_per_image"] == pytest.approx(2 * 2 * 27 * 3 * 256 / 1e9)
    assert [t["batch"] for t in figures["train"]["largest_batch"]["tried"]] == [1, 2, 4]
    from gpucheck.context import config, load, on_device

    data = load(ctx, toy, config(ctx, toy, "small"))
    moved = on_device(data, torch.device("cpu"))
    assert (
        torch.equal(moved.train_ids, data.train_ids) and moved.arrays.keys() == data.arrays.keys()
    )
    render = render_figures.measure(ctx, toy, "small")
    assert check_report.missing(render, check_report.PRESET["render"]) == []
    assert render["psnr_ok"] and render["model"] == "the training benchmark's steps"


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]


def test_compile_children_pause_resume_and_stop(tmp_path):
    """The pool stops a child's whole process group while other parts are measured, counts
    the paused time as not compiling, and kills what is left at the end."""
    from gpucheck.compile_child import CompilePool, _Child
    from gpucheck.context import Context
    from gpucheck.plan import Clock, Plan

    ctx = Context(Plan.make(True), Clock(60), torch.device("cpu"), tmp_path, tmp_path)
    pool = CompilePool(ctx, BENCH / "gpu_check.py")
    script = "import subprocess, time; subprocess.Popen(['sleep', '30']); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", script], process_group=0)
    pool.children[("m", "p")] = _Child(proc, tmp_path, started=0.0)
    import time

    time.sleep(0.5)
    pool.pause()
    time.sleep(0.3)
    assert _state(proc.pid) == "T"
    pool.resume()
    assert _state(proc.pid) in "SR" and pool.children[("m", "p")].paused >= 0.3
    pool.finish(("m", "p"), timeout=0.2)  # never ready: stopped, and said why
    assert (
        proc.poll() is not None and "not done after" in pool.children[("m", "p")].result["skipped"]
    )
    assert pool.figures(("m", "p"), {}, None)["steps_per_s"] is None


def test_goals_compare_the_full_run_with_the_targets():
    presets = {
        "small": {"render": {"size": 256, "best_fps": 1200.0}, "train": {}},
        "paper": {"train": {"data_gpu": {"peak_fraction": 0.2},
                            "largest_batch": {"best_peak_fraction": 0.4}}},
    }  # fmt: skip
    quality = {"target_db": 30.0, "seconds_to_target": 150.0, "curve": [{}], "budget_seconds": 180}
    report = {"mode": "full", "methods": {"d2g": {"presets": presets}}, "quality": quality}
    render, train, reach = check_report.goals(report, "d2g")
    assert (render["met"], train["met"], reach["met"]) == (True, False, True)
    assert train["largest_batch_fraction"] == 0.4
    quality["seconds_to_target"] = None
    assert check_report.goals(report, "d2g")[2]["met"] is False  # not reached in its time
    presets["small"]["render"]["size"] = 128  # not the goal's size: not measured
    assert check_report.goals(report, "d2g")[0]["measured"] is None

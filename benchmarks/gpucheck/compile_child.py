"""``torch.compile`` on and its compile time, in a child process the check can stop: a
compile that takes longer than the time left must not take the whole check with it.

The parent (``run``) starts ``gpu_check.py --child-compile SPEC`` per method and preset, with
the time left as its limit; the child (``child``) builds the preset with ``compile=True``
through the method's record, times its first step (the compile) and then steady steps,
and writes its figures as JSON. In the rehearsal the child runs with compile off (the CPU
gains nothing from it and takes minutes to compile): the plumbing is what it proves."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gpucheck.context import (
    STEP_KEYS,
    Context,
    blank,
    config,
    load,
    on_device,
    timed,
    trainer,
    with_flops,
)

COMPILE_KEYS = ("enabled", "first_step_seconds", "compile_seconds", "speedup", *STEP_KEYS)


def child(spec: dict[str, Any]) -> None:
    """Measure one compiled preset (``spec``: see :func:`run`) and write its JSON."""
    import torch

    from gpucheck import device as dev
    from gpucheck.plan import Clock, Plan
    from ptx.cache.workspace import Workspace
    from ptx.methods.registry import METHODS

    plan = Plan(**spec["plan"])
    if plan.threads:
        torch.set_num_threads(plan.threads)
    device = torch.device(spec["device"])
    ws = Workspace.open(spec["workspace"], create=False) if spec["workspace"] else None
    ctx = Context(plan, Clock(plan.budget_s), device, Path(spec["out"]).parent, Path("."))
    ctx.workspace, ctx.subject, ctx.peak_tflops = ws, spec["subject"], spec["peak_tflops"]
    method = METHODS[spec["method"]]
    cfg = config(ctx, method, spec["preset"], compile=spec["compile"])
    data = load(ctx, method, cfg)
    if ctx.cuda:
        data = on_device(data, device)
    t = trainer(ctx, method, cfg, data)
    t0 = time.perf_counter()
    first = timed(ctx, t, data, cfg.batch, method.clip, warm=0)  # includes the compile
    first_seconds = first["seconds_per_step"] * first["steps"]
    steady = with_flops(ctx, timed(ctx, t, data, cfg.batch, method.clip), spec["gflop"])
    compile_seconds = max(0.0, first_seconds - first["steps"] * steady["seconds_per_step"])
    result = {
        "enabled": bool(spec["compile"]),
        "first_step_seconds": first_seconds,
        "compile_seconds": compile_seconds,
        "speedup": None,
        **steady,
        "child_seconds": time.perf_counter() - t0,
    }
    dev.sync(device)
    Path(spec["out"]).write_text(json.dumps(result))


def run(ctx: Context, launcher: Path, method: str, preset: str, figures: dict) -> dict:
    """The compiled figures of one preset (blank, with the reason, when there is no time
    or the child failed); ``figures`` are the preset's uncompiled ones."""
    plan = ctx.plan
    limit = min(plan.compile_timeout, ctx.clock.left() - 15)
    if limit < 30:
        return blank(COMPILE_KEYS, f"{ctx.clock.left():.0f} s were left: too little to compile")
    out = ctx.tmp / f"compile-{method}-{preset}.json"
    spec = {
        "plan": dataclasses.asdict(plan), "device": str(ctx.device), "method": method, "preset": preset,
        "compile": plan.compile and ctx.cuda, "out": str(out),
        "workspace": str(ctx.workspace.root) if ctx.workspace is not None else None,
        "subject": ctx.subject, "peak_tflops": ctx.peak_tflops,
        "gflop": figures["flops"]["train_gflop_per_image"],
    }  # fmt: skip
    cmd = [sys.executable, str(launcher), "--child-compile", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return blank(COMPILE_KEYS, f"stopped after {limit:.0f} s: compiling takes longer")
    if proc.returncode != 0 or not out.is_file():
        last = [ln for ln in proc.stderr.splitlines() if ln.strip()][-1:] or ["no output"]
        raise RuntimeError(f"compile child failed (exit {proc.returncode}): {last[0]}")
    result = json.loads(out.read_text())
    base = figures["train"]["data_gpu" if ctx.cuda else "data_host"]
    if base.get("steps_per_s"):
        result["speedup"] = result["steps_per_s"] / base["steps_per_s"]
    if not result["enabled"]:
        result["skipped"] = "rehearsal on the CPU: the child ran with compile off"
    return result

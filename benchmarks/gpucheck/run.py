"""The check's parts in the order that keeps what matters most inside the time: the bf16
matmul ceiling; the gpu-marked tests (in a child process) beside the subject's
preparation; every registered method's training figures at each preset; quality per
minute; rendering (of the newest state of each preset); and, with the time left,
``torch.compile`` in child processes. Each part is timed, and one that fails is recorded
and the others go on."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from gpucheck import device as dev
from gpucheck import quality, render_figures, subject, train_figures
from gpucheck.compile_child import CompilePool
from gpucheck.context import Context
from gpucheck.gpu_tests import Running
from gpucheck.plan import Clock, Plan
from gpucheck.report import PRESET, SCHEMA, blank, goals
from ptx.cache.workspace import Workspace
from ptx.methods.base import PERSON
from ptx.methods.registry import DEFAULT, METHODS

QUALITY_TARGET_DB = 30.0
FAILED = "failed: see errors"


def _merge(into: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` over ``into``, recursively; a None in ``new`` keeps a blank sub-dict."""
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
            if "skipped" not in v:
                into[k].pop("skipped", None)
        elif v is not None or not isinstance(into.get(k), dict):
            into[k] = v
    return into


def run(
    plan: Plan,
    clock: Clock,
    report: dict[str, Any],
    out: Path,
    tmp: Path,
    launcher: Path,
    repo: Path,
    only: list[str] | None = None,
    device_name: str | None = None,
) -> None:
    device = torch.device(device_name or ("cuda" if torch.cuda.is_available() else "cpu"))
    if plan.threads:
        torch.set_num_threads(plan.threads)
    ctx = Context(plan, clock, device, out, tmp)
    report["machine"] = dev.describe(device)
    report.update(
        gpu_tests=blank(SCHEMA["gpu_tests"], "not run"),
        subject=blank(SCHEMA["subject"], FAILED),
        quality=blank(SCHEMA["quality"], FAILED),
        methods={},
        notes=[],
    )
    with clock.part("peak"):
        sheet, source = dev.datasheet_peak(device)
        measured = dev.matmul_tflops(device, plan.matmul_n)
        ctx.peak_tflops = sheet or (measured["tflops"] if ctx.cuda else None)
        report["peak"] = {
            "datasheet_bf16_tflops": sheet,
            "datasheet_source": source,
            "measured": measured,
            "used_tflops": ctx.peak_tflops,
            "used_source": "datasheet" if sheet else ("measured matmul" if ctx.cuda else None),
        }
    # person-specific methods only: the check trains on one prepared subject (a one-shot
    # method, e.g. dwnet, needs many people and pairs of frames; not measured here yet)
    methods = {k: m for k, m in METHODS.items() if (not only or k in only) and m.kind == PERSON}
    keys = [(n, p) for n, m in methods.items() for p in plan.presets if p in m.presets]
    pool = CompilePool(ctx, launcher)
    try:
        _parts(ctx, report, repo, methods, keys, pool)
    finally:
        pool.stop_all()
    report["goals"] = goals(report, DEFAULT if DEFAULT in methods else next(iter(methods)))
    report["plan"] = dataclasses.asdict(plan)


def _parts(ctx, report, repo, methods, keys, pool) -> None:
    plan, clock, device = ctx.plan, ctx.clock, ctx.device
    with clock.part("compile children start"):
        for key in keys if plan.compile or plan.dry else ():
            pool.start(*key)
        if pool.children:
            report["notes"].append(
                "torch.compile children compiled beside the gpu tests, the subject's "
                "preparation and the training figures (CPU work, and GPU memory held), and "
                "were paused during quality per minute and rendering."
            )
    tests = (
        Running(repo, ctx.tmp, timeout=240.0 if not plan.dry else 150.0) if plan.gpu_tests else None
    )
    with clock.part("subject"):
        report["subject"] = subject.prepare(ctx.tmp, plan.subject_frames, plan.subject_size)
        ctx.workspace = Workspace.open(report["subject"]["workspace"], create=False)
        ctx.subject = report["subject"]["name"]
    if plan.threads:  # preparing resets torch's thread count to its default
        torch.set_num_threads(plan.threads)
    with clock.part("gpu_tests (the wait after the subject)"):
        if tests is not None:
            report["gpu_tests"] = tests.result()
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for name, method in methods.items():
        presets: dict[str, Any] = {}
        report["methods"][name] = {"kind": method.kind, "presets": presets}
        for preset in plan.presets:
            if preset not in method.presets:
                presets[preset] = blank(PRESET, f"{name} has no {preset} preset")
                continue
            entry = presets[preset] = blank(PRESET, FAILED)
            with clock.part(f"train {name} {preset}"):
                _merge(entry, train_figures.measure(ctx, method, preset))
                entry.pop("skipped", None)
                entries[(name, preset)] = entry
    with clock.part("compile (the children ready by now)"):
        for key in pool.ready() if clock.left() > plan.quality_seconds + 90 else ():
            pool.finish(key, timeout=60.0)  # compiled: a few steady steps
    pool.pause()
    with clock.part("quality"):
        q, preset = methods.get(DEFAULT) or next(iter(methods.values())), plan.quality_preset
        if preset in q.presets:
            report["quality"] = quality.measure(ctx, q, preset, QUALITY_TARGET_DB)
        else:
            report["quality"] = blank(SCHEMA["quality"], f"{q.name} has no {preset} preset")
    for (name, preset), entry in entries.items():
        with clock.part(f"render {name} {preset}"):
            entry["render"] = render_figures.measure(ctx, methods[name], preset)
    dev.free_memory(device)
    pool.resume()
    ready = pool.ready()
    for key in sorted(keys, key=lambda k: k not in ready):  # the compiled ones first
        with clock.part(f"compile {key[0]} {key[1]}"):
            child = pool.children.get(key)
            if child is not None and child.result is None:
                pool.finish(key, timeout=clock.left() - 10)
            if key in entries:
                train = entries[key]["train"]
                base = train["data_gpu" if ctx.cuda else "data_host"]
                gflop = entries[key]["flops"]["train_gflop_per_image"]
                train["compile"] = pool.figures(key, base, gflop)

"""The check's result: every field it always writes (``SCHEMA``; a figure that was not
measured is present as null with a ``skipped`` reason beside it), the goals it is measured
against, and the JSON + Markdown it writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gpucheck.compile_child import COMPILE_KEYS
from gpucheck.context import STEP_KEYS
from gpucheck.gpu_tests import TESTS_KEYS
from gpucheck.quality import QUALITY_KEYS
from gpucheck.render_figures import RENDER_KEYS
from gpucheck.subject import SUBJECT_KEYS
from gpucheck.train_figures import BATCH_KEYS


def _keys(*names: str) -> dict[str, Any]:
    return dict.fromkeys(names)


PRESET = {
    **_keys("size", "batch", "clip", "images_per_step", "frames", "params_m"),
    "flops": _keys("train_gflop_per_image", "counted"),
    "train": {
        "data_host": _keys(*STEP_KEYS),
        "data_gpu": _keys(*STEP_KEYS),
        "largest_batch": _keys(*BATCH_KEYS),
        "compile": _keys(*COMPILE_KEYS),
    },
    "render": _keys(*RENDER_KEYS),
}
"""The figures of one method at one preset."""

SCHEMA: dict[str, Any] = {
    **_keys("check", "version", "mode", "started", "seconds_total", "budget_seconds", "plan"),
    "machine": _keys(
        "device",
        "python",
        "torch",
        "numpy",
        "cuda",
        "cpu_cores",
        "gpu",
        "gpu_memory_gib",
        "gpu_sms",
        "load_average",
    ),
    "setup": _keys(
        "site",
        "wheels_dir",
        "wheels",
        "wheels_skipped",
        "wheels_mb",
        "wheels_installed",
        "ptx",
        "imports",
        "mediapipe",
        "seconds",
    ),
    "peak": {
        **_keys("datasheet_bf16_tflops", "datasheet_source", "used_tflops", "used_source"),
        "measured": _keys("n", "dtype", "tflops"),
    },
    "gpu_tests": _keys(*TESTS_KEYS),
    "subject": _keys(*SUBJECT_KEYS),
    "methods": {"*": {"kind": None, "presets": {"*": PRESET}}},
    "quality": _keys(*QUALITY_KEYS),
    **_keys("goals", "parts", "errors", "notes", "mediapipe_imported"),
}
"""Every field of the JSON ("*": any key, each value shaped like the one given)."""


def missing(data: Any, schema: Any = SCHEMA, at: str = "") -> list[str]:
    """Dotted paths of the fields ``schema`` wants that ``data`` lacks."""
    if not isinstance(schema, dict):
        return []
    if not isinstance(data, dict):
        return [at or "(top)"]
    if "*" in schema:
        if not data:
            return [f"{at}.*"]
        return [m for k, v in data.items() for m in missing(v, schema["*"], f"{at}.{k}")]
    out = []
    for key, sub in schema.items():
        if key not in data:
            out.append(f"{at}.{key}".lstrip("."))
        else:
            out += missing(data[key], sub, f"{at}.{key}".lstrip("."))
    return out


def blank(schema: Any, reason: str) -> Any:
    """A value shaped like ``schema`` whose figures are all null, with the reason."""
    if not isinstance(schema, dict) or "*" in schema:
        return None
    return {**{k: blank(v, reason) for k, v in schema.items()}, "skipped": reason}


def goals(report: dict[str, Any], default: str) -> list[dict[str, Any]]:
    """The targets on one H200, each with what this run measured (the default method)."""
    dry = report["mode"] == "dry"
    presets = report["methods"].get(default, {}).get("presets", {})
    small, paper = presets.get("small", {}), presets.get("paper", {})
    render = small.get("render") or {}
    train = (paper.get("train") or {}).get("data_gpu") or {}
    batch = (paper.get("train") or {}).get("largest_batch") or {}
    q = report.get("quality") or {}
    rows = [
        {
            "goal": f"render {default} small, 256 px, batched, bf16",
            "target": ">= 1000 frames/s",
            "measured": render.get("best_fps") if render.get("size") == 256 else None,
            "unit": "frames/s",
            "met": None,
            "threshold": 1000.0,
        },
        {
            "goal": f"train {default} paper, bf16, at its own batch",
            "target": ">= 35% of the bf16 peak",
            "measured": train.get("peak_fraction"),
            "unit": "fraction of peak",
            "met": None,
            "threshold": 0.35,
            "largest_batch_fraction": batch.get("best_peak_fraction"),
        },
        {
            "goal": f"{default} small reaches {q.get('target_db')} dB held-out PSNR",
            "target": "in under 180 s",
            "measured": q.get("seconds_to_target"),
            "unit": "s",
            "met": None,
            "threshold": 180.0,
        },
    ]
    for row in rows:
        value = row["measured"]
        if dry:
            row["measured"], row["met"] = None, None
            row["note"] = "rehearsal on the CPU at tiny sizes: not measured"
        elif value is not None:
            row["met"] = (
                value < row["threshold"] if row["unit"] == "s" else value >= row["threshold"]
            )
        elif row["unit"] == "s" and q.get("curve"):
            row["met"], row["note"] = False, f"not reached in {q.get('budget_seconds'):.0f} s"
    return rows


def write(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """gpu-check.json and gpu-check.md in ``out``."""
    from gpucheck.markdown import markdown

    j, m = out / "gpu-check.json", out / "gpu-check.md"
    j.write_text(json.dumps(report, indent=1, default=str) + "\n")
    m.write_text(markdown(report))
    return j, m

"""The check's result as a Markdown page: goals, training, rendering, quality per minute,
the gpu tests, setup, and the time each part took (to plan the next run)."""

from __future__ import annotations

from typing import Any


def _f(x: Any, digits: int = 1, pct: bool = False) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int | float):
        if pct:
            return f"{100 * x:.{digits}f}%"
        return f"{x:,.{digits}f}" if isinstance(x, float) else f"{x:,}"
    return str(x)


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return out + ["| " + " | ".join(_f(c) if not isinstance(c, str) else c for c in r) + " |"
                  for r in rows]  # fmt: skip


def _counts(counts: dict[str, int] | None) -> str:
    if not counts:
        return "not run"
    return ", ".join(f"{v} {k}" for k, v in counts.items())


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        f"# ptx GPU check ({r['mode']})",
        "",
        f"{m.get('gpu') or 'CPU'} ({m['device']}), Python {m['python']}, torch {m['torch']}, "
        f"numpy {m['numpy']}, CUDA {m['cuda']}; {m['cpu_cores']} cores, load {m['load_average']}. "
        f"Started {r['started']}; took {r['seconds_total']:.0f} s of a {r['budget_seconds']:.0f} s "
        f"budget; {len(r['errors'])} error(s).",
        "",
        f"bf16 peak used: {_f(r['peak']['used_tflops'])} TFLOP/s ({r['peak']['used_source']}); "
        f"measured matmul ({r['peak']['measured'].get('n')}^3, {r['peak']['measured'].get('dtype')}): "
        f"{_f(r['peak']['measured'].get('tflops'))} TFLOP/s.",
        "",
        "## Goals",
        "",
    ]
    lines += _table(
        ["goal", "target", "measured", "met", "note"],
        [[g["goal"], g["target"], _f(g["measured"], 2), _f(g["met"]), g.get("note", "")]
         for g in r["goals"]],
    )  # fmt: skip
    lines += ["", "## Training (bf16 autocast, channels_last; last phase, every loss on)", ""]
    rows, render_rows = [], []
    for name, method in r["methods"].items():
        for preset, p in method["presets"].items():
            t = p["train"]
            gpu, host, lb, c = t["data_gpu"], t["data_host"], t["largest_batch"], t["compile"]
            rows.append([
                name, preset, p["size"], p["batch"], _f(gpu["steps_per_s"], 2),
                _f(gpu["images_per_s"]), _f(host["images_per_s"]), _f(c["compile_seconds"]),
                _f(c["images_per_s"]), _f(lb["largest_batch"]), _f(lb["best_images_per_s"]),
                _f(lb["peak_memory_gib"], 2), _f(p["flops"]["train_gflop_per_image"]),
                _f(gpu["tflops"]), _f(gpu["peak_fraction"], 1, pct=True),
                _f(lb["best_peak_fraction"], 1, pct=True),
            ])  # fmt: skip
            rd = p["render"]
            render_rows.append([
                name, preset, rd["size"], _f(rd["batch1_fps"]), _f(rd["best_batch"]),
                _f(rd["best_fps"]), _f(rd["gflop_per_frame"]), _f(rd["psnr_bf16_vs_fp32_db"]),
                _f(rd["psnr_ok"]), rd["model"] or "-",
            ])  # fmt: skip
    lines += _table(
        ["method", "preset", "px", "batch", "steps/s (GPU data)", "img/s (GPU data)",
         "img/s (host data)", "compile s", "img/s compiled", "largest batch",
         "img/s at best batch", "peak GiB", "GFLOP/img", "TFLOP/s", "% peak",
         "% peak best batch"],
        rows,
    )  # fmt: skip
    lines += ["", "## Rendering (bf16, batched, model only)", ""]
    lines += _table(
        ["method", "preset", "px", "fps batch 1", "best batch", "fps best", "GFLOP/frame",
         "PSNR vs fp32 dB", "> 40 dB", "model"],
        render_rows,
    )  # fmt: skip
    q = r["quality"]
    lines += [
        "",
        f"## Quality per minute ({q['method']} {q['preset']}, {_f(q['size'])} px, "
        f"{_f(q['budget_seconds'], 0)} s budget)",
        "",
        f"Held-out frames: {_f(q['heldout_frames'])} ({q['evaluated_on']}); {q['perceptual']}; "
        f"{_f(q['steps'])} steps; best {_f(q['best_psnr'], 2)} dB; "
        f"{q['target_db']} dB after {_f(q['seconds_to_target'])} s. Sample sheet: {q['sheet']}.",
        "",
    ]
    lines += _table(
        ["seconds", "step", "held-out PSNR dB"],
        [[_f(p["seconds"]), p["step"], _f(p["psnr"], 2)] for p in q["curve"] or []],
    )
    gt = r["gpu_tests"]
    lines += [
        "",
        f"## gpu-marked tests: {_counts(gt['counts'])} ({_f(gt['seconds'])} s)",
        "",
    ]
    lines += _table(
        ["test", "outcome", "seconds", "message"],
        [[t["id"], t["outcome"], _f(t["seconds"]), t["message"]] for t in gt["tests"] or []],
    )
    s = r["setup"]
    lines += [
        "",
        "## Setup",
        "",
        f"Wheels ({_f(s['wheels_mb'])} MiB, installed: {_f(s['wheels_installed'])}): "
        f"{', '.join(s['wheels'] or []) or 'none'}. ptx: {s['ptx']}. MediaPipe: "
        f"{s['mediapipe'] or 'absent'}.",
        "",
        "Imports: " + ", ".join(f"{k} {v}" for k, v in (s["imports"] or {}).items()) + ".",
        "",
        "## Time per part (seconds)",
        "",
    ]
    lines += _table(["part", "seconds"], [[k, _f(v)] for k, v in r["parts"].items()])
    if r["errors"]:
        lines += ["", "## Errors", ""]
        lines += [f"- {e['part']}: {e['error']}" for e in r["errors"]]
    return "\n".join(lines) + "\n"

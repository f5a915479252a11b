"""`ptx score --run ONE_SHOT_RUN`: the one-shot protocol on a one-shot run's held-out
subjects (whole people it never trained on, ``--holdout-subjects``).

Self-reconstruction (``ptx.perform.oneshot``): each held-out video's first frame is the
source picture, every later frame drives (its IUV) and is the target; the output is
rendered recurrently. Over all those frames, at the model's frame:

- ``ssim``, ``psnr`` (whole frame), ``person_psnr``/``person_ssim`` (the real person mask),
  ``l1`` (mean absolute error, 0..1);
- ``temporal_error``: mean |(out_t - out_{t-1}) - (real_t - real_{t-1})| (0..1): the
  output's change between frames against the real video's;
- ``lpips``, ``fid`` when their weights are present (else null with the reason);
- the same PSNR, L1 and temporal error of the **warp-only baseline** (the source warped by
  the coarse IUV grid: no network), which a one-shot model has to beat.

Cross-person pairs (a held-out person's picture driven by another's motion) are not
scored yet: that needs the body fit of both for retargeting, and ground truth only the
synthetic crowd has (``ptx synth DIR --people N``).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ptx.cache.atomic import atomic_write_json
from ptx.cache.runs import read_run_config
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.errors import InputError
from ptx.metrics import fid_score, frame_scores, lpips_score
from ptx.perform.oneshot import render_self, require_one_shot, temporal_error
from ptx.perform.render import load_model


@dataclass
class OneShotScoreResult:
    run: Path
    method: str
    subjects: list[str]
    results: dict[str, float | None]
    reasons: dict[str, str] = field(default_factory=dict)
    frames: int = 0


def score_oneshot(ws: Workspace, run_dir: Path, device: str = "auto") -> OneShotScoreResult:
    """Score a one-shot run on its held-out subjects (module docstring)."""
    model = load_model(Path(run_dir), device)
    require_one_shot(model, "this protocol")
    people = list(read_run_config(run_dir).get("holdout_subjects") or [])
    if not people:
        raise InputError(
            f"Run {run_dir} held out no subjects: there is no one it never saw to score on.",
            "Train with --holdout-subjects N.",
        )
    rendered = []
    for person in people:
        for vid in ws.subject(person)["videos"]:
            rendered.append(render_self(model, VideoStore(ws, vid)))
    out = np.concatenate([r.output for r in rendered])
    truth = np.concatenate([r.truth for r in rendered])
    warped = np.concatenate([r.warped for r in rendered])
    masks = [r.mask for r in rendered]
    mask = np.concatenate(masks) if all(m is not None for m in masks) else None
    s = frame_scores(out, truth, mask).summary()
    w = frame_scores(warped, truth).summary()
    l1 = lambda a: float(np.abs(a.astype(np.float32) - truth).mean() / 255)  # noqa: E731
    results: dict[str, float | None] = {
        "ssim": s["ssim"], "psnr": s["psnr"], "person_psnr": s.get("person_psnr"),
        "person_ssim": s.get("person_ssim"), "l1": l1(out),
        "temporal_error": float(np.mean([temporal_error(r.output, r.truth) for r in rendered])),
        "warp_psnr": w["psnr"], "warp_ssim": w["ssim"], "warp_l1": l1(warped),
        "warp_temporal_error": float(
            np.mean([temporal_error(r.warped, r.truth) for r in rendered])
        ),
    }  # fmt: skip
    reasons: dict[str, str] = {}
    for name, opt in (("lpips", lpips_score(out, truth)), ("fid", fid_score(truth, out))):
        results[name] = opt.value
        if opt.value is None:
            reasons[name] = opt.reason
    return OneShotScoreResult(Path(run_dir), model.method.name, people, results, reasons, len(out))


def save_oneshot_json(res: OneShotScoreResult, path: Path) -> Path:
    atomic_write_json(
        path,
        {
            "protocol": "one-shot self-reconstruction on held-out subjects",
            "run": str(res.run),
            "method": res.method,
            "subjects": res.subjects,
            "frames": res.frames,
            "results": res.results,
            "reasons": res.reasons,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        },
    )
    return path


def describe(res: OneShotScoreResult) -> list[str]:
    """Lines for the terminal."""
    r = res.results
    fmt = lambda v, spec: "n/a" if v is None else format(v, spec)  # noqa: E731
    lines = [
        f"one-shot protocol ({res.method}, {res.frames} frames of held-out "
        f"{', '.join(res.subjects)}; their first frame the source):",
        f"  psnr {fmt(r['psnr'], '.2f')} dB (warp only {fmt(r['warp_psnr'], '.2f')} dB)   "
        f"ssim {fmt(r['ssim'], '.4f')} (warp only {fmt(r['warp_ssim'], '.4f')})",
        f"  l1 {fmt(r['l1'], '.4f')} (warp only {fmt(r['warp_l1'], '.4f')})   temporal error "
        f"{fmt(r['temporal_error'], '.4f')} (warp only {fmt(r['warp_temporal_error'], '.4f')})",
        f"  person psnr {fmt(r['person_psnr'], '.2f')} dB   lpips {fmt(r['lpips'], '.4f')}   "
        f"fid {fmt(r['fid'], '.2f')}",
    ]
    lines += [f"  {k}: {v}" for k, v in res.reasons.items()]
    return lines

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
- ``akd``, ``mkr``: keypoints detected on the outputs (MediaPipe on the outputs upscaled
  to 256 px, or the given ``detect``) against the video's own keypoints (and the warp's,
  ``warp_akd``, ``warp_mkr``);
- the same PSNR, L1 and temporal error of the **warp-only baseline** (the source warped by
  the coarse IUV grid: no network), which a one-shot model has to beat.

Cross-person (``ptx.perform.oneshot_cross``): ``pairs`` fixed random pairs of held-out
people (``seed``), one's picture driven by the other's motion: ``cross_akd``,
``cross_mkr`` against the driving keypoints, and with ``same_motion`` (a crowd performing
one motion) ``cross_psnr``/``cross_l1`` (and the warp's) against the ground truth; per
pair in ``pairs``.
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
from ptx.metrics.keypoints import keypoint_errors
from ptx.perform.oneshot import model_keypoints, render_self, require_one_shot, temporal_error
from ptx.perform.oneshot_cross import Detect, mediapipe_keypoints, score_cross, summarise
from ptx.perform.render import load_model


@dataclass
class OneShotScoreResult:
    run: Path
    method: str
    subjects: list[str]
    results: dict[str, float | None]
    reasons: dict[str, str] = field(default_factory=dict)
    frames: int = 0
    pairs: list[dict] = field(default_factory=list)
    """The cross-person pairs' own scores."""


def score_oneshot(
    ws: Workspace,
    run_dir: Path,
    device: str = "auto",
    pairs: int = 4,
    seed: int = 0,
    same_motion: bool = False,
    detect: Detect | None = None,
) -> OneShotScoreResult:
    """Score a one-shot run on its held-out subjects (module docstring)."""
    detect = detect or mediapipe_keypoints
    model = load_model(Path(run_dir), device)
    require_one_shot(model, "this protocol")
    people = list(read_run_config(run_dir).get("holdout_subjects") or [])
    if not people:
        raise InputError(
            f"Run {run_dir} held out no subjects: there is no one it never saw to score on.",
            "Train with --holdout-subjects N.",
        )
    rendered, kps = [], []
    for person in people:
        for vid in ws.subject(person)["videos"]:
            store = VideoStore(ws, vid)
            rendered.append(render_self(model, store))
            kps.append(model_keypoints(model, store, 1, len(rendered[-1].output) + 1))
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
    kp = keypoint_errors(detect(out), np.concatenate(kps))
    results["akd"], results["mkr"] = kp.akd, kp.mkr
    kp = keypoint_errors(detect(warped), np.concatenate(kps))
    results["warp_akd"], results["warp_mkr"] = kp.akd, kp.mkr
    reasons: dict[str, str] = {}
    if kp.akd is None:
        reasons["akd"] = "no keypoint was found in both the outputs and the real frames"
    rows = score_cross(model, ws, people, pairs, seed, detect, same_motion)
    results |= summarise(rows)
    if not rows:
        reasons["cross"] = "fewer than two held-out people: no cross-person pair"
    elif not same_motion:
        reasons["cross_psnr"] = "no ground truth (the held-out people's motions differ)"
    for name, opt in (("lpips", lpips_score(out, truth)), ("fid", fid_score(truth, out))):
        results[name] = opt.value
        if opt.value is None:
            reasons[name] = opt.reason
    return OneShotScoreResult(
        Path(run_dir), model.method.name, people, results, reasons, len(out),
        [r.to_json() for r in rows],
    )  # fmt: skip


def save_oneshot_json(res: OneShotScoreResult, path: Path) -> Path:
    atomic_write_json(
        path,
        {
            "protocol": "one-shot self-reconstruction and cross-person pairs on held-out subjects",
            "run": str(res.run),
            "method": res.method,
            "subjects": res.subjects,
            "frames": res.frames,
            "results": res.results,
            "reasons": res.reasons,
            "pairs": res.pairs,
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
        f"  akd {fmt(r['akd'], '.2f')} px (warp only {fmt(r['warp_akd'], '.2f')})   mkr "
        f"{fmt(r['mkr'], '.3f')} (warp only {fmt(r['warp_mkr'], '.3f')})",
    ]
    if res.pairs:
        lines.append(
            f"cross-person ({len(res.pairs)} pairs, driving keypoints): akd "
            f"{fmt(r['cross_akd'], '.2f')} px (warp only {fmt(r['cross_warp_akd'], '.2f')})   "
            f"mkr {fmt(r['cross_mkr'], '.3f')} (warp only {fmt(r['cross_warp_mkr'], '.3f')})"
            f"   psnr vs the "
            f"ground truth {fmt(r['cross_psnr'], '.2f')} dB (warp only "
            f"{fmt(r['cross_warp_psnr'], '.2f')} dB)   l1 {fmt(r['cross_l1'], '.4f')} "
            f"(warp only {fmt(r['cross_warp_l1'], '.4f')})"
        )
    lines += [f"  {k}: {v}" for k, v in res.reasons.items()]
    return lines

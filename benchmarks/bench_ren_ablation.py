"""Ren et al.'s ablation (the shape of seed 001's Table 5) on ptx data, on the CPU.

Variants, each trained with the same number of steps, seed and data (``tiny`` widths):

- ``baseline``: G1 alone, centred window t-2..t+2, no pose augmentation, no unpaired poses;
- ``+aug``: with pose augmentation (the config's ``aug_*`` magnitudes);
- ``+unpaired``: and the unpaired branch (a bank of other synthetic people's poses);
- ``+stage2``: and G2 (the full method; the same total steps, a third of them G2's).

Subjects and what is scored:

- ``synthetic``: ``ptx synth`` dance, seed 0, prepared with its own OpenPose keypoints.
  Scored on (1) a **held-out motion**: the same person (appearance seed 0) doing a dance of
  another motion seed and a wave, rendered from their keypoints with ground truth; (2) the
  training video's held-out tail. The unpaired bank: two other people (seeds 21, 22)
  dancing and walking with other motion seeds (their keypoints only).
- ``real``: the clip ``PTX_REAL_VIDEO`` (default /work/shared/data/real/dance_basketball.mp4),
  scored on its held-out tail (``--real-variants`` of them; the bank is the synthetic
  people's poses). Skipped when absent. No picture of the performer is written.

Metrics: ren renders the person only, so prediction and truth are both composited over
the solid training colour (the truth with its prepared mask): SSIM, PSNR, and the temporal
error (``ptx.metrics.temporal``, with the real frames' flow) of that foreground; LPIPS and
FID need weights that are absent here. Writes ``results/ren_ablation.json`` and a
Markdown table; a sheet of the synthetic held-out dance (truth | each variant) goes to
``results/ren-ablation-synthetic.png``.

    python benchmarks/bench_ren_ablation.py [--steps 240] [--size 32] [--threads 1] [--keep DIR]
                                            [--only synthetic|real] [--real-variants a,b]

``--only real`` writes ``results/ren_ablation_real.json`` (so the two subjects can run as
two processes at once).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache.checkpoints import load_checkpoint
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.methods.base import RenderInputs
from ptx.methods.registry import get_method
from ptx.methods.ren.model import RenInference
from ptx.metrics.image import psnr_frames, ssim_frames
from ptx.metrics.temporal import temporal_errors
from ptx.nn.arrays import resize_array
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video
from ptx.training.load import load_subject_data
from ptx.training.run import train

REN = get_method("ren")
REAL = Path(os.environ.get("PTX_REAL_VIDEO", "/work/shared/data/real/dance_basketball.mp4"))
FAST_FIT = {"rigid_iters": 20, "pose_iters": 40, "silhouette_iters": 0, "shape_frames": 8}
TRAIN = SynthConfig("dance", frames=120, size=128, seed=0)
HELD = {
    "new dance": SynthConfig("dance", frames=40, size=128, seed=0, motion_seed=11),
    "wave": SynthConfig("wave", frames=40, size=128, seed=0, motion_seed=12),
}
BANK = [
    SynthConfig("dance", frames=60, size=128, seed=21, motion_seed=31),
    SynthConfig("walk", frames=60, size=128, seed=22, motion_seed=32),
]
CROP = 64


def variants(steps: int) -> dict[str, dict]:
    coarse = steps // 6
    one = {"stage2": False, "coarse_steps": coarse, "steps": steps - coarse}
    two = {"stage2": True, "coarse_steps": coarse, "steps": steps - coarse - steps // 3,
           "stage2_steps": steps // 3}  # fmt: skip
    return {
        "baseline": {**one, "augment": False},
        "+aug": {**one, "augment": True},
        "+unpaired": {**one, "augment": True, "unpaired": "bank"},
        "+stage2": {**two, "augment": True, "unpaired": "bank"},
    }


def _prepare(ws: Workspace, video: Path, subject: str, until: str | None = None) -> None:
    kp = import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}")
    prepare_video(video, ws, subject, {"keypoints": kp, "crop": {"size": CROP},
                                       "fit": dict(FAST_FIT)}, until=until)  # fmt: skip


@torch.no_grad()
def evaluate(ws: Workspace, subject: str, ckpt: Path, tail_only: bool) -> dict:
    """Render ``subject``'s frames (its held-out tail, or every frame) with the run's model
    over the solid colour; score against the masked truth."""
    state = load_checkpoint(ckpt)
    cfg = REN.config_from_dict(state["config"])
    if not tail_only:  # every frame of another video: no held-out cut inside its windows
        cfg = dataclasses.replace(cfg, holdout=0.0)
    data = load_subject_data(ws, [subject], REN, cfg)
    frame = data.frame
    if list(frame) != list(state["frame"]):
        raise SystemExit(f"{subject}: frame {frame} differs from the run's {state['frame']}")
    model = RenInference(cfg, state["trainer"], torch.device("cpu"), frame)
    solid = model.nets.solid
    ids = data.heldout_ids if tail_only else torch.arange(data.arrays["frames"].shape[0])
    outs, truths, masks = [], [], []
    for chunk in ids.split(8):
        b = data.images(chunk, torch.device("cpu"))
        o, _ = model(RenderInputs(b.pose, {}, b.video, background=solid), None)
        mask = data.take("mask", chunk).float() / 255.0
        truth = b.real * mask + solid * (1 - mask)
        outs.append(o.output), truths.append(truth), masks.append(mask[:, 0] >= 0.5)
    out = ((torch.cat(outs).clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1)
    truth = ((torch.cat(truths).clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1)
    out, truth = out.numpy(), truth.numpy()
    res = {
        "frames": len(out),
        "ssim": float(np.mean(ssim_frames(out, truth))),
        "psnr": float(np.mean(psnr_frames(out, truth))),
    }
    person = torch.cat(masks).numpy()
    res["person_ssim"] = float(np.mean(ssim_frames(out, truth, person)))
    res["person_psnr"] = float(np.mean(psnr_frames(out, truth, person)))
    vid = ws.subject(subject)["videos"][0]
    store = VideoStore(ws, vid)
    if store.has("flow"):
        a, z = int(ids[0]), int(ids[-1]) + 1
        flow = resize_array("flow", store.read("flow", a, z), frame).permute(0, 2, 3, 1)
        valid = resize_array("flow_valid", store.read("flow_valid", a, z), frame)[:, 0] > 0
        err = temporal_errors(out, flow.float().numpy(), valid.numpy())
        truth_err = temporal_errors(truth, flow.float().numpy(), valid.numpy())
        res["temporal"] = float(np.nanmean(err.mae))
        res["temporal_truth"] = float(np.nanmean(truth_err.mae))
    return res | {"_pictures": out}


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def run_subject(ws: Workspace, subject: str, evals: dict, args, only: list[str] | None = None,
                save=None) -> dict:  # fmt: skip
    """Train and score each variant; ``save(table)`` after each (partial results survive)."""
    steps, threads = args.steps, args.threads
    table = {}
    for name, extra in variants(steps).items():
        if only and name not in only:
            continue
        over = {**extra, "size": args.size, "threads": threads, "tensorboard": False, "device": "cpu",
                "eval_every": 0, "sample_every": 0, "checkpoint_every": 10**6, "seed": 0}  # fmt: skip
        if "unpaired" in extra:
            over["unpaired"] = "bank-dance,bank-walk"
        load0, t0 = _load(), time.perf_counter()
        result = train(ws, subject, overrides=over, method="ren")
        row = {"train_s": time.perf_counter() - t0, "load_before": load0, "load_after": _load(),
               "steps": result.end_step, "train_psnr_heldout_loop": result.final.get("psnr")}  # fmt: skip
        for label, (target, tail) in evals.items():
            row[label] = evaluate(ws, target, result.checkpoint, tail)
        table[name] = row
        print(name, {k: v for k, v in row.items() if not isinstance(v, dict)},
              {k: {a: b for a, b in v.items() if a != "_pictures"} for k, v in row.items()
               if isinstance(v, dict)}, flush=True)  # fmt: skip
        if save is not None:
            save(table)
    return table


def markdown(name: str, table: dict) -> str:
    labels = [k for k, v in next(iter(table.values())).items() if isinstance(v, dict)]
    cols = "SSIM | PSNR | person SSIM | person PSNR | temporal"
    head = "| variant | " + " | ".join(f"{lb}: {cols}" for lb in labels) + " |"
    lines = [f"**{name}**", "", head, "|---|" + "---|---|---|---|---|" * len(labels)]
    for variant, row in table.items():
        cells = []
        for lb in labels:
            r = row[lb]
            t = r.get("temporal")
            cells.append(f"{r['ssim']:.4f} | {r['psnr']:.2f} | {r['person_ssim']:.4f} | "
                         f"{r['person_psnr']:.2f} | " + (f"{t:.2f}" if t is not None else "–"))  # fmt: skip
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sheet(table: dict, label: str, path: Path, truth: np.ndarray) -> None:
    import cv2

    pick = np.linspace(0, len(truth) - 1, 6).round().astype(int)
    rows = [np.concatenate(list(truth[pick]), axis=1)]
    for row in table.values():
        rows.append(np.concatenate(list(row[label]["_pictures"][pick]), axis=1))
    img = np.concatenate(rows, axis=0)
    img = cv2.resize(img, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)  # 32 px frames
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def _truth(ws: Workspace, subject: str, size: int) -> np.ndarray:
    cfg = REN.resolve_config("tiny", {"holdout": 0.0, "device": "cpu", "size": size})
    data = load_subject_data(ws, [subject], REN, cfg)
    mask = data.arrays["mask"].float() / 255.0
    solid = torch.tensor([0.0, 255.0, 0.0]).view(1, 3, 1, 1)
    t = data.arrays["frames"].float() * mask + solid * (1 - mask)
    return t.round().byte().permute(0, 2, 3, 1).numpy()


def strip(table: dict) -> dict:
    return {v: {k: ({a: b for a, b in r.items() if a != "_pictures"} if isinstance(r, dict)
                    else r) for k, r in row.items()} for v, row in table.items()}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=240)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=32, help="training frame's long side")
    ap.add_argument("--real-variants", default="baseline,+aug,+unpaired,+stage2")
    ap.add_argument("--only", choices=("synthetic", "real"))
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="ptx-bench-ren-"))
    os.environ.setdefault("PTX_WEIGHTS", str(Path.home() / ".cache" / "ptx" / "weights"))
    results: dict = {"steps": args.steps, "threads": args.threads, "size": args.size,
                     "variants": variants(args.steps)}  # fmt: skip
    name = "ren_ablation" + ("_real" if args.only == "real" else "")

    def save(key: str, extra: dict | None = None):
        def write(table: dict) -> None:
            results[key] = strip(table) | (extra or {})
            write_result(name, results)

        return write

    parts = []
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        ws = Workspace(tmp / "ws")
        t0 = time.perf_counter()
        for i, cfg in enumerate(BANK):
            v = tmp / f"bank{i}.mp4"
            if not v.exists():
                synthesize(v, cfg)
            _prepare(ws, v, f"bank-{cfg.motion}", until="crop")
        if args.only in (None, "synthetic"):
            v = tmp / "train.mp4"
            if not v.exists():
                synthesize(v, TRAIN)
            _prepare(ws, v, "synthetic")
            evals = {"training tail": ("synthetic", True)}
            for label, cfg in HELD.items():
                hv = tmp / f"held-{cfg.motion}.mp4"
                if not hv.exists():
                    synthesize(hv, cfg)
                subject = "held-" + cfg.motion
                _prepare(ws, hv, subject)
                evals[label] = (subject, False)
            results["prepare_s"] = time.perf_counter() - t0
            table = run_subject(ws, "synthetic", evals, args, save=save("synthetic"))
            sheet(table, "new dance", RESULTS / "ren-ablation-synthetic.png",
                  _truth(ws, "held-dance", args.size))  # fmt: skip
            results["synthetic"] = strip(table)
            parts.append(markdown("synthetic (ptx synth dance, seed 0)", table))
            print(parts[-1], flush=True)
        if args.only in (None, "real") and REAL.is_file():
            prepare_video(REAL, ws, "real", {"crop": {"size": CROP}, "fit": dict(FAST_FIT)})
            evals = {"held-out tail": ("real", True)}
            only = [s.strip() for s in args.real_variants.split(",") if s.strip()]
            table = run_subject(ws, "real", evals, args, only, save("real", {"clip": REAL.name}))
            results["real"] = strip(table) | {"clip": REAL.name}
            parts.append(markdown(f"real ({REAL.name}, held-out tail)", table))
            print(parts[-1], flush=True)
        results["markdown"] = "\n\n".join(parts)
        print(f"-> {write_result(name, results)}")
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Stage ``fit``: fit a 3D body to every frame's keypoints and person mask.

One shape per video (fitted first on up to ``shape_frames`` frames spread over the
video), then pose and root position per frame, in windows of ``window`` frames with
``context`` frames of overlap on each side for smooth joins (``ptx.body.fit``). The camera
is a pinhole whose focal length is ``focal`` times the source video's long side (about a
58-degree field of view across it), carried into the canonical crop.

Outputs (float32): ``body/pose`` (T, 24, 3) axis-angle (joint 0 = orientation in camera
space), ``body/transl`` (T, 3) metres, ``body/camera`` (T, 3) focal, cx, cy in canonical
pixels (cx, cy: the centre of the H x W frame), ``body/keypoints`` (T, 25, 3) the fitted
BODY_25 points, ``body/error`` (T,) mean distance in pixels between fitted and detected
keypoints, ``body/shape`` (10,). Metadata:
the body model (``body``, and ``body_spec`` to load it again), the frame's long side
(``size``) and ``height``, ``width``, mean error (a fraction of the long side), the frames
fitted poorly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ptx.body.fit_config import FitConfig
from ptx.config import setting
from ptx.devices import resolve_device, usable_cores
from ptx.errors import InputError, StageError
from ptx.pipeline.quality import frame_ranges
from ptx.pipeline.stage import Stage, StageContext

OUTPUTS = ("body/pose", "body/transl", "body/camera", "body/keypoints", "body/error")


@dataclass
class FitStageConfig:
    body: str = "open"
    """Body model: ``open`` (ships with ptx) or ``smpl:PATH`` (an SMPL .pkl/.npz). When the
    file is absent the fit uses the open model and warns (``--strict``: an error); the fit's
    fingerprint holds the model really used and the file's content hash, so supplying the
    file later fits again."""
    focal: float = 0.9
    """Focal length assumed for the source camera, in units of its long side."""
    window: int = 64
    """Frames fitted together (rounded up to whole store chunks)."""
    context: int = 8
    """Extra frames fitted on each side of a window for smooth joins (not stored)."""
    shape_frames: int = 32
    """Frames used to fit the person's shape."""
    batch: int = setting(2, fingerprint=False)
    """Windows fitted at once, as independent problems in one set of tensors (each gets
    the fit it would get alone; torch's cost per operation, which dominates at a few dozen
    frames, is paid once). A resume fits a pending window in its batch again."""
    workers: int = setting(0, fingerprint=False)
    """Batches fitted at once, each on a thread (and core) of its own; 0: as many as the
    cores this process may use. Threads of independent problems do not wait on each other
    as torch's own threads do, so a busy machine only shares its cores out. Measured on the
    1080p clip's four windows: two batches of two on two threads 2.0 s, one batch of four
    on one 2.9-3.3 s."""
    rigid_iters: int = FitConfig.rigid_iters
    """Iterations placing the body from torso and head keypoints."""
    pose_iters: int = FitConfig.pose_iters
    """Iterations on keypoints and pose priors."""
    silhouette_iters: int = FitConfig.silhouette_iters
    """Iterations adding the mask (0: ignore the mask)."""
    w_smooth: float = FitConfig.w_smooth
    """Weight of temporal smoothness."""
    w_silhouette: float = FitConfig.w_silhouette
    """Weight of silhouette agreement."""
    poor_error: float = 0.04
    """A frame whose mean keypoint error exceeds this fraction of the frame size is
    reported as poorly fitted."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``."""


def fit_config(cfg: FitStageConfig) -> FitConfig:
    """The library fitting settings named by the stage config."""
    shared = {f.name for f in fields(FitConfig)} & {f.name for f in fields(FitStageConfig)}
    return FitConfig(**{k: getattr(cfg, k) for k in shared})


def canonical_focal(ctx: StageContext, size: int, focal: float) -> float:
    """Focal length in canonical pixels: ``focal`` x the source's long side, scaled by the
    crop (x the frame's long side ``size`` when no crop was recorded)."""
    try:
        crop = ctx.store.meta("crop")
        long_side = max(int(crop["source_width"]), int(crop["source_height"]))
        return focal * long_side * size / float(crop["box_side"])
    except (StageError, KeyError, TypeError, ValueError, ZeroDivisionError):
        return focal * size


class FitStage(Stage):
    name = "fit"
    version = 3
    """2: the silhouette's nearest vertex found without gradient (the same energy, a
    quarter of the work, other rounding); windows fitted in batches. 3: that search by a
    sorted sweep and every second step (``FitConfig.silhouette_refresh``), Adam written
    out, skinning as one matrix product (the same quality, 2.2x less CPU time, other
    rounding)."""
    Config = FitStageConfig
    inputs = ("keypoints", "mask")
    outputs = (*OUTPUTS, "body/shape")

    @classmethod
    def identity(cls, config: FitStageConfig) -> dict:
        from ptx.body.load import body_identity

        return body_identity(config.body)

    @classmethod
    def check(cls, config: FitStageConfig) -> None:
        if (config.window < 1 or config.context < 0 or config.shape_frames < 1
                or config.focal <= 0 or config.batch < 1 or config.workers < 0):  # fmt: skip
            raise InputError(
                "fit.window, fit.shape_frames, fit.batch and fit.focal must be positive "
                "(fit.workers 0 or more)."
            )
        if config.device.strip().lower() not in ("auto", "cpu"):  # auto, cpu: always valid
            resolve_device(config.device, "fit.device")

    @classmethod
    def preload(cls, config: FitStageConfig) -> tuple[str, ...]:
        return ("torch", "ptx.body.fit", "ptx.body.load")

    def run(self, ctx: StageContext) -> None:
        from ptx.body.fit import fit_batches, fit_body
        from ptx.body.load import resolve_body_model, spec_of

        cfg: FitStageConfig = ctx.config
        device = resolve_device(cfg.device, "fit.device").type
        model, fallback = resolve_body_model(cfg.body)
        if fallback:
            ctx.gate([fallback], kind="weights")  # --strict: MissingWeightsError, no fit
        kp = ctx.read("keypoints")[:, :25].astype(np.float32)
        h, w = (int(v) for v in ctx.store.open_array("mask").shape[1:3])
        n, size, frame = len(kp), max(h, w), (h, w)
        focal = canonical_focal(ctx, size, cfg.focal)
        camera = np.tile(np.array([focal, w / 2, h / 2], np.float32), (n, 1))
        lib = fit_config(cfg)
        chunk = ctx.chunk_frames
        for name, shape in zip(OUTPUTS, ((n, 24, 3), (n, 3), (n, 3), (n, 25, 3), (n,))):
            ctx.create_array(name, shape, np.float32)
        ctx.create_array("body/shape", (model.n_betas,), np.float32, time_axis=False)
        n_chunks = -(-n // chunk)
        todo = ctx.pending(n_chunks, total_frames=n)
        per_window = max(1, -(-cfg.window // chunk))
        single = n <= per_window * chunk
        # a window's chunks are fitted together: a resume or repair redoes every chunk of a
        # window with one pending, and fits it in the batch of windows it had, so that it
        # equals an uninterrupted run
        windows = {c // per_window for c in todo}
        resumed = ctx.record.chunks_done and not (single and windows)
        betas = ctx.record.meta.get("betas") if resumed else None
        whole = None
        if betas is None and single:  # one window: shape and pose at once
            whole = fit_body(model, kp, frame, ctx.read("mask"), camera, lib, None, True, device)
            betas = whole.betas.tolist()
        elif betas is None:  # the shape from frames spread over the video, masks read one by one
            pick = np.unique(np.linspace(0, n - 1, min(n, cfg.shape_frames)).round().astype(int))
            masks = np.concatenate([ctx.read("mask", i, i + 1) for i in pick])
            shape_fit = fit_body(
                model, kp[pick], frame, masks, camera[pick], lib, None, False, device
            )
            betas = shape_fit.betas.tolist()
        betas_arr = np.asarray(betas, np.float32)
        ctx.store.open_array("body/shape")[:] = betas_arr
        ctx.set_meta(
            body=model.name,
            body_spec=spec_of(model, cfg.body),
            body_requested=cfg.body,
            size=size,
            height=h,
            width=w,
            focal=focal,
            betas=[float(b) for b in betas],
        )
        n_windows = -(-n_chunks // per_window)
        batches = [range(f, min(f + cfg.batch, n_windows))
                   for f in sorted({w - w % cfg.batch for w in windows})]  # fmt: skip
        workers = cfg.workers or usable_cores()
        for at in range(0, len(batches), workers):
            group = batches[at : at + workers]
            spans = []  # per batch: (first frame, stop, fitted from, fitted to) of each window
            for batch in group:
                spans.append([])
                for w in batch:
                    a, b = w * per_window * chunk, min(n, (w + 1) * per_window * chunk)
                    spans[-1].append((a, b, max(0, a - cfg.context), min(n, b + cfg.context)))
            if whole is not None:
                fits, spans = [[whole]], [[(0, n, 0, n)]]
            else:
                seqs = [[(kp[lo:hi], ctx.read("mask", lo, hi), camera[lo:hi])
                         for _, _, lo, hi in batch] for batch in spans]  # fmt: skip
                fits = fit_batches(model, seqs, frame, lib, betas_arr, True, device, workers)
            for batch, batch_spans, batch_fits in zip(group, spans, fits):
                for w, (a, b, lo, _), res in zip(batch, batch_spans, batch_fits):
                    if w not in windows:  # done before a resume: fitted again, not written
                        continue
                    core = slice(a - lo, b - lo)
                    for name, arr in zip(
                        OUTPUTS, (res.pose, res.transl, res.camera, res.keypoints, res.error)
                    ):
                        ctx.store.write(name, a, arr[core])
                    for c in range(w * per_window, min(n_chunks, (w + 1) * per_window)):
                        ctx.commit(c, frames=min(n, (c + 1) * chunk) - c * chunk)
        self._report(ctx, cfg, size)

    def _report(self, ctx: StageContext, cfg: FitStageConfig, size: int) -> None:
        err = ctx.store.read("body/error")
        seen = np.isfinite(err)
        mean = float(np.nanmean(err)) if seen.any() else float("nan")
        poor = np.flatnonzero(seen & (err > cfg.poor_error * size))
        unseen = np.flatnonzero(~seen)
        ctx.set_meta(
            mean_error_px=round(mean, 3),
            mean_error_fraction=round(mean / size, 5),
            poor_frames=[int(i) for i in poor],
        )
        if len(poor):
            ctx.warn(
                f"The body fit is poor (keypoint error above {cfg.poor_error:.0%} of the frame) "
                f"in {len(poor)} of {len(err)} frames: {frame_ranges(poor)}. Check those frames "
                "with `ptx inspect`; occlusions or wrong keypoints are the usual cause."
            )
        if len(unseen):
            ctx.warn(
                f"No keypoints to fit in {len(unseen)} frames ({frame_ranges(unseen)}); "
                "the body there follows its neighbours."
            )

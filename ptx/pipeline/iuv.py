"""Stage ``iuv``: DensePose-style IUV maps of the fitted body, one per canonical frame.

Output ``iuv`` uint8 (T, H, W, 3): I = part 0..24 (0 background), U and V x 255 (see
``ptx.body.render``), rasterized from ``body/*`` with the body model the fit used. With
``source = densepose:DIR`` the IUV images DensePose wrote for the source video are mapped
into the canonical crop instead (``ptx.body.densepose``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ptx.body import densepose
from ptx.errors import InputError
from ptx.pipeline.crop import CropBox
from ptx.pipeline.stage import Stage, StageContext

if TYPE_CHECKING:  # torch-backed: imported when the stage runs
    from ptx.body.model import BodyModel

BODY_INPUTS = ("body/pose", "body/transl", "body/camera", "body/shape")


@dataclass
class IuvConfig:
    source: str = "render"
    """``render`` the fitted body, or ``densepose:DIR`` to import DensePose IUV images."""


def fitted_model(ctx: StageContext) -> tuple[BodyModel, tuple[int, int]]:
    """The body model the fit used, and the canonical frame's (H, W) (a fit recorded before
    rectangular frames has only ``size``: square)."""
    from ptx.body.load import resolve_body_model

    meta = ctx.store.meta("fit")
    model, fallback = resolve_body_model(meta.get("body_spec", "open"))
    if fallback:
        ctx.warn(fallback)
    size = int(meta["size"])
    return model, (int(meta.get("height", size)), int(meta.get("width", size)))


def render_stage(ctx: StageContext, output: str) -> None:
    """Render ``output`` (``iuv`` or ``label3d``) for every pending chunk, frames spread
    over as many threads as torch uses (the rasterizer releases the GIL)."""
    from ptx.body.model import TorchBody
    from ptx.body.render import default_workers, render_sequence  # numba: loaded when used

    model, shape = fitted_model(ctx)
    betas = ctx.read("body/shape")
    n = int(ctx.store.open_array("body/pose").shape[0])
    ctx.create_array(output, (n, *shape, 3), np.uint8)
    chunk = ctx.chunk_frames
    body = TorchBody(model)
    workers = default_workers()
    for c in ctx.pending(-(-n // chunk), total_frames=n):
        a, b = c * chunk, min(n, (c + 1) * chunk)
        out = render_sequence(
            model,
            betas,
            ctx.read("body/pose", a, b),
            ctx.read("body/transl", a, b),
            ctx.read("body/camera", a, b),
            shape,
            outputs=(output,),
            workers=workers,
            body=body,
        )
        ctx.store.write(output, a, out[output])
        ctx.commit(c, frames=b - a)


class IuvStage(Stage):
    name = "iuv"
    version = 1
    Config = IuvConfig
    inputs = BODY_INPUTS
    outputs = ("iuv",)

    @classmethod
    def check(cls, config: IuvConfig) -> None:
        if config.source != "render" and not config.source.startswith("densepose:"):
            raise InputError(
                f"iuv.source={config.source!r} is unknown.", "Use 'render' or 'densepose:DIR'."
            )

    @classmethod
    def preload(cls, config: IuvConfig) -> tuple[str, ...]:
        return ("torch", "ptx.body.render") if config.source == "render" else ()

    def run(self, ctx: StageContext) -> None:
        cfg: IuvConfig = ctx.config
        if cfg.source == "render":
            render_stage(ctx, "iuv")
        else:
            _import_densepose(ctx, Path(cfg.source.split(":", 1)[1]).expanduser())


def _import_densepose(ctx: StageContext, folder: Path) -> None:
    files = densepose.densepose_files(folder)
    n = int(ctx.store.open_array("body/pose").shape[0])
    crop = ctx.store.meta("crop")
    shape = CropBox.from_meta(crop).shape
    if len(files) < n:
        raise InputError(
            f"{folder} has {len(files)} IUV images but the video has {n} frames.",
            "Give DensePose output for every frame of the prepared range.",
        )
    box = (float(crop["box_x0"]), float(crop["box_y0"]), float(crop["box_side"]))
    src_w, src_h = int(crop["source_width"]), int(crop["source_height"])
    ctx.create_array("iuv", (n, *shape, 3), np.uint8)
    chunk = ctx.chunk_frames
    for c in ctx.pending(-(-n // chunk), total_frames=n):
        a, b = c * chunk, min(n, (c + 1) * chunk)
        out = np.stack(
            [
                densepose.to_canonical(densepose.read_iuv(files[t]), src_w, src_h, box, shape)
                for t in range(a, b)
            ]
        )
        ctx.store.write("iuv", a, out)
        ctx.commit(c, frames=b - a)
    ctx.set_meta(source=f"densepose:{folder}", files=len(files))

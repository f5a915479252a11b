"""`ptx transfer --source dance.mp4 --target-image photo.jpg`: animate the person of one
picture with a video's motion, using a one-shot model trained on many people.

1. The model: ``--run`` (a folder, or a run name under ``runs/_shared/<method>/``), else
   the newest one-shot run (of ``--method`` when given) in ``runs/_shared``.
2. The photo is prepared like any video of one frame (``ptx prepare photo.jpg``: cached,
   joins no subject), with canonical frames of the model's aspect and long side, until
   the stages the method needs (and the body fit for ``--retarget 3d``).
3. The photo becomes the model's source picture; the source video's motion is retargeted
   onto the photo's body (``ptx.perform.retarget_render``) and rendered in chunks,
   recurrently, exactly as ``ptx.perform.transfer`` does for a trained subject (same
   ``--alpha``, ``--background``, ``--side-by-side``, ``--keep-audio``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ptx.cache.runs import SHARED, latest_run, runs_dir
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace, name_from_path
from ptx.errors import InputError
from ptx.io.frames import is_image_file
from ptx.methods.registry import METHODS, get_method
from ptx.perform.oneshot import require_one_shot, set_source
from ptx.perform.render import LoadedModel, load_model
from ptx.perform.transfer import TransferResult, source_stages, transfer
from ptx.pipeline.runner import prepare_video


def resolve_shared_run(ws: Workspace, run: str | Path | None, method: str | None) -> Path:
    """The one-shot run to use (module docstring)."""
    names = [get_method(method).name] if method else [m.name for m in METHODS.values()]
    if run is not None:
        for cand in (Path(run), *(runs_dir(ws, SHARED, m) / str(run) for m in names)):
            if cand.is_dir():
                return cand
        raise InputError(f"No run {run}.", f"See the one-shot runs in {ws.root / 'runs' / SHARED}.")
    found = latest_run(ws, SHARED, get_method(method).name if method else None)
    if found is None:
        raise InputError(
            f"No one-shot model trained in {ws.root}.",
            "Train one first: ptx train --method dwnet --subjects a,b,c (or give --run).",
        )
    return found


def _aspect(model: LoadedModel) -> str:
    h, w = model.canonical
    return "square" if h == w else f"{w}:{h}"


def prepare_picture(
    ws: Workspace, image: Path, model: LoadedModel, retarget: str, reporter: Any = None
) -> VideoStore:
    """The photo prepared in the model's frame shape (module docstring, 2)."""
    image = Path(image)
    if not image.exists():
        raise InputError(f"No such file: {image}.", "Check the path of --target-image.")
    if image.is_file() and not is_image_file(image):
        raise InputError(
            f"--target-image {image.name} is not a PNG or JPEG picture.",
            "Give a photo (.png, .jpg); a video's motion goes to --source.",
        )
    overrides = {"crop": {"size": max(model.canonical), "aspect": _aspect(model)}}
    prepared = prepare_video(
        image, ws, None, overrides, until=source_stages(model, retarget), reporter=reporter,
        join_subject=False,
    )  # fmt: skip
    return VideoStore(ws, prepared.video_id)


def transfer_to_image(
    ws: Workspace,
    source: Path,
    image: Path,
    output: Path | None = None,
    run: str | None = None,
    method: str | None = None,
    device: str = "auto",
    retarget: str | None = None,
    reporter: Any = None,
    **options: Any,
) -> TransferResult:
    """Animate the person of ``image`` with the motion of ``source`` (module docstring);
    ``options`` are :func:`ptx.perform.transfer.transfer`'s (background, alpha, side,
    keep_audio, output_size, prepare_overrides, start, end, max_frames, fps)."""
    model = load_model(resolve_shared_run(ws, run, method), device)
    require_one_shot(model, "--target-image")
    retarget = retarget or model.method.retarget
    photo = prepare_picture(ws, Path(image), model, retarget, reporter)
    set_source(model, photo, 0)
    name = name_from_path(Path(image))
    if output is None:
        suffix = "" if options.get("alpha") else ".mp4"
        src_name = name_from_path(Path(str(source).split(":", 1)[-1]))
        output = ws.root / "outputs" / f"{src_name}-as-{name}{suffix}"
        output.parent.mkdir(parents=True, exist_ok=True)
    return transfer(
        ws, Path(source), name, output, retarget=retarget, reporter=reporter, device=device,
        model=model, target_store=photo, **options,
    )  # fmt: skip

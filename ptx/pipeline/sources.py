"""What ``ptx prepare`` accepts as a video: a video file, a sequence of frames (a folder
of PNG/JPEG images, or a ``%05d.png`` pattern), or one PNG/JPEG image (a photo, prepared
as a video of one frame).

A frame sequence is encoded once, losslessly, into ``<workspace>/sources/<id>.mkv`` at the
rate it is to be shown at (``--fps``, default :data:`FRAMES_FPS`), and that file is the
video every stage reads. Its id comes from the frames' names, bytes and that rate, so the
same frames prepared again reuse everything, and ``sources/<id>.json`` remembers the
folders (and patterns) they came from (for ``ptx inspect FOLDER``, ``ptx export FOLDER``).
"""

from __future__ import annotations

from pathlib import Path

from ptx.cache.atomic import atomic_write_json, read_json
from ptx.cache.workspace import Workspace, file_content_hash
from ptx.errors import InputError
from ptx.io.frames import (
    encode_frames,
    frame_files,
    frames_digest,
    is_frame_source,
    is_image_file,
    read_image,
)

FRAMES_FPS = 25.0
"""Frame rate given to an image sequence when none is named."""


def label_of(path: Path) -> Path:
    """The path that names a source (a pattern's folder stands for the pattern)."""
    return path.parent if is_frame_source(path) and not path.is_dir() else path


def _frames_of(path: Path, check: bool = True) -> list[Path] | None:
    """The images a frame source or a photo stands for (None: a video file)."""
    if is_image_file(path):
        if check:
            if not path.is_file():
                raise InputError(
                    f"No such file: {path}.", "Check the path (quote it if it has spaces)."
                )
            _check_photo(path)
        return [path]
    if is_frame_source(path):
        return frame_files(path) if check else []
    return None


MIN_PHOTO_SIDE = 32
"""Smallest width and height of a photo ptx prepares (pixels)."""


def _check_photo(path: Path) -> None:
    """InputError for a file that is not a decodable image, or one too small to show a
    person, before anything is written."""
    img = read_image(path)
    h, w = img.shape[:2]
    if min(h, w) < MIN_PHOTO_SIDE:
        raise InputError(
            f"{path.name} is {w}x{h} pixels, too small to show a person.",
            f"Give a photo at least {MIN_PHOTO_SIDE} pixels on each side (a few hundred is "
            "better).",
        )


def video_source(path: Path, workspace: Workspace, fps: float | None = None) -> tuple[Path, str]:
    """The video file to prepare for ``path`` and its content hash: the file itself, or
    for a frame sequence its lossless encoding at ``fps`` in the workspace (made once)."""
    path = Path(path).expanduser()
    files = _frames_of(path)
    if files is None:
        return path, ""
    rate = float(fps or FRAMES_FPS)
    digest = frames_digest(files, rate)
    workspace.ensure()
    folder = workspace.root / "sources"
    out = folder / f"{digest[:16]}.mkv"
    if not out.is_file():
        encode_frames(files, out, rate)
    meta = folder / f"{digest[:16]}.json"
    info = read_json(meta) or {"origins": [], "frames": len(files), "fps": rate, "digest": digest}
    origin = str(path.resolve())
    if origin not in info["origins"]:
        info["origins"].append(origin)
        atomic_write_json(meta, info)
    return out, digest


def source_digest(path: Path, workspace: Workspace) -> str | None:
    """The content hash under which ``path`` (a video file or a frame sequence) was
    prepared in ``workspace``, or None when it was not."""
    path = Path(path).expanduser()
    if _frames_of(path, check=False) is None:
        return file_content_hash(path) if path.is_file() else None
    origin = str(path.resolve())
    for meta in sorted((workspace.root / "sources").glob("*.json")):
        info = read_json(meta) or {}
        if origin in info.get("origins", []):
            return str(info.get("digest", ""))
    return None


def display_name(path: Path | None, workspace: Workspace) -> str:
    """The name to show for a source being prepared: a photo's or frame folder's own name
    for its encoding in ``<workspace>/sources/`` (the last place it was seen), else the
    file's name."""
    if path is None:
        return "the video"
    path = Path(path)
    if path.parent == workspace.root / "sources":
        info = read_json(path.with_suffix(".json")) or {}
        origins = info.get("origins") or []
        if origins:
            return Path(origins[-1]).name
    return path.name

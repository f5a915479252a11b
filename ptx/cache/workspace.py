"""The workspace: where ptx keeps everything it computes.

Layout (DESIGN.md)::

    <workspace>/
      workspace.json                 format version of the layout
      videos/<video-id>/data.zarr    one Zarr v3 group per prepared video
      videos/<video-id>/records/     one JSON record per stage (see ptx.cache.records)
      videos/<video-id>/source.json  the file's content hash, size and the paths it was seen at
      videos/<video-id>/lock         held while a process writes this video
      subjects/<name>.json           which videos make a subject
      runs/<subject>/<method>/<timestamp>/
      outputs/

A video id is derived from the file's content hash, so renaming a file reuses its cache
and two different files with the same name never collide.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ptx import __version__
from ptx.cache.atomic import atomic_write_json, damaged_file, read_json, translate_os_error
from ptx.cache.locks import exclusive_lock
from ptx.errors import DamagedError, InputError, WorkspaceError

LAYOUT_VERSION = 1
DEFAULT_WORKSPACE = "ptx-workspace"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_URL_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+")
"""A URL scheme (``s3://``, ``gs://``, ``https://``); a path object keeps one slash of the
two. Drive letters (``C:/``) have a one-letter scheme and do not match."""


def refuse_url(root: str | Path) -> None:
    """Raise WorkspaceError when ``root`` is a URL: the library works on folders (a
    ``Path`` would turn ``s3://bucket/ws`` into a local folder ``s3:/bucket/ws``); URL
    workspaces go through their local copy (ptx.cache.remote)."""
    text = str(root)
    m = _URL_RE.match(text)
    if m:
        shown = f"{m.group(1)}://{text[m.end() :]}"
        raise WorkspaceError(
            f"Workspace {shown} is a URL; the library works on a local copy of it.",
            "Use the ptx command (it syncs the copy), or in Python "
            "`with ptx.cache.remote.remote_workspace(url) as folder:`.",
        )


def default_workspace() -> Path:
    """``PTX_WORKSPACE`` when set, else ``./ptx-workspace``."""
    raw = os.environ.get("PTX_WORKSPACE") or DEFAULT_WORKSPACE
    refuse_url(raw)
    return Path(raw)


def validate_name(name: str, what: str = "subject") -> str:
    """Return ``name`` if it is a safe single path component, else raise InputError."""
    if not _NAME_RE.match(name or "") or name.endswith("."):
        shown = repr(name) if name else "an empty name"
        raise InputError(
            f"Invalid {what} name {shown}.",
            "Use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit "
            "(no slashes, no '..').",
        )
    return name


def name_from_path(path: Path) -> str:
    """A valid subject name derived from a file name (``My Dance (1).mp4`` -> ``My-Dance-1``)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._")
    return (stem or "video")[:64]


def file_content_hash(path: Path, block: int = 1 << 20) -> str:
    """BLAKE2b-128 of the file's bytes, as hex."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Workspace:
    """A workspace folder. Creating the object touches nothing; :meth:`ensure` creates it."""

    root: Path

    def __post_init__(self) -> None:
        refuse_url(self.root)
        object.__setattr__(self, "root", Path(self.root).expanduser())

    @classmethod
    def open(cls, root: Path | str | None = None, create: bool = True) -> Workspace:
        if root is not None:
            refuse_url(root)
        ws = cls(Path(root).expanduser() if root else default_workspace())
        if create:
            ws.ensure()
        elif not ws.root.is_dir():
            raise WorkspaceError(
                f"No workspace at {ws.root}.",
                "Run `ptx prepare VIDEO` first, or point --workspace / PTX_WORKSPACE at one.",
            )
        return ws

    def ensure(self) -> None:
        """Create the workspace folders and check that they can be written."""
        try:
            if self.root.exists() and not self.root.is_dir():
                raise WorkspaceError(
                    f"Workspace path {self.root} exists and is not a folder.",
                    "Choose another with --workspace or PTX_WORKSPACE.",
                )
            for sub in ("videos", "subjects", "runs", "outputs", "logs"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            marker = self.root / "workspace.json"
            meta = read_json(marker, fix="Delete it; ptx writes a new one (it holds only the "
                             "layout version).")  # fmt: skip
            if meta is None:
                atomic_write_json(marker, {"layout": LAYOUT_VERSION, "created_by": __version__})
            elif meta.get("layout", 0) > LAYOUT_VERSION:
                raise WorkspaceError(
                    f"Workspace {self.root} was written by a newer ptx (layout {meta['layout']}).",
                    "Upgrade ptx or use another workspace.",
                )
            probe = self.root / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except WorkspaceError:
            raise
        except OSError as exc:
            err = translate_os_error(exc, self.root, "creating the workspace")
            if err is exc:
                raise WorkspaceError(
                    f"Cannot use workspace {self.root}: {exc.strerror or exc}.",
                    "Choose a writable folder with --workspace or PTX_WORKSPACE.",
                ) from exc
            raise err from exc

    # --- videos -----------------------------------------------------------------------
    def video_dir(self, video_id: str) -> Path:
        return self.root / "videos" / video_id

    def video_ids(self) -> list[str]:
        base = self.root / "videos"
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def register_video(self, path: Path, content_hash: str | None = None) -> str:
        """Record ``path`` as a source video and return its id (from its content hash)."""
        digest = content_hash or file_content_hash(path)
        video_id = digest[:16]
        vdir = self.video_dir(video_id)
        vdir.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(vdir / "source.lock", "the video's source record", wait=True):
            try:
                src = _source_record(vdir / "source.json", None)
            except DamagedError:
                src = None  # written anew from the file itself (older paths are forgotten)
            src = src or {"content_hash": digest, "size": path.stat().st_size, "paths": []}
            resolved = str(path.resolve())
            if resolved in src["paths"]:
                src["paths"].remove(resolved)
            src["paths"].append(resolved)  # the newest path last
            atomic_write_json(vdir / "source.json", src)
        return video_id

    def source_info(self, video_id: str) -> dict:
        """The video's source record (content hash, size, paths); DamagedError when its
        file no longer parses."""
        return _source_record(self.video_dir(video_id) / "source.json", video_id) or {}

    def source_path(self, video_id: str) -> Path | None:
        """The newest known path of a video's source file that still exists, if any."""
        for p in reversed(self.source_info(video_id).get("paths", [])):
            if Path(p).is_file():
                return Path(p)
        return None

    # --- subjects ---------------------------------------------------------------------
    def subject_path(self, name: str) -> Path:
        return self.root / "subjects" / f"{validate_name(name)}.json"

    def subject_names(self) -> list[str]:
        """The names of the subject files, whether or not they can be read."""
        return sorted(p.stem for p in (self.root / "subjects").glob("*.json"))

    def subjects(self) -> Iterator[dict]:
        """Every subject (DamagedError on the first whose file does not parse)."""
        for name in self.subject_names():
            yield self.subject(name)

    def subject(self, name: str) -> dict:
        path = self.subject_path(name)
        fix = (
            f"Delete it and run `ptx prepare VIDEO --subject {name}` for each of its videos "
            "to rebuild it (prepared videos are cached)."
        )
        data = read_json(path, fix=fix)
        if data is None:
            known = ", ".join(self.subject_names()) or "none yet"
            raise InputError(
                f"No subject named '{name}' in {self.root} (known: {known}).",
                "Run `ptx prepare VIDEO --subject NAME` first.",
            )
        videos = data.get("videos")
        if not isinstance(videos, list) or not all(isinstance(v, str) for v in videos):
            raise damaged_file(path, "it has no list of videos", fix)
        data.setdefault("name", name)
        return data

    def add_video_to_subject(self, name: str, video_id: str) -> dict:
        """Add ``video_id`` to subject ``name`` (created when new); safe across processes."""
        path = self.subject_path(name)
        with exclusive_lock(self.root / "subjects" / ".lock", "the subject list", wait=True):
            data = self.subject(name) if path.is_file() else {
                "name": name,
                "videos": [],
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            }  # fmt: skip
            if video_id not in data["videos"]:
                data["videos"].append(video_id)
                atomic_write_json(path, data)
        return data


def _source_record(path: Path, video_id: str | None) -> dict | None:
    fix = "Run `ptx prepare` on the video file again; it writes the record anew."
    data = read_json(path, fix=fix)
    if data is not None and not isinstance(data.get("paths", []), list):
        raise damaged_file(path, "its list of paths is not a list", fix)
    return data

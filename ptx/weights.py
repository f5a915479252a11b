"""Optional pretrained weights that no installed package carries.

ptx never downloads anything. Each file it can use is listed in :data:`WEIGHTS` with what
uses it, where to get it and its SHA-256; users put it in the weights directory
(``PTX_WEIGHTS``, default ``~/.cache/ptx/weights``). When a file is absent, the code that
wanted it says so and what it does instead; a file whose hash differs is refused.

Official PyTorch model-zoo names carry the first 8 hex digits of the file's SHA-256
(``vgg19-dcbb9e9d.pth``); where ptx knows only that prefix, it checks the prefix.

A file the weights directory lacks is also looked for in PyTorch's hub cache
(``$TORCH_HOME/hub/checkpoints``, where ``torch.hub`` downloads put the same official
files), and some official files ship inside an installed package (torchmetrics carries
LPIPS's ``alex.pth``); such copies are checked against the same SHA-256.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptx.cache.atomic import atomic_write_json, read_json
from ptx.errors import InputError, MissingWeightsError


@dataclass(frozen=True)
class WeightsFile:
    """One optional weights file ptx knows."""

    key: str
    """Short name used in code and in `ptx weights`."""
    filename: str
    """File name expected in the weights directory."""
    url: str
    """Official download address."""
    sha256: str
    """SHA-256 of the official file (hex), or its leading digits where only those are known."""
    used_by: str
    """What uses it, and what ptx does without it."""
    size_mb: float = 0.0
    """Approximate size, for the listing."""
    packaged: tuple[str, str] | None = None
    """(package, path inside it) of an installed copy of the official file, used when the
    weights directory has none."""


WEIGHTS: dict[str, WeightsFile] = {
    w.key: w
    for w in (
        WeightsFile(
            key="vgg19",
            filename="vgg19-dcbb9e9d.pth",
            url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
            sha256="dcbb9e9d",
            used_by="train: VGG-19 perceptual loss (without it: pixel L1 + discriminator "
            "feature matching)",
            size_mb=548.1,
        ),
        WeightsFile(
            key="alexnet",
            filename="alexnet-owt-7be5be79.pth",
            url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            sha256="7be5be79",
            used_by="score: LPIPS backbone (without it: lpips is null)",
            size_mb=233.1,
        ),
        WeightsFile(
            key="lpips_alex",
            filename="alex.pth",
            url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth",
            sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
            used_by="score: LPIPS v0.1 linear layers (without it: lpips is null)",
            size_mb=0.006,
            packaged=("torchmetrics", "functional/image/lpips_models/alex.pth"),
        ),
        WeightsFile(
            key="inception_fid",
            filename="pt_inception-2015-12-05-6726825d.pth",
            url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
            sha256="6726825d",
            used_by="score: InceptionV3 features for FID (without it: fid is null)",
            size_mb=91.2,
        ),
    )
}
"""Every optional weights file, by key."""


def weights_dir() -> Path:
    """``PTX_WEIGHTS`` when set, else ``~/.cache/ptx/weights``."""
    env = os.environ.get("PTX_WEIGHTS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ptx" / "weights"


def torch_hub_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (``TORCH_HOME`` defaults to ``$XDG_CACHE_HOME/torch``,
    then ``~/.cache/torch``), as torch.hub resolves it; torch is not imported."""
    home = os.environ.get("TORCH_HOME")
    if not home:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        home = str(Path(cache) / "torch")
    return Path(home).expanduser() / "hub" / "checkpoints"


def entry(key: str) -> WeightsFile:
    if key not in WEIGHTS:
        raise InputError(f"No weights file named {key!r}.", f"Known: {', '.join(WEIGHTS)}.")
    return WEIGHTS[key]


def packaged_copy(key: str) -> Path | None:
    """The installed package's copy of ``key``'s file, or None (no such copy, package absent)."""
    w = entry(key)
    if w.packaged is None:
        return None
    package, inner = w.packaged
    spec = importlib.util.find_spec(package)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / inner
        if path.is_file():
            return path
    return None


def find(key: str) -> Path | None:
    """The file in the weights directory, else in the torch hub cache, else an installed
    package's copy, else None."""
    name = entry(key).filename
    for path in (weights_dir() / name, torch_hub_dir() / name):
        if path.is_file():
            return path
    return packaged_copy(key)


def missing_message(key: str) -> str:
    """One line saying which file is missing, where to get it and where to put it."""
    w = entry(key)
    return (
        f"{w.filename} is not in {weights_dir()} (nor in {torch_hub_dir()}); download it from "
        f"{w.url} (or set PTX_WEIGHTS to the folder that holds it)"
    )


def sha256_of(path: Path, block: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


CACHE_MIN_BYTES = 1 << 24
"""Smaller files are hashed every time (instant, and they may sit in a read-only package)."""


def _cached_digest(path: Path) -> str:
    """SHA-256 of ``path``, remembered beside it by size and mtime (hashing 500 MB takes
    seconds; a changed file is hashed again)."""
    st = path.stat()
    if st.st_size < CACHE_MIN_BYTES:
        return sha256_of(path)
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    cache_path = path.parent / ".ptx-sha256.json"
    cache = read_json(cache_path, {}) if cache_path.is_file() else {}
    hit = cache.get(path.name)
    if hit and hit.get("stamp") == stamp:
        return hit["sha256"]
    digest = sha256_of(path)
    cache[path.name] = {"stamp": stamp, "sha256": digest}
    # a read-only weights folder still works; it just hashes again next time
    with contextlib.suppress(Exception):
        atomic_write_json(cache_path, cache)
    return digest


def verify(key: str) -> Path:
    """The checked path of ``key``: raises MissingWeightsError when absent, InputError when
    its SHA-256 differs from the official one."""
    w = entry(key)
    path = find(key)
    if path is None:
        raise MissingWeightsError(f"Weights {key!r} are missing: {missing_message(key)}.")
    digest = _cached_digest(path)
    if not digest.startswith(w.sha256.lower()):
        raise InputError(
            f"{path} is not the official {w.filename} (SHA-256 {digest[:16]}..., expected "
            f"{w.sha256[:16]}...).",
            f"Download it again from {w.url}.",
        )
    return path


def load_state_dict(key: str) -> dict[str, Any]:
    """The verified file's tensors, loaded as data only (``weights_only=True``)."""
    import torch

    path = verify(key)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(
            f"{path} could not be read as a weights file ({type(exc).__name__}).",
            f"Download it again from {entry(key).url}.",
        ) from exc
    if not isinstance(state, dict):
        raise InputError(
            f"{path} does not hold a state dict.", f"Download it from {entry(key).url}."
        )
    return state


@dataclass
class WeightsStatus:
    """One row of `ptx weights`."""

    file: WeightsFile
    path: Path
    present: bool
    verified: bool | None = None
    """None when not checked (or absent); False when the hash differs."""


def status(check: bool = False) -> list[WeightsStatus]:
    """Every known file, whether it is present, and (with ``check``) whether it verifies."""
    rows = []
    for key, w in WEIGHTS.items():
        path = find(key)
        row = WeightsStatus(w, path or weights_dir() / w.filename, path is not None)
        if check and row.present:
            try:
                verify(key)
                row.verified = True
            except InputError:
                row.verified = False
        rows.append(row)
    return rows

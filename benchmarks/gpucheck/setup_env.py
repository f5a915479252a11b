"""Set the check up offline on a bare machine (standard library only: it runs before
anything ptx needs can be imported).

The lent GPU machine has Python, torch and most of ptx's dependencies but not zarr,
numcodecs, PyAV (and their own small dependencies) or MediaPipe, and no network. The
missing packages travel as wheels (``make gpu-wheels``, listed in ``wheels.txt``); here
they are installed with ``pip --no-index --no-deps --target`` into a temporary site folder,
ptx itself is installed there without its dependencies, and the folder goes first on this
process's import path and on that of every process it starts (``PYTHONPATH``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MODULES = (
    ("numpy", "numpy", True),
    ("torch", "torch", True),
    ("zarr", "zarr", True),
    ("numcodecs", "numcodecs", True),
    ("av", "av", True),
    ("numba", "numba", False),
    ("scipy", "scipy", False),
    ("skimage", "scikit-image", False),
    ("cv2", "opencv-python-headless", True),
    ("typer", "typer", False),
    ("rich", "rich", False),
    ("yaml", "PyYAML", False),
    ("torchmetrics", "torchmetrics", False),
    ("tensorboard", "tensorboard", False),
    ("psutil", "psutil", False),
    ("PIL", "pillow", False),
)
"""(module, distribution, import it now) of everything ptx imports: the check says which
version it found; those that travel as wheels (compiled against numpy) are imported here,
the others when a part uses them."""


def _tags() -> set[tuple[str, str, str]] | None:
    """The (python, abi, platform) wheel tags this interpreter accepts (None when no
    ``packaging`` is at hand, not even pip's own copy)."""
    try:
        from packaging.tags import sys_tags
    except ImportError:
        try:
            from pip._vendor.packaging.tags import sys_tags
        except ImportError:
            return None
    return {(t.interpreter, t.abi, t.platform) for t in sys_tags()}


def wheel_fits(name: str, tags: set[tuple[str, str, str]] | None) -> bool:
    """Whether wheel file ``name`` installs on this interpreter (its compressed tag sets:
    ``cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64``)."""
    if tags is None:
        return True
    parts = name[: -len(".whl")].split("-")
    if len(parts) < 5:
        return False
    py, abi, plat = parts[-3:]
    return any(
        (p, a, q) in tags for p in py.split(".") for a in abi.split(".") for q in plat.split(".")
    )


def _pip(args: list[str]) -> tuple[bool, str]:
    """Run ``python -m pip ARGS`` quietly; (it worked, the last line it printed)."""
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
    return proc.returncode == 0, (lines[-1] if lines else "")


def _copy_package(repo: Path, dest: Path) -> Path:
    """A clean copy of what building ptx reads (pip builds in the source folder: building
    in the checkout would leave a build/ folder whose stale files a later build keeps)."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(repo / "ptx", dest / "ptx", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (repo / name).is_file():
            shutil.copy2(repo / name, dest / name)
    return dest


def use_site(site: Path) -> None:
    """Put ``site`` first on the import path, here and in every child process."""
    sys.path.insert(0, str(site))
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(site) + (os.pathsep + old if old else "")
    importlib.invalidate_caches()


def install(repo: Path, wheels: Path | None, site: Path, install_ptx: bool = True) -> dict:
    """Install the carried wheels that fit this interpreter and ptx (without dependencies)
    into ``site``, then put it on the import path. Never raises: what failed is reported,
    and ptx falls back to the source tree on the import path."""
    t0 = time.perf_counter()
    site.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"site": str(site), "wheels_dir": str(wheels) if wheels else None}
    found = sorted(wheels.glob("*.whl")) if wheels is not None and wheels.is_dir() else []
    tags = _tags()
    fit = [w for w in found if wheel_fits(w.name, tags)]
    out["wheels"] = [w.name for w in fit]
    out["wheels_skipped"] = [w.name for w in found if w not in fit]
    out["wheels_mb"] = round(sum(w.stat().st_size for w in fit) / 2**20, 1)
    out["wheels_installed"] = False
    if fit:
        ok, last = _pip(
            ["install", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
             "--upgrade", "--target", str(site), *map(str, fit)]
        )  # fmt: skip
        out["wheels_installed"] = ok
        if not ok:
            out["wheels_error"] = last
    out["ptx"] = "source tree on the import path"
    if install_ptx:
        src = _copy_package(repo, site.parent / f"{site.name}-src")
        ok, last = _pip(
            ["install", "--no-index", "--no-deps", "--no-build-isolation", "--no-compile",
             "--no-cache-dir", "--target", str(site), str(src)]
        )  # fmt: skip
        shutil.rmtree(src, ignore_errors=True)
        out["ptx"] = "pip --no-deps into the site folder" if ok else f"{out['ptx']} (pip: {last})"
    use_site(site)
    if not install_ptx or not (site / "ptx").is_dir():
        sys.path.insert(1, str(repo))
        os.environ["PYTHONPATH"] += os.pathsep + str(repo)
    out["imports"] = imports()
    out["mediapipe"] = _version("mediapipe") if importlib.util.find_spec("mediapipe") else None
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "present"


def imports() -> dict[str, str]:
    """module -> its version, or ``missing: why``."""
    out = {}
    for module, dist, now in MODULES:
        try:
            if now:
                mod = importlib.import_module(module)
                out[module] = str(getattr(mod, "__version__", None) or _version(dist))
            elif importlib.util.find_spec(module) is None:
                out[module] = "missing: not installed"
            else:
                out[module] = _version(dist)
        except Exception as exc:
            out[module] = f"missing: {type(exc).__name__}: {exc}"
    return out

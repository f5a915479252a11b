"""Imports run one way, down the layers of DESIGN.md's layout; inference never imports
training; no method reaches into another method's folder. Every import counts, also those
inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PTX = Path(__file__).resolve().parents[1] / "ptx"

LAYERS = [
    {"errors", "config", "devices", "__init__"},
    {"cache", "io", "weights"},
    {"nn"},
    {"body", "metrics"},
    {"methods", "pipeline"},
    {"training", "perform"},
    {"tools"},
    {"api"},
    {"cli"},
]
"""Low to high: a module imports from its own layer or lower ones."""

FORBIDDEN = {("perform", "training"), ("training", "perform"), ("pipeline", "methods"),
             ("methods", "pipeline")}  # fmt: skip
"""Pairs in one layer that must not import each other (a renderer never loads training
code; stages know no method)."""


def _part(module: str) -> str:
    """``ptx.cache.store`` -> ``cache``; ``ptx.errors`` -> ``errors``; ``ptx`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(part: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if part in names)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ptx"):
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("ptx")]
    return out


def _module(path: Path) -> str:
    rel = path.relative_to(PTX.parent).with_suffix("")
    return ".".join(p for p in rel.parts if p != "__init__") or "ptx"


FILES = sorted(PTX.rglob("*.py"))


def test_every_package_has_a_layer():
    parts = {_part(_module(f)) for f in FILES}
    assert parts <= set().union(*LAYERS), parts - set().union(*LAYERS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PTX)))
def test_imports_go_down(path):
    me = _module(path)
    mine = _part(me)
    for target in _imports(path):
        theirs = _part(target)
        assert _layer(theirs) <= _layer(mine), f"{me} imports {target} (upwards)"
        assert (mine, theirs) not in FORBIDDEN, f"{me} imports {target}"
        if mine == "methods" and theirs == "methods":
            own = me.split(".")[2] if len(me.split(".")) > 2 else None
            other = target.split(".")[2] if len(target.split(".")) > 2 else None
            shared = {None, "base", "registry", "oneshot"}  # the modules beside the folders
            assert own in shared or other in shared or own == other, (
                f"{me} reaches into another method's folder ({target})"
            )


def test_import_ptx_is_cheap_and_the_api_loads_on_first_use():
    """``import ptx`` loads no heavy library; ``ptx.prepare`` loads the API (``ptx.api``,
    top of the layers, reached lazily through the package's ``__getattr__``), still without
    torch, MediaPipe or numba, which load when a function needs them."""
    import subprocess
    import sys

    code = (
        "import sys, ptx\n"
        "heavy = ('torch', 'mediapipe', 'numba', 'cv2', 'zarr')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "ptx.prepare, ptx.train, ptx.transfer, ptx.render, ptx.score, ptx.export\n"
        "print(sorted(m for m in heavy if m in sys.modules), 'ptx.api' in sys.modules)\n"
    )
    env = {"PYTHONPATH": str(PTX.parent), "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "[] True"]

"""Every name a benchmark imports from ptx exists: `make bench` runs the scripts long after
the code they measure moved on, and a renamed function otherwise shows up only when that
benchmark's turn comes (imports inside ``main`` included, which ``--help`` never reaches)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(BENCH.glob("*.py")) + sorted((BENCH / "gpucheck").glob("*.py"))


def ptx_imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) of each ``from ptx... import name`` and (module, None) of each
    ``import ptx...`` anywhere in ``path``."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ptx":
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names if a.name.split(".")[0] == "ptx"]
    return found


def missing(module: str, name: str | None) -> str | None:
    """What of ``from module import name`` does not resolve, or None."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return f"{module}: {exc}"
    if name is None or hasattr(mod, name):
        return None
    try:  # a submodule not imported by its package
        importlib.import_module(f"{module}.{name}")
    except ImportError:
        return f"{module} has no {name}"
    return None


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(BENCH).as_posix())
def test_what_a_benchmark_imports_from_ptx_exists(script):
    problems = [m for mod, name in ptx_imports(script) if (m := missing(mod, name))]
    assert not problems, problems


def test_the_check_sees_a_name_that_is_gone(tmp_path):
    script = tmp_path / "bench_gone.py"
    script.write_text("def main():\n    from ptx.devices import _cores, usable_cores\n")
    assert ptx_imports(script) == [("ptx.devices", "_cores"), ("ptx.devices", "usable_cores")]
    assert missing("ptx.devices", "_cores") == "ptx.devices has no _cores"
    assert missing("ptx.devices", "usable_cores") is None
    assert missing("ptx.cache", "store") is None  # a submodule

"""The test suite's ``gpu``-marked tests (bf16 autocast, channels_last, DDP through torchrun
with NCCL, the fit and the metrics on CUDA), run by pytest in a child process beside the
subject's preparation, and read back from its JUnit XML."""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

TESTS_KEYS = ("command", "files", "exit_code", "counts", "tests", "seconds")


def files(repo: Path) -> list[str]:
    """Test files holding a gpu-marked test (only these are collected: the others may
    import what this machine lacks)."""
    found = []
    for path in sorted((repo / "tests").rglob("test_*.py")):
        if "pytest.mark.gpu" in path.read_text(encoding="utf-8"):
            found.append(str(path.relative_to(repo)))
    return found


class Running:
    """pytest -m gpu, started now; ``result()`` waits for it."""

    def __init__(self, repo: Path, tmp: Path, timeout: float) -> None:
        self.xml = tmp / "gpu-tests.xml"
        self.log = tmp / "gpu-tests.log"
        self.files = files(repo)
        self.cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                    f"--junitxml={self.xml}", *self.files]  # fmt: skip
        self.timeout = timeout
        self.t0 = time.perf_counter()
        self._out = open(self.log, "w")  # noqa: SIM115 (closed in result)
        self.proc = subprocess.Popen(self.cmd, cwd=repo, stdout=self._out, stderr=subprocess.STDOUT)

    def result(self) -> dict[str, Any]:
        left = max(1.0, self.timeout - (time.perf_counter() - self.t0))
        try:
            code = self.proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        finally:
            self._out.close()
        out: dict[str, Any] = {
            "command": " ".join(["python", *self.cmd[1:6], "FILES"]),
            "files": self.files,
            "exit_code": code,
            "seconds": time.perf_counter() - self.t0,
            "log_tail": self.log.read_text(errors="replace").splitlines()[-15:],
        }
        out.update(read_junit(self.xml))
        return out


def read_junit(xml: Path) -> dict[str, Any]:
    """Counts and one row per test (id, outcome, seconds, message) from JUnit XML."""
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    tests: list[dict[str, Any]] = []
    if not xml.is_file():
        return {"counts": {**counts, "error": 1}, "tests": tests}
    for case in ET.parse(xml).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag, name in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            node = case.find(tag)
            if node is not None:
                outcome, message = name, (node.get("message") or "").splitlines()[0][:300]
                break
        counts[outcome] += 1
        module = case.get("classname", "").replace(".", "/")
        tests.append(
            {
                "id": f"{module}.py::{case.get('name')}",
                "outcome": outcome,
                "seconds": float(case.get("time") or 0.0),
                "message": message,
            }
        )
    return {"counts": counts, "tests": tests}

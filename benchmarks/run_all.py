"""``make bench``: run every benchmarks/bench_*.py, then collect their JSON results into
``benchmarks/results/summary.json`` and a Markdown table in ``benchmarks/README.md``.

    python benchmarks/run_all.py            # run all, then summarise
    python benchmarks/run_all.py --only extract keypoints
    python benchmarks/run_all.py --summarise-only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README_HEAD = """# ptx benchmarks

`make bench` runs every `bench_*.py` here; each writes `results/<name>.json` (medians over
repeats, baselines measured in the same run, the machine it ran on). This page and
`results/summary.json` are regenerated from those files.

"""


def flatten(data: Any, prefix: str = "") -> dict[str, float | int | str | bool]:
    """Numeric (and short string) leaves of a result, as dotted keys."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            if k == "machine":
                continue
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(data, (int, float, bool)) or (isinstance(data, str) and len(data) < 60):
        out[prefix[:-1]] = data
    return out


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def summarise() -> Path:
    results = {}
    for path in sorted(RESULTS.glob("*.json")):
        if path.name == "summary.json":
            continue
        try:
            results[path.stem] = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
    summary = {"generated": time.strftime("%Y-%m-%d %H:%M:%S"), "benchmarks": results}
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    lines = [README_HEAD]
    for name, data in results.items():
        m = data.get("machine", {})
        where = f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores"
        if m.get("cuda"):
            where += f", {m['cuda']}"
        lines += [f"## {name}", "", f"Machine: {where}; torch {m.get('torch', '?')}.", ""]
        if isinstance(data.get("markdown"), str):  # a benchmark's own tables, the rest in JSON
            lines += [data["markdown"], f"All figures: `results/{name}.json`.", ""]
            continue
        lines += ["| figure | value |", "|---|---|"]
        for key, value in flatten(data).items():
            if key == "benchmark":
                continue
            lines.append(f"| {key} | {fmt(value)} |")
        lines.append("")
    (HERE / "README.md").write_text("\n".join(lines))
    return RESULTS / "summary.json"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", help="benchmark names (bench_<name>.py)")
    ap.add_argument("--summarise-only", action="store_true")
    args = ap.parse_args()
    failed = []
    if not args.summarise_only:
        for script in sorted(HERE.glob("bench_*.py")):
            name = script.stem.removeprefix("bench_")
            if args.only and name not in args.only:
                continue
            print(f"== {script.name}", flush=True)
            if subprocess.run([sys.executable, str(script)], check=False).returncode:
                failed.append(script.name)
    print(f"summary: {summarise()}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

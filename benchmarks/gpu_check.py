"""The prepared GPU check: every CUDA path of ptx and its GPU figures in one short call.

    make gpu-wheels          # where there is a network: the missing wheels into .whl/
    make gpu-check           # on the GPU machine (python3 benchmarks/gpu_check.py)
    python benchmarks/gpu_check.py --dry     # the CPU rehearsal (what CI runs)

It sets itself up offline (the carried wheels and ptx, without dependencies, into a
temporary site folder), then runs the gpu-marked tests, prepares a synthetic subject from
its own OpenPose JSON (no MediaPipe), measures every registered method at the small and
paper presets (training throughput with bf16 autocast and channels_last, data in GPU vs
host memory, FLOPs and the fraction of the bf16 peak, the largest batch, torch.compile on
and off, batched bf16 rendering checked against fp32), and trains the small preset for a
fixed wall-clock budget, logging held-out PSNR against seconds. Everything goes to
``$PTX_GPU_CHECK_OUT`` (default ``gpu-check/``): gpu-check.json, gpu-check.md, gpu-check.log
and quality.png. Exit code 0 when no part failed, 1 otherwise (everything is written
either way). The whole check ends within ``--budget`` seconds (8 minutes on a GPU).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from gpucheck import setup_env  # noqa: E402 (standard library only)
from gpucheck.plan import Clock, Plan, out_dir  # noqa: E402


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry", action="store_true", help="CPU rehearsal: a few steps, tiny sizes.")
    ap.add_argument("--budget", type=float, help="Wall-clock seconds for the whole check.")
    ap.add_argument("--quality-seconds", type=float, help="Training budget of quality/minute.")
    ap.add_argument("--presets", help="Comma-separated presets (default small,paper).")
    ap.add_argument("--methods", help="Comma-separated methods (default: every registered).")
    ap.add_argument("--device", help="cuda, cuda:N or cpu (default: cuda when available).")
    ap.add_argument("--wheels", type=Path, default=REPO / ".whl", help="Carried wheels.")
    ap.add_argument("--no-gpu-tests", action="store_true", help="Skip the gpu-marked tests.")
    ap.add_argument("--no-compile", action="store_true", help="Skip torch.compile.")
    ap.add_argument("--no-install", action="store_true", help="Use ptx from the source tree.")
    ap.add_argument("--child-compile", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.child_compile:  # a child started by the check: its import path is set already
        from gpucheck.compile_child import child

        child(json.loads(args.child_compile))
        return 0
    plan = Plan.make(
        args.dry,
        budget_s=args.budget,
        quality_seconds=args.quality_seconds,
        presets=tuple(args.presets.split(",")) if args.presets else None,
        compile=False if args.no_compile else None,
        gpu_tests=False if args.no_gpu_tests else None,
    )
    out = out_dir(os.environ.get("PTX_GPU_CHECK_OUT", "gpu-check"))
    tmp = Path(tempfile.mkdtemp(prefix="ptx-gpu-check-"))
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    with open(out / "gpu-check.log", "w") as log:
        clock = Clock(plan.budget_s, log)
        clock.say(f"ptx GPU check ({'dry' if plan.dry else 'full'}); output in {out}")
        report: dict = {
            "check": "ptx-gpu-check",
            "version": 1,
            "mode": "dry" if plan.dry else "full",
            "started": started,
            "budget_seconds": plan.budget_s,
            "goals": [],
            "notes": [],
            "errors": clock.errors,
            "parts": clock.parts,
        }
        with clock.part("setup"):
            report["setup"] = setup_env.install(
                REPO, args.wheels, tmp / "site", not args.no_install
            )
            clock.say(f"setup: {json.dumps(report['setup']['imports'])}")
        try:
            from gpucheck.run import run

            only = args.methods.split(",") if args.methods else None
            run(plan, clock, report, out, tmp, Path(__file__).resolve(), REPO, only, args.device)
        except Exception as exc:  # a failure outside the parts: still write what there is
            clock.error("check", exc)
        finally:
            report["seconds_total"] = round(clock.elapsed(), 1)
            report["mediapipe_imported"] = "mediapipe" in sys.modules  # never needed
            _write(report, out, clock)
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if report["errors"] else 0


def _write(report: dict, out: Path, clock: Clock) -> None:
    try:
        from gpucheck.report import SCHEMA, blank, write

        for key, schema in SCHEMA.items():  # a part that never ran still leaves its fields
            if key not in report:
                report[key] = blank(schema, "not reached") if isinstance(schema, dict) else None
        j, m = write(report, out)
        clock.say(f"wrote {j} and {m} ({len(report['errors'])} error(s))")
    except Exception as exc:
        clock.error("report", exc)
        (out / "gpu-check.json").write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main())

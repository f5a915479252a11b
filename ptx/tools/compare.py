"""`ptx compare`: train several methods on one subject with the same budget and seed,
score them on the same held-out tail, and set the result beside D2G-Net's Table 1.

Every method trains on the same prepared frames with the same preset name, seed and
common settings, for the same number of steps (``steps``: each method's main phase; a
method's own warm-up or closing phase, e.g. D2G-Net's UV warm-up or EDN's face phase, is
part of its design and counted in its training minutes) or the same wall-clock time
(``minutes``: the run stops there with its schedule unfinished). Each run is then scored
exactly as ``ptx score`` scores it (``ptx.perform.score``), on the same held-out frames,
and one picture shows every method's per-frame PSNR and the challenging poses method by
method.

The paper's figures (Sun et al., TPAMI 2022, Table 1; 512 px, thousands of frames per
subject) are not at this scale: compare the ordering of methods, not the numbers. Its
temporal error is in units of its supplement, ptx's in grey levels (0..255); its FID is
cross-transfer, ptx's is on the held-out self-transfer frames.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ptx.cache.workspace import Workspace, validate_name
from ptx.errors import InputError
from ptx.methods.registry import get_method

if TYPE_CHECKING:  # torch and OpenCV load when a comparison runs, not with the CLI
    from ptx.perform.score import ScoreResult
    from ptx.training.log import TrainReporter

PAPER_TABLE_1: dict[str, dict[str, float]] = {
    "LWG": {"ssim": 0.821, "r_ssim": 0.823, "psnr": 32.58, "r_psnr": 32.44,
            "temporal_error": 0.78, "fid": 71.20},
    "EDN": {"ssim": 0.911, "r_ssim": 0.906, "psnr": 37.10, "r_psnr": 36.41,
            "temporal_error": 0.61, "fid": 58.86},
    "V2V": {"ssim": 0.924, "r_ssim": 0.915, "psnr": 36.60, "r_psnr": 35.91,
            "temporal_error": 0.48, "fid": 57.04},
    "TNA": {"ssim": 0.925, "r_ssim": 0.918, "psnr": 36.80, "r_psnr": 36.62,
            "temporal_error": 0.46, "fid": 55.68},
    "DTL": {"ssim": 0.924, "r_ssim": 0.917, "psnr": 37.2, "r_psnr": 36.50,
            "temporal_error": 0.51, "fid": 56.74},
    "D2G": {"ssim": 0.933, "r_ssim": 0.930, "psnr": 37.44, "r_psnr": 36.99,
            "temporal_error": 0.41, "fid": 53.49},
}  # fmt: skip
"""D2G-Net's Table 1 (self-transfer SSIM/PSNR and their R- variants on the 10 most
challenging poses, temporal error, cross-transfer FID). LWG is "for reference only"."""

PAPER_NAME = {"d2g": "D2G", "tna": "TNA", "edn": "EDN"}
"""ptx method -> its row in Table 1."""

RANKED = {"psnr": True, "r_psnr": True, "temporal_error": False, "ssim": True,
          "r_ssim": True}  # fmt: skip
"""Metrics whose ordering is reported (True: higher is better)."""

COLUMNS = ("ssim", "r_ssim", "psnr", "r_psnr", "temporal_error", "lpips", "fid", "fps")
"""Score metrics in the table, Table 1's first."""


@dataclass
class MethodRun:
    """One method's training and score in a comparison."""

    method: str
    run_dir: Path
    steps: int
    """Steps trained (all phases)."""
    total_steps: int
    """Steps its schedule had (more than ``steps`` when a time budget cut it)."""
    train_seconds: float
    score: ScoreResult


@dataclass
class CompareResult:
    subject: str
    preset: str
    budget: dict[str, Any]
    runs: list[MethodRun]
    ranking: dict[str, Any]
    picture: Path | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "preset": self.preset,
            "budget": self.budget,
            "methods": [
                {**r.score.to_json(), "training": {
                    "run_dir": str(r.run_dir), "steps": r.steps, "schedule_steps": r.total_steps,
                    "minutes": r.train_seconds / 60.0}}
                for r in self.runs
            ],
            "paper_table_1": PAPER_TABLE_1,
            "ranking": self.ranking,
            "picture": str(self.picture) if self.picture else None,
            "notes": self.notes,
            "compared": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }  # fmt: skip


def ranking(values: dict[str, dict[str, float | None]]) -> dict[str, Any]:
    """For each metric of :data:`RANKED`: the methods best first, here and in Table 1 (the
    rows of the methods compared), and whether d2g comes first with its margin over the
    best other method (positive: d2g is better)."""
    out: dict[str, Any] = {}
    for metric, higher in RANKED.items():
        have = {m: v[metric] for m, v in values.items() if v.get(metric) is not None}
        order = sorted(have, key=lambda m: have[m], reverse=higher)
        paper = {m: PAPER_TABLE_1[PAPER_NAME[m]][metric] for m in values if m in PAPER_NAME}
        entry: dict[str, Any] = {
            "order": order,
            "paper_order": sorted(paper, key=lambda m: paper[m], reverse=higher),
        }
        others = [have[m] for m in have if m != "d2g"]
        if "d2g" in have and others:
            best = max(others) if higher else min(others)
            margin = have["d2g"] - best if higher else best - have["d2g"]
            entry.update(d2g_first=bool(margin > 0), d2g_margin=float(margin))
        out[metric] = entry
    return out


def compare(
    ws: Workspace,
    subject: str,
    methods: list[str],
    preset: str = "tiny",
    steps: int | None = None,
    minutes: float | None = None,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    device: str = "auto",
    picture: Path | None = None,
    reporter: Any = None,
) -> CompareResult:
    """Train, score and compare ``methods`` on ``subject`` (see the module docstring).

    ``overrides`` ({field: value}) go to every method that has the field (a field no
    method has is an error); ``picture`` is the PNG to write (default
    ``<workspace>/outputs/compare-<subject>.png``); ``reporter(method)`` gives a training
    progress reporter for each method."""
    from ptx.perform.score import score
    from ptx.training.run import train

    validate_name(subject)
    ws.subject(subject)
    names = [get_method(m).name for m in methods]
    if not names or len(set(names)) != len(names):
        raise InputError("Give each method to compare once, e.g. --methods d2g,tna,edn.")
    if (steps is not None and steps < 1) or (minutes is not None and minutes <= 0):
        raise InputError("--steps must be at least 1 and --minutes positive.")
    common = _split_overrides(names, preset, dict(overrides or {}))
    budget: dict[str, Any] = {"seed": seed, "preset": preset}
    if steps is not None:
        budget["steps"] = steps
    if minutes is not None:
        budget["minutes"] = minutes
    runs = []
    for name in names:
        over = {**common[name], "seed": seed, "device": device}
        if steps is not None:
            over["steps"] = steps
        rep: TrainReporter | None = reporter(name) if reporter else None
        trained = train(ws, subject, preset, over, method=name, reporter=rep,
                        time_limit=minutes * 60.0 if minutes is not None else None)  # fmt: skip
        scored = score(ws, subject, str(trained.run_dir), device, keep_images=True)
        runs.append(MethodRun(name, trained.run_dir, trained.end_step, trained.total_steps,
                              trained.seconds, scored))  # fmt: skip
    result = CompareResult(
        subject, preset, budget, runs, ranking({r.method: r.score.results for r in runs})
    )
    result.picture = _picture(ws, subject, runs, picture)
    sizes = {r.score.extra["size"] for r in runs}
    if len(sizes) > 1:
        result.notes.append(f"The methods trained at different sizes ({sorted(sizes)} px).")
    return result


def _split_overrides(names: list[str], preset: str, overrides: dict[str, Any]) -> dict:
    """{method: the overrides its config has}; a field no method has is an InputError."""
    out: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for name in names:
        m = get_method(name)
        fields = set(m.config.__dataclass_fields__)
        out[name] = {k: v for k, v in overrides.items() if k in fields}
        used |= set(out[name])
        m.resolve_config(preset, out[name])  # a bad value fails before any training
    unknown = sorted(set(overrides) - used)
    if unknown:
        raise InputError(
            f"No compared method has a setting '{unknown[0]}'.",
            "See each method's settings in a run's config.yaml.",
        )
    return out


def _picture(ws: Workspace, subject: str, runs: list[MethodRun], path: Path | None) -> Path:
    from ptx.metrics.report import comparison_sheet

    first = runs[0].score.extra
    path = path or ws.root / "outputs" / f"compare-{subject}.png"
    labels = [f"frame {i}" for i in range(len(first["truth"]))]
    return comparison_sheet(
        first["truth"],
        {r.method: r.score.extra["outputs"] for r in runs},
        {r.method: r.score.extra["psnr_per_frame"] for r in runs},
        first["challenging_indices"],
        path,
        labels=labels,
        title=f"{subject}: per-frame PSNR over the held-out frames",
    )

"""`ptx compare --one-shot`: shared runs of one-shot methods side by side on the same
held-out people, with the warp-only baseline as a row of its own.

Each run is scored by the one-shot protocol (``ptx.perform.oneshot_score``: self-
reconstruction on the held-out people, their first frame the source; cross-person on the
same seeded pairs for every run), so the runs must have held out the same people. The
runs are the ones given, or else the newest shared run of every one-shot method in the
registry. The warp-only row (the source picture warped by the coarse IUV grid: no
network) is the first run's, at its frame.

Written: a JSON and a markdown table, and a picture: for the first held-out person, a few
driven frames (rows), columns source | real | warp only | each run's output.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ptx.cache.atomic import atomic_write_json
from ptx.cache.runs import SHARED, latest_run, read_run_config
from ptx.cache.workspace import Workspace
from ptx.errors import InputError
from ptx.methods.base import ONE_SHOT
from ptx.methods.registry import METHODS

COLUMNS = ("psnr", "ssim", "l1", "temporal_error", "akd", "mkr", "cross_akd", "cross_mkr",
           "cross_psnr", "cross_l1", "lpips", "fid")  # fmt: skip
"""Scores in the table (``cross_*``: the cross-person pairs)."""
WARP = {"psnr": "warp_psnr", "ssim": "warp_ssim", "l1": "warp_l1",
        "temporal_error": "warp_temporal_error", "akd": "warp_akd", "mkr": "warp_mkr",
        "cross_akd": "cross_warp_akd", "cross_mkr": "cross_warp_mkr",
        "cross_psnr": "cross_warp_psnr", "cross_l1": "cross_warp_l1"}  # fmt: skip
"""The warp-only row's scores: where each column's value is in a run's results."""
HIGHER = {"psnr", "ssim", "cross_psnr"}
"""Columns where higher is better (the rest: lower)."""


@dataclass
class OneShotComparison:
    people: list[str]
    rows: dict[str, dict[str, float | None]]
    """label -> scores; the last row is ``warp only``."""
    runs: dict[str, str]
    """label -> run folder."""
    pairs: list[dict]
    files: dict[str, Path] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": "one-shot: self-reconstruction and cross-person pairs on held-out people",
            "held_out": self.people,
            "runs": self.runs,
            "rows": self.rows,
            "best": best(self.rows),
            "pairs": self.pairs,
            "compared": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }


def one_shot_runs(ws: Workspace) -> list[Path]:
    """The newest shared run of every one-shot method that has one."""
    found = [latest_run(ws, SHARED, m.name) for m in METHODS.values() if m.kind == ONE_SHOT]
    return [r for r in found if r is not None]


def best(rows: dict[str, dict[str, float | None]]) -> dict[str, str]:
    """column -> the label of the best row (of those that have the column)."""
    out = {}
    for col in COLUMNS:
        have = {k: v[col] for k, v in rows.items() if v.get(col) is not None}
        if have:
            pick = max if col in HIGHER else min
            out[col] = pick(have, key=lambda k: have[k])
    return out


def compare_oneshot(
    ws: Workspace,
    runs: list[Path] | None = None,
    pairs: int = 4,
    seed: int = 0,
    same_motion: bool = False,
    device: str = "auto",
    out_dir: Path | None = None,
    detect: Any = None,
) -> OneShotComparison:
    """Score ``runs`` (default :func:`one_shot_runs`) on their held-out people and write
    the table and the picture to ``out_dir`` (default ``<workspace>/outputs``)."""
    from ptx.perform.oneshot_score import score_oneshot

    runs = [Path(r) for r in (runs if runs else one_shot_runs(ws))]
    if not runs:
        raise InputError(
            f"No one-shot run in {ws.root} to compare.",
            "Train one first: ptx train --method METHOD --subjects a,b,c --holdout-subjects 2.",
        )
    people = _same_people(runs)
    labels = _labels(runs)
    rows: dict[str, dict[str, float | None]] = {}
    results = []
    for label, run in zip(labels, runs, strict=True):
        res = score_oneshot(ws, run, device, pairs, seed, same_motion, detect)
        results.append(res)
        rows[label] = {c: res.results.get(c) for c in COLUMNS}
    first = results[0].results
    rows["warp only"] = {c: first.get(WARP[c]) if c in WARP else None for c in COLUMNS}
    cmp = OneShotComparison(people, rows, dict(zip(labels, map(str, runs), strict=True)),
                            results[0].pairs)  # fmt: skip
    out_dir = Path(out_dir) if out_dir is not None else ws.root / "outputs"
    out_dir.mkdir(parents=True, exist_ok=True)
    cmp.files["json"] = out_dir / "compare-oneshot.json"
    cmp.files["markdown"] = out_dir / "compare-oneshot.md"
    cmp.files["picture"] = out_dir / "compare-oneshot.png"
    atomic_write_json(cmp.files["json"], cmp.to_json())
    cmp.files["markdown"].write_text(markdown(cmp))
    _picture(ws, runs, labels, people[0], device, cmp.files["picture"])
    return cmp


def _same_people(runs: list[Path]) -> list[str]:
    held = [list(read_run_config(r).get("holdout_subjects") or []) for r in runs]
    if not held[0]:
        raise InputError(f"Run {runs[0]} held out no people: there is no one to compare on.",
                         "Train with --holdout-subjects N.")  # fmt: skip
    for run, people in zip(runs[1:], held[1:], strict=True):
        if people != held[0]:
            raise InputError(
                f"Runs {runs[0].name} and {run.name} held out different people "
                f"({', '.join(held[0])} vs {', '.join(people) or 'none'}).",
                "Compare runs trained with the same --subjects and --holdout-subjects.",
            )
    return held[0]


def _labels(runs: list[Path]) -> list[str]:
    methods = [str(read_run_config(r).get("method")) for r in runs]
    return [
        m if methods.count(m) == 1 else f"{m} {r.name}" for m, r in zip(methods, runs, strict=True)
    ]


def markdown(cmp: OneShotComparison) -> str:
    """The table as markdown (the best value of each column in bold)."""
    top = best(cmp.rows)
    lines = [
        f"One-shot comparison on held-out {', '.join(cmp.people)} "
        f"({len(cmp.pairs)} cross-person pairs)",
        "",
        "| | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for label, row in cmp.rows.items():
        cells = []
        for col in COLUMNS:
            v = row.get(col)
            cell = "-" if v is None else f"{v:.4g}"
            cells.append(f"**{cell}**" if top.get(col) == label else cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _picture(ws: Workspace, runs: list[Path], labels: list[str], person: str, device: str,
             path: Path, rows: int = 4) -> Path:  # fmt: skip
    import cv2

    from ptx.cache.store import VideoStore
    from ptx.perform.oneshot import render_self, source_arrays
    from ptx.perform.render import load_model

    store = VideoStore(ws, ws.subject(person)["videos"][0])
    cols, names = [], ["source", "real", "warp only", *labels]
    for i, run in enumerate(runs):
        model = load_model(run, device)
        r = render_self(model, store)
        if i == 0:
            src = source_arrays(model, store)["frames"].permute(1, 2, 0).numpy()
            pick = np.linspace(0, len(r.output) - 1, min(rows, len(r.output))).round().astype(int)
            cols += [np.repeat(src[None], len(pick), 0), r.truth[pick], r.warped[pick]]
        cols.append(_fit(r.output[pick], cols[0].shape[1:3]))
    grid = np.concatenate([np.concatenate(list(c), 0) for c in cols], 1)
    h, w = cols[0].shape[1:3]
    scale = max(1, 256 // max(h, w))
    grid = cv2.resize(grid, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    head = np.full((22, grid.shape[1], 3), 255, np.uint8)
    for j, name in enumerate(names):
        cv2.putText(head, name[: 3 * w * scale // 20], (j * w * scale + 3, 15),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    cv2.imwrite(str(path), np.ascontiguousarray(np.concatenate([head, grid], 0)[..., ::-1]))
    return path


def _fit(frames: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Frames resized to ``shape`` (H, W) when a run renders at another size."""
    import cv2

    if frames.shape[1:3] == tuple(shape):
        return frames
    return np.stack(
        [cv2.resize(f, (shape[1], shape[0]), interpolation=cv2.INTER_AREA) for f in frames]
    )

"""Training runs you can trust: identical results by default on the CPU, damaged
checkpoints skipped with a note, temp files of killed saves removed, run folders reused,
and --resume that says which run it continues and refuses to guess."""

from __future__ import annotations

import pytest
from test_train import MICRO, add_subject, tensors_equal

from ptx.cache.checkpoints import load_checkpoint, resolve_checkpoint
from ptx.cache.runs import claim_run_dir, write_run_config
from ptx.cache.workspace import Workspace
from ptx.errors import DamagedError, InputError
from ptx.training.run import train


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path / "no-weights"))
    w = Workspace.open(tmp_path / "ws")
    add_subject(w, "toy", seed=0, frames=12)
    return w


@pytest.mark.slow
def test_two_default_trainings_give_identical_checkpoints(ws):
    """The tiny preset's model at its defaults (64 px, batch 2, CPU threads, deterministic
    off), a few steps past the UV warm-up with the GAN on: bit-identical twice."""
    over = {"steps": 6, "uv_warmup_steps": 3, "gan_start": 3, "eval_every": 0,
            "sample_every": 0, "tensorboard": False, "device": "cpu"}  # fmt: skip
    a = train(ws, "toy", "tiny", dict(over))
    b = train(ws, "toy", "tiny", dict(over))
    assert a.run_dir != b.run_dir and a.end_step == b.end_step == 9
    sa, sb = load_checkpoint(a.checkpoint), load_checkpoint(b.checkpoint)
    assert sa["config"]["deterministic"] is False and sa["config"]["batch"] == 2
    assert tensors_equal(sa["trainer"], sb["trainer"])


def test_a_damaged_newest_checkpoint_is_skipped_and_the_resume_is_still_exact(ws):
    straight = train(ws, "toy", overrides=MICRO)
    cut = train(ws, "toy", overrides=MICRO, stop_at=5)  # checkpoints 2, 4, 5
    newest = cut.checkpoint
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 3])
    with pytest.raises(DamagedError, match="damaged"):
        load_checkpoint(newest)  # damaged, not "refused"
    path, notes = resolve_checkpoint(newest.parent)
    assert path.name == "step-000000004.pt"
    assert notes == ["Checkpoint step-000000005.pt is damaged (truncated); skipped it."]
    resumed = train(ws, "toy", resume=True)
    assert resumed.start_step == 4 and resumed.end_step == 8
    assert any("step-000000005.pt is damaged" in n for n in resumed.notes)
    assert any(f"Resumed from step-000000004.pt of run {cut.run_dir}" in n for n in resumed.notes)
    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(resumed.checkpoint)
    assert tensors_equal(a["trainer"], b["trainer"])


def test_every_checkpoint_damaged_is_an_error_naming_the_folder(ws):
    run = train(ws, "toy", overrides={**MICRO, "steps": 2, "uv_warmup_steps": 0})
    for p in run.checkpoint.parent.glob("step-*.pt"):
        p.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(DamagedError, match=r"Every checkpoint in .* is damaged"):
        train(ws, "toy", resume=True)


def test_temp_files_of_a_killed_save_are_removed_when_the_run_continues(ws):
    cut = train(ws, "toy", overrides=MICRO, stop_at=3)
    ckpts = cut.run_dir / "checkpoints"
    leftover = ckpts / ".step-000000004.pt.k3x_9zq1.tmp"
    leftover.write_bytes(b"\x00" * 1000)
    (cut.run_dir / ".config.yaml.a1b2c3d4.tmp").write_bytes(b"x")
    train(ws, "toy", resume=True)
    assert not leftover.exists() and not list(cut.run_dir.glob(".*.tmp"))
    # a run never resumed again: a new run of the subject removes its leftovers too
    leftover.write_bytes(b"\x00" * 1000)
    other = train(ws, "toy", overrides={**MICRO, "steps": 1, "uv_warmup_steps": 0})
    assert other.run_dir != cut.run_dir and not leftover.exists()
    assert cut.checkpoint.parent.joinpath("step-000000008.pt").is_file()


def test_a_run_killed_before_its_first_checkpoint_is_reused_and_resume_will_not_guess(ws):
    done = train(ws, "toy", overrides={**MICRO, "steps": 2, "uv_warmup_steps": 0})
    # a second run killed before its first checkpoint: a folder with settings and a log
    stopped = claim_run_dir(ws, "toy", "d2g")
    assert stopped != done.run_dir
    write_run_config(stopped, {"method": "d2g", "config": {}})
    (stopped / "log.csv").write_text("step,phase\n1,uv\n")
    with pytest.raises(InputError) as err:
        train(ws, "toy", resume=True)
    text = str(err.value)
    assert str(stopped) in text and str(done.run_dir) in text and "--run" in text
    again = train(ws, "toy", overrides={**MICRO, "steps": 2, "uv_warmup_steps": 0})
    assert again.run_dir == stopped  # reused, not a third folder
    assert len(list(stopped.parent.iterdir())) == 2
    assert "1,uv" not in (stopped / "log.csv").read_text()
    resumed = train(ws, "toy", resume=True, overrides={"steps": 3})
    assert resumed.run_dir == stopped
    assert any(f"Resumed from step-000000002.pt of run {stopped} (d2g)" in n for n in resumed.notes)

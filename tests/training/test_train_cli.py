"""The `ptx train` and `ptx weights` commands: thin wrappers, clear messages, exit codes."""

from __future__ import annotations

import pytest
from test_train import MICRO, add_subject  # same folder (pytest puts it on sys.path)

from ptx.cache.workspace import Workspace
from ptx.cli.main import run


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path / "no-weights"))
    monkeypatch.setenv("PTX_WORKSPACE", str(tmp_path / "ws"))
    w = Workspace.open(tmp_path / "ws")
    add_subject(w, "toy", seed=0)
    return w


def micro_args(**changes) -> list[str]:
    args = []
    for k, v in {**MICRO, "tensorboard": True, **changes}.items():
        args += ["--set", f"{k}={v}"]
    return args


@pytest.mark.slow
def test_train_then_resume_from_the_command_line(ws, capsys):
    code = run(["train", "--subject", "toy", "--steps", "2", *micro_args(uv_warmup_steps=0)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Trained toy (d2g) to step 2/2" in out and "Held-out PSNR" in out
    assert "VGG-19 perceptual loss unavailable" in err
    run_dir = next((ws.root / "runs" / "toy" / "d2g").iterdir())
    assert any((run_dir / "tb").iterdir())  # TensorBoard event file
    code = run(["train", "--subject", "toy", "--resume", "--steps", "4"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Trained toy (d2g) to step 4/4" in out and "Resumed from step-000000002.pt" in err


def test_bad_settings_give_one_line_errors(ws, capsys):
    assert run(["train", "--subject", "toy", "--set", "nosuch=1"]) == 2
    assert "train has no setting 'nosuch'" in capsys.readouterr().err
    assert run(["train", "--subject", "nobody"]) == 2
    assert "No subject named 'nobody'" in capsys.readouterr().err
    assert run(["train", "--subject", "toy", "--preset", "huge"]) == 2
    assert "No preset named 'huge'" in capsys.readouterr().err
    assert run(["train", "--subject", "toy", "--set", "size=20"]) == 2
    assert "not divisible by 8" in capsys.readouterr().err


def test_weights_command_lists_the_vgg_file(ws, capsys):
    assert run(["weights"]) == 0
    out = capsys.readouterr().out
    assert "vgg19-dcbb9e9d.pth" in out and "missing" in out

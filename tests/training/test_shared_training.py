"""Many-subject training: (source, driving window) pairs from one video, whole held-out
people, a bounded lazy frame cache, run folders under runs/_shared, exact resume, CLI."""

from __future__ import annotations

import pytest
import torch
import yaml

from ptx.cache.checkpoints import load_checkpoint
from ptx.cache.workspace import Workspace
from ptx.methods.registry import get_method
from ptx.nn.poselabels import unit
from ptx.training.crowd import store_crowd
from ptx.training.shared_data import CHUNK
from ptx.training.shared_run import load_shared_data, train_shared
from tests.cli.test_prepare_errors import assert_one_line_error

TINY = {
    "size": 32, "ngf": 4, "n_blocks": 1, "refine_blocks": 1, "ndf": 4, "d_layers": 1,
    "batch": 2, "steps": 4, "log_every": 1, "eval_every": 0, "sample_every": 0,
    "checkpoint_every": 2, "eval_frames": 4, "tensorboard": False, "device": "cpu",
}  # fmt: skip


@pytest.fixture(scope="module")
def crowd(tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("crowd") / "ws")
    names = store_crowd(ws, 4, frames=2 * CHUNK + 4, size=32)
    return ws, names


def _data(ws, trained, held, budget_mb=64.0):
    m = get_method("dwnet")
    cfg = m.resolve_config("tiny", {**TINY, "data_budget_mb": budget_mb})
    return load_shared_data(ws, trained, held, m, cfg)


def test_pairs_come_from_one_video_and_never_from_held_out_people(crowd):
    ws, names = crowd
    data = _data(ws, names[:3], names[3:])
    held = {i for i, v in enumerate(data.videos) if v.subject == names[3]}
    assert data.heldout_people and held
    torch.manual_seed(0)
    for _ in range(20):
        ids = data.train_ids[torch.randint(len(data.train_ids), (2,))]
        b = data.batch(ids, torch.device("cpu"))
        n = len(ids)
        videos = b.video.view(data.clip, n)
        assert (videos == videos[0]).all()  # the driving window stays in one video
        assert not set(videos[0].tolist()) & held  # a held-out person is never trained on
        # consecutive frames: block k is frame t - (clip-1-k), read from the store
        for k in range(data.clip):
            want = data.take("frames", ids - (data.clip - 1 - k))
            assert torch.equal(b.real[k * n : (k + 1) * n], unit(want))
        # the source is a frame of the same video (its picture is one of that video's)
        for i, t in enumerate(ids.tolist()):
            v = data.videos[int(data.video_of[t])]
            frames = data.take("frames", torch.arange(v.start, v.start + v.n_train)).float()
            src = (b.source[i] + 1) * 127.5
            assert (frames - src.round()).abs().amax(dim=(1, 2, 3)).min() < 0.5
    # evaluation: the held-out person's frames 1.. with their frame 0 as the source
    v = data.videos[min(held)]
    assert data.heldout_ids.tolist() == list(range(v.start + 1, v.start + v.count))
    e = data.images(data.heldout_ids[:3], torch.device("cpu"))
    first = unit(data.take("frames", torch.tensor([v.start])))
    assert torch.equal(e.source, first.expand(3, -1, -1, -1))


def test_the_frame_cache_stays_within_its_budget(crowd):
    ws, names = crowd
    chunk = CHUNK * 32 * 32 * 6  # frames + iuv of one chunk at 32 px
    data = _data(ws, names, [], budget_mb=2.5 * chunk / 2**20)  # room for 2 chunks
    for t in data.train_ids.tolist():
        data.batch(torch.tensor([t]), torch.device("cpu"))
    assert data.cache.peak <= data.cache.budget
    assert 0 < data.cache.nbytes <= data.cache.budget and len(data.cache.items) <= 3
    big = _data(ws, names, [])
    for t in data.train_ids.tolist():
        big.batch(torch.tensor([t]), torch.device("cpu"))
    # what is read is the same whatever the budget; only the number of reads differs
    ids = data.train_ids[:5]
    assert torch.equal(data.take("iuv", ids), big.take("iuv", ids))
    assert big.cache.loads == len(data.videos) * 3  # every chunk read once (3 per video)


@pytest.mark.slow
def test_a_shared_run_records_its_people_and_resumes_exactly(crowd):
    ws, names = crowd
    res = train_shared(ws, names, 1, "tiny", TINY, method="dwnet")
    assert res.run_dir.parent == ws.root / "runs" / "_shared" / "dwnet"
    info = yaml.safe_load((res.run_dir / "config.yaml").read_text())
    assert info["subjects"] == names[:3] and info["holdout_subjects"] == names[3:]
    assert set(info["inputs"]) == {ws.subject(n)["videos"][0] for n in names}
    assert info["kind"] == "one-shot" and info["data_budget_mb"] == 256.0
    assert {"psnr", "psnr_warp"} <= set(res.final)
    # interrupted at step 2 and resumed: the same weights as the run never interrupted
    part = train_shared(ws, names, 1, "tiny", TINY, method="dwnet", stop_at=2)
    assert part.end_step == 2
    again = train_shared(ws, [], 0, run=part.run_dir)
    a = load_checkpoint(res.checkpoint)["trainer"]["g"]
    b = load_checkpoint(again.checkpoint)["trainer"]["g"]
    assert again.end_step == 4 and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_cli_trains_on_subjects_from_a_file_and_refuses_mismatches(crowd, cli, tmp_path):
    ws, names = crowd
    listing = tmp_path / "people.txt"
    listing.write_text("# the crowd\n" + "\n".join(names[:3]) + "\n\n")
    sets = [a for k, v in TINY.items() if k != "steps" for a in ("--set", f"{k}={v}")]
    res = cli("train", "-w", ws.root, "--method", "dwnet", "--subjects-from", listing,
              "--holdout-subjects", "1", "--steps", "1", *sets)  # fmt: skip
    assert res.code == 0, res.err
    assert "One-shot PSNR" in res.out and "_shared" in res.out.replace("\n", "")
    run = sorted((ws.root / "runs" / "_shared" / "dwnet").iterdir())[-1]
    res = cli("train", "-w", ws.root, "--run", run, "--steps", "2")  # continue it
    assert res.code == 0, res.err
    assert "to step 2/2" in res.out.replace("\n", " ")
    assert_one_line_error(
        cli("train", "-w", ws.root, "--method", "d2g", "--subjects", ",".join(names)),
        2, "d2g is a person-specific method",
    )  # fmt: skip
    assert_one_line_error(
        cli("train", "-w", ws.root, "--method", "dwnet", "--subject", names[0]),
        2, "dwnet is a one-shot method",
    )  # fmt: skip
    assert_one_line_error(
        cli("train", "-w", ws.root, "--method", "dwnet", "--subjects", names[0],
            "--holdout-subjects", "1"),
        2, "leaves none to train on",
    )  # fmt: skip

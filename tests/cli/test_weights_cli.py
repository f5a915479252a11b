"""`ptx weights`: every file with its status, and a pasteable line for each missing one."""

from __future__ import annotations

from ptx import weights as W


def test_list_says_what_is_missing_and_how_to_fetch_it(cli):
    res = cli("weights")
    assert res.code == 0
    for w in W.WEIGHTS.values():
        assert w.key in res.out
    assert "torchmetrics's" in res.out  # alex.pth ships with torchmetrics
    fetch = [line.strip() for line in res.out.splitlines() if line.strip().startswith("curl ")]
    assert len(fetch) == len(W.WEIGHTS) - 1
    vgg = W.WEIGHTS["vgg19"]
    assert f"curl -L --create-dirs -o {W.weights_dir() / vgg.filename} {vgg.url}" in fetch


def test_verify_fails_with_code_6_on_a_file_that_is_not_official(cli):
    W.weights_dir().mkdir(parents=True)
    (W.weights_dir() / W.WEIGHTS["inception_fid"].filename).write_bytes(b"something else")
    res = cli("weights", "verify")
    assert res.code == 6 and "hash differs" in res.out
    assert cli("weights", "list").code == 0  # listing does not hash
    assert cli("weights", "check").code == 2

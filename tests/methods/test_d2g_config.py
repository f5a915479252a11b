"""Presets resolve and build; bad settings are refused with a usable message."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ptx.errors import InputError
from ptx.methods.d2g import METHOD
from ptx.methods.d2g.config import PRESETS
from ptx.methods.d2g.renderer import D2GGenerator, pose_channels
from ptx.nn.discriminator import MultiScaleDiscriminator

resolve_config = METHOD.resolve_config
config_from_dict = METHOD.config_from_dict


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_builds(preset):
    cfg = resolve_config(preset)
    with torch.device("meta"):  # shapes only, no memory
        g = D2GGenerator(cfg)
        d = MultiScaleDiscriminator(pose_channels(cfg), cfg.d_width, cfg.d_layers, cfg.d_scales)
    n_g = sum(p.numel() for p in g.parameters())
    assert g.background.shape == (1, 3, cfg.size, cfg.size)
    assert n_g > 0 and sum(p.numel() for p in d.parameters()) > 0
    if preset == "paper":  # two pix2pixHD global generators (~45M parameters each) + texture
        assert cfg.size == 512 and cfg.tex_size == 200 and 60e6 < n_g < 150e6


def test_overrides_are_typed_and_checked():
    cfg = resolve_config("small", {"lr": "1e-4", "pose_condition": "false", "size": "128"})
    assert cfg.lr == 1e-4 and cfg.pose_condition is False and cfg.size == 128
    with pytest.raises(InputError, match="train has no setting 'width'"):
        resolve_config("tiny", {"width": 3})
    with pytest.raises(InputError, match="not divisible by 16"):
        resolve_config("paper", {"size": 520})
    with pytest.raises(InputError, match="gan_mode"):
        resolve_config("tiny", {"gan_mode": "wgan"})


def test_saved_configs_from_other_versions_still_load():
    saved = dataclasses.asdict(resolve_config("tiny", {"tr_width": 24}))
    saved["a_field_from_the_future"] = 1
    assert config_from_dict(saved).tr_width == 24

"""InceptionV3 for FID (Heusel et al. 2017), our own definition.

The network is the one FID is defined with: TensorFlow's 2015-12-05 Inception graph, in the
PyTorch port distributed as ``pt_inception-2015-12-05-6726825d.pth``. It differs from the
ImageNet Inception v3 of the PyTorch model zoo in its pooling: the average-pool branches of
the 35x35 and 17x17 blocks and of ``Mixed_7b`` leave the zero padding out of the average,
and ``Mixed_7c`` max-pools instead. Module and parameter names are those of the file
(``Mixed_6e.branch7x7_2.conv.weight``, ``Mixed_6e.branch7x7_2.bn.running_var``, ...), so it
loads directly; the auxiliary classifier and the 1008-way ``fc`` are not built (FID uses the
2048-d pool features only).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ptx import weights

SIZE = 299
"""Input side the network is run at."""

DIM = 2048
"""Length of a pool3 feature vector."""

Size = int | tuple[int, int]
Pool = Callable[[torch.Tensor], torch.Tensor]


class ConvUnit(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d (eps 0.001) -> ReLU:
    ``(B, cin, H, W) -> (B, cout, H', W')``."""

    def __init__(
        self, cin: int, cout: int, kernel: Size, stride: int = 1, padding: Size = 0
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _row(cin: int, cout: int) -> ConvUnit:
    """1x7 convolution, size kept."""
    return ConvUnit(cin, cout, (1, 7), padding=(0, 3))


def _col(cin: int, cout: int) -> ConvUnit:
    """7x1 convolution, size kept."""
    return ConvUnit(cin, cout, (7, 1), padding=(3, 0))


def avg_pool_valid(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-1 average over the in-image neighbours only (TensorFlow's SAME pooling)."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def max_pool_same(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-1 max pooling, size kept."""
    return F.max_pool2d(x, 3, stride=1, padding=1)


def _run(x: torch.Tensor, *units: nn.Module) -> torch.Tensor:
    for unit in units:
        x = unit(x)
    return x


class BlockA(nn.Module):
    """35x35 block (Mixed_5b..5d): ``(B, cin, H, W) -> (B, 224 + pool, H, W)``."""

    def __init__(self, cin: int, pool: int) -> None:
        super().__init__()
        self.branch1x1 = ConvUnit(cin, 64, 1)
        self.branch5x5_1 = ConvUnit(cin, 48, 1)
        self.branch5x5_2 = ConvUnit(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvUnit(cin, 64, 1)
        self.branch3x3dbl_2 = ConvUnit(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvUnit(96, 96, 3, padding=1)
        self.branch_pool = ConvUnit(cin, pool, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                _run(x, self.branch5x5_1, self.branch5x5_2),
                _run(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
                self.branch_pool(avg_pool_valid(x)),
            ],
            1,
        )


class BlockB(nn.Module):
    """Reduction 35 -> 17 (Mixed_6a): ``(B, cin, H, W) -> (B, 480 + cin, (H-3)//2+1, ...)``."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = ConvUnit(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvUnit(cin, 64, 1)
        self.branch3x3dbl_2 = ConvUnit(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvUnit(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                _run(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )


class BlockC(nn.Module):
    """17x17 block with factorised 7x7 convolutions of width ``c7`` (Mixed_6b..6e):
    ``(B, cin, H, W) -> (B, 768, H, W)``."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = ConvUnit(cin, 192, 1)
        self.branch7x7_1 = ConvUnit(cin, c7, 1)
        self.branch7x7_2 = _row(c7, c7)
        self.branch7x7_3 = _col(c7, 192)
        self.branch7x7dbl_1 = ConvUnit(cin, c7, 1)
        self.branch7x7dbl_2 = _col(c7, c7)
        self.branch7x7dbl_3 = _row(c7, c7)
        self.branch7x7dbl_4 = _col(c7, c7)
        self.branch7x7dbl_5 = _row(c7, 192)
        self.branch_pool = ConvUnit(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dbl = (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3)
        dbl += (self.branch7x7dbl_4, self.branch7x7dbl_5)
        return torch.cat(
            [
                self.branch1x1(x),
                _run(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3),
                _run(x, *dbl),
                self.branch_pool(avg_pool_valid(x)),
            ],
            1,
        )


class BlockD(nn.Module):
    """Reduction 17 -> 8 (Mixed_7a): ``(B, cin, H, W) -> (B, 512 + cin, (H-3)//2+1, ...)``."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = ConvUnit(cin, 192, 1)
        self.branch3x3_2 = ConvUnit(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvUnit(cin, 192, 1)
        self.branch7x7x3_2 = _row(192, 192)
        self.branch7x7x3_3 = _col(192, 192)
        self.branch7x7x3_4 = ConvUnit(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = (self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4)
        return torch.cat(
            [
                _run(x, self.branch3x3_1, self.branch3x3_2),
                _run(x, *seven),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )


class BlockE(nn.Module):
    """8x8 block with split 1x3 / 3x1 outputs (Mixed_7b, Mixed_7c):
    ``(B, cin, H, W) -> (B, 2048, H, W)``. ``pool`` is the pool branch's pooling:
    :func:`avg_pool_valid` in Mixed_7b, :func:`max_pool_same` in Mixed_7c."""

    def __init__(self, cin: int, pool: Pool) -> None:
        super().__init__()
        self.pool = pool
        self.branch1x1 = ConvUnit(cin, 320, 1)
        self.branch3x3_1 = ConvUnit(cin, 384, 1)
        self.branch3x3_2a = ConvUnit(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvUnit(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvUnit(cin, 448, 1)
        self.branch3x3dbl_2 = ConvUnit(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvUnit(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvUnit(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvUnit(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3_1(x)
        b = _run(x, self.branch3x3dbl_1, self.branch3x3dbl_2)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(a),
                self.branch3x3_2b(a),
                self.branch3x3dbl_3a(b),
                self.branch3x3dbl_3b(b),
                self.branch_pool(self.pool(x)),
            ],
            1,
        )


class FIDInceptionV3(nn.Module):
    """``forward(x float (B, 3, H, W) in [0, 1]) -> float (B, 2048)`` pool3 features.

    The input is resized to 299x299 (bilinear, ``align_corners=False``; skipped when already
    that size) and scaled to [-1, 1] as pytorch-fid does; :meth:`pool3` is the network from
    the scaled input on.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = ConvUnit(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvUnit(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvUnit(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvUnit(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvUnit(80, 192, 3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b = BlockE(1280, avg_pool_valid)
        self.Mixed_7c = BlockE(2048, max_pool_same)

    def pool3(self, x: torch.Tensor) -> torch.Tensor:
        """``x float (B, 3, 299, 299) in [-1, 1] -> (B, 2048)``."""
        x = _run(x, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)  # 147x147
        x = F.max_pool2d(x, 3, stride=2)  # 73x73
        x = _run(x, self.Conv2d_3b_1x1, self.Conv2d_4a_3x3)  # 71x71
        x = F.max_pool2d(x, 3, stride=2)  # 35x35
        x = _run(x, self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a)  # 17x17
        x = _run(x, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a)
        x = _run(x, self.Mixed_7b, self.Mixed_7c)  # (B, 2048, 8, 8)
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (SIZE, SIZE):
            x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
        return self.pool3(2.0 * x - 1.0)

    def load_official(self, state: dict[str, torch.Tensor]) -> None:
        """Copy every parameter and buffer from the official state dict (its ``fc`` and any
        other extra key are ignored; an absent ``num_batches_tracked`` keeps ours), then
        freeze the network in eval mode."""
        own = self.state_dict()
        new = {}
        for key, mine in own.items():
            if key not in state:
                if key.endswith("num_batches_tracked"):
                    new[key] = mine
                    continue
                raise ValueError(f"not an FID InceptionV3 state dict (missing {key})")
            theirs = state[key]
            if tuple(theirs.shape) != tuple(mine.shape):
                raise ValueError(
                    f"not an FID InceptionV3 state dict ({key} has shape "
                    f"{tuple(theirs.shape)}, expected {tuple(mine.shape)})"
                )
            new[key] = theirs
        self.load_state_dict(new)
        self.eval()
        self.requires_grad_(False)


def load_fid_inception() -> FIDInceptionV3:
    """The FID network with the official weights, in eval mode and frozen (raises
    MissingWeightsError when the file is absent, InputError when it is not the official
    one)."""
    net = FIDInceptionV3()
    net.load_official(weights.load_state_dict("inception_fid"))
    return net


def features(net: FIDInceptionV3, frames, batch: int = 16) -> np.ndarray:
    """float64 (N, 2048) pool3 features of ``frames``: uint8 numpy (N, H, W, 3) or a float
    tensor (N, 3, H, W) in [0, 1]; run ``batch`` frames at a time on the net's device."""
    if isinstance(frames, np.ndarray) and frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (N, H, W, 3), not {frames.dtype}")
    device = next(net.parameters()).device
    out = np.empty((len(frames), DIM), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(frames), batch):
            chunk = frames[start : start + batch]
            if isinstance(chunk, np.ndarray):
                x = torch.from_numpy(np.ascontiguousarray(chunk)).to(device)
                x = x.permute(0, 3, 1, 2).float() / 255.0
            else:
                x = chunk.to(device=device, dtype=torch.float32)
            out[start : start + len(chunk)] = net(x).double().cpu().numpy()
    return out

"""The FID Inception-v3 (TF graph of 2015-12-05, as used by TTUR / ADM / clean-fid): pool3 features (2048,).

Every convolution is conv (no bias) + batch norm without scale (TF `scale=False`) + ReLU. The FID variant of the
graph differs from torchvision's Inception-v3: average pools exclude padding, and the last block pools its
fourth branch with a max pool. Input: images in [0, 255], resized bilinearly to 299 and mapped to (x - 128) / 128.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBN(nn.Module):
    def __init__(self, cin: int, cout: int, kernel, stride: int = 1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001, affine=False)
        self.beta = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)) + self.beta[:, None, None])


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    """35 x 35: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avg pool-1x1."""

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.b1 = ConvBN(cin, 64, 1)
        self.b5 = nn.Sequential(ConvBN(cin, 48, 1), ConvBN(48, 64, 5, padding=2))
        self.b3 = nn.Sequential(ConvBN(cin, 64, 1), ConvBN(64, 96, 3, padding=1), ConvBN(96, 96, 3, padding=1))
        self.pool = ConvBN(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b5(x), self.b3(x), self.pool(_avg_pool(x))], 1)


class ReduceB(nn.Module):
    """35 -> 17: 3x3 stride 2 | 1x1-3x3-3x3 stride 2 | max pool."""

    def __init__(self, cin: int):
        super().__init__()
        self.b3 = ConvBN(cin, 384, 3, stride=2)
        self.b3dbl = nn.Sequential(ConvBN(cin, 64, 1), ConvBN(64, 96, 3, padding=1), ConvBN(96, 96, 3, stride=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b3(x), self.b3dbl(x), F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):
    """17 x 17 with factorised 7x7 convolutions."""

    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.b1 = ConvBN(cin, 192, 1)
        self.b7 = nn.Sequential(ConvBN(cin, c7, 1), ConvBN(c7, c7, (1, 7), padding=(0, 3)), ConvBN(c7, 192, (7, 1), padding=(3, 0)))
        self.b7dbl = nn.Sequential(
            ConvBN(cin, c7, 1), ConvBN(c7, c7, (7, 1), padding=(3, 0)), ConvBN(c7, c7, (1, 7), padding=(0, 3)),
            ConvBN(c7, c7, (7, 1), padding=(3, 0)), ConvBN(c7, 192, (1, 7), padding=(0, 3)),
        )
        self.pool = ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b7(x), self.b7dbl(x), self.pool(_avg_pool(x))], 1)


class ReduceD(nn.Module):
    """17 -> 8: 1x1-3x3 stride 2 | 1x1-1x7-7x1-3x3 stride 2 | max pool."""

    def __init__(self, cin: int):
        super().__init__()
        self.b3 = nn.Sequential(ConvBN(cin, 192, 1), ConvBN(192, 320, 3, stride=2))
        self.b7 = nn.Sequential(ConvBN(cin, 192, 1), ConvBN(192, 192, (1, 7), padding=(0, 3)),
                                ConvBN(192, 192, (7, 1), padding=(3, 0)), ConvBN(192, 192, 3, stride=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b3(x), self.b7(x), F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    """8 x 8 with split 1x3 / 3x1 branches; `max_pool` marks the graph's last block."""

    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.b1 = ConvBN(cin, 320, 1)
        self.b3 = ConvBN(cin, 384, 1)
        self.b3a, self.b3b = ConvBN(384, 384, (1, 3), padding=(0, 1)), ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.b3dbl = nn.Sequential(ConvBN(cin, 448, 1), ConvBN(448, 384, 3, padding=1))
        self.b3dbl_a, self.b3dbl_b = ConvBN(384, 384, (1, 3), padding=(0, 1)), ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.pool = ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3, b3dbl = self.b3(x), self.b3dbl(x)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([self.b1(x), self.b3a(b3), self.b3b(b3), self.b3dbl_a(b3dbl), self.b3dbl_b(b3dbl), self.pool(pooled)], 1)


class FIDInception(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(
            ConvBN(3, 32, 3, stride=2), ConvBN(32, 32, 3), ConvBN(32, 64, 3, padding=1), nn.MaxPool2d(3, stride=2),
            ConvBN(64, 80, 1), ConvBN(80, 192, 3), nn.MaxPool2d(3, stride=2),
        )
        self.blocks = nn.Sequential(
            BlockA(192, 32), BlockA(256, 64), BlockA(288, 64), ReduceB(288),
            BlockC(768, 128), BlockC(768, 160), BlockC(768, 160), BlockC(768, 192), ReduceD(768),
            BlockE(1280, max_pool=False), BlockE(2048, max_pool=True),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [0, 255] -> pool3 features (B, 2048)."""
        x = F.interpolate(images.float(), size=(299, 299), mode="bilinear", align_corners=False)
        x = (x - 128) / 128  # (B, 3, 299, 299)
        return self.blocks(self.stem(x)).mean(dim=(2, 3))
